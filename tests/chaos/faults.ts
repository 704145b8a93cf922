/**
 * The chaos suite's faults. Each one is injected for real and then observed to have taken
 * effect — a killed process gone, a frozen shard's Lease expired, Redis refusing connections, a
 * watch answered 410 Gone — and to have ended, with recovery under way. A fault whose effect
 * was not observed comes back as verified: false with the reason; inject() never throws.
 *
 * Two platforms: the local control plane (shards and coordinators are processes, see
 * tests/stack) and a kind cluster running the Helm chart (pods, driven with kubectl and docker).
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { createConnection } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type * as k8s from "@kubernetes/client-node";
import { coordinatorLeaseName } from "../../scheduler/src/contracts/keys.js";
import {
  type ClusterState,
  readState,
  startComponent,
  stopComponent,
} from "../cluster/local/local-cluster.js";
import {
  isRunning,
  type ManagedProcess,
  processState,
  signalAndConfirm,
} from "../cluster/local/processes.js";
import {
  coordinatorRole,
  readStack,
  type StackProcess,
  type StackState,
  shardEntry,
  shardIdentity,
  stackKill,
  stackScale,
  stackUp,
} from "../stack/stack.js";
import { redisPing as pingRedis } from "../support/redis-ping.js";
import { GiveUp, waitFor } from "../support/wait.js";
import type { ChaosEnv, FaultKind, FaultRecord } from "./types.js";

export interface FaultInjector {
  /** Injects one fault, waits for it to end and for recovery to begin (the killed shard restarted, Redis back, …), and says what was observed. Never throws for a failed verification: returns verified:false with the reason. */
  inject(kind: FaultKind): Promise<FaultRecord>;
  /**
   * Undoes anything a fault left behind (continues a frozen shard, starts Redis, the API
   * server and etcd, returns the shards to env.shards, restarts missing coordinators). Safe to
   * call any time; throws, after trying every step, when something could not be restored.
   */
  restore(): Promise<void>;
}

/** The shard counts scale-shards passes through before returning to env.shards. */
const scaleSteps = [5, 2] as const;
/** How long scale-shards stays at each intermediate size, while the load runs. */
const scalePauseMs = 8_000;
/** How long a killed shard stays down before it is started again, as a StatefulSet would. */
const shardRestartDelayMs = 3_000;
/** How long stop-redis keeps Redis down. */
const redisDownMs = 20_000;
/** How long a restarted API server may take to answer /readyz again. */
const apiserverReadyTimeoutMs = 60_000;

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/** Restore steps run one after another: each is tried, and finish() reports every one that failed. */
class RestoreSteps {
  private readonly problems: string[] = [];

  async attempt(what: string, step: () => Promise<unknown>): Promise<void> {
    try {
      await step();
    } catch (error) {
      this.problems.push(`${what}: ${messageOf(error)}`);
    }
  }

  finish(): void {
    if (this.problems.length > 0) throw new Error(`restore incomplete: ${this.problems.join("; ")}`);
  }
}

/** A fault's steps: it names its target once chosen (aim) and returns the evidence, or throws why not verified. */
type FaultSteps = (aim: (target: string) => void) => Promise<string>;

async function runFault(env: ChaosEnv, kind: FaultKind, steps: FaultSteps): Promise<FaultRecord> {
  const startedAt = Date.now();
  let target = "(none chosen)";
  env.log(`${kind}: injecting`);
  try {
    const evidence = await steps((chosen) => {
      target = chosen;
    });
    env.log(`${kind}: verified: ${evidence}`);
    return { fault: kind, target, startedAt, endedAt: Date.now(), verified: true, evidence };
  } catch (error) {
    const evidence = `not verified: ${messageOf(error)}`;
    env.log(`${kind}: ${evidence}`);
    return { fault: kind, target, startedAt, endedAt: Date.now(), verified: false, evidence };
  }
}

/** Fails the fault's verification with the given reason unless the condition holds. */
function check(condition: unknown, failure: string): asserts condition {
  if (!condition) throw new Error(failure);
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const errorCode = (error: unknown): string =>
  (error as NodeJS.ErrnoException | undefined)?.code ?? messageOf(error);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
/** One of items chosen with the run's seeded random; undefined when there is none. */
const pick = <T>(random: () => number, items: readonly T[]): T | undefined =>
  items[Math.min(items.length - 1, Math.floor(random() * items.length))];
const ordinalOf = (identity: string): number => Number(identity.slice(identity.lastIndexOf("-") + 1));
const sameMembers = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join() === [...b].sort().join();
const leasePath = (namespace: string, name: string) =>
  `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`;

async function sleepUntil(epochMs: number): Promise<void> {
  const remaining = epochMs - Date.now();
  if (remaining > 0) await sleep(remaining);
}

/** Plain GETs to the API server with the run's kubeconfig: no retries, no caching, no relisting. */
class ApiServer {
  constructor(private readonly kc: k8s.KubeConfig) {}

  /** The status and body of a GET; with firstLineOnly, the connection is closed after the first line (a watch's first event). */
  async get(
    path: string,
    timeoutMs: number,
    firstLineOnly = false,
  ): Promise<{ status: number; body: string }> {
    const server = this.kc.getCurrentCluster()?.server;
    if (!server) throw new Error("the kubeconfig names no cluster");
    const url = new URL(path, server);
    const options: https.RequestOptions = { method: "GET", headers: { accept: "application/json" } };
    await this.kc.applyToHTTPSOptions(options);
    const send = url.protocol === "https:" ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const req = send(url, options, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
          const newline = body.indexOf("\n");
          if (firstLineOnly && newline >= 0) {
            resolve({ status: res.statusCode ?? 0, body: body.slice(0, newline) });
            req.destroy();
          }
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      });
      req.setTimeout(timeoutMs, () =>
        req.destroy(new Error(`GET ${path}: no answer within ${seconds(timeoutMs)}`)),
      );
      req.on("error", reject);
      req.end();
    });
  }

  async json<T>(path: string): Promise<T> {
    const res = await this.get(path, 15_000);
    if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
    return JSON.parse(res.body) as T;
  }

  /** Whether /readyz answers 200; detail says what it answered or how the connection failed. */
  async readyz(): Promise<{ ok: boolean; detail: string }> {
    try {
      const res = await this.get("/readyz", 3_000);
      return { ok: res.status === 200, detail: `HTTP ${res.status}` };
    } catch (error) {
      return { ok: false, detail: errorCode(error) };
    }
  }

  /** The resourceVersion a LIST of the collection returns now. */
  async listResourceVersion(path: string): Promise<string> {
    const list = await this.json<{ metadata?: { resourceVersion?: string } }>(path);
    const version = list.metadata?.resourceVersion;
    if (!version) throw new Error(`LIST ${path} returned no resourceVersion`);
    return version;
  }

  /**
   * Opens a watch of the collection from resourceVersion and returns how the API server
   * refused it with 410 Gone (HTTP 410, or an ERROR event with code 410). Throws when the watch
   * is accepted and delivers an event; retries other answers (a cache still initialising) for
   * up to 20 s.
   */
  async watchExpired(path: string, resourceVersion: string): Promise<string> {
    const separator = path.includes("?") ? "&" : "?";
    const watchPath = `${path}${separator}watch=true&resourceVersion=${resourceVersion}`;
    return waitFor(
      `a watch of ${path} from resourceVersion ${resourceVersion} to be refused`,
      async () => {
        const res = await this.get(watchPath, 5_000, true);
        if (res.status === 410) return `HTTP 410 (${res.body.slice(0, 120)})`;
        if (res.status !== 200) throw new Error(`HTTP ${res.status} ${res.body.slice(0, 120)}`);
        const event = JSON.parse(res.body) as { type: string; object?: { code?: number; message?: string } };
        if (event.type === "ERROR" && event.object?.code === 410)
          return `ERROR event 410 "${event.object.message ?? ""}"`;
        throw new GiveUp(`the watch was accepted: its first event is ${event.type}`);
      },
      20_000,
      500,
    );
  }
}

