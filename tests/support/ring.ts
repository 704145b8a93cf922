/** Waiting for a ring of shards to settle, as the independent checker and the shards' metrics see it. */
import type * as k8s from "@kubernetes/client-node";
import type { InvariantChecker } from "../checker/invariant-checker.js";
import type { RingOwners } from "../checker/ring-owners.js";
import { metricValue, type RunningShard } from "./shard.js";
import { waitFor } from "./wait.js";

/**
 * Waits until the ring names exactly these members, every one of these shards works under that
 * epoch with binding open, and their owned nodes add up to every node of the cluster: one owner
 * each. Returns the ring.
 */
export async function ringSettled(
  checker: InvariantChecker,
  core: k8s.CoreV1Api,
  shards: readonly RunningShard[],
  members: readonly string[],
  timeoutMs = 20_000,
): Promise<{ epoch: number; ring: RingOwners }> {
  const sorted = [...members].sort();
  return waitFor(
    `the ring to settle on ${sorted.join(", ")}`,
    async () => {
      const epoch = Math.max(0, ...checker.ledger.rings.keys());
      const ring = checker.ledger.rings.get(epoch);
      if (!ring || ring.members.join(",") !== sorted.join(",")) return undefined;
      let owned = 0;
      for (const shard of shards) {
        const text = await shard.metrics();
        if (metricValue(text, "sharded_scheduler_ring_epoch") !== epoch) return undefined;
        owned += metricValue(text, "sharded_scheduler_owned_nodes");
      }
      // Every node of the cluster, the suite's and the others'.
      const nodes = (await core.listNode()).items.length;
      return owned === nodes ? { epoch, ring } : undefined;
    },
    timeoutMs,
    200,
  );
}
