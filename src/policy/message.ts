import { shortSha } from "./types";
import { REJECTION_CODES, type RejectionCode } from "./codes";
import type { CommitList, Decision } from "./decide";

export const MAX_LISTED_COMMITS = 10;

/** Strip control characters so nothing a client wrote can paint the pusher's terminal. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g, "?");
}

export function formatCommitList(list: CommitList): string[] {
  const lines = list.commits.slice(0, MAX_LISTED_COMMITS).map((c) => {
    const revno = c.revno !== undefined ? `r${c.revno} ` : "";
    const verdict = c.verdict ? ` (${c.verdict})` : "";
    return `    ${revno}${shortSha(c.sha)} ${printable(c.subject)}${verdict}`;
  });
  const more = list.total - Math.min(list.total, MAX_LISTED_COMMITS);
  if (more > 0) lines.push(`    … and ${more} more`);
  return lines;
}

/** The lines a pusher sees for one rejected update. */
export function formatRejection(d: Decision): string[] {
  const entry = REJECTION_CODES[d.code as RejectionCode];
  const lines = [`prodgate: rejected ${printable(d.ref)} [${d.code}]: ${printable(d.reason)}`];
  if (entry) lines.push(`  rule: ${entry.rule}`);
  if (d.commits && d.commits.total > 0) {
    lines.push("  commits:");
    lines.push(...formatCommitList(d.commits));
  }
  for (const detail of d.details ?? []) lines.push(`  ${printable(detail)}`);
  if (entry?.remedy) lines.push(`  what to do: ${entry.remedy}`);
  return lines;
}

/** The pusher-facing text for a whole push; empty when all was accepted quietly. */
export function formatPushResult(decisions: Decision[]): string[] {
  const rejected = decisions.filter((d) => !d.accepted);
  const lines: string[] = [];
  for (const d of decisions.filter((x) => x.code === "override")) {
    lines.push(`prodgate: OVERRIDE on ${printable(d.ref)} (${d.overrode?.code}): ${printable(d.reason)} — logged`);
  }
  for (const d of rejected) lines.push(...formatRejection(d));
  if (rejected.length > 0) {
    const others = decisions.length - rejected.length;
    lines.push(
      others > 0
        ? `prodgate: the whole push was refused (${others} other update(s) were fine; push them alone or fix the above)`
        : "prodgate: the push was refused; no ref was changed",
    );
  }
  return lines;
}
