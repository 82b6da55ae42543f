import { chmodSync, existsSync, mkdirSync } from "node:fs";

/**
 * A folder beside the database that only its owner may write (0755 whatever
 * the umask): the hooks trust what they find in prodgate/quiet/ and
 * prodgate/prefetch/, so nobody else may put files there.
 */
export function ownDir(path: string): void {
  if (existsSync(path)) return;
  mkdirSync(path, { recursive: true, mode: 0o755 });
  chmodSync(path, 0o755);
}
