import { userInfo } from "node:os";
import type { Config } from "./config";

type IdentityConfig = Pick<Config, "identityVars" | "identityFallback">;

/**
 * Whitespace, control and format characters (bidi overrides, zero-width
 * spaces) in a name: no user name holds them, and a name compared after
 * trimming or normalising could become someone else's.
 */
const NOT_IN_A_NAME = /[\s\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** Where the identity comes from and what it says, before any check. */
function rawIdentity(
  env: Readonly<Record<string, string | undefined>>,
  config: IdentityConfig,
  osUser: () => string | null,
): { source: string; value: string } | null {
  for (const name of config.identityVars) {
    const value = env[name];
    if (value) return { source: name, value };
  }
  if (config.identityFallback !== "os") return null;
  const value = osUser();
  return value ? { source: "the operating-system user", value } : null;
}

/**
 * Who is acting: the first configured environment variable that is set and
 * non-empty, else (unless switched off) the operating-system user. Nothing the
 * client sends - push options, commit authors, tag names - is consulted. The
 * name is taken exactly as given, never trimmed or normalised; a name holding
 * whitespace or control characters is no identity (see identityProblem).
 */
export function identify(
  env: Readonly<Record<string, string | undefined>>,
  config: IdentityConfig,
  osUser: () => string | null = currentOsUser,
): string | null {
  const raw = rawIdentity(env, config, osUser);
  if (!raw || NOT_IN_A_NAME.test(raw.value)) return null;
  return raw.value;
}

/** Why the identity that was given is refused, in one line; null when it is fine or none was given. */
export function identityProblem(
  env: Readonly<Record<string, string | undefined>>,
  config: IdentityConfig,
  osUser: () => string | null = currentOsUser,
): string | null {
  const raw = rawIdentity(env, config, osUser);
  if (!raw || !NOT_IN_A_NAME.test(raw.value)) return null;
  return `the user name in ${raw.source} holds whitespace or control characters, which no user name may hold; fix what sets it`;
}

function currentOsUser(): string | null {
  try {
    return userInfo().username || null;
  } catch {
    return null;
  }
}
