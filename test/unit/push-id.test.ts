// Push ids join the audit rows of one push's two hooks, and tell two pushes apart.
import { describe, expect, it } from "vitest";
import { parseHookInput } from "../../src/hooks/input";

const line = `${"a".repeat(40)} ${"b".repeat(40)} refs/heads/devel\n`;
const other = `${"c".repeat(40)} ${"d".repeat(40)} refs/heads/stable\n`;

describe("push ids", () => {
  it("differ for two pushes with the same lines under different receive-pack processes", () => {
    expect(parseHookInput(line, "100-5000").pushId).not.toBe(parseHookInput(line, "101-5000").pushId);
    expect(parseHookInput(line, "100-5000").pushId).not.toBe(parseHookInput(line, "100-5001").pushId);
  });

  it("are the same for both hooks of one push, even when post-receive gets only the refs that landed", () => {
    expect(parseHookInput(line + other, "100-5000").pushId).toBe(parseHookInput(line, "100-5000").pushId);
  });

  it.each([undefined, "", "12", "12-x", "1-2-3", "../x"])("fall back to the lines without a usable receive-pack (%s)", (receive) => {
    expect(parseHookInput(line, receive).pushId).toBe(parseHookInput(line).pushId);
    expect(parseHookInput(line, receive).pushId).not.toBe(parseHookInput(other, receive).pushId);
  });
});
