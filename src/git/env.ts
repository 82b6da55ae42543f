/**
 * The one environment every git process prodgate starts runs in. The hook
 * shims set the same variables at the top of hooks/common.sh: the two lists
 * must agree (test/unit/git-env.test.ts compares them).
 *
 * - Replace refs off: anyone with push access can push refs/replace/<sha>, and
 *   a replaced commit would make prodgate judge a history that is not the one
 *   production-stable would really hold.
 * - Grafts off: GIT_GRAFT_FILE names a file that cannot exist (below
 *   /dev/null, which is no directory), so no info/grafts file rewrites
 *   parents either.
 * - Only the repository's own configuration: no system or global file, and no
 *   configuration injected through the environment (GIT_CONFIG_PARAMETERS,
 *   GIT_CONFIG_COUNT/KEY_n/VALUE_n, and GIT_CONFIG, which makes `git config`
 *   read another file or, with --local, fail), which comes from whoever
 *   started git.
 *
 * Everything else is inherited on purpose: inside pre-receive GIT_DIR and the
 * quarantine variables (GIT_QUARANTINE_PATH, GIT_OBJECT_DIRECTORY,
 * GIT_ALTERNATE_OBJECT_DIRECTORIES) are what let git see the pushed objects.
 */
export const HARDENED_GIT_ENV: Readonly<Record<string, string>> = {
  GIT_NO_REPLACE_OBJECTS: "1",
  GIT_GRAFT_FILE: "/dev/null/prodgate-no-grafts",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

/** Variables removed from every git process's environment (see HARDENED_GIT_ENV). */
export const DROPPED_GIT_ENV: readonly string[] = ["GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_CONFIG"];

/**
 * safe.directory values the machine's system configuration gives (see
 * the admin command's openRepo), passed to git as its command-line scope, which
 * git honours for safe.directory and a repository's own config cannot set.
 * Only the admin command sets them; the hooks run as the repository's owner.
 */
let trustedSafeDirectories: readonly string[] = [];

/** Let git open a repository another user owns when the system configuration trusts it (safe.directory). */
export function trustSafeDirectories(values: readonly string[]): void {
  trustedSafeDirectories = values.filter((v) => v !== "" && !/[\n\0]/.test(v));
}

/** GIT_CONFIG_KEY_<n> and GIT_CONFIG_VALUE_<n>: meaningless without GIT_CONFIG_COUNT, dropped all the same. */
const INJECTED_CONFIG = /^GIT_CONFIG_(KEY|VALUE)_/;

/**
 * `base` (the process's own environment by default) with `extra` on top,
 * then hardened: the result is what a git child process gets.
 */
export function gitEnv(extra: Readonly<Record<string, string>> = {}, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, ...extra };
  for (const name of Object.keys(env)) {
    if (DROPPED_GIT_ENV.includes(name) || INJECTED_CONFIG.test(name)) delete env[name];
  }
  Object.assign(env, HARDENED_GIT_ENV);
  if (trustedSafeDirectories.length > 0) {
    const quote = (v: string) => `'${v.replace(/'/g, "'\\''")}'`;
    env.GIT_CONFIG_PARAMETERS = trustedSafeDirectories.map((v) => `${quote("safe.directory")}=${quote(v)}`).join(" ");
  }
  return env;
}
