/**
 * npm run stack -- up --shards S | down | status
 * Runs scheduler shards as local processes against the cluster in .cluster/ (npm run cluster).
 */
import { parseArgs } from "node:util";
import { defaultStateDir } from "../cluster/local/layout.js";
import { isRunning } from "../cluster/local/processes.js";
import { buildScheduler, readStack, stackDown, stackUp } from "./stack.js";

const usage = `usage: npm run stack -- <up|down|status> [--shards S] [--dir D] [-- shard flags…]

  up      start shards sharded-scheduler-0 … S-1 against the cluster (default S=1) and wait until ready
  down    stop every shard this stack started
  status  list the shards, their PIDs and metrics ports
`;

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      shards: { type: "string", default: "1" },
      dir: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command, ...shardArgs] = positionals;
  const clusterDir = values.dir ?? defaultStateDir();
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const shards = Number(values.shards);
  if (!Number.isInteger(shards) || shards < 1)
    throw new Error(`--shards must be a positive integer, got "${values.shards}"`);
  switch (command) {
    case "up":
      buildScheduler();
      await stackUp({ clusterDir, shards, shardArgs, log });
      return;
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
          `${shard.identity.padEnd(22)} pid ${String(shard.pid).padEnd(8)} port ${shard.port}  ${isRunning(shard) ? "running" : "EXITED"}  log ${shard.log}`,
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
