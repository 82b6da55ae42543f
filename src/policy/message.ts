import { shortSha } from "./types";
import { REJECTION_CODES, type RejectionCode } from "./codes";
import type { CommitList, Decision } from "./decide";

export const MAX_LISTED_COMMITS = 10;

/**
 * Characters that change how a terminal shows what follows them: C0 and C1
 * controls (U+009B is a CSI on many terminals), DEL, bidi marks, embeddings,
 * overrides and isolates, line and paragraph separators, and the invisible
 * format characters (zero-width spaces and joiners, the byte order mark).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

/** UNSAFE but for C0 controls, which JSON.stringify always escapes (and whose \n formats a document). */
const UNSAFE_IN_JSON = new RegExp(UNSAFE.source.replace("\\u0000-\\u001f", ""), "g");

/** How much of one piece of user text (a subject, a reason, a note) a line shows. */
export const USER_TEXT_MAX = 200;
/** The longest line prodgate prints, whatever it holds. */
export const LINE_MAX = 2000;

/** At most `max` characters, the last of them an ellipsis when text was cut; never half a surrogate pair. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/**
 * User text made safe for someone else's terminal: every character of UNSAFE
 * becomes "?", and the text is cut to `max` characters (USER_TEXT_MAX unless
 * told). Applied to each piece of user text where a line is made, and to
 * every whole line where prodgate prints (printableLine).
 */
export function printable(text: string, max: number = USER_TEXT_MAX): string {
  return clip(text, max).replace(UNSAFE, "?");
}

/** One printed line, at the print boundary: neutralised, and cut at LINE_MAX. */
export function printableLine(line: string): string {
  return printable(line, LINE_MAX);
}

/** Text of several lines, each made a printable line. */
export function printableLines(text: string): string {
  return text.split("\n").map(printableLine).join("\n");
}

/**
 * A JSON document safe for a terminal: JSON.stringify leaves DEL, C1 controls,
 * bidi and separator characters raw inside strings; they become \uXXXX
 * escapes, so the document parses to the same value.
 */
export function jsonSafe(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
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
  const lines = [`prodgate: rejected ${printable(d.ref, LINE_MAX)} [${d.code}]: ${printable(d.reason, LINE_MAX)}`];
  if (entry) lines.push(`  rule: ${entry.rule}`);
  if (d.commits && d.commits.total > 0) {
    lines.push("  commits:");
    lines.push(...formatCommitList(d.commits));
  }
  for (const detail of d.details ?? []) lines.push(`  ${printable(detail, LINE_MAX)}`);
  if (entry?.remedy) lines.push(`  what to do: ${entry.remedy}`);
  return lines;
}

/** The pusher-facing text for a whole push; empty when all was accepted quietly. */
export function formatPushResult(decisions: Decision[]): string[] {
  const rejected = decisions.filter((d) => !d.accepted);
  const lines: string[] = [];
  for (const d of decisions.filter((x) => x.code === "override")) {
    lines.push(`prodgate: OVERRIDE on ${printable(d.ref, LINE_MAX)} (${d.overrode?.code}): ${printable(d.reason)} — logged`);
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
