// The engine's side of the Breezy plugin: the plugin hands over the facts it
// gathered (a snapshot and the tip change), the same decision core as the git
// hooks judges it, and the answer goes back as one JSON document.
import { createHash } from "node:crypto";
import { describeFailure as failureLine } from "../boundary";
import { rolesOf } from "../config";
import { afterPush } from "../engine/after-push";
import { FactGatherer, type RefUpdate } from "../engine/facts";
import { recordTrustedMarkers } from "../engine/markers";
import { currentFreeze } from "../engine/mirror";
import type { Engine } from "../engine/state";
import { UserError } from "../errors";
import { identify } from "../identity";
import { decide, type Decision, type PushContext } from "../policy/decide";
import { formatPushResult } from "../policy/message";
import { branchRef, classifyRef } from "../policy/refs";
import { now } from "../store/store";
import { openBzrEngine } from "./engine";
import { type BzrSnapshot, parseSnapshot } from "./history";
import type { BzrRepo, DeferredMove } from "./repo";

/** A branch-tip change as the plugin reports it: revision ids, null for Bazaar's null: revision. */
export interface TipChange {
  branch: string;
  old: string | null;
  new: string | null;
}

export interface BzrHookInput {
  snapshot: BzrSnapshot;
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
  if (!u || typeof u.branch !== "string" || !BRANCH_PATH.test(u.branch) || !idOrNull(u.old) || !idOrNull(u.new)) {
    throw new UserError("the Breezy plugin sent no usable tip change", 1);
  }
  return { snapshot: parseSnapshot(v.snapshot), update: { branch: u.branch, old: u.old ?? null, new: u.new ?? null } };
}

function pushIdOf(input: BzrHookInput): string {
  const u = input.update;
  return createHash("sha256").update(`${input.snapshot.root}\n${u.branch}\n${u.old}\n${u.new}`).digest("hex").slice(0, 12);
}

function describeFailure(err: unknown): string {
  return failureLine(err);
}

/** Before a tip change: decide it. Fails closed on a governed branch. */
export function bzrPreChange(input: BzrHookInput, env: NodeJS.ProcessEnv): BzrHookAnswer {
  const update = refUpdateOf(input.update);
  const pushId = pushIdOf(input);
  let engine: Engine;
  try {
    engine = openBzrEngine(input.snapshot.root, { snapshot: input.snapshot, lockedBranch: input.update.branch });
  } catch (err) {
    return { accepted: false, lines: [`prodgate: rejected ${update.ref} [unavailable]: ${describeFailure(err)}`], moves: [] };
  }
  try {
    const { config, store } = engine;
    const cls = classifyRef(update.ref, config.branches, config.governed);
    if (cls.kind === "ungoverned") return { accepted: true, lines: [], moves: [] };
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
      decision = decide(
        user
          ? new FactGatherer(engine).gather(update, cls)
          : { ...update, class: cls, isCreate: false, isDelete: false, newType: null, isFastForward: false, keepsFirstParent: false },
        ctx,
      );
    } catch (err) {
      decision = { ...update, accepted: false, code: "unavailable", reason: describeFailure(err) };
    }
    store.audit([
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
    ]);
    try {
      recordTrustedMarkers(engine, [{ update, cls }], [decision], user, ctx.roles, pushId);
    } catch {
      // Unrecorded markers only stay uncounted.
    }
    return { accepted: decision.accepted, lines: formatPushResult([decision]), moves: [] };
  } finally {
    engine.store.close();
  }
}

/** After a tip change: record it and mirror, as post-receive does. */
export function bzrPostChange(input: BzrHookInput, env: NodeJS.ProcessEnv): BzrHookAnswer {
  const update = refUpdateOf(input.update);
  const engine = openBzrEngine(input.snapshot.root, { snapshot: input.snapshot, lockedBranch: input.update.branch });
  try {
    const { config } = engine;
    if (classifyRef(update.ref, config.branches, config.governed).kind === "ungoverned") return { accepted: true, lines: [], moves: [] };
    const lines = afterPush(engine, [update], identify(env, config), pushIdOf(input));
    return { accepted: true, lines, moves: (engine.repo as BzrRepo).deferred };
  } finally {
    engine.store.close();
  }
}

/** `prodgate bzr-hook <pre-change|post-change>`: JSON in, JSON out. */
export function bzrHook(stage: string | undefined, stdin: string, env: NodeJS.ProcessEnv): number {
  if (stage !== "pre-change" && stage !== "post-change") throw new UserError(`unknown bzr-hook "${stage ?? ""}"`, 2);
  const input = parseHookInput(stdin);
  const answer = stage === "pre-change" ? bzrPreChange(input, env) : bzrPostChange(input, env);
  process.stdout.write(`${JSON.stringify(answer)}\n`);
  return 0;
}
