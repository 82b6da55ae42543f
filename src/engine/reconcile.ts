import { readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseHookInput, pushIdOfReceive } from "../hooks/input";
import { branchRef, classifyRef } from "../policy/refs";
import { lateVerdictStanding } from "../policy/tickets";
import { type CiResult, isZeroSha, shortSha, type Verdict } from "../policy/types";
import { type AuditEntry, tagSource } from "../store/store";
import { recordPromotedFixes } from "./after-push";
import { recordLateDeployTag } from "../ops/engine";
import { pushEvents } from "../events/build";
import type { EventDraft } from "../events/types";
import { bringsSecurityFixes } from "../policy/fixes";
import { branchTips, type Engine } from "./state";
import { describeLater, recordTicketTag, ticketsOf } from "./tickets";

/**
 * Record the verdict, CI and deploy tags that pre-receive accepted but post-receive
 * never recorded (it was killed, or the database was unavailable). Only tags
 * with an 'accepted' audit row count, and only while the tag still names the
 * object that was accepted: a tag pre-receive never saw is never imported.
 * A verdict or CI tag speaks as of its acceptance: a verdict or CI result
 * recorded since then for the same revision (and channel) is newer and
 * stands; the tag is then recorded as superseded, an audit row naming the
 * newer one (recordLateVerdict, recordLateCi). A deploy tag likewise: a
 * deployment recorded on its target since stands, and the tag is kept in the
 * history as superseded (recordLateDeployTag). Returns how many were
 * recorded; `notes` gets a line when some were superseded.
 */
export function reconcileTags(engine: Engine, notes?: string[]): number {
  const { repo, store, config } = engine;
  const pending = store.unrecordedTagAcceptances();
  if (pending.length === 0) return 0;
  const refs = [...new Set(pending.map((a) => a.ref!))];
  const tips = repo.refTips(refs);
  let recorded = 0;
  let superseded = 0;
  let supersededDeploys = 0;
  for (const a of pending) {
    const ref = a.ref!;
    if (!a.new || tips.get(ref) !== a.new) continue;
    const cls = classifyRef(ref, config.branches, config.governed);
    if (cls.kind === "deployTag" && cls.deploy?.valid) {
      const done = recordLateDeployTag(engine, { ref, new: a.new }, cls.deploy.target, a.user ?? "unknown", a.pushId ?? null, a);
      if (done === "recorded") recorded++;
      if (done === "superseded") supersededDeploys++;
      continue;
    }
    if (!cls.tag?.valid) continue;
    const sha = repo.resolveCommit(a.new);
    if (!sha) continue;
    const user = a.user ?? "unknown";
    const source = tagSource(ref, a.old, a.pushId);
    if (cls.kind === "verdictTag" && cls.tag.ticket !== undefined) {
      const tag = { ref, target: sha, verdict: cls.tag.value as Verdict, ticket: cls.tag.ticket, source };
      const done = recordTicketTag(engine, tag, user, a.pushId ?? null, a);
      recorded += done.recorded.length;
      superseded += done.overtaken.length;
    } else if (cls.kind === "verdictTag") {
      const done = recordLateVerdict(engine, a, { ref, sha, verdict: cls.tag.value as Verdict, source }, user);
      recorded += done.recorded;
      if (done.superseded) superseded++;
    } else if (cls.kind === "ciTag") {
      const done = recordLateCi(engine, a, { ref, sha, result: cls.tag.value as CiResult, source }, user);
      if (done === "recorded") recorded++;
      if (done === "superseded") superseded++;
    }
  }
  if (superseded > 0)
    notes?.push(
      `${superseded} verdict(s) or CI result(s) of tags recorded late were not applied: a newer one was given since the tag was accepted (prodgate log shows each as superseded)`,
    );
  if (supersededDeploys > 0)
    notes?.push(
      `${supersededDeploys} deploy tag(s) recorded late are history only: a newer deployment on the target was recorded since the tag was accepted and stands (prodgate deploy log shows each as superseded)`,
    );
  return recorded;
}

