/**
 * Kubernetes resource.Quantity: the grammar, and the exact value kube-scheduler reads from it.
 *
 * A Quantity is a fixed-point number: Kubernetes rounds every parsed value up (away from zero)
 * to a whole number of nano-units and caps its magnitude at 2^63-1. We hold that exact value as
 * a bigint count of nano-units, so "0.1" cpu is 100 milli and sums of requests round the way
 * kube-scheduler's do; plain numbers come out only at the end (MilliValue / Value).
 */

/** A string that is not a Kubernetes quantity. */
export class InvalidQuantityError extends Error {
  readonly text: string;

  constructor(text: string) {
    super(
      `invalid quantity ${JSON.stringify(text)}: expected a signed decimal number followed by ` +
        "a binary suffix (Ki Mi Gi Ti Pi Ei), a decimal suffix (n u m k M G T P E) or an exponent (e3, E-1)",
    );
    this.name = "InvalidQuantityError";
    this.text = text;
  }
}

/** sign, integer digits, fraction digits, then at most one of: binary suffix, decimal suffix, exponent. */
const QUANTITY = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:([KMGTPE])i|([numkMGTPE])|[eE]([+-]?[0-9]+))?$/;

const BINARY_SUFFIX_POWER_OF_TWO: Readonly<Record<string, number>> = {
  K: 10,
  M: 20,
  G: 30,
  T: 40,
  P: 50,
  E: 60,
};
const DECIMAL_SUFFIX_POWER_OF_TEN: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

const NANOS_PER_UNIT = 1_000_000_000n;
const NANOS_PER_MILLI = 1_000_000n;
/** Kubernetes caps a quantity's magnitude at the largest int64. */
const MAX_NANOS = (2n ** 63n - 1n) * NANOS_PER_UNIT;
const LOG10_MAX_NANOS = Math.log10(Number(MAX_NANOS));
const LOG10_2 = Math.log10(2);

/**
 * The exact value of a quantity in nano-units (10^-9 of its base unit), rounded up to a whole
 * nano-unit and capped at ±(2^63-1) units, as Kubernetes stores it.
 */
export function parseQuantityNanos(text: string): bigint {
  const match = QUANTITY.exec(text);
  if (match === null) throw new InvalidQuantityError(text);
  const [, sign, integerDigits = "", fractionDigits = "", binarySuffix, decimalSuffix, exponent] = match;
  const allDigits = integerDigits + fractionDigits;
  if (allDigits.length === 0) throw new InvalidQuantityError(text);

  let powerOfTwo = 0;
  let powerOfTen = -fractionDigits.length;
  if (binarySuffix !== undefined) powerOfTwo = BINARY_SUFFIX_POWER_OF_TWO[binarySuffix] ?? 0;
  else if (decimalSuffix !== undefined) powerOfTen += DECIMAL_SUFFIX_POWER_OF_TEN[decimalSuffix] ?? 0;
  else if (exponent !== undefined) powerOfTen += Number(exponent);

  const significant = allDigits.replace(/^0+/, "");
  if (significant.length === 0) return 0n;
  const magnitude = nanosOf(significant, powerOfTen + 9, powerOfTwo);
  return sign === "-" ? -magnitude : magnitude;
}

/** digits × 10^powerOfTen × 2^powerOfTwo nano-units, rounded up to a whole one and capped. */
function nanosOf(digits: string, powerOfTen: number, powerOfTwo: number): bigint {
  // Decide huge and tiny values from their order of magnitude, before building big powers.
  const log10Floor = digits.length - 1 + powerOfTen + powerOfTwo * LOG10_2;
  if (log10Floor > LOG10_MAX_NANOS + 1) return MAX_NANOS;
  if (log10Floor < -2) return 1n;

  let nanos = BigInt(digits) << BigInt(powerOfTwo);
  if (powerOfTen >= 0) {
    nanos *= 10n ** BigInt(powerOfTen);
  } else {
    const divisor = 10n ** BigInt(-powerOfTen);
    nanos = (nanos + divisor - 1n) / divisor;
  }
  return nanos > MAX_NANOS ? MAX_NANOS : nanos;
}

/** ceil(nanos / divisor), exactly. */
function divideRoundingUp(nanos: bigint, divisor: bigint): bigint {
  const quotient = nanos / divisor;
  return nanos % divisor > 0n ? quotient + 1n : quotient;
}

/** Like Quantity.MilliValue(): the value × 1000, rounded up. */
export function milliValueOfNanos(nanos: bigint): number {
  return Number(divideRoundingUp(nanos, NANOS_PER_MILLI));
}

/** Like Quantity.Value(): the value, rounded up. */
export function integerValueOfNanos(nanos: bigint): number {
  return Number(divideRoundingUp(nanos, NANOS_PER_UNIT));
}

/** The value of a quantity in base units (cores, bytes, devices); may be fractional. */
export function parseQuantity(text: string): number {
  const nanos = parseQuantityNanos(text);
  // Whole units and the fraction separately, so integral values stay exact.
  return Number(nanos / NANOS_PER_UNIT) + Number(nanos % NANOS_PER_UNIT) / 1e9;
}

/** Like Quantity.MilliValue(): ceil(value × 1000), e.g. "0.1" → 100, "1.0001m" → 2. */
export function milliValue(text: string): number {
  return milliValueOfNanos(parseQuantityNanos(text));
}

/** Like Quantity.Value(): ceil(value), e.g. "1.5Gi" → 1610612736, "100m" → 1. */
export function integerValue(text: string): number {
  return integerValueOfNanos(parseQuantityNanos(text));
}
