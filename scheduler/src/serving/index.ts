/** Serving /metrics and the probes (see servers.ts), shared by the shard and the coordinator. */
import type { KubeConfig } from "../config/kubeconfig.js";
import { KubeClient, type KubeClientOptions } from "../kube/kube-client.js";
import { KubeAccessReviewer } from "./access-reviews.js";
import { type Serving, type ServingDeps, startServing } from "./servers.js";
import type { ServingConfig } from "./serving-config.js";

export * from "./metrics-access.js";
export * from "./self-signed-cert.js";
export * from "./servers.js";
export * from "./serving-config.js";

/**
 * startServing with the reviews sent by a client of their own: its small rate limit bounds what
 * a flood of made-up tokens can cost the API server, and scrapes never wait behind binds.
 */
export async function startServingWithReviews(
  config: ServingConfig,
  kubeConfig: KubeConfig,
  deps: Omit<ServingDeps, "reviewer">,
  client: Partial<Pick<KubeClientOptions, "userAgent" | "observer">> = {},
): Promise<Serving> {
  if (config.metricsAuth !== "rbac") return startServing(config, deps);
  const reviewClient = await KubeClient.create(kubeConfig, {
    ...client,
    qps: 20,
    burst: 40,
    maxSockets: 4,
    timeoutMs: 10_000,
    // A review answered after the scrape gave up is of no use.
    throttleWaitMs: 10_000,
  });
  const serving = await startServing(config, {
    ...deps,
    reviewer: new KubeAccessReviewer(reviewClient),
  }).catch((error: unknown) => {
    reviewClient.close();
    throw error;
  });
  return {
    ...serving,
    close: () => {
      serving.close();
      reviewClient.close();
    },
  };
}
