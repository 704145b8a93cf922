/**
 * The capacity summary goes to Redis when it changed, at most once per interval, and at once when
 * the shard asks (publishSoon: room a preemption won or gave back). A stub stands in for Redis.
 */
import type { Redis } from "ioredis";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { CapacitySummary } from "../../src/contracts/capacity-summary.js";
import { SummaryPublisher, withPublishedAt } from "../../src/coordination/summary-publisher.js";

const tick = () => new Promise((resolve) => setImmediate(resolve));

function publisherOf(summary: () => CapacitySummary, inputsVersion?: () => string) {
  const sent: string[] = [];
  let answer: (() => void) | undefined;
  const redis = {
    status: "ready",
    // Each SET is answered when the test says so (answer), to hold the publisher busy.
    set: (_key: string, body: string) =>
      new Promise<void>((resolve) => {
        sent.push(body);
        answer = resolve;
      }),
  } as unknown as Redis;
  const publisher = new SummaryPublisher(
    redis,
    summary,
    { key: "k", intervalMs: 60_000, ttlMs: 60_000, ...(inputsVersion ? { inputsVersion } : {}) },
    pino({ level: "silent" }),
  );
  return { publisher, sent, answer: () => answer?.() };
}

const summaryWith = (free: number): CapacitySummary => ({
  shard: "s-0",
  epoch: 1,
  publishedAt: Date.now(),
  classes: [{ labels: {}, taints: [] }],
  nodes: [{ name: "n1", class: 0, free: { cpu: free }, freeable: [] }],
  stuck: [],
});

describe("SummaryPublisher.publishSoon", () => {
  it("publishes a changed summary on the next turn of the event loop, once however often asked", async () => {
    let free = 1000;
    const { publisher, sent, answer } = publisherOf(() => summaryWith(free));
    publisher.publishSoon();
    publisher.publishSoon();
    await tick();
    expect(sent).toHaveLength(1);
    answer();
    await tick();
    free = 0;
    publisher.publishSoon();
    await tick();
    expect(sent).toHaveLength(2);
    expect(JSON.parse(sent[1] as string).nodes[0].free.cpu).toBe(0);
  });

  it("publishes again after the one in flight when asked meanwhile (the room changed since)", async () => {
    let free = 1000;
    const { publisher, sent, answer } = publisherOf(() => summaryWith(free));
    publisher.publishSoon();
    await tick();
    expect(sent).toHaveLength(1);
    free = 0;
    publisher.publishSoon();
    await tick();
    expect(sent).toHaveLength(1);
    answer();
    await tick();
    await tick();
    expect(sent).toHaveLength(2);
    expect(JSON.parse(sent[1] as string).nodes[0].free.cpu).toBe(0);
  });
});

describe("SummaryPublisher: a summary is built only when its inputs changed", () => {
  it("builds none at an interval while the shard's inputs version stands, one when it moves, and refreshes when due", async () => {
    let built = 0;
    let free = 1000;
    let version = "v1";
    const { publisher, sent, answer } = publisherOf(
      () => {
        built++;
        return summaryWith(free);
      },
      () => version,
    );
    const start = Date.now();
    const first = publisher.publishIfDue(start);
    answer();
    await first;
    expect([built, sent.length]).toEqual([1, 1]);
    // Nothing it reads changed: not built again, however many intervals pass.
    for (let i = 1; i <= 5; i++) await publisher.publishIfDue(start + i * 100);
    expect(built).toBe(1);
    // Its inputs moved but the summary reads the same: built, not sent, and not built again.
    version = "v2";
    await publisher.publishIfDue(start + 600);
    await publisher.publishIfDue(start + 700);
    expect([built, sent.length]).toEqual([2, 1]);
    // They moved and the room changed: built and sent.
    version = "v3";
    free = 0;
    const sending = publisher.publishIfDue(start + 800);
    answer();
    await sending;
    expect([built, sent.length]).toEqual([3, 2]);
    expect(JSON.parse(sent[1] as string).nodes[0].free.cpu).toBe(0);
    // Due for a refresh (a third of its lifetime in Redis): built and sent though nothing moved.
    const refreshing = publisher.publishIfDue(start + 800 + 20_000);
    answer();
    await refreshing;
    expect([built, sent.length]).toEqual([4, 3]);
    // Asked at once (publishSoon: room a preemption won or gave back): built whatever the version says.
    publisher.publishSoon();
    await tick();
    expect(built).toBe(5);
  });
});

describe("withPublishedAt: the JSON sent, from the one compared", () => {
  const zeroed = (summary: CapacitySummary) => JSON.stringify({ ...summary, publishedAt: 0 });

  it("is the summary's own JSON, even where a label or shard name spells the header's key", () => {
    const tricky: CapacitySummary = {
      ...summaryWith(3),
      shard: 's-0"publishedAt":0,',
      publishedAt: 1_796_600_000_123,
      classes: [{ labels: { '"publishedAt":0,': '"publishedAt":0,' }, taints: [] }],
    };
    expect(withPublishedAt(zeroed(tricky), tricky)).toBe(JSON.stringify(tricky));
  });

  it("serializes the summary again when its JSON does not begin with the header", () => {
    const { publishedAt, ...rest } = summaryWith(3);
    const reordered = { ...rest, publishedAt } as CapacitySummary;
    expect(withPublishedAt(zeroed(reordered), reordered)).toBe(JSON.stringify(reordered));
    expect(JSON.parse(withPublishedAt(zeroed(reordered), reordered)).publishedAt).toBe(publishedAt);
  });
});
