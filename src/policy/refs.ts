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
  /** A qa/ label that looks like a ticket tag but is not exactly one (qa/ok/Ticket-7, qa/ok/ticket7): refused, never a revision verdict. */
  looksLikeTicket?: boolean;
  /** A qa/ label with a character outside printable ASCII (qa/ok/TİCKET-7, a Cyrillic і, a zero-width space): refused, never a revision verdict. */
  outsideAscii?: boolean;
}

/** A label starting with "ticket" or "tickets" in any case, then anything but a letter: meant as a ticket tag. */
const TICKET_LIKE = /^tickets?(?![A-Za-z])/i;
/** Outside printable ASCII: where a label could pass for "ticket" to a reader and not to TICKET_LIKE. */
const NOT_ASCII = /[^\x21-\x7e]/;

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
  if (namespace === "qa" && NOT_ASCII.test(label)) return { namespace, value, label, valid: false, outsideAscii: true };
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
