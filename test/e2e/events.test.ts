// Events: the outbox written with each change, delivered by `prodgate deliver`
// to a real webhook receiver and a real SMTP server on loopback.
import Database from "better-sqlite3";
import { chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startIn, until } from "../helpers/background";
import { MailServer, WebhookReceiver } from "../helpers/receivers";
import { type Clone, MAIN, type RunResult, type Sandbox, standardSandbox } from "../helpers/repo";

let sb: Sandbox;
let work: Clone;
let receiver: WebhookReceiver;
const SECRET = "It's a Secret to Everybody";

interface EventRow {
  id: string;
  type: string;
  at: string;
  actor: string | null;
  data: Record<string, unknown>;
  deliveries: { endpoint: string; state: string; attempts: number; lastStatus: string | null }[];
}

/** The admin command, run without blocking this process (the receivers live here). */
async function prodgate(args: string[], user?: string, env: Record<string, string> = {}): Promise<RunResult> {
  return startIn(sb, process.execPath, [MAIN, "--repo", sb.bare, ...args], sb.root, { ...(user ? { GL_USER: user } : {}), ...env }).done;
}

async function push(args: string[], user = "dev", env: Record<string, string> = {}): Promise<RunResult & { output: string }> {
  const r = await startIn(sb, "git", ["push", ...args], work.dir, { GL_USER: user, ...env }).done;
  return { ...r, output: r.stdout + r.stderr };
}

