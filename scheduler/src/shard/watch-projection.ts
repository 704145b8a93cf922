/**
 * What a shard keeps of each watched object: the fields the cache, the plugins (core/api-types.ts
 * is their list), the group sources and the status writers read, copied out of the decoded event
 * as soon as it is parsed. Every shard watches every pod and node; a pod as the API server sends
 * it is mostly managedFields, container images, commands, env, probes, mounts and container
 * statuses that nothing here reads, and keeping them would cost each shard memory and garbage
 * collection for the whole cluster.
 *
 * Kept of every object: name, namespace, uid, resourceVersion, labels, annotations (but the
 * kubectl last-applied-configuration copy of the object), ownerReferences, creationTimestamp,
 * deletionTimestamp. Of a pod: the spec fields of api-types' PodSpec (those most pods leave
 * unset only where set: a pod holds no slot for them), containers reduced to name, resources,
 * restartPolicy and ports, volumes to those of a source the volume plugins read (a claim, an
 * ephemeral claim, an inline disk), each with its name and that source (every pod's service
 * account token volume, a configMap or a secret is dropped); status phase, nominatedNodeName and
 * the PodScheduled and Owner conditions (type, status, reason, message: the status writer and the
 * group pin read them; no other condition is read). Of a node: spec.unschedulable and taints,
 * status.allocatable and the conditions' type and status. Of a Service, ReplicationController,
 * ReplicaSet or StatefulSet: its selector. PodGroups (native and CRD) and the other kinds keep
 * everything but managedFields.
 *
 * Replicas carry identical labels, owners, tolerations, affinity, containers and status (a phase
 * and PodScheduled): a pod's copy of each is replaced by the first identical one seen
 * (SharedValues), so thousands of replicas hold one; so are the strings most pods repeat
 * (namespace, scheduler name, node name, preemption policy, priority class, creation second),
 * each a copy of its own as the JSON decoder makes them. Nothing writes to a watched object, so
 * sharing is safe.
 *
 * A field added to api-types (or read anywhere from a watched object) is added here too: the
 * projection tests run the plugins on a pod before and after it and compare.
 */

import { ownerConditionType } from "../contracts/keys.js";
import type {
  Container,
  Namespace,
  Node,
  NodeCondition,
  ObjectMeta,
  Pod,
  PodCondition,
  PodSpec,
  Volume,
} from "../core/index.js";

/**
 * Values shared by identical content (JSON), up to `limit` distinct ones; when full it starts
 * afresh (values already shared stay shared), so a stream of unique values costs a bounded table.
 */
export class SharedValues {
  private readonly values = new Map<string, unknown>();
  /** Strings, by themselves: a string's JSON would be one more string to build, and could name a value. */
  private readonly strings = new Map<string, string>();

  constructor(private readonly limit = 4096) {}

  of<V>(value: V): V {
    if (value === undefined || value === null) return value;
    return this.first(this.values, JSON.stringify(value), value);
  }

  /** The first string seen equal to `text`. */
  text<S extends string | undefined>(text: S): S {
    if (text === undefined) return text;
    return this.first(this.strings, text, text);
  }

  /** The value first remembered under `key` in `table`, else `value`, remembered (the table bounded). */
  private first<K, V>(table: Map<K, unknown>, key: K, value: V): V {
    const known = table.get(key);
    if (known !== undefined) return known as V;
    if (table.size >= this.limit) table.clear();
    table.set(key, value);
    return value;
  }
}

const shared = new SharedValues();

/** The pod conditions anything reads: PodScheduled (the status writer) and the group pin. */
const keptConditionTypes = new Set(["PodScheduled", ownerConditionType]);

/** A copy of the object whose only annotation dropped is kubectl's copy of the whole object. */
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration";

export function keptMetadata<M extends ObjectMeta>(metadata: M): M {
  return {
    name: metadata.name,
    namespace: shared.text(metadata.namespace),
    uid: metadata.uid,
    resourceVersion: metadata.resourceVersion,
    labels: shared.of(metadata.labels),
    annotations: shared.of(keptAnnotations(metadata.annotations)),
    ownerReferences: shared.of(metadata.ownerReferences),
    creationTimestamp: shared.text(metadata.creationTimestamp),
    deletionTimestamp: metadata.deletionTimestamp,
  } as M;
}

function keptAnnotations(annotations: Record<string, string> | undefined) {
  if (annotations === undefined || !Object.hasOwn(annotations, lastAppliedAnnotation)) return annotations;
  const { [lastAppliedAnnotation]: _dropped, ...kept } = annotations;
  return kept;
}

