import { spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { waitFor } from "../../support/wait.js";
import { createFakeNodes, type FakeNodeSpec, fakeNodeReadiness, readyFakeNodes } from "./fake-nodes.js";
import { insecureHealth, KubeRest } from "./kube-rest.js";
import { kwokStagesFile } from "./kwok-stages.js";
import { clusterToolDir, defaultStateDir, readToolVersions, type ToolPaths, toolPaths } from "./layout.js";
import { createPki, kubeconfigFor, type Pki } from "./pki.js";
import { freeLoopbackPort, isRunning, type ManagedProcess, startProcess, stopProcess } from "./processes.js";
import { type WorkloadGates, workloadGateFlags } from "./workload-gates.js";

export interface ClusterOptions {
  stateDir: string;
  nodes: number;
  nodeCpu: string;
  nodeMemory: string;
  nodePods: number;
  nodeGpus: number;
  /** Number of zones; nodes are spread round-robin over zone-a, zone-b, … (0: no zone label). */
  zones: number;
  /**
   * Number of racks; consecutive nodes share one (topology.kubernetes.io/rack=rack-0, rack-1, …,
   * as even as the count allows). Absent or 0: no rack label.
   */
  racks?: number;
  kubeScheduler: boolean;
  /** The Workload API (scheduling.k8s.io/v1beta1 PodGroups) on every component: see workload-gates.ts. */
  workloadGates: WorkloadGates;
  /** KWOK turns bound pods Running, a status patch each (absent: true); off for throughput benchmarks: see kwok-stages.ts. */
  podLifecycle?: boolean;
  /**
   * Each fake node's Lease duration (absent: 40 s); KWOK renews it every quarter of that, so
   * 1000 nodes cost 100 Lease writes/s at 40 s. Longer for big throughput runs, with the node
   * lifecycle controller's grace period raised to match and KWOK's node status heartbeat (else
   * every 5 minutes) as rare as the renewal.
   */
  nodeLeaseSeconds?: number;
}

const defaultNodeLeaseSeconds = 40;

export const defaultClusterOptions: Omit<ClusterOptions, "stateDir"> = {
  nodes: 3,
  nodeCpu: "32",
  nodeMemory: "256Gi",
  nodePods: 110,
  nodeGpus: 0,
  zones: 0,
  kubeScheduler: true,
  workloadGates: "beta",
};

export interface ClusterPorts {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  kubeScheduler: number;
  kwok: number;
  redis: number;
}

/** What `up` records in <stateDir>/state.json; `down` and `status` read it back. */
export interface ClusterState {
  stateDir: string;
  startedAt: string;
  server: string;
  kubeconfig: string;
  redisUrl: string;
  ports: ClusterPorts;
  options: ClusterOptions;
  processes: ManagedProcess[];
  pki: Pki;
}

type Log = (line: string) => void;

const statePath = (stateDir: string) => join(stateDir, "state.json");

/** The API server's audit log (JSON lines, level Metadata) of a cluster started by `up`. */
export const auditLogPath = (stateDir: string) => join(stateDir, "logs", "audit.log");

/**
 * What the API server audits: only what tests look for (who bound or evicted a pod, who read or
 * wrote the Leases of shards and coordinators, and with which User-Agent), at level Metadata,
 * so the log stays small and costs the API server next to nothing.
 */
const auditPolicy = [
  "apiVersion: audit.k8s.io/v1",
  "kind: Policy",
  "omitStages: [RequestReceived]",
  "rules:",
  "  - level: Metadata",
  "    verbs: [create]",
  "    resources:",
  '      - group: ""',
  "        resources: [pods/binding, pods/eviction]",
  "  - level: Metadata",
  "    verbs: [create, update, patch, get, list]",
  "    namespaces: [default]",
  "    resources:",
  "      - group: coordination.k8s.io",
  "        resources: [leases]",
  "  - level: None",
  "",
].join("\n");

export function readState(stateDir: string): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(stateDir), "utf8")) as ClusterState;
  } catch {
    return undefined;
  }
}

