// The engine's side of the Breezy plugin: the plugin hands over the facts it
// gathered (a snapshot and the tip change), the same decision core as the git
// hooks judges it, and the answer goes back as one JSON document.
import { pushEvents } from "../events/build";
import { deliverIfWritten } from "../events/start";
import type { EventDraft } from "../events/types";
import { randomBytes } from "node:crypto";
import { writeSync } from "node:fs";
import { describeFailure as failureLine } from "../boundary";
import { readConfig, rolesOf } from "../config";
import { afterPush } from "../engine/after-push";
import { faultPoint } from "../engine/fault";
import { FactGatherer, type RefUpdate } from "../engine/facts";
import { recordTrustedMarkers } from "../engine/markers";
import { currentFreeze } from "../engine/mirror";
import type { Engine } from "../engine/state";
import { UserError } from "../errors";
import { identify } from "../identity";
import { decide, type Decision, type PushContext } from "../policy/decide";
import type { BranchNames } from "../policy/types";
import { REJECTION_CODES } from "../policy/codes";
import { formatPushResult } from "../policy/message";
import { branchRef, classifyRef, type RefClass } from "../policy/refs";
import { now } from "../store/store";
import { openBzrEngine } from "./engine";
import { helperSource } from "./helper";
import type { BzrHistory } from "./history";
import { type BreezySource, type FactsAnswer, parseFactsAnswer, persistLanded } from "./index";
import { readLine } from "./lines";
import { type BzrRepo, ConfigFileGit, configPath, type DeferredMove } from "./repo";

/** A branch-tip change as the plugin reports it: revision ids, null for Bazaar's null: revision. */
export interface TipChange {
  branch: string;
  old: string | null;
  new: string | null;
  /** The revno the client gave for the new tip; prodgate computes its own and compares. */
  revno?: number | null;
}

export interface BzrHookInput {
  /**
   * What the plugin read in the server: the governed tips (the changed branch
   * at its tip before the change, or after it), the revnos the branches
   * state, layout problems, and (before a change) the revisions the new tip
   * brings that none of the governed tips holds. Never the history.
   */
  snapshot: FactsAnswer;
  update: TipChange;
}

export interface BzrHookAnswer {
  accepted: boolean;
  lines: string[];
  /** Moves of the branch the plugin holds locked, for it to make. */
  moves: DeferredMove[];
}

/** The null revision in the engine's words: an all-zero id, as git says "absent". */
export const ABSENT = "0".repeat(40);

/** Translate a Bazaar tip change into the ref update the core judges. */
export function refUpdateOf(change: TipChange): RefUpdate {
  return { ref: branchRef(change.branch), old: change.old ?? ABSENT, new: change.new ?? ABSENT };
}

// eslint-disable-next-line no-control-regex
const BRANCH_PATH = /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[^\s\u0000-\u001f]+$/;

export function parseHookInput(text: string): BzrHookInput {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UserError("the Breezy plugin sent a document prodgate cannot read", 1);
  }
  const v = value as { snapshot?: unknown; update?: Partial<TipChange> };
  const u = v?.update;
  const idOrNull = (x: unknown) => x === null || typeof x === "string";
  const revnoOk = u?.revno === undefined || u.revno === null || (typeof u.revno === "number" && Number.isSafeInteger(u.revno));
  if (!u || typeof u.branch !== "string" || !BRANCH_PATH.test(u.branch) || !idOrNull(u.old) || !idOrNull(u.new) || !revnoOk) {
    throw new UserError("the Breezy plugin sent no usable tip change", 1);
  }
  return {
    snapshot: parseFactsAnswer(v.snapshot),
    update: { branch: u.branch, old: u.old ?? null, new: u.new ?? null, revno: u.revno ?? null },
  };
}

/**
 * A fresh id for one attempt at a tip change, as git's push id is one
 * receive-pack's: the session that judged the change carries it to the
 * change's post-change stage. Never derived from the change itself: the same
 * change tried again after an attempt that never landed is another attempt,
 * and its landing must not settle the first one's.
 */
function newPushId(): string {
  return randomBytes(6).toString("hex");
}

function describeFailure(err: unknown): string {
  return failureLine(err);
}

/**
 * The history for judging a change: the index checked against the tips the
 * plugin read, plus the revisions the change brings (not indexed until it
 * lands). A parent of those that is neither indexed, nor among them, nor a
 * ghost the plugin named is asked of Breezy; one still missing stays a ghost
 * to the rules, which refuse it on the four branches.
 */
