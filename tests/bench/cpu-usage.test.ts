import { describe, expect, it } from "vitest";
import { waitUntilQuiet } from "./cpu-usage.js";

/** A sampler that answers these busy percentages, one per second asked. */
const samples = (values: number[]) => {
  let next = 0;
  return async () => values[next++] ?? 100;
};

describe("waitUntilQuiet", () => {
  const quiet = { busyBelowPercent: 20, forSeconds: 2, boundSeconds: 6 };

  it("is quiet once the machine stayed under the bar for the seconds asked in a row", async () => {
    expect(await waitUntilQuiet(quiet, samples([90, 15, 10, 50]))).toEqual({ waitedSeconds: 3, quiet: true });
  });

  it("starts counting again after a busy second", async () => {
    expect(await waitUntilQuiet(quiet, samples([10, 60, 10, 19]))).toEqual({ waitedSeconds: 4, quiet: true });
  });

  it("gives up at the bound: the run is measured anyway", async () => {
    expect(await waitUntilQuiet(quiet, samples([10, 30, 10, 30, 10, 30, 10]))).toEqual({
      waitedSeconds: 6,
      quiet: false,
    });
  });
});