interface LeaseObject {
  spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
}

/** A Lease as the API server has it: its holder, its last renewal (epoch ms) and its duration. */
async function readLease(api: ApiServer, namespace: string, name: string) {
  const lease = await api.json<LeaseObject>(leasePath(namespace, name));
  const renewedAt = Date.parse(lease.spec?.renewTime ?? "");
  if (Number.isNaN(renewedAt)) throw new Error(`Lease ${namespace}/${name} has no renewTime`);
  return {
    holder: lease.spec?.holderIdentity ?? "",
    renewedAt,
    durationMs: (lease.spec?.leaseDurationSeconds ?? 0) * 1000,
  };
}

/** One replica that can be frozen: by signals to its process, locally or through its kind node. */
interface Freezable {
  identity: string;
  /** The target as recorded, e.g. "sharded-scheduler-1 (pid 4242)". */
  describe: string;
  /** Sends SIGSTOP. */
  stop(): Promise<void>;
  /** Sends SIGCONT. */
  resume(): Promise<void>;
  /** The process's /proc state letter (T when stopped), undefined once gone. */
  state(): Promise<string | undefined>;
  /** Whether the replica answers /readyz (or its pod is Ready). */
  ready(): Promise<boolean>;
}

/**
 * freeze-shard on either platform: SIGSTOP, hold it past its lease (2 × lease duration + 2 s),
 * check from the API server that its Lease was not renewed after the stop and has expired,
 * SIGCONT, and wait until it answers /readyz again.
 */
async function freezeReplica(env: ChaosEnv, api: ApiServer, replica: Freezable): Promise<string> {
  const log = (line: string) => env.log(`freeze-shard: ${line}`);
  const stoppedAt = Date.now();
  let resumed = false;
  try {
    await replica.stop();
    const state = await replica.state();
    check(state === "T", `${replica.describe} is in state ${state ?? "gone"} after SIGSTOP, not T`);
    log(`${replica.describe} stopped (state T)`);
    const holdMs = 2 * env.leaseDurationMs + 2_000;
    await sleepUntil(stoppedAt + holdMs);
    const stillStopped = await replica.state();
    check(
      stillStopped === "T",
      `${replica.describe} left state T during the freeze (${stillStopped ?? "gone"})`,
    );
    const lease = await readLease(api, env.leaseNamespace, replica.identity);
    const age = Date.now() - lease.renewedAt;
    const durationMs = Math.max(env.leaseDurationMs, lease.durationMs);
    check(
      lease.renewedAt <= stoppedAt,
      `Lease ${replica.identity} was renewed at ${new Date(lease.renewedAt).toISOString()}, after the SIGSTOP`,
    );
    check(age > durationMs, `Lease ${replica.identity} is only ${age} ms old (duration ${durationMs} ms)`);
    log(`Lease ${replica.identity} last renewed ${seconds(age)} ago (duration ${durationMs} ms): expired`);
    const resumedAt = Date.now();
    await replica.resume();
    resumed = true;
    const afterResume = await replica.state();
    check(
      afterResume !== undefined && afterResume !== "T",
      `${replica.describe} is ${afterResume ?? "gone"} after SIGCONT`,
    );
    await waitFor(
      `${replica.identity} to be ready`,
      async () => ((await replica.ready()) ? true : undefined),
      60_000,
      250,
    );
    const readyAfter = Date.now() - resumedAt;
    log(`${replica.identity} continued, ready after ${seconds(readyAfter)}`);
    const renewal = await waitFor(
      `Lease ${replica.identity} to be renewed`,
      async () => {
        const now = await readLease(api, env.leaseNamespace, replica.identity);
        return now.renewedAt > stoppedAt ? now.renewedAt : undefined;
      },
      15_000,
      250,
    ).then(
      (renewedAt) => `Lease renewed again ${seconds(renewedAt - resumedAt)} after SIGCONT`,
      () => "Lease not renewed within 15 s of SIGCONT",
    );
    return (
      `${replica.describe} stopped (state T) for ${seconds(resumedAt - stoppedAt)}; its Lease (holder ` +
      `${lease.holder || "none"}) was last renewed before the stop and was ${seconds(age)} old at the end ` +
      `(duration ${durationMs} ms): expired; SIGCONT → running, ready after ${seconds(readyAfter)}; ${renewal}`
    );
  } finally {
    if (!resumed) await replica.resume().catch(() => undefined);
  }
}

