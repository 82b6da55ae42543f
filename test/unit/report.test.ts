// The deployment report's renderer: a pure function of the status and its extras.
import { describe, expect, it } from "vitest";
import type { PendingCommit, StatusReport } from "../../src/engine/status";
import { esc } from "../../src/report/html";
import { renderReport, type ReportExtra, UNDEPLOYED_SHOWN } from "../../src/report/render";
import type { AuditEntry, SecurityFix } from "../../src/store/store";

const SCRIPT = "<script>window.__pwned=1</script>";
const sha = (c: string) => c.repeat(40);

function pending(revno: number, c: string, verdict: string, more: Partial<PendingCommit> = {}): PendingCommit {
  return {
    sha: sha(c),
    revno,
    subject: `r${revno}: change`,
    verdict,
    source: "recorded",
    by: null,
    markerBy: null,
    markerRole: null,
    markerIgnored: false,
    at: null,
    note: null,
    heldForRollback: false,
    rolledBackBy: null,
    ...more,
  };
}

function status(more: Partial<StatusReport> = {}): StatusReport {
  const undeployed = [
    pending(2, "b", "ok", { by: "quinn", at: "2025-03-01T10:00:00.000Z" }),
    pending(3, "c", "needstesting"),
    pending(4, "d", "untestable", { source: "message-tag", subject: "r4: docs [no-qa]", markerBy: "cid", markerRole: "ci" }),
  ];
  return {
    repository: "/srv/git/shop.git",
    branches: {
      devel: { ref: "refs/heads/devel", sha: sha("d"), revno: 4, subject: "r4" },
      stable: { ref: "refs/heads/stable", sha: sha("d"), revno: 4, subject: "r4" },
      "production-stable": { ref: "refs/heads/production-stable", sha: sha("a"), revno: 1, subject: "r1" },
      "production-devel": null,
    },
    deployable: { sha: sha("b"), revno: 2, subject: "r2: change" },
    blocker: { sha: sha("c"), revno: 3, subject: "r3: change", reason: "needstesting" },
    pending: undeployed.filter((p) => p.verdict === "needstesting"),
    undeployed,
    mirror: { outcome: "fast-forward", at: "2025-03-01T10:00:01.000Z", from: sha("a"), to: sha("b"), deployableRevno: 2, detail: null },
    freeze: null,
    baseline: null,
    securityPending: [],
    overridesPending: [],
    inStepWithStable: null,
    ...more,
  };
}

function extra(more: Partial<ReportExtra> = {}): ReportExtra {
  return {
    branches: { devel: "devel", stable: "stable", productionStable: "production-stable", productionDevel: "production-devel" },
    rejected: [],
    fixes: [],
    generatedAt: "2025-03-02T12:00:00.000Z",
    ...more,
  };
}

const fix = (more: Partial<SecurityFix> = {}): SecurityFix => ({
  sha: sha("f"),
  subject: "fix the login check",
  patchId: null,
  promotedBy: "sam",
  promotedAt: "2025-02-28T12:00:00.000Z",
  pushId: null,
  devel: null,
  stable: null,
  ...more,
});

const rejection = (more: Partial<AuditEntry> = {}): AuditEntry => ({
  id: 1,
  at: "2025-03-01T09:00:00.000Z",
  user: "dev",
  ref: "refs/heads/production-stable",
  decision: "rejected",
  code: "unapproved",
  reason: "r3 has no QA verdict",
  ...more,
});