function proposedHistory(repo: BzrRepo, input: BzrHookInput, source: BreezySource): BzrHistory {
  const history = repo.history;
  const ghosts = new Set(input.snapshot.ghosts ?? []);
  const unresolved = history.add(input.snapshot.revisions).filter((p) => !ghosts.has(p));
  if (unresolved.length > 0) {
    const known = Object.values(repo.facts.branches).filter((id): id is string => id !== null);
    history.add(source.ask({ known, heads: unresolved }).revisions);
  }
  return history;
}

/** Before a tip change: decide it. Fails closed on a governed branch. */
export function bzrPreChange(input: BzrHookInput, env: NodeJS.ProcessEnv, source?: BreezySource): BzrHookAnswer {
  return preChange(input, env, source ?? helperSource(input.snapshot.root), newPushId()).answer;
}

function preChange(
  input: BzrHookInput,
  env: NodeJS.ProcessEnv,
  source: BreezySource,
  pushId: string,
): { answer: BzrHookAnswer; history: BzrHistory | null } {
  const update = refUpdateOf(input.update);
  const pass = { answer: { accepted: true, lines: [], moves: [] }, history: null };
  // A branch prodgate does not govern never depends on prodgate's database being sound.
  if (isUngoverned(input.snapshot.root, update.ref)) return pass;
  let engine: Engine;
  try {
    engine = openBzrEngine(input.snapshot.root, {
      told: { ...input.snapshot, revisions: [], ghosts: [] },
      source,
      lockedBranch: input.update.branch,
    });
  } catch (err) {
    return {
      answer: { accepted: false, lines: [`prodgate: rejected ${input.update.branch} [unavailable]: ${describeFailure(err)}`], moves: [] },
      history: null,
    };
  }
  let history: BzrHistory | null = null;
  try {
    const { config, store } = engine;
    const cls = classifyRef(update.ref, config.branches, config.governed);
    if (cls.kind === "ungoverned") return pass;
    const user = identify(env, config);
    // Bazaar has no push options: the break-glass override is git-only.
    const ctx: PushContext = {
      user,
      roles: rolesOf(config, user),
      overrideReason: null,
      requireCi: config.requireCi,
      stableWriters: config.stableWriters,
      freeze: currentFreeze(engine),
    };
    let decision: Decision;
    try {
      history = proposedHistory(engine.repo as BzrRepo, input, source);
      decision =
        bazaarShape(update, input, history, config.branches) ??
        decide(
          user
            ? new FactGatherer(engine).gather(update, cls)
            : { ...update, class: cls, isCreate: false, isDelete: false, newType: null, isFastForward: false, keepsFirstParent: false },
          ctx,
        );
      if (decision.accepted) decision = bazaarRules(decision, cls, input.update, history, config.branches) ?? decision;
    } catch (err) {
      decision = { ...update, accepted: false, code: "unavailable", reason: describeFailure(err) };
    }
    // An accepted change gets a landing row, as a git push's does: the change's post-change hook settles it
    // (or `prodgate sync`, when the server died between the change and the hook).
    store.audit(
      [
        {
          at: now(),
          pushId,
          user,
          ref: update.ref,
          old: update.old,
          new: update.new,
          decision: decision.accepted ? "accepted" : "rejected",
          code: decision.code,
          reason: decision.reason,
        },
      ],
      { receive: null },
    );
    try {
      recordTrustedMarkers(engine, [{ update, cls }], [decision], user, ctx.roles, pushId);
    } catch {
      // Unrecorded markers only stay uncounted.
    }
    faultPoint("after-pre-change");
    deliverIfWritten(store, config, input.snapshot.root, env);
    return {
      answer: {
        accepted: decision.accepted,
        lines: formatPushResult([{ ...decision, ref: input.update.branch }]).map(inBazaarWords),
        moves: [],
      },
      history,
    };
  } finally {
    engine.store.close();
  }
}

function isUngoverned(root: string, ref: string): boolean {
  const { config, errors } = readConfig(new ConfigFileGit(root, configPath(root)));
  return errors.length === 0 && classifyRef(ref, config.branches, config.governed).kind === "ungoverned";
}

/** Git's words in prodgate's messages, as a Bazaar user says them (rules and remedies only: never a revision's text). */
const BAZAAR_WORDS: readonly [string | RegExp, string][] = [
  [
    REJECTION_CODES.renumbers.remedy,
    "your merge put your own side first: branch the branch at its tip, brz merge your work into it, commit and push that (its old tip stays the left-hand parent)",
  ],
  [/--force\b/g, "--overwrite"],
  [/first-parent chain/g, "left-hand history"],
  ["no ref was changed", "no branch was changed"],
  ["(break-glass override)", "(on the server)"],
];

