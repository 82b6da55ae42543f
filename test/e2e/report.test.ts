// The deployment report in a real browser: Debian's Chromium, headless, driven
// by playwright-core. The page is opened as a written file and as served live,
// and checked the way a person reads it: by its visible text.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FIX_SUBJECT,
  OVERRIDE_REASON,
  OVERRIDE_SUBJECT,
  reportScenario,
  type ReportScenario,
  SCRIPT_COWBOY,
  SCRIPT_NOTE,
  SCRIPT_SUBJECT,
  SCRIPT_USER,
} from "../helpers/report";
import { PROJECT } from "../helpers/repo";
import { startServe } from "../helpers/serve";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`report browser tests skipped: ${CHROMIUM} is absent (install it with: bash .ci/deps-report.sh)`);
}

const RESULTS = join(PROJECT, "test-results");
/** docs/report.png is the README's picture: written when absent, or refreshed with PRODGATE_UPDATE_DOCS=1. */
const DOCS_SHOT = join(PROJECT, "docs", "report.png");

let s: ReportScenario;
let context: BrowserContext;
let profile: string;

describe.skipIf(!haveChromium)("the deployment report in Chromium", () => {
  beforeAll(async () => {
    s = reportScenario();
    mkdirSync(RESULTS, { recursive: true });
    profile = mkdtempSync(join(tmpdir(), "prodgate-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1200, height: 900 },
    });
  });

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    s?.sb.cleanup();
  });

  /** Opens `url`, recording every request the page makes. */
  async function open(url: string): Promise<{ page: Page; requests: string[] }> {
    const page = await context.newPage();
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    const response = await page.goto(url);
    if (response && !url.startsWith("file:")) expect(response.status()).toBe(200);
    return { page, requests };
  }

  /** What a person sees: the deployable revision, a pending verdict, the freeze, the fix, the hostile subject as text. */
  async function expectReadable(page: Page): Promise<void> {
    const text = await page.locator("body").innerText();
    const short = (sha: string) => sha.slice(0, 7);

    await expect.poll(() => page.locator("#freeze").isVisible()).toBe(true);
    expect(await page.locator("#freeze").innerText()).toMatch(/^FROZEN\b.*release day: hold production/s);

    // Break-glass content QA has not judged: red, at the top.
    await expect.poll(() => page.locator("#overrides").isVisible()).toBe(true);
    const overrides = await page.locator("#overrides").innerText();
    expect(overrides).toMatch(/^OVERRIDE\b/);
    expect(overrides).toContain(OVERRIDE_REASON);
    expect(overrides).toContain(OVERRIDE_SUBJECT);
    expect(await page.evaluate(`getComputedStyle(document.querySelector("#overrides")).borderTopColor`)).toBe("rgb(179, 38, 30)");

    const summary = await page.locator("#deployable").innerText();
    expect(summary).toMatch(new RegExp(`Deployable: r2 ${short(s.deployable)} r2: faster search`));
    expect(summary).toContain(`Stopped by: r3 ${short(s.pending)} ${SCRIPT_SUBJECT}`);
    expect(summary).toContain("needstesting — it awaits a QA verdict");

    const rows = page.locator("#undeployed tbody tr");
    expect(await rows.count()).toBe(3);
    const pendingRow = await page.locator(`#undeployed tr[data-sha="${s.pending}"]`).innerText();
    expect(pendingRow).toContain(SCRIPT_SUBJECT);
    expect(pendingRow).toContain("needstesting");
    const badRow = await page.locator(`#undeployed tr[data-sha="${s.bad}"]`).innerText();
    expect(badRow).toMatch(/r4 \w{7}\s+r4: new checkout page\s+bad\s+quinn/);
    expect(badRow).toContain(SCRIPT_NOTE);
    // A verdict is a colour as well as a word.
    const colour = (sha: string) =>
      page.evaluate(`getComputedStyle(document.querySelector('#undeployed tr[data-sha="${sha}"] .verdict')).color`);
    expect(await colour(s.bad)).toMatch(/^rgb/);
    expect(await colour(s.bad)).not.toBe(await colour(s.deployable));

    const fixes = await page.locator("#fixes").innerText();
    expect(fixes).toContain(short(s.fix));
    expect(fixes).toContain(FIX_SUBJECT);
    expect(fixes).toMatch(/pending\s+sam, /);
    expect(fixes).toContain("not yet");

    expect(await page.locator("#rejected").innerText()).toContain(SCRIPT_USER);
    const deployed = await page.locator("#deployed").innerText();
    // The freeze makes every rollout unsafe; app2.prod also carries a hot patch production-stable lacks.
    expect(deployed).toMatch(/app1\.prod\s+\w{7} otto, [^\n]*\s+0 revision\(s\)\s+none\s+unsafe production-stable is frozen by ada/);
    expect(deployed).toMatch(/app2\.prod.*cowboy #1/s);
    expect(deployed).toContain(SCRIPT_COWBOY);
    expect(await page.locator('#deployed tr[data-target="app2.prod"]').getAttribute("class")).toBe("unsafe");
    expect(text).toMatch(/devel\s+r4 \w{7}\s+→\s+stable\s+r4 \w{7}\s+→\s+QA\s+1 awaiting/);

    // The scripts in a subject, a note and a user name showed as text and never ran.
    expect(await page.evaluate("typeof window.__pwned")).toBe("undefined");
  }

  it("opens the written file and shows the state as a person would read it", async () => {
    const file = join(s.sb.root, "report.html");
    const r = s.sb.prodgate(["report", "--out", file]);
    expect(r.status, r.stderr).toBe(0);
    const url = pathToFileURL(file).href;
    const { page, requests } = await open(url);
    await expectReadable(page);
    // Self-contained: the page asked for nothing but itself.
    expect(requests).toEqual([url]);
    await page.screenshot({ path: join(RESULTS, "report-file.png"), fullPage: true });
    if (!existsSync(DOCS_SHOT) || process.env.PRODGATE_UPDATE_DOCS === "1") {
      mkdirSync(join(PROJECT, "docs"), { recursive: true });
      await page.screenshot({ path: DOCS_SHOT, fullPage: true });
    }
    // Readable on a phone: nothing wider than the screen but the tables' own scroll boxes.
    await page.setViewportSize({ width: 375, height: 800 });
    expect(await page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")).toBe(true);
    await page.screenshot({ path: join(RESULTS, "report-phone.png"), fullPage: true });
    // And in print: the verdicts are still words.
    await page.emulateMedia({ media: "print" });
    expect(await page.locator(`#undeployed tr[data-sha="${s.bad}"]`).innerText()).toContain("bad");
    await page.pdf({ path: join(RESULTS, "report.pdf") });
    await page.close();
  });

  it("opens the served page, which refreshes itself, and /status.json", async () => {
    const served = await startServe(s.sb, ["--refresh", "600"]);
    try {
      const { page, requests } = await open(served.url);
      await expectReadable(page);
      expect(await page.locator('meta[http-equiv="refresh"]').getAttribute("content")).toBe("600");
      expect(requests.every((u) => u === served.url)).toBe(true);
      await page.screenshot({ path: join(RESULTS, "report-served.png"), fullPage: true });

      const json = await page.goto(`${served.url}status.json`);
      const status = (await json!.json()) as { deployable: { sha: string }; pending: { sha: string; verdict: string }[] };
      expect(status.deployable.sha).toBe(s.deployable);
      expect(status.pending).toEqual([expect.objectContaining({ sha: s.pending, verdict: "needstesting" })]);
      await page.close();
    } finally {
      await served.stop();
    }
  });
});