/** The workload gates a recorded cluster runs with (clusters recorded before the option had none). */
export function recordedWorkloadGates(state: ClusterState): WorkloadGates {
  return state.options.workloadGates ?? "off";
}

/** A recorded cluster's node Lease duration in seconds. */
export function recordedNodeLeaseSeconds(state: ClusterState): number {
  return state.options.nodeLeaseSeconds ?? defaultNodeLeaseSeconds;
}

/** Whether a recorded cluster's KWOK runs the pod lifecycle (clusters recorded before the option did). */
export function recordedPodLifecycle(state: ClusterState): boolean {
  return state.options.podLifecycle ?? true;
}

function writeState(state: ClusterState): void {
  writeFileSync(statePath(state.stateDir), `${JSON.stringify(state, null, 2)}\n`);
}

export function adminClient(state: ClusterState): KubeRest {
  return new KubeRest(state.server, {
    ca: state.pki.caCert,
    cert: state.pki.clients.admin.cert,
    key: state.pki.clients.admin.key,
  });
}

/** Builds whatever binary is missing (a no-op once cached). */
export function ensureTools(log: Log): ToolPaths {
  const paths = toolPaths(readToolVersions());
  const required = [
    paths.kubeApiserver,
    paths.kubeControllerManager,
    paths.kubeScheduler,
    paths.kubectl,
    paths.etcd,
    paths.kwok,
    paths.helm,
    paths.noopBinder,
  ];
  if (required.some((binary) => !existsSync(binary))) {
    log("building the control plane binaries (once per version)");
    const result = spawnSync("bash", [join(clusterToolDir, "build-tools.sh")], { stdio: "inherit" });
    if (result.status !== 0) throw new Error("building the control plane binaries failed");
  }
  if (!existsSync(paths.redisServer)) {
    throw new Error("redis-server is missing: apt-get install redis-server");
  }
  return paths;
}

