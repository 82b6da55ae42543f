// The admin command opens a repository another user owns only where the system
// configuration trusts it, read as git reads it: its values whole, and its resets.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;

beforeEach(() => {
  ({ sb } = standardSandbox());
});
afterEach(() => sb.cleanup());

/** prodgate status as root on the repository (given to nobody), with this system configuration. */
function statusWith(system: string, env: Record<string, string> = {}) {
  const file = join(sb.root, "system.gitconfig");
  writeFileSync(file, system);
  expect(sb.run("chown", ["-R", "nobody", sb.bare]).status).toBe(0);
  return sb.prodgate(["status"], undefined, { GIT_CONFIG_NOSYSTEM: undefined, GIT_CONFIG_SYSTEM: file, ...env });
}

const refused = () => `prodgate: ${sb.bare} belongs to another user: run prodgate as the repository's owner`;

// Only root can give the repository to another user.
describe.runIf(process.getuid?.() === 0)("safe.directory from the system configuration", () => {
  it("an empty value resets the list, as git reads it: the directory before it is not trusted", () => {
    const r = statusWith(`[safe]\n\tdirectory = ${sb.bare}\n\tdirectory =\n`);
    expect(r.status, r.stdout).toBe(2);
    expect(r.stderr).toContain(refused());
  });

  it("a value holding a newline is one value, never two", () => {
    const r = statusWith(`[safe]\n\tdirectory = "/nowhere\\n${sb.bare}"\n`);
    expect(r.status, r.stdout).toBe(2);
    expect(r.stderr).toContain(refused());
  });

  it("a value with quotes, spaces and = is passed to git whole: it smuggles in no other value", () => {
    const r = statusWith(`[safe]\n\tdirectory = "/nowhere' 'safe.directory'='${sb.bare}"\n`);
    expect(r.status, r.stdout).toBe(2);
    expect(r.stderr).toContain(refused());
  });

  it("values after a reset are trusted", () => {
    const r = statusWith(`[safe]\n\tdirectory = /x\n\tdirectory =\n\tdirectory = "/a' 'b=c"\n\tdirectory = ${sb.bare}\n`);
    expect(r.status, r.stderr).toBe(0);
  });

  it("is honoured when git speaks German to whoever runs prodgate, and the refusal is still told", () => {
    const german = { LANGUAGE: "de", LC_ALL: "C.UTF-8" };
    const r = statusWith(`[safe]\n\tdirectory = ${sb.bare}\n`, german);
    expect(r.status, r.stderr).toBe(0);
    const refusedNow = statusWith("", german);
    expect(refusedNow.status).toBe(2);
    expect(refusedNow.stderr).toContain(refused());
  });

  it("is followed into a file the system configuration includes, as git follows it", () => {
    const included = join(sb.root, "included.gitconfig");
    writeFileSync(included, `[safe]\n\tdirectory = ${sb.bare}\n`);
    const r = statusWith(`[include]\n\tpath = ${included}\n`);
    expect(r.status, r.stderr).toBe(0);
  });
});
