/**
 * An informer whose handler throws for one object: the error is logged once for that object and
 * counted, and the list and the watch go on delivering every other object. A stub stands in for
 * the REST client: it answers the list, and streams the watch events the test writes.
 */
import { PassThrough } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Informer } from "../../src/kube/informer.js";
import type { KubeClient } from "../../src/kube/kube-client.js";

interface Thing {
  metadata: { name: string; resourceVersion?: string };
  poison?: boolean;
}

const thing = (name: string, resourceVersion: string, poison = false): Thing => ({
  metadata: { name, resourceVersion },
  ...(poison ? { poison } : {}),
});

function stubClient(items: Thing[]) {
  const watch = new PassThrough();
  const client = {
    must: async () => ({ items, metadata: { resourceVersion: "10" } }),
    stream: async () => {
      Object.assign(watch, { statusCode: 200 });
      return { response: watch, abort: () => watch.destroy() };
    },
  } as unknown as KubeClient;
  const send = (type: string, object: unknown) => watch.write(`${JSON.stringify({ type, object })}\n`);
  return { client, send };
}

const waitUntil = async (what: string, done: () => boolean) => {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!done()) throw new Error(`timed out waiting for ${what}`);
};

describe("Informer handler errors", () => {
  it("skips an object whose handler throws, logs it once, counts it, and keeps watching", async () => {
    const { client, send } = stubClient([thing("a", "1"), thing("bad", "2", true), thing("b", "3")]);
    const seen: string[] = [];
    const removed: string[] = [];
    const logged: { msg: string; object?: string }[] = [];
    let counted = 0;
    const informer = new Informer<Thing>(
      client,
      { path: "/things", onHandlerError: () => counted++ },
      {
        upsert: (object) => {
          if (object.poison) throw new TypeError(`cannot read ${object.metadata.name}`);
          seen.push(object.metadata.name);
        },
        remove: (object) => removed.push(object.metadata.name),
      },
      pino({ level: "warn" }, { write: (line: string) => logged.push(JSON.parse(line)) }),
    );
    const running = informer.run();
    await waitUntil("the list", () => informer.synced);
    expect(seen).toEqual(["a", "b"]);

    // The same object failing again is counted, not logged again.
    send("MODIFIED", thing("bad", "11", true));
    send("ADDED", thing("c", "12"));
    send("ADDED", { metadata: {} });
    send("MODIFIED", thing("bad", "13", true));
    send("DELETED", thing("a", "14"));
    await waitUntil("the watch events", () => removed.includes("a"));
    expect(seen).toEqual(["a", "b", "c"]);
    expect(counted).toBe(3);
    expect(informer.stats.handlerErrors).toBe(3);
    expect(informer.stats.errors).toBe(0);
    expect(informer.stats.watches).toBe(1);
    const failures = logged.filter((line) => line.msg.startsWith("informer handler failed"));
    expect(failures).toHaveLength(1);
    expect(failures[0]?.object).toBe("bad");
    expect(JSON.stringify(failures[0])).toContain("cannot read bad");

    // Once handled, a later failure of the same object is logged again.
    send("MODIFIED", thing("bad", "15"));
    send("MODIFIED", thing("bad", "16", true));
    await waitUntil("the last events", () => informer.stats.handlerErrors === 4);
    expect(seen).toContain("bad");
    expect(logged.filter((line) => line.msg.startsWith("informer handler failed"))).toHaveLength(2);
    informer.stop();
    await running;
  });
});