/** Exclusive lock on a state folder, so two `up`s cannot race; a dead holder's lock is taken over. */
function lock(stateDir: string): () => void {
  mkdirSync(stateDir, { recursive: true });
  const file = join(stateDir, "lock");
  for (;;) {
    try {
      const fd = openSync(file, "wx");
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch {
      const holder = Number(readFileSync(file, "utf8"));
      let alive = false;
      try {
        process.kill(holder, 0);
        alive = holder !== process.pid;
      } catch {
        alive = false;
      }
      if (alive) throw new Error(`another cluster command (pid ${holder}) is working on ${stateDir}`);
      unlinkSync(file);
    }
  }
}

/** Starts the whole local control plane and waits until it is ready. Idempotent. */
export async function up(options: ClusterOptions, log: Log): Promise<ClusterState> {
  const existing = readState(options.stateDir);
  if (existing) {
    const health = await status(options.stateDir);
    const running = recordedWorkloadGates(existing);
    if (health.healthy && running !== options.workloadGates) {
      // Feature gates are fixed at start: a cluster with other gates would silently test something else.
      throw new Error(
        `the cluster running in ${options.stateDir} has workload gates "${running}", not "${options.workloadGates}": ` +
          `stop it first (npm run cluster -- down${options.stateDir === defaultStateDir() ? "" : ` --dir ${options.stateDir}`})`,
      );
    }
    if (health.healthy) {
      log(`cluster already running in ${options.stateDir}; leaving it as it is`);
      return existing;
    }
    log("found a cluster that is not healthy (crashed?); cleaning it up first");
    await down(options.stateDir, log);
  }
  const tools = ensureTools(log);
  const unlock = lock(options.stateDir);
  const started: ManagedProcess[] = [];
  try {
    const state = await start(options, tools, started, log);
    writeState(state);
    return state;
  } catch (error) {
    for (const proc of started.reverse()) await stopProcess(proc, 3_000);
    const failed = started.find((proc) => !isRunning(proc));
    if (failed) log(`${failed.name} exited; last lines of ${failed.log}:\n${tail(failed.log, 25)}`);
    throw error;
  } finally {
    unlock();
  }
}

async function start(
  options: ClusterOptions,
  tools: ToolPaths,
  started: ManagedProcess[],
  log: Log,
): Promise<ClusterState> {
  const { stateDir } = options;
  const began = Date.now();
  const elapsed = () => `${((Date.now() - began) / 1000).toFixed(1)}s`;
  for (const sub of ["etcd", "redis", "logs", "certs"]) mkdirSync(join(stateDir, sub), { recursive: true });
  const logFile = (name: string) => join(stateDir, "logs", `${name}.log`);
  const launch = (name: string, binary: string, args: string[], env?: Record<string, string>) => {
    const proc = startProcess(name, binary, args, logFile(name), env);
    started.push(proc);
    return proc;
  };

  const pki = createPki(join(stateDir, "pki"));
  const ports: ClusterPorts = {
    etcdClient: await freeLoopbackPort(),
    etcdPeer: await freeLoopbackPort(),
    apiserver: await freeLoopbackPort(),
    controllerManager: await freeLoopbackPort(),
    kubeScheduler: await freeLoopbackPort(),
    kwok: await freeLoopbackPort(),
    redis: await freeLoopbackPort(),
  };
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
  const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;

  log(`[1/5] etcd on ${etcdUrl}, redis on 127.0.0.1:${ports.redis}`);
  const etcd = launch("etcd", tools.etcd, [
    "--name=local",
    `--data-dir=${join(stateDir, "etcd")}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=local=${peerUrl}`,
    // A throwaway test cluster: durability is not worth an fsync per write.
    "--unsafe-no-fsync",
    "--quota-backend-bytes=8589934592",
    "--log-level=warn",
  ]);
  launch("redis", tools.redisServer, [
    "--bind",
    "127.0.0.1",
    "--port",
    String(ports.redis),
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    join(stateDir, "redis"),
  ]);
  await waitFor(
    "etcd",
    async () => {
      if (!isRunning(etcd)) throw new Error("etcd exited");
      const res = await fetch(`${etcdUrl}/health`);
      return res.ok ? true : undefined;
    },
    30_000,
  );

  log(`[2/5] kube-apiserver on ${server} (${elapsed()})`);
  const auditPolicyFile = join(stateDir, "audit-policy.yaml");
  writeFileSync(auditPolicyFile, auditPolicy);
  const apiserver = launch("kube-apiserver", tools.kubeApiserver, [
    `--etcd-servers=${etcdUrl}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${ports.apiserver}`,
    `--cert-dir=${join(stateDir, "certs")}`,
    `--tls-cert-file=${pki.apiserverCert}`,
    `--tls-private-key-file=${pki.apiserverKey}`,
    `--client-ca-file=${pki.caCert}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    "--authorization-mode=Node,RBAC",
    "--service-cluster-ip-range=10.96.0.0/16",
    // The loopback advertise address cannot back the kubernetes Service's endpoints.
    "--endpoint-reconciler-type=none",
    "--allow-privileged=true",
    // Raised like scheduler_perf, so benchmarks measure schedulers rather than throttling.
    "--max-requests-inflight=3000",
    "--max-mutating-requests-inflight=1000",
    "--profiling=false",
    `--audit-policy-file=${auditPolicyFile}`,
    `--audit-log-path=${auditLogPath(stateDir)}`,
    // Written by a goroutine of its own, an event at a time: requests (benchmarks' binds) do not
    // wait for the file, and an event is in the file a moment after its request ended.
    "--audit-log-mode=batch",
    "--audit-log-maxsize=200",
    "--audit-log-maxbackup=1",
    ...workloadGateFlags(options.workloadGates, "kube-apiserver"),
    "--v=1",
  ]);
  const kube = adminClient({ server, pki } as ClusterState);
  try {
    await waitFor(
      "kube-apiserver /readyz",
      async () => {
        if (!isRunning(apiserver)) throw new Error("kube-apiserver exited");
        const res = await kube.call("GET", "/readyz");
        return res.status === 200 ? true : undefined;
      },
      90_000,
      250,
    );

    log(`[3/5] controllers, kwok${options.kubeScheduler ? ", kube-scheduler" : ""} (${elapsed()})`);
    const kubeconfigs = {
      admin: join(stateDir, "kubeconfig"),
      controllerManager: join(stateDir, "pki/controller-manager.kubeconfig"),
      scheduler: join(stateDir, "pki/scheduler.kubeconfig"),
      kwok: join(stateDir, "pki/kwok.kubeconfig"),
    };
    writeFileSync(kubeconfigs.admin, kubeconfigFor(pki, "admin", server), { mode: 0o600 });
    writeFileSync(kubeconfigs.controllerManager, kubeconfigFor(pki, "controller-manager", server));
    writeFileSync(kubeconfigs.scheduler, kubeconfigFor(pki, "scheduler", server));
    writeFileSync(kubeconfigs.kwok, kubeconfigFor(pki, "kwok", server));

    const nodeLeaseSeconds = options.nodeLeaseSeconds ?? defaultNodeLeaseSeconds;
    const controllerManager = launch("kube-controller-manager", tools.kubeControllerManager, [
      `--kubeconfig=${kubeconfigs.controllerManager}`,
      `--authentication-kubeconfig=${kubeconfigs.controllerManager}`,
      `--authorization-kubeconfig=${kubeconfigs.controllerManager}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${ports.controllerManager}`,
      `--cert-dir=${join(stateDir, "certs")}`,
      `--root-ca-file=${pki.caCert}`,
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--cluster-signing-cert-file=${pki.caCert}`,
      `--cluster-signing-key-file=${pki.caKey}`,
      "--use-service-account-credentials=true",
      "--leader-elect=false",
      "--kube-api-qps=1000",
      "--kube-api-burst=2000",
      // A node is NotReady when its Lease was not renewed for this long: past a Lease's duration.
      ...(nodeLeaseSeconds === defaultNodeLeaseSeconds
        ? []
        : [`--node-monitor-grace-period=${nodeLeaseSeconds + 10}s`]),
      ...workloadGateFlags(options.workloadGates, "kube-controller-manager"),
      "--v=1",
    ]);
    let kubeScheduler: ManagedProcess | undefined;
    if (options.kubeScheduler) {
      const config = join(stateDir, "pki/kube-scheduler.yaml");
      writeFileSync(
        config,
        [
          "apiVersion: kubescheduler.config.k8s.io/v1",
          "kind: KubeSchedulerConfiguration",
          "clientConnection:",
          `  kubeconfig: ${kubeconfigs.scheduler}`,
          // As scheduler_perf configures it.
          "  qps: 5000",
          "  burst: 10000",
          "leaderElection:",
          "  leaderElect: false",
          "",
        ].join("\n"),
      );
      kubeScheduler = launch("kube-scheduler", tools.kubeScheduler, [
        `--config=${config}`,
        `--authentication-kubeconfig=${kubeconfigs.scheduler}`,
        `--authorization-kubeconfig=${kubeconfigs.scheduler}`,
        "--bind-address=127.0.0.1",
        `--secure-port=${ports.kubeScheduler}`,
        `--cert-dir=${join(stateDir, "certs")}`,
        ...workloadGateFlags(options.workloadGates, "kube-scheduler"),
        "--v=1",
      ]);
    }
    mkdirSync(join(stateDir, "kwok"), { recursive: true });
    // Long node Leases (throughput clusters): the node status heartbeat as rare as their renewal,
    // or every node's status patch would come in one wave 5 minutes after the nodes came up.
    const stages = kwokStagesFile(
      {
        podLifecycle: options.podLifecycle ?? true,
        nodeHeartbeatSeconds: nodeLeaseSeconds === defaultNodeLeaseSeconds ? undefined : nodeLeaseSeconds / 4,
      },
      join(stateDir, "kwok"),
    );
    const kwok = launch(
      "kwok",
      tools.kwok,
      [
        `--kubeconfig=${kubeconfigs.kwok}`,
        // Since v0.8 kwok has no built-in stages: node and pod lifecycles come from this file.
        `--config=${stages}`,
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        `--server-address=127.0.0.1:${ports.kwok}`,
        // Pod IPs for nodes without spec.podCIDR; the default /24 runs out at 254 pods.
        "--cidr=10.0.0.0/16",
        // kwok renews a Lease per node, which keeps nodes Ready for the node lifecycle controller.
        `--node-lease-duration-seconds=${nodeLeaseSeconds}`,
        "--v=WARN",
      ],
      // Keeps kwok from loading a user's ~/.kwok/kwok.yaml.
      { KWOK_WORKDIR: join(stateDir, "kwok") },
    );

    log(`[4/5] creating ${options.nodes} fake nodes (${elapsed()})`);
    await createFakeNodes(kube, fakeNodeSpecs(options));

    log(`[5/5] waiting for nodes Ready, default ServiceAccount, schedulers healthy (${elapsed()})`);
    const alive = (...procs: (ManagedProcess | undefined)[]) => {
      for (const proc of procs) if (proc && !isRunning(proc)) throw new Error(`${proc.name} exited`);
    };
    let lastReady = -1;
    // Ready and untainted: until the node lifecycle controller has taken its not-ready taint off
    // every node, schedulers skip those nodes and the controller's writes land in whatever runs next.
    await waitFor(
      `${options.nodes} Ready nodes without the not-ready taint`,
      async () => {
        alive(kwok, apiserver, etcd);
        const { ready, tainted } = await fakeNodeReadiness(kube);
        if (ready.length !== lastReady && ready.length < options.nodes)
          log(`      ${ready.length}/${options.nodes} nodes Ready`);
        lastReady = ready.length;
        return ready.length >= options.nodes && tainted.length === 0 ? true : undefined;
      },
      // KWOK initializes nodes one status patch each, beside its Lease renewals: ~60 ms a node on 2 busy cores.
      Math.max(180_000, options.nodes * 60),
      500,
    );
    await waitFor(
      "the default ServiceAccount",
      async () => {
        alive(controllerManager);
        const res = await kube.call("GET", "/api/v1/namespaces/default/serviceaccounts/default");
        return res.status === 200 ? true : undefined;
      },
      60_000,
    );
    await waitFor(
      "kube-controller-manager /healthz",
      async () =>
        (await insecureHealth(`https://127.0.0.1:${ports.controllerManager}/healthz`)) ? true : undefined,
      60_000,
    );
    if (kubeScheduler) {
      await waitFor(
        "kube-scheduler /healthz",
        async () =>
          (await insecureHealth(`https://127.0.0.1:${ports.kubeScheduler}/healthz`)) ? true : undefined,
        60_000,
      );
    }
    await waitFor("redis", async () => ((await redisPing(ports.redis)) ? true : undefined), 30_000);

    const redisUrl = `redis://127.0.0.1:${ports.redis}`;
    writeFileSync(
      join(stateDir, "env"),
      [
        "# source this file: it points kubectl, helm and the tests at the local cluster",
        `export KUBECONFIG=${kubeconfigs.admin}`,
        `export REDIS_URL=${redisUrl}`,
        `export PATH=${tools.binDirs.join(":")}:$PATH`,
        "",
      ].join("\n"),
    );
    log(`ready in ${elapsed()}: ${options.nodes} nodes; source ${join(stateDir, "env")}`);
    return {
      stateDir,
      startedAt: new Date().toISOString(),
      server,
      kubeconfig: kubeconfigs.admin,
      redisUrl,
      ports,
      options,
      processes: started,
      pki,
    };
  } finally {
    kube.close();
  }
}