async function events(args: string[] = []): Promise<EventRow[]> {
  const r = await prodgate(["events", ...args, "--json"]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as EventRow[];
}

function setConfig(key: string, value: string): void {
  sb.git(["config", key, value], { cwd: sb.bare });
}

function webhook(name: string, url: string, types: string[] = []): void {
  const secretFile = join(sb.root, `${name}.secret`);
  writeFileSync(secretFile, `${SECRET}\n`);
  chmodSync(secretFile, 0o600);
  setConfig(`prodgate.webhook.${name}.url`, url);
  setConfig(`prodgate.webhook.${name}.secretFile`, secretFile);
  for (const t of types) sb.git(["config", "--add", `prodgate.webhook.${name}.events`, t], { cwd: sb.bare });
}

beforeEach(async () => {
  ({ sb, work } = standardSandbox());
  receiver = await WebhookReceiver.start(SECRET);
  // Retries in tenths of a second: the same schedule as in production, scaled down (1 min → 0.2 s).
  setConfig("prodgate.events.retryBase", "0.2");
});
afterEach(async () => {
  await receiver.close();
  sb.cleanup();
});

describe("events", () => {
  it("a verdict moves production-stable: the moved event carries the revisions and their verdicts, signed", async () => {
    webhook("deploy", receiver.url, ["production-stable.moved"]);
    expect((await prodgate(["qa", "ok", "r1"], "quinn")).status).toBe(0);
    await until(() => receiver.delivered.length === 1, "the first moved event");
    work.commit("r2: second");
    work.commit("r3: third");
    work.land();
    const r = await prodgate(["qa", "ok", "r2..r3", "--note", "staging"], "quinn");
    expect(r.status, r.stderr).toBe(0);
    await until(() => receiver.delivered.length === 2, "the second moved event");

    const moved = receiver.delivered[1]!;
    expect(moved.verified).toBe(true);
    expect(moved.event).toBe("production-stable.moved");
    expect(moved.contentType).toBe("application/json");
    expect(moved.delivery).toBe(moved.body.id);
    expect(moved.body.repository).toBe("server");
    expect(moved.body.actor).toBe("quinn");
    expect(moved.body.data).toMatchObject({
      from: receiver.delivered[0]!.body.data.to,
      to: work.sha("HEAD"),
      revno: 3,
      how: "fast-forward",
      fixes: [],
    });
    expect(moved.body.data.revisions).toEqual([
      { sha: work.sha("HEAD~1"), revno: 2, subject: "r2: second", verdict: "ok", by: "quinn" },
      { sha: work.sha("HEAD"), revno: 3, subject: "r3: third", verdict: "ok", by: "quinn" },
    ]);
    // The endpoint wanted only moves; the outbox holds the rest too.
    const all = await events();
    expect(all.map((e) => e.type)).toEqual(expect.arrayContaining(["production-stable.moved", "verdict.recorded", "qa.waiting"]));
    expect(all.find((e) => e.type === "verdict.recorded")!.deliveries).toEqual([]);
    expect(all.find((e) => e.id === moved.body.id)!.deliveries).toEqual([
      expect.objectContaining({ endpoint: "webhook.deploy", state: "delivered", attempts: 1, lastStatus: "200" }),
    ]);
  });

  it("a move of more than 1000 revisions lists the newest 1000 and says how many came", async () => {
    webhook("deploy", receiver.url, ["production-stable.moved"]);
    const stream = [`reset refs/heads/devel\nfrom ${work.sha("HEAD")}\n\n`];
    for (let i = 2; i <= 1006; i++)
      stream.push(`commit refs/heads/devel\ncommitter T <t@example.com> ${1700000000 + i} +0000\ndata ${`r${i}`.length}\nr${i}\n\n`);
    sb.git(["fast-import", "--quiet"], { cwd: work.dir, input: stream.join("") });
    work.git(["reset", "--quiet", "--hard", "devel"]);
    work.land();
    expect((await prodgate(["qa", "ok", "r1..r1006"], "quinn")).status).toBe(0);
    await until(() => receiver.delivered.length === 1, "the moved event");
    const data = receiver.delivered[0]!.body.data as { revno: number; revisionCount: number; revisions: { revno: number }[] };
    expect(data.revno).toBe(1006);
    expect(data.revisionCount).toBe(1006);
    expect(data.revisions).toHaveLength(1000);
    expect([data.revisions[0]!.revno, data.revisions.at(-1)!.revno]).toEqual([7, 1006]);
  }, 60_000);

  it("a stable push raises qa.waiting with the revisions awaiting QA", async () => {
    webhook("qa", receiver.url, ["qa.*"]);
    work.commit("r2: needs a look");
    work.land();
    await until(() => receiver.delivered.length === 1, "qa.waiting");
    expect(receiver.delivered[0]!.body.type).toBe("qa.waiting");
    expect(receiver.delivered[0]!.body.data.revisions).toEqual([{ sha: work.sha("HEAD"), revno: 2, subject: "r2: needs a look" }]);
  });

  it("a 500 is retried with backoff, with the same delivery id, until the receiver takes it", async () => {
    webhook("deploy", receiver.url, ["production-stable.moved"]);
    receiver.failFirst = 2;
    expect((await prodgate(["qa", "ok", "r1"], "quinn")).status).toBe(0);
    await until(() => receiver.delivered.length === 1, "delivery after two 500s");
    expect(receiver.requests.map((r) => r.answered)).toEqual([500, 500, 200]);
    expect(new Set(receiver.requests.map((r) => r.delivery)).size).toBe(1);
    expect(new Set(receiver.requests.map((r) => r.body.id)).size).toBe(1);
    const [moved] = await events(["--type", "production-stable.moved"]);
    expect(moved!.deliveries[0]).toMatchObject({ state: "delivered", attempts: 3, lastStatus: "200" });
  });

  it("a receiver that never answers holds no push; its event is retried after the timeout", async () => {
    webhook("slow", receiver.url);
    receiver.mode = "hang";
    work.commit("r2");
    work.land();
    await until(() => receiver.hangingCount === 1, "the deliverer waiting on the hanging receiver");
    // While that request hangs, pushes go through at their usual pace.
    for (let i = 0; i < 3; i++) {
      work.commit(`r${3 + i}`);
      for (const target of ["HEAD:devel", "HEAD:stable"]) {
        const started = Date.now();
        const p = await push(["origin", target]);
        expect(p.status, p.output).toBe(0);
        // Below the 5 s the deliverer waits for an answer: no push waited for it.
        expect(Date.now() - started).toBeLessThan(4500);
      }
    }
    // The deliverer gave up on the attempt after 5 s and keeps the event queued.
    receiver.mode = 200;
    await until(() => receiver.delivered.length >= 4, "delivery once the receiver answers", 30_000);
    expect(receiver.delivered.map((r) => r.body.type)).toEqual(["qa.waiting", "qa.waiting", "qa.waiting", "qa.waiting"]);
  }, 60_000);

  it("each endpoint gets its events in the order they were written, a failing one holding back the later ones", async () => {
    webhook("all", receiver.url, ["verdict.recorded"]);
    for (let i = 2; i <= 6; i++) work.commit(`r${i}`);
    work.land();
    receiver.failFirst = 3;
    for (const r of ["r1", "r2", "r3", "r4", "r5", "r6"]) expect((await prodgate(["qa", "ok", r], "quinn")).status).toBe(0);
    await until(() => receiver.delivered.length === 6, "six verdicts delivered");
    const revnos = receiver.requests.map((r) => r.body.data.revno);
    // The first verdict failed three times; nothing after it was sent meanwhile.
    expect(revnos).toEqual([1, 1, 1, 1, 2, 3, 4, 5, 6]);
    const written = (await events(["--type", "verdict.recorded"])).reverse().map((e) => e.id);
    expect(receiver.delivered.map((r) => r.body.id)).toEqual(written);
  });

  it("a deliverer killed before it sends loses nothing: sync delivers the event, once", async () => {
    webhook("deploy", receiver.url, ["production-stable.moved"]);
    expect((await prodgate(["qa", "ok", "r1"], "quinn", { PRODGATE_FAULT: "before-delivery-sent" })).status).toBe(0);
    // Queued by the deliverer, which then died (SIGKILL) before sending: its lock is free again.
    await until(() => queued("production-stable.moved") && !delivererRunning(), "the deliverer killed after queueing");
    expect(receiver.requests).toEqual([]);
    const s = await prodgate(["sync"]);
    expect(s.status, s.stderr).toBe(0);
    expect(receiver.delivered.map((r) => r.event)).toEqual(["production-stable.moved"]);
    expect((await prodgate(["sync"])).status).toBe(0);
    expect(receiver.requests.length).toBe(1);
  });

  it("a deliverer killed after the receiver answered, before marking it: sync sends it again with the same id (at least once)", async () => {
    webhook("deploy", receiver.url, ["production-stable.moved"]);
    expect((await prodgate(["qa", "ok", "r1"], "quinn", { PRODGATE_FAULT: "before-delivery-marked" })).status).toBe(0);
    await until(() => receiver.delivered.length === 1 && !delivererRunning(), "the deliverer killed after the receiver answered");
    const [moved] = await events(["--type", "production-stable.moved"]);
    expect(moved!.deliveries[0]).toMatchObject({ state: "pending", attempts: 0 });
    expect((await prodgate(["sync"])).status).toBe(0);
    expect(receiver.delivered.map((r) => r.delivery)).toEqual([moved!.id, moved!.id]);
    const [after] = await events(["--type", "production-stable.moved"]);
    expect(after!.deliveries[0]).toMatchObject({ state: "delivered", attempts: 1 });
  });

  it("redeliver sends an event again now, with the same delivery id", async () => {
    webhook("deploy", receiver.url, ["production-stable.moved"]);
    webhook("audit", receiver.url, ["verdict.*"]);
    expect((await prodgate(["qa", "ok", "r1"], "quinn")).status).toBe(0);
    await until(() => receiver.delivered.length === 2, "the verdict and the move delivered");
    const [moved] = await events(["--type", "production-stable.moved"]);
    const r = await prodgate(["events", "redeliver", moved!.id]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("webhook.deploy: delivered (200)");
    expect(receiver.requests.length).toBe(3);
    expect(receiver.requests[2]!.delivery).toBe(moved!.id);
    expect(receiver.requests[2]!.verified).toBe(true);
    // To an endpoint of one's choice, even one that did not subscribe to it.
    const to = await prodgate(["events", "redeliver", moved!.id, "--to", "audit"]);
    expect(to.status, to.stderr).toBe(0);
    expect(receiver.requests.length).toBe(4);
    // Bad input: one line, exit 2, nothing sent.
    const unknown = await prodgate(["events", "redeliver", moved!.id, "--to", "nobody"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr.trim().split("\n")).toHaveLength(1);
    expect(unknown.stderr).toContain('no webhook or mail endpoint is called "nobody"');
    expect((await prodgate(["events", "redeliver", "no-such-id"])).status).toBe(2);
    expect(receiver.requests.length).toBe(4);
  });

  it("a push while a deliverer waits on a slow receiver starts no second one; the running one delivers its events", async () => {
    webhook("deploy", receiver.url, ["production-stable.moved"]);
    receiver.mode = "hang";
    expect((await prodgate(["qa", "ok", "r1"], "quinn")).status).toBe(0);
    await until(() => receiver.hangingCount === 1 && delivererRunning(), "the deliverer waiting on the receiver");
    work.commit("r2: second");
    work.land();
    work.git(["tag", "qa/ok/r2", "HEAD"]);
    const trace = join(sb.root, "trace");
    const p = await push(["origin", "qa/ok/r2"], "quinn", { PRODGATE_TRACE: trace });
    expect(p.status, p.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
    // The verdict moved production-stable (an event for the webhook): post-receive ran and started nothing.
    expect(readFileSync(trace, "utf8")).toMatch(/^post-receive \d+ms git=\d+$/m);
    receiver.mode = 200;
    receiver.release();
    await until(() => receiver.delivered.length === 2, "both moves delivered by the deliverer that was running");
    expect(receiver.delivered.map((r) => r.body.data.to)).toEqual([work.sha("HEAD~1"), work.sha("HEAD")]);
    // The verdict given by the command started one (a deliverer was not running then).
    receiver.mode = "hang";
    await until(() => !delivererRunning(), "the deliverer to exit");
    work.commit("r3: third");
    work.land();
    work.git(["tag", "qa/ok/r3", "HEAD"]);
    expect((await push(["origin", "qa/ok/r3"], "quinn", { PRODGATE_TRACE: trace })).status).toBe(0);
    expect(readFileSync(trace, "utf8").trim().split("\n").at(-1)).toMatch(/^post-receive \d+ms git=\d+ deliverer$/);
    await until(() => receiver.hangingCount === 1, "the new deliverer's request");
  }, 60_000);

  it("a push while sync's one delivery pass holds the lock: its events are delivered all the same", async () => {
    webhook("deploy", receiver.url, ["production-stable.moved"]);
    // r1's move queued, its deliverer killed before sending: sync's pass has something to send.
    expect((await prodgate(["qa", "ok", "r1"], "quinn", { PRODGATE_FAULT: "before-delivery-sent" })).status).toBe(0);
    await until(() => queued("production-stable.moved") && !delivererRunning(), "the deliverer killed after queueing");
    receiver.mode = "hang";
    const sync = startIn(sb, process.execPath, [MAIN, "--repo", sb.bare, "sync"], sb.root, {});
    await until(() => receiver.hangingCount === 1 && delivererRunning(), "sync's delivery pass waiting on the receiver");
    receiver.mode = 200;
    work.commit("r2: second");
    work.land();
    work.git(["tag", "qa/ok/r2", "HEAD"]);
    const trace = join(sb.root, "trace");
    const p = await push(["origin", "qa/ok/r2"], "quinn", { PRODGATE_TRACE: trace });
    expect(p.status, p.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
    // The lock was held (by sync's pass): the push started no deliverer of its own.
    expect(readFileSync(trace, "utf8")).toMatch(/^post-receive \d+ms git=\d+$/m);
    receiver.answerHanging(200);
    expect((await sync.done).status).toBe(0);
    await until(() => receiver.delivered.length === 2, "r2's move delivered after sync's pass", 20_000);
    expect(receiver.delivered.map((r) => r.body.data.to)).toEqual([work.sha("HEAD~1"), work.sha("HEAD")]);
  }, 60_000);

  it("a push between the deliverer's last look and its letting go of the lock: the deliverer delivers its events", async () => {
    webhook("deploy", receiver.url, ["production-stable.moved"]);
    // The deliverer the command starts stops itself after its last look, still holding the lock.
    expect((await prodgate(["qa", "ok", "r1"], "quinn", { PRODGATE_PAUSE: "deliverer-before-unlock" })).status).toBe(0);
    let pid: number | null = null;
    await until(() => receiver.delivered.length === 1 && (pid = stoppedDeliverer()) !== null, "the deliverer stopped before letting go");
    try {
      expect(delivererRunning()).toBe(true);
      await pushBetweenLookAndUnlock(pid!);
    } finally {
      // Never leave a stopped deliverer behind, whatever failed.
      try {
        process.kill(pid!, "SIGCONT");
      } catch {
        // It has exited.
      }
    }
    await until(() => !delivererRunning(), "the deliverer to exit");
  }, 60_000);

  async function pushBetweenLookAndUnlock(pid: number): Promise<void> {
    work.commit("r2: second");
    work.land();
    work.git(["tag", "qa/ok/r2", "HEAD"]);
    const trace = join(sb.root, "trace");
    const p = await push(["origin", "qa/ok/r2"], "quinn", { PRODGATE_TRACE: trace });
    expect(p.status, p.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
    // The lock was held: the push counted on its holder and started none.
    expect(readFileSync(trace, "utf8")).toMatch(/^post-receive \d+ms git=\d+$/m);
    process.kill(pid, "SIGCONT");
    // It lets go, looks once more, finds r2's move and delivers it (then stops again at the same step).
    await until(() => receiver.delivered.length === 2 && stoppedDeliverer() === pid, "r2's move delivered by the same deliverer", 20_000);
    expect(receiver.delivered.map((r) => r.body.data.to)).toEqual([work.sha("HEAD~1"), work.sha("HEAD")]);
  }

  it("a failing receiver's event is listed by --failed, and given up after the retry window", async () => {
    webhook("deploy", receiver.url, ["production-stable.moved"]);
    // 1440 × 0.01 s = 14.4 s instead of 24 h.
    setConfig("prodgate.events.retryBase", "0.01");
    receiver.mode = 500;
    expect((await prodgate(["qa", "ok", "r1"], "quinn")).status).toBe(0);
    await until(() => receiver.requests.length >= 2, "a retry");
    const failing = await events(["--failed"]);
    expect(failing.map((e) => e.type)).toEqual(["production-stable.moved"]);
    expect(failing[0]!.deliveries[0]).toMatchObject({ state: "retrying", lastStatus: "500" });
    await until(() => queuedState("production-stable.moved") === "failed", "the delivery given up", 40_000);
    // With nothing left to deliver, the deliverer exits (it marks the delivery failed first, then lets go of its lock).
    await until(() => !delivererRunning(), "the deliverer to exit with nothing left to deliver", 10_000);
    const count = receiver.requests.length;
    // Delays double up to 60 × base: a bounded number of attempts in the window.
    expect(count).toBeLessThan(40);
    expect((await prodgate(["sync"])).status).toBe(0);
    expect(receiver.requests.length).toBe(count);
    expect((await events(["--failed"])).map((e) => e.deliveries[0]!.state)).toEqual(["failed"]);
  }, 60_000);

  it("a configuration mistake never fails a push: doctor names the key, the events wait, and go once it is fixed", async () => {
    webhook("deploy", "http://", ["production-stable.moved", "no.such.event"]);
    work.git(["tag", "qa/ok/r1", "HEAD"]);
    const p = await push(["origin", "qa/ok/r1"], "quinn");
    expect(p.status, p.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
    const doctor = await prodgate(["doctor"]);
    expect(doctor.status).toBe(1);
    expect(doctor.stdout).toContain("prodgate.webhook.deploy.url");
    expect(doctor.stdout).toContain('prodgate.webhook.deploy.events: "no.such.event" matches no event type');
    await until(() => queued("production-stable.moved"), "the event queued");
    expect(receiver.requests).toEqual([]);
    setConfig("prodgate.webhook.deploy.url", receiver.url);
    expect((await prodgate(["sync"])).status).toBe(0);
    expect(receiver.delivered.map((r) => r.event)).toEqual(["production-stable.moved"]);
  });

  it("doctor fails a secret file others can read", async () => {
    webhook("deploy", receiver.url);
    chmodSync(join(sb.root, "deploy.secret"), 0o644);
    const doctor = await prodgate(["doctor"]);
    expect(doctor.status).toBe(1);
    expect(doctor.stdout).toMatch(
      /FAIL +webhook deploy: prodgate\.webhook\.deploy\.secretFile: .* can be read or written by group or others/,
    );
    chmodSync(join(sb.root, "deploy.secret"), 0o600);
    const ok = await prodgate(["doctor"]);
    expect(ok.stdout).toMatch(/OK +webhook deploy: http:\/\/127\.0\.0\.1/);
  });

  it("events test sends a signed ping", async () => {
    webhook("deploy", receiver.url, ["production-stable.moved"]);
    const r = await prodgate(["events", "test", "deploy"], "ada");
    expect(r.status, r.stderr).toBe(0);
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]).toMatchObject({ event: "ping", verified: true });
    receiver.mode = 500;
    const bad = await prodgate(["events", "test", "deploy"], "ada");
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain("ping NOT delivered (500)");
  });

  it("a refused push of a governed ref is an event; a push prodgate does not govern is not", async () => {
    webhook("security", receiver.url, ["push.rejected", "override.used"]);
    work.commit("unapproved");
    const refused = await push(["origin", "HEAD:production-stable"]);
    expect(refused.status).not.toBe(0);
    const feature = await push(["origin", "HEAD:refs/heads/feature"]);
    expect(feature.status, feature.output).toBe(0);
    await until(() => receiver.delivered.length === 1, "push.rejected");
    expect(receiver.delivered[0]!.body).toMatchObject({
      type: "push.rejected",
      actor: "dev",
      data: { ref: "refs/heads/production-stable" },
    });
    const override = await push(["-o", "prodgate.override=hotfix for the outage", "origin", "HEAD:production-stable"], "ada");
    expect(override.status, override.output).toBe(0);
    await until(() => receiver.delivered.length === 2, "override.used");
    expect(receiver.delivered[1]!.body).toMatchObject({ type: "override.used", actor: "ada", data: { reason: "hotfix for the outage" } });
    expect((await events(["--type", "push.rejected"])).length).toBe(1);
    const moved = await events(["--type", "production-stable.moved"]);
    expect(moved.map((e) => [e.actor, e.data.how, e.data.to])).toEqual([["ada", "fast-forward", work.sha("HEAD")]]);
    // What it let through is listed under the override, and is no security fix.
    const used = receiver.delivered[1]!.body.data as { commits: { sha: string; subject: string }[]; commitCount: number };
    expect(used.commits).toContainEqual(expect.objectContaining({ sha: work.sha("HEAD"), subject: "unapproved" }));
    expect(used.commitCount).toBe(used.commits.length);
    expect(moved[0]!.data.fixes).toEqual([]);
    expect(await events(["--type", "fix.promoted"])).toEqual([]);
    // An override that forces production-stable aside says so.
    work.git(["reset", "--quiet", "--hard", "HEAD~1"]);
    work.commit("another unapproved");
    const forced = await push(["-o", "prodgate.override=roll back the hotfix", "origin", "+HEAD:production-stable"], "ada");
    expect(forced.status, forced.output).toBe(0);
    const [last] = await events(["--type", "production-stable.moved"]);
    expect(last!.data).toMatchObject({ how: "forced", to: work.sha("HEAD"), fixes: [] });
  });

  it("a move lists each revision with its verdict combined over its tickets, not the newest verdict row alone", async () => {
    webhook("deploy", receiver.url, ["production-stable.moved"]);
    const r2 = work.commit("r2: fix login and logout [bug=1] [bug=2]");
    expect((await push(["origin", "HEAD:devel"])).status).toBe(0);
    expect((await push(["origin", "HEAD:stable"])).status).toBe(0);
    // Ticket 1 tried and ok; ticket 2 never tried: r2 still needs testing, and the mirror leaves it.
    expect((await prodgate(["qa", "ok", "--ticket", "1", "r2"], "quinn")).status).toBe(0);
    expect(sb.tip("production-stable")).not.toBe(r2);
    const override = await push(["-o", "prodgate.override=ship the login fix now", "origin", "HEAD:production-stable"], "ada");
    expect(override.status, override.output).toBe(0);
    await until(() => receiver.delivered.length === 1, "production-stable.moved");
    const data = receiver.delivered[0]!.body.data as { revisions: { sha: string; verdict: string | null }[] };
    expect(data.revisions.find((r) => r.sha === r2)).toMatchObject({ verdict: "needstesting" });
  });

  it("mail: one plain-text message a person reads in five seconds", async () => {
    const smtp = await MailServer.start();
    try {
      setConfig("prodgate.smtp.url", smtp.url);
      sb.git(["config", "--add", "prodgate.mail.release.to", "ops@example.com"], { cwd: sb.bare });
      sb.git(["config", "--add", "prodgate.mail.release.to", "qa-lead@example.com"], { cwd: sb.bare });
      setConfig("prodgate.mail.release.events", "production-stable.moved");
      setConfig("prodgate.reportUrl", "https://deploy.example.com/app.html");
      work.commit("r2: fix the login form");
      work.land();
      const r = await prodgate(["qa", "ok", "r1..r2"], "quinn");
      expect(r.status, r.stderr).toBe(0);
      await until(() => smtp.mails.length === 1, "the mail");
      const mail = smtp.mails[0]!;
      expect(mail.to).toEqual(["ops@example.com", "qa-lead@example.com"]);
      expect(mail.from).toBe("prodgate@localhost");
      expect(mail.subject).toBe("[prodgate server] production-stable moved to r2 (+2 revisions)");
      expect(mail.text).toMatch(/r1 [0-9a-f]{7} +ok +\(quinn\) +r1: initial/);
      expect(mail.text).toMatch(/r2 [0-9a-f]{7} +ok +\(quinn\) +r2: fix the login form/);
      expect(mail.text).toContain("Deployment report: https://deploy.example.com/app.html");
      expect(mail.text).toContain("Content-Type: text/plain");
      const [moved] = await events(["--type", "production-stable.moved"]);
      expect(moved!.deliveries).toEqual([expect.objectContaining({ endpoint: "mail.release", state: "delivered", attempts: 1 })]);
    } finally {
      await smtp.close();
    }
  });

  it("mail: a password is never sent where the server offers no TLS", async () => {
    const smtp = await MailServer.start();
    try {
      const passwordFile = join(sb.root, "smtp.password");
      writeFileSync(passwordFile, "hunter2\n");
      chmodSync(passwordFile, 0o600);
      setConfig("prodgate.smtp.url", smtp.url.replace("smtp://", "smtp://mailer@"));
      setConfig("prodgate.smtp.passwordFile", passwordFile);
      setConfig("prodgate.mail.release.to", "ops@example.com");
      setConfig("prodgate.mail.release.events", "verdict.recorded");
      expect((await prodgate(["qa", "ok", "r1"], "quinn")).status).toBe(0);
      // The deliverer the command started has tried once when the delivery row says so.
      for (let i = 0; i < 600; i++) {
        const [v] = await events(["--type", "verdict.recorded"]);
        if ((v?.deliveries[0]?.attempts ?? 0) >= 1) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(smtp.auths).toEqual([]);
      expect(smtp.mails).toEqual([]);
      const [v] = await events(["--type", "verdict.recorded"]);
      expect(v!.deliveries[0]!.state).not.toBe("delivered");
    } finally {
      await smtp.close();
    }
  });

  it("operations: deploy.recorded, cowboy.added and cowboy.retired", async () => {
    webhook("ops", receiver.url, ["deploy.*", "cowboy.*"]);
    sb.grant("ops", "olga");
    expect((await prodgate(["qa", "ok", "r1"], "quinn")).status).toBe(0);
    const fix = work.commit("hot fix", { "fix.txt": "fixed\n" });
    work.push(["origin", "HEAD:refs/heads/hotfix"], "dev");
    const c = await prodgate(["cowboy", "add", "web1", "--commit", fix, "--reason", "outage"], "olga");
    expect(c.status, c.stderr).toBe(0);
    work.land();
    expect((await prodgate(["qa", "ok", "r2"], "quinn")).status).toBe(0);
    const d = await prodgate(["deploy", "record", "web1", "production-stable"], "olga");
    expect(d.status, d.stderr).toBe(0);
    await until(() => receiver.delivered.length === 3, "three operations events");
    expect(receiver.delivered.map((r) => r.event)).toEqual(["cowboy.added", "deploy.recorded", "cowboy.retired"]);
    expect(receiver.delivered[1]!.body.data).toMatchObject({ target: "web1", sha: fix, onProduction: true });
    expect(receiver.delivered[2]!.body.data).toMatchObject({ target: "web1", how: "ancestry", commit: fix });
  });
});

describe("events of security fixes and of the mirror", () => {
  function promoteFix(): string {
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
    const fix = work.commit("Fix auth bypass", { "auth.c": "check the password\n" });
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
    const p = work.push(["origin", "secfix:production-stable"], "sam");
    expect(p.status, p.output).toBe(0);
    return fix;
  }

  it("a promotion: fix.promoted and production-stable.moved with the fix; fix.back when it returns; fix.overdue from sync once a day", async () => {
    // Someone listens: a push's moved event is built only then (docs/reference.md#events).
    webhook("all", receiver.url);
    expect((await prodgate(["qa", "ok", "r1"], "quinn")).status).toBe(0);
    const base = sb.tip("production-stable");
    const fix = promoteFix();
    const moved = (await events(["--type", "production-stable.moved"]))[0]!;
    expect(moved.actor).toBe("sam");
    expect(moved.data).toMatchObject({ from: base, to: fix, how: "fast-forward", fixes: [{ sha: fix, subject: "Fix auth bypass" }] });
    expect((await events(["--type", "fix.promoted"])).map((e) => e.data)).toEqual([
      expect.objectContaining({ sha: fix, subject: "Fix auth bypass" }),
    ]);
    setConfig("prodgate.fixMaxAgeDays", "0");
    expect((await prodgate(["sync"])).status).toBe(0);
    expect((await prodgate(["sync"])).status).toBe(0);
    const overdue = await events(["--type", "fix.overdue"]);
    expect(overdue.map((e) => e.data)).toEqual([expect.objectContaining({ sha: fix, missing: ["devel", "stable"] })]);
    work.git(["checkout", "--quiet", "devel"]);
    work.git(["merge", "--quiet", "--no-edit", "secfix"]);
    expect(work.push(["origin", "HEAD:devel"]).status).toBe(0);
    expect((await events(["--type", "fix.back"])).map((e) => e.data)).toEqual([
      expect.objectContaining({ fix, branch: "devel", how: "ancestry" }),
    ]);
  });

  it.each(["after-update-ref", "before-db-write"])("a mirror killed at %s: the next sync writes its moved event, once", async (fault) => {
    const killed = await prodgate(["qa", "ok", "r1"], "quinn", { PRODGATE_FAULT: fault });
    expect(killed.status).not.toBe(0);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
    expect(await events(["--type", "production-stable.moved"])).toEqual([]);
    expect((await prodgate(["sync"])).status).toBe(0);
    expect((await prodgate(["sync"])).status).toBe(0);
    const moved = await events(["--type", "production-stable.moved"]);
    expect(moved.map((e) => e.data)).toEqual([
      expect.objectContaining({
        from: null,
        to: work.sha("HEAD"),
        revno: 1,
        revisions: [expect.objectContaining({ revno: 1, verdict: "ok" })],
      }),
    ]);
  });

  it("a push's moved event is not built while no endpoint listens: a promotion reads no history for it", async () => {
    expect((await prodgate(["qa", "ok", "r1"], "quinn")).status).toBe(0);
    const fix = promoteFix();
    expect(sb.tip("production-stable")).toBe(fix);
    expect(await events(["--type", "production-stable.moved"])).toHaveLength(1); // the mirror's, for r1
    expect((await events(["--type", "fix.promoted"])).map((e) => e.data.sha)).toEqual([fix]);
  });

  it("post-receive killed before it recorded a push of production-stable: sync writes the moved event, once", async () => {
    webhook("all", receiver.url);
    expect((await prodgate(["qa", "ok", "r1"], "quinn")).status).toBe(0);
    work.commit("r2");
    work.land();
    expect((await prodgate(["qa", "ok", "r2"], "quinn", { PRODGATE_FAULT: "before-update-ref" })).status).not.toBe(0);
    // production-stable did not move; the approved revision is pushed there by hand, and post-receive dies.
    const p = await push(["origin", "HEAD:production-stable"], "dev", { PRODGATE_FAULT: "before-landing-settled" });
    expect(p.status, p.output).toBe(0);
    expect(sb.tip("production-stable")).toBe(work.sha("HEAD"));
    const before = await events(["--type", "production-stable.moved"]);
    expect(before).toHaveLength(1);
    expect((await prodgate(["sync"])).status).toBe(0);
    expect((await prodgate(["sync"])).status).toBe(0);
    const moved = await events(["--type", "production-stable.moved"]);
    expect(moved).toHaveLength(2);
    expect(moved[0]).toMatchObject({ actor: "dev", data: { from: work.sha("HEAD~1"), to: work.sha("HEAD"), revno: 2, revisionCount: 1 } });
  });

  it("a mirror blocked by a conflict raises mirror.blocked once, and mirror.unblocked when it clears", async () => {
    expect((await prodgate(["qa", "ok", "r1"], "quinn")).status).toBe(0);
    // A promoted fix and a stable revision that change the same line: the mirror cannot merge them.
    work.git(["fetch", "--quiet", "origin"]);
    work.git(["checkout", "--quiet", "-B", "secfix", "origin/production-stable"]);
    const fix = work.commit("Fix", { README: "fixed\n" });
    expect(work.push(["origin", "HEAD:production-devel"], "sam").status).toBe(0);
    expect(sb.prodgate(["ci", "pass", fix], "cid").status).toBe(0);
    expect(work.push(["origin", "secfix:production-stable"], "sam").status).toBe(0);
    work.git(["checkout", "--quiet", "devel"]);
    work.commit("r2: conflicting", { README: "changed on devel\n" });
    work.land();
    expect((await prodgate(["qa", "ok", "r2"], "quinn")).stdout).toContain("merge conflict in README");
    expect((await prodgate(["sync"])).status).toBe(1);
    const blocked = await events(["--type", "mirror.*"]);
    expect(blocked.map((e) => e.type)).toEqual(["mirror.blocked"]);
    expect(blocked[0]!.data).toMatchObject({ why: "conflict", files: ["README"] });
    // Resolved on stable by merging the fix back, keeping its change (production-stable never drops it): the mirror moves again.
    work.git(["merge", "--quiet", "--no-edit", "-X", "theirs", "secfix"]);
    work.land();
    expect((await prodgate(["qa", "ok", "r3"], "quinn")).status).toBe(0);
    expect((await events(["--type", "mirror.*"])).map((e) => e.type)).toEqual(["mirror.unblocked", "mirror.blocked"]);
  });
});

/** Is a deliverer holding the repository's delivery lock? (Asked the way a deliverer asks: an exclusive transaction on it.) */
/** The pid of this sandbox's deliverer stopped by PRODGATE_PAUSE (state T in /proc), or null. */
function stoppedDeliverer(): number | null {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (!args.includes(sb.bare) || !args.includes("deliver")) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("T")) return Number(entry);
    } catch {
      // Gone meanwhile.
    }
  }
  return null;
}

function delivererRunning(): boolean {
  const db = new Database(join(sb.bare, "prodgate", "deliver.lock"), { timeout: 0 });
  try {
    db.exec("BEGIN EXCLUSIVE");
    db.exec("ROLLBACK");
    return false;
  } catch {
    return true;
  } finally {
    db.close();
  }
}

/** The delivery state of the newest event of this type (read directly: the test's process must not block on a command here). */
function queuedState(type: string): string | null {
  const db = new Database(join(sb.bare, "prodgate", "state.db"), { readonly: true });
  try {
    const row = db
      .prepare("SELECT d.state FROM deliveries d JOIN events e ON e.id = d.event_id WHERE e.type = ? ORDER BY e.id DESC LIMIT 1")
      .pluck()
      .get(type) as string | undefined;
    return row ?? null;
  } finally {
    db.close();
  }
}

function queued(type: string): boolean {
  return queuedState(type) !== null;
}
