// The events prodgate sends out (webhooks and mail). Kept free of delivery
// code: the hooks write events, and this file is all of it they load.

/** Every event type, in the order the reference lists them. */
export const EVENT_TYPES = [
  "production-stable.moved",
  "mirror.blocked",
  "mirror.unblocked",
  "verdict.recorded",
  "verdict.bad",
  "qa.waiting",
  "fix.promoted",
  "fix.back",
  "fix.overdue",
  "fix.retired",
  "override.used",
  "push.rejected",
  "freeze",
  "thaw",
  "deploy.recorded",
  "cowboy.added",
  "cowboy.retired",
  "cowboy.removed",
  "ping",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** An event as the Store writes it; id and time are the Store's. */
export interface EventDraft {
  type: EventType;
  actor: string | null;
  data: Record<string, unknown>;
}

/** An event as receivers get it (the JSON body of a webhook). */
export interface ProdgateEvent extends EventDraft {
  id: string;
  at: string;
  repository: string;
}

/** A revision in a production-stable.moved event. */
export interface MovedRevision {
  sha: string;
  revno: number | null;
  subject: string;
  verdict: string | null;
  /** Who gave the verdict, when one was given. */
  by: string | null;
}

/** `*` matches any run of characters, so `fix.*` or `*.recorded`; everything else is literal. */
export function typeMatches(glob: string, type: string): boolean {
  const re = new RegExp(`^${glob.split("*").map(escapeRegExp).join(".*")}$`);
  return re.test(type);
}

/** Does a glob match any event type at all? (An unknown type in config is a mistake doctor names.) */
export function globKnown(glob: string): boolean {
  return EVENT_TYPES.some((t) => typeMatches(glob, t));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}
