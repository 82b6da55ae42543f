// `prodgate serve`: the deployment report, live and read-only. Each request
// reads the repository and the database afresh (the database opened
// read-only) and closes them again, so the server holds nothing between requests.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readConfig } from "../config";
import { buildStatus } from "../engine/status";
import { deployedOverview } from "../ops/engine";
import type { Engine } from "../engine/state";
import { UserError } from "../errors";
import { Repo } from "../git/repo";
import { jsonSafe } from "../policy/message";
import { databasePath, Store } from "../store/store";
import { reportHtml } from "./publish";
import { REPORT_CSP } from "./render";

export interface ServeOptions {
  gitDir: string;
  host: string;
  port: number;
  refreshSeconds: number;
}

/** An engine whose database is opened read-only: the server can never write state. */
export function openReadOnlyEngine(gitDir: string): Engine {
  const repo = Repo.discover(gitDir);
  const { config, errors } = readConfig(repo.git);
  if (errors.length > 0) throw new UserError(`prodgate's configuration is invalid: ${errors[0]!.key}: ${errors[0]!.message}`, 1);
  const store = Store.open(databasePath(repo.gitDir), { readonly: true });
  return { repo, config, store };
}

function withEngine<T>(gitDir: string, fn: (engine: Engine) => T): T {
  const engine = openReadOnlyEngine(gitDir);
  try {
    return fn(engine);
  } finally {
    engine.store.close();
  }
}

const COMMON_HEADERS = {
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

function send(res: ServerResponse, method: string, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...COMMON_HEADERS, "Content-Type": type, "Content-Length": Buffer.byteLength(body), ...headers });
  res.end(method === "HEAD" ? undefined : body);
}

export function reportRequestHandler(opts: ServeOptions, origin: () => string): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const method = req.method ?? "GET";
    const path = (req.url ?? "/").split("?")[0];
    if (method !== "GET" && method !== "HEAD") {
      send(res, method, 405, "text/plain; charset=utf-8", "read-only: only GET is served\n", { Allow: "GET, HEAD" });
      return;
    }
    try {
      if (path === "/" || path === "/index.html") {
        const html = withEngine(opts.gitDir, (engine) => reportHtml(engine, { refreshSeconds: opts.refreshSeconds, servedBy: origin() }));
        send(res, method, 200, "text/html; charset=utf-8", html, { "Content-Security-Policy": REPORT_CSP });
      } else if (path === "/status.json") {
        const json = withEngine(opts.gitDir, (engine) =>
          // The same document as prodgate status --json.
          jsonSafe(JSON.stringify({ ...buildStatus(engine), deployments: deployedOverview(engine) }, null, 2)),
        );
        send(res, method, 200, "application/json; charset=utf-8", `${json}\n`);
      } else {
        send(res, method, 404, "text/plain; charset=utf-8", "not found: try / or /status.json\n");
      }
    } catch (err) {
      const why = err instanceof UserError ? err.message : `internal error: ${(err as Error)?.message ?? String(err)}`;
      send(res, method, 500, "text/plain; charset=utf-8", `prodgate: ${why}\n`);
    }
  };
}

export function urlOf(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}/`;
}

/** Starts listening; `onListening` gets the address actually bound (port 0 picks a free one). */
export function startReportServer(opts: ServeOptions, onListening: (url: string) => void, onError: (err: Error) => void): Server {
  let url = urlOf(opts.host, opts.port);
  const server = createServer(reportRequestHandler(opts, () => url));
  server.on("error", onError);
  server.listen(opts.port, opts.host, () => {
    const addr = server.address();
    if (addr && typeof addr === "object") url = urlOf(opts.host, addr.port);
    onListening(url);
  });
  return server;
}
