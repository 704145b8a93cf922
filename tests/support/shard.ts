/**
 * Runs the real scheduler shard (node scheduler/dist/cli.js) against the cluster under test,
 * and reads its /metrics. Build the scheduler first (the global setup does).
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { tail } from "../cluster/local/local-cluster.js";
import {
  freeLoopbackPort,
  isRunning,
  signalAndConfirm,
  startProcess,
  stopProcess,
} from "../cluster/local/processes.js";
import { shardEntry } from "../stack/stack.js";
import { waitFor } from "./wait.js";

export interface ShardOptions {
  schedulerName: string;
  /** Replica identity (default <schedulerName>-0). */
  identity?: string;
  /** Extra flags; a flag given here overrides the defaults below (the last one wins). */
  args?: string[];
}

export interface RunningShard {
  readonly schedulerName: string;
  readonly identity: string;
  readonly pid: number;
  readonly port: number;
  /** Path of the shard's log file (pino JSON lines). */
  readonly log: string;
  stop(): Promise<void>;
  running(): boolean;
  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT) and waits until it took effect. */
  signal(signal: "SIGKILL" | "SIGSTOP" | "SIGCONT"): Promise<void>;
  /** GET a path of the shard's HTTP server (/healthz, /readyz, /metrics). */
  get(path: string): Promise<{ status: number; body: string }>;
  metrics(): Promise<string>;
  /** The last lines of the log, for failure reports. */
  tail(lines?: number): string;
}

function logDir(): string {
  const clusterDir = inject("clusterDir");
  const dir = clusterDir ? join(clusterDir, "logs") : join(tmpdir(), "sharded-scheduler-tests");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Starts a shard process and waits until /readyz answers 200 (its caches synced). */
export async function startShard({
  schedulerName,
  identity = `${schedulerName}-0`,
  args = [],
}: ShardOptions): Promise<RunningShard> {
  const port = await freeLoopbackPort();
  const log = join(logDir(), `shard-${schedulerName}-${port}.log`);
  const proc = startProcess(
    `shard ${schedulerName}`,
    process.execPath,
    [
      shardEntry,
      `--kubeconfig=${inject("kubeconfig")}`,
      `--scheduler-name=${schedulerName}`,
      `--port=${port}`,
      `--identity=${identity}`,
      "--settle-window-ms=500",
      ...args,
    ],
    log,
  );
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: await res.text() };
  };
  const shard: RunningShard = {
    schedulerName,
    identity,
    pid: proc.pid,
    port,
    log,
    stop: () => stopProcess(proc),
    running: () => isRunning(proc),
    signal: async (sig) => {
      await signalAndConfirm(proc, sig);
    },
    get,
    metrics: async () => (await get("/metrics")).body,
    tail: (lines = 40) => tail(log, lines),
  };
  try {
    await waitFor(
      `shard ${schedulerName} /readyz`,
      async () => {
        if (!isRunning(proc)) throw new Error(`the shard exited:\n${tail(log, 20)}`);
        return (await get("/readyz").catch(() => undefined))?.status === 200 ? true : undefined;
      },
      30_000,
      100,
    );
  } catch (error) {
    await shard.stop();
    throw error;
  }
  return shard;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (enough of it for our own metrics). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] as string] = pair[2] as string;
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The samples of one metric whose labels include the given ones. */
export function samplesOf(text: string, name: string, labels: Record<string, string> = {}): Sample[] {
  return parseMetrics(text).filter(
    (s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  );
}

/** The sum over those samples; 0 when there are none (a counter never incremented). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  return samplesOf(text, name, labels).reduce((sum, s) => sum + s.value, 0);
}
