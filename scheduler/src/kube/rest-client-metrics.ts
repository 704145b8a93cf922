/**
 * The REST client's request counters (client-go's rest_client_requests_total and
 * rest_client_request_retries_total, without the host label), fed by KubeClient's observer.
 * Shards and the coordinator register them in their own registry under the same names.
 */
import { Counter, type Registry } from "prom-client";
import type { RequestObserver } from "./kube-client.js";

const requestsName = "sharded_scheduler_rest_client_requests_total";
const retriesName = "sharded_scheduler_rest_client_request_retries_total";

/**
 * An observer counting into `registry`; every client of a process may take one (the counters
 * are registered once and shared).
 */
export function restClientMetrics(registry: Registry): RequestObserver {
  const requests = counter(
    registry,
    requestsName,
    'Requests sent to the API server, by HTTP status code ("<error>": no answer) and method; each retry counts.',
  );
  const retries = counter(
    registry,
    retriesName,
    "Requests sent to the API server again, by the code that made them retry (429: throttled by API Priority and Fairness; 401: credentials renewed) and method.",
  );
  return {
    requested: (method, code) => requests.inc({ code, method }),
    retried: (method, code) => retries.inc({ code, method }),
  };
}

function counter(registry: Registry, name: string, help: string): Counter<"code" | "method"> {
  const known = registry.getSingleMetric(name);
  if (known) return known as Counter<"code" | "method">;
  return new Counter({ name, help, labelNames: ["code", "method"] as const, registers: [registry] });
}
