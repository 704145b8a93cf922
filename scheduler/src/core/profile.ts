/**
 * The profile: which plugins run at each extension point, in which order, with which weights
 * and arguments. One builder for every caller (the shard's SchedulingCore and the coordinator's
 * trialPlacement), so a plugin registered here is honoured by both.
 *
 * To add a plugin: give it a folder under plugins/, then register it below — always on (in
 * defaultFilterPlugins, in kube-scheduler's order) or, with arguments from config, in
 * optionalPlugins (off unless config.plugins names it; a profile configuration file turns it on
 * with pluginConfig, see profile-config.ts).
 */

import type { Parsed } from "../contracts/parsed.js";
import type { ClusterState } from "./cluster-state.js";
import {
  anyClusterEvent,
  type ClusterEvents,
  CycleState,
  eventsOf,
  type FilterPlugin,
  type PlacementGeneratePlugin,
  type PlacementScorePlugin,
  type Plugin,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ScorePlugin,
  type Status,
} from "./framework.js";
import type { NodeInfo, PodInfo } from "./model.js";
import { defaultFilterPlugins, lentNode } from "./plugins/index.js";
import {
  type InterPodAffinityArgs,
  interPodAffinity,
  interPodAffinityArgs,
} from "./plugins/inter-pod-affinity/inter-pod-affinity.js";
import { maxPerZone, maxPerZoneArgs } from "./plugins/max-per-zone/max-per-zone.js";
import { nodePorts } from "./plugins/node-ports/node-ports.js";
import { balancedAllocation } from "./plugins/node-resources/balanced-allocation.js";
import { nodeResourcesFit } from "./plugins/node-resources/node-resources-fit.js";
import {
  resourceAllocationScore,
  type ScoringStrategy,
} from "./plugins/node-resources/resource-allocation.js";
import { podTopologySpread } from "./plugins/pod-topology-spread/pod-topology-spread.js";
import {
  type PodTopologySpreadArgs,
  podTopologySpreadArgs,
} from "./plugins/pod-topology-spread/spread-constraints.js";
import { topologyPlacement } from "./plugins/topology-placement/topology-placement.js";
import { unsupportedConstraints } from "./plugins/unsupported-constraints/unsupported-constraints.js";
import { volumePlugins } from "./plugins/volumes.js";
import type { StateFollower } from "./statement.js";

/** A plugin that is off unless config names it: how its arguments are checked, how it is built. */
interface OptionalPlugin<A> {
  args(value: unknown): Parsed<A>;
  build(cluster: ClusterState, args: A): Plugin;
}

/**
 * The plugins config may turn on, by name, in the order they filter (after the node-local
 * ones, before NodeResourcesFit, as kube-scheduler runs InterPodAffinity and PodTopologySpread
 * before the resource check).
 */
export const optionalPlugins = {
  /** The reference plugin with cluster-wide state: at most K labelled pods per zone. */
  MaxPerZone: { args: maxPerZoneArgs, build: maxPerZone },
};

type ArgsOf<P> = P extends OptionalPlugin<infer A> ? A : never;

/** Plugins that are off unless config names them, with their arguments. */
export type OptionalPluginArgs = {
  readonly [Name in keyof typeof optionalPlugins]?: ArgsOf<(typeof optionalPlugins)[Name]>;
};

export type OptionalPluginName = keyof typeof optionalPlugins;
export const optionalPluginNames = Object.keys(optionalPlugins) as OptionalPluginName[];

/** The arguments of an optional plugin as config gives them, checked by the plugin's own parser. */
export function optionalPluginArgs(name: OptionalPluginName, value: unknown): Parsed<unknown> {
  return (optionalPlugins[name] as OptionalPlugin<unknown>).args(value);
}

/**
 * Always-on plugins that take arguments (pluginConfig args; without them, their defaults): how
 * each plugin's arguments are checked.
 */
export const configurablePlugins = {
  InterPodAffinity: { args: interPodAffinityArgs },
  PodTopologySpread: { args: podTopologySpreadArgs },
};

export type ConfigurablePluginName = keyof typeof configurablePlugins;
export const configurablePluginNames = Object.keys(configurablePlugins) as ConfigurablePluginName[];

