/**
 * Reads back what ./src/kube/protobuf.ts encodes, into the JSON form of the object, for tests:
 * a stub client sees the bind or the Event a shard sent, whatever its encoding.
 */
import { fields } from "../../src/kube/protobuf.js";

type Value = number | Uint8Array;
const text = (value: Value) =>
  typeof value === "number" ? String(value) : Buffer.from(value).toString("utf8");
const bytes = (value: Value) => (typeof value === "number" ? new Uint8Array() : value);

/** A message read with a table field → [JSON name, how to read the value]. */
function read(
  raw: Uint8Array,
  table: Record<number, [string, (value: Value) => unknown]>,
): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [field, value] of fields(raw)) {
    const entry = table[field];
    if (!entry) throw new Error(`field ${field} is not expected here`);
    object[entry[0]] = entry[1](value);
  }
  return object;
}

const meta = (value: Value) =>
  read(bytes(value), { 1: ["name", text], 3: ["namespace", text], 5: ["uid", text] });
const reference = (value: Value) =>
  read(bytes(value), {
    1: ["kind", text],
    2: ["namespace", text],
    3: ["name", text],
    4: ["uid", text],
    5: ["apiVersion", text],
  });
/** A MicroTime as the recorder writes it: RFC 3339, six fractional digits. */
const microTime = (value: Value) => {
  const { seconds, nanos } = read(bytes(value), { 1: ["seconds", Number], 2: ["nanos", Number] }) as {
    seconds: number;
    nanos?: number;
  };
  const micros = String(Math.floor((nanos ?? 0) / 1000)).padStart(6, "0");
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${micros}Z`;
};

/** The envelope's type and its object. */
export function readObject(body: Uint8Array): Record<string, unknown> {
  if (Buffer.from(body.subarray(0, 4)).toString("latin1") !== "k8s\0")
    throw new Error("not a protobuf envelope");
  const unknown = read(body.subarray(4), {
    1: ["typeMeta", (value) => read(bytes(value), { 1: ["apiVersion", text], 2: ["kind", text] })],
    2: ["raw", bytes],
  }) as { typeMeta: { apiVersion: string; kind: string }; raw: Uint8Array };
  const { apiVersion, kind } = unknown.typeMeta;
  const raw = unknown.raw;
  if (kind === "Binding")
    return { apiVersion, kind, ...read(raw, { 1: ["metadata", meta], 2: ["target", reference] }) };
  if (kind === "Event")
    return {
      apiVersion,
      kind,
      ...read(raw, {
        1: ["metadata", meta],
        2: ["eventTime", microTime],
        3: [
          "series",
          (value) => read(bytes(value), { 1: ["count", Number], 2: ["lastObservedTime", microTime] }),
        ],
        4: ["reportingController", text],
        5: ["reportingInstance", text],
        6: ["action", text],
        7: ["reason", text],
        8: ["regarding", reference],
        10: ["note", text],
        11: ["type", text],
      }),
    };
  throw new Error(`no reader for ${kind}`);
}

/** A body as its JSON form: protobuf read back, anything else as it is. */
export const asObject = <T>(body: unknown): T => (body instanceof Uint8Array ? readObject(body) : body) as T;
