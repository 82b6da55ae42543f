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
      return {};
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
  });
});
