// Two bundles: dist/hook-engine.cjs holds only what the git hooks need (the
// shims start dist/hook.cjs, which runs it from V8's code cache: see
// src/hook-boot.ts), dist/prodgate.cjs everything else.
// One file starts faster than many modules. better-sqlite3's JavaScript is
// bundled too; its native addon is loaded by path (see src/store/native.ts).
// The SMTP library (nodemailer) is a third file, dist/mail.cjs, loaded by the
// deliverer only when it sends mail: neither the hooks nor the other commands
// read it.
import { build } from "esbuild";

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  // Only better-sqlite3's fallback loader (when the addon is not at its usual path) needs it.
  external: ["bindings"],
  sourcemap: "linked",
  logLevel: "warning",
};

await Promise.all([
  build({ ...common, entryPoints: ["src/main.ts"], outfile: "dist/prodgate.cjs" }),
  build({ ...common, entryPoints: ["src/hook-main.ts"], outfile: "dist/hook-engine.cjs" }),
  build({ ...common, entryPoints: ["src/hook-boot.ts"], outfile: "dist/hook.cjs" }),
  build({ ...common, entryPoints: ["src/events/mail-send.ts"], outfile: "dist/mail.cjs" }),
]);
