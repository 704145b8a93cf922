/**
 * npm run stack -- up | scale | kill | down | status
 * Runs scheduler shards and coordinator replicas as local processes against the cluster in
 * .cluster/ (npm run cluster).
 */
import { ConfigError, failureReport, parseFlags } from "../../scheduler/src/config/flags.js";
import { defaultStateDir } from "../cluster/local/layout.js";
import { type ProcessStatus, processStatus } from "../cluster/local/processes.js";
import {
  buildScheduler,
  coordinatorRole,
  type KillSignal,
  type KillTarget,
  killSignals,
  readStack,
  type StackProcess,
  stackDown,
  stackKill,
  stackScale,
  stackUp,
} from "./stack.js";

const usage = `usage: npm run stack -- <command> [options] [--dir D] [-- shard flags…]

  up [--shards S] [--no-coordinator]
          start the shards sharded-scheduler-0 … S-1 (default S=1) and the coordinator replicas
          sharded-scheduler-coordinator-0 and -1 that are not running, and wait until each is
          ready; every one gets the cluster's Redis (--redis-url). --no-coordinator: shards only
  scale --shards S
          like scaling a StatefulSet: stop shards S and above, highest first, each gracefully
          (SIGTERM: it releases its lease) and gone before the next; start missing 0 … S-1. S may be 0.
          Coordinators are left as they are
  kill --shard I | --coordinator leader|0|1 [--signal KILL|STOP|CONT]
          signal shard I, coordinator replica 0 or 1, or the coordinator that leads now (default
          signal KILL) and check that it took effect: KILL – the process is gone and leaves the stack (up starts it
          again); STOP – frozen (/proc state T); CONT – running again (name a frozen coordinator
          by its ordinal: it no longer leads)
  down    stop every coordinator and shard this stack started
  status  each process's PID, metrics port, state (running, stopped (T), exited), a coordinator's
          role (leader, standby, unknown) and log

  --dir D         the cluster's state folder (default .cluster); the stack lives in D/stack/
  -- shard flags  passed to every shard that up or scale starts
`;

const statusLabel: Record<ProcessStatus, string> = {
  running: "running",
  stopped: "stopped (T)",
  exited: "exited",
};

function wholeNumber(flag: string, value: string | undefined, min: number): number {
  const parsed = Number(value);
  if (value === undefined || value === "" || !Number.isInteger(parsed) || parsed < min)
    throw new ConfigError(`--${flag} must be an integer ≥ ${min}, got "${value ?? ""}"`);
  return parsed;
}

function killTarget(shard: string | undefined, coordinator: string | undefined): KillTarget {
  if ((shard === undefined) === (coordinator === undefined))
    throw new ConfigError("kill needs either --shard I or --coordinator leader|0|1");
  if (shard !== undefined) return { shard: wholeNumber("shard", shard, 0) };
  return { coordinator: coordinator === "leader" ? "leader" : wholeNumber("coordinator", coordinator, 0) };
}

async function main(): Promise<void> {
  const { positionals, values } = parseFlags(
    process.argv.slice(2),
    {
      shards: { type: "string" },
      shard: { type: "string" },
      coordinator: { type: "string" },
      signal: { type: "string", default: "KILL" },
      "no-coordinator": { type: "boolean", default: false },
      dir: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    true,
  );
  const [command, ...shardArgs] = positionals;
  const clusterDir = values.dir ?? defaultStateDir();
  const log = (line: string) => process.stdout.write(`${line}\n`);
  switch (command) {
    case "up": {
      // The command line is checked before anything is built or started.
      const shards = wholeNumber("shards", values.shards ?? "1", 1);
      buildScheduler();
      await stackUp({
        clusterDir,
        shards,
        shardArgs,
        coordinator: !values["no-coordinator"],
        log,
      });
      return;
    }
    case "scale": {
      const shards = wholeNumber("shards", values.shards, 0);
      buildScheduler();
      await stackScale({ clusterDir, shards, shardArgs, log });
      return;
    }
    case "kill": {
      const sig = values.signal.toUpperCase().replace(/^SIG/, "") as KillSignal;
      if (!killSignals.includes(sig))
        throw new ConfigError(`--signal must be one of ${killSignals.join(", ")}, got "${values.signal}"`);
      const result = await stackKill(clusterDir, killTarget(values.shard, values.coordinator), sig);
      log(`${result.identity} (pid ${result.pid}): SIG${result.signal} → ${statusLabel[result.status]}`);
      return;
    }
    case "down":
      await stackDown(clusterDir, log);
      log("stack stopped");
      return;
    case "status": {
      const state = readStack(clusterDir);
      if (!state || state.shards.length + state.coordinators.length === 0) {
        log("no shards or coordinators running");
        return;
      }
      const line = (member: StackProcess, role = "") =>
        log(
          `${member.identity.padEnd(32)} pid ${String(member.pid).padEnd(8)} port ${member.port}  ${statusLabel[processStatus(member)].padEnd(11)}  ${role.padEnd(7)}  log ${member.log}`,
        );
      for (const shard of state.shards) line(shard);
      for (const coordinator of state.coordinators) line(coordinator, await coordinatorRole(coordinator));
      return;
    }
    case undefined:
      process.stdout.write(usage);
      process.exitCode = values.help ? 0 : 2;
      return;
    default:
      if (values.help) {
        process.stdout.write(usage);
        return;
      }
      throw new ConfigError(`unknown command "${command}"`);
  }
}

main().catch((error: unknown) => {
  const { line, exitCode } = failureReport("stack", error, { help: "npm run stack -- --help" });
  process.stderr.write(`${line}\n`);
  process.exitCode = exitCode;
});
