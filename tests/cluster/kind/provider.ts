/**
 * The kind provider, for users who have Docker: a multi-node kind cluster from
 * kind-config.yaml with Redis as a pod. Our CI machines have no Docker engine, so this
 * path is kept small and is not run there.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { enabledWorkloadGates, type WorkloadGates, workloadRuntimeConfig } from "../local/workload-gates.js";

const here = dirname(fileURLToPath(import.meta.url));
const clusterName = "sharded-scheduler";

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: "inherit" });
  if (result.error) throw new Error(`${command}: ${result.error.message} (is it installed?)`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed`);
}

export const kindConfigPath = join(here, "kind-config.yaml");

interface KindConfig {
  featureGates?: Record<string, boolean>;
  runtimeConfig?: Record<string, string>;
  [key: string]: unknown;
}

/** kind-config.yaml with the feature gates and runtime config of a workload gate level. */
export function kindConfigFor(level: WorkloadGates, text = readFileSync(kindConfigPath, "utf8")): KindConfig {
  const config = parse(text) as KindConfig;
  const { featureGates: _gates, runtimeConfig: _runtime, ...rest } = config;
  const gates = enabledWorkloadGates(level);
  if (gates.length === 0) return rest;
  return {
    ...rest,
    featureGates: Object.fromEntries(gates.map((gate) => [gate, true])),
    runtimeConfig: Object.fromEntries(workloadRuntimeConfig(level).map((version) => [version, "true"])),
  };
}

export async function kindUp(
  options: { stateDir: string; nodes: number; workloadGates: WorkloadGates },
  log: (line: string) => void,
) {
  const docker = spawnSync("docker", ["info"], { stdio: "ignore" });
  if (docker.status !== 0) throw new Error("the kind provider needs a running Docker engine");
  mkdirSync(options.stateDir, { recursive: true });
  const kubeconfig = join(options.stateDir, "kubeconfig");
  // The file holds the default (beta) gates; other levels get a derived copy in the state folder.
  const config = join(options.stateDir, "kind-config.yaml");
  writeFileSync(config, stringify(kindConfigFor(options.workloadGates)));
  log(
    `creating kind cluster "${clusterName}" from kind-config.yaml, workload gates ${options.workloadGates} (--nodes is fixed by that file)`,
  );
  run("kind", ["create", "cluster", "--name", clusterName, "--config", config, "--kubeconfig", kubeconfig]);
  run("kubectl", ["--kubeconfig", kubeconfig, "apply", "-f", join(here, "redis.yaml")]);
  run("kubectl", [
    "--kubeconfig",
    kubeconfig,
    "-n",
    "redis",
    "rollout",
    "status",
    "deploy/redis",
    "--timeout=180s",
  ]);
  writeFileSync(
    join(options.stateDir, "env"),
    `export KUBECONFIG=${kubeconfig}\nexport REDIS_URL=redis://redis.redis.svc:6379\n`,
  );
  log(`ready; source ${join(options.stateDir, "env")}`);
}

export async function kindDown(options: { stateDir: string }, log: (line: string) => void) {
  run("kind", ["delete", "cluster", "--name", clusterName]);
  rmSync(options.stateDir, { recursive: true, force: true });
  log("kind cluster deleted");
}
