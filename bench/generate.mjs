// Builds a synthetic repository with `git fast-import`: a first-parent chain
// of N commits on devel (revno i is mark i), each changing one of 200 files,
// with a merge of a short side branch every 100 commits so the history is not
// a plain line. Nothing is downloaded.
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** Bump when the shape of the generated history changes, so cached copies are rebuilt. */
const GENERATOR_VERSION = 2;

function git(args, opts = {}) {
  const r = spawnSync("git", args, { encoding: "utf8", maxBuffer: 1 << 30, ...opts });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout.trim();
}

function stream(n) {
  const parts = [];
  const base = 1_600_000_000;
  const data = (text) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  let sideMark = n + 1;
  for (let i = 1; i <= n; i++) {
    const when = base + i * 60;
    const fileChange = (k, text) => `M 100644 inline src/file-${String(k % 200).padStart(3, "0")}.txt\n${data(text)}`;
    let merge = "";
    if (i > 1 && i % 100 === 0) {
      // A side commit off the previous mainline commit, merged by this one.
      const side = sideMark++;
      parts.push(
        `commit refs/heads/side\nmark :${side}\ncommitter Side <side@example.com> ${when - 30} +0000\n`,
        data(`side work before r${i}`),
        `from :${i - 1}\n`,
        `M 100644 inline side/${i}.txt\n${data(`side ${i}\n`)}`,
        "\n",
      );
      merge = `merge :${side}\n`;
    }
    parts.push(
      `commit refs/heads/devel\nmark :${i}\ncommitter Dev <dev@example.com> ${when} +0000\n`,
      data(`r${i}: change ${i}\n\nGenerated commit ${i} of ${n}.`),
      i > 1 ? `from :${i - 1}\n` : "",
      merge,
      fileChange(i, `line ${i}\n`.repeat(1 + (i % 7))),
      "\n",
    );
  }
  return parts.join("");
}

/**
 * A generated bare repository of `n` mainline commits, cached under `cacheDir`.
 * Returns its path and `shaOf(revno)`.
 */
export function generated(cacheDir, n) {
  const dir = resolve(cacheDir, `gen-v${GENERATOR_VERSION}-${n}.git`);
  const marks = `${dir}.marks`;
  if (!existsSync(marks)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    git(["init", "--quiet", "--bare", "--initial-branch=devel", tmp]);
    git(["fast-import", "--quiet", `--export-marks=${tmp}/marks`], { cwd: tmp, input: stream(n) });
    git(["update-ref", "-d", "refs/heads/side"], { cwd: tmp });
    renameSync(tmp, dir);
    writeFileSync(marks, readFileSync(join(dir, "marks")));
  }
  const shas = new Map();
  for (const line of readFileSync(marks, "utf8").split("\n")) {
    const m = /^:(\d+) ([0-9a-f]+)$/.exec(line);
    if (m) shas.set(Number(m[1]), m[2]);
  }
  return {
    dir,
    shaOf(revno) {
      const sha = shas.get(revno);
      if (!sha) throw new Error(`no commit r${revno} in ${dir}`);
      return sha;
    },
  };
}
