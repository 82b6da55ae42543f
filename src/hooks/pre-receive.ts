import { describeFailure } from "../boundary";
import { type Config, readConfigCached, rolesOf } from "../config";
import { dirname } from "node:path";
import { FactGatherer, type RefUpdate } from "../engine/facts";
import { recordTrustedMarkers } from "../engine/markers";
import { currentFreeze } from "../engine/mirror";
import { quietAfterPush, quietPlan, updateQuietNote } from "../engine/quiet";
import type { Engine } from "../engine/state";
import { UserError } from "../errors";
import { takeShimAnswers } from "../git/answers";
import { Repo } from "../git/repo";
import { resolveAliases } from "../git/symrefs";
import { identify, identityProblem } from "../identity";
import { decide, type Decision, decideWithoutFacts, type PushContext } from "../policy/decide";
import { formatPushResult } from "../policy/message";
import { classifyRef, type RefClass, shadowsGoverned } from "../policy/refs";
import { isZeroSha } from "../policy/types";
import { faultPoint } from "../engine/fault";
import { databasePath, Store } from "../store/store";
import { deliverIfWritten } from "../events/start";
import { type HookInput, misspeltOptions, overrideReason, parseHookInput, pushOptions } from "./input";

export interface HookIO {
  stdin: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  write: (line: string) => void;
}

/**
 * Decides every governed update of a push against the repository as it was
 * before it. Returns the exit status: non-zero rejects the whole push.
 */
export function preReceive(io: HookIO): number {
  const input: HookInput = parseHookInput(io.stdin, io.env.PRODGATE_RECEIVE);
  let repo: Repo;
  let config: Config;
  let configProblem: string | null = null;
  try {
    repo = Repo.forHook(io.cwd, io.env);
    repo.git.preload(takeShimAnswers(io.env.PRODGATE_PREFETCH, repo.gitDir));
    const read = readConfigCached(repo.git, repo.gitDir);
    config = read.config;
    if (read.errors.length > 0) {
      const e = read.errors[0]!;
      configProblem = `prodgate's configuration is invalid: ${e.key}: ${e.message}; fix it with git config on the server`;
    }
  } catch (err) {
    // Without the configuration we still know the default governed refs: fail closed on those.
    io.write(`prodgate: rejected: cannot read the repository: ${describeFailure(err)}`);
    return 1;
  }

  // A push to a symbolic ref moves the ref it points at: judged as that ref.
  const updates = resolveAliases(repo.gitDir, input.updates);
  const classified = updates
    .map((u) => ({ update: u, cls: classifyRef(u.ref, config.branches, config.governed) }))
    .filter((x) => x.cls.kind !== "ungoverned");
  // A new ref that would keep a governed one from being created: refused like a governed update.
  const shadowing = updates.filter(
    (u) => !isZeroSha(u.new) && classifyRef(u.ref, config.branches, config.governed).kind === "ungoverned" && shadowsGoverned(u.ref, config.branches),
  );
  if (input.malformed.length > 0) {
    io.write(`prodgate: rejected: git sent a line prodgate cannot read: ${JSON.stringify(input.malformed[0]!.slice(0, 200))}`);
    return 1;
  }
  if (classified.length === 0 && shadowing.length === 0) return 0;

  const user = identify(io.env, config);
  const ctx: PushContext = {
    user,
    roles: rolesOf(config, user),
    overrideReason: overrideReason(pushOptions(io.env)),
    requireCi: config.requireCi,
    stableWriters: config.stableWriters,
    freeze: null,
    targets: config.targets,
  };

  let decisions: Decision[];
  let store: Store | null = null;
  let engine: Engine | null = null;
  try {
    if (configProblem) {
      // The refusal is still logged when the database can be reached.
      try {
        store = Store.open(databasePath(repo.gitDir));
      } catch {
        store = null;
      }
      throw new UserError(configProblem, 1);
    }
    const gitProblem = repo.versionProblem();
    if (gitProblem) throw new UserError(gitProblem, 1);
    store = Store.open(databasePath(repo.gitDir));
    repo.revnoCache = store;
    engine = { repo, config, store };
    ctx.freeze = currentFreeze(engine);
    // Updates refused on the pusher alone (a verdict tag without the qa role) cost no git at all.
    const early = classified.map(({ update, cls }) => decideWithoutFacts({ ...update, class: cls }, ctx));
    const gatherer = new FactGatherer(engine);
    // Everything the decisions and the quiet note will ask git, in one process.
    gatherer.prefetch(
      classified.filter((_, i) => !early[i]),
      quietPlan(engine, updates),
    );
    decisions = classified.map(({ update, cls }, i) => early[i] ?? decide(gatherer.gather(update, cls), ctx));
  } catch (err) {
    const reason = describeFailure(err);
    decisions = classified.map(({ update }) => ({
      ...update,
      accepted: false,
      code: "unavailable",
      reason,
    }));
  }

  decisions = decisions.map((d, i) => {
    const alias = classified[i]!.update.alias;
    return alias ? { ...d, reason: `${d.reason} (pushed as ${alias}, a symbolic ref to ${d.ref})` } : d;
  });
  for (const u of shadowing) {
    decisions.push({
      ...u,
      accepted: false,
      code: "shadows-governed",
      reason: `${u.ref} would keep a ref prodgate governs from being created (git cannot hold both a and a/b)`,
    });
  }
  const badIdentity = identityProblem(io.env, config);
  if (badIdentity) decisions = decisions.map((d) => (d.code === "no-identity" ? { ...d, reason: badIdentity } : d));

  // An override attempt without the role, or a misspelt option, is logged and hinted as such.
  const misspelt = misspeltOptions(pushOptions(io.env));
  const attempt = (d: Decision): string | null => {
    if (d.accepted) return null;
    if (ctx.overrideReason !== null && !ctx.roles.has("admin"))
      return `override attempted without the admin role: ${JSON.stringify(ctx.overrideReason.slice(0, 200))}`;
    if (misspelt.length > 0) return `unknown push option ${JSON.stringify(misspelt[0]!.option)}: did you mean -o ${misspelt[0]!.meant}?`;
    return null;
  };

  const rejected = decisions.some((d) => !d.accepted);
  // Before this push's events are written, so an endpoint configured just now gets them.
  if (store) registerEndpoints(store, config, io);
  try {
    // Stamped inside the write; each accepted row waits for post-receive (or sync) to say it landed.
    store?.audit(
      decisions.map((d) => ({
        pushId: input.pushId,
        user,
        ref: d.ref,
        old: d.old,
        new: d.new,
        decision: d.code === "override" ? "override" : d.accepted && !rejected ? "accepted" : "rejected",
        code: d.accepted && rejected ? "push-refused" : d.code,
        reason: d.accepted && rejected ? `${d.reason} (but another update of the push was refused)` : d.reason,
        detail: d.overrode ? `overrode ${d.overrode.code}: ${d.overrode.reason}` : attempt(d),
        ...(d.code === "override" && d.commits
          ? {
              brought: {
                commits: d.commits.commits.map((c) => ({ sha: c.sha, revno: c.revno ?? null, subject: c.subject })),
                total: d.commits.total,
              },
            }
          : {}),
      })),
      { receive: io.env.PRODGATE_RECEIVE || null },
    );
  } catch (err) {
    if (!rejected) {
      // An accepted push that cannot be recorded is refused: the audit log is part of the guarantee.
      io.write(`prodgate: rejected: the audit log cannot be written (${describeFailure(err)}); tell the repository's admin`);
      return 1;
    }
  }
  if (store) deliverEvents(store, config, repo.gitDir, io);
  if (!rejected && engine) noteIfQuiet(engine, input, updates, io);
  if (!rejected && engine) trustMarkers(engine, classified, decisions, ctx, input.pushId, io);
  faultPoint("after-pre-receive");
  // The database is left open: dist/hook.cjs exits right after, without the
  // write-ahead-log checkpoint a close would run on every push.
  for (const line of formatPushResult(decisions)) io.write(line);
  if (rejected)
    for (const m of misspelt) io.write(`prodgate: the push option "${m.option}" means nothing to prodgate: did you mean -o ${m.meant}?`);
  return rejected ? 1 : 0;
}

