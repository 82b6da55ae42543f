// One bundled file for the hooks and the command: Node starts it faster than
// many modules. better-sqlite3 stays outside (it is a native addon).
import { build } from "esbuild";

await build({
  entryPoints: ["src/main.ts"],
  outfile: "dist/prodgate.cjs",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  external: ["better-sqlite3"],
  sourcemap: "linked",
  logLevel: "warning",
});
