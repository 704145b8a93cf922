/**
 * Runs the real processes under test against the cluster under test: a scheduler shard
 * (node scheduler/dist/cli.js) here, a coordinator in coordinator.ts, both through
 * startServedProcess; and reads their /metrics. Build them first (the global setup does).
 */
import { mkdirSync } from "node:fs";
import { request as httpsRequest } from "node:https";
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

export { metricValue, parseMetrics, type Sample, samplesOf } from "./metrics.js";

export interface ShardOptions {
  schedulerName: string;
  /** Replica identity (default <schedulerName>-0). */
  identity?: string;
  /** Extra flags; a flag given here overrides the defaults below (the last one wins). */
  args?: string[];
  /** See ServedProcessSpec.metricsAuth. */
  metricsAuth?: MetricsAuthOption;
  /** The program node runs (default: the repository's scheduler/dist/cli.js). */
  entry?: string;
}

/**
 * How the process serves /metrics. Default: --metrics-auth=none, plain HTTP on loopback (as in
 * local runs). rbac: HTTPS with its self-signed certificate, a bearer token checked by
 * TokenReview and SubjectAccessReview; get() and metrics() send `token` unless told otherwise.
 */
export type MetricsAuthOption = { mode: "none" } | { mode: "rbac"; token?: string };

/** A shard or coordinator process serving /metrics on port and its probes on healthPort too. */
export interface RunningProcess {
  readonly schedulerName: string;
  readonly identity: string;
  readonly pid: number;
  /** Port of /metrics (and the probes' paths), on 127.0.0.1. */
  readonly port: number;
  /** Port of the probes only (plain HTTP, no auth), on 127.0.0.1. */
  readonly healthPort: number;
  /** Path of the process's log file (pino JSON lines). */
  readonly log: string;
  stop(): Promise<void>;
  running(): boolean;
  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT) and waits until it took effect. */
  signal(signal: "SIGKILL" | "SIGSTOP" | "SIGCONT"): Promise<void>;
  /**
   * GET a path of the metrics server (/healthz, /readyz, /metrics), over HTTPS with auth rbac;
   * token: the bearer token to send instead of the default one (null: none).
   */
  get(path: string, token?: string | null): Promise<{ status: number; body: string }>;
  metrics(): Promise<string>;
  /** The last lines of the log, for failure reports. */
  tail(lines?: number): string;
}

export type RunningShard = RunningProcess;

export interface ServedProcessSpec {
  /** Names the process in messages and its log file: shard, coordinator. */
  kind: string;
  /** The script node runs (a dist/cli.js). */
  entry: string;
  schedulerName: string;
  identity: string;
  /** Flags after --kubeconfig, --scheduler-name, --identity and the serving flags; the last one wins. */
  args: string[];
  /** The path that answers 200 once the process is up (asked on the health port). */
  readyPath: "/healthz" | "/readyz";
  metricsAuth?: MetricsAuthOption;
}

function logDir(): string {
  const clusterDir = inject("clusterDir");
  const dir = clusterDir ? join(clusterDir, "logs") : join(tmpdir(), "sharded-scheduler-tests");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Starts `node <entry>` on a free port against the cluster under test, logging to the cluster's
 * logs folder, and waits until readyPath answers 200; stops it again when it does not.
 */
export async function startServedProcess(spec: ServedProcessSpec): Promise<RunningProcess> {
  const { kind, schedulerName, identity } = spec;
  const metricsAuth = spec.metricsAuth ?? { mode: "none" };
  const port = await freeLoopbackPort();
  const healthPort = await freeLoopbackPort();
  const log = join(logDir(), `${kind}-${identity}-${port}.log`);
  const proc = startProcess(
    `${kind} ${identity}`,
    process.execPath,
    [
      spec.entry,
      `--kubeconfig=${inject("kubeconfig")}`,
      `--scheduler-name=${schedulerName}`,
      `--identity=${identity}`,
      `--metrics-bind-address=127.0.0.1:${port}`,
      `--health-bind-address=127.0.0.1:${healthPort}`,
      `--metrics-auth=${metricsAuth.mode}`,
      ...spec.args,
    ],
    log,
  );
  const defaultToken = metricsAuth.mode === "rbac" ? metricsAuth.token : undefined;
  const get = (path: string, token: string | null | undefined = defaultToken) =>
    metricsAuth.mode === "rbac"
      ? httpsGet(port, path, token ?? undefined)
      : plainGet(`http://127.0.0.1:${port}${path}`);
  const running: RunningProcess = {
    schedulerName,
    identity,
    pid: proc.pid,
    port,
    healthPort,
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
      `${kind} ${identity} ${spec.readyPath}`,
      async () => {
        if (!isRunning(proc)) throw new Error(`the ${kind} exited:\n${tail(log, 20)}`);
        const ready = await plainGet(`http://127.0.0.1:${healthPort}${spec.readyPath}`).catch(
          () => undefined,
        );
        return ready?.status === 200 ? true : undefined;
      },
      30_000,
      100,
    );
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

/** Starts a shard process and waits until /readyz answers 200 (its caches synced). */
export function startShard({
  schedulerName,
  identity = `${schedulerName}-0`,
  args = [],
  metricsAuth,
  entry = shardEntry,
}: ShardOptions): Promise<RunningShard> {
  return startServedProcess({
    kind: "shard",
    entry,
    schedulerName,
    identity,
    args: ["--settle-window-ms=500", ...args],
    readyPath: "/readyz",
    ...(metricsAuth ? { metricsAuth } : {}),
  });
}

async function plainGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** GET over HTTPS from 127.0.0.1, trusting the process's self-signed certificate. */
function httpsGet(
  port: number,
  path: string,
  token: string | undefined,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port,
        path,
        rejectUnauthorized: false,
        agent: false,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path}: timed out`)));
    req.on("error", reject);
    req.end();
  });
}
