import { it } from "vitest";
import { writeFileSync } from "node:fs";
import { standardSandbox } from "../helpers/repo";
it("probe", { timeout: 600_000 }, () => {
  const { sb, work } = standardSandbox();
  const N = 30000;
  const head = work.sha("HEAD");
  let fi = "";
  for (let i = 0; i < N; i++) {
    fi += `commit refs/heads/devel\ncommitter A <a@b> ${1700000000 + i} +0000\ndata <<E\nc${i}\nE\n${i === 0 ? `from ${head}\n` : ""}\n`;
  }
  writeFileSync("/tmp/bg/fi", fi);
  let out = "";
  const t = (label: string, f: () => unknown) => { const s = Date.now(); const r = f() as { status?: number; output?: string }; out += `${label}: ${Date.now() - s} ms ${r?.status ?? ""}\n`; return r; };
  t("fast-import", () => sb.run("sh", ["-c", `git fast-import --quiet --force < /tmp/bg/fi`], { cwd: work.dir }));
  work.git(["reset", "--hard", "--quiet", "devel"]);
  t("push devel", () => work.push(["origin", "HEAD:devel"], "dev"));
  t("push stable", () => work.push(["origin", "HEAD:stable"], "dev"));
  t("status", () => sb.prodgate(["status"], "ada"));
  t("sync", () => sb.prodgate(["sync"], "ada"));
  t("qa ok r1", () => sb.prodgate(["qa", "ok", "r1"], "quinn"));
  t("qa ok r1 again", () => sb.prodgate(["qa", "ok", "r1"], "quinn"));
  t("sync", () => sb.prodgate(["sync"], "ada"));
  work.commit("one more");
  t("push devel 1", () => work.push(["origin", "HEAD:devel"], "dev"));
  t("push stable 1", () => work.push(["origin", "HEAD:stable"], "dev"));
  t("push prod r1", () => work.push(["origin", `${work.sha("HEAD~30001")}:production-stable`], "dev"));
  writeFileSync("/tmp/bg/probe.out", out);
  sb.cleanup();
});
