// The decision on a deploy/<target>/<label> tag: governed like verdict tags
// (immutable, never deleted, one role may push them), recorded by
// post-receive. A tag naming a commit that is not on production-stable is
// still accepted: the record must say what is true, and it is flagged.
import type { Decision, PushContext, UpdateFacts } from "../policy/decide";
import { shortSha } from "../policy/types";
import { targetProblem } from "./rules";

type TagFacts = Pick<UpdateFacts, "ref" | "old" | "new" | "class" | "isCreate" | "isDelete">;

function reject(f: TagFacts, code: Decision["code"], reason: string): Decision {
  return { ref: f.ref, old: f.old, new: f.new, accepted: false, code, reason };
}

/** What needs no fact from git: the tag's name, its shape, the target, the pusher's role. */
export function deployTagPrecheck(f: TagFacts, ctx: PushContext): Decision | null {
  const tag = f.class.deploy!;
  if (!tag.valid) return reject(f, "bad-tag-name", `${f.ref} is not deploy/<target>/<label>`);
  if (f.isDelete) return reject(f, "tag-immutable", `${f.ref} records a deployment; it is never deleted`);
  if (!f.isCreate) return reject(f, "tag-immutable", `${f.ref} already exists; deploy tags never move`);
  if (!ctx.roles.has("ops"))
    return reject(f, "role-required", `recording a deployment needs the ops role, which ${ctx.user} does not hold`);
  const unknown = targetProblem([tag.target], ctx.targets ?? []);
  if (unknown) return reject(f, "unknown-target", unknown);
  return null;
}

export function decideDeployTag(f: UpdateFacts): Decision {
  if (!f.deployTarget) return reject(f, "not-a-commit", `${f.ref} does not point at a commit`);
  const tag = f.class.deploy!;
  return {
    ref: f.ref,
    old: f.old,
    new: f.new,
    accepted: true,
    code: "deployment",
    reason: `${tag.target} runs ${shortSha(f.deployTarget)}`,
  };
}
