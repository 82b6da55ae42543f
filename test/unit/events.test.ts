// The events' pure parts: signing, the retry schedule, type globs, the
// configuration's mistakes, what an audit row tells, and the mail's subject.
import { describe, expect, it } from "vitest";
import { parseConfigOutput } from "../../src/config";
import { eventsOfAuditRow } from "../../src/events/audit";
import { eventsConfigFromValues } from "../../src/events/config";
import { retryDelayMs, signature } from "../../src/events/deliver";
import { mailBody, mailSubject } from "../../src/events/mail";
import { globKnown, type ProdgateEvent, typeMatches } from "../../src/events/types";

const values = (pairs: [string, string][]) => parseConfigOutput(pairs.map(([k, v]) => `${k}\n${v}\0`).join(""));

describe("signature", () => {
  it("is GitHub's X-Hub-Signature-256 (their documented example)", () => {
    expect(signature("It's a Secret to Everybody", "Hello, World!")).toBe(
      "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    );
  });
});

describe("retry schedule", () => {
  const minute = 60;
  it.each([
    [1, 0, 60_000],
    [2, 0, 120_000],
    [3, 0, 240_000],
    [6, 0, 1_920_000],
    [7, 0, 3_600_000], // 64 min capped at 1 h
    [30, 0, 3_600_000],
    [30, 24 * 3600 * 1000 - 1, 3_600_000],
  ])("retry %i, %i ms after the event: wait %i ms", (attempts, since, wait) => {
    expect(retryDelayMs(minute, attempts, since)).toBe(wait);
  });
  it("gives up 24 h after the event", () => expect(retryDelayMs(minute, 30, 24 * 3600 * 1000)).toBeNull());
  it("scales with the base", () => {
    expect(retryDelayMs(0.2, 1, 0)).toBe(200);
    expect(retryDelayMs(0.2, 20, 0)).toBe(12_000);
    expect(retryDelayMs(0.2, 2, 288_000)).toBeNull();
  });
});

describe("event type globs", () => {
  it.each([
    ["*", "production-stable.moved", true],
    ["production-stable.moved", "production-stable.moved", true],
    ["production-stable.*", "production-stable.moved", true],
    ["fix.*", "fix.back", true],
    ["fix.*", "fix", false],
    ["*.recorded", "deploy.recorded", true],
    ["verdict.recorded", "verdict.bad", false],
    ["verdict?recorded", "verdict.recorded", false],
    ["verdict.recorded", "verdictXrecorded", false],
  ])("%s matches %s: %s", (glob, type, expected) => expect(typeMatches(glob, type)).toBe(expected));
  it("knows a glob that matches no type", () => {
    expect(globKnown("fix.*")).toBe(true);
    expect(globKnown("deploy.done")).toBe(false);
  });
});

describe("events configuration", () => {
  it("reads webhooks and mail, names each mistake by its key, and defaults to every type", () => {
    const cfg = eventsConfigFromValues(
      values([
        ["prodgate.webhook.deploy.url", "https://deploy.example.com/hook"],
        ["prodgate.webhook.deploy.secretFile", "/etc/prodgate/deploy.secret"],
        ["prodgate.webhook.deploy.events", "production-stable.moved"],
        ["prodgate.webhook.broken.url", "ftp://example.com"],
        ["prodgate.webhook.broken.events", "no.such"],
        ["prodgate.webhook.broken.secret", "in-config"],
        ["prodgate.mail.qa.to", "qa@example.com"],
        ["prodgate.mail.qa.to", "not an address"],
        ["prodgate.events.retryBase", "soon"],
        ["prodgate.fixMaxAgeDays", "-1"],
      ]),
    );
    expect(cfg.endpoints.map((e) => [e.key, e.events])).toEqual([
      ["webhook.broken", ["no.such"]],
      ["webhook.deploy", ["production-stable.moved"]],
      ["mail.qa", ["*"]],
    ]);
    expect([...new Set(cfg.errors.map((e) => e.key))].sort()).toEqual([
      "prodgate.events.retryBase",
      "prodgate.fixMaxAgeDays",
      "prodgate.mail.qa.to",
      "prodgate.smtp.url",
      "prodgate.webhook.broken.events",
      "prodgate.webhook.broken.secret",
      "prodgate.webhook.broken.secretFile",
      "prodgate.webhook.broken.url",
    ]);
    expect(cfg.errors.find((e) => e.key === "prodgate.webhook.broken.events")!.message).toBe('"no.such" matches no event type');
    expect(cfg.retryBase).toBe(60);
    expect(cfg.fixMaxAgeDays).toBe(14);
  });

  it("a bad smtp URL is named", () => {
    const cfg = eventsConfigFromValues(values([["prodgate.smtp.url", "mail.example.com"]]));
    expect(cfg.errors).toEqual([{ key: "prodgate.smtp.url", message: '"mail.example.com" is not smtp://host:port or smtps://host:port' }]);
  });
});

describe("events of audit rows", () => {
  it.each([
    [{ decision: "rejected", user: "dev", ref: "refs/heads/production-stable", code: "unapproved", reason: "no" }, ["push.rejected"]],
    [{ decision: "override", user: "ada", ref: "refs/heads/production-stable", reason: "outage" }, ["override.used"]],
    [{ decision: "freeze", user: "ada", reason: "release" }, ["freeze"]],
    [{ decision: "thaw", user: "ada" }, ["thaw"]],
    [{ decision: "accepted", user: "dev", ref: "refs/heads/devel" }, []],
    [{ decision: "verdict", user: "quinn" }, []],
    [{ decision: "mirror", user: "prodgate" }, []],
  ])("%j → %j", (row, types) => expect(eventsOfAuditRow(row).map((e) => e.type)).toEqual(types));
});

describe("mail", () => {
  const event = (type: ProdgateEvent["type"], data: Record<string, unknown>, actor = "quinn"): ProdgateEvent => ({
    id: "e1",
    type,
    at: "2026-11-29T07:00:00.000Z",
    repository: "app",
    actor,
    data,
  });
  const sha = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d";
  it.each([
    [
      event("production-stable.moved", { to: sha, revno: 16800, revisions: new Array(12).fill({}) }),
      "[prodgate app] production-stable moved to r16800 (+12 revisions)",
    ],
    [
      event("production-stable.moved", { to: sha, revno: 7, revisions: [{}] }),
      "[prodgate app] production-stable moved to r7 (+1 revision)",
    ],
    [event("verdict.bad", { sha, revno: 42, verdict: "bad" }), "[prodgate app] r42 1a2b3c4 marked bad by quinn"],
    [event("qa.waiting", { revisions: [{ revno: 41 }, { revno: 43 }] }, "dev"), "[prodgate app] 2 revisions of stable await QA (r41..r43)"],
    [
      event("mirror.blocked", { files: ["a.txt", "b.txt"] }, "prodgate"),
      "[prodgate app] the mirror is blocked: merge conflict in a.txt, b.txt",
    ],
    [
      event("push.rejected", { ref: "refs/heads/production-stable", code: "unapproved" }, "dev"),
      "[prodgate app] push of refs/heads/production-stable by dev refused (unapproved)",
    ],
  ])("subject of %#", (e, subject) => expect(mailSubject(e)).toBe(subject));

  it("lists each revision with its verdict and who gave it, and the report's URL", () => {
    const body = mailBody(
      event("production-stable.moved", {
        from: sha,
        to: sha,
        how: "fast-forward",
        revno: 2,
        revisions: [{ sha, revno: 2, subject: "Fix the login form", verdict: "ok", by: "quinn" }],
        fixes: [],
      }),
      "https://deploy.example.com/app.html",
    );
    expect(body).toContain("r2 1a2b3c4");
    expect(body).toMatch(/r2 1a2b3c4 +ok +\(quinn\) +Fix the login form/);
    expect(body).toContain("Deployment report: https://deploy.example.com/app.html");
  });

  it("a subject never carries a line break from the data", () => {
    expect(mailSubject(event("freeze", { reason: "a\r\nBcc: x@example.com" }, "ada"))).not.toMatch(/[\r\n]/);
  });
});
