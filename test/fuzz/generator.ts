// The seeded generator: each move is a few actions by one actor, aimed at the
// state of the last check. Actors with no role are the attackers; role
// holders mostly do their job and sometimes overstep.
import type { Action } from "./actions";
import type { Snapshot } from "./oracle";
import type { Rng } from "./rng";
import type { Actor, Role } from "./world";

export const MOVES = {
  land: 22,
  advanceStable: 9,
  side: 7,
  merge: 8,
  force: 4,
  toProduction: 10,
  replace: 6,
  verdictTag: 13,
  verdictCommand: 12,
  verdictTicket: 10,
  ci: 5,
  security: 6,
  mergeBack: 3,
  remove: 2,
  sync: 4,
  freeze: 3,
  override: 3,
};
type Move = keyof typeof MOVES;

const GOVERNED = ["devel", "stable", "production-devel", "production-stable"];
const VERDICTS = { ok: 60, bad: 20, untestable: 10, needstesting: 10 };
/** How many tickets are in play at once; the window slides as commits are made, so tickets repeat but tag names stay fresh. */
const TICKET_WINDOW = 5;

export class Generator {
  private n: number;
  private tagCount = 0;
  private readonly replaced: string[] = [];

  private readonly weights: Record<Move, number>;

  /** `without` names moves never to make (keys of MOVES, or "foxtrot" for foxtrot merges). */
  constructor(
    private readonly rng: Rng,
    private readonly actors: Actor[],
    private readonly without: ReadonlySet<string> = new Set(),
  ) {
    this.n = 1;
    this.weights = { ...MOVES };
    for (const m of without) if (m in this.weights) this.weights[m as Move] = 0;
  }

  /** The next move's actions. `labels` maps the clone's labels to shas, in the order they were made. */
  next(s: Snapshot, labels: Map<string, string>): Action[] {
    const move = this.rng.weighted(this.weights);
    return this.make(
      move,
      s,
      [...labels].map(([name, sha]) => ({ name: `fuzz/${name}`, sha })),
    );
  }

