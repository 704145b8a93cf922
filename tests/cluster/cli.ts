/**
 * npm run cluster -- up|down|status [options]
 * A real local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler, KWOK fake nodes) and Redis, on loopback, without Docker.
 */
import { ConfigError, failureReport, parseFlags } from "../../scheduler/src/config/flags.js";
import { kindDown, kindUp } from "./kind/provider.js";
import { defaultStateDir } from "./local/layout.js";
import { defaultClusterOptions, down, recordedWorkloadGates, status, up } from "./local/local-cluster.js";
import { alphaWorkloadGates, type WorkloadGates, workloadGateLevels } from "./local/workload-gates.js";

const usage = `usage: npm run cluster -- <up|down|status> [options]

  up        start the cluster and wait until it is ready (a running healthy cluster is left as it is)
  down      stop exactly the processes 'up' started and remove the state folder
  status    report what runs

options for up:
  --nodes N            fake nodes (default ${defaultClusterOptions.nodes})
  --node-cpu Q         allocatable cpu per node (default ${defaultClusterOptions.nodeCpu})
  --node-memory Q      allocatable memory per node (default ${defaultClusterOptions.nodeMemory})
  --node-pods N        allocatable pods per node (default ${defaultClusterOptions.nodePods})
  --node-gpus N        allocatable nvidia.com/gpu per node (default 0)
  --zones N            label nodes topology.kubernetes.io/zone=zone-a, zone-b, … round-robin (default 0)
  --racks N            label consecutive nodes topology.kubernetes.io/rack=rack-0, rack-1, … (default 0)
  --no-kube-scheduler  leave the default kube-scheduler out
  --workload-gates L   the Workload API (scheduling.k8s.io/v1beta1 PodGroups) on every component:
                       beta (default: GenericWorkload), alpha (also ${alphaWorkloadGates.join(", ")})
                       or off; a running cluster with other gates is refused, not reused
  --provider P         local (default) or kind (needs Docker)
  --dir D              state folder (default .cluster)
`;

function positiveInt(name: string, value: string | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < (allowZero ? 0 : 1)) {
    throw new ConfigError(
      `--${name} must be a ${allowZero ? "non-negative" : "positive"} integer, got "${value}"`,
    );
  }
  return parsed;
}

async function main(): Promise<void> {
  const { positionals, values } = parseFlags(
    process.argv.slice(2),
    {
      nodes: { type: "string" },
      "node-cpu": { type: "string" },
      "node-memory": { type: "string" },
      "node-pods": { type: "string" },
      "node-gpus": { type: "string" },
      zones: { type: "string" },
      racks: { type: "string" },
      "no-kube-scheduler": { type: "boolean", default: false },
      "workload-gates": { type: "string" },
      provider: { type: "string", default: "local" },
      dir: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    true,
  );
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(usage);
    process.exitCode = command || values.help ? 0 : 2;
    return;
  }
  const stateDir = values.dir ?? defaultStateDir();
  const log = (line: string) => process.stdout.write(`${line}\n`);
  if (values.provider !== "local" && values.provider !== "kind") {
    throw new ConfigError(`--provider must be local or kind, got "${values.provider}"`);
  }
  const nodes = positiveInt("nodes", values.nodes, defaultClusterOptions.nodes);
  const workloadGates = values["workload-gates"] ?? defaultClusterOptions.workloadGates;
  if (!(workloadGateLevels as readonly string[]).includes(workloadGates)) {
    throw new ConfigError(
      `--workload-gates must be one of ${workloadGateLevels.join(", ")}, got "${workloadGates}"`,
    );
  }

  switch (command) {
    case "up": {
      if (values.provider === "kind") {
        await kindUp({ stateDir, nodes, workloadGates: workloadGates as WorkloadGates }, log);
        return;
      }
      await up(
        {
          stateDir,
          nodes,
          nodeCpu: values["node-cpu"] ?? defaultClusterOptions.nodeCpu,
          nodeMemory: values["node-memory"] ?? defaultClusterOptions.nodeMemory,
          nodePods: positiveInt("node-pods", values["node-pods"], defaultClusterOptions.nodePods),
          nodeGpus: positiveInt("node-gpus", values["node-gpus"], 0, true),
          zones: positiveInt("zones", values.zones, 0, true),
          racks: positiveInt("racks", values.racks, 0, true),
          kubeScheduler: !values["no-kube-scheduler"],
          workloadGates: workloadGates as WorkloadGates,
        },
        log,
      );
      return;
    }
    case "down":
      if (values.provider === "kind") await kindDown({ stateDir }, log);
      else await down(stateDir, log);
      return;
    case "status": {
      const report = await status(stateDir);
      if (values.json) {
        log(JSON.stringify({ ...report, state: undefined }));
      } else if (!report.state) {
        log(`no cluster in ${stateDir}`);
      } else {
        log(`cluster in ${stateDir}: ${report.healthy ? "healthy" : "NOT healthy"}`);
        log(`  api server ${report.state.server}: ${report.apiserverReady ? "ready" : "not ready"}`);
        if (report.readyNodes !== undefined)
          log(`  nodes Ready: ${report.readyNodes}/${report.state.options.nodes}`);
        log(`  workload gates: ${recordedWorkloadGates(report.state)}`);
        log(`  redis ${report.state.redisUrl}`);
        for (const proc of report.processes) {
          log(
            `  ${proc.name.padEnd(24)} pid ${String(proc.pid).padEnd(8)} ${proc.running ? "running" : "EXITED"}`,
          );
        }
      }
      process.exitCode = report.healthy ? 0 : 1;
      return;
    }
    default:
      throw new ConfigError(`unknown command "${command}"`);
  }
}

main().catch((error: unknown) => {
  const { line, exitCode } = failureReport("cluster", error, { help: "npm run cluster -- --help" });
  process.stderr.write(`${line}\n`);
  process.exitCode = exitCode;
});
