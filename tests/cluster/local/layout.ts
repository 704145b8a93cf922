import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (three levels above this file). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const clusterToolDir = join(repoRoot, "tests/cluster");
/** The Helm chart. */
export const chartDir = join(repoRoot, "charts/sharded-scheduler");

/** Versions of the control-plane components, from tests/cluster/versions.env. */
export interface ToolVersions {
  K8S_VERSION: string;
  ETCD_VERSION: string;
  KWOK_VERSION: string;
  HELM_VERSION: string;
  HELM_DOCS_VERSION: string;
  PROMETHEUS_VERSION: string;
}

export function readToolVersions(): ToolVersions {
  const text = readFileSync(join(clusterToolDir, "versions.env"), "utf8");
  const entries = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => line.split("=", 2) as [string, string]);
  return Object.fromEntries(entries) as unknown as ToolVersions;
}

export function cacheDir(): string {
  return process.env.SHARDED_SCHEDULER_CACHE ?? join(homedir(), ".cache/sharded-scheduler");
}

/** Where each binary lives once tests/cluster/build-tools.sh has built it. */
export interface ToolPaths {
  binDirs: string[];
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  etcd: string;
  kwok: string;
  helm: string;
  /** Generates the chart's README from values.yaml. */
  helmDocs: string;
  /** Checks and unit-tests the chart's alerts. */
  promtool: string;
  /** Our own benchmark helper (tests/bench/noop-binder), keyed by a hash of its source. */
  noopBinder: string;
  redisServer: string;
}

/** The same key build-tools.sh computes: sha256 of main.go, go.mod and go.sum, 12 hex digits. */
function noopBinderKey(): string {
  const dir = join(repoRoot, "tests/bench/noop-binder");
  const hash = createHash("sha256");
  for (const file of ["main.go", "go.mod", "go.sum"]) hash.update(readFileSync(join(dir, file)));
  return hash.digest("hex").slice(0, 12);
}

export function toolPaths(versions = readToolVersions()): ToolPaths {
  const tools = join(cacheDir(), "tools");
  const k8s = join(tools, `kubernetes-${versions.K8S_VERSION}`, "bin");
  const etcd = join(tools, `etcd-${versions.ETCD_VERSION}`, "bin");
  const kwok = join(tools, `kwok-${versions.KWOK_VERSION}`, "bin");
  const helm = join(tools, `helm-${versions.HELM_VERSION}`, "bin");
  const helmDocs = join(tools, `helm-docs-${versions.HELM_DOCS_VERSION}`, "bin", "helm-docs");
  return {
    binDirs: [k8s, etcd, kwok, helm],
    kubeApiserver: join(k8s, "kube-apiserver"),
    kubeControllerManager: join(k8s, "kube-controller-manager"),
    kubeScheduler: join(k8s, "kube-scheduler"),
    kubectl: join(k8s, "kubectl"),
    etcd: join(etcd, "etcd"),
    kwok: join(kwok, "kwok"),
    helm: join(helm, "helm"),
    helmDocs,
    promtool: join(tools, `promtool-${versions.PROMETHEUS_VERSION}`, "bin", "promtool"),
    noopBinder: join(tools, `noop-binder-${noopBinderKey()}`, "bin", "noop-binder"),
    redisServer: findOnPath("redis-server") ?? "/usr/bin/redis-server",
  };
}

function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const candidate = join(dir, binary);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Default state folder of `npm run cluster`; tests use their own. */
export function defaultStateDir(): string {
  return process.env.SHARDED_SCHEDULER_CLUSTER_DIR ?? join(repoRoot, ".cluster");
}
