import * as k8s from "@kubernetes/client-node";
import { inject } from "vitest";
import { waitFor } from "./wait.js";

export { statusOf } from "./api-errors.js";
export { schedulerKubeConfig } from "./scheduler-kube-config.js";

/** Clients for the cluster under test, built from the kubeconfig the global setup provided. */
export function testKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(inject("kubeconfig"));
  return kc;
}

export function testClients(kc = testKubeConfig()) {
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
  };
}

/**
 * A fresh namespace per test file, deleted afterwards, so tests never see each other's pods.
 * Returned once its default ServiceAccount exists: the ServiceAccount admission plugin refuses
 * pods until then (the controller-manager creates it, later on a loaded machine).
 */
export async function createTestNamespace(core: k8s.CoreV1Api, prefix: string): Promise<string> {
  const ns = await core.createNamespace({ body: { metadata: { generateName: `${prefix}-` } } });
  const name = ns.metadata?.name;
  if (!name) throw new Error("namespace without a name");
  await waitFor(
    `the default ServiceAccount of ${name}`,
    async () => core.readNamespacedServiceAccount({ name: "default", namespace: name }).then(() => true),
    60_000,
  );
  return name;
}

export async function deleteNamespace(core: k8s.CoreV1Api, name: string): Promise<void> {
  await core.deleteNamespace({ name }).catch(() => undefined);
}
