// `prodgate serve` as a child process, for tests that talk to it over HTTP.
import { type ChildProcess, spawn } from "node:child_process";
import { MAIN, type Sandbox } from "./repo";

export interface Served {
  url: string;
  child: ChildProcess;
  stop: () => Promise<void>;
}

export function startServe(sb: Sandbox, args: string[] = []): Promise<Served> {
  const child = spawn(process.execPath, [MAIN, "--repo", sb.bare, "serve", "--port", "0", ...args], {
    env: sb.env(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  return new Promise((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/\S+\/) /.exec(out);
      if (m) resolve({ url: m[1]!, child, stop });
    });
    child.once("exit", (code) => reject(new Error(`prodgate serve exited (${code}): ${out}${err}`)));
  });
}
