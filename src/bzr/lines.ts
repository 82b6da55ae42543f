// Reading a line at a time from a file descriptor, synchronously: the engine
// holds a conversation with the Breezy plugin over its stdin and stdout.
import { readSync } from "node:fs";

const pending = new Map<number, Buffer>();

/**
 * The next line (without its newline), or null at the end of input. Costs
 * what the line holds: each chunk read is searched and copied once (a line
 * carries every message a push brings, as large as a client makes them).
 */
export function readLine(fd: number): string | null {
  const carried = pending.get(fd);
  const parts: Buffer[] = [];
  if (carried && carried.length > 0) {
    const nl = carried.indexOf(10);
    if (nl >= 0) {
      pending.set(fd, carried.subarray(nl + 1));
      return carried.subarray(0, nl).toString("utf8");
    }
    parts.push(carried);
  }
  for (;;) {
    const chunk = Buffer.allocUnsafe(1 << 16);
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") {
        // A non-blocking descriptor with nothing yet: wait a moment, without spinning.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      if (code === "EOF") n = 0;
      else throw err;
    }
    if (n === 0) {
      pending.delete(fd);
      return parts.length > 0 ? Buffer.concat(parts).toString("utf8") : null;
    }
    const got = chunk.subarray(0, n);
    const nl = got.indexOf(10);
    if (nl >= 0) {
      parts.push(got.subarray(0, nl));
      pending.set(fd, got.subarray(nl + 1));
      return Buffer.concat(parts).toString("utf8");
    }
    parts.push(got);
  }
}
