import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { RefUpdate } from "../engine/facts";

/** git follows at most this many symbolic refs in a chain (refs/files-backend.c). */
const MAX_SYMREF_DEPTH = 5;

/**
 * The ref a push to `ref` really updates. A server-side symbolic ref
 * (`git symbolic-ref refs/heads/prod refs/heads/production-stable`) makes
 * receive-pack hand the hooks the alias's name while it moves the target, so
 * an update is judged as the ref it ends at. Symbolic refs are always loose
 * files ("ref: <target>") under the git directory: packed-refs cannot hold
 * them, so reading the files is what git does to resolve them. Returns `ref`
 * itself when it is not a symbolic ref.
 */
export function symrefTarget(gitDir: string, ref: string): string {
  let current = ref;
  for (let depth = 0; depth <= MAX_SYMREF_DEPTH; depth++) {
    let text: string;
    try {
      text = readFileSync(join(gitDir, current), "utf8");
    } catch {
      return current;
    }
    if (!text.startsWith("ref:")) return current;
    const target = text.slice(4).trim();
    if (!target.startsWith("refs/") || target.includes("..")) return current;
    current = target;
  }
  return current;
}

/** A ref update as judged: `ref` is the ref that moves, `alias` the name pushed when that was a symbolic ref. */
export type JudgedUpdate = RefUpdate & { alias?: string };

/** The push's updates with each symbolic ref replaced by the ref it updates. */
export function resolveAliases(gitDir: string, updates: readonly RefUpdate[]): JudgedUpdate[] {
  return updates.map((u) => {
    const target = symrefTarget(gitDir, u.ref);
    return target === u.ref ? u : { ...u, ref: target, alias: u.ref };
  });
}
