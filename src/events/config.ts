// The events' configuration (webhooks, mail, SMTP). Read with the rest of
// prodgate.*, but its mistakes never fail a push: they are reported by
// doctor, and the events they concern stay queued until they are fixed.
import type { ConfigError } from "../config";
import { globKnown } from "./types";

export interface WebhookEndpoint {
  kind: "webhook";
  name: string;
  /** How deliveries name it: webhook.<name>. */
  key: string;
  url: string | null;
  events: string[];
  secretFile: string | null;
}

export interface MailEndpoint {
  kind: "mail";
  name: string;
  key: string;
  to: string[];
  events: string[];
}

export type Endpoint = WebhookEndpoint | MailEndpoint;

export interface EventsConfig {
  endpoints: Endpoint[];
  smtp: { url: string | null; passwordFile: string | null };
  reportUrl: string | null;
  /** Seconds before the first retry; the delay doubles up to 60 times this, and a delivery is given up after 1440 times this. */
  retryBase: number;
  /** A security fix pending longer than this raises fix.overdue from sync, once a day. */
  fixMaxAgeDays: number;
  /** Mistakes doctor names; endpoints they concern keep their events queued. */
  errors: ConfigError[];
}

const WEBHOOK_KEYS = ["url", "events", "secretfile"];
const MAIL_KEYS = ["to", "events"];
const ADDRESS = /^[^\s@<>]+@[^\s@<>]+$/;

/** Is this endpoint's configuration complete and valid (else its events wait)? */
export function endpointUsable(cfg: EventsConfig, e: Endpoint): boolean {
  const prefix = `prodgate.${e.kind}.${e.name}.`;
  if (cfg.errors.some((x) => x.key.startsWith(prefix) && !x.key.endsWith(".events"))) return false;
  if (e.kind === "mail") return cfg.smtp.url !== null && !cfg.errors.some((x) => x.key.startsWith("prodgate.smtp."));
  return true;
}

export function eventsConfigFromValues(values: Map<string, string[]>): EventsConfig {
  const errors: ConfigError[] = [];
  const last = (key: string): string | undefined => values.get(key)?.at(-1);
  const names = { webhook: new Set<string>(), mail: new Set<string>() };
  for (const key of values.keys()) {
    const m = /^prodgate\.(webhook|mail)\.(.+)\.([^.]+)$/.exec(key);
    if (!m) continue;
    const kind = m[1] as "webhook" | "mail";
    if (!(kind === "webhook" ? WEBHOOK_KEYS : MAIL_KEYS).includes(m[3]!)) {
      errors.push({
        key,
        message: `unknown key (a ${kind} takes ${(kind === "webhook" ? ["url", "events", "secretFile"] : MAIL_KEYS).join(", ")})`,
      });
      continue;
    }
    names[kind].add(m[2]!);
  }
  const globs = (prefix: string): string[] => {
    const list = (values.get(`${prefix}.events`) ?? []).flatMap((v) => v.split(/[\s,]+/)).filter(Boolean);
    for (const g of list) if (!globKnown(g)) errors.push({ key: `${prefix}.events`, message: `"${g}" matches no event type` });
    return list.length > 0 ? list : ["*"];
  };
  const endpoints: Endpoint[] = [];
  for (const name of [...names.webhook].sort()) {
    const prefix = `prodgate.webhook.${name}`;
    const url = last(`${prefix}.url`) ?? null;
    if (url === null || url === "") errors.push({ key: `${prefix}.url`, message: "is not set" });
    else if (!httpUrl(url)) errors.push({ key: `${prefix}.url`, message: `"${url}" is not an http:// or https:// URL` });
    const secretFile = last(`${prefix}.secretfile`) || null;
    if (!secretFile)
      errors.push({ key: `${prefix}.secretFile`, message: "is not set: a webhook is always signed, with a secret kept in a file" });
    endpoints.push({ kind: "webhook", name, key: `webhook.${name}`, url: url || null, events: globs(prefix), secretFile });
  }
  for (const name of [...names.mail].sort()) {
    const prefix = `prodgate.mail.${name}`;
    const to = (values.get(`${prefix}.to`) ?? []).flatMap((v) => v.split(/[\s,]+/)).filter(Boolean);
    if (to.length === 0) errors.push({ key: `${prefix}.to`, message: "is not set" });
    for (const a of to) if (!ADDRESS.test(a)) errors.push({ key: `${prefix}.to`, message: `"${a}" is not a mail address` });
    endpoints.push({ kind: "mail", name, key: `mail.${name}`, to, events: globs(prefix) });
  }

  const smtpUrl = last("prodgate.smtp.url") || null;
  if (smtpUrl && !/^smtps?:$/.test(safeUrl(smtpUrl)?.protocol ?? ""))
    errors.push({ key: "prodgate.smtp.url", message: `"${smtpUrl}" is not smtp://host:port or smtps://host:port` });
  if (!smtpUrl && names.mail.size > 0) errors.push({ key: "prodgate.smtp.url", message: "is not set, and mail is configured" });

  const reportUrl = last("prodgate.reporturl") || null;
  if (reportUrl && !httpUrl(reportUrl))
    errors.push({ key: "prodgate.reportUrl", message: `"${reportUrl}" is not an http:// or https:// URL` });

  let retryBase = 60;
  const retryValue = last("prodgate.events.retrybase");
  if (retryValue !== undefined) {
    const n = Number(retryValue);
    if (retryValue.trim() === "" || !Number.isFinite(n) || n <= 0)
      errors.push({ key: "prodgate.events.retryBase", message: `"${retryValue}" is not a number of seconds` });
    else retryBase = n;
  }
  let fixMaxAgeDays = 14;
  const ageValue = last("prodgate.fixmaxagedays");
  if (ageValue !== undefined) {
    const n = Number(ageValue);
    if (!/^\d+$/.test(ageValue)) errors.push({ key: "prodgate.fixMaxAgeDays", message: `"${ageValue}" is not a whole number of days` });
    else fixMaxAgeDays = n;
  }
  return {
    endpoints,
    smtp: { url: smtpUrl, passwordFile: last("prodgate.smtp.passwordfile") || null },
    reportUrl,
    retryBase,
    fixMaxAgeDays,
    errors,
  };
}

function safeUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

function httpUrl(text: string): boolean {
  const u = safeUrl(text);
  return !!u && (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
}
