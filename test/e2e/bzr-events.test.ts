// Events on a Bazaar repository: what the server's changes and the admin
// command write goes out to webhooks as it does for git, through the same
// deliverer (started by the server's change path and by commands).
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../helpers/background";
import { type BzrServer, hasBrz, servedBzr } from "../helpers/bzr";
import { WebhookReceiver } from "../helpers/receivers";

const SECRET = "bazaar secret";

describe.skipIf(!hasBrz)("events from a Bazaar repository (skipped where brz is absent: run .ci/deps-bzr.sh)", () => {
  let s: BzrServer;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start(SECRET);
    s = await servedBzr("bzr-events", (t) => {
      const config = `${t.srv}.prodgate/config`;
      const secretFile = join(t.root, "hook.secret");
      writeFileSync(secretFile, `${SECRET}\n`);
      chmodSync(secretFile, 0o600);
      for (const [key, value] of [
        ["prodgate.webhook.ops.url", receiver.url],
        ["prodgate.webhook.ops.secretFile", secretFile],
        ["prodgate.events.retryBase", "0.2"],
      ]) {
        expect(t.run("git", ["config", "--file", config, key!, value!]).status).toBe(0);
      }
      // Pushes through the server count as sam's.
      return { GL_USER: "sam" };
    });
    s.commit("a.txt", "first change");
    expect(s.brz(["push", "-q", s.url("devel")]).status).toBe(0);
    expect(s.brz(["push", "-q", s.url("stable")]).status).toBe(0);
  });

  afterAll(async () => {
    s?.cleanup();
    await receiver?.close();
  });

  it("a refused push through the server and a verdict by the command each reach the webhook, signed", async () => {
    const r = s.brz(["push", "-q", "--create-prefix", s.url("production-stable")]);
    expect(r.status).not.toBe(0);
    await until(() => receiver.delivered.some((d) => d.event === "push.rejected"), "the push.rejected event");

    expect(s.prodgate(["qa", "ok", "r1"], { GL_USER: "quinn" }).status).toBe(0);
    await until(() => receiver.delivered.some((d) => d.event === "production-stable.moved"), "the moved event");
    const moved = receiver.delivered.find((d) => d.event === "production-stable.moved")!;
    expect(moved.verified).toBe(true);
    expect(receiver.delivered.some((d) => d.event === "verdict.recorded")).toBe(true);
    const body = moved.body as { repository: string; data: { revno?: number } };
    expect(body.data.revno).toBe(1);
    expect(body.repository).toBe("srv");
    // The refused push is told as git tells it: the branch as refs/heads/<path>, the null revision as all zeros.
    const rejected = receiver.delivered.find((d) => d.event === "push.rejected")!.body as { actor: string; data: Record<string, unknown> };
    expect(rejected.actor).toBe("sam");
    expect(rejected.data).toMatchObject({ ref: "refs/heads/production-stable", old: "0".repeat(40), code: "unapproved" });
    expect(rejected.data.new).toBe(s.revid("stable"));
  });

  // What git's post-receive writes for a landed push (src/events/build.ts pushEvents), Bazaar's post-change
  // writes too, with the same data, in the transaction that settles the change's landing.
  it("a push to stable through the server writes qa.waiting, and a promotion writes production-stable.moved", async () => {
    const types = () => receiver.delivered.map((d) => d.event);
    s.commit("b.txt", "second change");
    expect(s.brz(["push", "-q", s.url("devel")]).status).toBe(0);
    expect(s.brz(["push", "-q", s.url("stable")]).status).toBe(0);
    const second = s.revid("stable");
    // Delivered in the order written, so the stable push's event comes after the first push's.
    await until(() => types().filter((t) => t === "qa.waiting").length === 2, "the qa.waiting event");
    const waiting = receiver.delivered.filter((d) => d.event === "qa.waiting")[1]!.body as { actor: string; data: unknown };
    expect(waiting.actor).toBe("sam");
    expect(waiting.data).toEqual({ revisions: [{ sha: second, revno: 2, subject: "second change" }] });

    // A security fix: prepared on production-devel, tested, promoted by a push to production-stable.
    for (const role of ["security", "ci"]) expect(s.prodgate(["role", "add", role, "sam"]).status).toBe(0);
    const sec = join(s.root, "sec");
    expect(s.brz(["branch", "-q", s.url("production-stable"), sec], s.root).status).toBe(0);
    s.commit("fix.txt", "close the hole", sec);
    let r = s.brz(["push", "-q", "--overwrite", s.url("production-devel")], sec);
    expect(r.status, r.stderr).toBe(0);
    const fix = s.revid("production-devel");
    const from = s.revid("production-stable");
    expect(s.prodgate(["ci", "pass", fix], { GL_USER: "sam" }).status).toBe(0);
    const movesBefore = types().filter((t) => t === "production-stable.moved").length;
    r = s.brz(["push", "-q", s.url("production-stable")], sec);
    expect(r.status, r.stderr).toBe(0);
    await until(() => types().filter((t) => t === "production-stable.moved").length > movesBefore, "the promotion's moved event");
    const moved = receiver.delivered.filter((d) => d.event === "production-stable.moved").at(-1)!.body as {
      actor: string;
      data: unknown;
    };
    expect(moved.actor).toBe("sam");
    expect(moved.data).toEqual({
      from,
      to: fix,
      revno: 2,
      how: "fast-forward",
      revisions: [{ sha: fix, revno: 2, subject: "close the hole", verdict: null, by: null }],
      revisionCount: 1,
      fixes: [{ sha: fix, subject: "close the hole" }],
    });
    // The change's audit row says it landed, as a git push's does.
    const log = JSON.parse(s.prodgate(["log", "--ref", "production-stable", "--json"]).stdout) as {
      decision: string;
      new: string;
      landed: boolean | null;
    }[];
    expect(log.filter((e) => e.new === fix && e.decision === "accepted").map((e) => e.landed)).toEqual([true]);
  });
});
