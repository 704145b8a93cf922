/**
 * What a shard tells about its groups in Events: `Scheduled` per bound pod (--scheduled-events
 * pod, the default), per bound group (group: on the native PodGroup, else on the first member by
 * name, naming every member and its node; a solo pod its own) or not at all (off); and a group
 * that waits gets one Event per attempt (on its PodGroup or first pending member) while each
 * pending member keeps its own PodScheduled condition.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Pod } from "../../src/core/index.js";
import { maxMessageLength } from "../../src/kube/event-recorder.js";
import { ConfigError, loadShardConfig, type ScheduledEvents } from "../../src/shard/config.js";
import type { Shard } from "../../src/shard/shard.js";
import { node, type PodOptions, pod } from "../core/fixtures.js";
import { readyShard, recordingWriters } from "./fixtures.js";

interface RecordedEvent {
  kind: string;
  name: string;
  reason: string;
  message: string;
}

const shards: Shard[] = [];
afterEach(() => {
  for (const shard of shards.splice(0)) shard.stop();
});

function recordingShard(scheduledEvents: ScheduledEvents = "pod") {
  const { writers, ...record } = recordingWriters();
  const events: RecordedEvent[] = [];
  const shard = readyShard(
    {
      ...writers,
      events: {
        record: (subject, _type, reason, message) => {
          const kind = "kind" in subject && subject.kind === "PodGroup" ? "PodGroup" : "Pod";
          events.push({ kind, name: subject.metadata.name, reason, message });
        },
      },
    },
    { config: { settleWindowMs: 0, scheduledEvents } },
  );
  shards.push(shard);
  const ours = (p: Pod): Pod => ({ ...p, spec: { ...p.spec, schedulerName: shard.config.schedulerName } });
  const add = (name: string, options: PodOptions = {}) => shard.podUpserted(ours(pod(name, options)));
  const addMember = (name: string, podGroupName: string) => {
    const p = ours(pod(name));
    shard.podUpserted({ ...p, spec: { ...p.spec, schedulingGroup: { podGroupName } } });
  };
  const of = (reason: string) => events.filter((event) => event.reason === reason);
  /** The Events of a reason as "<kind> <name>: <message>". */
  const told = (reason: string) => of(reason).map(({ kind, name, message }) => `${kind} ${name}: ${message}`);
  return { ...record, shard, events, of, told, add, addMember };
}

const podGroup = (name: string, minCount: number) => ({
  metadata: { name, namespace: "default", uid: `uid-podgroup-${name}` },
  spec: { schedulingPolicy: { gang: { minCount } } },
});

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe("--scheduled-events", () => {
  it("is pod unless the flag or SCHEDULED_EVENTS says group or off; the flag wins", () => {
    expect(loadShardConfig([], {}).scheduledEvents).toBe("pod");
    expect(loadShardConfig([], { SCHEDULED_EVENTS: "group" }).scheduledEvents).toBe("group");
    expect(loadShardConfig(["--scheduled-events=off"], { SCHEDULED_EVENTS: "group" }).scheduledEvents).toBe(
      "off",
    );
  });

  it("refuses any other value at start, naming the choices", () => {
    expect(() => loadShardConfig(["--scheduled-events=gang"], {})).toThrow(
      new ConfigError('--scheduled-events (SCHEDULED_EVENTS) must be one of pod, group, off, got "gang"'),
    );
    expect(() => loadShardConfig([], { SCHEDULED_EVENTS: "" })).toThrow(ConfigError);
  });
});

