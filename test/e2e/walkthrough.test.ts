// The README's five-minute walkthrough, run as pasted: every output it prints must be what a real run prints.
import { mkdirSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MAIN, PROJECT, Sandbox } from "../helpers/repo";

interface Step {
  command: string;
  expected: string[];
}

/** The first sh block after a heading: each command line with the output lines (`#   …`) printed under it. */
export function walkthrough(readme: string, heading: string): Step[] {
  const from = readme.indexOf(heading);
  const start = readme.indexOf("```sh\n", from) + "```sh\n".length;
  const block = readme.slice(start, readme.indexOf("\n```", start));
  const steps: Step[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("#   ")) {
      steps.at(-1)!.expected.push(
        line
          .slice(4)
          .replace(/\s+←.*$/, "")
          .trimEnd(),
      );
    } else if (line.trim() && !line.startsWith("#")) steps.push({ command: line, expected: [] });
  }
  return steps;
}

/** Short shas become #######; git's "remote: " prefix and trailing blanks go. */
const normalise = (line: string): string =>
  line
    .replace(/^remote: /, "")
    .replace(/\b[0-9a-f]{7}\b/g, "#######")
    .trimEnd();

let sb: Sandbox;
afterEach(() => sb?.cleanup());

describe("README walkthroughs", () => {
  it("the workflow in five minutes, then the security fix, print what the README says", () => {
    sb = new Sandbox();
    const readme = readFileSync(join(PROJECT, "README.md"), "utf8");
    const steps = [
      ...walkthrough(readme, "## The workflow in five minutes"),
      ...walkthrough(readme, "### Security fixes, as the security team runs them"),
    ];
    expect(steps.length).toBeGreaterThan(20);
    const bin = join(sb.root, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "prodgate"), `#!/bin/sh\nexec "${process.execPath}" "${MAIN}" "$@"\n`);
    chmodSync(join(bin, "prodgate"), 0o755);
    const script = [
      `cd "${PROJECT}"`,
      ...steps.map((s, i) => {
        const command = s.command.replaceAll("/tmp/demo.git", join(sb.root, "demo.git")).replaceAll("/tmp/demo", join(sb.root, "demo"));
        return `echo "@@STEP ${i}"\n{ ${command.replace(/\s+#.*$/, "")} ; } 2>&1 || echo "@@EXIT $?"`;
      }),
    ].join("\n");
    const r = sb.run("bash", ["-c", script], { env: { PATH: `${bin}:${process.env.PATH}` } });
    const outputs = r.stdout.split(/^@@STEP \d+\n/m).slice(1);
    expect(outputs).toHaveLength(steps.length);
    steps.forEach((step, i) => {
      const out = outputs[i]!.split("\n").map(normalise);
      const failed = out.some((l) => l.startsWith("@@EXIT"));
      // Only the push the README shows being refused may fail.
      expect(failed, `${step.command}\n${outputs[i]}`).toBe(step.expected.some((l) => l.includes("rejected")));
      if (step.expected.length === 0) return;
      const want = step.expected.map(normalise);
      const at = out.indexOf(want[0]!);
      expect(out.slice(Math.max(0, at), Math.max(0, at) + want.length), `${step.command}\n${outputs[i]}`).toEqual(want);
    });
  });
});
