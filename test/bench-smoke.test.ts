// A tiny run of `npm run bench`, so the benchmark cannot rot. No timing is asserted.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { PROJECT } from "./helpers/repo";

const dir = mkdtempSync(join(tmpdir(), "prodgate-bench-smoke-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Row {
  key: string;
  commits: number;
  hooked: { median: number; p95: number } | null;
  plain: { median: number } | null;
  peakMb: number | null;
}

it("runs every case on a tiny repository and writes the table as JSON", { timeout: 900_000 }, () => {
  const out = join(dir, "bench.json");
  const r = spawnSync(process.execPath, [join(PROJECT, "bench", "run.mjs"), "--quick", "--out", out], { cwd: PROJECT, encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  for (const name of [
    "push of an ungoverned ref",
    "push to devel, 100 fixes pending",
    "push to stable, 100 fixes pending",
    "verdict tag push, mirror included",
    "webhook that never answers",
    "to production-stable",
    "deployable walk over",
    "prodgate status",
  ]) {
    expect(r.stdout).toContain(name);
  }
  const report = JSON.parse(readFileSync(out, "utf8")) as { machine: { cores: number }; rows: Row[] };
  expect(report.machine.cores).toBeGreaterThan(0);
  expect(report.rows.map((row) => row.key)).toEqual(["ungoverned", "devel", "stable", "verdict", "webhook", "promotion", "walk", "status"]);
  for (const row of report.rows) {
    expect(row.hooked!.median).toBeGreaterThan(0);
    expect(row.hooked!.p95).toBeGreaterThanOrEqual(row.hooked!.median);
  }
  // Every push case ran against the hookless copy too.
  for (const row of report.rows.filter((x) => !["walk", "status"].includes(x.key))) expect(row.plain!.median).toBeGreaterThan(0);
});
