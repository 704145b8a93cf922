/**
 * The check before bind (after Gödel's binder, which checks conflicts again before it binds).
 * Each shard decides on its own cache, so a pod another shard bound since the decision (onto
 * that shard's nodes, in the same zone) is not in the decision: two shards can each place one of
 * two mutually anti-affine pods in one zone, or both take a spread domain's last slot. Right
 * before a group's binds go out, the shard runs once more the PreFilter and Filter of the
 * profile's plugins that span nodes (`spansNodes`: InterPodAffinity, PodTopologySpread) for each
 * member on its chosen node, against its latest cache: the member itself taken off its node, the
 * rest of its gang where the decision put them. Any rejection: nothing of the group is bound.
 *
 * What it cannot close: a bind another shard sent but this shard's watch has not shown yet, and
 * this shard's binds in flight the other has not seen. docs/semantics.md measures that window.
 *
 * Cheap for the common pod: one without required inter-pod constraints of its own is checked
 * only while some running pod carries required anti-affinity (the one way such a pod is
 * rejected: symmetry), and a plugin whose PreFilter skips the pod is not asked at all.
 */
import type { ClusterState } from "./cluster-state.js";
import type { FilterPlugin, Plugin, PreFilterPlugin } from "./framework.js";
import type { PodInfo } from "./model.js";
import { type Profile, preFilter, profileOf, rejection } from "./profile.js";
import { Statement } from "./statement.js";

/** A member the check rejected: its node, the plugin and kube-style reasons. */
export interface BindConflict {
  readonly pod: PodInfo;
  readonly nodeName: string;
  readonly plugin: string;
  readonly reasons: readonly string[];
}

/**
 * The profile's PreFilter and Filter plugins that span nodes, in the profile's order; undefined
 * when it has none (then nothing is ever checked).
 */
export function spanningProfile(profile: Profile): Profile | undefined {
  const plugins = new Set<Plugin>(
    [...profile.preFilters, ...profile.filters].filter((plugin) => plugin.spansNodes === true),
  );
  if (plugins.size === 0) return undefined;
  return profileOf([...plugins] as (PreFilterPlugin | FilterPlugin)[]);
}

/**
 * Whether a plugin spanning nodes may reject the pod wherever it goes: it carries required pod
 * (anti-)affinity or DoNotSchedule spread, or a running pod carries required anti-affinity.
 */
export function mayBeRejectedAcrossNodes(pod: PodInfo, cluster: ClusterState): boolean {
  return pod.interPodConstraints.required || cluster.placedWithRequiredAntiAffinity > 0;
}

/**
 * Checks a group's placements (already assumed in the cluster) with the spanning profile; the
 * first member rejected, or undefined. The cluster is left exactly as it was found.
 */
export function checkBeforeBind(
  spanning: Profile,
  cluster: ClusterState,
  placements: readonly { readonly pod: PodInfo; readonly nodeName: string }[],
): BindConflict | undefined {
  for (const { pod, nodeName } of placements) {
    if (!mayBeRejectedAcrossNodes(pod, cluster)) continue;
    const node = cluster.node(nodeName);
    // A node gone since the decision: the bind fails on its own (or the pod runs nowhere new).
    if (node === undefined) continue;
    const statement = new Statement(cluster);
    const placed = cluster.placedPod(pod.key);
    // The member is judged as it was when the decision placed it: not yet on its node.
    if (placed !== undefined) statement.evict(placed);
    try {
      const { state, rejected } = preFilter(spanning, pod);
      const found = rejected ?? rejection(spanning, pod, node, state);
      if (found !== undefined) return { pod, nodeName, plugin: found.plugin, reasons: found.status.reasons };
    } finally {
      statement.discard();
    }
  }
  return undefined;
}
