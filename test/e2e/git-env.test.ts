// Every git process prodgate starts, from the installed hook shims and from
// Node alike, runs in the hardened environment of src/git/env.ts. A `git`
// wrapper that git itself finds first (inside a hook, git puts its exec path
// at the front of PATH, so the wrapper stands in an exec path of its own)
// records the environment of every git process started under a hook or the
// prodgate command, then runs the real git.
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DROPPED_GIT_ENV, HARDENED_GIT_ENV } from "../../src/git/env";
import { type Clone, MAIN, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;
let execPath: string;
let log: string;

// GIT_CONFIG_KEY_<n>/VALUE_<n> mean nothing without GIT_CONFIG_COUNT: the shims leave them, the engine drops them.
const WATCHED = [...Object.keys(HARDENED_GIT_ENV), ...DROPPED_GIT_ENV];

beforeEach(() => {
  ({ sb, work } = standardSandbox());
  const real = sb.git(["--exec-path"]);
  execPath = join(sb.root, "exec-path");
  log = join(sb.root, "git-calls.log");
  mkdirSync(execPath);
  for (const name of readdirSync(real)) if (name !== "git") symlinkSync(join(real, name), join(execPath, name));
  // One line per git process under a hook or the prodgate command:
  // <argv>\t<NAME>=<value, or "unset">... ("under" = an ancestor runs a hook or prodgate).
  const record = WATCHED.map((v) => `"${v}=\${${v}-unset}"`).join(" ");
  writeFileSync(
    join(execPath, "git"),
    `#!/bin/sh
p=$PPID under=
while [ -n "$p" ] && [ "$p" -gt 1 ]; do
  case $(tr '\\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) in
  *hooks/pre-receive* | *hooks/post-receive* | *dist/hook.cjs* | *dist/prodgate.cjs*) under=yes; break ;;
  esac
  p=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f2)
done
if [ -n "$under" ]; then
  { printf '%s' "$*"; printf '\\t%s' ${record}; echo; } >>'${log}'
fi
exec '${join(real, "git")}' "$@"
`,
    { mode: 0o755 },
  );
});
afterEach(() => sb.cleanup());

/**
 * What a client might send along to the server's hooks: every variable the
 * hardening overrides or drops. (A local push strips some of them itself on
 * the way to the server; the prodgate command gets them all.)
 */
const HOSTILE = {
  GIT_CONFIG: "/tmp/prodgate-test-gitconfig",
  GIT_NO_REPLACE_OBJECTS: "0",
  GIT_GRAFT_FILE: "/tmp/prodgate-test-grafts",
  GIT_CONFIG_NOSYSTEM: "0",
  GIT_CONFIG_GLOBAL: "/tmp/prodgate-test-gitconfig",
  GIT_CONFIG_PARAMETERS: "'core.prodgatetest'='1'",
  GIT_CONFIG_COUNT: "1",
  GIT_CONFIG_KEY_0: "core.prodgatetest",
  GIT_CONFIG_VALUE_0: "1",
};

/** The git calls recorded since the last call, each as its argv and watched variables. */
function calls(): { argv: string; env: Record<string, string> }[] {
  let text = "";
  try {
    text = readFileSync(log, "utf8");
    rmSync(log);
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [argv, ...vars] = line.split("\t");
      return { argv: argv!, env: Object.fromEntries(vars.map((v) => [v.slice(0, v.indexOf("=")), v.slice(v.indexOf("=") + 1)])) };
    });
}

/** The environment every recorded call must have had. */
const HARDENED = {
  ...HARDENED_GIT_ENV,
  ...Object.fromEntries(DROPPED_GIT_ENV.map((v) => [v, "unset"])),
};

function step(name: string, run: () => { status: number; output?: string; stderr?: string }, status: "ok" | "refused" = "ok") {
  const r = run();
  const output = r.output ?? r.stderr ?? "";
  if (status === "ok") expect(r.status, `${name}: ${output}`).toBe(0);
  else expect(r.status, `${name}: ${output}`).not.toBe(0);
  const made = calls();
  expect(made.length, `${name} ran git under prodgate`).toBeGreaterThan(0);
  for (const c of made) expect({ call: `${name}: git ${c.argv}`, env: c.env }).toEqual({ call: `${name}: git ${c.argv}`, env: HARDENED });
  return made.map((c) => c.argv);
}

