import { shortSha } from "../policy/types";
// The few HTML helpers the report needs. Every value that came from a commit,
// a tag, a note, a user name or the database goes through `esc`.

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * Control characters are not allowed in HTML text, and bidi controls and
 * separators would reorder or break what a reader sees: they show as "?" (tab
 * and newline stay). The same set as the terminal's (policy/message.ts).
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

/** Text made safe for element content and quoted attribute values. */
export function esc(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  return String(value)
    .replace(/[&<>"']/g, (c) => ENTITIES[c]!)
    .replace(CONTROL, "?");
}

export const short = (sha: string | null | undefined): string => (sha ? shortSha(sha) : "-");

/** A commit as "r12 abc1234", the sha in full as a tooltip. */
export function revLabel(c: { sha: string; revno?: number | null }): string {
  const revno = c.revno ? `<b>r${esc(c.revno)}</b> ` : "";
  return `${revno}<code title="${esc(c.sha)}">${esc(short(c.sha))}</code>`;
}

/** A timestamp as written in the database, shortened to minutes, in a <time> element. */
export function when(iso: string | null | undefined): string {
  if (!iso) return "";
  const shown = iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
  return `<time datetime="${esc(iso)}">${esc(shown)}</time>`;
}

/** "3d 4h" style age of an ISO timestamp at `nowMs`. */
export function age(iso: string, nowMs: number): string {
  const s = Math.max(0, Math.floor((nowMs - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}
