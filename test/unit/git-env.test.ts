// One hardened git environment, defined once for the engine (src/git/env.ts)
// and once for the hook shims (hooks/common.sh): the two must agree.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DROPPED_GIT_ENV, gitEnv, HARDENED_GIT_ENV } from "../../src/git/env";

const common = readFileSync(join(__dirname, "..", "..", "hooks", "common.sh"), "utf8");

/** The words of the one top-level line of common.sh that starts with `command `. */
function line(command: string): string[] {
  const lines = common.split("\n").filter((l) => l.startsWith(`${command} `));
  expect(lines, `one top-level "${command}" line in hooks/common.sh`).toHaveLength(1);
  return lines[0]!.split(/\s+/).slice(1);
}

describe("the shims' git environment", () => {
  it("exports exactly the engine's hardened variables, with the same values", () => {
    const exported = Object.fromEntries(
      line("export").map((w) => {
        const m = /^([A-Z_]+)=(\S+)$/.exec(w);
        expect(m, `"${w}" is NAME=value`).not.toBeNull();
        return [m![1]!, m![2]!];
      }),
    );
    expect(exported).toEqual(HARDENED_GIT_ENV);
  });

  it("unsets exactly the variables the engine drops", () => {
    expect(line("unset").sort()).toEqual([...DROPPED_GIT_ENV].sort());
  });

  it("saves, for a chained hook, every variable it sets or drops", () => {
    const saved = /^for v in (.*); do$/m.exec(common)![1]!.split(" ");
    expect(saved.sort()).toEqual([...Object.keys(HARDENED_GIT_ENV), ...DROPPED_GIT_ENV].sort());
  });
});

describe("gitEnv", () => {
  const base = {
    PATH: "/usr/bin",
    GIT_DIR: ".",
    GIT_QUARANTINE_PATH: "/r/objects/incoming-x",
    GIT_OBJECT_DIRECTORY: "/r/objects/incoming-x",
    GIT_ALTERNATE_OBJECT_DIRECTORIES: "/r/objects",
    GIT_NO_REPLACE_OBJECTS: "0",
    GIT_GRAFT_FILE: "/tmp/grafts",
    GIT_CONFIG_GLOBAL: "/tmp/evil",
    GIT_CONFIG_NOSYSTEM: "0",
    GIT_CONFIG_PARAMETERS: "'core.x'='y'",
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: "prodgate.roles.qa",
    GIT_CONFIG_VALUE_0: "mallory",
    GIT_CONFIG: "/tmp/evil",
  };

  it("keeps GIT_DIR and the quarantine, hardens the rest, and drops injected configuration", () => {
    const env = gitEnv({}, base);
    expect(env).toEqual({
      PATH: "/usr/bin",
      GIT_DIR: ".",
      GIT_QUARANTINE_PATH: "/r/objects/incoming-x",
      GIT_OBJECT_DIRECTORY: "/r/objects/incoming-x",
      GIT_ALTERNATE_OBJECT_DIRECTORIES: "/r/objects",
      ...HARDENED_GIT_ENV,
    });
  });

  it("puts a caller's extra variables (the robot's identity) on top, but never over the hardened ones", () => {
    const env = gitEnv({ GIT_AUTHOR_NAME: "prodgate", GIT_NO_REPLACE_OBJECTS: "0", GIT_CONFIG_COUNT: "1" }, base);
    expect(env.GIT_AUTHOR_NAME).toBe("prodgate");
    expect(env.GIT_NO_REPLACE_OBJECTS).toBe("1");
    expect(env.GIT_CONFIG_COUNT).toBeUndefined();
  });
});
