/** Exact counts from text, and invalid objects logged once and counted once per fault. */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { exactCount, quoted } from "../../src/contracts/parsed.js";
import { InvalidObjects } from "../../src/kube/invalid-objects.js";

describe("exactCount", () => {
  it.each([
    ["0", 0],
    ["42", 42],
    ["007", 7],
    ["9007199254740991", Number.MAX_SAFE_INTEGER],
  ])("reads %s", (text, value) => {
    expect(exactCount(text)).toEqual({ ok: true, value });
  });

  it.each(["9007199254740992", "9007199254740993", "1".repeat(40)])(
    "refuses %s as beyond 2^53 - 1",
    (text) => {
      const result = exactCount(text);
      expect(result.ok ? "read" : result.reason).toContain("beyond 2^53 - 1");
    },
  );

  it.each(["", "1e3", "-1", "1.5", " 1", "0x1", "Infinity", "NaN", "１"])("refuses %j", (text) => {
    expect(exactCount(text).ok).toBe(false);
  });
});

describe("quoted", () => {
  it("cuts long text", () => {
    expect(quoted("x".repeat(200_000))).toBe(JSON.stringify(`${"x".repeat(64)}...`));
  });
});

describe("InvalidObjects", () => {
  it("logs and counts an object once per fault, and again after it was valid", () => {
    const lines: { name: string; reason: string }[] = [];
    const counted: string[] = [];
    const invalid = new InvalidObjects(
      pino({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line)) }),
      (kind) => counted.push(kind),
    );
    invalid.report("ring-lease", "ns/r", "bad epoch");
    invalid.report("ring-lease", "ns/r", "bad epoch");
    invalid.report("ring-lease", "ns/other", "bad epoch");
    invalid.report("ring-lease", "ns/r", "bad members");
    expect(invalid.check("ring-lease", "ns/r", { ok: true, value: 1 })).toBe(1);
    expect(invalid.check("ring-lease", "ns/r", { ok: false, reason: "bad members" })).toBeUndefined();
    expect(counted).toHaveLength(4);
    expect(lines.map((line) => `${line.name}: ${line.reason}`)).toEqual([
      "ns/r: bad epoch",
      "ns/other: bad epoch",
      "ns/r: bad members",
      "ns/r: bad members",
    ]);
  });
});
