/** Thin Kubernetes adapters, shared by shards and the coordinator. */
export { type Discovered, discoverResource } from "./discovery.js";
export { EventRecorder, type EventType } from "./event-recorder.js";
export { Informer, type ListMode } from "./informer.js";
export { InvalidObjects } from "./invalid-objects.js";
export {
  apiError,
  isDisruptionBudgetRefusal,
  KubeApiError,
  KubeClient,
  type KubeClientOptions,
  type RequestObserver,
  RequestWithheld,
} from "./kube-client.js";
export { PodGroupStatusWriter } from "./pod-group-status-writer.js";
export { restClientMetrics } from "./rest-client-metrics.js";
export { schedulerVersion, userAgent } from "./user-agent.js";