/** Arguments of the always-on plugins, as config gives them; a plugin not named keeps its defaults. */
export interface ConfigurablePluginArgs {
  readonly InterPodAffinity?: InterPodAffinityArgs;
  readonly PodTopologySpread?: PodTopologySpreadArgs;
}

/** kube-scheduler's default score weights, for score plugins config gives none; others weigh 1. */
export const defaultScoreWeights: Readonly<Record<string, number>> = {
  InterPodAffinity: 2,
  PodTopologySpread: 2,
};

export interface ProfileConfig {
  readonly scoringStrategy: ScoringStrategy;
  /** Score and PlacementScore weights by plugin name; defaultScoreWeights, else 1, when not given. */
  readonly scoreWeights?: Readonly<Record<string, number>>;
  readonly plugins?: OptionalPluginArgs;
  /** Arguments of always-on plugins (pluginConfig entries naming them). */
  readonly pluginArgs?: ConfigurablePluginArgs;
}

export const defaultProfileConfig: ProfileConfig = { scoringStrategy: "MostAllocated" };

export interface Weighted<P> {
  readonly plugin: P;
  readonly weight: number;
}

export interface Profile {
  readonly preFilters: readonly PreFilterPlugin[];
  /** The PreFilter plugins that keep their state true as pods come and go (AddPod/RemovePod). */
  readonly extended: readonly PreFilterPlugin[];
  /** In order: a node is rejected by the first that fails, and the user is shown its reason. */
  readonly filters: readonly FilterPlugin[];
  readonly preScores: readonly PreScorePlugin[];
  readonly scores: readonly Weighted<ScorePlugin>[];
  readonly placementGenerators: readonly PlacementGeneratePlugin[];
  readonly placementScores: readonly Weighted<PlacementScorePlugin>[];
  /** The cluster events that can help a pod each plugin rejected, by plugin name. */
  readonly events: ReadonlyMap<string, ClusterEvents>;
}

/** Every plugin the config turns on, built for this cluster, in the order they run. */
function pluginsFor(cluster: ClusterState, config: ProfileConfig): Plugin[] {
  // First: a pod with a hard constraint no plugin implements yet is refused before anything else.
  const plugins: Plugin[] = [
    unsupportedConstraints,
    ...defaultFilterPlugins,
    lentNode(cluster),
    nodePorts(cluster),
    ...volumePlugins(cluster),
    interPodAffinity(cluster, config.pluginArgs?.InterPodAffinity),
    podTopologySpread(cluster, config.pluginArgs?.PodTopologySpread),
  ];
  for (const name of optionalPluginNames) {
    const args = config.plugins?.[name];
    if (args !== undefined)
      plugins.push((optionalPlugins[name] as OptionalPlugin<unknown>).build(cluster, args));
  }
  plugins.push(
    nodeResourcesFit(cluster),
    resourceAllocationScore(config.scoringStrategy),
    balancedAllocation,
    // Group level: only for groups with a topology constraint (others skip the placement step).
    topologyPlacement(cluster),
  );
  return plugins;
}

/** The profile the shard's cycle and the coordinator's trial placement both run. */
export function buildProfile(cluster: ClusterState, config: ProfileConfig = defaultProfileConfig): Profile {
  return profileOf(pluginsFor(cluster, config), config.scoreWeights);
}

/** A profile of exactly these plugins (each listed under every extension point it implements). */
export function profileOf(
  plugins: readonly Plugin[],
  weights: Readonly<Record<string, number>> = {},
): Profile {
  const has = <P extends Plugin>(method: string) => plugins.filter((p): p is P => method in p);
  const weigh = <P extends Plugin>(plugin: P): Weighted<P> => ({
    plugin,
    weight: weights[plugin.name] ?? defaultScoreWeights[plugin.name] ?? 1,
  });
  const preFilters = has<PreFilterPlugin>("preFilter");
  return {
    preFilters,
    extended: preFilters.filter((p) => p.extensions !== undefined),
    filters: has<FilterPlugin>("filter"),
    preScores: has<PreScorePlugin>("preScore"),
    scores: has<ScorePlugin>("score").map(weigh),
    placementGenerators: has<PlacementGeneratePlugin>("generate"),
    placementScores: has<PlacementScorePlugin>("scorePlacement").map(weigh),
    events: new Map(plugins.map((p) => [p.name, eventsOf(p.events ?? [])])),
  };
}

