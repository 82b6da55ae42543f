// dist/hook.cjs, what the installed shims start: it runs the hooks' bundle,
// dist/hook-engine.cjs, from V8's code cache when it has one, so a push does
// not pay for compiling the bundle and every function the hook runs, twice
// per push (about 5 ms each time on the machine the benchmarks run on).
//
// The cache of each hook lives in the repository's prodgate/ directory,
// written by the hook itself as it exits when none could be used, so it holds
// the functions that hook really runs. Only the hook's user writes there
// (the state database lives beside it), and a cache is used only for the very
// bundle file it was made from, by the same Node: its first line names the
// file's size, times and inode and Node's version, and V8 checks its own
// version, flags and the source's length again. V8 checks no checksum of the
// cache itself in release builds, and a damaged body it accepts crashes the
// process as it deserializes (a hook that fails every push, and never writes
// a good cache again): so the file holds the cache twice, its length in the
// first line, and the two copies must be equal. A cache that does not fit,
// cannot be read or cannot be written changes nothing but the time: the hook
// compiles as it would without one, and no error ever comes from here.
import {
  type BigIntStats,
  closeSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import Module from "node:module";
import { dirname, join, resolve } from "node:path";
import { Script } from "node:vm";

const engine = join(__dirname, "hook-engine.cjs");
const hook = process.argv[3] ?? "";

/** Where this hook's cache lives, or null: only beside an installed prodgate (its prodgate/ directory exists). */
function cachePath(): string | null {
  if (!/^[a-z-]{1,32}$/.test(hook)) return null;
  const dir = join(resolve(process.env.GIT_DIR ?? "."), "prodgate");
  try {
    if (!statSync(dir).isDirectory()) return null;
  } catch {
    return null;
  }
  return join(dir, `code-cache.${hook}`);
}

/** What a cache must have been made from: this bundle file, this Node. */
function keyOf(s: BigIntStats): string {
  return `prodgate-code-cache 2 ${process.version} ${process.arch} ${s.size} ${s.mtimeNs} ${s.ctimeNs} ${s.ino}\n`;
}

/**
 * The bundle's text, and the key of the very file it was read from: by one
 * descriptor, so a bundle renamed over it meanwhile (an upgrade) is not the
 * one the key names; none when the file changed as it was read. A key taken
 * from the path after reading named the upgraded bundle, of the same size,
 * over a cache of the old one's code, which V8 took (it checks the source's
 * length only): the old code ran on after the upgrade.
 */
function readBundle(): { source: string; key: string | null } {
  const fd = openSync(engine, "r");
  try {
    const before = keyOf(fstatSync(fd, { bigint: true }));
    const source = readFileSync(fd, "utf8");
    return { source, key: keyOf(fstatSync(fd, { bigint: true })) === before ? before : null };
  } finally {
    closeSync(fd);
  }
}

/** The first line of a cache file holding `length` bytes of V8's cache, twice. */
function headLine(key: string, length: number): Buffer {
  return Buffer.from(`${key.slice(0, -1)} ${length}\n`);
}

/** The cache, when the file was made for this key and both its copies are whole and equal (readFileSync and memcmp: no hashing in JS). */
function readCache(path: string, key: string): Buffer | undefined {
  try {
    const data = readFileSync(path);
    const newline = data.indexOf(10);
    const length = Number(/ ([0-9]{1,10})$/.exec(data.subarray(0, Math.max(newline, 0)).toString("latin1"))?.[1] ?? -1);
    if (newline < 0 || length <= 0) return undefined;
    const head = headLine(key, length);
    if (data.length !== head.length + 2 * length || !data.subarray(0, head.length).equals(head)) return undefined;
    const first = data.subarray(head.length, head.length + length);
    return first.equals(data.subarray(head.length + length)) ? first : undefined;
  } catch {
    return undefined;
  }
}

const bundle = readBundle();
const source = bundle.source;
let path: string | null = null;
const key = bundle.key ?? "";
let cachedData: Buffer | undefined;
try {
  path = bundle.key === null ? null : cachePath();
  if (path) cachedData = readCache(path, key);
} catch {
  path = null;
}

const script = new Script(Module.wrap(source), { filename: engine, cachedData });

/** This hook's temporary cache files left by writers killed before they renamed them (their process is gone). */
function removeLeftovers(target: string): void {
  const dir = dirname(target);
  const prefix = `${target.slice(dir.length + 1)}.`;
  for (const name of readdirSync(dir)) {
    const pid = name.startsWith(prefix) && name.endsWith(".tmp") ? Number(name.slice(prefix.length, -4)) : NaN;
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // Still running (or a process that took its number): left alone.
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") continue;
    }
    try {
      unlinkSync(join(dir, name));
    } catch {
      // Gone already.
    }
  }
}

if (path && (!cachedData || script.cachedDataRejected)) {
  const target = path;
  // At exit, with every function the hook ran compiled: those are in the cache too.
  process.once("exit", () => {
    const temporary = `${target}.${process.pid}.tmp`;
    try {
      removeLeftovers(target);
    } catch {
      // Left for the next writer.
    }
    try {
      const cache = script.createCachedData();
      writeFileSync(temporary, Buffer.concat([headLine(key, cache.length), cache, cache]), { mode: 0o600 });
      renameSync(temporary, target);
    } catch {
      try {
        unlinkSync(temporary);
      } catch {
        // Nothing was written.
      }
    }
  });
}

const own = new Module(engine, module);
own.filename = engine;
const run = script.runInThisContext() as (
  exports: unknown,
  require: NodeJS.Require,
  module: Module,
  filename: string,
  dirname: string,
) => void;
run.call(own.exports, own.exports, Module.createRequire(engine), own, engine, dirname(engine));
