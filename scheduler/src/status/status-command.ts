/**
 * `sharded-scheduler status [flags]`: what an operator looks at first during an incident. Reads
 * the cluster the kubeconfig points to (read-only), prints the report as a table or, with
 * --json, as one JSON object. Credentials are found as kubectl finds them (config/kubeconfig.ts).
 * Any failure is one line on stderr: exit code 2 for a bad command line (an unknown flag, a bad
 * value, an unknown context), 1 for anything else. With --check, an unhealthy ring
 * (ring-health.ts) exits 1 too: each problem a line on stderr, after the report.
 */
import { homedir } from "node:os";
import { loadKubeConfig, replicaSettingTable } from "../config/entry-point.js";
import { ConfigError, FlagReader, failureReport, type Setting, usage } from "../config/flags.js";
import { KubeApiError, KubeClient } from "../kube/kube-client.js";
import { userAgent } from "../kube/user-agent.js";
import { statusReport } from "./cluster-status.js";
import { ringProblems } from "./ring-health.js";
import { readStatusSnapshot } from "./status-reader.js";
import { defaultRenderOptions, renderStatus } from "./status-table.js";

const settings = {
  kubeconfig: replicaSettingTable.kubeconfig,
  context: replicaSettingTable.context,
  namespace: {
    flag: "namespace",
    env: "POD_NAMESPACE",
    help: "namespace of the shard Leases and the coordinator's Lease",
    fallback: () => "default",
  },
  schedulerName: {
    flag: "scheduler-name",
    env: "SCHEDULER_NAME",
    help: "the scheduler whose shards to show",
    fallback: () => "sharded-scheduler",
  },
  limit: {
    flag: "limit",
    env: "STATUS_LIMIT",
    help: "rows of recent handoffs and lends, and of pending groups",
    fallback: () => "10",
  },
  expectCoordinator: {
    flag: "expect-coordinator",
    env: "STATUS_EXPECT_COORDINATOR",
    help: "with --check: a coordinator leader is required",
    fallback: () => "true",
  },
} satisfies Record<string, Setting>;

export interface StatusOptions {
  kubeconfig: string | undefined;
  context: string | undefined;
  namespace: string;
  schedulerName: string;
  limit: number;
  json: boolean;
  /** Exit 1 when the ring is unhealthy (ring-health.ts). */
  check: boolean;
  expectCoordinator: boolean;
}

export function statusUsage(): string {
  return [
    "usage: sharded-scheduler status [flags]",
    "",
    "The shards (Lease, ring epoch, owned nodes, pending groups), the coordinator leader and the",
    "recent handoffs and lends of one scheduler, read-only. Ages use this machine's clock.",
    "",
    usage(settings),
    `  --${"json".padEnd(30)} ${"".padEnd(30)} print one JSON object instead of tables`,
    `  --${"check".padEnd(30)} ${"".padEnd(30)} exit 1 when the ring is unhealthy: no ring, a member lagging its epoch`,
    `    ${"".padEnd(30)} ${"".padEnd(30)} or without a live Lease, no coordinator leader (each problem on stderr)`,
    "",
  ].join("\n");
}

export function loadStatusOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): StatusOptions {
  const flags = new FlagReader(
    settings,
    argv.filter((arg) => arg !== "--json" && arg !== "--check"),
    env,
  );
  return {
    kubeconfig: flags.string("kubeconfig") || undefined,
    context: flags.string("context") || undefined,
    namespace: flags.string("namespace"),
    schedulerName: flags.string("schedulerName"),
    limit: flags.int("limit", 1, 1000),
    json: argv.includes("--json"),
    check: argv.includes("--check"),
    expectCoordinator: flags.bool("expectCoordinator"),
  };
}

interface Output {
  write(text: string): unknown;
  /** A terminal gets messages clipped to a line; a pipe or file gets them whole. */
  readonly isTTY?: boolean;
}

/** Runs the command; resolves with the exit code. */
export async function runStatusCommand(
  argv: string[],
  out: Output = process.stdout,
  err: Output = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    out.write(statusUsage());
    return 0;
  }
  let server = "";
  try {
    const options = loadStatusOptions(argv, env);
    const kubeConfig = loadKubeConfig(options, { env, home: env.HOME ?? homedir() });
    const client = await KubeClient.create(kubeConfig, {
      userAgent: userAgent("status"),
      qps: 50,
      burst: 50,
      maxSockets: 8,
      timeoutMs: 10_000,
      throttleWaitMs: 10_000,
    });
    server = kubeConfig.cluster.server;
    const snapshot = await readStatusSnapshot(client, options).finally(() => client.close());
    const report = statusReport(snapshot, Date.now(), { recentEvents: options.limit });
    if (report.shards.length === 0)
      throw new NothingToShow(
        `no shards found for scheduler ${options.schedulerName} in namespace ${options.namespace}`,
      );
    out.write(
      options.json
        ? `${JSON.stringify(report, null, 2)}\n`
        : renderStatus(report, {
            pendingGroups: options.limit,
            messageWidth: out.isTTY ? defaultRenderOptions.messageWidth : Number.POSITIVE_INFINITY,
          }),
    );
    if (!options.check) return 0;
    const problems = ringProblems(report, options);
    for (const problem of problems) err.write(`sharded-scheduler status: unhealthy: ${problem}\n`);
    return problems.length > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      const { line, exitCode } = failureReport(program, error);
      err.write(`${line}\n`);
      return exitCode;
    }
    err.write(`${program}: ${failureLine(error, server)}\n`);
    return 1;
  }
}

const program = "sharded-scheduler status";

/** The command worked, and what it found is nothing to report: exit code 1, one line. */
class NothingToShow extends Error {}

/** One line, no stack: what failed and, for a transport error, which server. */
function failureLine(error: unknown, server: string): string {
  let message: string;
  if (error instanceof NothingToShow) message = error.message;
  else if (error instanceof KubeApiError) message = `the API server refused: ${error.message}`;
  else if (server) message = `cannot reach the API server at ${server}: ${describe(error)}`;
  else message = describe(error);
  return message.replace(/\s*\n\s*/g, " ");
}

function describe(error: unknown): string {
  // Connecting to a name with several addresses fails with an AggregateError without a message.
  const first = error instanceof AggregateError ? (error.errors[0] ?? error) : error;
  if (!(first instanceof Error)) return String(first);
  const code = (first as NodeJS.ErrnoException).code;
  return first.message || code || first.name;
}