/** The page with every tag removed, roughly what a reader sees. */
const visibleText = (html: string) =>
  html
    .replace(/<style>[\s\S]*?<\/style>/, "")
    .replace(/<[^>]+>/g, " ")
    .replace(/&(lt|gt|quot|#39|amp);/g, (_, e: string) => ({ lt: "<", gt: ">", quot: '"', "#39": "'", amp: "&" })[e]!);

describe("renderReport", () => {
  it("escapes a script in a commit subject, a verdict note, a user name, a freeze reason, a fix and a rejection", () => {
    const s = status({
      undeployed: [pending(2, "b", "bad", { subject: `r2 ${SCRIPT}`, by: `<img src=x onerror=alert(1)>`, note: `note ${SCRIPT}` })],
      deployable: null,
      blocker: { sha: sha("b"), revno: 2, subject: `r2 ${SCRIPT}`, reason: "bad" },
      freeze: { by: `"><script>x()</script>`, at: "2025-03-01T00:00:00.000Z", reason: SCRIPT },
    });
    const html = renderReport(
      s,
      extra({
        fixes: [fix({ subject: SCRIPT, promotedBy: `<b>sam</b>` })],
        rejected: [rejection({ user: `<u>eve</u>`, ref: `refs/heads/${SCRIPT}`, reason: SCRIPT })],
      }),
    );
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<b>sam</b>");
    expect(html).not.toContain("<u>eve</u>");
    expect(html).toContain(esc(`r2 ${SCRIPT}`));
    expect(html).toContain(esc(`note ${SCRIPT}`));
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(html).toContain("&quot;&gt;&lt;script&gt;x()&lt;/script&gt;");
    expect(html).toContain("&lt;b&gt;sam&lt;/b&gt;");
    expect(html).toContain("&lt;u&gt;eve&lt;/u&gt;");
  });

  it("shows each verdict as a word as well as a colour", () => {
    const html = renderReport(
      status({
        undeployed: [pending(2, "b", "ok"), pending(3, "c", "bad"), pending(4, "d", "untestable"), pending(5, "e", "needstesting")],
      }),
      extra(),
    );
    const table = html.slice(html.indexOf('<table id="undeployed"'), html.indexOf("</table>", html.indexOf('<table id="undeployed"')));
    for (const v of ["ok", "bad", "untestable", "needstesting"]) {
      expect(table).toContain(`<span class="verdict v-${v}">${v}</span>`);
    }
  });

  it("names the deployable revision and the first commit that stops it, with why", () => {
    const text = visibleText(renderReport(status(), extra()));
    expect(text).toMatch(/Deployable:\s+r2\s+bbbbbbb\s+r2: change/);
    expect(text).toMatch(/Stopped by:\s+r3\s+ccccccc\s+r3: change\s+needstesting\s+— it awaits a QA verdict/);
  });

  it("lists the undeployed revisions oldest first, with who gave the verdict and when", () => {
    const html = renderReport(status(), extra());
    expect(html.indexOf(`data-sha="${sha("b")}"`)).toBeLessThan(html.indexOf(`data-sha="${sha("c")}"`));
    expect(html.indexOf(`data-sha="${sha("c")}"`)).toBeLessThan(html.indexOf(`data-sha="${sha("d")}"`));
    expect(html.indexOf(`data-sha="${sha("b")}"`)).toBeGreaterThan(0);
    const text = visibleText(html);
    expect(text).toMatch(/quinn\s+2025-03-01 10:00 UTC/);
    expect(text).toContain("untestable by its message (pushed by cid, role ci), not by QA");
  });

  it("draws the flow devel → stable → QA → production-stable with each tip's revno", () => {
    const html = renderReport(status(), extra());
    const flow = html.slice(html.indexOf('<div class="flow"'), html.indexOf("</section>", html.indexOf('<div class="flow"')));
    const text = visibleText(flow).replace(/\s+/g, " ");
    expect(text).toMatch(
      /devel r4 ddddddd → stable r4 ddddddd → QA 1 awaiting deployable: r2 bbbbbbb → production-stable r1 aaaaaaa holds stable r1 /,
    );
    const withFix = visibleText(renderReport(status({ securityPending: [fix()] }), extra()));
    expect(withFix).toContain("holds stable r1 + 1 security fix");
  });

  it("shows the freeze banner only when frozen", () => {
    expect(renderReport(status(), extra())).not.toContain('id="freeze"');
    const text = visibleText(
      renderReport(status({ freeze: { by: "ada", at: "2025-03-01T00:00:00.000Z", reason: "release day" } }), extra()),
    );
    expect(text).toMatch(
      /FROZEN\s+— every move of production-stable, by the mirror or by a push, is stopped\. Set by ada at\s+2025-03-01 00:00 UTC\s*: “?\s*release day/,
    );
  });

  it("shows security fixes with where each has reached and its age, pending ones first", () => {
    const home = fix({
      sha: sha("9"),
      subject: "old fix",
      devel: { sha: sha("7"), at: "2025-03-01T00:00:00.000Z", how: "cherry-pick", by: "dev" },
      stable: { sha: sha("8"), at: "2025-03-01T01:00:00.000Z", how: "ancestry", by: "dev" },
    });
    const text = visibleText(renderReport(status(), extra({ fixes: [home, fix()] }))).replace(/\s+/g, " ");
    expect(text).toContain("1 not yet back in both devel and stable.");
    expect(text.indexOf("fix the login check")).toBeLessThan(text.indexOf("old fix"));
    expect(text).toMatch(/fix the login check pending sam, 2025-02-28 12:00 UTC 2d 0h not yet not yet/);
    expect(text).toMatch(/old fix back home .* yes: 7777777 by cherry-pick, .* yes: 8888888 by ancestry/);
  });

  it("lists the latest rejected pushes with their rule", () => {
    const text = visibleText(renderReport(status(), extra({ rejected: [rejection()] }))).replace(/\s+/g, " ");
    expect(text).toContain("dev refs/heads/production-stable unapproved r3 has no QA verdict");
  });

  it("is self-contained: no external script, style, font or image, and a policy that forbids scripts", () => {
    const html = renderReport(status(), extra({ fixes: [fix()], rejected: [rejection()] }));
    expect(html).not.toMatch(/<script|<link|@import|url\(|src=/i);
    expect(html).toContain(`http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'`);
    expect(html).toContain('name="viewport"');
    expect(html).toContain("@media print");
  });

  it("lists at most UNDEPLOYED_SHOWN undeployed revisions, the oldest, and says how many more", () => {
    const many = Array.from({ length: UNDEPLOYED_SHOWN + 5 }, (_, i) =>
      pending(i + 2, (i % 16).toString(16), "needstesting", { sha: `${i}`.padStart(40, "0") }),
    );
    const html = renderReport(status({ undeployed: many, pending: many }), extra());
    expect(html.match(/<tr class="[^"]*" data-sha=/g)).toHaveLength(UNDEPLOYED_SHOWN);
    expect(html).toContain(`data-sha="${"0".padStart(40, "0")}"`);
    expect(visibleText(html)).toContain("… and 5 newer revisions");
  });

  it("refreshes itself only when asked", () => {
    expect(renderReport(status(), extra())).not.toContain('http-equiv="refresh"');
    expect(renderReport(status(), extra({ refreshSeconds: 30 }))).toContain('<meta http-equiv="refresh" content="30">');
  });

  it("says when nothing is deployable and nothing is undeployed", () => {
    const text = visibleText(renderReport(status({ deployable: null, blocker: null, undeployed: [], pending: [], mirror: null }), extra()));
    expect(text).toContain("Nothing is deployable yet.");
    expect(text).toContain("Every stable revision is in production-stable.");
    expect(text).toContain("The mirror has not run yet.");
  });
});

describe("renderReport: tickets", () => {
  it("links each revision's tickets and shows a per-ticket view", () => {
    const undeployed = [
      pending(16775, "b", "bad", { subject: "[bug=4321] Fix the frobnicator", tickets: ["4321"] }),
      pending(16791, "c", "needstesting", { subject: "[rollback=16775] [bug=4321] Back out", tickets: ["4321"] }),
      pending(16792, "d", "needstesting", { subject: "no ticket" }),
    ];
    const html = renderReport(status({ undeployed, pending: undeployed.slice(1) }), extra({ ticketUrl: "https://bugs.example.org/{id}" }));
    expect(html).toContain(`<a class="ticket" href="https://bugs.example.org/4321">4321</a>`);
    expect(visibleText(html).replace(/\s+/g, " ")).toContain("ticket 4321 : r16775 bad , r16791 rollback awaiting QA");
  });

  it("escapes a ticket id and never builds a link without a template", () => {
    const undeployed = [pending(2, "b", "needstesting", { tickets: ['"><script>x()</script>'] })];
    const html = renderReport(status({ undeployed, pending: undeployed }), extra());
    expect(html).not.toContain("<script>x()");
    expect(html).not.toContain(`<a class="ticket"`);
  });
});
