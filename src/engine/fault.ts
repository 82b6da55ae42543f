/**
 * Crash-safety tests kill the process at a named step with
 * PRODGATE_FAULT=<step>. It only ever kills: no value changes what is checked.
 */
export function faultPoint(step: string): void {
  if (process.env.PRODGATE_FAULT === step) process.kill(process.pid, "SIGKILL");
}

/**
 * Race tests stop the process at a named step with PRODGATE_PAUSE=<step>
 * (SIGSTOP), do their part meanwhile, and continue it (SIGCONT). It only
 * ever stops: no value changes what is checked.
 */
export function pausePoint(step: string): void {
  if (process.env.PRODGATE_PAUSE === step) process.kill(process.pid, "SIGSTOP");
}