describe("the git environment of every git process prodgate starts", () => {
  it("is hardened for every kind of push and for sync, whatever the client sends", () => {
    const pushEnv = { ...HOSTILE, GIT_EXEC_PATH: execPath };
    const push = (args: string[], user: string) => () => work.push(args, user, pushEnv);
    // Forget the shims' and the engine's copies of the configuration: the shim asks git config again.
    for (const cache of ["hook-config.v3", "config.cache.v2"]) rmSync(join(sb.bare, "prodgate", cache), { force: true });
    expect(sb.prodgate(["qa", "ok", "r1"], "quinn").status).toBe(0);
    calls();
    const seen: string[] = [];

    const r2 = work.commit("r2");
    seen.push(...step("devel", push(["origin", "HEAD:devel"], "dev")));
    seen.push(...step("stable", push(["origin", "HEAD:stable"], "dev")));
    work.git(["tag", "qa/ok/r2", r2]);
    seen.push(...step("verdict tag", push(["origin", "qa/ok/r2"], "quinn")));
    expect(sb.tip("production-stable")).toBe(r2);

    work.git(["checkout", "--quiet", "-b", "secfix", r2]);
    const fix = work.commit("Fix auth bypass", { "auth.c": "check the password\n" });
    seen.push(...step("production-devel", push(["origin", "HEAD:production-devel"], "sam")));
    work.git(["tag", "ci/pass/fix", fix]);
    seen.push(...step("ci tag", push(["origin", "ci/pass/fix"], "cid")));
    seen.push(...step("production-stable promotion", push(["origin", "HEAD:production-stable"], "sam")));
    expect(sb.tip("production-stable")).toBe(fix);

    // A fix is pending now: the devel and stable pushes ask for patch-ids too.
    work.git(["checkout", "--quiet", "devel"]);
    const r3 = work.commit("r3");
    seen.push(...step("devel with a fix pending", push(["origin", "HEAD:devel"], "dev")));
    seen.push(...step("stable with a fix pending", push(["origin", "HEAD:stable"], "dev")));
    seen.push(...step("production-stable refused", push(["--force", "origin", `${r3}:refs/heads/production-stable`], "dev"), "refused"));
    expect(sb.tip("production-stable")).toBe(fix);

    seen.push(
      ...step("sync", () =>
        sb.run(process.execPath, [MAIN, "--repo", sb.bare, "sync"], { env: { ...HOSTILE, PATH: `${execPath}:${process.env.PATH}` } }),
      ),
    );

    // The shims' own questions were among them.
    expect(seen.some((a) => a.startsWith("config --local"))).toBe(true);
    expect(seen.some((a) => a.startsWith("patch-id --stable"))).toBe(true);
    expect(seen.some((a) => a.startsWith("log -z --left-right"))).toBe(true);
    expect(seen.some((a) => a.startsWith("merge-tree") || a.startsWith("for-each-ref"))).toBe(true);
  });

  it("is not forced on a chained earlier hook, which gets the environment it was started with", () => {
    const seen = join(sb.root, "chained.env");
    const vars = WATCHED.map((v) => `"${v}=\${${v}-unset}"`).join(" ");
    writeFileSync(
      join(sb.bare, "hooks", "pre-receive.prodgate-chained"),
      `#!/bin/sh\nprintf '%s\\n' ${vars} >'${seen}'\ncat >/dev/null\n`,
      {
        mode: 0o755,
      },
    );
    work.commit("r2");
    const r = work.push(["origin", "HEAD:devel"], "dev", HOSTILE);
    expect(r.status, r.output).toBe(0);
    const got = Object.fromEntries(
      readFileSync(seen, "utf8")
        .trim()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    // What a local push lets through to the server's hooks comes back as it was sent; the rest stays unset.
    const through = ["GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM"] as const;
    expect(got).toEqual({
      ...Object.fromEntries(WATCHED.map((v) => [v, "unset"])),
      ...Object.fromEntries(through.map((v) => [v, HOSTILE[v]])),
    });
  });

  // Only root can give the repository to another user.
  it.runIf(process.getuid?.() === 0)(
    "ignores safe.directory in the global config and the repository's own, and says exactly what to do",
    () => {
      writeFileSync(join(sb.home, ".gitconfig"), `[safe]\n\tdirectory = ${sb.bare}\n\tdirectory = *\n`);
      sb.git(["config", "--add", "safe.directory", "*"], { cwd: sb.bare });
      expect(sb.run("chown", ["-R", "nobody", sb.bare]).status).toBe(0);
      const r = sb.prodgate(["status"], undefined, { GIT_CONFIG_NOSYSTEM: undefined, GIT_CONFIG_SYSTEM: "/dev/null" });
      expect(r.status).toBe(2);
      expect(r.stderr.trim()).toBe(
        `prodgate: ${sb.bare} belongs to another user: run prodgate as the repository's owner, or, to let every user of this machine run it there, as root: git config --system --add safe.directory ${sb.bare}`,
      );
    },
  );

  it.runIf(process.getuid?.() === 0)(
    "an admin who is not the repository's owner runs prodgate where the system configuration trusts it, still hardened",
    () => {
      work.commit("r2 judged on the real history");
      work.land();
      const real = work.sha("HEAD");
      // A replace ref anyone could push must still mean nothing to the admin command.
      work.git(["checkout", "--quiet", "-b", "impostor"]);
      const impostor = work.commit("impostor");
      expect(work.push(["origin", "impostor"], "dev").status).toBe(0);
      sb.git(["update-ref", `refs/replace/${real}`, impostor], { cwd: sb.bare });
      const system = join(sb.root, "system.gitconfig");
      writeFileSync(system, `[safe]\n\tdirectory = ${sb.bare}\n`);
      expect(sb.run("chown", ["-R", "nobody", sb.bare]).status).toBe(0);
      const env = { GIT_CONFIG_NOSYSTEM: undefined, GIT_CONFIG_SYSTEM: system };
      const r = sb.prodgate(["status", "--json"], undefined, env);
      expect(r.status, r.stderr).toBe(0);
      const st = JSON.parse(r.stdout) as { pending: { sha: string; subject: string }[] };
      expect(st.pending.find((p) => p.sha === real)?.subject).toBe("r2 judged on the real history");
      // Not the owner: no admin role of its own.
      expect(sb.prodgate(["role", "add", "qa", "someone"], undefined, env).status).toBe(2);
      expect(sb.prodgate(["qa", "ok", "r2"], "quinn", env).status).toBe(0);
    },
  );
});
