/**
 * The kind provider, for users who have Docker: a multi-node kind cluster from
 * kind-config.yaml with Redis as a pod. Our CI machines have no Docker engine, so this
 * path is kept small and is not run there.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const clusterName = "sharded-scheduler";

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: "inherit" });
  if (result.error) throw new Error(`${command}: ${result.error.message} (is it installed?)`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed`);
}

export async function kindUp(options: { stateDir: string; nodes: number }, log: (line: string) => void) {
  const docker = spawnSync("docker", ["info"], { stdio: "ignore" });
  if (docker.status !== 0) throw new Error("the kind provider needs a running Docker engine");
  mkdirSync(options.stateDir, { recursive: true });
  const kubeconfig = join(options.stateDir, "kubeconfig");
  log(`creating kind cluster "${clusterName}" from kind-config.yaml (--nodes is fixed by that file)`);
  run("kind", [
    "create",
    "cluster",
    "--name",
    clusterName,
    "--config",
    join(here, "kind-config.yaml"),
    "--kubeconfig",
    kubeconfig,
  ]);
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
