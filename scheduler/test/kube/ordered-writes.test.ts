/** OrderedWrites: one key's writes are sent one after another; other keys do not wait. */
import { describe, expect, it } from "vitest";
import { OrderedWrites } from "../../src/kube/ordered-writes.js";

/** A write that records when it starts and finishes once `release` is called. */
function pendingWrite(log: string[], name: string, answer = true) {
  let release: () => void = () => undefined;
  const write = () => {
    log.push(`start ${name}`);
    return new Promise<boolean>((resolve) => {
      release = () => {
        log.push(`end ${name}`);
        resolve(answer);
      };
    });
  };
  return { write, release: () => release() };
}

describe("OrderedWrites", () => {
  it("sends a key's next write only once the one before it is answered, and passes the answers on", async () => {
    const writes = new OrderedWrites();
    const log: string[] = [];
    const first = pendingWrite(log, "a1");
    const second = pendingWrite(log, "a2", false);
    const other = pendingWrite(log, "b1");
    const a1 = writes.after("a", first.write);
    const a2 = writes.after("a", second.write);
    const b1 = writes.after("b", other.write);
    await Promise.resolve();
    await Promise.resolve();
    // b does not wait for a; a2 waits for a1.
    expect(log).toEqual(["start a1", "start b1"]);
    other.release();
    first.release();
    expect(await a1).toBe(true);
    await Promise.resolve();
    expect(log).toEqual(["start a1", "start b1", "end b1", "end a1", "start a2"]);
    second.release();
    expect(await a2).toBe(false);
    expect(await b1).toBe(true);
  });

  it("is settled for a key once every write queued under it so far is answered", async () => {
    const writes = new OrderedWrites();
    const log: string[] = [];
    const first = pendingWrite(log, "a1");
    const second = pendingWrite(log, "a2");
    void writes.after("a", first.write);
    void writes.after("a", second.write);
    const settled = writes.settled("a").then(() => log.push("settled a"));
    await writes.settled("b");
    first.release();
    await Promise.resolve();
    await Promise.resolve();
    expect(log).toEqual(["start a1", "end a1", "start a2"]);
    second.release();
    await settled;
    expect(log).toEqual(["start a1", "end a1", "start a2", "end a2", "settled a"]);
  });
});