  private make(move: Move, s: Snapshot, labels: { name: string; sha: string }[]): Action[] {
    const { rng } = this;
    const where = (set: Set<string>) => labels.filter((l) => set.has(l.sha)).map((l) => l.name);
    const mainline = labels.filter((l) => s.mainline.includes(l.sha)).map((l) => l.name);
    const any = () => (labels.length ? rng.pick(labels).name : "origin/devel");
    const from = (list: string[], fallback: string) => (list.length ? rng.pick(list) : fallback);
    const label = () => `c${this.n++}`;
    const tag = () => `t${++this.tagCount}`;

    switch (move) {
      case "land": {
        const by = this.actor("ci", 0.4);
        const actions: Action[] = [];
        let on = "origin/devel";
        for (let i = rng.int(1, 2); i > 0; i--) {
          const name = label();
          actions.push({ k: "commit", label: name, on, msg: `${name}: work${this.markers(s)}` });
          on = `fuzz/${name}`;
        }
        actions.push({ k: "push", by, src: on, dst: "refs/heads/devel" });
        if (rng.chance(0.5)) actions.push({ k: "push", by: rng.chance(0.7) ? by : this.actor(), src: on, dst: "refs/heads/stable" });
        return actions;
      }
      case "advanceStable":
        return [
          {
            k: "push",
            by: this.actor("ci", 0.5),
            src: rng.chance(0.6) ? "origin/devel" : from(where(s.devel), "origin/devel"),
            dst: "refs/heads/stable",
          },
        ];
      case "side": {
        const name = label();
        const actions: Action[] = [
          { k: "commit", label: name, on: rng.chance(0.5) ? "origin/devel" : any(), msg: `${name}: side work${this.markers(s)}` },
        ];
        if (rng.chance(0.4)) actions.push({ k: "push", by: this.actor(), src: `fuzz/${name}`, dst: `refs/heads/feature/${name}` });
        return actions;
      }
      case "merge": {
        const name = label();
        const side = any();
        const target = rng.chance(0.75) ? "devel" : "stable";
        const foxtrot = rng.chance(0.4) && !this.without.has("foxtrot");
        const tip = `origin/${target}`;
        return [
          {
            k: "merge",
            label: name,
            first: foxtrot ? side : tip,
            second: foxtrot ? tip : side,
            // A merge's markers never count, whoever pushes it (git merge --log copies the merged side's subjects).
            ...(rng.chance(0.5)
              ? { msg: `${name}: merge${rng.pick([" [no-qa]", " [testfix]", ` [incr] [bug=${this.ticket()}]`, this.markers(s)])}` }
              : {}),
          },
          { k: "push", by: this.actor(), src: `fuzz/${name}`, dst: `refs/heads/${target}` },
          ...(target === "devel" && rng.chance(0.3)
            ? [{ k: "push", by: this.actor(), src: `fuzz/${name}`, dst: "refs/heads/stable" } as Action]
            : []),
        ];
      }
      case "force":
        return [{ k: "push", by: this.actor(), src: any(), dst: `refs/heads/${rng.pick(GOVERNED)}`, force: true }];
      case "toProduction": {
        const sideOfStable = where(s.stable).filter((l) => !mainline.includes(l));
        const ahead = where(s.ahead);
        const kind = rng.weighted({ ahead: 25, mainline: 25, sideOfStable: 15, devel: 10, pdev: 20, any: 5 });
        const all = labels.map((l) => l.name);
        const choices = { ahead, mainline, sideOfStable, devel: where(s.devel), pdev: where(s.pdev), any: all }[kind];
        const by = kind === "pdev" ? this.actor("security", 0.8) : this.actor();
        return [{ k: "push", by, src: from(choices, "origin/stable"), dst: "refs/heads/production-stable" }];
      }
      case "replace": {
        const by = this.actor("none", 0.8);
        if (this.replaced.length && rng.chance(0.2)) return [{ k: "replace", by, src: "", target: rng.pick(this.replaced) }];
        // Most often: disguise a pending stable revision as [no-qa] with its own parent, so history looks the same.
        const pendingTarget = rng.chance(0.6);
        const target = pendingTarget ? this.pendingRev(s) : from(rng.chance(0.6) ? mainline : where(s.devel), any());
        const parent = pendingTarget && rng.chance(0.7) ? `${target}^` : any();
        const name = label();
        this.replaced.push(target);
        const msg = rng.pick([
          `${name}: innocuous [no-qa]`,
          `${name}: innocuous`,
          `${name}: fix [testfix]`,
          // Or as one landing of a ticket QA is about to approve.
          `${name}: part of it [incr] [bug=${this.ticket()}]`,
          `${name}: the fix [bug=${this.ticket()}]`,
        ]);
        return [
          { k: "forge", label: name, of: target, parent, msg },
          { k: "replace", by, src: `fuzz/${name}`, target },
        ];
      }
      case "verdictTag": {
        const verdict = rng.weighted(VERDICTS);
        const target = rng.chance(0.8)
          ? this.pendingRev(s)
          : from(
              labels.map((l) => l.name),
              "origin/stable",
            );
        return [{ k: "push", by: this.actor("qa", 0.8), src: target, dst: `refs/tags/qa/${verdict}/${tag()}` }];
      }
      case "verdictCommand": {
        const verdict = rng.weighted(VERDICTS);
        const all = s.mainline.map((sha, i) => (s.prod.has(sha) ? 0 : i + 1)).filter((n) => n > 0);
        // QA mostly skips [incr] landings (they are QA'd with a later one), which puts them at the front of the walk.
        const pending = rng.chance(0.8) ? all.filter((n) => !s.incrRevnos.includes(n)) : all;
        const first = pending[0] ?? all[0] ?? s.mainline.length;
        const run = pending.filter((n, k) => n === first + k);
        // Now and then one landing of a ticket alone: an [incr] before it is QA'd with it.
        const target =
          s.ticketRevnos.length && rng.chance(0.25)
            ? `r${rng.pick(s.incrFollowers.length && rng.chance(0.7) ? s.incrFollowers : s.ticketRevnos)}`
            : rng.chance(0.3) && run.length > 1
              ? `r${first}..r${rng.pick(run)}`
              : `r${rng.chance(0.6) ? first : rng.int(1, s.mainline.length)}`;
        return [{ k: "pg", by: this.actor("qa", 0.8), args: ["qa", verdict, target] }];
      }
      case "verdictTicket": {
        // QA marks a ticket: by command (every pending revision naming it) or by tag (those up to the tagged one).
        const verdict = rng.weighted(VERDICTS);
        const ticket =
          s.pendingTickets.length && rng.chance(0.7) ? rng.pick(s.pendingTickets) : this.ticket(rng.chance(0.2) ? -TICKET_WINDOW : 0);
        const by = this.actor("qa", 0.75);
        if (rng.chance(0.5)) return [{ k: "pg", by, args: ["qa", verdict, "--ticket", ticket] }];
        const target = rng.weighted({ tip: 45, pending: 40, any: 15 });
        const src = target === "tip" ? "origin/stable" : target === "pending" ? this.pendingRev(s) : any();
        return [{ k: "push", by, src, dst: `refs/tags/qa/${verdict}/ticket-${ticket}` }];
      }
      case "ci": {
        const target = from(rng.chance(0.7) ? where(s.pdev) : labels.map((l) => l.name), "origin/production-devel");
        const result = rng.chance(0.85) ? "pass" : "fail";
        const by = this.actor("ci", 0.8);
        return rng.chance(0.5)
          ? [{ k: "pg", by, args: ["ci", result, target] }]
          : [{ k: "push", by, src: target, dst: `refs/tags/ci/${result}/${tag()}` }];
      }
      case "security": {
        const name = label();
        const on = s.pdev.size > 0 ? "origin/production-devel" : s.prod.size > 0 ? "origin/production-stable" : "origin/stable";
        const by = this.actor("security", 0.85);
        return [
          { k: "commit", label: name, on, msg: `${name}: security fix` },
          { k: "push", by, src: `fuzz/${name}`, dst: "refs/heads/production-devel" },
          ...(rng.chance(0.6) ? [{ k: "pg", by: this.actor("ci", 0.9), args: ["ci", "pass", `fuzz/${name}`] } as Action] : []),
        ];
      }
      case "mergeBack": {
        const name = label();
        return [
          { k: "merge", label: name, first: "origin/devel", second: "origin/production-stable" },
          { k: "push", by: this.actor(), src: `fuzz/${name}`, dst: "refs/heads/devel" },
        ];
      }
      case "remove": {
        const ref = rng.chance(0.7) ? `refs/heads/${rng.pick(GOVERNED)}` : `refs/tags/qa/ok/t${rng.int(1, Math.max(1, this.tagCount))}`;
        return [{ k: "push", by: this.actor(), src: "", dst: ref }];
      }
      case "sync":
        return [{ k: "pg", by: this.actor(), args: ["sync"] }];
      case "freeze":
        return [
          s.frozen && rng.chance(0.7)
            ? { k: "pg", by: this.actor("admin", 0.7), args: ["thaw"] }
            : { k: "pg", by: this.actor(rng.chance(0.5) ? "admin" : "security", 0.7), args: ["freeze", "--reason", "incident"] },
        ];
      case "override":
        return [
          {
            k: "push",
            by: this.actor("admin", 0.7),
            src: any(),
            dst: `refs/heads/${rng.pick(GOVERNED)}`,
            force: rng.chance(0.5),
            override: "incident: restore service",
          },
        ];
    }
  }