describe("Scheduled Events", () => {
  it("pod: one per bound pod, as kube-scheduler writes them", async () => {
    const { add, of } = recordingShard("pod");
    const shard = shards[0] as Shard;
    shard.cache.upsertNode(node("n1", { cpu: 8 }));
    for (const i of [0, 1, 2]) add(`g-${i}`, { group: "g", minMember: 3 });
    add("solo");
    await settle();
    expect(
      of("Scheduled")
        .map(({ kind, name }) => `${kind} ${name}`)
        .sort(),
    ).toEqual(["Pod g-0", "Pod g-1", "Pod g-2", "Pod solo"]);
    expect(of("Scheduled").find((event) => event.name === "g-1")?.message).toMatch(
      /^Successfully assigned default\/g-1 to n1 \(ring epoch 1\)$/,
    );
  });

  it("group: one per gang on its first member by name, naming every member and its node; a solo pod its own", async () => {
    const { shard, add, told } = recordingShard("group");
    shard.cache.upsertNode(node("n1", { cpu: 8 }));
    // Natural order: g-2 comes before g-10.
    for (const name of ["g-10", "g-2", "g-9"]) add(name, { group: "g", minMember: 3 });
    add("solo");
    await settle();
    expect(told("Scheduled")).toEqual([
      "Pod g-2: Successfully assigned 3 pod(s) of group default/g (ring epoch 1): default/g-2 to n1, default/g-9 to n1, default/g-10 to n1",
      "Pod solo: Successfully assigned default/solo to n1 (ring epoch 1)",
    ]);
  });

  it("group: on the native PodGroup when the group is one", async () => {
    const { shard, addMember, told } = recordingShard("group");
    shard.cache.upsertNode(node("n1", { cpu: 8 }));
    shard.cache.upsertPodGroup(podGroup("train", 2));
    for (const i of [0, 1]) addMember(`train-${i}`, "train");
    await settle();
    expect(told("Scheduled")).toEqual([
      "PodGroup train: Successfully assigned 2 pod(s) of PodGroup default/train (ring epoch 1): default/train-0 to n1, default/train-1 to n1",
    ]);
  });

  it("group: a large gang's Event names as many members as fit and counts the rest", async () => {
    const { shard, add, of } = recordingShard("group");
    shard.cache.upsertNode(node("n1", { cpu: 64, memory: "256Gi" }));
    const size = 60;
    const long = "a-member-with-a-rather-long-name";
    for (let i = 0; i < size; i++) add(`${long}-${i}`, { group: "big", minMember: size, cpu: 1 });
    for (let i = 0; i < 50 && of("Scheduled").length === 0; i++) await settle();
    const [event] = of("Scheduled");
    expect(of("Scheduled")).toHaveLength(1);
    const message = event?.message ?? "";
    expect(message.length).toBeLessThanOrEqual(maxMessageLength);
    const named = message.match(/ to n1/g)?.length ?? 0;
    const more = Number(/, and (\d+) more$/.exec(message)?.[1]);
    expect(named).toBeGreaterThan(10);
    expect(named + more).toBe(size);
  });

  it("off: none, while FailedScheduling is still written", async () => {
    const { shard, add, of } = recordingShard("off");
    shard.cache.upsertNode(node("n1", { cpu: 2 }));
    for (const i of [0, 1]) add(`g-${i}`, { group: "g", minMember: 2 });
    add("too-big", { cpu: 100 });
    await settle();
    expect(of("Scheduled")).toEqual([]);
    expect(of("FailedScheduling").map((event) => event.name)).toEqual(["too-big"]);
  });
});

describe("a group that waits", () => {
  it("gets one FailedScheduling Event per attempt, on its first pending member by name; each member its condition", async () => {
    const { shard, add, of, conditions } = recordingShard();
    shard.cache.upsertNode(node("n1", { cpu: 2 }));
    for (const name of ["w-10", "w-2", "w-3"]) add(name, { group: "w", minMember: 3, cpu: 100 });
    await settle();
    const failed = of("FailedScheduling");
    expect(failed.map((event) => `${event.kind} ${event.name}`)).toEqual(["Pod w-2"]);
    // The same text as the condition of every member.
    expect(conditions.sort()).toEqual(
      ["w-10", "w-2", "w-3"].map((name) => `${name}: ${failed[0]?.message}`).sort(),
    );

    // Another attempt (a node arrives with room for one member, not three): one more occurrence
    // for the group, not one per member.
    shard.cache.upsertNode(node("n2", { cpu: 150 }));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await settle();
    expect(of("FailedScheduling").map((event) => event.name)).toEqual(["w-2", "w-2"]);
  });

  it("gets its Event on the native PodGroup when it is one", async () => {
    const { shard, addMember, of, conditions } = recordingShard();
    shard.cache.upsertNode(node("n1", { cpu: 1 }));
    shard.cache.upsertPodGroup(podGroup("train", 3));
    for (const i of [0, 1, 2]) addMember(`train-${i}`, "train");
    await settle();
    expect(of("FailedScheduling").map((event) => `${event.kind} ${event.name}`)).toEqual(["PodGroup train"]);
    expect(conditions.map((condition) => condition.split(":")[0]).sort()).toEqual([
      "train-0",
      "train-1",
      "train-2",
    ]);
  });

  it("a solo pod keeps its own Event", async () => {
    const { shard, add, of } = recordingShard();
    shard.cache.upsertNode(node("n1", { cpu: 1 }));
    add("too-big", { cpu: 100 });
    await settle();
    expect(of("FailedScheduling").map((event) => `${event.kind} ${event.name}`)).toEqual(["Pod too-big"]);
  });
});
