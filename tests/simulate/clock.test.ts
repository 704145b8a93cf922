import { describe, expect, it } from "vitest";
import { VirtualClock } from "./clock.js";

describe("VirtualClock", () => {
  it("runs events in time order, ties in the order they were scheduled", () => {
    const clock = new VirtualClock();
    const seen: string[] = [];
    clock.after(30, () => seen.push(`c@${clock.now}`));
    clock.after(10, () => seen.push(`a@${clock.now}`));
    clock.after(10, () => seen.push(`b@${clock.now}`));
    clock.after(0, () => clock.after(5, () => seen.push(`nested@${clock.now}`)));
    clock.run();
    expect(seen).toEqual(["nested@5", "a@10", "b@10", "c@30"]);
    expect(clock.now).toBe(30);
  });

  it("keeps order over many random events and never moves backwards", () => {
    const clock = new VirtualClock();
    const times: number[] = [];
    let x = 7;
    for (let i = 0; i < 5000; i++) {
      x = (x * 48271) % 2147483647;
      clock.at(x % 1000, () => times.push(clock.now));
    }
    clock.run();
    expect(times).toHaveLength(5000);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1] as number);
  });

  it("stops at the limit and keeps what is later", () => {
    const clock = new VirtualClock();
    let ran = 0;
    clock.after(10, () => ran++);
    clock.after(100, () => ran++);
    clock.run(() => false, 50);
    expect(ran).toBe(1);
    expect(clock.now).toBe(50);
    expect(clock.pending).toBe(1);
  });
});
