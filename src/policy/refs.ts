import { type DeployTagName, parseDeployTagRef } from "../ops/rules";
import { isTicketId } from "./tickets";
import { type BranchKind, type BranchNames, isCiResult, isVerdict } from "./types";

export type RefKind = BranchKind | "verdictTag" | "ciTag" | "deployTag" | "governed" | "ungoverned";

export interface TagName {
  namespace: "qa" | "ci";
  value: string;
  label: string;
  /** False when the value is not a known verdict or CI result, or the label is empty. */
  valid: boolean;
  /** qa/<verdict>/ticket-<id>: a verdict for every pending revision referencing the ticket. */
  ticket?: string;
  /**
   * A qa/ label that looks like a ticket tag but is not exactly one (qa/ok/Ticket-7, qa/ok/ticket7, and
   * spelled with letters outside ASCII: qa/ok/TİCKET-7, a Cyrillic і, a zero-width space): refused, never a revision verdict.
   */
  looksLikeTicket?: boolean;
}

/** A label starting with "ticket" or "tickets" in any case, then anything but a letter: meant as a ticket tag. */
const TICKET_LIKE = /^tickets?(?![A-Za-z])/i;
/** Outside printable ASCII: where a label could pass for "ticket" to a reader and not to TICKET_LIKE. */
const NOT_ASCII = /[^\x21-\x7e]/;
/** Letters of "tickets" from other scripts that a reader takes for them: dotless i, Cyrillic and Greek. */
const CONFUSABLE: readonly [string, string][] = [
  ["i", "\u0131\u0456\u0406\u03b9\u0399\u04c0\u04cf"],
  ["t", "\u0442\u0422\u03c4\u03a4"],
  ["c", "\u0441\u0421\u03f2\u03f9"],
  ["k", "\u043a\u041a\u03ba\u039a"],
  ["e", "\u0435\u0415\u03b5\u0395"],
  ["s", "\u0455\u0405"],
];
const ASCII_OF = new Map(CONFUSABLE.flatMap(([ascii, others]) => [...others].map((c) => [c, ascii] as const)));

/** A label as a reader sees it: compatibility forms (full width) folded, marks and invisible characters dropped, look-alike letters made ASCII. */
function asciiSkeleton(label: string): string {
  return label
    .normalize("NFKD")
    .replace(/[\p{M}\p{Default_Ignorable_Code_Point}]/gu, "")
    .replace(/[^ -~]/g, (ch) => ASCII_OF.get(ch) ?? ch);
}

export interface RefClass {
  kind: RefKind;
  tag?: TagName;
  /** deploy/<target>/<label> tags: a deployment recorded by push. */
  deploy?: DeployTagName;
}

export function branchRef(name: string): string {
  return `refs/heads/${name}`;
}

export function parseTagRef(ref: string): TagName | null {
  const m = /^refs\/tags\/(qa|ci)\/(.*)$/.exec(ref);
  if (!m) return null;
  const namespace = m[1] as "qa" | "ci";
  const slash = m[2]!.indexOf("/");
  const value = slash < 0 ? m[2]! : m[2]!.slice(0, slash);
  const label = slash < 0 ? "" : m[2]!.slice(slash + 1);
  const known = namespace === "qa" ? isVerdict(value) : isCiResult(value);
  if (namespace === "qa" && NOT_ASCII.test(label) && TICKET_LIKE.test(asciiSkeleton(label))) {
    return { namespace, value, label, valid: false, looksLikeTicket: true };
  }
  if (namespace === "qa" && label.startsWith("ticket-")) {
    const ticket = label.slice("ticket-".length);
    return { namespace, value, label, valid: known && isTicketId(ticket), ticket };
  }
  if (namespace === "qa" && TICKET_LIKE.test(label)) return { namespace, value, label, valid: false, looksLikeTicket: true };
  return { namespace, value, label, valid: known && label.length > 0 };
}

/** Glob match for configured extra governed refs: `*` within a path part, `**` across parts. */
export function refGlobMatch(pattern: string, ref: string): boolean {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^/]*";
    else re += c.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`).test(ref);
}

export function classifyRef(ref: string, branches: BranchNames, extraGoverned: readonly string[]): RefClass {
  for (const kind of ["devel", "stable", "productionStable", "productionDevel"] as const) {
    if (ref === branchRef(branches[kind])) return { kind };
  }
  const tag = parseTagRef(ref);
  if (tag) return { kind: tag.namespace === "qa" ? "verdictTag" : "ciTag", tag };
  const deploy = parseDeployTagRef(ref);
  if (deploy) return { kind: "deployTag", deploy };
  if (extraGoverned.some((p) => refGlobMatch(p, ref))) return { kind: "governed" };
  return { kind: "ungoverned" };
}

/**
 * Would `ref` keep a governed ref from ever being created? git cannot hold
 * both `a` and `a/b`: a tag `qa` blocks every verdict tag, a branch
 * `production-devel/x` blocks production-devel, a branch `release` blocks a
 * governed `release/stable`.
 */
export function shadowsGoverned(ref: string, branches: BranchNames): boolean {
  if (ref === "refs/tags/qa" || ref === "refs/tags/ci" || ref === "refs/tags/deploy") return true;
  return (["devel", "stable", "productionStable", "productionDevel"] as const).some((kind) => {
    const governed = branchRef(branches[kind]);
    return ref.startsWith(`${governed}/`) || governed.startsWith(`${ref}/`);
  });
}
