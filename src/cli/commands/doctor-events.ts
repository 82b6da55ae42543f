import { statSync } from "node:fs";
import type { EventsConfig } from "../../events/config";
import type { Check } from "./doctor";

/** A file holding a secret: it must exist, be readable here, and be readable by its owner only. */
function secretFileProblem(path: string): string | null {
  let mode: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) return `${path} is not a file`;
    mode = st.mode;
    if (typeof process.getuid === "function" && st.uid !== process.getuid())
      return `${path} belongs to another user; it must belong to the user running the hooks`;
  } catch (err) {
    return `${path} cannot be read (${(err as { code?: string }).code ?? "error"})`;
  }
  if ((mode & 0o077) !== 0) return `${path} can be read or written by group or others (chmod 600 ${path})`;
  return null;
}

/**
 * The events' configuration: each mistake with its key, each secret file's
 * mode. A failure here never fails a push: the events it concerns stay
 * queued until it is fixed.
 */
export function eventsChecks(cfg: EventsConfig): Check[] {
  const checks: Check[] = [];
  for (const e of cfg.errors)
    checks.push({ name: "events config", status: "fail", message: `${e.key}: ${e.message} (events for it stay queued until fixed)` });
  for (const e of cfg.endpoints) {
    const name = `${e.kind} ${e.name}`;
    if (e.kind === "webhook") {
      const problem = e.secretFile ? secretFileProblem(e.secretFile) : null;
      if (problem) checks.push({ name, status: "fail", message: `prodgate.webhook.${e.name}.secretFile: ${problem}` });
      else if (e.url && e.secretFile) checks.push({ name, status: "ok", message: `${e.url} gets ${e.events.join(", ")}` });
    } else if (e.to.length > 0) checks.push({ name, status: "ok", message: `${e.to.join(", ")} get ${e.events.join(", ")}` });
  }
  if (cfg.smtp.passwordFile) {
    const problem = secretFileProblem(cfg.smtp.passwordFile);
    if (problem) checks.push({ name: "smtp", status: "fail", message: `prodgate.smtp.passwordFile: ${problem}` });
  }
  return checks;
}
