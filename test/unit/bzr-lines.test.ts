// The engine reads the Breezy plugin's JSON lines, which carry every message a
// push brings, as large as a client makes them: each byte is copied once.
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { readLine } from "../../src/bzr/lines";

const dir = mkdtempSync(join(tmpdir(), "prodgate-lines-"));
afterEach(() => vi.restoreAllMocks());

describe("readLine", () => {
  it("reads a line of many megabytes joining its chunks once, not once per chunk (no quadratic copying)", () => {
    const file = join(dir, "lines");
    const big = "y".repeat(8 * 1024 * 1024);
    writeFileSync(file, `first\n${big}\nlast`);
    const fd = openSync(file, "r");
    try {
      const concat = vi.spyOn(Buffer, "concat");
      expect(readLine(fd)).toBe("first");
      expect(readLine(fd)).toBe(big);
      // 128 chunks of 64 KiB: the old reader joined everything read so far at each of them.
      expect(concat.mock.calls.length).toBeLessThanOrEqual(2);
      expect(readLine(fd)).toBe("last");
      expect(readLine(fd)).toBeNull();
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