/**
 * Leave the post-receive shim a note when the push leaves it nothing to do,
 * so it does not start Node again (see engine/quiet.ts). Never fails the
 * push: without a note post-receive simply does its usual work.
 */
function noteIfQuiet(engine: Engine, input: HookInput, updates: readonly RefUpdate[], io: HookIO): void {
  try {
    updateQuietNote(dirname(engine.store.path), input.updates, quietAfterPush(engine, updates));
  } catch (err) {
    try {
      updateQuietNote(dirname(engine.store.path), input.updates, false);
    } catch {
      // Nothing more to do: the shim compares the note with its input anyway.
    }
    if (io.env.PRODGATE_DEBUG) io.write(`prodgate: (post-receive will run in full: ${describeFailure(err)})`);
  }
}

/** Endpoints configured since the last push start getting events now. Never fails the push. */
function registerEndpoints(store: Store, config: Config, io: HookIO): void {
  try {
    store.registerEndpoints(config.events.endpoints.map((e) => e.key));
  } catch (err) {
    if (io.env.PRODGATE_DEBUG) io.write(`prodgate: (webhook and mail endpoints not registered: ${describeFailure(err)})`);
  }
}

/** A refused push or an override wrote events: hand them to the deliverer. Never fails the push. */
function deliverEvents(store: Store, config: Config, gitDir: string, io: HookIO): void {
  try {
    deliverIfWritten(store, config, gitDir, io.env);
  } catch (err) {
    if (io.env.PRODGATE_DEBUG) io.write(`prodgate: (events left queued: ${describeFailure(err)})`);
  }
}

/** Remember the marker commits a trusted user brought (engine/markers.ts); a failure only leaves their markers uncounted. */
function trustMarkers(
  engine: Engine,
  classified: { update: { old: string; new: string; ref: string }; cls: RefClass }[],
  decisions: Decision[],
  ctx: PushContext,
  pushId: string,
  io: HookIO,
): void {
  try {
    recordTrustedMarkers(engine, classified, decisions, ctx.user, ctx.roles, pushId);
  } catch (err) {
    if (io.env.PRODGATE_DEBUG) io.write(`prodgate: (markers of this push not recorded: ${describeFailure(err)})`);
  }
}
