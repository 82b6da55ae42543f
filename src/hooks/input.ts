import { readFileSync } from "node:fs";
import type { RefUpdate } from "../engine/facts";

export interface HookInput {
  updates: RefUpdate[];
  /** Lines that are not "<old> <new> <ref>". */
  malformed: string[];
  /** Same for pre-receive and post-receive of one push, so their audit rows join up. */
  pushId: string;
}

// git never sends control characters in a ref name (check-ref-format forbids them).
// eslint-disable-next-line no-control-regex
const LINE = /^([0-9a-f]{40}|[0-9a-f]{64}) ([0-9a-f]{40}|[0-9a-f]{64}) (refs\/[^\s\u0000-\u001f\u007f]+)$/;

/**
 * `receive` is the receive-pack process both hooks of one push run under
 * ("<pid>-<start time>", PRODGATE_RECEIVE from the shims): two pushes with the
 * same lines, even at the same moment, get different ids, and both hooks of
 * one push get the same id even when git hands post-receive only the refs
 * that landed. Without it (a shim that cannot tell), the lines decide.
 */
export function parseHookInput(text: string, receive?: string): HookInput {
  const updates: RefUpdate[] = [];
  const malformed: string[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const m = LINE.exec(line);
    if (m && m[1]!.length === m[2]!.length) updates.push({ old: m[1]!, new: m[2]!, ref: m[3]! });
    else malformed.push(line);
  }
  return { updates, malformed, pushId: receive && RECEIVE.test(receive) ? pushIdOfReceive(receive) : pushIdOf(text) };
}

const RECEIVE = /^[0-9]+-[0-9]+$/;

/** The push id of the push run by receive-pack `receive` ("<pid>-<start time>"). */
export function pushIdOfReceive(receive: string): string {
  return pushIdOf(`receive-pack ${receive}\n`);
}

/**
 * A short id for the push, the same in both hooks. Only a label that joins
 * audit rows, so a fast non-cryptographic hash: loading node:crypto costs a
 * hook about 10 ms. Two FNV-1a passes with different offsets, 48 bits.
 */
export function pushIdOf(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return ((a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0")).slice(0, 12);
}

/** The push options git hands the hooks (GIT_PUSH_OPTION_<n>). */
export function pushOptions(env: NodeJS.ProcessEnv): string[] {
  const count = Number(env.GIT_PUSH_OPTION_COUNT ?? "0");
  const options: string[] = [];
  for (let i = 0; i < count && i < 1000; i++) options.push(env[`GIT_PUSH_OPTION_${i}`] ?? "");
  return options;
}

/** The break-glass reason from `-o prodgate.override=<reason>`: null when absent, "" when empty. */
export function overrideReason(options: readonly string[]): string | null {
  let reason: string | null = null;
  for (const opt of options) {
    if (opt === "prodgate.override") reason = "";
    else if (opt.startsWith("prodgate.override=")) reason = opt.slice("prodgate.override=".length);
  }
  return reason;
}

/**
 * Push options that look meant for prodgate but are not `prodgate.override`
 * (a misspelling such as `prodgate.overide=…`, or `override=…` without the
 * prefix), each with the spelling it most likely meant.
 */
export function misspeltOptions(options: readonly string[]): { option: string; meant: string }[] {
  const found: { option: string; meant: string }[] = [];
  for (const opt of options) {
    const key = opt.split("=", 1)[0]!.toLowerCase();
    if (key === "prodgate.override" && opt.startsWith("prodgate.override")) continue;
    if (key.startsWith("prodgate") || editDistance(key, "prodgate.override") <= 3 || editDistance(key, "override") <= 2) {
      const value = opt.includes("=") ? opt.slice(opt.indexOf("=") + 1) : "<why>";
      found.push({ option: opt.slice(0, 200), meant: `prodgate.override=${value.slice(0, 200)}` });
    }
  }
  return found;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

export function readStdin(): string {
  try {
    return readFileSync(0, "utf8");
  } catch {
    return "";
  }
}
