/** Thin Kubernetes adapters, shared by shards and the coordinator. */
export {
  coordinatorReportingController,
  EventRecorder,
  type EventType,
  schedulerReportingController,
} from "./event-recorder.js";
export { Informer, type ListMode } from "./informer.js";
export {
  exactCount,
  InvalidObjects,
  invalid,
  isDnsSubdomain,
  type Parsed,
  parsed,
  quoted,
} from "./invalid-objects.js";
export {
  apiError,
  isDisruptionBudgetRefusal,
  KubeApiError,
  KubeClient,
  type KubeClientOptions,
  type RequestObserver,
  RequestWithheld,
} from "./kube-client.js";
export { restClientMetrics } from "./rest-client-metrics.js";
export { schedulerVersion, userAgent } from "./user-agent.js";
