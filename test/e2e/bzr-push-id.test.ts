// Bazaar push ids: each attempt at a tip change is audited under an id of its
// own, so the landing of a change tried again never settles an earlier attempt
// that was accepted and never landed.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BzrServer, hasBrz, servedBzr } from "../helpers/bzr";

// The engine's node: while the flag file exists, the next engine started (the session of the next change)
// is killed right after its pre-change stage accepted and audited the change, before it answers.
const FAULTING_NODE = `#!/bin/bash
if [ -e "$PRODGATE_TEST_FAULT_ONCE" ]; then rm -f "$PRODGATE_TEST_FAULT_ONCE"; export PRODGATE_FAULT=after-pre-change; fi
exec ${JSON.stringify(process.execPath)} "$@"
`;

interface LogRow {
  decision: string;
  new: string | null;
  pushId: string | null;
  landed: boolean | null;
}

describe.skipIf(!hasBrz)("Bazaar push ids (skipped where brz is absent: run .ci/deps-bzr.sh)", () => {
  let s: BzrServer;
  let flag: string;

  beforeAll(async () => {
    s = await servedBzr("bzr-push-id", (t) => {
      const node = join(t.root, "faulting-node");
      flag = join(t.root, "fault-once");
      writeFileSync(node, FAULTING_NODE, { mode: 0o755 });
      return { PRODGATE_NODE: node, PRODGATE_TEST_FAULT_ONCE: flag };
    });
    s.commit("a.txt", "first change");
    expect(s.brz(["push", "-q", s.url("devel")]).status).toBe(0);
  });

  afterAll(() => s?.cleanup());

  it("a change accepted and never landed is not settled as landed when the same change is pushed again and lands", () => {
    const before = s.revid("devel");
    s.commit("b.txt", "second change");
    const change = s.brz(["revision-info"]).stdout.trim().split(" ")[1]!;

    // First attempt: accepted and audited, then the engine dies before answering: the plugin refuses it.
    writeFileSync(flag, "");
    const first = s.brz(["push", "-q", s.url("devel")]);
    expect(first.status, first.stderr).not.toBe(0);
    expect(first.stderr).toContain("[unavailable]");
    expect(existsSync(flag)).toBe(false);
    expect(s.revid("devel")).toBe(before);

    // Second attempt: the same change (same branch, old and new tip) lands.
    const second = s.brz(["push", "-q", s.url("devel")]);
    expect(second.status, second.stderr).toBe(0);
    expect(s.revid("devel")).toBe(change);

    const log = JSON.parse(s.prodgate(["log", "--ref", "devel", "--json"]).stdout) as LogRow[];
    const attempts = log.filter((e) => e.new === change && e.decision === "accepted").reverse();
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.pushId).not.toBe(attempts[1]!.pushId);
    // The first attempt is not known to have landed (sync settles it from the branch); the second landed.
    expect(attempts.map((e) => e.landed)).toEqual([null, true]);
  });
});
