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
  KubeApiError,
  KubeClient,
  type KubeClientOptions,
  RequestWithheld,
} from "./kube-client.js";
