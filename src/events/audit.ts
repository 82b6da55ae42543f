import type { AuditRow } from "../store/store";
import type { EventDraft } from "./types";

/**
 * The events an audit row tells of by itself: a refused push of a governed
 * ref, an override, a freeze or thaw. Other changes write their events where
 * they know more than the row says (verdicts, fixes, the mirror, operations).
 */
export function eventsOfAuditRow(row: AuditRow): EventDraft[] {
  const actor = row.user;
  switch (row.decision) {
    case "rejected":
      return [
        {
          type: "push.rejected",
          actor,
          data: { ref: row.ref ?? null, old: row.old ?? null, new: row.new ?? null, code: row.code ?? null, reason: row.reason ?? null },
        },
      ];
    case "override":
      return [
        {
          type: "override.used",
          actor,
          data: {
            ref: row.ref ?? null,
            old: row.old ?? null,
            new: row.new ?? null,
            reason: row.reason ?? null,
            overrode: row.detail ?? null,
            // What it let through: the override's content, never recorded as security fixes unless it was a promotion.
            commits: row.brought?.commits ?? [],
            commitCount: row.brought?.total ?? 0,
          },
        },
      ];
    case "freeze":
      return [{ type: "freeze", actor, data: { reason: row.reason ?? null } }];
    case "thaw":
      return [{ type: "thaw", actor, data: { reason: row.reason ?? null } }];
    default:
      return [];
  }
}