/**
 * A revision verdict tag recorded late, as of its acceptance `a`
 * (policy/tickets.ts lateVerdictStanding): not applied when a verdict was
 * given to the revision since; only through the revision's other tickets
 * when verdicts came through some of its tickets since; else as given.
 */
export function recordLateVerdict(
  engine: Engine,
  a: AuditEntry,
  tag: { ref: string; sha: string; verdict: Verdict; source: string },
  user: string,
): { recorded: number; superseded: boolean } {
  const { repo, store, config } = engine;
  const revno = repo.revno(tag.sha);
  const info = repo.commit(tag.sha);
  const messageTickets = info ? (ticketsOf(config, [info]).get(tag.sha) ?? []) : [];
  const what = `${tag.verdict} for r${revno} ${shortSha(tag.sha)}`;
  const late = `${tag.ref} was accepted at ${a.at} and recorded late`;
  const trace = (reason: string) =>
    store.recordSuperseded({ kind: "verdict", ref: tag.ref, sha: tag.sha, user, pushId: a.pushId ?? null, source: tag.source, reason });
  return store.write(() => {
    const later = store.verdictsAfter(a, [tag.sha]);
    const channelTickets = (store.verdictChannels([tag.sha]).get(tag.sha) ?? []).flatMap((r) => (r.ticket ? [r.ticket] : []));
    const standing = lateVerdictStanding(null, later, [...messageTickets, ...channelTickets]);
    const record = (tickets: (string | null)[]) =>
      store.recordVerdicts(
        tickets.map((ticket) => ({ sha: tag.sha, verdict: tag.verdict, revno, ref: tag.ref, ticket })),
        user,
        tag.source,
        a.pushId,
        a.id,
      );
    if (standing.as === "given") return { recorded: record([null]), superseded: false };
    if (standing.as === "overtaken") {
      const direct = later.filter((r) => r.ticket === null);
      const newer = direct.length ? direct : later;
      trace(`${what} not applied: ${late}; the newer verdict stands: ${describeLater(newer.at(-1)!)}`);
      return { recorded: 0, superseded: true };
    }
    const recorded = record(standing.tickets);
    const newer = standing.overtaken.map((t) => describeLater(later.filter((r) => r.ticket === t).at(-1)!));
    trace(
      `${what} applied through ticket(s) ${standing.tickets.join(", ")} only: ${late}; ` +
        `ticket(s) ${standing.overtaken.join(", ")} got a newer verdict: ${newer.join("; ")}`,
    );
    return { recorded, superseded: true };
  });
}

/** A CI tag recorded late, as of its acceptance `a`: not applied when a CI result for the commit was recorded since. */
export function recordLateCi(
  engine: Engine,
  a: AuditEntry,
  tag: { ref: string; sha: string; result: CiResult; source: string },
  user: string,
): "recorded" | "superseded" | "none" {
  const { store } = engine;
  return store.write(() => {
    const newer = store.ciAfter(a, tag.sha).at(-1);
    if (!newer) return store.recordCi(tag.sha, tag.result, user, tag.source, a.pushId ?? null, tag.ref, a.id) ? "recorded" : "none";
    store.recordSuperseded({
      kind: "ci",
      ref: tag.ref,
      sha: tag.sha,
      user,
      pushId: a.pushId ?? null,
      source: tag.source,
      reason:
        `CI ${tag.result} for ${shortSha(tag.sha)} not applied: ${tag.ref} was accepted at ${a.at} and recorded late; ` +
        `the newer result stands: ${newer.result} by ${newer.user} at ${newer.at} (${newer.source})`,
    });
    return "superseded";
  });
}

/**
 * Record the security fixes of promotions that landed but whose post-receive
 * never recorded them. Recording is idempotent (a fix is keyed by its sha).
 */
export function reconcileFixes(engine: Engine): number {
  const { repo, store, config } = engine;
  const tips = branchTips(engine);
  if (!tips.productionStable) return 0;
  let recorded = 0;
  for (const a of store.promotionsWithoutFixes(branchRef(config.branches.productionStable))) {
    // An override's content is the override's, unless it overrode only a promotion's missing CI pass.
    if (!bringsSecurityFixes(a)) continue;
    if (!a.new || !a.old || !repo.isAncestor(a.new, tips.productionStable)) continue;
    recorded += recordPromotedFixes(engine, { ref: a.ref!, old: a.old, new: a.new }, tips.stable, a.user ?? "unknown", a.pushId ?? null);
  }
  return recorded;
}

