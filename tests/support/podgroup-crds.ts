/**
 * The PodGroup CRDs users already run (scheduler-plugins' coscheduling and Volcano), vendored in
 * tests/fixtures/crds/, installed into a test cluster when absent and removed by whoever installed them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { parse } from "yaml";
import { repoRoot } from "../cluster/local/layout.js";
import { statusOf } from "./api-errors.js";
import { waitFor } from "./wait.js";

export interface PodGroupCrd {
  /** The CRD's name: <plural>.<group>. */
  name: string;
  group: string;
  version: string;
  plural: string;
  file: string;
}

const fixture = (file: string) => join(repoRoot, "tests/fixtures/crds", file);

export const schedulerPluginsPodGroupCrd: PodGroupCrd = {
  name: "podgroups.scheduling.x-k8s.io",
  group: "scheduling.x-k8s.io",
  version: "v1alpha1",
  plural: "podgroups",
  file: fixture("scheduling.x-k8s.io_podgroups.yaml"),
};

export const volcanoPodGroupCrd: PodGroupCrd = {
  name: "podgroups.scheduling.volcano.sh",
  group: "scheduling.volcano.sh",
  version: "v1beta1",
  plural: "podgroups",
  file: fixture("scheduling.volcano.sh_podgroups.yaml"),
};

export const podGroupCrds = [schedulerPluginsPodGroupCrd, volcanoPodGroupCrd];

const established = (crd: k8s.V1CustomResourceDefinition) =>
  crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ?? false;

/**
 * Creates each CRD that is missing and waits until its objects can be created (Established and
 * served). Returns the names of the CRDs it created, for uninstallCrds.
 */
export async function installCrds(kc: k8s.KubeConfig, crds: PodGroupCrd[] = podGroupCrds): Promise<string[]> {
  const extensions = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const objects = kc.makeApiClient(k8s.CustomObjectsApi);
  const created: string[] = [];
  for (const crd of crds) {
    const body = parse(readFileSync(crd.file, "utf8")) as k8s.V1CustomResourceDefinition;
    if (body.metadata?.name !== crd.name)
      throw new Error(`${crd.file} defines ${body.metadata?.name}, not ${crd.name}`);
    try {
      await extensions.createCustomResourceDefinition({ body });
      created.push(crd.name);
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
    }
  }
  for (const crd of crds) {
    await waitFor(
      `CRD ${crd.name} Established and served`,
      async () => {
        if (!established(await extensions.readCustomResourceDefinition({ name: crd.name }))) return undefined;
        // Established comes a moment before the API server routes the new resource.
        await objects.listClusterCustomObject({ group: crd.group, version: crd.version, plural: crd.plural });
        return true;
      },
      30_000,
    );
  }
  return created;
}

/** Deletes the named CRDs (and with them every object of theirs) and waits until they are gone. */
export async function uninstallCrds(kc: k8s.KubeConfig, names: string[]): Promise<void> {
  const extensions = kc.makeApiClient(k8s.ApiextensionsV1Api);
  for (const name of names) {
    await extensions.deleteCustomResourceDefinition({ name }).catch((error: unknown) => {
      if (statusOf(error) !== 404) throw error;
    });
  }
  for (const name of names) {
    await waitFor(
      `CRD ${name} deleted`,
      async () =>
        extensions.readCustomResourceDefinition({ name }).then(
          () => undefined,
          (error: unknown) => (statusOf(error) === 404 ? true : undefined),
        ),
      60_000,
    );
  }
}
