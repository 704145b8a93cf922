/**
 * An informer whose handler throws for one object: the error is logged once for that object and
 * counted, and the list and the watch go on delivering every other object. Then how it lists: a
 * streaming watch-list where the server serves one, pages where it refuses, and what a list that
 * completes reports. A fake API server stands in for the REST client.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Informer, type InformerOptions } from "../../src/kube/informer.js";
import { FakeApiServer, type Thing, thing, waitUntil } from "./fake-api-server.js";

describe("Informer handler errors", () => {
  it("skips an object whose handler throws, logs it once, counts it, and keeps watching", async () => {
    const server = new FakeApiServer([thing("a", "1"), thing("bad", "2", true), thing("b", "3")]);
    const send = (type: "ADDED" | "MODIFIED" | "DELETED", object: Thing) => server.send(type, object);
    const seen: string[] = [];
    const removed: string[] = [];
    const logged: { msg: string; object?: string }[] = [];
    let counted = 0;
    const informer = new Informer<Thing>(
      server.client,
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
    server.sendRaw("ADDED", { metadata: {} });
    send("MODIFIED", thing("bad", "13", true));
    send("DELETED", thing("a", "14"));
    await waitUntil("the watch events", () => removed.includes("a"));
    expect(seen).toEqual(["a", "b", "c"]);
    expect(counted).toBe(3);
    expect(informer.stats.handlerErrors).toBe(3);
    expect(informer.stats.errors).toBe(0);
    // The watch-list's stream listed and then carried the watch.
    expect(informer.stats.watchLists).toBe(1);
    expect(informer.stats.watches).toBe(0);
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

interface Recorded {
  upserts: string[];
  removed: string[];
  syncs: number;
}

function startInformer(server: FakeApiServer, options: Partial<InformerOptions> = {}) {
  const recorded: Recorded = { upserts: [], removed: [], syncs: 0 };
  const informer = new Informer<Thing>(
    server.client,
    { path: "/things", ...options },
    {
      upsert: (object) => recorded.upserts.push(`${object.metadata.name}@${object.metadata.resourceVersion}`),
      remove: (object) => recorded.removed.push(object.metadata.name),
      synced: () => recorded.syncs++,
    },
    pino({ level: "silent" }),
  );
  const running = informer.run();
  const stop = async () => {
    informer.stop();
    await running;
  };
  return { informer, recorded, stop };
}

const things = (count: number) =>
  Array.from({ length: count }, (_, i) => thing(`t${String(i).padStart(2, "0")}`, String(i + 1)));

describe("Informer lists", () => {
  it("lists through a watch-list: synced at the initial-events-end bookmark, then watches on the same stream", async () => {
    const server = new FakeApiServer(things(3));
    server.holdBookmark = true;
    const { informer, recorded, stop } = startInformer(server);
    await waitUntil("the initial events", () => recorded.upserts.length === 3);
    // Every object arrived, but the list is complete only at the bookmark.
    expect(informer.synced).toBe(false);
    server.release();
    await waitUntil("synced", () => informer.synced);
    expect(recorded.syncs).toBe(1);
    expect(informer.lastListMode).toBe("watch-list");
    const [params, ...more] = server.watches();
    expect(more).toHaveLength(0);
    expect(params?.get("watch")).toBe("true");
    expect(params?.get("sendInitialEvents")).toBe("true");
    expect(params?.get("resourceVersionMatch")).toBe("NotOlderThan");
    expect(params?.get("allowWatchBookmarks")).toBe("true");
    // A quorum-fresh list: no resourceVersion to be "not older than".
    expect(params?.get("resourceVersion") ?? "").toBe("");
    expect(server.requests.filter((request) => request.startsWith("GET"))).toEqual([]);

    server.send("ADDED", thing("late", "20"));
    await waitUntil("a watch event", () => recorded.upserts.includes("late@20"));
    expect(informer.stats).toMatchObject({ lists: 1, watchLists: 1, watches: 0, pages: 0 });
    await stop();
  });

  it("reports what a relist's initial events leave out as removed, and leaves unchanged objects alone", async () => {
    const server = new FakeApiServer(things(3));
    const { informer, recorded, stop } = startInformer(server);
    await waitUntil("synced", () => informer.synced);
    // Changes the informer never saw on its watch (as if the stream had missed them).
    server.objects.delete("t01");
    server.objects.set("t02", thing("t02", "30"));
    server.objects.set("t03", thing("t03", "31"));
    await informer.relist();
    expect(recorded.removed).toEqual(["t01"]);
    expect(recorded.upserts).toEqual(["t00@1", "t01@2", "t02@3", "t02@30", "t03@31"]);
    expect(informer.size).toBe(3);
    expect(recorded.syncs).toBe(2);
    expect(informer.stats).toMatchObject({ lists: 2, watchLists: 2 });
    await stop();
  });

  it("lists in pages when the server refuses a watch-list (422), restarting a list whose continuation expired", async () => {
    const server = new FakeApiServer(things(7));
    server.watchList = "refuse";
    server.expireNextContinue = true;
    const { informer, recorded, stop } = startInformer(server, { pageSize: 3 });
    await waitUntil("synced", () => informer.synced);
    expect(informer.lastListMode).toBe("paginated");
    expect(informer.stats.watchListRefusals).toBe(1);
    expect(informer.stats.listRestarts).toBe(1);
    // One page, the 410, then three pages of 3, 3 and 1.
    const lists = server.requests.filter((request) => request.startsWith("GET"));
    expect(lists).toHaveLength(5);
    expect(lists.every((request) => request.includes("limit=3"))).toBe(true);
    expect(informer.stats.pages).toBe(4);
    expect(informer.size).toBe(7);
    expect(new Set(recorded.upserts).size).toBe(7);
    expect(recorded.syncs).toBe(1);
    // Then a plain watch from the list's resourceVersion.
    await waitUntil("the watch", () => server.watches().length === 2);
    expect(server.watches()[1]?.get("resourceVersion")).toBe("10");
    expect(server.watches()[1]?.get("sendInitialEvents")).toBeNull();
    server.send("DELETED", thing("t00", "11"));
    await waitUntil("a watch event", () => recorded.removed.includes("t00"));
    await stop();
  });

  it("falls back to pages when the watch-list stream answers with an ERROR event before its bookmark", async () => {
    const server = new FakeApiServer(things(2));
    server.watchList = "error-event";
    const { informer, stop } = startInformer(server);
    await waitUntil("synced", () => informer.synced);
    expect(informer.lastListMode).toBe("paginated");
    expect(informer.stats).toMatchObject({ watchListRefusals: 1, errors: 0, lists: 1, watchLists: 0 });
    await stop();
  });

  it('after a 410 on the watch, relists through a watch-list from resourceVersion ""', async () => {
    const server = new FakeApiServer(things(2));
    const { informer, recorded, stop } = startInformer(server);
    await waitUntil("synced", () => informer.synced);
    server.objects.delete("t00");
    server.sendRaw("ERROR", {
      kind: "Status",
      code: 410,
      reason: "Expired",
      message: "too old resource version",
    });
    await waitUntil("the relist", () => informer.stats.lists === 2);
    expect(informer.stats.gone).toBe(1);
    expect(recorded.removed).toEqual(["t00"]);
    const second = server.watches()[1];
    expect(second?.get("sendInitialEvents")).toBe("true");
    expect(second?.get("resourceVersion") ?? "").toBe("");
    await stop();
  });

  it("asks again, after a backoff, for a watch-list cut before its bookmark; what it showed is not yet a list", async () => {
    const server = new FakeApiServer(things(2));
    server.cutWatchLists = 1;
    const { informer, recorded, stop } = startInformer(server);
    await waitUntil("the objects of the cut stream", () => recorded.upserts.length === 2);
    expect(informer.synced).toBe(false);
    await waitUntil("synced", () => informer.synced);
    expect(informer.stats).toMatchObject({ errors: 1, lists: 1, watchLists: 1, watchListRefusals: 0 });
    expect(server.watches().map((params) => params.get("sendInitialEvents"))).toEqual(["true", "true"]);
    // The second stream showed the same versions: nothing handled twice.
    expect(recorded.upserts).toEqual(["t00@1", "t01@2"]);
    await stop();
  });

  it("never asks for a watch-list in paginated mode", async () => {
    const server = new FakeApiServer(things(5));
    const { informer, stop } = startInformer(server, { listMode: "paginated", pageSize: 2 });
    await waitUntil("synced", () => informer.synced);
    await waitUntil("the watch", () => server.watches().length === 1);
    expect(server.watches()[0]?.get("sendInitialEvents")).toBeNull();
    expect(informer.stats).toMatchObject({ pages: 3, watchListRefusals: 0, lists: 1, watchLists: 0 });
    // The default page is 500 objects.
    const defaults = new FakeApiServer(things(1));
    const other = startInformer(defaults, { listMode: "paginated" });
    await waitUntil("synced", () => other.informer.synced);
    expect(defaults.requests[0]).toContain("limit=500");
    await other.stop();
    await stop();
  });
});

describe("Informer.deliveredAsOfNow", () => {
  it("answers for the objects a further field selector reads: once the watch delivered the newest of them, not the whole collection", async () => {
    const server = new FakeApiServer(things(3));
    const { informer, stop } = startInformer(server, { fieldSelector: "status.phase!=Failed", pageSize: 2 });
    await waitUntil("synced", () => informer.synced);
    await waitUntil("the watch", () => server.watches().length === 1);
    // Nothing changed since the list: delivered at once.
    expect(await informer.deliveredAsOfNow("spec.nodeName=n1")).toBe(true);
    const reads = () => server.requests.filter((request) => request.startsWith("GET"));
    const params = new URL(reads()[0]?.slice(4) ?? "", "http://fake").searchParams;
    expect(params.get("fieldSelector")).toBe("status.phase!=Failed,spec.nodeName=n1");
    expect(params.get("resourceVersion") ?? "").toBe("");
    // Read in pages (3 objects, 2 a page).
    expect(reads()).toHaveLength(2);

    // The collection moved on to 40 (other objects' changes the watch has not delivered yet); of
    // the objects read, the newest is t01 at 15.
    server.resourceVersion = 40;
    server.objects.set("t01", thing("t01", "15"));
    server.objects.set("other", thing("other", "39"));
    let answer: boolean | undefined;
    void informer
      .deliveredAsOfNow("spec.nodeName=n1", (object) => object.metadata.name !== "other")
      .then((reached) => {
        answer = reached;
      });
    await waitUntil("the read", () => reads().length === 4);
    server.sendRaw("MODIFIED", thing("t00", "14"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(answer).toBeUndefined();
    server.sendRaw("MODIFIED", thing("t01", "15"));
    await waitUntil("the answer", () => answer !== undefined);
    expect(answer).toBe(true);
    // Pending when stopped (all objects read, "other" at 39 not delivered): answered false.
    const pending = informer.deliveredAsOfNow("spec.nodeName=n1");
    await waitUntil("the read", () => reads().length === 6);
    await stop();
    expect(await pending).toBe(false);
  });

  it("rejects when the read fails, and answers false for versions that are not decimal numbers", async () => {
    const server = new FakeApiServer(things(1));
    const { informer, stop } = startInformer(server);
    await waitUntil("synced", () => informer.synced);
    const call = server.client.call;
    (server.client as { call: unknown }).call = async () => ({
      status: 503,
      body: { message: "unavailable" },
    });
    await expect(informer.deliveredAsOfNow("spec.nodeName=n1")).rejects.toThrow(/503/);
    (server.client as { call: unknown }).call = call;
    server.objects.set("t00", thing("t00", "opaque"));
    expect(await informer.deliveredAsOfNow("spec.nodeName=n1")).toBe(false);
    await stop();
  });
});
