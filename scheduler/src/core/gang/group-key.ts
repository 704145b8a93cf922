/** A gang's identity: the one key shards, the coordinator, the status command and the ring use. */

/** A gang's identity. A pod without a group is a gang of one, keyed by the pod. */
export interface GroupKey {
  /** Unique across kinds: "group:<ns>/<name>" or "pod:<ns>/<name>". */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly solo: boolean;
  /** What the shard ring hashes: "<ns>/<name>" (a gang is hashed as one unit). */
  readonly hashKey: string;
}

export function groupKey(namespace: string, name: string, solo: boolean): GroupKey {
  return {
    id: `${solo ? "pod" : "group"}:${namespace}/${name}`,
    namespace,
    name,
    solo,
    hashKey: `${namespace}/${name}`,
  };
}
