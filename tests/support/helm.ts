/**
 * The Helm chart (charts/sharded-scheduler) against the cluster under test: helm and kubectl
 * with the test kubeconfig, rendered objects, and a kubeconfig that acts as one of the chart's
 * ServiceAccounts, so that the real shard and coordinator run with exactly the chart's RBAC.
 */
import { spawn } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type * as k8s from "@kubernetes/client-node";
import { inject } from "vitest";
import { stringify } from "yaml";
import { renderedObjects } from "../chart/template.js";
import { chartDir, toolPaths } from "../cluster/local/layout.js";
import { testKubeConfig } from "./kube.js";

export { chartDir };

/** A value set of the chart's ci/ folder (chart-testing's), by name: ci/<name>-values.yaml. */
export const ciValues = (name: string): string => join(chartDir, "ci", `${name}-values.yaml`);

/** Every value set of ci/, by name. */
export function ciValueSets(): string[] {
  return readdirSync(join(chartDir, "ci"))
    .filter((file) => file.endsWith("-values.yaml"))
    .map((file) => file.slice(0, -"-values.yaml".length))
    .sort();
}

/** A rendered Kubernetes object; objectsOf gives it its kind's type. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: k8s.V1ObjectMeta & { name: string };
}

/** The rendered objects of one kind, typed as the caller says that kind is. */
export function objectsOf<T>(objects: readonly KubeObject[], kind: string): T[] {
  return objects.filter((object) => object.kind === kind) as T[];
}

/** The one rendered object of a kind whose name ends with suffix ("" = any name). */
export function objectOf<T>(objects: readonly KubeObject[], kind: string, suffix = ""): T {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name.endsWith(suffix));
  if (found.length !== 1) throw new Error(`expected one ${kind} named *${suffix}, found ${found.length}`);
  return found[0] as T;
}

/** Runs a binary to completion; rejects with its stderr when it exits non-zero. */
function run(binary: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${binary} ${args.join(" ")} exited with ${code}:\n${stderr}${stdout}`));
    });
    child.stdin.end(input ?? "");
  });
}

export function helm(args: string[]): Promise<string> {
  return run(toolPaths().helm, [...args, "--kubeconfig", inject("kubeconfig")]);
}

export function kubectl(args: string[], input?: string): Promise<string> {
  return run(toolPaths().kubectl, ["--kubeconfig", inject("kubeconfig"), ...args], input);
}

export type ChartValues = Record<string, string | number | boolean>;

/** `--set key=value` for each value (lists as `{a,b}`), after `-f file` for each values file. */
export function setFlags(values: ChartValues, files: readonly string[] = []): string[] {
  return [
    ...files.flatMap((file) => ["-f", file]),
    ...Object.entries(values).flatMap(([key, value]) => ["--set", `${key}=${value}`]),
  ];
}

/** `helm template` of the chart into a namespace: the YAML and its objects. */
export async function renderChart(
  release: string,
  namespace: string,
  values: ChartValues,
  files: readonly string[] = [],
): Promise<{ yaml: string; objects: KubeObject[] }> {
  const yaml = await helm([
    "template",
    release,
    chartDir,
    "--namespace",
    namespace,
    ...setFlags(values, files),
  ]);
  return { yaml, objects: renderedObjects<KubeObject>(yaml) };
}

/** A bound token of a ServiceAccount, from the TokenRequest API (an hour). */
export async function serviceAccountToken(
  core: k8s.CoreV1Api,
  namespace: string,
  serviceAccount: string,
): Promise<string> {
  const request = await core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  if (!request.status?.token) throw new Error(`no token for ServiceAccount ${namespace}/${serviceAccount}`);
  return request.status.token;
}

/**
 * Writes into dir a kubeconfig acting as a ServiceAccount (a bound token from the TokenRequest
 * API) for the same API server as the test kubeconfig, and returns its path.
 */
export async function serviceAccountKubeconfig(
  core: k8s.CoreV1Api,
  namespace: string,
  serviceAccount: string,
  dir: string,
): Promise<string> {
  const token = await serviceAccountToken(core, namespace, serviceAccount);
  const cluster = testKubeConfig().getCurrentCluster();
  if (!cluster) throw new Error("no cluster");
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "test",
        cluster: {
          server: cluster.server,
          ...(cluster.caData ? { "certificate-authority-data": cluster.caData } : {}),
          ...(cluster.caFile ? { "certificate-authority": cluster.caFile } : {}),
        },
      },
    ],
    users: [{ name: serviceAccount, user: { token } }],
    contexts: [{ name: "test", context: { cluster: "test", user: serviceAccount, namespace } }],
    "current-context": "test",
  };
  const file = join(dir, `${serviceAccount}.kubeconfig`);
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}
