import { describe, expect, it } from "vitest";
import { SchedulingQueue } from "../../src/shard/scheduling-queue.js";

const options = { initialBackoffMs: 1_000, maxBackoffMs: 8_000, unschedulableFlushMs: 60_000 };

describe("SchedulingQueue", () => {
  it("pops a new group once and keeps it in flight until done", () => {
    const queue = new SchedulingQueue(options);
    queue.add("g", 0);
    expect(queue.pop(0)).toEqual(["g"]);
    expect(queue.pop(0)).toEqual([]);
    expect(queue.state("g")).toBe("inflight");
    queue.done("g", "scheduled", 10);
    expect(queue.has("g")).toBe(false);
  });

  it("puts a group a cycle's budget did not reach back as active, with no attempt counted", () => {
    const queue = new SchedulingQueue(options);
    queue.add("g", 0);
    queue.pop(0);
    queue.done("g", "unschedulable", 0);
    queue.wakeUnschedulable(1_000);
    expect(queue.pop(1_000)).toEqual(["g"]);
    queue.requeue("g");
    expect(queue.state("g")).toBe("active");
    expect(queue.pop(1_000)).toEqual(["g"]);
    // Its next failure backs off as its second, not its third.
    queue.done("g", "unschedulable", 1_000);
    queue.wakeUnschedulable(2_999);
    expect(queue.state("g")).toBe("backoff");
    expect(queue.pop(3_000)).toEqual(["g"]);
    // Only a group in flight can be put back.
    queue.done("g", "scheduled", 3_000);
    queue.requeue("g");
    expect(queue.has("g")).toBe(false);
  });

  it("waits for an event before retrying an unschedulable group, and honours backoff", () => {
    const queue = new SchedulingQueue(options);
    queue.add("g", 0);
    queue.pop(0);
    queue.done("g", "unschedulable", 0);
    expect(queue.pop(5_000)).toEqual([]);
    // An event before the backoff has passed parks it in backoff until then.
    queue.wakeUnschedulable(500);
    expect(queue.state("g")).toBe("backoff");
    expect(queue.pop(999)).toEqual([]);
    expect(queue.pop(1_000)).toEqual(["g"]);
  });

  it("retries every unschedulable or backing-off group at once when ownership moves", () => {
    const queue = new SchedulingQueue(options);
    for (const id of ["parked", "backing", "busy"]) queue.add(id, 0);
    queue.pop(0);
    for (let attempt = 0; attempt < 4; attempt++) {
      queue.done("parked", "unschedulable", attempt * 10_000);
      queue.wakeUnschedulable(attempt * 10_000 + 1);
      queue.pop(attempt * 10_000 + 8_000);
    }
    queue.done("parked", "unschedulable", 40_000);
    queue.done("backing", "retry", 40_000);
    // Eight seconds of backoff each; an ownership change does not wait for them.
    queue.retryNow(40_001);
    expect(queue.pop(40_001).sort()).toEqual(["backing", "parked"]);
    // A group in flight is tried again once its attempt is done.
    queue.done("busy", "unschedulable", 40_002);
    expect(queue.state("busy")).toBe("backoff");
  });

  it("doubles backoff per failed attempt up to the maximum", () => {
    const queue = new SchedulingQueue(options);
    expect([1, 2, 3, 4, 5, 6].map((n) => queue.backoff(n))).toEqual([
      1_000, 2_000, 4_000, 8_000, 8_000, 8_000,
    ]);
  });

  it("retries an unschedulable group after the flush interval without any event", () => {
    const queue = new SchedulingQueue(options);
    queue.add("g", 0);
    queue.pop(0);
    queue.done("g", "unschedulable", 0);
    expect(queue.nextDueAt()).toBe(60_000);
    expect(queue.pop(59_999)).toEqual([]);
    expect(queue.pop(60_000)).toEqual(["g"]);
  });

  it("re-activates a group that changed while in flight", () => {
    const queue = new SchedulingQueue(options);
    queue.add("g", 0);
    queue.pop(0);
    queue.add("g", 1); // a member arrived while binding
    queue.done("g", "scheduled", 2);
    expect(queue.pop(2)).toEqual(["g"]);
  });

  it("holds an incomplete group until its time or a new member", () => {
    const queue = new SchedulingQueue(options);
    queue.add("a", 0);
    queue.add("b", 0);
    queue.pop(0);
    queue.done("a", "incomplete", 0, 500);
    queue.done("b", "incomplete", 0, Number.POSITIVE_INFINITY);
    expect(queue.pop(499)).toEqual([]);
    expect(queue.pop(500)).toEqual(["a"]);
    expect(queue.pop(1e9)).toEqual([]);
    queue.add("b", 1e9);
    expect(queue.pop(1e9)).toEqual(["b"]);
  });

  it("counts groups per state", () => {
    const queue = new SchedulingQueue(options);
    for (const id of ["a", "b", "c"]) queue.add(id, 0);
    queue.pop(0);
    queue.done("a", "retry", 0);
    queue.done("b", "unschedulable", 0);
    expect(queue.counts()).toEqual({ active: 0, incomplete: 0, backoff: 1, unschedulable: 1, inflight: 1 });
  });
});
