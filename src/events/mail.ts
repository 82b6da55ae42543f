// Mail for people: a subject that says what happened, and a plain-text body
// read in five seconds. Pure: the sending is in mail-send.ts.
import { shortSha } from "../policy/types";
import type { MovedRevision } from "./types";
import type { ProdgateEvent } from "./types";

const s = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const str = (v: unknown): string => (typeof v === "string" ? v : v === null || v === undefined ? "" : String(v));
const rev = (sha: unknown, revno?: unknown) => (typeof revno === "number" ? `r${revno} ${shortSha(str(sha))}` : shortSha(str(sha)));

export function mailSubject(e: ProdgateEvent): string {
  const d = e.data;
  const who = e.actor ?? "prodgate";
  let what: string;
  switch (e.type) {
    case "production-stable.moved": {
      const n = typeof d.revisionCount === "number" ? d.revisionCount : Array.isArray(d.revisions) ? d.revisions.length : 0;
      what = `production-stable moved to ${typeof d.revno === "number" ? `r${d.revno}` : shortSha(str(d.to))} (+${s(n, "revision")})`;
      break;
    }
    case "mirror.blocked":
      what = `the mirror is blocked${Array.isArray(d.files) && d.files.length > 0 ? `: merge conflict in ${d.files.join(", ")}` : `: ${str(d.detail)}`}`;
      break;
    case "mirror.unblocked":
      what = "the mirror is no longer blocked";
      break;
    case "verdict.recorded":
    case "verdict.bad":
      what = `${rev(d.sha, d.revno)} marked ${str(d.verdict)} by ${who}`;
      break;
    case "qa.waiting": {
      const list = Array.isArray(d.revisions) ? (d.revisions as { revno: number }[]) : [];
      const range = list.length > 1 ? ` (r${list[0]!.revno}..r${list.at(-1)!.revno})` : list.length === 1 ? ` (r${list[0]!.revno})` : "";
      what = `${s(list.length, "revision")} of stable await${list.length === 1 ? "s" : ""} QA${range}`;
      break;
    }
    case "fix.promoted":
      what = `security fix ${shortSha(str(d.sha))} promoted by ${who}: ${str(d.subject)}`;
      break;
    case "fix.back":
      what = `security fix ${shortSha(str(d.fix))} is back in ${str(d.branch)} (${str(d.how)})`;
      break;
    case "fix.overdue":
      what = `security fix ${shortSha(str(d.sha))} pending for ${str(d.days)} days: ${str(d.subject)}`;
      break;
    case "override.used":
      what = `${who} overrode prodgate on ${str(d.ref)}: ${str(d.reason)}`;
      break;
    case "push.rejected":
      what = `push of ${str(d.ref)} by ${who} refused (${str(d.code)})`;
      break;
    case "freeze":
      what = `production-stable frozen by ${who}: ${str(d.reason)}`;
      break;
    case "thaw":
      what = `production-stable thawed by ${who}`;
      break;
    case "deploy.recorded":
      what = `${str(d.target)} runs ${shortSha(str(d.sha))} (recorded by ${who})`;
      break;
    case "cowboy.added":
      what = `cowboy #${str(d.id)} added on ${Array.isArray(d.targets) ? d.targets.join(", ") : ""} by ${who}`;
      break;
    case "cowboy.retired":
      what = `cowboy #${str(d.id)} retired on ${str(d.target)}`;
      break;
    case "cowboy.removed":
      what = `cowboy #${str(d.id)} removed by ${who}`;
      break;
    default:
      what = e.type;
  }
  return `[prodgate ${e.repository}] ${what}`.replace(/[\r\n]+/g, " ");
}

export function mailBody(e: ProdgateEvent, reportUrl: string | null): string {
  const d = e.data;
  const lines: string[] = [];
  if (e.type === "production-stable.moved") {
    const revisions = (Array.isArray(d.revisions) ? d.revisions : []) as MovedRevision[];
    lines.push(
      `production-stable moved ${d.from ? `from ${shortSha(str(d.from))} ` : ""}to ${shortSha(str(d.to))} (${str(d.how)}), by ${e.actor ?? "prodgate"}.`,
      "",
    );
    if (revisions.length > 0) {
      const count = typeof d.revisionCount === "number" ? d.revisionCount : revisions.length;
      lines.push(count > revisions.length ? `${s(count, "revision")}, the newest ${revisions.length}:` : `${s(count, "revision")}:`);
      for (const r of revisions)
        lines.push(
          `  ${rev(r.sha, r.revno).padEnd(14)} ${(r.verdict ?? "-").padEnd(12)} ${(r.by ? `(${r.by})` : "").padEnd(12)} ${r.subject}`,
        );
    }
    const fixes = (Array.isArray(d.fixes) ? d.fixes : []) as { sha: string; subject: string }[];
    if (fixes.length > 0) {
      lines.push("", `${s(fixes.length, "security fix", "security fixes")}:`);
      for (const f of fixes) lines.push(`  ${shortSha(f.sha)}  ${f.subject}`);
    }
  } else if (e.type === "qa.waiting") {
    for (const r of (Array.isArray(d.revisions) ? d.revisions : []) as { sha: string; revno: number; subject: string }[])
      lines.push(`  ${rev(r.sha, r.revno).padEnd(14)} ${r.subject}`);
    lines.push("", "Record a verdict: prodgate qa ok <rev>  (or push a qa/ok/<label> tag)");
  } else {
    for (const [k, v] of Object.entries(d)) lines.push(`${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  }
  if (reportUrl) lines.push("", `Deployment report: ${reportUrl}`);
  lines.push("", `-- prodgate, ${e.type} at ${e.at}, event ${e.id}`);
  return `${lines.join("\n")}\n`;
}
