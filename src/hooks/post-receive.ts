import { describeFailure } from "../boundary";
import { afterPush } from "../engine/after-push";
import { withMirrorLock } from "../engine/lock";
import { openEngine } from "../engine/state";
import { takeShimAnswers } from "../git/answers";
import { Repo } from "../git/repo";
import { resolveAliases } from "../git/symrefs";
import { identify } from "../identity";
import { classifyRef } from "../policy/refs";
import { readConfigCached } from "../config";
import { parseHookInput } from "./input";
import type { HookIO } from "./pre-receive";
import { deliverIfWritten } from "../events/start";
import { faultPoint } from "../engine/fault";
import { pushEvents } from "../events/build";
import type { EventDraft } from "../events/types";
import type { Engine } from "../engine/state";
import type { RefUpdate } from "../engine/facts";

/** The events of the landed updates; a failure to build them never stops the recording (the audit rows say what happened). */
function landedEvents(engine: Engine, landed: readonly RefUpdate[], user: string | null, pushId: string, io: HookIO): EventDraft[] {
  try {
    return pushEvents(engine, landed, user, pushId);
  } catch (err) {
    io.write(`prodgate: (the events of this push could not be built: ${describeFailure(err)})`);
    return [];
  }
}

/**
 * Records and mirrors after refs have moved. It cannot undo the push, so a
 * failure here is reported to the pusher and left for `prodgate sync`.
 */
export function postReceive(io: HookIO): number {
  const input = parseHookInput(io.stdin, io.env.PRODGATE_RECEIVE);
  try {
    const repo = Repo.forHook(io.cwd, io.env);
    repo.git.preload(takeShimAnswers(io.env.PRODGATE_PREFETCH, repo.gitDir));
    const read = readConfigCached(repo.git, repo.gitDir);
    const { config } = read;
    const governed = resolveAliases(repo.gitDir, input.updates).filter((u) => classifyRef(u.ref, config.branches, config.governed).kind !== "ungoverned");
    if (governed.length === 0) return 0;
    // Left open: dist/hook.cjs exits right after (see pre-receive).
    const engine = openEngine(repo, { read });
    const user = identify(io.env, engine.config);
    // git hands post-receive exactly the updates that landed: settle this push's accepted rows,
    // with the events of what they changed (production-stable moved, revisions awaiting QA).
    const events = landedEvents(engine, governed, user, input.pushId, io);
    faultPoint("before-landing-settled");
    engine.store.settlePush(input.pushId, governed, "post-receive", events);
    // Verdict and CI tags change what is deployable, and stable or
    // production-stable updates run the mirror: all of that is done under the
    // mirror's lock, so it is serialised with every other mirror and verdict.
    // A push of devel alone never waits for it.
    const develRef = `refs/heads/${config.branches.devel}`;
    const lines = governed.every((u) => u.ref === develRef)
      ? afterPush(engine, governed, user, input.pushId)
      : withMirrorLock(repo.gitDir, () => afterPush(engine, governed, user, input.pushId));
    for (const line of lines) io.write(line);
    deliverIfWritten(engine.store, config, repo.location, io.env);
  } catch (err) {
    const why = describeFailure(err);
    io.write(`prodgate: the push landed, but recording it failed: ${why}`);
    io.write("prodgate: an admin should run `prodgate sync` once the problem is fixed");
  }
  return 0;
}
