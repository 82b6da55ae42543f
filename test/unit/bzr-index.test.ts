// The revision index is a cache of what Breezy says: after every load its
// answers are the answers of the whole history read afresh, whatever happened
// to the repository (a change that bypassed the server, a ghost filled) or to
// the index itself.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BzrHistory, type BzrSnapshot } from "../../src/bzr/history";
import { type BreezySource, type FactsAnswer, type FactsRequest, loadHistory } from "../../src/bzr/index";
import { Store } from "../../src/store/store";

/** A shared repository as Breezy would answer facts.answer() about it. */
class FakeBreezy implements BreezySource {
  revisions = new Map<string, { parents: string[]; message: string }>();
  tips: Record<string, string | null> = {};
  /** A revno a branch states that differs from its history (set by hand). */
  stated: Record<string, number> = {};
  asked: FactsRequest[] = [];

  commit(id: string, parents: string[], message = id): void {
    this.revisions.set(id, { parents, message });
  }

  private ancestry(ids: readonly string[]): Set<string> {
    const seen = new Set<string>();
    const stack = ids.filter((id) => this.revisions.has(id));
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      for (const p of this.revisions.get(id)!.parents) if (this.revisions.has(p)) stack.push(p);
    }
    return seen;
  }

  truth(): BzrSnapshot {
    const all = this.ancestry(Object.values(this.tips).filter((t): t is string => t !== null));
    return {
      root: "/r",
      branches: this.tips,
      revisions: [...all].map((id) => [id, this.revisions.get(id)!.parents, this.revisions.get(id)!.message]),
    };
  }

  ask(request: FactsRequest): FactsAnswer {
    this.asked.push(request);
    const truth = new BzrHistory(this.truth());
    const revnos: Record<string, number> = {};
    for (const [b, id] of Object.entries(this.tips)) if (id) revnos[b] = this.stated[b] ?? truth.revno(id);
    const base = { root: "/r", branches: { ...this.tips }, revnos, layout: {} };
    if (request.tipsOnly) return { ...base, revisions: [] };
    if (request.everything) return { ...this.truth(), ...base };
    const heads = [...Object.values(this.tips).filter((t): t is string => t !== null), ...(request.heads ?? [])];
    const known = this.ancestry(request.known);
    const fresh = [...this.ancestry(heads)].filter((id) => !known.has(id));
    const ghosts = new Set<string>();
    for (const id of fresh) for (const p of this.revisions.get(id)!.parents) if (!this.revisions.has(p)) ghosts.add(p);
    return {
      ...base,
      revisions: fresh.map((id) => [id, this.revisions.get(id)!.parents, this.revisions.get(id)!.message]),
      ghosts: [...ghosts],
      present: (request.ghosts ?? []).filter((g) => this.revisions.has(g)),
    };
  }
}

let dir: string;
let store: Store;
let bzr: FakeBreezy;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "prodgate-bzr-index-"));
  store = Store.open(join(dir, "state.db"), { create: true });
  bzr = new FakeBreezy();
  // devel: a1 a2 a3 m4(a3, b1) a5; b1 from a2; stable at a3
  bzr.commit("a1", []);
  bzr.commit("a2", ["a1"]);
  bzr.commit("a3", ["a2"]);
  bzr.commit("b1", ["a2"], "side [no-qa]");
  bzr.commit("m4", ["a3", "b1"]);
  bzr.commit("a5", ["m4"]);
  bzr.tips = { devel: "a5", stable: "a3", "production-stable": "a3", "production-devel": null };
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Every answer the engine takes from the history equals the answer from the
 * whole history read afresh, for every revision of the governed branches (the
 * index may also hold revisions that no governed branch holds any longer: the
 * repository still does).
 */
function expectSameAsBreezy(history: BzrHistory): void {
  const truth = new BzrHistory(bzr.truth());
  const ids = [...bzr.revisions.keys()].filter((id) => truth.has(id)).concat("unknown");
  for (const a of ids) {
    expect(history.has(a), a).toBe(truth.has(a));
    expect(history.revno(a), `revno ${a}`).toBe(truth.revno(a));
    expect(history.commit(a), a).toEqual(truth.commit(a));
    for (const b of ids) {
      expect(history.isAncestor(a, b), `${a} ancestor of ${b}`).toBe(truth.isAncestor(a, b));
      expect(history.onMainline(a, b), `${a} on ${b}'s mainline`).toBe(truth.onMainline(a, b));
      expect(new Set(history.between([a], [b])), `${a} ^${b}`).toEqual(new Set(truth.between([a], [b])));
    }
  }
  for (const tip of Object.values(bzr.tips)) if (tip) expect(history.mainline(tip, ["a2"])).toEqual(truth.mainline(tip, ["a2"]));
  expect([...history.tips]).toEqual([...truth.tips]);
}

const asksEverything = () => bzr.asked.filter((r) => r.everything).length;

