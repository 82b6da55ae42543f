import { UserError } from "../errors";

export type RevSpec = { kind: "revno"; revno: number } | { kind: "name"; name: string } | { kind: "range"; from: RevSpec; to: RevSpec };

// A name git may take as a revision: no leading "-", no whitespace or
// control characters, none of git's revision operators that could widen it.
const SAFE_NAME = /^[A-Za-z0-9_./@{}^~+-]+$/;

function parseSingle(text: string, whole: string): RevSpec {
  if (/^r[0-9]+$/.test(text)) {
    const revno = Number(text.slice(1));
    if (revno < 1) throw new UserError(`bad revision "${whole}": revnos start at r1`, 2);
    return { kind: "revno", revno };
  }
  if (text === "" || text.startsWith("-") || !SAFE_NAME.test(text) || text.includes("..") || text.length > 256) {
    throw new UserError(
      `bad revision "${whole}": give a sha, a ref name, r<revno> or A..B (it may not start with "-" or hold spaces or shell characters)`,
      2,
    );
  }
  return { kind: "name", name: text };
}

/** Parse a revision as the admin command takes it: sha, ref name, r<revno>, or A..B. */
export function parseRevSpec(text: string): RevSpec {
  const parts = text.split("..");
  if (parts.length === 2) {
    if (parts[0] === "" || parts[1] === "") {
      throw new UserError(`bad range "${text}": write it as A..B with both ends`, 2);
    }
    return { kind: "range", from: parseSingle(parts[0]!, text), to: parseSingle(parts[1]!, text) };
  }
  if (parts.length > 2) throw new UserError(`bad range "${text}": write it as A..B`, 2);
  return parseSingle(text, text);
}