/** What the faults on the control plane itself need from a platform. */
interface ControlPlane {
  /** Stops kube-apiserver, checks /readyz is refused, starts it and waits until /readyz is ok. */
  restartApiserver(log: (line: string) => void): Promise<string>;
  /** etcd's current revision. */
  etcdRevision(): Promise<number>;
  /** Compacts etcd's history up to revision. */
  compactEtcd(revision: number): Promise<void>;
  /** What etcd answers to a read at revision (once compacted: an error saying so). */
  etcdReadAt(revision: number): Promise<string>;
  /** Shard log lines reporting a watch answered 410 Gone, logged since the given time. */
  goneLogLines(since: number): Promise<number>;
}

/**
 * expire-watches: keeps the resourceVersion of a LIST of busy collections (the Leases of the
 * lease namespace, renewed every few hundred ms, and the workload's pods), compacts etcd at its
 * current revision, restarts kube-apiserver (its watch cache then starts after the compacted
 * revision) and requires that watches from the kept resourceVersion are refused with 410 Gone.
 */
async function expireWatches(env: ChaosEnv, api: ApiServer, plane: ControlPlane): Promise<string> {
  const log = (line: string) => env.log(`expire-watches: ${line}`);
  const collections = [
    `/apis/coordination.k8s.io/v1/namespaces/${env.leaseNamespace}/leases`,
    `/api/v1/namespaces/${env.namespace}/pods`,
  ];
  const kept = await api.listResourceVersion(collections[0] as string);
  log(`listed Leases in ${env.leaseNamespace} at resourceVersion ${kept}`);
  const revision = await waitFor(
    `etcd's revision to pass ${kept}`,
    async () => {
      const current = await plane.etcdRevision();
      return current > Number(kept) ? current : undefined;
    },
    30_000,
    250,
  );
  const since = Date.now();
  await plane.compactEtcd(revision);
  const readOld = await plane.etcdReadAt(Number(kept));
  check(/compacted/.test(readOld), `etcd still serves revision ${kept} after compaction: ${readOld}`);
  log(`compacted etcd at revision ${revision}; a read at ${kept} answers "${readOld}"`);
  const restart = await plane.restartApiserver(log);
  const refusals: string[] = [];
  for (const collection of collections) refusals.push(await api.watchExpired(collection, kept));
  log(`watches from ${kept} refused: ${refusals.join("; ")}`);
  // The shards' informers resume their watches once the API server is back, and relist.
  let gone = 0;
  await waitFor(
    "a shard to log 410 Gone",
    async () => {
      gone = await plane.goneLogLines(since);
      return gone > 0 ? true : undefined;
    },
    15_000,
    500,
  ).catch(() => undefined);
  return (
    `etcd compacted at revision ${revision} (read at ${kept}: "${readOld}"); ${restart}; watches from ` +
    `resourceVersion ${kept} → ${refusals.join(", ")}; shard logs: ${gone} "410 Gone" line(s) since the compaction`
  );
}

/** What a TCP connection to host:port does: "connected", or how it failed (ECONNREFUSED, …). */
function tcpConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve("ETIMEDOUT");
    });
    socket.on("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.on("error", (error) => resolve(errorCode(error)));
  });
}

/**
 * Whether a Redis answers PING, trying once; detail says how it failed: the TCP connection's
 * error (ECONNREFUSED, …) when there is none, else the client's.
 */
async function redisPing(url: string): Promise<{ ok: boolean; detail: string }> {
  const { hostname, port } = new URL(url);
  const connection = await tcpConnect(hostname.replace(/^\[|\]$/g, ""), Number(port || 6379));
  if (connection !== "connected") return { ok: false, detail: `connection ${connection}` };
  return pingRedis(url);
}

// ---------------------------------------------------------------------------------------------
// Local control plane
// ---------------------------------------------------------------------------------------------

