/**
 * The protobuf writes (./src/kube/protobuf.ts) read back as their JSON forms, and protobuf
 * answers are read for their Status. The real API server reads them in
 * tests/integration/protobuf-writes.test.ts.
 */
import { describe, expect, it } from "vitest";
import { microTime } from "../../src/kube/event-recorder.js";
import { decodeAnswer, encodeBinding, encodeEvent, fields } from "../../src/kube/protobuf.js";
import { readObject } from "./protobuf-reader.js";

/** Hand-written wire bytes: a key, then a varint or a length and the bytes. */
const varint = (value: number): number[] =>
  value < 0x80 ? [value] : [(value % 0x80) | 0x80, ...varint(Math.floor(value / 0x80))];
const key = (field: number, wireType: number) => varint(field * 8 + wireType);
const str = (field: number, value: string) => {
  const bytes = [...Buffer.from(value, "utf8")];
  return [...key(field, 2), ...varint(bytes.length), ...bytes];
};
const nested = (field: number, body: number[]) => [...key(field, 2), ...varint(body.length), ...body];
const envelope = (kind: string, raw: number[]) =>
  Uint8Array.from([
    0x6b,
    0x38,
    0x73,
    0x00,
    ...nested(1, [...str(1, "v1"), ...str(2, kind)]),
    ...nested(2, raw),
  ]);

describe("protobuf writes", () => {
  it("a Binding reads back as the JSON one: the pod's name, namespace and uid, the node as target", () => {
    expect(readObject(encodeBinding({ name: "p-1", namespace: "team-a", uid: "u-1" }, "node-7"))).toEqual({
      apiVersion: "v1",
      kind: "Binding",
      metadata: { name: "p-1", namespace: "team-a", uid: "u-1" },
      target: { apiVersion: "v1", kind: "Node", name: "node-7" },
    });
    // No uid: the field is left out, not sent empty.
    expect(readObject(encodeBinding({ name: "p", namespace: "ns" }, "n"))).toMatchObject({
      metadata: { name: "p", namespace: "ns" },
    });
  });

  it("an Event reads back whole: lengths past one varint byte, any script, MicroTimes to the microsecond", () => {
    const event = {
      metadata: { name: "p.18a", namespace: "ns" },
      eventTime: microTime(Date.parse("2026-12-06T10:11:12.345Z")),
      series: { count: 130, lastObservedTime: microTime(Date.parse("2026-12-06T10:12:00.000Z")) },
      reportingController: "sharded-scheduler.io/sched",
      reportingInstance: "sched-0",
      action: "Scheduling",
      reason: "FailedScheduling",
      note: "ノード ".repeat(300),
      regarding: { apiVersion: "v1", kind: "Pod", namespace: "ns", name: "p", uid: "u" },
      type: "Warning",
    };
    expect(readObject(encodeEvent(event))).toEqual({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      ...event,
    });
  });

  it("refuses a time that is not RFC 3339 rather than send a wrong one", () => {
    const event = {
      metadata: { name: "e", namespace: "ns" },
      eventTime: "yesterday",
      reportingController: "c",
      reportingInstance: "i",
      action: "a",
      reason: "r",
      note: "n",
      regarding: { name: "p" },
      type: "Normal",
    };
    expect(() => encodeEvent(event)).toThrow(/not a MicroTime/);
  });
});