  /** A mainline commit of stable not in production, the oldest more often than not, as origin/stable~k. */
  private pendingRev(s: Snapshot): string {
    const n = s.mainline.length;
    const pending = s.mainline.map((sha, i) => (s.prod.has(sha) ? -1 : i)).filter((i) => i >= 0);
    const i = pending.length === 0 ? n - 1 : this.rng.chance(0.6) ? pending[0]! : this.rng.pick(pending);
    return `origin/stable~${Math.max(0, n - 1 - i)}`;
  }

  /** An actor holding `role` with probability p, else anyone; "none" means one with no role. */
  private actor(role?: Role | "none", p = 0): string {
    const holders = this.actors.filter((a) => (role === "none" ? a.roles.length === 0 : a.roles.includes(role as Role)));
    return (role && holders.length && this.rng.chance(p) ? this.rng.pick(holders) : this.rng.pick(this.actors)).name;
  }

  /** A ticket id of the current window (shifted by `shift`), so the same tickets recur across landings. */
  private ticket(shift = 0): string {
    return String(100 + Math.max(0, Math.floor(this.n / 40) + shift) + this.rng.int(0, TICKET_WINDOW - 1));
  }

  /** Ticket references in the shapes the default patterns read, and sometimes [incr]. */
  private tickets(): string {
    const { rng } = this;
    let m = "";
    if (rng.chance(0.5)) {
      const [a, b] = [this.ticket(), this.ticket()];
      const shape = rng.weighted({ bug: 40, bugs: 15, lp: 15, lps: 5, fixes: 15 });
      m += {
        bug: ` [bug=${a}]`,
        bugs: a === b ? ` [bug=${a}]` : ` [bug=${a},${b}]`,
        lp: ` (LP: #${a})`,
        lps: a === b ? ` (LP: #${a})` : ` (LP: #${a}, #${b})`,
        fixes: ` Fixes #${a}`,
      }[shape];
    }
    if (rng.chance(m ? 0.35 : 0.05)) m += rng.chance(0.85) ? " [incr]" : " [incremental]";
    return m;
  }

  private markers(s: Snapshot): string {
    const { rng } = this;
    let m = this.tickets();
    if (rng.chance(0.14)) m += rng.chance(0.75) ? " [no-qa]" : " [testfix]";
    if (rng.chance(0.08) && s.mainline.length > 0)
      m += ` [rollback=r${s.badRevnos.length && rng.chance(0.7) ? rng.pick(s.badRevnos) : rng.int(1, s.mainline.length)}]`;
    return m;
  }
}
