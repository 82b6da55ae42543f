// SECURITY.md names the tests that prove each defence: every one it names must exist.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..", "..");
const text = readFileSync(join(ROOT, "SECURITY.md"), "utf8");

/** Each "- `test/...` › "name", "name"" bullet, its lines joined. */
function citations(): { file: string; names: string[] }[] {
  const bullets: string[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("- ")) bullets.push(line.slice(2));
    else if (line.startsWith("  ") && bullets.length > 0 && line.trim() !== "") bullets[bullets.length - 1] += ` ${line.trim()}`;
    else if (!line.startsWith("  ")) bullets.push("");
  }
  const out: { file: string; names: string[] }[] = [];
  for (const b of bullets) {
    const m = /^`(test\/[^`]+)` › (.*)$/.exec(b);
    if (!m) continue;
    const names = [...m[2]!.matchAll(/"([^"]+)"/g)].map((x) => x[1]!);
    out.push({ file: m[1]!, names });
  }
  return out;
}

const squash = (s: string) => s.replace(/\s+/g, " ");

/**
 * A cited name is in the source as written, as a describe block's name
 * followed by a test's, or as a string the test's name is made from
 * ("qa bad" + " does not return…").
 */
function found(source: string, name: string): boolean {
  if (source.includes(`"${name}"`) || source.includes(name)) return true;
  for (let i = name.indexOf(" "); i > 0; i = name.indexOf(" ", i + 1)) {
    const [head, tail] = [name.slice(0, i), name.slice(i + 1)];
    if (source.includes(`"${head}"`) && (source.includes(`"${tail}"`) || source.includes(` ${tail}`))) return true;
  }
  return false;
}

describe("SECURITY.md", () => {
  const cited = citations();

  it("cites tests", () => {
    expect(cited.length).toBeGreaterThan(20);
  });

  it.each(cited.map((c) => [c.file, c] as const))("every test it names in %s exists there", (_file, c) => {
    const path = join(ROOT, c.file);
    expect(existsSync(path), c.file).toBe(true);
    const source = squash(readFileSync(path, "utf8"));
    const missing = c.names.filter((n) => !found(source, squash(n)));
    expect(missing).toEqual([]);
  });
});
