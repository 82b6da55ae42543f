// Runs bzr/prodgate_bzr/helper.py: the admin command's one way into Breezy.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { UserError } from "../errors";
import { type BreezySource, type FactsAnswer, type FactsRequest, parseFactsAnswer } from "./index";

/** The project folder: the one holding bzr/prodgate_bzr (dist/ when bundled, src/bzr/ from source). */
export function projectDir(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "bzr", "prodgate_bzr", "facts.py"))) return dir;
    if (dirname(dir) === dir) throw new UserError(`prodgate's Breezy plugin (bzr/prodgate_bzr) is missing near ${__dirname}`, 1);
  }
}

export function pluginPath(): string {
  return join(projectDir(), "bzr");
}

/** The Python that has Breezy: $PRODGATE_PYTHON, else Debian's (where python3-breezy lives), else python3. */
export function pythonCommand(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PRODGATE_PYTHON) return env.PRODGATE_PYTHON;
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

export interface HelperResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function runHelper(args: readonly string[], input?: string): HelperResult {
  const script = join(pluginPath(), "prodgate_bzr", "helper.py");
  const r = spawnSync(pythonCommand(), [script, ...args], { encoding: "utf8", maxBuffer: 1024 * 1024 * 1024, input });
  if (r.error) throw new UserError(`cannot run ${pythonCommand()} for Breezy: ${r.error.message} (install brz, or set PRODGATE_PYTHON)`, 1);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function failure(r: HelperResult): string {
  const lines = r.stderr.trim().split("\n");
  if (/No module named .?breezy/.test(r.stderr))
    return "Breezy is not installed for this Python (apt-get install brz, or set PRODGATE_PYTHON)";
  return lines[lines.length - 1] || `exit ${r.status}`;
}

/** Ask Breezy, through the helper (one Python process per question), what the index needs. */
export function askHelper(root: string, request: FactsRequest): FactsAnswer {
  const r = runHelper(["facts", root], JSON.stringify(request));
  if (r.status !== 0) throw new UserError(`cannot read the Bazaar repository ${root}: ${failure(r)}`, 1);
  return parseFactsAnswer(JSON.parse(r.stdout));
}

export function helperSource(root: string): BreezySource {
  return { ask: (request) => askHelper(root, request) };
}

/** Compare-and-swap a branch tip through Breezy; false when the branch moved meanwhile. A lock is waited on with a bound. */
export function setTip(root: string, branch: string, revno: number, target: string, old: string | null): boolean {
  const r = runHelper(["set-tip", root, branch, target, old ?? "-", String(revno)]);
  if (r.status === 3) return false;
  if (r.status === 4) throw new UserError(`cannot move ${branch}: ${failure(r)}`, 1);
  if (r.status !== 0) throw new UserError(`cannot move ${branch} in ${root}: ${failure(r)}`, 1);
  return true;
}
