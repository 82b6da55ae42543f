// A real bare repository with prodgate installed as a user installs it, a
// clone that makes the commits, and the actors who push as GL_USER.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { MAIN, Sandbox } from "../helpers/repo";
import { type Action, PRELUDE, render } from "./actions";
import { Rng } from "./rng";

/** No action runs longer than this. */
export const HANG_MS = 45_000;

export type Role = "qa" | "ci" | "security" | "admin";

export interface Actor {
  name: string;
  roles: Role[];
}

/** Who holds which role follows from the seed alone: one of each role, two with none, one mixed. */
export function castActors(seed: number): Actor[] {
  const rng = new Rng(seed ^ 0x5eed);
  const mixes: Role[][] = [["qa", "ci"], ["security", "ci"], ["admin", "qa"], ["qa"], ["security", "admin"], []];
  const roles: Role[][] = [["qa"], ["ci"], ["security"], ["admin"], [], [], rng.pick(mixes)];
  const names = ["ann", "bob", "cid", "dee", "eve", "fay", "gus"];
  return names.map((name) => ({ name, roles: roles.splice(rng.int(0, roles.length - 1), 1)[0]! }));
}

/** Whose markers count (prodgate.markers.trust), from the seed alone: mostly the landing robot's, sometimes everyone's. */
export type MarkersTrust = "ci" | "anyone";
export function markersTrust(seed: number): MarkersTrust {
  return new Rng(seed ^ 0x7a57).chance(0.25) ? "anyone" : "ci";
}

export interface Outcome {
  status: number;
  ms: number;
  output: string;
  killed: boolean;
}

export class World {
  readonly sb = new Sandbox();
  readonly clone: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(
    readonly actors: Actor[],
    readonly trust: MarkersTrust = "ci",
  ) {
    const r = this.sb.install();
    if (r.status !== 0) throw new Error(`install.sh failed: ${r.stdout}${r.stderr}`);
    this.sb.git(["config", "prodgate.markers.trust", trust], { cwd: this.sb.bare });
    for (const a of actors) for (const role of a.roles) this.sb.grant(role, a.name);
    this.clone = this.sb.clone("client").dir;
    this.env = this.sb.env({ SERVER: this.sb.bare, PRODGATE: MAIN });
    const ci = actors.find((a) => a.roles.includes("ci"))!.name;
    for (const line of setupScript(ci)) this.runSync(line);
  }

  /** Run one action to completion. */
  perform(a: Action): Outcome {
    return this.runSync(render(a));
  }

  private runSync(line: string): Outcome {
    const start = Date.now();
    const r = spawnSync("timeout", this.limited(line), { cwd: this.clone, env: this.env, encoding: "utf8" });
    return { status: r.status ?? -1, ms: Date.now() - start, output: (r.stdout ?? "") + (r.stderr ?? ""), killed: false };
  }

  /**
   * An action that hangs is SIGKILLed with everything it started (GNU timeout
   * signals its whole process group) after HANG_MS; the check then reports
   * it as too slow.
   */
  private limited(line: string): string[] {
    return ["-s", "KILL", `${HANG_MS / 1000}`, "bash", "-c", `${PRELUDE}\n${line}`];
  }

  /** Start an action in its own process group; `killAfter` ms later the whole group gets SIGKILL. */
  start(a: Action, killAfter: number | null): Promise<Outcome> {
    const start = Date.now();
    const child = spawn("timeout", this.limited(render(a)), { cwd: this.clone, env: this.env, detached: true });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    let killed = false;
    const timer =
      killAfter === null
        ? null
        : setTimeout(() => {
            killed = true;
            try {
              process.kill(-child.pid!, "SIGKILL");
            } catch {
              // Already gone.
            }
          }, killAfter);
    return new Promise((resolve) =>
      child.on("close", (status) => {
        if (timer) clearTimeout(timer);
        resolve({ status: status ?? -1, ms: Date.now() - start, output, killed });
      }),
    );
  }

  /**
   * Remove ref lock files a SIGKILLed git left behind (git never does), as an
   * operator would; returns how many there were.
   */
  clearStaleLocks(): number {
    const refs = join(this.sb.bare, "refs");
    const locks = [
      ...readdirSync(refs, { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".lock"))
        .map((f) => join(refs, f)),
      ...["packed-refs.lock", "HEAD.lock"].map((f) => join(this.sb.bare, f)).filter((f) => existsSync(f)),
    ];
    for (const f of locks) rmSync(f, { force: true });
    return locks.length;
  }

  /** git on the server with replace objects off: the oracle's view of history. */
  git(args: string[]): string {
    return this.sb.git(args, { cwd: this.sb.bare, env: { GIT_NO_REPLACE_OBJECTS: "1" } });
  }

  gitStatus(args: string[]): number {
    return spawnSync("git", args, { cwd: this.sb.bare, env: this.sb.env({ GIT_NO_REPLACE_OBJECTS: "1" }) }).status ?? -1;
  }

  /** Labels made so far in the clone: name → sha. */
  labels(): Map<string, string> {
    const out = this.sb.git(["for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/fuzz"], { cwd: this.clone });
    return new Map(out ? out.split("\n").map((l) => l.split(" ") as [string, string]) : []);
  }

  cleanup(): void {
    this.sb.cleanup();
  }
}

/** The history every run starts from: c0 on devel and stable, landed by the CI robot. */
export function setupScript(ci: string): string[] {
  return [
    `git checkout -q --orphan devel && echo c0 > c0.txt && git add c0.txt && GIT_AUTHOR_DATE=$(t c0) GIT_COMMITTER_DATE=$(t c0) git commit -q -m "c0: initial" && git update-ref refs/fuzz/c0 HEAD`,
    `push ${ci} fuzz/c0:refs/heads/devel && push ${ci} fuzz/c0:refs/heads/stable`,
  ];
}

/** A shell script that rebuilds a run from nothing: paste it in the project's folder. */
export function reproScript(actors: Actor[], actions: Action[], trust: MarkersTrust = "ci"): string {
  const ci = actors.find((a) => a.roles.includes("ci"))!.name;
  const grants = actors.flatMap((a) => a.roles.map((r) => `git -C "$SERVER" config --add prodgate.roles.${r} ${a.name}`));
  return [
    "set -u; R=$(mktemp -d); export SERVER=$R/server.git PRODGATE=$PWD/dist/prodgate.cjs HOME=$R GIT_CONFIG_NOSYSTEM=1",
    "export GIT_AUTHOR_NAME='Test Author' GIT_AUTHOR_EMAIL=author@example.com GIT_COMMITTER_NAME='Test Author' GIT_COMMITTER_EMAIL=author@example.com",
    `./install.sh "$SERVER" >/dev/null && git -C "$SERVER" config prodgate.markers.trust ${trust}`,
    ...grants,
    'git clone -q "$SERVER" "$R/client" && cd "$R/client"',
    PRELUDE,
    ...setupScript(ci),
    ...actions.map(render),
  ].join("\n");
}
