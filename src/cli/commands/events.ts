import { randomUUID } from "node:crypto";
import { UserError } from "../../errors";
import type { Endpoint } from "../../events/config";
import { attempt, endpointProblem, repositoryName } from "../../events/deliver";
import { now, type EventWithDeliveries } from "../../store/store";
import { type CommandContext, plainValue } from "../context";
import { ago, type Cell, renderTable } from "../format";

/** `prodgate events [--type T] [--failed] [--json]`: the outbox, newest first, with each endpoint's delivery. */
export function eventsCommand(ctx: CommandContext, opts: { type?: string; failed?: boolean; limit?: string }): number {
  const limit = opts.limit === undefined ? 50 : Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UserError(`--limit takes a whole number above 0, not "${opts.limit}"`, 2);
  if (opts.type !== undefined) plainValue(opts.type, "--type");
  const rows = ctx.engine.store.eventList({ type: opts.type, failed: opts.failed, limit });
  if (ctx.json) {
    ctx.print(
      JSON.stringify(
        rows.map((r) => ({
          ...r,
          deliveries: r.deliveries.map((d) => ({
            endpoint: d.endpoint,
            state: d.state,
            attempts: d.attempts,
            lastStatus: d.lastStatus,
            nextAt: d.nextAt,
          })),
        })),
        null,
        2,
      ),
    );
    return 0;
  }
  if (rows.length === 0) {
    ctx.print(opts.failed ? "no event has a failing delivery" : "no events yet");
    return 0;
  }
  ctx.printRendered(renderTable(rows.map(eventRow), { colour: ctx.colour, width: ctx.width }));
  return 0;
}

function eventRow(r: EventWithDeliveries): Cell[] {
  const deliveries = r.deliveries
    .map(
      (d) =>
        `${d.endpoint} ${d.state}${d.attempts > 0 ? ` ×${d.attempts}` : ""}${d.state !== "delivered" && d.lastStatus ? ` (${d.lastStatus})` : ""}`,
    )
    .join(", ");
  const bad = r.deliveries.some((d) => d.state === "failed");
  return [
    { text: ago(r.at), style: "dim" },
    { text: r.type, style: r.type === "verdict.bad" || r.type === "push.rejected" || r.type === "override.used" ? "red" : undefined },
    { text: r.actor ?? "" },
    { text: deliveries || "-", style: bad ? "red" : undefined },
    { text: r.id, style: "dim" },
  ];
}

/** The endpoint `--to` names: its key (webhook.x, mail.x) or a name only one endpoint has. */
function endpointNamed(ctx: CommandContext, name: string): Endpoint {
  const all = ctx.engine.config.events.endpoints;
  const found = all.filter((e) => e.key === name || e.name === name.toLowerCase() || e.key === name.toLowerCase());
  if (found.length === 1) return found[0]!;
  if (found.length > 1) throw new UserError(`"${name}" is both ${found.map((e) => e.key).join(" and ")}: say which`, 2);
  const known = all.map((e) => e.key).join(", ") || "none is configured (prodgate.webhook.<name>.url, prodgate.mail.<name>.to)";
  throw new UserError(`no webhook or mail endpoint is called "${name}" (endpoints: ${known})`, 2);
}

function robot(ctx: CommandContext): string {
  return `${ctx.engine.config.robot.name} <${ctx.engine.config.robot.email}>`;
}

/**
 * `prodgate events redeliver <id> [--to <name>]`: send the event again now, with
 * the same delivery id, to the endpoint named or to every endpoint that has a
 * delivery of it. Exit 1 when an endpoint did not take it.
 */
export async function redeliverCommand(ctx: CommandContext, id: string, opts: { to?: string }): Promise<number> {
  const { store, config } = ctx.engine;
  plainValue(id, "the event id");
  const found = store.eventById(id);
  if (!found) throw new UserError(`no event has the id ${id} (prodgate events lists them)`, 2);
  const targets = opts.to
    ? [endpointNamed(ctx, opts.to)]
    : config.events.endpoints.filter((e) => store.deliveriesOf(found.rowId).some((d) => d.endpoint === e.key));
  if (targets.length === 0) throw new UserError(`event ${id} has no delivery to redo: name an endpoint with --to`, 2);
  let failed = 0;
  const results: { endpoint: string; ok: boolean; status: string }[] = [];
  for (const e of targets) {
    const problem = endpointProblem(config.events, e);
    if (problem) throw new UserError(`${e.key} cannot be sent to: ${problem} (prodgate doctor says more)`, 1);
    store.ensureDelivery(found.rowId, e.key);
    const r = await attempt(config.events, e, found.event, repositoryName(ctx.engine.repo.location), robot(ctx));
    // A redelivery is the operator's: it records the outcome, and a failure leaves the schedule as it was.
    if (r.ok) store.recordAttempt(found.rowId, e.key, { state: "delivered", status: r.status, nextAt: null });
    else failed++;
    results.push({ endpoint: e.key, ok: r.ok, status: r.status });
  }
  if (ctx.json) ctx.print(JSON.stringify({ id, deliveries: results }, null, 2));
  else for (const r of results) ctx.print(`${r.endpoint}: ${r.ok ? "delivered" : "NOT delivered"} (${r.status})`);
  return failed > 0 ? 1 : 0;
}

/** `prodgate events test <name>`: send a ping (not kept in the outbox) to check an endpoint end to end. */
export async function testCommand(ctx: CommandContext, name: string): Promise<number> {
  const { config } = ctx.engine;
  const e = endpointNamed(ctx, name);
  const problem = endpointProblem(config.events, e);
  if (problem) throw new UserError(`${e.key} cannot be sent to: ${problem}`, 1);
  const ping = { id: randomUUID(), type: "ping" as const, at: now(), actor: ctx.user, data: { endpoint: e.key, types: e.events } };
  const r = await attempt(config.events, e, ping, repositoryName(ctx.engine.repo.location), robot(ctx));
  if (ctx.json) ctx.print(JSON.stringify({ endpoint: e.key, ok: r.ok, status: r.status, id: ping.id }, null, 2));
  else ctx.print(`${e.key}: ${r.ok ? "ping delivered" : "ping NOT delivered"} (${r.status})`);
  return r.ok ? 0 : 1;
}
