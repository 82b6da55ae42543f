// The deliverer (`prodgate deliver`): hands the outbox's events to each
// webhook and mail endpoint, in event order per endpoint, at least once.
// It runs apart from every push (see start.ts), holding a lock so at most
// one runs per repository.
import { createHmac } from "node:crypto";
import type * as Http from "node:http";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { type Config, readConfigCached } from "../config";
import { faultPoint, pausePoint } from "../engine/fault";
import type { Repo } from "../git/repo";
import { deliverLockPath, tryDeliverLock } from "./lock";
import { startDeliverer } from "./start";
import { databasePath, now, Store, type StoredEvent } from "../store/store";
import { type Endpoint, endpointUsable, type EventsConfig, type MailEndpoint, type WebhookEndpoint } from "./config";
import { mailBody, mailSubject } from "./mail";
import { type ProdgateEvent, typeMatches } from "./types";

/** A receiver that has not answered in this long has failed this attempt. */
export const DELIVERY_TIMEOUT_MS = 5_000;

/** The repository's name as events and mail give it: the directory, without .git. */
export function repositoryName(gitDir: string): string {
  return basename(gitDir).replace(/\.git$/, "") || gitDir;
}

/** `sha256=<hex>`: the HMAC-SHA256 of the body with the secret, as GitHub signs (X-Hub-Signature-256). */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** The secret is the file's content without its final newline. */
export function readSecret(path: string): string {
  return readFileSync(path, "utf8").replace(/\r?\n$/, "");
}

export function eventBody(e: StoredEvent, repository: string): string {
  const body: ProdgateEvent = { id: e.id, type: e.type, at: e.at, repository, actor: e.actor, data: e.data };
  return JSON.stringify(body);
}

/**
 * The wait before retry number `attempts` (1 after the first failure):
 * base, doubling, never more than 60 × base; null once 1440 × base (24 h at
 * the default 60 s) have passed since the event: failed for good.
 */
export function retryDelayMs(base: number, attempts: number, sinceEventMs: number): number | null {
  if (sinceEventMs >= 1440 * base * 1000) return null;
  return Math.min(base * 2 ** Math.max(0, attempts - 1), 60 * base) * 1000;
}

export interface AttemptResult {
  ok: boolean;
  /** The HTTP status, the SMTP answer, or what went wrong. */
  status: string;
}

/** Send one event to one endpoint, now. Never throws. */
export async function attempt(
  cfg: EventsConfig,
  endpoint: Endpoint,
  e: StoredEvent,
  repository: string,
  robot: string,
): Promise<AttemptResult> {
  try {
    return endpoint.kind === "webhook"
      ? await postWebhook(endpoint, e, repository)
      : await sendMailEvent(cfg, endpoint, e, repository, robot);
  } catch (err) {
    return { ok: false, status: oneLine(err) };
  }
}

async function postWebhook(endpoint: WebhookEndpoint, e: StoredEvent, repository: string): Promise<AttemptResult> {
  const body = eventBody(e, repository);
  const secret = readSecret(endpoint.secretFile!);
  const status = await post(endpoint.url!, body, {
    "Content-Type": "application/json",
    "User-Agent": "prodgate",
    "X-Prodgate-Event": e.type,
    "X-Prodgate-Delivery": e.id,
    "X-Prodgate-Signature-256": signature(secret, body),
  });
  return { ok: status >= 200 && status < 300, status: String(status) };
}

/**
 * POST `body` and resolve with the answer's status, or reject when none came
 * within DELIVERY_TIMEOUT_MS (a deadline for the whole exchange, so a receiver
 * that trickles bytes cannot hold the deliverer). No redirect is followed, no
 * connection is kept for later.
 */
function post(url: string, body: string, headers: Record<string, string>): Promise<number> {
  const target = new URL(url);
  const client = (target.protocol === "https:" ? require("node:https") : require("node:http")) as typeof Http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      target,
      { method: "POST", agent: false, headers: { ...headers, "Content-Length": String(Buffer.byteLength(body)) } },
      (res) => {
        clearTimeout(deadline);
        resolve(res.statusCode ?? 0);
        res.destroy();
      },
    );
    const deadline = setTimeout(() => req.destroy(new DeliveryTimeout()), DELIVERY_TIMEOUT_MS);
    req.on("error", (err) => {
      clearTimeout(deadline);
      reject(err);
    });
    req.end(body);
  });
}

class DeliveryTimeout extends Error {
  override name = "TimeoutError";
}

async function sendMailEvent(
  cfg: EventsConfig,
  endpoint: MailEndpoint,
  e: StoredEvent,
  repository: string,
  robot: string,
): Promise<AttemptResult> {
  const event: ProdgateEvent = { ...e, repository };
  // The SMTP library is a bundle of its own, loaded only when mail goes out.
  const mail = require(join(__dirname, "mail.cjs")) as typeof import("./mail-send");
  const answer = await mail.sendMail(
    cfg.smtp.url!,
    cfg.smtp.passwordFile,
    { from: robot, to: endpoint.to, subject: mailSubject(event), text: mailBody(event, cfg.reportUrl), eventId: e.id },
    DELIVERY_TIMEOUT_MS,
  );
  return { ok: true, status: answer.slice(0, 200) };
}

function oneLine(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string };
  if (e?.name === "TimeoutError") return `no answer in ${DELIVERY_TIMEOUT_MS / 1000} s`;
  const text = e?.code ?? e?.message ?? String(err);
  return text.replace(/\s+/g, " ").slice(0, 200);
}