describe("the Bazaar revision index", () => {
  it("is filled from everything once, then asks only for the tips and what is new since the tips it knows", () => {
    expectSameAsBreezy(loadHistory(store, bzr).history);
    expect(asksEverything()).toBe(1);
    bzr.asked = [];
    const again = loadHistory(store, bzr);
    expectSameAsBreezy(again.history);
    expect(bzr.asked).toEqual([{ known: expect.arrayContaining(["a5", "a3"]), ghosts: [] }]);
    expect(again.rebuilt).toBe(false);
  });

  it("takes in a change that bypassed the server (an admin's local push) without reading the history again", () => {
    loadHistory(store, bzr);
    bzr.commit("a6", ["a5"]);
    bzr.commit("a7", ["a6"]);
    bzr.tips.devel = "a7";
    bzr.asked = [];
    const loaded = loadHistory(store, bzr);
    expectSameAsBreezy(loaded.history);
    expect(asksEverything()).toBe(0);
    expect(loaded.history.revno("a7")).toBe(7);
  });

  it("follows an uncommit or an overwrite that went around the server", () => {
    loadHistory(store, bzr);
    bzr.commit("x4", ["a3"]);
    bzr.tips.devel = "x4";
    expectSameAsBreezy(loadHistory(store, bzr).history);
    bzr.tips.devel = "a2";
    expectSameAsBreezy(loadHistory(store, bzr).history);
  });

  it("asks for the ancestry of a tip the plugin names that the index lacks (inside a hook)", () => {
    loadHistory(store, bzr);
    bzr.commit("a6", ["a5"]);
    bzr.tips.devel = "a6";
    const told: FactsAnswer = {
      root: "/r",
      branches: { ...bzr.tips },
      revnos: { devel: 6, stable: 3, "production-stable": 3 },
      revisions: [],
    };
    bzr.asked = [];
    expectSameAsBreezy(loadHistory(store, bzr, told).history);
    expect(bzr.asked).toEqual([{ known: expect.arrayContaining(["a5"]), heads: ["a6"] }]);
  });

  it("rebuilds when a branch states a revno the index disagrees with (the index was wrong), and answers as Breezy", () => {
    loadHistory(store, bzr);
    store.db.prepare("UPDATE bzr_revisions SET revno = 41 WHERE id = 'a5'").run();
    const loaded = loadHistory(store, bzr);
    expect(loaded.rebuilt).toBe(true);
    expectSameAsBreezy(loaded.history);
  });

  it("rebuilds once, not at every load, when a branch's own revno is off (set by hand on the server)", () => {
    bzr.stated = { devel: 9 };
    expect(loadHistory(store, bzr).rebuilt).toBe(true);
    const again = loadHistory(store, bzr);
    expect(again.rebuilt).toBe(false);
    expect(again.history.revno("a5")).toBe(5);
  });

  it("rebuilds when the index lost revisions it should hold, or holds no tips", () => {
    loadHistory(store, bzr);
    store.db.prepare("DELETE FROM bzr_revisions WHERE id IN ('a3', 'm4')").run();
    bzr.commit("a6", ["a5"]);
    bzr.tips.devel = "a6";
    const loaded = loadHistory(store, bzr);
    expect(loaded.rebuilt).toBe(true);
    expectSameAsBreezy(loaded.history);
    store.db.prepare("DELETE FROM bzr_tips").run();
    expect(loadHistory(store, bzr).rebuilt).toBe(true);
  });

  it("rebuilds when a ghost it recorded is now held: revnos and ancestry after it change", () => {
    bzr.commit("g7", ["a5", "ghost"]);
    bzr.tips.devel = "g7";
    expectSameAsBreezy(loadHistory(store, bzr).history);
    expect(store.db.prepare("SELECT id FROM bzr_ghosts").all()).toEqual([{ id: "ghost" }]);
    bzr.commit("ghost", ["a1"]);
    const loaded = loadHistory(store, bzr);
    expect(loaded.rebuilt).toBe(true);
    expect(loaded.history.isAncestor("ghost", "g7")).toBe(true);
    expectSameAsBreezy(loaded.history);
  });

  it("answers from the index alone once loaded: no question walks the history", () => {
    for (let i = 6; i <= 3000; i++) bzr.commit(`a${i}`, [`a${i - 1}`]);
    bzr.tips.devel = "a3000";
    loadHistory(store, bzr);
    const { history } = loadHistory(store, bzr);
    const reads: string[] = [];
    // A fresh history over the same index, counting the revisions it reads.
    const counted = new BzrHistory(
      { root: "/r", branches: bzr.tips, revisions: [] },
      {
        revision: (id) => {
          reads.push(id);
          return (history as unknown as { node(id: string): never }).node(id);
        },
        message: (id) => history.commit(id)?.message ?? null,
      },
    );
    expect(counted.isAncestor("a2990", "a3000")).toBe(true);
    expect(counted.between(["a3000"], ["a2995"])).toHaveLength(5);
    expect(counted.onMainline("a2998", "a3000")).toBe(true);
    expect(counted.revno("a3000")).toBe(3000);
    expect(reads.length).toBeLessThan(60);
  });
});