export function fakeNodeSpecs(
  options: Omit<ClusterOptions, "stateDir" | "kubeScheduler" | "workloadGates">,
): FakeNodeSpec[] {
  const width = String(options.nodes - 1).length;
  return Array.from({ length: options.nodes }, (_, i) => ({
    name: `kwok-node-${String(i).padStart(width, "0")}`,
    cpu: options.nodeCpu,
    memory: options.nodeMemory,
    pods: options.nodePods,
    gpus: options.nodeGpus,
    ...(options.zones > 0 ? { zone: `zone-${String.fromCharCode(97 + (i % options.zones))}` } : {}),
    ...((options.racks ?? 0) > 0
      ? { labels: { [rackLabel]: rackOf(i, options.nodes, options.racks ?? 1) } }
      : {}),
  }));
}

/** The rack label fake nodes carry when the cluster has racks. */
export const rackLabel = "topology.kubernetes.io/rack";

/** The rack of node i of n in r racks: consecutive nodes, rack sizes differing by at most one. */
export function rackOf(i: number, nodes: number, racks: number): string {
  const count = Math.max(1, Math.min(racks, nodes));
  return `rack-${String(Math.floor((i * count) / nodes)).padStart(String(count - 1).length, "0")}`;
}

async function redisPing(port: number): Promise<boolean> {
  return new Promise((resolvePing) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => socket.write("PING\r\n"));
    socket.setTimeout(1_000, () => socket.destroy());
    socket.on("data", (data) => {
      resolvePing(data.toString().startsWith("+PONG"));
      socket.destroy();
    });
    socket.on("error", () => resolvePing(false));
    socket.on("close", () => resolvePing(false));
  });
}

