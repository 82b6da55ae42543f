import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

let cached: string | null | undefined;

/**
 * Where better-sqlite3's native addon is, so it loads by path: its own finder
 * (the `bindings` package) probes a dozen places on every start. null (it is
 * elsewhere) leaves the finding to better-sqlite3.
 */
export function nativeBinding(): string | undefined {
  if (cached === undefined) {
    try {
      const path = join(dirname(require.resolve("better-sqlite3/package.json")), "build", "Release", "better_sqlite3.node");
      cached = existsSync(path) ? path : null;
    } catch {
      cached = null;
    }
  }
  return cached ?? undefined;
}
