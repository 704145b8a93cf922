/**
 * The capacity summary goes to Redis when it changed, at most once per interval, and at once when
 * the shard asks (publishSoon: room a preemption won or gave back). A stub stands in for Redis.
 */
import type { Redis } from "ioredis";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { CapacitySummary } from "../../src/contracts/capacity-summary.js";
import { SummaryPublisher } from "../../src/coordination/summary-publisher.js";

const tick = () => new Promise((resolve) => setImmediate(resolve));

function publisherOf(summary: () => CapacitySummary) {
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
    { key: "k", intervalMs: 60_000, ttlMs: 60_000 },
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
