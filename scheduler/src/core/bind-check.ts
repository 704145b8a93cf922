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
 * Cheap for the common pod: a spanning plugin whose verdicts for this pod depend on nothing but
 * the pod and the node (PreFilterPlugin.podOnly/podOnlyFor: InterPodAffinity for a pod without
 * required terms while no pod has required anti-affinity, PodTopologySpread for a pod without
 * DoNotSchedule constraints, VolumeRestrictions for a pod without claims) cannot be changed by
 * another shard's bind: the pod is not checked for it. A spanning plugin without such a test
 * (MaxPerZone) is asked about every pod, and one whose PreFilter skips the pod is not asked further.
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

/** The profile's plugins that span nodes, as the check runs them. */
export interface SpanningPlugins {
  /** Their PreFilter and Filter, in the profile's order. */
  readonly profile: Profile;
  /** The plugins themselves (each listed once). */
  readonly plugins: readonly Plugin[];
}

/**
 * The profile's PreFilter and Filter plugins that span nodes; undefined when it has none (then
 * nothing is ever checked).
 */
export function spanningProfile(profile: Profile): SpanningPlugins | undefined {
  const plugins = new Set<Plugin>(
    [...profile.preFilters, ...profile.filters].filter((plugin) => plugin.spansNodes === true),
  );
  if (plugins.size === 0) return undefined;
  return {
    profile: profileOf([...plugins] as (PreFilterPlugin | FilterPlugin)[]),
    plugins: [...plugins],
  };
}

/**
 * Whether the check must judge this pod at all: some spanning plugin's verdict for it may depend
 * on pods on other nodes (it is not podOnly for the pod). Cheap: flags and the plugins' own tests.
 */
export function needsCheckBeforeBind(spanning: SpanningPlugins, pod: PodInfo): boolean {
  for (const plugin of spanning.plugins) {
    const pre = plugin as Partial<PreFilterPlugin>;
    if (pre.preFilter !== undefined && (pre.podOnly === true || pre.podOnlyFor?.(pod) === true)) continue;
    return true;
  }
  return false;
}

/**
 * Checks a group's placements (already assumed in the cluster) with the spanning profile; the
 * first member rejected, or undefined. The cluster is left exactly as it was found.
 */
export function checkBeforeBind(
  spanning: SpanningPlugins,
  cluster: ClusterState,
  placements: readonly { readonly pod: PodInfo; readonly nodeName: string }[],
): BindConflict | undefined {
  const { profile } = spanning;
  for (const { pod, nodeName } of placements) {
    if (!needsCheckBeforeBind(spanning, pod)) continue;
    const node = cluster.node(nodeName);
    // A node gone since the decision: the bind fails on its own (or the pod runs nowhere new).
    if (node === undefined) continue;
    const statement = new Statement(cluster);
    const placed = cluster.placedPod(pod.key);
    // The member is judged as it was when the decision placed it: not yet on its node.
    if (placed !== undefined) statement.evict(placed);
    try {
      const { state, rejected } = preFilter(profile, pod);
      const found = rejected ?? rejection(profile, pod, node, state);
      if (found !== undefined) return { pod, nodeName, plugin: found.plugin, reasons: found.status.reasons };
    } finally {
      statement.discard();
    }
  }
  return undefined;
}