/** Accepted updates without a receive-pack to ask about are settled from the refs once this old. */
const UNSETTLED_GRACE_MS = 10 * 60 * 1000;

/** Is receive-pack "<pid>-<start time>" still running (the push may still land)? */
function receiveAlive(receive: string): boolean {
  const [pid, start] = receive.split("-");
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] === start;
  } catch {
    return false;
  }
}

/**
 * Say for every accepted update of a governed ref whether it landed. First
 * what the post-receive shim left when it had nothing else to do (the
 * updates git said landed, under the push's receive-pack); then, for a push
 * that is over (its receive-pack is gone) and that no post-receive settled,
 * the refs decide (once no push of the same update is still running): it
 * landed when the ref is at its new value and nothing else took it there
 * (another push of the same update or, for a branch, any landed push or
 * mirror move to that commit), or when a later mirror run, or a later
 * update that landed, found the ref
 * there; otherwise it did not (governed branches never lose commits, and
 * every later move of them is in the log). Returns how many were settled.
 */
/** The events of an accepted update that landed, when post-receive never wrote them; none when they cannot be built. */
function eventsOfLanding(
  engine: Engine,
  r: { ref?: string | null; old?: string | null; new?: string | null; user: string | null; pushId?: string | null },
): EventDraft[] {
  if (!r.ref || !r.new || isZeroSha(r.new)) return [];
  try {
    return pushEvents(engine, [{ ref: r.ref, old: r.old ?? "0".repeat(r.new.length), new: r.new }], r.user, r.pushId ?? null);
  } catch {
    return [];
  }
}

export function reconcileLandings(engine: Engine): number {
  const { repo, store } = engine;
  let settled = 0;
  const dir = join(dirname(store.path), "quiet");
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => /^landed-[0-9]+-[0-9]+$/.test(n));
  } catch {
    // No quiet push yet.
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      const { updates } = parseHookInput(readFileSync(path, "utf8"));
      settled += store.settlePush(pushIdOfReceive(name.slice("landed-".length)), updates, "post-receive");
      rmSync(path, { force: true });
    } catch {
      // Read again next time.
    }
  }
  const unsettled = store.unsettledLandings();
  const over = (r: (typeof unsettled)[number]) =>
    r.receive ? !receiveAlive(r.receive) : Date.now() - Date.parse(r.at) > UNSETTLED_GRACE_MS;
  // The same update by a push still running may be the one that landed: wait for it to say so.
  const same = (a: (typeof unsettled)[number], b: (typeof unsettled)[number]) => a.ref === b.ref && a.old === b.old && a.new === b.new;
  const running = unsettled.filter((r) => !over(r));
  const open = unsettled.filter((r) => over(r) && !running.some((t) => same(t, r)));
  if (open.length === 0) return settled;
  const tips = repo.refTips([...new Set(open.map((r) => r.ref!))]);
  // What post-receive would have told of each update (production-stable moved, revisions awaiting QA),
  // built before the write and written with the landing it depends on.
  const told = new Map(open.map((r) => [r.id, eventsOfLanding(engine, r)]));
  store.write(() => {
    // Oldest first: of two identical updates, only one whose decision came before the ref moved can have landed.
    for (const r of open) {
      const ref = r.ref!;
      const tip = tips.get(ref) ?? null;
      const to = r.new && !isZeroSha(r.new) ? r.new : null;
      const landed =
        !store.landedElsewhere(r.id, ref, r.old ?? null, r.new ?? null) &&
        (tip === to || (!!r.new && store.laterRowFrom(r.id, ref, r.new)));
      // A later update from here still unsettled may yet prove it: asked again next time.
      if (!landed && r.new && store.laterUnsettledFrom(r.id, ref, r.new)) continue;
      store.settleLanding(r.id, landed, "sync");
      if (landed) store.emitEvents(told.get(r.id) ?? []);
      settled++;
    }
  });
  return settled;
}
