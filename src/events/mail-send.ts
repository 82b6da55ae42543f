// Sending mail, in a bundle of its own (dist/mail.cjs): the SMTP library is
// loaded only by the deliverer, and only when there is mail to send.
import { readFileSync } from "node:fs";
import nodemailer from "nodemailer";

export interface MailMessage {
  from: string;
  to: string[];
  subject: string;
  text: string;
  /** The event id, so a mail sent twice (at-least-once) can be told apart. */
  eventId: string;
}

/**
 * Send one mail through `smtpUrl` (smtp:// upgrades with STARTTLS when the
 * server offers it, and must when there is a password; smtps:// is TLS from the start). The user comes from the
 * URL, the password from `passwordFile`. Resolves with the server's answer.
 */
export async function sendMail(smtpUrl: string, passwordFile: string | null, message: MailMessage, timeoutMs: number): Promise<string> {
  const url = new URL(smtpUrl);
  const user = decodeURIComponent(url.username);
  const pass = passwordFile ? readFileSync(passwordFile, "utf8").replace(/\r?\n$/, "") : undefined;
  const transport = nodemailer.createTransport({
    host: url.hostname,
    port: url.port ? Number(url.port) : url.protocol === "smtps:" ? 465 : 25,
    secure: url.protocol === "smtps:",
    // A password only ever goes over TLS: with smtp:// the server must then offer STARTTLS.
    requireTLS: pass !== undefined && url.protocol !== "smtps:",
    auth: user ? { user, pass } : undefined,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  try {
    const info = await transport.sendMail({
      from: message.from,
      to: message.to,
      subject: message.subject,
      text: message.text,
      headers: { "X-Prodgate-Delivery": message.eventId },
    });
    return String(info.response ?? "sent");
  } finally {
    transport.close();
  }
}
