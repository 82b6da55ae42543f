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
  tickets?: string[];
  qaWith?: number[] | null;
  incrIgnored?: boolean;
  byTicket?: { ticket: string; verdict: string }[];
}): string {
  const perTicket = p.byTicket?.length ? ` — by ticket: ${p.byTicket.map((t) => `${printable(t.ticket)} ${t.verdict}`).join(", ")}` : "";
  if (p.source === "incremental")
    return `${p.verdict} as [incr]: QA'd with ${(p.qaWith ?? []).map((r) => `r${r}`).join(", ")}, a later landing of its ticket`;
  if (p.qaWith) {
    return p.qaWith.length
      ? `${p.verdict}: [incr], QA'd with ${p.qaWith.map((r) => `r${r}`).join(", ")}, which has no ok yet`
      : `${p.verdict}: [incr], but no later revision of ${p.tickets?.length ? `ticket ${p.tickets.map((t) => printable(t)).join(", ")}` : "its ticket (it references none)"} is on stable yet: it waits like any other`;
  }
  const incrNote = p.incrIgnored ? " (its [incr] marker does not count: see prodgate.markers.trust)" : "";
  if (p.source === "message-tag") {
    const who = p.markerBy ? ` (pushed by ${printable(p.markerBy)}, role ${p.markerRole})` : " (prodgate.markers.trust = anyone)";
    return `${p.verdict} by its message${who}, not judged by QA`;
  }
  if (p.source === "recorded" && p.by) return `${p.verdict} by QA (${printable(p.by)})${perTicket}${incrNote}`;
  return (
    (p.markerIgnored ? `${p.verdict} (its [no-qa]/[testfix] marker does not count: see prodgate.markers.trust)` : p.verdict) +
    perTicket +
    incrNote
  );
}

/** "3h ago" style: the largest unit only, as gh prints it. */
export function ago(iso: string, nowMs = Date.now()): string {
  const s = Math.max(0, Math.floor((nowMs - Date.parse(iso)) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  if (s < 86400 * 60) return `${Math.floor(s / 86400)}d ago`;
  return iso.slice(0, 10);
}

/**
 * Colour only on a terminal, as git and gh do: never when NO_COLOR is set
 * (https://no-color.org), nor with --no-color; FORCE_COLOR (other than 0)
 * forces it on a pipe. Plain ANSI codes: no dependency in the bundle.
 */
export function colourWanted(env: NodeJS.ProcessEnv, isTty: boolean, noColorFlag: boolean): boolean {
  if (noColorFlag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return isTty && env.TERM !== "dumb";
}

const SGR = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;
export type Style = keyof typeof SGR;

export function paint(on: boolean): (style: Style, text: string) => string {
  return (style, text) => (on && text ? `\u001b[${SGR[style]}m${text}\u001b[0m` : text);
}

/** Cut a line to `width` characters (a terminal's), marking the cut; no limit when width is 0. */
export function fit(line: string, width: number): string {
  if (!width || line.length <= width) return line;
  return `${line.slice(0, Math.max(1, width - 1))}…`;
}

export interface Cell {
  text: string;
  style?: Style;
}

/**
 * Rows as aligned columns, every cell's text made printable first, the last
 * column left ragged, each line cut to `width` (0: no limit), colour painted
 * last (so no cut lands inside an escape, and no escape counts as width).
 */
export function renderTable(rows: readonly (readonly Cell[])[], opts: { colour: boolean; width: number }): string {
  const clean = rows.map((r) => r.map((c) => ({ text: printable(c.text), style: c.style })));
  const widths: number[] = [];
  for (const r of clean) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.text.length)));
  const paintWith = paint(opts.colour);
  return clean
    .map((r) => {
      // The plain line first, each cell's span noted, then cut, then painted span by span.
      const spans: { from: number; to: number; style?: Style }[] = [];
      let line = "";
      r.forEach((c, i) => {
        if (i > 0) line += "  ";
        spans.push({ from: line.length, to: line.length + c.text.length, style: c.style });
        line += i === r.length - 1 ? c.text : c.text.padEnd(widths[i]!);
      });
      line = line.trimEnd();
      const cut = opts.width && line.length > opts.width ? Math.max(1, opts.width - 1) : line.length;
      let out = "";
      let at = 0;
      for (const span of spans) {
        const from = Math.min(span.from, cut);
        const to = Math.min(span.to, cut);
        out += line.slice(at, from) + (span.style ? paintWith(span.style, line.slice(from, to)) : line.slice(from, to));
        at = to;
      }
      out += line.slice(at, cut);
      return cut < line.length ? `${out}…` : out;
    })
    .join("\n");
}
