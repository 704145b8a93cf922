import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  InvalidQuantityError,
  integerValue,
  milliValue,
  parseQuantity,
  parseQuantityNanos,
} from "../../src/core/resources/quantity.js";

const INT64_MAX = 2 ** 63 - 1;

describe("parseQuantity", () => {
  it.each([
    ["0", 0],
    ["1", 1],
    ["+1", 1],
    ["-1", -1],
    ["100m", 0.1],
    ["0.1", 0.1],
    ["0.5", 0.5],
    ["1.5", 1.5],
    ["1.", 1],
    [".5", 0.5],
    ["007", 7],
    ["1n", 1e-9],
    ["1u", 1e-6],
    ["250m", 0.25],
    ["1k", 1000],
    ["1M", 1e6],
    ["1G", 1e9],
    ["1T", 1e12],
    ["1P", 1e15],
    ["1E", 1e18],
    ["1Ki", 1024],
    ["500Mi", 500 * 1024 * 1024],
    ["2Gi", 2 * 1024 ** 3],
    ["1.5Gi", 1610612736],
    ["0.5Ki", 512],
    ["1Ti", 1024 ** 4],
    ["1Pi", 1024 ** 5],
    ["1Ei", 2 ** 60],
    ["1e3", 1000],
    ["1E3", 1000],
    ["1e+3", 1000],
    ["12E-1", 1.2],
    ["1.5e-3", 0.0015],
    ["-2Gi", -2 * 1024 ** 3],
  ])("%s is %d", (text, expected) => {
    expect(parseQuantity(text)).toBe(expected);
  });

  it("rounds values finer than a nano-unit up to one, as Kubernetes does", () => {
    expect(parseQuantityNanos("1e-12")).toBe(1n);
    expect(parseQuantityNanos("0.0000000001")).toBe(1n);
    expect(parseQuantityNanos("1.0000000001")).toBe(1_000_000_001n);
    expect(parseQuantityNanos("-1e-12")).toBe(-1n);
    expect(parseQuantityNanos("1e-999999999999")).toBe(1n);
  });

  it("keeps zero zero however it is written", () => {
    for (const text of ["0", "-0", "0.000", "0Gi", "0e99999999", "000m"]) {
      expect(parseQuantityNanos(text)).toBe(0n);
      expect(parseQuantity(text)).toBe(0);
    }
  });

  it("caps magnitudes at the largest int64, as Kubernetes does", () => {
    expect(parseQuantity("16Ei")).toBe(INT64_MAX);
    expect(parseQuantity("1e30")).toBe(INT64_MAX);
    expect(parseQuantity("1e99999999999999999999")).toBe(INT64_MAX);
    expect(parseQuantity("-1e30")).toBe(-INT64_MAX);
    expect(parseQuantity("7Ei")).toBe(7 * 2 ** 60);
  });

  it.each([
    "",
    " ",
    " 1",
    "1 ",
    "1 Gi",
    "1.2.3",
    "Gi",
    "m",
    ".",
    "+",
    "-",
    "--1",
    "+-1",
    "1KiB",
    "1K",
    "1i",
    "1mi",
    "1e",
    "1e+",
    "1e1.5",
    "e3",
    "1Gi3",
    "1e3Ki",
    "0x10",
    "1,5",
    "1_000",
    "Infinity",
    "NaN",
    "١",
  ])("rejects %j", (text) => {
    expect(() => parseQuantity(text)).toThrow(InvalidQuantityError);
  });

  it("names the input in the error", () => {
    const error = (() => {
      try {
        parseQuantity("1 Gi");
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(InvalidQuantityError);
    expect((error as InvalidQuantityError).message).toContain('"1 Gi"');
    expect((error as InvalidQuantityError).text).toBe("1 Gi");
    expect((error as InvalidQuantityError).name).toBe("InvalidQuantityError");
  });
});

describe("milliValue and integerValue", () => {
  it.each([
    // text, MilliValue(), Value()
    ["100m", 100, 1],
    ["0.1", 100, 1],
    ["0.5", 500, 1],
    ["1", 1000, 1],
    ["1.5", 1500, 2],
    ["12E-1", 1200, 2],
    ["1e3", 1_000_000, 1000],
    ["1.0001m", 2, 1],
    ["0.1m", 1, 1],
    ["1n", 1, 1],
    ["999999n", 1, 1],
    ["1000001n", 2, 1],
    ["2Gi", 2 * 1024 ** 3 * 1000, 2 * 1024 ** 3],
    ["1.5Gi", 1610612736000, 1610612736],
    ["500Mi", 524288000000, 524288000],
    ["1G", 1e12, 1e9],
    ["0", 0, 0],
    ["-1.5", -1500, -1],
  ])("%s has MilliValue %d and Value %d", (text, milli, value) => {
    expect(milliValue(text)).toBe(milli);
    expect(integerValue(text)).toBe(value);
  });

  it("throws InvalidQuantityError like parseQuantity", () => {
    expect(() => milliValue("1.2.3")).toThrow(InvalidQuantityError);
    expect(() => integerValue("Gi")).toThrow(InvalidQuantityError);
  });
});

describe("quantity properties", () => {
  const binarySuffixes = [
    ["Ki", 1024],
    ["Mi", 1024 ** 2],
    ["Gi", 1024 ** 3],
    ["Ti", 1024 ** 4],
  ] as const;
  const decimalSuffixes = [
    ["", 1],
    ["k", 1e3],
    ["M", 1e6],
    ["G", 1e9],
  ] as const;

  it("nKi is n × 1024, and the same for every binary suffix", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.constantFrom(...binarySuffixes),
        (n, [suffix, factor]) => {
          expect(parseQuantity(`${n}Ki`)).toBe(n * 1024);
          const scaled = n % Math.floor(2 ** 53 / factor); // stay where doubles are exact
          expect(integerValue(`${scaled}${suffix}`)).toBe(scaled * factor);
        },
      ),
    );
  });

  it("n with a decimal suffix or exponent is n × 10^k", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.constantFrom(...decimalSuffixes),
        (n, [suffix, factor]) => {
          expect(integerValue(`${n}${suffix}`)).toBe(n * factor);
          expect(parseQuantity(`${n}e${Math.log10(factor)}`)).toBe(n * factor);
        },
      ),
    );
  });

  it("nm is n milli-units and n is 1000 n milli-units", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (n) => {
        expect(milliValue(`${n}m`)).toBe(n);
        expect(milliValue(`${n}`)).toBe(n * 1000);
        expect(integerValue(`${n}m`)).toBe(Math.ceil(n / 1000));
      }),
    );
  });

  it("a decimal's MilliValue is its value × 1000 rounded up", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 ** 6 }),
        fc.stringMatching(/^[0-9]{0,8}$/),
        (whole, fraction) => {
          // Oracle: scale to an integer numerator over 10^digits and divide rounding up.
          const denominator = 10n ** BigInt(fraction.length);
          const numerator = (BigInt(whole) * denominator + BigInt(fraction || "0")) * 1000n;
          const expected = Number((numerator + denominator - 1n) / denominator);
          expect(milliValue(`${whole}.${fraction}`)).toBe(expected);
        },
      ),
    );
  });

  it("a leading minus negates the exact value", () => {
    fc.assert(
      fc.property(quantityText(), (text) => {
        expect(parseQuantityNanos(`-${text}`)).toBe(-parseQuantityNanos(text));
        expect(parseQuantityNanos(`+${text}`)).toBe(parseQuantityNanos(text));
      }),
    );
  });

  it("Value() and MilliValue() are the exact value rounded up to a whole unit and milli-unit", () => {
    fc.assert(
      fc.property(quantityText(), (text) => {
        const nanos = parseQuantityNanos(text);
        const value = integerValue(text);
        const milli = milliValue(text);
        fc.pre(Number.isSafeInteger(milli));
        const nanosPerUnit = 1_000_000_000n;
        const nanosPerMilli = 1_000_000n;
        expect(BigInt(value) * nanosPerUnit >= nanos).toBe(true);
        expect(BigInt(value) * nanosPerUnit - nanos < nanosPerUnit).toBe(true);
        expect(BigInt(milli) * nanosPerMilli >= nanos).toBe(true);
        expect(BigInt(milli) * nanosPerMilli - nanos < nanosPerMilli).toBe(true);
        expect(value).toBe(Math.ceil(milli / 1000));
      }),
    );
  });

  it("anything with whitespace is rejected", () => {
    fc.assert(
      fc.property(quantityText(), fc.nat(), fc.constantFrom(" ", "\t", "\n"), (text, at, space) => {
        const position = at % (text.length + 1);
        const spaced = text.slice(0, position) + space + text.slice(position);
        expect(() => parseQuantity(spaced)).toThrow(InvalidQuantityError);
      }),
    );
  });
});

/** Valid, unsigned quantities of modest size. */
function quantityText(): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.stringMatching(/^[0-9]{1,6}$/),
      fc.option(fc.stringMatching(/^[0-9]{0,6}$/), { nil: undefined }),
      fc.constantFrom("", "n", "u", "m", "k", "M", "G", "Ki", "Mi", "Gi", "e3", "E-2", "e+1"),
    )
    .map(([whole, fraction, suffix]) => `${whole}${fraction === undefined ? "" : `.${fraction}`}${suffix}`);
}
