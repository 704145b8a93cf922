import { describe, expect, it } from "vitest";
import { formatGangSizes, gangLayout, parseGangSizes } from "./gang-layout.js";

describe("gangLayout", () => {
  it("cycles the sizes through the range; the last gang takes the pods left over", () => {
    const layout = gangLayout(20, { min: 3, max: 5 });
    // 3 + 4 + 5 + 3 + 4 = 19, then 1 left.
    expect(Array.from({ length: layout.gangs }, (_, g) => layout.membersOf(g))).toEqual([3, 4, 5, 3, 4, 1]);
    expect([0, 2, 3, 6, 7, 19].map(layout.gangOf)).toEqual([0, 0, 1, 1, 2, 5]);
  });

  it("with one size, cuts gangs of that size as the annotation scenario always did", () => {
    const layout = gangLayout(10, { min: 4, max: 4 });
    expect(layout.gangs).toBe(3);
    expect(layout.membersOf(2)).toBe(2);
    expect(layout.gangOf(9)).toBe(2);
  });
});

describe("parseGangSizes", () => {
  it("reads G and A-B, refuses the rest", () => {
    expect(parseGangSizes("8")).toEqual({ min: 8, max: 8 });
    expect(parseGangSizes("3-8")).toEqual({ min: 3, max: 8 });
    for (const bad of ["0", "8-3", "x", "3-", "-3", "2.5"]) expect(parseGangSizes(bad), bad).toBeUndefined();
    expect(formatGangSizes({ min: 3, max: 8 })).toBe("3-8");
    expect(formatGangSizes({ min: 8, max: 8 })).toBe("8");
  });
});
