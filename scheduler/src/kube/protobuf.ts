/**
 * Kubernetes' protobuf wire format, for the two writes a shard sends per pod it schedules: the
 * bind (core/v1 Binding) and the Scheduled Event (events.k8s.io/v1 Event). The API server decodes
 * a protobuf body in a fraction of what a JSON one costs it, and answers in protobuf too, as it
 * does kube-scheduler (client-go sends built-in types as protobuf).
 *
 * A body is the envelope the API server expects: the magic bytes "k8s\0", then a
 * runtime.Unknown whose typeMeta names the object and whose raw bytes are the object's message.
 * Field numbers are those of the types' generated.proto (k8s.io/api, k8s.io/apimachinery).
 * Only what these writes carry is encoded; the answers are read for a Status (an error, or a
 * bind's success), any other object is left unread.
 *
 * One read is asked in protobuf too: a handover's list of the pods bound to the nodes a shard
 * gains, of which it needs only each pod's version and node. A PodList is read for those fields
 * and nothing else, skipping the rest of each pod unparsed: a JSON page of 500 pods is parsed
 * whole into objects thrown away at once, tens of megabytes when a new ring hands a shard every
 * pod of a large cluster, which its resident memory then kept.
 */

export const protobufContentType = "application/vnd.kubernetes.protobuf";

const magic = Uint8Array.of(0x6b, 0x38, 0x73, 0x00);

const varintType = 0;
const lengthDelimited = 2;

/** One message's fields, appended in field order. */
class MessageWriter {
  private readonly chunks: Uint8Array[] = [];
  private readonly head: number[] = [];

  /** A string field; empty or absent writes nothing (proto2 optional, as the API server omits it). */
  string(field: number, value: string | undefined): this {
    if (!value) return this;
    return this.bytes(field, Buffer.from(value, "utf8"));
  }

  /** A nested message; one with no fields still written when `always`. */
  message(field: number, writer: MessageWriter | undefined, always = false): this {
    if (!writer) return this;
    const bytes = writer.finish();
    if (bytes.length === 0 && !always) return this;
    return this.bytes(field, bytes);
  }