/** Why an endpoint's events wait without being tried, or null when it can be tried. */
export function endpointProblem(cfg: EventsConfig, e: Endpoint): string | null {
  if (!endpointUsable(cfg, e)) {
    const err = cfg.errors.find(
      (x) => x.key.startsWith(`prodgate.${e.kind}.${e.name}.`) || (e.kind === "mail" && x.key.startsWith("prodgate.smtp.")),
    );
    return `configuration: ${err ? `${err.key} ${err.message}` : "incomplete"}`;
  }
  if (e.kind === "webhook") {
    try {
      readSecret(e.secretFile!);
    } catch (err) {
      return `the secret file ${e.secretFile} cannot be read (${(err as { code?: string }).code ?? "error"})`;
    }
  }
  return null;
}

/** Record one attempt's outcome, with the next retry or the end. */
function settle(store: Store, base: number, eventId: number, endpoint: string, eventAt: string, attempts: number, r: AttemptResult): void {
  if (r.ok) return store.recordAttempt(eventId, endpoint, { state: "delivered", status: r.status, nextAt: null });
  // The window runs from the event, not from its first attempt: events queued behind a
  // receiver that stays down are given up in turn, so nothing waits 24 h per event.
  const delay = retryDelayMs(base, attempts + 1, Date.now() - Date.parse(eventAt));
  if (delay === null) return store.recordAttempt(eventId, endpoint, { state: "failed", status: r.status, nextAt: null });
  store.recordAttempt(eventId, endpoint, { state: "retrying", status: r.status, nextAt: new Date(Date.now() + delay).toISOString() });
}

/** Deliver an endpoint's due events in order, stopping at the first that must wait. */
async function drain(store: Store, config: Config, endpoint: Endpoint, repository: string): Promise<void> {
  const cfg = config.events;
  const robot = `${config.robot.name} <${config.robot.email}>`;
  for (;;) {
    const head = store.headDelivery(endpoint.key);
    if (!head) return;
    if (head.nextAt && head.nextAt > now()) return;
    const problem = endpointProblem(cfg, endpoint);
    if (problem) return store.noteWaiting(head.eventId, endpoint.key, problem);
    faultPoint("before-delivery-sent");
    const r = await attempt(cfg, endpoint, head.event, repository, robot);
    // Killed here, the endpoint has the event but the row does not say so: it is sent again (at least once).
    faultPoint("before-delivery-marked");
    settle(store, cfg.retryBase, head.eventId, endpoint.key, head.event.at, head.attempts, r);
  }
}

/** One pass: queue new events for every endpoint, then deliver what is due. Returns when the next delivery is due (ms from now), or null. */
async function pass(repo: Repo, store: Store, repository: string): Promise<number | null> {
  // The cached read: a deliverer waiting on retries looks every second, and the config file rarely changes.
  const { config } = readConfigCached(repo.git, repo.gitDir);
  const endpoints = config.events.endpoints;
  store.registerEndpoints(endpoints.map((e) => e.key));
  for (const e of endpoints) store.queueDeliveries(e.key, (type) => e.events.some((g) => typeMatches(g, type)));
  await Promise.all(endpoints.map((e) => drain(store, config, e, repository)));
  const tried = endpoints.filter((e) => endpointProblem(config.events, e) === null).map((e) => e.key);
  const due = store.nextDue(tried);
  if (due === null) return null;
  return Math.max(0, (due === "" ? Date.now() : Date.parse(due)) - Date.now());
}

/**
 * `prodgate deliver`: deliver until nothing is left to try (delivered,
 * failed, or waiting on a configuration mistake), sleeping between retries
 * and picking up new events meanwhile. With `once` (sync), one pass over
 * what is due now, then a deliverer started for the events written during
 * it. Returns at once when another deliverer holds the lock.
 */
export async function runDeliverer(repo: Repo, opts: { once?: boolean } = {}, dbPath = databasePath(repo.gitDir)): Promise<number> {
  const repository = repositoryName(repo.location);
  const lockPath = deliverLockPath(join(repo.gitDir, "prodgate"));
  for (;;) {
    const lock = tryDeliverLock(lockPath);
    if (!lock) return 0; // another deliverer runs; it picks up what was just written
    let seen: number;
    const store = Store.open(dbPath);
    try {
      for (;;) {
        seen = store.lastEventId();
        const wait = await pass(repo, store, repository);
        if (opts.once) break;
        if (wait === null) {
          if (store.lastEventId() !== seen) continue;
          break;
        }
        // Wake up for the retry, or within a second of an event written meanwhile.
        const due = Date.now() + wait;
        while (Date.now() < due && store.lastEventId() === seen) await sleep(Math.min(due - Date.now(), 1000));
      }
    } finally {
      // Between its last look and letting go of the lock: a push now sees the lock held and starts no deliverer.
      pausePoint("deliverer-before-unlock");
      store.close();
      lock.exec("ROLLBACK");
      lock.close();
    }
    // An event written just before the lock was let go may have seen it held: look once more.
    const check = Store.open(dbPath);
    const last = check.lastEventId();
    check.close();
    if (last === seen!) return 0;
    // A push that wrote events while this one pass (sync's) held the lock started no
    // deliverer, counting on the holder: start the one it would have started.
    if (opts.once) {
      startDeliverer(repo.location);
      return 0;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
