/**
 * Crash-safety tests kill the process at a named step with
 * PRODGATE_FAULT=<step>. It only ever kills: no value changes what is checked.
 */
export function faultPoint(step: string): void {
  if (process.env.PRODGATE_FAULT === step) process.kill(process.pid, "SIGKILL");
}