/** The events that can help a group the named plugins rejected (any event when none is named). */
export function wakingEvents(
  profile: Profile,
  rejectedBy: Iterable<string>,
  extra: ClusterEvents = 0,
): ClusterEvents {
  let events = extra;
  let named = false;
  for (const name of rejectedBy) {
    named = true;
    // A plugin the profile does not know (it rejected in another profile) could be helped by anything.
    events |= profile.events.get(name) ?? anyClusterEvent;
  }
  return named ? events : anyClusterEvent;
}

/** A filter plugin's verdict on one node. */
export interface Rejection {
  readonly plugin: string;
  readonly status: Status;
}

/** The first filter that rejects the pod on the node, or undefined when it passes them all. */
export function rejection(
  profile: Profile,
  pod: PodInfo,
  node: NodeInfo,
  state: CycleState,
): Rejection | undefined {
  const filters = profile.filters;
  for (let i = 0; i < filters.length; i++) {
    const filter = filters[i] as FilterPlugin;
    if (state.skips(filter.name)) continue;
    const status = filter.filter(pod, node, state);
    if (status !== undefined) return { plugin: filter.name, status };
  }
  return undefined;
}

/** Never written to: the state of every pod when no plugin has a PreFilter. */
const emptyState = new CycleState();

/** One pod's PreFilter outcome: its state, or the rejection that holds on every node. */
export interface PodState {
  readonly state: CycleState;
  readonly rejected: Rejection | undefined;
}

const noPreFilter: PodState = { state: emptyState, rejected: undefined };
const noStates: readonly PodState[] = [];

/** Runs PreFilter for the pod (nothing, and no allocation, when the profile has none). */
export function preFilter(profile: Profile, pod: PodInfo): PodState {
  if (profile.preFilters.length === 0) return noPreFilter;
  const state = new CycleState();
  for (const plugin of profile.preFilters) {
    const status = plugin.preFilter(state, pod);
    if (status === undefined || status.code === "Success") continue;
    if (status.code === "Skip") state.skip(plugin.name);
    else return { state, rejected: { plugin: plugin.name, status } };
  }
  return { state, rejected: undefined };
}

/**
 * The PreFilter states of pods being placed together (a gang's members), kept true by
 * AddPod/RemovePod while a Statement assumes and evicts pods: what PreFilter computed once
 * holds across members placed, candidate node sets tried and victims removed.
 */
export class PodStates {
  /** By member index; empty when the profile has no PreFilter (every pod's state is then empty). */
  readonly states: readonly PodState[];
  /** undefined when no plugin has AddPod/RemovePod: the Statement has nothing to tell. */
  readonly follower: StateFollower | undefined;

  constructor(
    private readonly profile: Profile,
    private readonly pods: readonly PodInfo[],
  ) {
    // Without PreFilter plugins there is nothing to keep: selectNode's default (noPreFilter) serves.
    this.states = profile.preFilters.length === 0 ? noStates : pods.map((p) => preFilter(profile, p));
    this.follower =
      profile.extended.length === 0
        ? undefined
        : { added: (p, n) => this.tell(p, n, true), removed: (p, n) => this.tell(p, n, false) };
  }

  private tell(other: PodInfo, node: NodeInfo, added: boolean): void {
    for (let i = 0; i < this.states.length; i++) {
      const { state, rejected } = this.states[i] as PodState;
      if (rejected !== undefined) continue;
      const pod = this.pods[i] as PodInfo;
      for (const plugin of this.profile.extended) {
        if (state.skips(plugin.name)) continue;
        const extensions = plugin.extensions as NonNullable<PreFilterPlugin["extensions"]>;
        if (added) extensions.addPod(state, pod, other, node);
        else extensions.removePod(state, pod, other, node);
      }
    }
  }
}
