/**
 * npm run stack -- up | scale | kill | down | status
 * Runs scheduler shards as local processes against the cluster in .cluster/ (npm run cluster).
 */
import { parseArgs } from "node:util";
import { defaultStateDir } from "../cluster/local/layout.js";
import { type ProcessStatus, processStatus } from "../cluster/local/processes.js";
import {
  buildScheduler,
  type KillSignal,
  killSignals,
  readStack,
  stackDown,
  stackKill,
  stackScale,
  stackUp,
} from "./stack.js";

const usage = `usage: npm run stack -- <command> [options] [--dir D] [-- shard flags…]

  up [--shards S] [--no-coordinator]
          start the shards sharded-scheduler-0 … S-1 that are not running (default S=1) and
          wait until each is ready. The coordinator does not exist yet: once it does, up will
          start it too unless --no-coordinator is given; today the flag is accepted and does nothing.
  scale --shards S
          like scaling a StatefulSet: stop shards S and above, highest first, each gracefully
          (SIGTERM: it releases its lease) and gone before the next; start missing 0 … S-1. S may be 0.
  kill --shard I [--signal KILL|STOP|CONT]
          signal shard I (default KILL) and check that it took effect: KILL – the process is gone
          and leaves the stack (up or scale starts it again); STOP – frozen (/proc state T);
          CONT – running again
  down    stop every shard this stack started
  status  each shard's PID, metrics port, state (running, stopped (T), exited) and log

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
    throw new Error(`--${flag} must be an integer ≥ ${min}, got "${value ?? ""}"`);
  return parsed;
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      shards: { type: "string" },
      shard: { type: "string" },
      signal: { type: "string", default: "KILL" },
      "no-coordinator": { type: "boolean", default: false },
      dir: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command, ...shardArgs] = positionals;
  const clusterDir = values.dir ?? defaultStateDir();
  const log = (line: string) => process.stdout.write(`${line}\n`);
  switch (command) {
    case "up":
      buildScheduler();
      await stackUp({ clusterDir, shards: wholeNumber("shards", values.shards ?? "1", 1), shardArgs, log });
      return;
    case "scale":
      buildScheduler();
      await stackScale({ clusterDir, shards: wholeNumber("shards", values.shards, 0), shardArgs, log });
      return;
    case "kill": {
      const sig = values.signal.toUpperCase().replace(/^SIG/, "") as KillSignal;
      if (!killSignals.includes(sig))
        throw new Error(`--signal must be one of ${killSignals.join(", ")}, got "${values.signal}"`);
      const result = await stackKill(clusterDir, wholeNumber("shard", values.shard, 0), sig);
      log(`${result.identity} (pid ${result.pid}): SIG${result.signal} → ${statusLabel[result.status]}`);
      return;
    }
    case "down":
      await stackDown(clusterDir, log);
      log("stack stopped");
      return;
    case "status": {
      const state = readStack(clusterDir);
      if (!state || state.shards.length === 0) {
        log("no shards running");
        return;
      }
      for (const shard of state.shards) {
        log(
          `${shard.identity.padEnd(22)} pid ${String(shard.pid).padEnd(8)} port ${shard.port}  ${statusLabel[processStatus(shard)].padEnd(11)}  log ${shard.log}`,
        );
      }
      return;
    }
    default:
      process.stdout.write(usage);
      process.exitCode = values.help ? 0 : 2;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`stack: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