/** Stops exactly the processes `up` recorded, newest first, then removes the state folder. */
export async function down(stateDir: string, log: Log): Promise<void> {
  const state = readState(stateDir);
  if (!state) {
    if (existsSync(stateDir)) rmSync(stateDir, { recursive: true, force: true });
    log(`no cluster recorded in ${stateDir}`);
    return;
  }
  const unlock = lock(stateDir);
  try {
    for (const proc of [...state.processes].reverse()) {
      if (isRunning(proc)) log(`stopping ${proc.name} (pid ${proc.pid})`);
      await stopProcess(proc);
    }
  } finally {
    unlock();
  }
  rmSync(stateDir, { recursive: true, force: true });
  log("cluster stopped and its state removed");
}

/** Stops one component of a running cluster (e.g. kube-scheduler, kube-apiserver); restart it with startComponent. */
export async function stopComponent(stateDir: string, name: string): Promise<ManagedProcess> {
  const state = readState(stateDir);
  const proc = state?.processes.find((p) => p.name === name);
  if (!state || !proc) throw new Error(`no component "${name}" in the cluster in ${stateDir}`);
  await stopProcess(proc);
  return proc;
}

/**
 * Starts a stopped component again with the arguments it had (plus extraArgs for this run only,
 * e.g. a feature gate), and records its new PID.
 */