describe("protobuf answers", () => {
  it("a Status is read into its JSON form: message, reason, code, details and causes", () => {
    const cause = [...str(1, "FieldValueInvalid"), ...str(2, "bad name"), ...str(3, "metadata.name")];
    const details = [...str(1, "x"), ...str(3, "pods"), ...nested(4, cause), ...key(5, 0), 3];
    const status = [
      ...str(2, "Failure"),
      ...str(3, 'pods "x" is invalid'),
      ...str(4, "Invalid"),
      ...nested(5, details),
      ...key(6, 0),
      0xa6,
      0x03, // 422
    ];
    expect(decodeAnswer(envelope("Status", status))).toEqual({
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      message: 'pods "x" is invalid',
      reason: "Invalid",
      code: 422,
      details: {
        name: "x",
        kind: "pods",
        retryAfterSeconds: 3,
        causes: [{ reason: "FieldValueInvalid", message: "bad name", field: "metadata.name" }],
      },
    });
  });

  it("another object is named, not read; bytes that are not an envelope are not an answer", () => {
    expect(decodeAnswer(envelope("Event", [...str(7, "Scheduled")]))).toEqual({ kind: "Event" });
    expect(decodeAnswer(Buffer.from('{"kind":"Status"}'))).toBeUndefined();
    // Cut short (a broken answer): not an answer, not a crash; the HTTP status still speaks.
    const whole = envelope("Status", [...str(3, "gone")]);
    expect(decodeAnswer(whole)).toMatchObject({ message: "gone" });
    expect(decodeAnswer(whole.subarray(0, whole.length - 2))).toBeUndefined();
  });

  it("a PodList is read for its pods' placements only: name, namespace, uid, version and node", () => {
    // A pod as the API server sends it, with what the read skips: labels, a container, the
    // scheduler's name, a status with a varint and a nested time.
    const pod = (name: string, version: string, nodeName?: string) => [
      ...nested(1, [
        ...str(1, name),
        ...str(3, "team-a"),
        ...str(5, `uid-${name}`),
        ...str(6, version),
        ...nested(11, [...str(1, "app"), ...str(2, "x".repeat(300))]),
      ]),
      ...nested(2, [
        ...nested(2, [...str(1, "c"), ...str(2, "busybox")]),
        ...(nodeName === undefined ? [] : str(10, nodeName)),
        ...str(19, "sharded-scheduler"),
      ]),
      ...nested(3, [...str(1, "Running"), ...nested(7, [...key(1, 0), ...varint(1_765_000_000)])]),
    ];
    const list = [
      ...nested(1, [...str(2, "4711"), ...str(3, "next-page")]),
      ...nested(2, pod("p-0", "4700", "node-1")),
      // Pending: the API server sends the empty node name, the JSON form has none.
      ...nested(2, pod("p-1", "4711", "")),
    ];
    expect(decodeAnswer(envelope("PodList", list))).toEqual({
      kind: "PodList",
      metadata: { resourceVersion: "4711", continue: "next-page" },
      items: [
        {
          metadata: { name: "p-0", namespace: "team-a", uid: "uid-p-0", resourceVersion: "4700" },
          spec: { nodeName: "node-1" },
        },
        { metadata: { name: "p-1", namespace: "team-a", uid: "uid-p-1", resourceVersion: "4711" }, spec: {} },
      ],
    });
    // The last page: no continue; an empty list has no items field at all.
    expect(decodeAnswer(envelope("PodList", [...nested(1, [...str(2, "9")])]))).toEqual({
      kind: "PodList",
      metadata: { resourceVersion: "9" },
      items: [],
    });
    // A list cut inside a pod is no answer.
    const whole = envelope("PodList", list);
    expect(decodeAnswer(whole.subarray(0, whole.length - 40))).toBeUndefined();
    // A list of another kind is named, not read (its reader has no items to count on).
    expect(decodeAnswer(envelope("NodeList", list))).toEqual({ kind: "NodeList" });
  });

  it("skips fixed-width fields and refuses a truncated message", () => {
    const withFixed = Uint8Array.from([
      ...key(9, 5),
      1,
      2,
      3,
      4,
      ...key(10, 1),
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      ...str(3, "m"),
    ]);
    expect([...fields(withFixed)].map(([field]) => field)).toEqual([3]);
    expect(() => [...fields(Uint8Array.from([...key(3, 2), 5, 0x61]))]).toThrow(/truncated/);
  });
});