export function keptPod(pod: Pod): Pod {
  const { status } = pod;
  return {
    metadata: keptMetadata(pod.metadata),
    spec: keptPodSpec(pod.spec),
    // Most pods' status reads the same (a phase and PodScheduled): one shared copy.
    status:
      status &&
      shared.of({
        phase: status.phase,
        nominatedNodeName: status.nominatedNodeName,
        conditions: status.conditions?.filter((c) => keptConditionTypes.has(c?.type)).map(keptPodCondition),
      }),
  };
}

function keptPodSpec(spec: PodSpec): PodSpec {
  // The fields every pod carries (the API server's defaults among them), then the ones most pods
  // leave unset, each only where set: a pod holds no slot for what it does not say.
  const kept: PodSpec = {
    nodeName: shared.text(spec.nodeName),
    schedulerName: shared.text(spec.schedulerName),
    priority: spec.priority,
    priorityClassName: shared.text(spec.priorityClassName),
    preemptionPolicy: shared.text(spec.preemptionPolicy),
    tolerations: shared.of(spec.tolerations),
    // A spec without containers is malformed: left as it came for the core to refuse.
    containers: Array.isArray(spec.containers)
      ? shared.of(spec.containers.map(keptContainer))
      : spec.containers,
  };
  const { nodeSelector, affinity, topologySpreadConstraints, volumes, initContainers } = spec;
  if (nodeSelector !== undefined) kept.nodeSelector = shared.of(nodeSelector);
  if (affinity !== undefined) kept.affinity = shared.of(affinity);
  if (topologySpreadConstraints !== undefined)
    kept.topologySpreadConstraints = shared.of(topologySpreadConstraints);
  const readVolumes = keptVolumes(volumes);
  if (readVolumes !== undefined) kept.volumes = readVolumes;
  if (initContainers !== undefined) kept.initContainers = initContainers.map(keptContainer);
  return Object.assign(kept, picked(spec, rareSpecFields));
}

/** Spec fields kept as they come, only where set. */
const rareSpecFields = [
  "overhead",
  "resources",
  "schedulingGates",
  "resourceClaims",
  "schedulingGroup",
] as const;

/** The keys of `object` that are set, and only those. */
function picked<T extends object, K extends keyof T>(object: T, keys: readonly K[]): Pick<T, K> {
  const kept = {} as Pick<T, K>;
  for (const key of keys) if (object[key] !== undefined) kept[key] = object[key];
  return kept;
}

const containerFields = ["name", "resources", "restartPolicy", "ports"] as const;

function keptContainer(container: Container): Container {
  return shared.of(picked(container, containerFields));
}

/** The volume sources the volume plugins read; a volume of another (configMap, secret, projected …) is dropped. */
const readSources = [
  "persistentVolumeClaim",
  "ephemeral",
  "gcePersistentDisk",
  "awsElasticBlockStore",
  "rbd",
  "iscsi",
] as const;
const volumeFields = ["name", ...readSources] as const;

/** The volumes of a read source, each with its name and that source; undefined when none is. */
function keptVolumes(volumes: readonly Volume[] | undefined): Volume[] | undefined {
  const kept = volumes
    ?.filter((volume) => readSources.some((source) => volume[source] !== undefined))
    .map((volume) => picked(volume, volumeFields));
  return kept !== undefined && kept.length > 0 ? kept : undefined;
}

const podConditionFields = ["type", "status", "reason", "message"] as const;

function keptPodCondition(condition: PodCondition): PodCondition {
  return shared.of(picked(condition, podConditionFields));
}

export function keptNode(node: Node): Node {
  const { spec, status } = node;
  return {
    metadata: keptMetadata(node.metadata),
    spec: spec && { unschedulable: spec.unschedulable, taints: shared.of(spec.taints) },
    status: status && {
      allocatable: shared.of(status.allocatable),
      conditions: shared.of(status.conditions?.map(keptNodeCondition)),
    },
  };
}

function keptNodeCondition(condition: NodeCondition): NodeCondition {
  return picked(condition, ["type", "status"]);
}

export function keptNamespace(namespace: Namespace): Namespace {
  return { metadata: keptMetadata(namespace.metadata) };
}

/** An object kept whole but for its managedFields (PodGroups, budgets, claims, volumes, classes). */
export function withoutManagedFields<T extends { metadata: ObjectMeta }>(object: T): T {
  const metadata = object.metadata as ObjectMeta & { managedFields?: unknown };
  if (metadata?.managedFields === undefined) return object;
  const { managedFields: _dropped, ...kept } = metadata;
  return { ...object, metadata: kept };
}

/** What the spread selector informers read of a Service, ReplicationController, ReplicaSet or StatefulSet. */
export interface SelectorOwner {
  metadata: ObjectMeta;
  spec?: { selector?: unknown };
}

export function keptSelectorOwner(owner: SelectorOwner): SelectorOwner {
  return {
    metadata: keptMetadata(owner.metadata),
    spec: owner.spec && { selector: owner.spec.selector },
  };
}