/** A rejection or note as a Bazaar user reads it: Bazaar's words, and ref names as the branch paths they push to. */
export function inBazaarWords(line: string): string {
  let out = line;
  for (const [git, bzr] of BAZAAR_WORDS) out = out.replaceAll(git, bzr);
  return out.replace(/(^|[\s(])refs\/heads\/(?=\S)/g, "$1");
}

// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/;

/** Why a revision id cannot be held on a governed branch, or null: ids are only ever compared as ids. */
export function revisionIdProblem(id: string, branchNames: ReadonlySet<string>): string | null {
  if (UNPRINTABLE.test(id)) return "holds control, bidi or line-separator characters";
  if (/^0{40}$/.test(id) || id === "null:") return "is spelled like the null revision";
  if (branchNames.has(id) || id.startsWith("refs/")) return "is spelled like a branch name";
  if (id.includes("..")) return "is spelled like a range (A..B)";
  if (/^r?[0-9]+$/i.test(id) || /~[0-9]*$/.test(id) || /^[0-9a-f]{4,39}$/i.test(id)) return "is spelled like a revno or an abbreviated id";
  return null;
}

const MAIN_KINDS = new Set(["devel", "stable", "productionStable", "productionDevel"]);

function bzrReject(u: RefUpdate, code: string, reason: string, details?: string[]): Decision {
  // `renumbers` is the shared core's code for a first-parent rewrite; until decide() has it, Bazaar names it here.
  return { ...u, accepted: false, code: code as Decision["code"], reason, ...(details ? { details } : {}) };
}

/** Refusals no decision may overturn: a branch prodgate cannot judge from the shared repository, and ids that could be misread. */
export function bazaarShape(u: RefUpdate, input: BzrHookInput, history: BzrHistory, branches: BranchNames): Decision | null {
  const layout = input.snapshot.layout ?? {};
  const broken = Object.entries(layout).sort(([a], [b]) =>
    a === input.update.branch ? -1 : b === input.update.branch ? 1 : a.localeCompare(b),
  );
  if (broken.length > 0) {
    const [name, why] = broken[0]!;
    return bzrReject(u, "unavailable", `governed branch ${name} cannot be judged from the shared repository: ${why}`, [
      "an admin must put it back in the shared repository (brz reconfigure --use-shared, --unstacked on the server); prodgate doctor lists it",
    ]);
  }
  if (input.update.new === null) return null;
  const names = new Set<string>([...Object.keys(input.snapshot.branches), ...Object.values(branches)]);
  const fresh = history.between([input.update.new], input.update.old ? [input.update.old] : []);
  for (const id of fresh.length > 0 ? fresh : [input.update.new]) {
    const why = revisionIdProblem(id, names);
    if (why) return bzrReject(u, "bad-revision-id", `a new revision's id ${why}`);
  }
  return null;
}

/**
 * The rules the shared core does not carry yet, checked on Bazaar's facts:
 * on the four branches the old tip stays on the new tip's left-hand history
 * (else revnos change) and production-stable only takes a mainline revision
 * of stable unless promoted; on every governed branch no ghost sits in the new
 * history and the client's revno is prodgate's (a ghost filled later, or a
 * revno the branch states and its history does not give, would make the next
 * reader rebuild the revision index from the whole history).
 */
export function bazaarRules(d: Decision, cls: RefClass, change: TipChange, history: BzrHistory, branches: BranchNames): Decision | null {
  const judged = MAIN_KINDS.has(cls.kind) || cls.kind === "governed";
  if (change.new === null || !judged || d.code === "override") return null;
  const fresh = history.between([change.new], change.old ? [change.old] : []);
  for (const id of fresh) {
    const ghosts = history.ghostParents(id);
    if (ghosts.length > 0) {
      return bzrReject(
        d,
        "renumbers",
        `a new revision names a parent the repository does not hold (a ghost): revnos would change once it is filled`,
      );
    }
  }
  if (MAIN_KINDS.has(cls.kind) && change.old !== null && !history.onMainline(change.old, change.new)) {
    return bzrReject(
      d,
      "renumbers",
      `the old tip r${history.revno(change.old)} is not on the new tip's left-hand history: every revno after it would change`,
    );
  }
  const revno = history.revno(change.new);
  if (change.revno !== null && change.revno !== undefined && change.revno !== revno) {
    return bzrReject(d, "renumbers", `the client numbered the new tip r${change.revno}; it is r${revno}`);
  }
  if (cls.kind === "productionStable" && d.code === "approved") {
    const stable = history.tips.get(branches.stable) ?? null;
    if (!stable || !history.onMainline(change.new, stable)) {
      return bzrReject(d, "unapproved", "the new tip is not a mainline revision of stable");
    }
  }
  return null;
}

/** The events of a landed change; a failure to build them never stops the recording (the audit row says what happened). */
function landedEvents(engine: Engine, landed: readonly RefUpdate[], user: string | null): EventDraft[] {
  try {
    return pushEvents(engine, landed, user);
  } catch {
    return [];
  }
}

/**
 * After a tip change: record it and mirror, as post-receive does. `judged` is
 * the history the same session judged the change with: once the change has
 * landed, the revisions it brought go into the index, so the plugin sends none.
 * `pushId` is the id the same session's pre-change stage audited the change
 * under; without it (no such stage) the landing settles nothing, and
 * `prodgate sync` settles the change's audit row from the branch.
 */
export function bzrPostChange(
  input: BzrHookInput,
  env: NodeJS.ProcessEnv,
  source?: BreezySource,
  judged: BzrHistory | null = null,
  pushId: string = newPushId(),
): BzrHookAnswer {
  const update = refUpdateOf(input.update);
  const engine = openBzrEngine(input.snapshot.root, {
    told: { ...input.snapshot, revisions: [], ghosts: [] },
    source: source ?? helperSource(input.snapshot.root),
    lockedBranch: input.update.branch,
  });
  try {
    const { config } = engine;
    if (classifyRef(update.ref, config.branches, config.governed).kind === "ungoverned") return { accepted: true, lines: [], moves: [] };
    const landed = input.update.new !== null && input.snapshot.branches[input.update.branch] === input.update.new;
    // Only data crosses from the judging stage: its history read a database connection that is closed now.
    if (judged && landed && judged.has(input.update.new!)) persistLanded(engine.store, judged.pendingRevisions(), input.snapshot);
    const user = identify(env, config);
    // As post-receive: the landing settled, with the events of what it changed (production-stable moved,
    // revisions awaiting QA), in one transaction, before the mirror runs.
    const done = landed || input.update.new === null ? [update] : [];
    engine.store.settlePush(pushId, done, "post-change", landedEvents(engine, done, user));
    const lines = afterPush(engine, [update], user, pushId).map(inBazaarWords);
    deliverIfWritten(engine.store, config, input.snapshot.root, env);
    return { accepted: true, lines, moves: (engine.repo as BzrRepo).deferred };
  } finally {
    engine.store.close();
  }
}

/**
 * `prodgate bzr-hook session`: one engine process for one tip change, before
 * and after. One JSON document per line: the plugin sends
 * {"stage": "pre-change"|"post-change", snapshot, update}; the engine answers
 * {"answer": ...}, or first asks {"ask": FactsRequest} and reads {"facts": ...}.
 * It ends when the plugin closes its input. `pre-change` and `post-change`
 * run one stage alone, the document on stdin, asking Breezy through the helper.
 */
export function bzrHook(stage: string | undefined, env: NodeJS.ProcessEnv, readStdin: () => string): number {
  if (stage === "session") return bzrSession(env);
  if (stage !== "pre-change" && stage !== "post-change") throw new UserError(`unknown bzr-hook "${stage ?? ""}"`, 2);
  const input = parseHookInput(readStdin());
  const answer = stage === "pre-change" ? bzrPreChange(input, env) : bzrPostChange(input, env);
  process.stdout.write(`${JSON.stringify(answer)}\n`);
  return 0;
}

function bzrSession(env: NodeJS.ProcessEnv): number {
  const send = (message: unknown) => writeSync(1, `${JSON.stringify(message)}\n`);
  const receive = (): Record<string, unknown> | null => {
    const line = readLine(0);
    if (line === null) return null;
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new UserError("the Breezy plugin sent a document prodgate cannot read", 1);
    }
  };
  const plugin: BreezySource = {
    ask: (request) => {
      send({ ask: request });
      const reply = receive();
      if (!reply || !("facts" in reply)) throw new UserError("the Breezy plugin did not answer prodgate's question", 1);
      return parseFactsAnswer(reply.facts);
    },
  };
  let judged: { update: TipChange; history: BzrHistory | null; pushId: string } | null = null;
  for (;;) {
    const message = receive();
    if (message === null) return 0;
    const input = parseHookInput(JSON.stringify(message));
    if (message.stage === "pre-change") {
      const pushId = newPushId();
      const { answer, history } = preChange(input, env, plugin, pushId);
      judged = answer.accepted ? { update: input.update, history, pushId } : null;
      send({ answer });
    } else if (message.stage === "post-change") {
      const u = input.update;
      const same = judged && judged.update.branch === u.branch && judged.update.old === u.old && judged.update.new === u.new;
      send({ answer: same ? bzrPostChange(input, env, plugin, judged!.history, judged!.pushId) : bzrPostChange(input, env, plugin) });
      judged = null;
    } else throw new UserError(`unknown bzr-hook stage ${JSON.stringify(message.stage)}`, 2);
  }
}
