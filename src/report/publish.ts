// The report's edge: gather what the page shows, write it atomically, and
// keep `prodgate.reportPath` up to date after pushes and syncs.
import { isAbsolute, resolve } from "node:path";
import { buildStatus, type StatusReport } from "../engine/status";
import { writeFileAtomic } from "../files";
import type { Engine } from "../engine/state";
import { renderReport, type ReportExtra } from "./render";
import { deployedOverview } from "../ops/engine";

/** How many rejected pushes the page lists. */
export const REJECTED_SHOWN = 10;

export function gatherReport(
  engine: Engine,
  opts: Pick<ReportExtra, "refreshSeconds" | "servedBy"> = {},
): { status: StatusReport; extra: ReportExtra } {
  const status = buildStatus(engine);
  const extra: ReportExtra = {
    branches: engine.config.branches,
    rejected: engine.store.log({ limit: REJECTED_SHOWN, rejected: true }),
    fixes: engine.store.fixes(),
    deployed: deployedOverview(engine),
    ticketUrl: engine.config.ticketUrl,
    generatedAt: new Date().toISOString(),
    ...opts,
  };
  return { status, extra };
}

export function reportHtml(engine: Engine, opts: Pick<ReportExtra, "refreshSeconds" | "servedBy"> = {}): string {
  const { status, extra } = gatherReport(engine, opts);
  return renderReport(status, extra);
}

/** A relative `prodgate.reportPath` is taken from the repository's git directory, wherever the command runs. */
export function configuredReportPath(engine: Engine): string | null {
  const path = engine.config.reportPath;
  if (!path) return null;
  return isAbsolute(path) ? path : resolve(engine.repo.gitDir, path);
}

/** A page published by a web server refreshes itself this often. */
const PUBLISHED_REFRESH_SECONDS = 60;

/**
 * Rewrite the page at `prodgate.reportPath`, if one is configured. Never
 * throws: a push has already landed, so a failure is one line to show.
 */
export function publishReport(engine: Engine): string | null {
  let path: string | null = null;
  try {
    path = configuredReportPath(engine);
    if (!path) return null;
    writeFileAtomic(path, reportHtml(engine, { refreshSeconds: PUBLISHED_REFRESH_SECONDS }));
    return null;
  } catch (err) {
    return `prodgate: the deployment report was not written${path ? ` to ${path}` : ""}: ${(err as Error)?.message ?? String(err)}`;
  }
}
