import { userInfo } from "node:os";
import type { Config } from "./config";

/**
 * Who is acting: the first configured environment variable that is set and
 * non-empty, else (unless switched off) the operating-system user. Nothing the
 * client sends - push options, commit authors, tag names - is consulted.
 */
export function identify(
  env: Readonly<Record<string, string | undefined>>,
  config: Pick<Config, "identityVars" | "identityFallback">,
  osUser: () => string | null = currentOsUser,
): string | null {
  for (const name of config.identityVars) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  return config.identityFallback === "os" ? osUser() : null;
}

function currentOsUser(): string | null {
  try {
    return userInfo().username || null;
  } catch {
    return null;
  }
}
