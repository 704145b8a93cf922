/**
 * BindRoom lets groups' binds out while their pods fit the room, first come first served, a
 * group larger than the room alone; release gives the room to the next in line.
 */
import { describe, expect, it } from "vitest";
import { BindRoom } from "../../src/shard/bind-room.js";

/** Entries that resolved, in order, after the microtasks run. */
async function settled(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

describe("BindRoom", () => {
  it("lets groups in while their pods fit, then in order as room is released", async () => {
    const room = new BindRoom(4);
    const entered: string[] = [];
    const releases = new Map<string, () => void>();
    const enter = (name: string, pods: number) =>
      void room.enter(pods).then((release) => {
        entered.push(name);
        releases.set(name, release);
      });
    enter("a", 2);
    enter("b", 2);
    enter("c", 3);
    enter("d", 1);
    await settled();
    // "d" would fit after "c" is let in, but "c" is first in line.
    expect(entered).toEqual(["a", "b"]);
    expect(room.inFlight).toBe(4);
    releases.get("a")?.();
    await settled();
    expect(entered).toEqual(["a", "b"]);
    releases.get("b")?.();
    await settled();
    expect(entered).toEqual(["a", "b", "c", "d"]);
    expect(room.inFlight).toBe(4);
    // A release given twice frees its room once.
    releases.get("b")?.();
    expect(room.inFlight).toBe(4);
  });

  it("lets a group larger than the room in alone, once nothing else holds room", async () => {
    const room = new BindRoom(2);
    const first = await room.enter(1);
    let big: (() => void) | undefined;
    void room.enter(5).then((release) => {
      big = release;
    });
    await settled();
    expect(big).toBeUndefined();
    first();
    await settled();
    expect(room.inFlight).toBe(5);
    let after = false;
    void room.enter(1).then(() => {
      after = true;
    });
    await settled();
    expect(after).toBe(false);
    big?.();
    await settled();
    expect(after).toBe(true);
  });

  it("lets everyone waiting in when opened (the shard stops)", async () => {
    const room = new BindRoom(1);
    await room.enter(1);
    let waited = false;
    void room.enter(1).then(() => {
      waited = true;
    });
    room.openAll();
    await settled();
    expect(waited).toBe(true);
  });
});
