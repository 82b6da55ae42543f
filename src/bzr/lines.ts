// Reading a line at a time from a file descriptor, synchronously: the engine
// holds a conversation with the Breezy plugin over its stdin and stdout.
import { readSync } from "node:fs";

const pending = new Map<number, Buffer>();

/** The next line (without its newline), or null at the end of input. */
export function readLine(fd: number): string | null {
  let buffered = pending.get(fd) ?? Buffer.alloc(0);
  const chunk = Buffer.alloc(1 << 16);
  for (;;) {
    const nl = buffered.indexOf(10);
    if (nl >= 0) {
      pending.set(fd, buffered.subarray(nl + 1));
      return buffered.subarray(0, nl).toString("utf8");
    }
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
      return buffered.length > 0 ? buffered.toString("utf8") : null;
    }
    buffered = Buffer.concat([buffered, chunk.subarray(0, n)]);
  }
}