  /** A varint field (int32, int64 within 2^53). */
  int(field: number, value: number | undefined): this {
    if (value === undefined) return this;
    this.key(field, varintType);
    this.varint(value);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, lengthDelimited);
    this.varint(value.length);
    this.flush();
    this.chunks.push(value);
    return this;
  }

  finish(): Uint8Array {
    this.flush();
    return Buffer.concat(this.chunks);
  }

  private key(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  private varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a varint: ${value}`);
    let rest = value;
    while (rest > 0x7f) {
      this.head.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    this.head.push(rest);
  }

  private flush(): void {
    if (this.head.length === 0) return;
    this.chunks.push(Uint8Array.from(this.head));
    this.head.length = 0;
  }
}

const message = () => new MessageWriter();

/** The envelope: magic, then runtime.Unknown { typeMeta { apiVersion, kind }, raw }. */
function envelope(apiVersion: string, kind: string, raw: MessageWriter): Uint8Array {
  const unknown = message()
    .message(1, message().string(1, apiVersion).string(2, kind))
    .bytes(2, raw.finish());
  return Buffer.concat([magic, unknown.finish()]);
}

interface Meta {
  name: string;
  namespace: string;
  uid?: string;
}

/** meta/v1 ObjectMeta: name 1, namespace 3, uid 5. */
const objectMeta = ({ name, namespace, uid }: Meta) =>
  message().string(1, name).string(3, namespace).string(5, uid);

interface Reference {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
}

/** core/v1 ObjectReference: kind 1, namespace 2, name 3, uid 4, apiVersion 5. */
const objectReference = (ref: Reference) =>
  message()
    .string(1, ref.kind)
    .string(2, ref.namespace)
    .string(3, ref.name)
    .string(4, ref.uid)
    .string(5, ref.apiVersion);

/** core/v1 Binding { metadata 1, target 2 }: the pod `meta` onto node `nodeName`. */
export function encodeBinding(meta: Meta, nodeName: string): Uint8Array {
  const target = objectReference({ apiVersion: "v1", kind: "Node", name: nodeName });
  return envelope("v1", "Binding", message().message(1, objectMeta(meta)).message(2, target, true));
}

/** An events.k8s.io/v1 Event as the recorder writes it (MicroTimes as RFC 3339 text). */
export interface EventObject {
  metadata: { name: string; namespace: string };
  eventTime: string;
  series?: { count: number; lastObservedTime: string };
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  note: string;
  regarding: Reference;
  type: string;
}

/** meta/v1 MicroTime { seconds 1, nanos 2 } from RFC 3339 text with up to nine fractional digits. */
function microTime(text: string): MessageWriter {
  const match = /^(.*?)(?:\.(\d{1,9}))?Z$/.exec(text);
  const ms = match ? Date.parse(`${match[1]}Z`) : Number.NaN;
  if (!match || Number.isNaN(ms)) throw new RangeError(`not a MicroTime: ${text}`);
  const nanos = Number((match[2] ?? "").padEnd(9, "0"));
  return message()
    .int(1, Math.floor(ms / 1000))
    .int(2, nanos || undefined);
}

/**
 * events.k8s.io/v1 Event { metadata 1, eventTime 2, series 3 { count 1, lastObservedTime 2 },
 * reportingController 4, reportingInstance 5, action 6, reason 7, regarding 8, note 10, type 11 }.
 */
export function encodeEvent(event: EventObject): Uint8Array {
  const series =
    event.series &&
    message().int(1, event.series.count).message(2, microTime(event.series.lastObservedTime), true);
  const raw = message()
    .message(1, objectMeta(event.metadata))
    .message(2, microTime(event.eventTime), true)
    .message(3, series, true)
    .string(4, event.reportingController)
    .string(5, event.reportingInstance)
    .string(6, event.action)
    .string(7, event.reason)
    .message(8, objectReference(event.regarding), true)
    .string(10, event.note)
    .string(11, event.type);
  return envelope("events.k8s.io/v1", "Event", raw);
}

/** A meta/v1 Status as its JSON form reads (what callers of a JSON request look at). */
export interface StatusObject {
  kind: "Status";
  apiVersion: "v1";
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    retryAfterSeconds?: number;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
}

/** One message's fields as they come: [field, varint or bytes]; fixed-width ones skipped. */
export function* fields(bytes: Uint8Array): Generator<[number, number | Uint8Array]> {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (at >= bytes.length) throw new RangeError("truncated varint");
      const byte = bytes[at++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
  };
  while (at < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    if (wireType === varintType) yield [field, varint()];
    else if (wireType === lengthDelimited) {
      const length = varint();
      if (at + length > bytes.length) throw new RangeError("truncated field");
      yield [field, bytes.subarray(at, at + length)];
      at += length;
    } else if (wireType === 5) at += 4;
    else if (wireType === 1) at += 8;
    else throw new RangeError(`unsupported wire type ${wireType}`);
  }
}

const text = (value: number | Uint8Array) =>
  typeof value === "number"
    ? undefined
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("utf8");
const bytesOf = (value: number | Uint8Array) => (typeof value === "number" ? new Uint8Array() : value);
/** int32 as a varint: negatives come as 10-byte two's complement. */
const int32 = (value: number | Uint8Array) =>
  typeof value === "number" ? (value > 0x7fffffff ? value - 2 ** 64 : value) : undefined;

/** meta/v1 StatusCause { reason 1, message 2, field 3 }. */
function decodeCause(bytes: Uint8Array): { reason?: string; message?: string; field?: string } {
  const cause: { reason?: string; message?: string; field?: string } = {};
  for (const [field, value] of fields(bytes)) {
    if (field === 1) cause.reason = text(value);
    else if (field === 2) cause.message = text(value);
    else if (field === 3) cause.field = text(value);
  }
  return cause;
}

/** meta/v1 StatusDetails { name 1, group 2, kind 3, causes 4, retryAfterSeconds 5, uid 6 }. */
function decodeDetails(bytes: Uint8Array): NonNullable<StatusObject["details"]> {
  const details: NonNullable<StatusObject["details"]> = {};
  for (const [field, value] of fields(bytes)) {
    if (field === 1) details.name = text(value);
    else if (field === 2) details.group = text(value);
    else if (field === 3) details.kind = text(value);
    else if (field === 4) details.causes = [...(details.causes ?? []), decodeCause(bytesOf(value))];
    else if (field === 5) details.retryAfterSeconds = int32(value);
    else if (field === 6) details.uid = text(value);
  }
  return details;
}

/** meta/v1 Status { status 2, message 3, reason 4, details 5, code 6 }. */
function decodeStatusMessage(bytes: Uint8Array): StatusObject {
  const status: StatusObject = { kind: "Status", apiVersion: "v1" };
  for (const [field, value] of fields(bytes)) {
    if (field === 2) status.status = text(value);
    else if (field === 3) status.message = text(value);
    else if (field === 4) status.reason = text(value);
    else if (field === 5) status.details = decodeDetails(bytesOf(value));
    else if (field === 6) status.code = int32(value);
  }
  return status;
}

/**
 * A pod as a PodList read in protobuf gives it: who it is, its version and its node, each where
 * the JSON form has it.
 */
export interface PodPlacement {
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
  spec: { nodeName?: string };
}

/** A page of a pod list read for its pods' placements (PodPlacement). */
export interface PodPlacementList {
  kind: "PodList";
  metadata: { resourceVersion?: string; continue?: string };
  items: PodPlacement[];
}

/** meta/v1 ListMeta { resourceVersion 2, continue 3 }. */
function decodeListMeta(bytes: Uint8Array): PodPlacementList["metadata"] {
  const metadata: PodPlacementList["metadata"] = {};
  for (const [field, value] of fields(bytes)) {
    if (field === 2) metadata.resourceVersion = text(value);
    else if (field === 3) metadata.continue = text(value);
  }
  return metadata;
}

/** core/v1 Pod { metadata 1 { name 1, namespace 3, uid 5, resourceVersion 6 }, spec 2 { nodeName 10 } }. */
function decodePodPlacement(bytes: Uint8Array): PodPlacement {
  const pod: PodPlacement = { metadata: {}, spec: {} };
  for (const [field, value] of fields(bytes)) {
    if (field === 1)
      for (const [metaField, metaValue] of fields(bytesOf(value))) {
        if (metaField === 1) pod.metadata.name = text(metaValue);
        else if (metaField === 3) pod.metadata.namespace = text(metaValue);
        else if (metaField === 5) pod.metadata.uid = text(metaValue);
        else if (metaField === 6) pod.metadata.resourceVersion = text(metaValue);
      }
    else if (field === 2) {
      // The node name comes even when empty (a pending pod); the JSON form has none then.
      for (const [specField, specValue] of fields(bytesOf(value)))
        if (specField === 10 && typeof specValue !== "number" && specValue.length > 0)
          pod.spec.nodeName = text(specValue);
    }
  }
  return pod;
}

/** core/v1 PodList { metadata 1, items 2 }. */
function decodePodPlacementList(bytes: Uint8Array): PodPlacementList {
  const list: PodPlacementList = { kind: "PodList", metadata: {}, items: [] };
  for (const [field, value] of fields(bytes)) {
    if (field === 1) list.metadata = decodeListMeta(bytesOf(value));
    else if (field === 2) list.items.push(decodePodPlacement(bytesOf(value)));
  }
  return list;
}

/**
 * An answer in protobuf: a Status decoded to its JSON form, a PodList to its pods' placements
 * (PodPlacementList); any other object (a created Event) as { kind }, unread. Undefined when the
 * bytes are not a whole envelope (the caller still has the answer's HTTP status).
 */
export function decodeAnswer(
  bytes: Uint8Array,
): StatusObject | PodPlacementList | { kind: string } | undefined {
  try {
    return decodeEnvelope(bytes);
  } catch (error) {
    if (error instanceof RangeError) return undefined;
    throw error;
  }
}

function decodeEnvelope(bytes: Uint8Array): StatusObject | PodPlacementList | { kind: string } | undefined {
  if (bytes.length < magic.length || magic.some((byte, i) => bytes[i] !== byte)) return undefined;
  let kind = "";
  let raw: Uint8Array = new Uint8Array();
  for (const [field, value] of fields(bytes.subarray(magic.length))) {
    if (field === 1) {
      for (const [metaField, metaValue] of fields(bytesOf(value)))
        if (metaField === 2) kind = text(metaValue) ?? "";
    } else if (field === 2) raw = bytesOf(value);
  }
  if (kind === "Status") return decodeStatusMessage(raw);
  return kind === "PodList" ? decodePodPlacementList(raw) : { kind };
}
