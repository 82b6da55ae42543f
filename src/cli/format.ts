import { shortSha } from "../policy/types";
import { printable } from "../policy/message";

export const short = (sha: string | null | undefined): string => (sha ? shortSha(sha) : "-");

export function rev(c: { revno?: number | null; sha: string; subject?: string }): string {
  const revno = c.revno ? `r${c.revno} ` : "";
  return `${revno}${short(c.sha)}${c.subject !== undefined ? ` ${printable(c.subject)}` : ""}`;
}

/** "3d 4h" style age from an ISO timestamp. */
export function age(iso: string, nowMs = Date.now()): string {
  const s = Math.max(0, Math.floor((nowMs - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n");
}

/** A verdict and where it comes from, never confusing a message marker with QA's judgement. */
export function describeVerdict(p: {
  verdict: string;
  source: string;
  by: string | null;
  markerBy: string | null;
  markerRole: string | null;
  markerIgnored: boolean;
}): string {
  if (p.source === "message-tag") {
    const who = p.markerBy ? ` (pushed by ${printable(p.markerBy)}, role ${p.markerRole})` : " (prodgate.markers.trust = anyone)";
    return `${p.verdict} by its message${who}, not judged by QA`;
  }
  if (p.source === "recorded" && p.by) return `${p.verdict} by QA (${printable(p.by)})`;
  return p.markerIgnored ? `${p.verdict} (its [no-qa]/[testfix] marker does not count: see prodgate.markers.trust)` : p.verdict;
}
