import { createHash } from "node:crypto";
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

export function parseHookInput(text: string): HookInput {
  const updates: RefUpdate[] = [];
  const malformed: string[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const m = LINE.exec(line);
    if (m && m[1]!.length === m[2]!.length) updates.push({ old: m[1]!, new: m[2]!, ref: m[3]! });
    else malformed.push(line);
  }
  const pushId = createHash("sha256").update(text).digest("hex").slice(0, 12);
  return { updates, malformed, pushId };
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

export function readStdin(): string {
  try {
    return readFileSync(0, "utf8");
  } catch {
    return "";
  }
}
