// Real servers on loopback for the events tests: a webhook receiver that
// verifies prodgate's signature the way a user's receiver would, and an SMTP
// server (the smtp-server package) that keeps the mail it is given.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export interface Received {
  event: string | undefined;
  delivery: string | undefined;
  contentType: string | undefined;
  /** Whether X-Prodgate-Signature-256 is the HMAC-SHA256 of the body with the secret. */
  verified: boolean;
  body: { id: string; type: string; at: string; repository: string; actor: string | null; data: Record<string, unknown> };
  /** What the receiver answered: a status, or "hang". */
  answered: number | "hang";
}

export class WebhookReceiver {
  /** Every request, in arrival order. */
  readonly requests: Received[] = [];
  /** How to answer the next requests: a status (200, 500), or hang (accept, never answer). */
  mode: number | "hang" = 200;
  /** Answer this many requests with 500 first, then `mode`. */
  failFirst = 0;
  private readonly hanging: ServerResponse[] = [];
  /** The request each hanging response belongs to (answerHanging records its answer there). */
  private readonly answers = new Map<ServerResponse, Received>();

  private constructor(
    private readonly server: Server,
    readonly secret: string,
  ) {}

  static async start(secret: string): Promise<WebhookReceiver> {
    let self: WebhookReceiver | null = null;
    const server = createServer((req, res) => self!.handle(req, res));
    self = new WebhookReceiver(server, secret);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** Bodies of the requests answered 2xx, in order. */
  get delivered(): Received[] {
    return this.requests.filter((r) => typeof r.answered === "number" && r.answered < 300);
  }

  get hangingCount(): number {
    return this.hanging.filter((r) => !r.closed && !r.writableEnded).length;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const expected = Buffer.from(`sha256=${createHmac("sha256", this.secret).update(raw).digest("hex")}`);
      const given = Buffer.from(String(req.headers["x-prodgate-signature-256"] ?? ""));
      const answered: number | "hang" = this.failFirst > 0 ? (this.failFirst--, 500) : this.mode;
      const request: Received = {
        event: req.headers["x-prodgate-event"] as string | undefined,
        delivery: req.headers["x-prodgate-delivery"] as string | undefined,
        contentType: req.headers["content-type"],
        verified: given.length === expected.length && timingSafeEqual(given, expected),
        body: JSON.parse(raw.toString("utf8")) as Received["body"],
        answered,
      };
      this.requests.push(request);
      if (answered === "hang") {
        this.hanging.push(res);
        this.answers.set(res, request);
      } else res.writeHead(answered).end();
    });
  }

  /** Answer the requests left hanging with `status` now: their senders see that answer. */
  answerHanging(status: number): void {
    for (const res of this.hanging.splice(0)) {
      if (res.closed || res.writableEnded) continue;
      const request = this.answers.get(res);
      if (request) request.answered = status;
      res.writeHead(status).end();
    }
  }

  /** Drop the connections of the requests left hanging: their senders see a failed delivery. */
  release(): void {
    for (const r of this.hanging) r.destroy();
  }

  async close(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface Mail {
  from: string;
  to: string[];
  /** The message as sent, headers unfolded and quoted-printable decoded. */
  text: string;
  subject: string;
}

export class MailServer {
  readonly mails: Mail[] = [];
  /** Every AUTH a client made, with the credentials it sent (in clear: this server offers no TLS). */
  readonly auths: { username: string | null | undefined; password: string | null | undefined }[] = [];
  private constructor(private readonly server: SMTPServer) {}

  static async start(): Promise<MailServer> {
    let self: MailServer | null = null;
    const server = new SMTPServer({
      authOptional: true,
      // No STARTTLS, and AUTH taken all the same: what a careless relay does.
      allowInsecureAuth: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onAuth(auth, _session, callback) {
        self!.auths.push({ username: auth.username, password: auth.password });
        callback(null, { user: auth.username });
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          const text = decodeQuotedPrintable(
            Buffer.concat(chunks)
              .toString("utf8")
              .replace(/\r\n[ \t]+/g, " "),
          );
          self!.mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
            text,
            subject: /^Subject: (.*)$/m.exec(text)?.[1]?.trim() ?? "",
          });
          callback();
        });
      },
    });
    self = new MailServer(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    return self;
  }

  get url(): string {
    const address = (this.server as unknown as { server: { address(): AddressInfo } }).server.address();
    return `smtp://127.0.0.1:${address.port}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function decodeQuotedPrintable(text: string): string {
  return text.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
