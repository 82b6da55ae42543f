// The fuzzer's actions: plain data, so a run can be replayed, shrunk and
// printed. Each renders to one line of shell over the helpers of PRELUDE, run
// in a clone of the server; the printed reproduction is exactly what ran.
// Commits are named by labels (refs/fuzz/<label> in the clone); an action
// whose label or ref no longer exists simply fails, which is fine: the
// checker judges outcomes, never whether an action was accepted.

export type Action =
  /** A commit with a new file `<label>.txt` on top of `on` (a label or origin/<branch>). */
  | { k: "commit"; label: string; on: string; msg: string }
  /** A merge commit with parents (first, second). A foxtrot merge has the pusher's side chain first. */
  | { k: "merge"; label: string; first: string; second: string; msg?: string }
  /** A commit with `of`'s tree, a chosen parent and message: the body of a replace ref. */
  | { k: "forge"; label: string; of: string; parent: string; msg: string }
  /** git push by `by` of src (a label, origin/<branch>, or "" to delete) to dst. */
  | { k: "push"; by: string; src: string; dst: string; force?: boolean; override?: string }
  /** A push of src to refs/replace/<sha of target> (src "" deletes it). */
  | { k: "replace"; by: string; src: string; target: string }
  /** The admin command as `by`; an argument naming a label or origin/<branch> is passed as its sha. */
  | { k: "pg"; by: string; args: string[] };

/** Actions that only make objects in the clone; the others reach the server. */
export const isLocal = (a: Action): boolean => a.k === "commit" || a.k === "merge" || a.k === "forge";

/** Shell helpers every rendered action uses. SERVER and PRODGATE are set by the caller. */
export const PRELUDE = `
t() { n=\${1#c}; echo "@$((1700000000 + n * 60)) +0000"; }
mk() { git checkout -q --detach "$2" && echo "$1" > "$1.txt" && git add "$1.txt" && GIT_AUTHOR_DATE=$(t "$1") GIT_COMMITTER_DATE=$(t "$1") git commit -q -m "$3" && git update-ref "refs/fuzz/$1" HEAD; }
mg() { git checkout -q --detach "$2" && GIT_AUTHOR_DATE=$(t "$1") GIT_COMMITTER_DATE=$(t "$1") git merge -q --no-ff --no-edit -m "\${4:-$1: merge}" "$3" && git update-ref "refs/fuzz/$1" HEAD; }
fg() { git update-ref "refs/fuzz/$1" "$(GIT_AUTHOR_DATE=$(t "$1") GIT_COMMITTER_DATE=$(t "$1") git commit-tree "$2^{tree}" -p "$3" -m "$4")"; }
sha() { git rev-parse --verify -q "$1^{commit}"; }
push() { GL_USER="$1" git push -q "$SERVER" "\${@:2}"; }
pg() { GL_USER="$1" node "$PRODGATE" --repo "$SERVER" "\${@:2}"; }
`.trim();

const q = (s: string) => (/^[\w./:=@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
const rev = (r: string) => (r.startsWith("fuzz/") || r.startsWith("origin/") ? `"$(sha ${r})"` : q(r));
const fetchFirst = (...revs: string[]) => (revs.some((r) => r.startsWith("origin/")) ? "git fetch -q --prune origin && " : "");

export function render(a: Action): string {
  switch (a.k) {
    case "commit":
      return `${fetchFirst(a.on)}mk ${a.label} ${a.on} ${q(a.msg)}`;
    case "merge":
      return `${fetchFirst(a.first, a.second)}mg ${a.label} ${a.first} ${a.second}${a.msg ? ` ${q(a.msg)}` : ""}`;
    case "forge":
      return `${fetchFirst(a.of, a.parent)}fg ${a.label} ${a.of} ${a.parent} ${q(a.msg)}`;
    case "push": {
      const opts = [a.force ? "-f" : "", a.override ? `-o prodgate.override=${q(a.override)}` : ""].filter(Boolean);
      const src = a.src ? (a.src.startsWith("origin/") ? `${fetchFirst(a.src)}` : "") : "";
      return `${src}push ${a.by} ${[...opts, `${a.src ? rev(a.src) : ""}:${a.dst}`].join(" ")}`;
    }
    case "replace":
      return `push ${a.by} ${a.src ? rev(a.src) : ""}:refs/replace/$(sha ${a.target})`;
    case "pg":
      return `pg ${a.by} ${a.args.map(rev).join(" ")}`;
  }
}
