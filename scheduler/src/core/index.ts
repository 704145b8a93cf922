/** The pure scheduling core: cluster and pending groups in, decisions out. No I/O. */
export type * from "./api-types.js";
export {
  type BindConflict,
  checkBeforeBind,
  needsCheckBeforeBind,
  type SpanningPlugins,
  spanningProfile,
} from "./bind-check.js";
export { toNodeInfo, toPodInfo } from "./build-info.js";
export {
  assignedPodUpdateEvents,
  budgetUpdateEvents,
  ClusterState,
  nodeUpdateEvents,
  type RunningGroup,
} from "./cluster-state.js";
export {
  type CoreConfig,
  type CycleOptions,
  type CycleResult,
  type Decision,
  defaultCoreConfig,
  SchedulingCore,
} from "./cycle.js";
export { Diagnosis } from "./diagnosis.js";
export {
  anyClusterEvent,
  type ClusterEvent,
  type ClusterEvents,
  type Code,
  CycleState,
  clusterEvents,
  eventNames,
  eventsOf,
  type FilterPlugin,
  type PlacementGeneratePlugin,
  type PlacementScorePlugin,
  type Plugin,
  type PreFilterExtensions,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ScorePlugin,
  type StateData,
  type Status,
} from "./framework.js";
export * from "./gang/index.js";
export { type Placement, placeGang, placeGroup } from "./gang-placement.js";
export {
  type InterPodConstraints,
  interPodConstraintsOf,
  noInterPodConstraints,
  placedByOwnerOnly,
} from "./inter-pod-constraints.js";
export type { NodeInfo, PodInfo } from "./model.js";
export { naturalOrder } from "./natural-order.js";
export {
  interPodAffinityName,
  mayBeConstrainedByInterPodAffinity,
} from "./plugins/inter-pod-affinity/inter-pod-affinity.js";
export { type ScoringStrategy, scoringStrategies } from "./plugins/node-resources/resource-allocation.js";
export { type EvictionPlan, planGangPreemption } from "./preemption.js";
export {
  buildProfile,
  defaultProfileConfig,
  type OptionalPluginArgs,
  type OptionalPluginName,
  optionalPluginNames,
  type Profile,
  type ProfileConfig,
  profileOf,
  wakingEvents,
} from "./profile.js";
export { maxScoreWeight, parseProfileConfig } from "./profile-config.js";
export { podNonZeroRequests, podRequests, Resources } from "./resources/resources.js";
export { Statement } from "./statement.js";
export { trialPlacement } from "./trial-placement.js";