export function startComponent(stateDir: string, name: string, extraArgs: string[] = []): ManagedProcess {
  const state = readState(stateDir);
  const index = state?.processes.findIndex((p) => p.name === name) ?? -1;
  const previous = state?.processes[index];
  if (!state || !previous) throw new Error(`no component "${name}" in the cluster in ${stateDir}`);
  if (isRunning(previous)) return previous;
  const args = [...previous.args, ...extraArgs];
  const proc = {
    ...startProcess(previous.name, previous.binary, args, previous.log, previous.env),
    args: previous.args,
  };
  state.processes[index] = proc;
  writeState(state);
  return proc;
}

export interface ClusterStatus {
  healthy: boolean;
  processes: { name: string; pid: number; running: boolean }[];
  apiserverReady: boolean;
  readyNodes?: number;
  state?: ClusterState;
}

export async function status(stateDir: string): Promise<ClusterStatus> {
  const state = readState(stateDir);
  if (!state) return { healthy: false, processes: [], apiserverReady: false };
  const processes = state.processes.map((proc) => ({
    name: proc.name,
    pid: proc.pid,
    running: isRunning(proc),
  }));
  let apiserverReady = false;
  let readyNodes: number | undefined;
  const kube = adminClient(state);
  try {
    apiserverReady = (await kube.call("GET", "/readyz")).status === 200;
    if (apiserverReady) readyNodes = (await readyFakeNodes(kube)).length;
  } catch {
    apiserverReady = false;
  } finally {
    kube.close();
  }
  return {
    healthy: apiserverReady && processes.every((proc) => proc.running),
    processes,
    apiserverReady,
    ...(readyNodes === undefined ? {} : { readyNodes }),
    state,
  };
}

export function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
