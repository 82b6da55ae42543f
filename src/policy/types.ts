// The vocabulary of the decision core. Nothing here touches git, SQLite or
// the environment: facts come in, decisions go out.

export const VERDICTS = ["ok", "bad", "untestable", "needstesting"] as const;
export type Verdict = (typeof VERDICTS)[number];

export const ROLES = ["qa", "security", "ci", "ops", "admin"] as const;
export type Role = (typeof ROLES)[number];

export const CI_RESULTS = ["pass", "fail"] as const;
export type CiResult = (typeof CI_RESULTS)[number];

/** A commit as the core sees it. `revno` is set for mainline commits of stable. */
export interface CommitInfo {
  sha: string;
  parents: string[];
  subject: string;
  message: string;
  revno?: number;
}

/** A commit on stable's first-parent chain. */
export interface MainlineCommit extends CommitInfo {
  revno: number;
}

export interface VerdictRecord {
  sha: string;
  verdict: Verdict;
  user: string;
  at: string;
  note?: string | null;
}

export type BranchKind = "devel" | "stable" | "productionStable" | "productionDevel";

export interface BranchNames {
  devel: string;
  stable: string;
  productionStable: string;
  productionDevel: string;
}

export function isVerdict(value: string): value is Verdict {
  return (VERDICTS as readonly string[]).includes(value);
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function isCiResult(value: string): value is CiResult {
  return (CI_RESULTS as readonly string[]).includes(value);
}

/**
 * A short form of a revision id for people: seven hex digits of a git sha;
 * for other ids (Bazaar's "<email>-<time>-<random>") the random tail.
 */
export function shortSha(id: string): string {
  if (/^[0-9a-f]{7,}$/.test(id)) return id.slice(0, 7);
  // A Bazaar revision id is any text: never print its control, bidi or line-separator characters.
  // eslint-disable-next-line no-control-regex
  return id.slice(-8).replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g, "?");
}

export function isZeroSha(sha: string): boolean {
  return /^0+$/.test(sha);
}
