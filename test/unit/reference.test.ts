// docs/reference.md must name every command, option, code and configuration key the code defines.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/program";
import { CONFIG_KEYS } from "../../src/config";
import { EVENT_TYPES } from "../../src/events/types";
import { ACCEPT_CODES, REJECTION_CODES } from "../../src/policy/codes";

const reference = readFileSync(join(__dirname, "..", "..", "docs", "reference.md"), "utf8");
const readme = readFileSync(join(__dirname, "..", "..", "README.md"), "utf8");
const program = buildProgram(() => {});
const commands = program.commands.filter((c) => !(c as unknown as { _hidden: boolean })._hidden);

/** The part of the reference about one command: from its heading to the next. */
function section(name: string): string {
  const start = reference.indexOf(`### \`prodgate ${name}\``);
  if (start < 0) return "";
  const next = reference.indexOf("\n#", start + 1);
  return reference.slice(start, next < 0 ? undefined : next);
}

describe("docs/reference.md", () => {
  it("is linked from the README", () => expect(readme).toContain("(docs/reference.md)"));
  it.each(commands.map((c) => c.name()))("has a section for prodgate %s", (name) => expect(section(name)).not.toBe(""));
  it.each(commands.flatMap((c) => c.options.map((o) => [c.name(), o.long!] as const)))("prodgate %s documents %s", (name, flag) =>
    expect(section(name)).toContain(`\`${flag}`),
  );
  it.each(program.options.map((o) => o.long!))("documents the global option %s", (flag) => expect(reference).toContain(`| \`${flag}`));
  it.each(Object.keys(REJECTION_CODES))("lists rejection code %s", (code) => expect(reference).toContain(`| \`${code}\` |`));
  it.each(Object.keys(ACCEPT_CODES))("lists accept code %s", (code) => expect(reference).toContain(`| \`${code}\` |`));
  it.each(Object.keys(CONFIG_KEYS))("lists configuration key %s", (key) => expect(reference).toContain(`| \`${key}\` |`));
  it.each(EVENT_TYPES)("lists event type %s with its data", (type) =>
    expect(reference).toMatch(new RegExp(`\\| \`${type}\` \\| [^|]+ \\| \`\\{`)),
  );
  it("names no event type the code does not have", () => {
    const start = reference.indexOf("## Events");
    const table = reference.slice(start, reference.indexOf("\n## ", start + 1));
    const named = [...table.matchAll(/^\| `([a-z.-]+)` \|/gm)].map((m) => m[1]);
    expect(named).toEqual([...EVENT_TYPES]);
  });
  it("names no command the program does not have", () => {
    const named = [...reference.matchAll(/^### `prodgate (\S+)`/gm)].map((m) => m[1]);
    expect(named.sort()).toEqual(commands.map((c) => c.name()).sort());
  });
});
