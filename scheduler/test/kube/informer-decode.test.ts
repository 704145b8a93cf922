/**
 * How an informer decodes its watch: lines split straight from the stream's buffers (a line or a
 * character cut across chunks joined), each object reduced by `keep` before the store and the
 * handlers see it (kept as decoded when keep cannot read it), and the meter told the bytes,
 * events and decode time of each chunk (the shard's watch counters, by resource).
 */
import { PassThrough } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Informer, LineSplitter } from "../../src/kube/informer.js";
import type { KubeClient } from "../../src/kube/kube-client.js";
import { ShardMetrics } from "../../src/shard/metrics.js";
import { waitUntil } from "./fake-api-server.js";

function lines(splitter: LineSplitter): string[] {
  const found: string[] = [];
  for (let line = splitter.next(); line !== undefined; line = splitter.next()) found.push(line);
  return found;
}

describe("LineSplitter", () => {
  it("splits lines within a chunk and joins a line, or a UTF-8 character, cut across chunks", () => {
    const splitter = new LineSplitter();
    const text = Buffer.from('{"a":1}\n{"b":"é€"}\n\n{"c":3}\n');
    const cut = text.indexOf("€") + 1; // inside the three bytes of €
    splitter.push(text.subarray(0, 3));
    expect(lines(splitter)).toEqual([]);
    splitter.push(text.subarray(3, cut));
    expect(lines(splitter)).toEqual(['{"a":1}']);
    splitter.push(text.subarray(cut, cut + 1));
    expect(lines(splitter)).toEqual([]);
    splitter.push(text.subarray(cut + 1));
    expect(lines(splitter)).toEqual(['{"b":"é€"}', "", '{"c":3}']);
    splitter.push("tail");
    expect(lines(splitter)).toEqual([]);
  });
});

interface Item {
  metadata: { name: string; resourceVersion?: string; managedFields?: unknown[] };
  big?: string;
  bad?: boolean;
}

/** One watch-list stream the test writes to. */
function streamingServer() {
  const response = Object.assign(new PassThrough(), { statusCode: 200, headers: {} });
  const client = {
    stream: async () => ({ response, abort: () => response.destroy() }),
    call: async () => ({ status: 500, body: {} }),
  } as unknown as Pick<KubeClient, "call" | "read" | "stream">;
  const event = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`;
  return { response, client, event };
}

describe("Informer decoding", () => {
  it("gives handlers and the store what keep kept, the decoded object where keep throws, and meters every chunk", async () => {
    const { response, client, event } = streamingServer();
    const metrics = new ShardMetrics();
    const upserts: Item[] = [];
    const informer = new Informer<Item>(
      client,
      {
        path: "/items",
        keep: (item) => {
          if (item.bad) throw new TypeError("unreadable");
          return { metadata: { name: item.metadata.name, resourceVersion: item.metadata.resourceVersion } };
        },
        meter: metrics.watchMeter("items"),
      },
      { upsert: (item) => upserts.push(item), remove: () => undefined },
      pino({ level: "silent" }),
    );
    const running = informer.run();
    const big = "x".repeat(100_000);
    const text =
      event("ADDED", { metadata: { name: "a", resourceVersion: "1", managedFields: [{}] }, big }) +
      event("ADDED", { metadata: { name: "b", resourceVersion: "2" }, bad: true }) +
      event("BOOKMARK", {
        metadata: { resourceVersion: "2", annotations: { "k8s.io/initial-events-end": "true" } },
      });
    // Cut in three, the first event across two chunks.
    response.write(text.slice(0, 50_000));
    response.write(text.slice(50_000, 100_100));
    response.write(text.slice(100_100));
    await waitUntil("the list", () => informer.synced);
    expect(upserts).toEqual([
      { metadata: { name: "a", resourceVersion: "1" } },
      { metadata: { name: "b", resourceVersion: "2" }, bad: true },
    ]);
    expect(informer.get("a")).toEqual({ metadata: { name: "a", resourceVersion: "1" } });

    response.write(event("MODIFIED", { metadata: { name: "a", resourceVersion: "3", managedFields: [{}] } }));
    await waitUntil("the watch event", () => upserts.length === 3);
    expect(upserts[2]).toEqual({ metadata: { name: "a", resourceVersion: "3" } });

    const text2 = await metrics.registry.metrics();
    const value = (name: string) =>
      Number(new RegExp(`^${name}\\{resource="items"\\} (\\S+)$`, "m").exec(text2)?.[1]);
    expect(value("sharded_scheduler_watch_received_bytes_total")).toBe(
      Buffer.byteLength(text) +
        Buffer.byteLength(
          event("MODIFIED", { metadata: { name: "a", resourceVersion: "3", managedFields: [{}] } }),
        ),
    );
    expect(value("sharded_scheduler_watch_events_total")).toBe(4);
    expect(value("sharded_scheduler_watch_decode_seconds_total")).toBeGreaterThan(0);
    informer.stop();
    await running;
  });
});
