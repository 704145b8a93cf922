/**
 * Gangs: a pod group's identity, where it comes from (GroupSource), the PendingGroup the core
 * places, its lifecycle (readiness, settle window, started, succeeded members, partial gangs and
 * their rollback) and which shard schedules it. Pure: no I/O, no clock it was not given.
 */
export { crdGroupSource, crdPodGroupNotFoundMessage } from "./crd-group-source.js";
export {
  type CoschedulingPhase,
  type CoschedulingStatus,
  type CrdApi,
  type CrdGroupTerms,
  coschedulingApi,
  coschedulingPodGroupLabel,
  coschedulingStatus,
  coschedulingStatusUpdate,
  type MemberCounts,
  minResourcesGap,
  type ParsedCrdPodGroup,
  parseCrdPodGroup,
  volcanoApi,
  volcanoGroupNameAnnotation,
  volcanoGroupPriority,
} from "./crd-pod-group.js";
export {
  type ControllerRef,
  controllerOf,
  crdPodGroupKey,
  type GroupKey,
  groupKey,
  hashedByConstraints,
  hashedByController,
  podGroupKey,
} from "./group-key.js";
export {
  annotationGroupSource,
  basicTopologyMessage,
  type DisruptionMode,
  type GroupMembership,
  type GroupObjects,
  type GroupSource,
  maxGroupNameLength,
  missingPodGroupMessage,
  noGroupObjects,
  type PodGroupMembership,
  podGroupMembership,
  podGroupSource,
} from "./group-source.js";
export {
  agreedMinMember,
  declaredMinMembers,
  type GangState,
  type GangTimeout,
  gangTimeout,
  groupProblem,
  groupReadiness,
  groupStarted,
  partialGang,
  type Readiness,
  type RollbackPlan,
  rollbackPlan,
} from "./lifecycle.js";
export { groupOwner, groupPin } from "./owner.js";
export {
  type PendingGroup,
  pendingGroup,
  priorityDisagreement,
  queueOrder,
  type ToldTerms,
} from "./pending-group.js";
export {
  initiallyScheduledCondition,
  initiallyScheduledUpdate,
  type ParsedPodGroup,
  type PodGroupCondition,
  type PodGroupObject,
  type PodGroupTerms,
  parsePodGroup,
  podGroupNameOf,
} from "./pod-group.js";
export {
  GroupRouter,
  namedNodes,
  type RoutingRing,
  routeGroup,
  staticallyFeasible,
} from "./routing.js";
export {
  domainWord,
  groupTopology,
  isLabelKey,
  type TopologyConstraint,
  topologyDisagreement,
  topologyOfAnnotations,
  topologyText,
} from "./topology.js";
