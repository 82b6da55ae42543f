// The README's reference tables must name every code and configuration key the code knows.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_KEYS } from "../../src/config";
import { ACCEPT_CODES, REJECTION_CODES } from "../../src/policy/codes";

const readme = readFileSync(join(__dirname, "..", "..", "README.md"), "utf8");

describe("README", () => {
  it.each(Object.keys(REJECTION_CODES))("lists rejection code %s", (code) => expect(readme).toContain(`| \`${code}\` |`));
  it.each(Object.keys(ACCEPT_CODES))("names accept code %s", (code) => expect(readme).toContain(`\`${code}\``));
  it.each(Object.keys(CONFIG_KEYS))("lists configuration key %s", (key) => expect(readme).toContain(`\`${key}\``));
});