/** Whether a local shard or coordinator answers /readyz. */
async function answersReady(member: StackProcess): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${member.port}/readyz`, { signal: AbortSignal.timeout(2_000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** Waits until a killed PID has left /proc; a zombie (exited, not yet reaped by its parent) also counts. */
async function pidExited(pid: number): Promise<string> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const state = processState(pid);
    if (state === undefined) return "gone";
    if (Date.now() > deadline) {
      if (state === "Z") return "exited (a zombie its parent has not reaped yet)";
      throw new Error(`pid ${pid} is still in /proc in state ${state}`);
    }
    await sleep(100);
  }
}

/**
 * The identities (POD_NAME) of the shard processes running against this cluster's kubeconfig,
 * found by scanning /proc rather than from the stack's own records.
 */
function runningShardIdentities(kubeconfig: string): string[] {
  const identities: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (argv[1] !== shardEntry || !argv.includes(`--kubeconfig=${kubeconfig}`)) continue;
      const state = processState(Number(entry));
      if (state === undefined || state === "Z") continue;
      const environment = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      const podName = environment.find((variable) => variable.startsWith("POD_NAME="));
      identities.push(podName ? podName.slice("POD_NAME=".length) : `pid ${entry} (no POD_NAME)`);
    } catch {
      // The process exited while being read.
    }
  }
  return identities.sort((a, b) => ordinalOf(a) - ordinalOf(b));
}

/** Lines of the shards' JSON logs that report a watch answered 410 Gone, logged at or after since. */
function goneLinesInLogs(logs: string[], since: number): number {
  let count = 0;
  for (const file of logs) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      if (!line.includes("410 Gone")) continue;
      try {
        if (((JSON.parse(line) as { time?: number }).time ?? 0) >= since) count++;
      } catch {
        // a line cut short by a crash
      }
    }
  }
  return count;
}

/** Faults on the local control plane (tests/cluster/local) and its stack (tests/stack). */
export function localFaults(
  env: ChaosEnv,
  stack: { shardArgs: string[]; coordinatorArgs: string[] },
): FaultInjector {
  const dir = env.clusterDir;
  const api = new ApiServer(env.kc);
  const cluster = (): ClusterState => {
    const state = readState(dir);
    if (!state) throw new Error(`no cluster in ${dir}`);
    return state;
  };
  const component = (name: string): ManagedProcess => {
    const proc = cluster().processes.find((candidate) => candidate.name === name);
    if (!proc) throw new Error(`no ${name} in the cluster in ${dir}`);
    return proc;
  };
  const currentStack = (): StackState => {
    const state = readStack(dir);
    if (!state) throw new Error(`no stack in ${dir}`);
    return state;
  };
  /** The stack's shard count: one past its highest ordinal (shards are 0..n-1). */
  const shardCount = (state: StackState) =>
    state.shards.length === 0 ? env.shards : Math.max(...state.shards.map((s) => ordinalOf(s.identity))) + 1;
  const runningShards = () => currentStack().shards.filter((shard) => processState(shard.pid) !== "T");

  const plane: ControlPlane = {
    async restartApiserver(log) {
      const before = component("kube-apiserver");
      const stoppedAt = Date.now();
      await stopComponent(dir, "kube-apiserver");
      check(!isRunning(before), `kube-apiserver pid ${before.pid} still runs after stopping it`);
      const down = await api.readyz();
      check(!down.ok, `/readyz answered ${down.detail} with kube-apiserver stopped`);
      log(
        `kube-apiserver pid ${before.pid} stopped after ${seconds(Date.now() - stoppedAt)}; /readyz: ${down.detail}`,
      );
      const after = startComponent(dir, "kube-apiserver");
      const startedAt = Date.now();
      await waitFor(
        "kube-apiserver /readyz",
        async () => {
          if (!isRunning(after)) throw new GiveUp(`kube-apiserver pid ${after.pid} exited; see ${after.log}`);
          return (await api.readyz()).ok ? true : undefined;
        },
        apiserverReadyTimeoutMs,
        250,
      );
      const readyAt = Date.now();
      log(`kube-apiserver restarted as pid ${after.pid}, ready after ${seconds(readyAt - startedAt)}`);
      return (
        `kube-apiserver pid ${before.pid} stopped (/readyz: ${down.detail}), restarted as pid ${after.pid}, ` +
        `/readyz ok ${seconds(readyAt - startedAt)} after start; down ${seconds(readyAt - stoppedAt)}`
      );
    },
    async etcdRevision() {
      const range = (await etcdCall("/v3/kv/range", {
        key: Buffer.from("/registry/").toString("base64"),
        limit: 1,
        keys_only: true,
      })) as { header?: { revision?: string } };
      const revision = Number(range.header?.revision);
      if (!Number.isInteger(revision)) throw new Error(`etcd answered no revision: ${JSON.stringify(range)}`);
      return revision;
    },
    async compactEtcd(revision) {
      await etcdCall("/v3/kv/compaction", { revision: String(revision), physical: true });
    },
    async etcdReadAt(revision) {
      try {
        await etcdCall("/v3/kv/range", {
          key: Buffer.from("/registry/").toString("base64"),
          limit: 1,
          keys_only: true,
          revision: String(revision),
        });
        return "read succeeded";
      } catch (error) {
        return messageOf(error);
      }
    },
    async goneLogLines(since) {
      return goneLinesInLogs(
        currentStack().shards.map((shard) => shard.log),
        since,
      );
    },
  };

  /** A POST to etcd's JSON gateway; throws with etcd's message when it answers an error. */
  async function etcdCall(path: string, body: unknown): Promise<unknown> {
    const res = await fetch(`http://127.0.0.1:${cluster().ports.etcdClient}${path}`, {
      method: "POST",
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const answer = (await res.json()) as { message?: string };
    if (!res.ok) throw new Error(answer.message ?? `HTTP ${res.status}`);
    return answer;
  }

  const faults: Record<FaultKind, FaultSteps> = {
    "kill-shard": async (aim) => {
      const log = (line: string) => env.log(`kill-shard: ${line}`);
      const state = currentStack();
      const victim = pick(env.random, runningShards());
      check(victim, "no running shard to kill");
      aim(`${victim.identity} (pid ${victim.pid})`);
      const size = shardCount(state);
      await stackKill(dir, { shard: ordinalOf(victim.identity) }, "KILL");
      const exited = await pidExited(victim.pid);
      log(`SIGKILL ${victim.identity}: pid ${victim.pid} ${exited}`);
      await sleep(shardRestartDelayMs);
      const restartedAt = Date.now();
      const after = await stackUp({
        clusterDir: dir,
        shards: size,
        shardArgs: stack.shardArgs,
        coordinator: false,
      });
      const back = after.shards.find((shard) => shard.identity === victim.identity);
      check(back && back.pid !== victim.pid, `${victim.identity} was not started again`);
      check(isRunning(back) && (await answersReady(back)), `${victim.identity} pid ${back.pid} is not ready`);
      log(
        `${victim.identity} restarted as pid ${back.pid}, ready after ${seconds(Date.now() - restartedAt)}`,
      );
      return (
        `${victim.identity} pid ${victim.pid} ${exited} after SIGKILL; restarted ${seconds(shardRestartDelayMs)} ` +
        `later as pid ${back.pid}, ready after ${seconds(Date.now() - restartedAt)}`
      );
    },

    "scale-shards": async (aim) => {
      const log = (line: string) => env.log(`scale-shards: ${line}`);
      const { kubeconfig } = cluster();
      const sizes = [...scaleSteps, env.shards];
      aim(`shards ${[shardCount(currentStack()), ...sizes].join("→")}`);
      const steps: string[] = [];
      for (const [index, size] of sizes.entries()) {
        const before = currentStack().shards;
        const began = Date.now();
        const after = await stackScale({ clusterDir: dir, shards: size, shardArgs: stack.shardArgs });
        const expected = Array.from({ length: size }, (_, ordinal) => shardIdentity(ordinal));
        const removed = before.filter((shard) => ordinalOf(shard.identity) >= size);
        const lingering = removed.filter((shard) => isRunning(shard));
        check(
          lingering.length === 0,
          `removed shard(s) still run: ${lingering.map((s) => s.identity).join(", ")}`,
        );
        const running = runningShardIdentities(kubeconfig);
        check(
          sameMembers(running, expected),
          `at ${size} shards the running shard processes are [${running.join(", ")}], expected [${expected.join(", ")}]`,
        );
        for (const shard of after.shards)
          check(await answersReady(shard), `${shard.identity} (pid ${shard.pid}) does not answer /readyz`);
        const step =
          `${size} (${seconds(Date.now() - began)}` +
          `${removed.length > 0 ? `, ${removed.map((s) => `${s.identity} pid ${s.pid}`).join(", ")} exited` : ""})`;
        steps.push(step);
        log(`at ${size} shards: running exactly [${running.join(", ")}], all ready; ${step}`);
        if (index < sizes.length - 1) await sleep(scalePauseMs);
      }
      return `scaled through ${steps.join(" → ")}; at each size the running shard processes were exactly 0..n-1 and ready`;
    },

    "freeze-shard": async (aim) => {
      const victim = pick(env.random, runningShards());
      check(victim, "no running shard to freeze");
      const describe = `${victim.identity} (pid ${victim.pid})`;
      aim(describe);
      return freezeReplica(env, api, {
        identity: victim.identity,
        describe,
        stop: async () => void (await signalAndConfirm(victim, "SIGSTOP")),
        resume: async () => void (await signalAndConfirm(victim, "SIGCONT")),
        state: async () => processState(victim.pid),
        ready: () => answersReady(victim),
      });
    },

    "kill-coordinator-leader": async (aim) => {
      const log = (line: string) => env.log(`kill-coordinator-leader: ${line}`);
      const state = currentStack();
      check(
        state.coordinators.length >= 2,
        `the stack runs ${state.coordinators.length} coordinator(s), needs 2`,
      );
      const killed = await stackKill(dir, { coordinator: "leader" }, "KILL");
      const killedAt = Date.now();
      aim(`${killed.identity} (pid ${killed.pid})`);
      const exited = await pidExited(killed.pid);
      log(`SIGKILL leader ${killed.identity}: pid ${killed.pid} ${exited}`);
      const survivor = state.coordinators.find((member) => member.identity !== killed.identity);
      check(survivor, "no other coordinator replica");
      await waitFor(
        `${survivor.identity} to lead`,
        async () => ((await coordinatorRole(survivor)) === "leader" ? true : undefined),
        60_000,
        50,
      );
      const takeoverMs = Date.now() - killedAt;
      const leaseName = coordinatorLeaseName(env.schedulerName);
      const holder = await waitFor(
        `Lease ${leaseName} to name ${survivor.identity}`,
        async () => {
          const lease = await readLease(api, env.leaseNamespace, leaseName);
          return lease.holder === survivor.identity ? lease.holder : undefined;
        },
        10_000,
      );
      log(`${survivor.identity} leads after ${seconds(takeoverMs)} (Lease ${leaseName} holder ${holder})`);
      const restartedAt = Date.now();
      const after = await stackUp({
        clusterDir: dir,
        shards: shardCount(readStack(dir) ?? state),
        shardArgs: stack.shardArgs,
        coordinator: true,
        coordinatorArgs: stack.coordinatorArgs,
      });
      const back = after.coordinators.find((member) => member.identity === killed.identity);
      check(back && back.pid !== killed.pid, `${killed.identity} was not started again`);
      check(isRunning(back) && (await answersReady(back)), `${killed.identity} pid ${back.pid} is not ready`);
      const role = await coordinatorRole(back);
      log(`${killed.identity} restarted as pid ${back.pid} (${role})`);
      return (
        `leader ${killed.identity} pid ${killed.pid} ${exited} after SIGKILL; ${survivor.identity} led ` +
        `${seconds(takeoverMs)} later (Lease ${leaseName} holder ${holder}); ${killed.identity} restarted as ` +
        `pid ${back.pid}, ready (${role}) after ${seconds(Date.now() - restartedAt)}`
      );
    },

    "stop-redis": async (aim) => {
      const log = (line: string) => env.log(`stop-redis: ${line}`);
      const { redisUrl } = cluster();
      const before = component("redis");
      aim(`redis (pid ${before.pid})`);
      const stoppedAt = Date.now();
      await stopComponent(dir, "redis");
      check(!isRunning(before), `redis pid ${before.pid} still runs after stopping it`);
      log(`redis pid ${before.pid} stopped`);
      const failures: string[] = [];
      while (Date.now() < stoppedAt + redisDownMs) {
        const ping = await redisPing(redisUrl);
        check(
          !ping.ok,
          `PING answered ${ping.detail} ${seconds(Date.now() - stoppedAt)} after stopping redis`,
        );
        failures.push(ping.detail);
        await sleep(Math.min(2_000, Math.max(0, stoppedAt + redisDownMs - Date.now())));
      }
      log(`PING failed ${failures.length} time(s) over ${seconds(Date.now() - stoppedAt)} (${failures[0]})`);
      const after = startComponent(dir, "redis");
      const startedAt = Date.now();
      await waitFor(
        "redis to answer PING",
        async () => {
          if (!isRunning(after)) throw new GiveUp(`redis pid ${after.pid} exited; see ${after.log}`);
          return (await redisPing(redisUrl)).ok ? true : undefined;
        },
        30_000,
        100,
      );
      log(`redis restarted as pid ${after.pid}, PING answered`);
      return (
        `redis pid ${before.pid} stopped for ${seconds(startedAt - stoppedAt)}: process gone, PING failed ` +
        `${failures.length}/${failures.length} times (${[...new Set(failures)].join(", ")}); restarted as pid ` +
        `${after.pid}, PONG ${seconds(Date.now() - startedAt)} after start`
      );
    },

    "restart-apiserver": async (aim) => {
      aim(`kube-apiserver (pid ${component("kube-apiserver").pid})`);
      return plane.restartApiserver((line) => env.log(`restart-apiserver: ${line}`));
    },

    "expire-watches": async (aim) => {
      aim(`etcd (pid ${component("etcd").pid}) and kube-apiserver (pid ${component("kube-apiserver").pid})`);
      return expireWatches(env, api, plane);
    },
  };

  return {
    inject: (kind) => runFault(env, kind, faults[kind]),

    async restore() {
      const steps = new RestoreSteps();
      const ensureComponent = async (name: string, answers: () => Promise<boolean>) => {
        if (!isRunning(component(name))) {
          const proc = startComponent(dir, name);
          env.log(`restore: started ${name} (pid ${proc.pid})`);
        }
        await waitFor(`${name} to answer`, async () => ((await answers()) ? true : undefined), 60_000, 250);
      };
      await steps.attempt("etcd", () =>
        ensureComponent("etcd", async () => {
          const res = await fetch(`http://127.0.0.1:${cluster().ports.etcdClient}/health`).catch(
            () => undefined,
          );
          return res?.ok ?? false;
        }),
      );
      await steps.attempt("kube-apiserver", () =>
        ensureComponent("kube-apiserver", async () => (await api.readyz()).ok),
      );
      await steps.attempt("redis", () =>
        ensureComponent("redis", async () => (await redisPing(cluster().redisUrl)).ok),
      );
      await steps.attempt("frozen processes", async () => {
        const state = readStack(dir);
        for (const member of [...(state?.shards ?? []), ...(state?.coordinators ?? [])]) {
          if (processState(member.pid) === "T" && isRunning(member)) {
            await signalAndConfirm(member, "SIGCONT");
            env.log(`restore: continued ${member.identity} (pid ${member.pid})`);
          }
        }
      });
      await steps.attempt("shards", async () => {
        await stackScale({ clusterDir: dir, shards: env.shards, shardArgs: stack.shardArgs });
      });
      await steps.attempt("coordinators", async () => {
        await stackUp({
          clusterDir: dir,
          shards: env.shards,
          shardArgs: stack.shardArgs,
          coordinator: true,
          coordinatorArgs: stack.coordinatorArgs,
        });
      });
      steps.finish();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// kind cluster (the Helm chart)
// ---------------------------------------------------------------------------------------------

/** Runs a command and returns its stdout; fails with its stderr. */
function run(command: string, args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(" ")}: ${String(stderr).trim() || error.message}`));
      else resolve(String(stdout));
    });
  });
}

interface Pod {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: {
    conditions?: { type: string; status: string }[];
    containerStatuses?: { containerID?: string; restartCount?: number }[];
  };
}

const podReady = (pod: Pod | undefined): boolean =>
  pod !== undefined &&
  !pod.metadata.deletionTimestamp &&
  (pod.status?.conditions ?? []).some(
    (condition) => condition.type === "Ready" && condition.status === "True",
  );

/** The state letter of a /proc/<pid>/stat text (the command may contain spaces and parentheses). */
const statState = (stat: string): string | undefined => {
  const end = stat.lastIndexOf(")");
  return end < 0 ? undefined : stat.charAt(end + 2) || undefined;
};

/**
 * Faults on a kind cluster running the chart (tests/kind/deploy.sh), with kubectl (the current
 * kubeconfig, or options.kubeContext) and docker (exec into the kind nodes).
 *
 * freeze-shard signals the shard's process from its kind node, not with `kubectl exec … kill
 * -STOP 1`: node is PID 1 of its container, and the kernel drops signals a PID namespace's init
 * has no handler for when they come from inside that namespace — SIGSTOP can have none.
 */
export function kindFaults(
  env: ChaosEnv,
  options: { release: string; namespace: string; kubeContext?: string; controlPlaneContainer: string },
): FaultInjector {
  const { namespace } = options;
  // The chart's fullname: the release name when it contains the chart's name.
  const fullname = options.release.includes("sharded-scheduler")
    ? options.release
    : `${options.release}-sharded-scheduler`;
  const coordinatorDeployment = `${fullname}-coordinator`;
  const redisStatefulSet = `${fullname}-redis`;
  const api = new ApiServer(env.kc);
  const controlPlane = options.controlPlaneContainer;
  const frozen = new Map<string, { node: string; pid: number }>();

  const kubectl = (args: string[], timeoutMs?: number) =>
    run(
      "kubectl",
      [...(options.kubeContext ? ["--context", options.kubeContext] : []), "-n", namespace, ...args],
      timeoutMs,
    );
  const onNode = (container: string, script: string) =>
    run("docker", ["exec", container, "sh", "-c", script]);
  const podNamed = async (name: string): Promise<Pod | undefined> => {
    const text = await kubectl(["get", "pod", name, "--ignore-not-found", "-o", "json"]);
    return text.trim() ? (JSON.parse(text) as Pod) : undefined;
  };
  const podsOf = async (component: string): Promise<Pod[]> => {
    const selector = `app.kubernetes.io/instance=${options.release},app.kubernetes.io/component=${component}`;
    return (JSON.parse(await kubectl(["get", "pods", "-l", selector, "-o", "json"])) as { items: Pod[] })
      .items;
  };
  const readyShardPods = async () => (await podsOf("scheduler")).filter(podReady);
  /** What a TCP connection from inside a shard pod to host:port does: "connected" or the error code. */
  const connectFromShard = async (pod: string, host: string, port: number) => {
    const script =
      "const s=require('net').connect(Number(process.argv[2]),process.argv[1]);" +
      "s.setTimeout(3000,()=>{console.log('ETIMEDOUT');process.exit(0)});" +
      "s.on('connect',()=>{console.log('connected');process.exit(0)});" +
      "s.on('error',e=>{console.log(e.code||e.message);process.exit(0)})";
    return (await kubectl(["exec", pod, "--", "node", "-e", script, host, String(port)])).trim();
  };
  const containerOf = (pod: Pod): string => {
    const id = pod.status?.containerStatuses?.[0]?.containerID ?? "";
    return id.replace(/^[a-z]+:\/\//, "");
  };
  const apiserverContainer = async () =>
    (await onNode(controlPlane, "crictl ps -q --name '^kube-apiserver$'")).trim().split("\n")[0] ?? "";
  const etcdctl = (args: string) =>
    onNode(
      controlPlane,
      "crictl exec $(crictl ps -q --name '^etcd$') etcdctl --endpoints=https://127.0.0.1:2379 " +
        "--cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt " +
        `--key=/etc/kubernetes/pki/etcd/server.key ${args}`,
    );
  const scaleStatefulSet = (name: string, replicas: number) =>
    kubectl(["scale", "statefulset", name, `--replicas=${replicas}`]);

  const plane: ControlPlane = {
    async restartApiserver(log) {
      const before = await apiserverContainer();
      check(before, `no kube-apiserver container on ${controlPlane}`);
      const stoppedAt = Date.now();
      await onNode(controlPlane, `crictl stop ${before}`);
      const down = await api.readyz();
      check(!down.ok, `/readyz answered ${down.detail} right after stopping the kube-apiserver container`);
      log(`kube-apiserver container ${before.slice(0, 13)} stopped; /readyz: ${down.detail}`);
      await waitFor(
        "kube-apiserver /readyz",
        async () => ((await api.readyz()).ok ? true : undefined),
        apiserverReadyTimeoutMs,
        500,
      );
      const readyAt = Date.now();
      const after = await apiserverContainer();
      check(after && after !== before, `the kube-apiserver container is still ${before.slice(0, 13)}`);
      log(`kubelet restarted kube-apiserver as container ${after.slice(0, 13)}, ready`);
      return (
        `kube-apiserver container ${before.slice(0, 13)} stopped (/readyz: ${down.detail}), restarted by the ` +
        `kubelet as ${after.slice(0, 13)}; down ${seconds(readyAt - stoppedAt)}`
      );
    },
    async etcdRevision() {
      const status = JSON.parse(await etcdctl("endpoint status -w json")) as {
        Status?: { header?: { revision?: number } };
      }[];
      const revision = Number(status[0]?.Status?.header?.revision);
      if (!Number.isInteger(revision)) throw new Error("etcdctl endpoint status gave no revision");
      return revision;
    },
    async compactEtcd(revision) {
      await etcdctl(`compact ${revision} --physical`);
    },
    async etcdReadAt(revision) {
      try {
        await etcdctl(`get /registry/ --prefix --keys-only --limit=1 --rev=${revision}`);
        return "read succeeded";
      } catch (error) {
        return messageOf(error).split("\n").pop() ?? "";
      }
    },
    async goneLogLines(since) {
      let count = 0;
      for (const pod of await podsOf("scheduler")) {
        const logs = await kubectl([
          "logs",
          pod.metadata.name,
          `--since-time=${new Date(since).toISOString()}`,
        ]).catch(() => "");
        count += logs.split("\n").filter((line) => line.includes("410 Gone")).length;
      }
      return count;
    },
  };

  /** Waits until the shard pods are exactly <fullname>-0..size-1, all Ready and none terminating. */
  const shardPodsSettle = (size: number) => {
    const expected = Array.from({ length: size }, (_, ordinal) => `${fullname}-${ordinal}`);
    return waitFor(
      `shard pods ${expected.join(", ") || "(none)"} Ready`,
      async () => {
        const pods = await podsOf("scheduler");
        const names = pods.map((pod) => pod.metadata.name);
        if (!sameMembers(names, expected)) throw new Error(`pods are [${names.join(", ")}]`);
        return pods.every(podReady) ? pods : undefined;
      },
      300_000,
      1_000,
    );
  };

  const faults: Record<FaultKind, FaultSteps> = {
    "kill-shard": async (aim) => {
      const victim = pick(env.random, await readyShardPods());
      check(victim, "no Ready shard pod to kill");
      const name = victim.metadata.name;
      aim(`${name} (uid ${victim.metadata.uid})`);
      const deletedAt = Date.now();
      await kubectl(["delete", "pod", name, "--grace-period=0", "--force", "--wait=false"]);
      env.log(`kill-shard: force-deleted ${name} (uid ${victim.metadata.uid})`);
      const replacement = await waitFor(
        `${name} to be recreated and Ready`,
        async () => {
          const pod = await podNamed(name);
          return pod && pod.metadata.uid !== victim.metadata.uid && podReady(pod) ? pod : undefined;
        },
        300_000,
        1_000,
      );
      return (
        `${name} uid ${victim.metadata.uid} force-deleted; the StatefulSet recreated it as uid ` +
        `${replacement.metadata.uid}, Ready after ${seconds(Date.now() - deletedAt)}`
      );
    },

    "scale-shards": async (aim) => {
      const sizes = [...scaleSteps, env.shards];
      aim(`statefulset ${fullname} ${[(await podsOf("scheduler")).length, ...sizes].join("→")}`);
      const steps: string[] = [];
      for (const [index, size] of sizes.entries()) {
        const began = Date.now();
        await scaleStatefulSet(fullname, size);
        await shardPodsSettle(size);
        steps.push(`${size} (${seconds(Date.now() - began)})`);
        env.log(`scale-shards: ${size} shard pods, exactly ${fullname}-0..${size - 1}, all Ready`);
        if (index < sizes.length - 1) await sleep(scalePauseMs);
      }
      return `scaled through ${steps.join(" → ")}; at each size the pods were exactly ${fullname}-0..n-1 and Ready`;
    },

    "freeze-shard": async (aim) => {
      const victim = pick(env.random, await readyShardPods());
      check(victim, "no Ready shard pod to freeze");
      const name = victim.metadata.name;
      const node = victim.spec?.nodeName ?? "";
      const container = containerOf(victim);
      check(node && container, `${name} has no node or container yet`);
      const pid = Number(
        (
          await onNode(node, `crictl inspect --output go-template --template '{{.info.pid}}' ${container}`)
        ).trim(),
      );
      check(Number.isInteger(pid) && pid > 1, `no host PID for ${name}'s container`);
      const restarts = victim.status?.containerStatuses?.[0]?.restartCount ?? 0;
      const describe = `${name} (pid ${pid} on ${node})`;
      aim(describe);
      const evidence = await freezeReplica(env, api, {
        identity: name,
        describe,
        stop: async () => {
          frozen.set(name, { node, pid });
          await onNode(node, `kill -STOP ${pid}`);
        },
        resume: async () => {
          await onNode(node, `kill -CONT ${pid}`);
          frozen.delete(name);
        },
        state: async () => statState(await onNode(node, `cat /proc/${pid}/stat`).catch(() => "")),
        ready: async () => podReady(await podNamed(name)),
      });
      const after = (await podNamed(name))?.status?.containerStatuses?.[0]?.restartCount ?? 0;
      check(after === restarts, `${name}'s container restarted during the freeze (${restarts} → ${after})`);
      return evidence;
    },

    "kill-coordinator-leader": async (aim) => {
      const leaseName = coordinatorLeaseName(env.schedulerName);
      const { holder } = await readLease(api, env.leaseNamespace, leaseName);
      const leader = await podNamed(holder);
      check(leader, `Lease ${leaseName} names ${holder || "nobody"}, which is no pod`);
      aim(`${holder} (uid ${leader.metadata.uid})`);
      const deletedAt = Date.now();
      await kubectl(["delete", "pod", holder, "--grace-period=0", "--force", "--wait=false"]);
      env.log(`kill-coordinator-leader: force-deleted leader ${holder}`);
      const successor = await waitFor(
        `another replica to hold Lease ${leaseName}`,
        async () => {
          const lease = await readLease(api, env.leaseNamespace, leaseName);
          return lease.holder && lease.holder !== holder && Date.now() - lease.renewedAt < 10_000
            ? lease.holder
            : undefined;
        },
        120_000,
        100,
      );
      const takeoverMs = Date.now() - deletedAt;
      env.log(`kill-coordinator-leader: ${successor} leads after ${seconds(takeoverMs)}`);
      await waitFor(
        `${holder} to be gone`,
        async () => ((await podNamed(holder)) ? undefined : true),
        60_000,
        1_000,
      );
      await waitFor(
        `deployment ${coordinatorDeployment} to be ready`,
        async () => {
          const deployment = JSON.parse(
            await kubectl(["get", "deployment", coordinatorDeployment, "-o", "json"]),
          ) as {
            spec?: { replicas?: number };
            status?: { readyReplicas?: number; updatedReplicas?: number };
          };
          const wanted = deployment.spec?.replicas ?? 1;
          return deployment.status?.readyReplicas === wanted ? true : undefined;
        },
        300_000,
        1_000,
      );
      return (
        `leader ${holder} (uid ${leader.metadata.uid}) force-deleted; ${successor} took Lease ${leaseName} ` +
        `${seconds(takeoverMs)} later; deployment ${coordinatorDeployment} ready again after ${seconds(Date.now() - deletedAt)}`
      );
    },

    "stop-redis": async (aim) => {
      const pod = `${redisStatefulSet}-0`;
      const before = await podNamed(pod);
      check(podReady(before), `${pod} is not Ready (is Redis bundled with the release?)`);
      aim(`statefulset ${redisStatefulSet} (pod ${pod})`);
      const host = `${redisStatefulSet}.${namespace}.svc`;
      const stoppedAt = Date.now();
      await scaleStatefulSet(redisStatefulSet, 0);
      try {
        await waitFor(
          `${pod} to be gone`,
          async () => ((await podNamed(pod)) ? undefined : true),
          120_000,
          500,
        );
        env.log(`stop-redis: ${redisStatefulSet} scaled to 0, ${pod} gone`);
        const probe = pick(env.random, await readyShardPods());
        check(probe, "no Ready shard pod to probe Redis from");
        const outcomes: string[] = [];
        for (const at of [Date.now(), stoppedAt + redisDownMs / 2, stoppedAt + redisDownMs]) {
          await sleepUntil(at);
          const outcome = await connectFromShard(probe.metadata.name, host, 6379);
          check(outcome !== "connected", `${host}:6379 accepted a connection with Redis scaled to 0`);
          outcomes.push(outcome);
        }
        env.log(`stop-redis: connections from ${probe.metadata.name} failed (${outcomes.join(", ")})`);
        await scaleStatefulSet(redisStatefulSet, 1);
        const startedAt = Date.now();
        await waitFor(
          `${pod} to be Ready`,
          async () => (podReady(await podNamed(pod)) ? true : undefined),
          300_000,
          1_000,
        );
        const pong = (await kubectl(["exec", pod, "--", "redis-cli", "ping"])).trim();
        check(pong === "PONG", `redis-cli ping answered ${pong}`);
        return (
          `${redisStatefulSet} scaled to 0 for ${seconds(startedAt - stoppedAt)}: ${pod} gone, connections from ` +
          `${probe.metadata.name} failed (${outcomes.join(", ")}); back to 1, PONG ${seconds(Date.now() - startedAt)} later`
        );
      } finally {
        await scaleStatefulSet(redisStatefulSet, 1).catch(() => undefined);
      }
    },

    "restart-apiserver": async (aim) => {
      aim(`kube-apiserver on ${controlPlane}`);
      return plane.restartApiserver((line) => env.log(`restart-apiserver: ${line}`));
    },

    "expire-watches": async (aim) => {
      aim(`etcd and kube-apiserver on ${controlPlane}`);
      return expireWatches(env, api, plane);
    },
  };

  return {
    inject: (kind) => runFault(env, kind, faults[kind]),

    async restore() {
      const steps = new RestoreSteps();
      await steps.attempt("frozen shards", async () => {
        for (const [name, { node, pid }] of frozen) {
          await onNode(node, `kill -CONT ${pid}`);
          frozen.delete(name);
          env.log(`restore: continued ${name}`);
        }
      });
      await steps.attempt("kube-apiserver", () =>
        waitFor(
          "kube-apiserver /readyz",
          async () => ((await api.readyz()).ok ? true : undefined),
          120_000,
          500,
        ),
      );
      await steps.attempt("redis", async () => {
        const exists = await kubectl([
          "get",
          "statefulset",
          redisStatefulSet,
          "--ignore-not-found",
          "-o",
          "name",
        ]);
        if (!exists.trim()) return;
        await scaleStatefulSet(redisStatefulSet, 1);
        await kubectl(["rollout", "status", `statefulset/${redisStatefulSet}`, "--timeout=300s"], 310_000);
      });
      await steps.attempt("shards", async () => {
        await scaleStatefulSet(fullname, env.shards);
        await shardPodsSettle(env.shards);
      });
      await steps.attempt("coordinators", () =>
        kubectl(["rollout", "status", `deployment/${coordinatorDeployment}`, "--timeout=300s"], 310_000),
      );
      steps.finish();
    },
  };
}
