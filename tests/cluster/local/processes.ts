import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** A process the local cluster started, recorded so that `down` stops exactly it. */
export interface ManagedProcess {
  name: string;
  pid: number;
  binary: string;
  args: string[];
  log: string;
  /** Extra environment it was started with (restarts reuse it). */
  env?: Record<string, string>;
}

/** Starts a binary detached from this process (it outlives the CLI), logging to a file. */
export function startProcess(
  name: string,
  binary: string,
  args: string[],
  log: string,
  env: Record<string, string> = {},
): ManagedProcess {
  if (!existsSync(binary)) {
    throw new Error(`${name}: ${binary} is missing; run \`npm run tools\` to build the control plane`);
  }
  const fd = openSync(log, "a");
  const child = spawn(binary, args, {
    detached: true,
    stdio: ["ignore", fd, fd],
    env: { ...process.env, ...env },
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${binary}`);
  child.unref();
  return { name, pid: child.pid, binary, args, log, ...(Object.keys(env).length > 0 ? { env } : {}) };
}

/** True when the PID is alive and still runs the recorded binary (PIDs get reused). */
export function isRunning(proc: Pick<ManagedProcess, "pid" | "binary">): boolean {
  try {
    process.kill(proc.pid, 0);
  } catch {
    return false;
  }
  try {
    // Compare executables, not argv: some programs (redis) rewrite their command line.
    const exe = readlinkSync(`/proc/${proc.pid}/exe`).replace(/ \(deleted\)$/, "");
    const state = processState(proc.pid);
    // A zombie (state Z) has exited; only its parent has not reaped it yet.
    return exe === realpathSync(proc.binary) && state !== undefined && state !== "Z";
  } catch {
    return false;
  }
}

/** The state letter of /proc/<pid>/stat (R, S, D, T stopped, Z zombie…), or undefined once gone. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name in parentheses may itself contain spaces or parentheses.
    return stat.charAt(stat.lastIndexOf(")") + 2);
  } catch {
    return undefined;
  }
}

/** SIGTERM, then SIGKILL after the grace period; resolves once the process is gone. */
export async function stopProcess(proc: ManagedProcess, graceMs = 10_000): Promise<void> {
  if (!isRunning(proc)) return;
  signal(proc.pid, "SIGTERM");
  // A stopped process (SIGSTOP) acts on SIGTERM only once continued.
  signal(proc.pid, "SIGCONT");
  const deadline = Date.now() + graceMs;
  while (isRunning(proc) && Date.now() < deadline) await sleep(100);
  if (isRunning(proc)) {
    signal(proc.pid, "SIGKILL");
    while (isRunning(proc)) await sleep(50);
  }
}

export type ProcessStatus = "running" | "stopped" | "exited";

/** Whether a managed process runs, is stopped (SIGSTOP) or has exited. */
export function processStatus(proc: Pick<ManagedProcess, "pid" | "binary">): ProcessStatus {
  if (!isRunning(proc)) return "exited";
  return processState(proc.pid) === "T" ? "stopped" : "running";
}

/** What SIGKILL, SIGSTOP and SIGCONT must have done to a process. */
const statusAfter = { SIGKILL: "exited", SIGSTOP: "stopped", SIGCONT: "running" } as const;

/** Sends SIGKILL, SIGSTOP or SIGCONT and waits (up to timeoutMs) until the process shows it. */
export async function signalAndConfirm(
  proc: Pick<ManagedProcess, "pid" | "binary">,
  sig: keyof typeof statusAfter,
  timeoutMs = 10_000,
): Promise<ProcessStatus> {
  signal(proc.pid, sig);
  const expected = statusAfter[sig];
  const deadline = Date.now() + timeoutMs;
  while (processStatus(proc) !== expected) {
    if (Date.now() > deadline)
      throw new Error(`pid ${proc.pid} is not ${expected} ${timeoutMs} ms after ${sig}`);
    await sleep(50);
  }
  return expected;
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    // Each process leads its own group (detached), so children go too.
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

const portsHandedOut = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now, and not one this process handed
 * out before: the kernel may offer a port again as soon as it is closed, before its taker binds.
 * Chosen below the kernel's ephemeral range (net.ipv4.ip_local_port_range), where no outgoing
 * connection takes it meanwhile: a port the kernel picked for listen(0) comes from that range,
 * and a chaos run's shard once found its metrics port taken by a client socket between the
 * choice and its own listen (EADDRINUSE).
 */
export async function freeLoopbackPort(): Promise<number> {
  const [low, high] = listenPortRange();
  for (let tries = 0; ; tries++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (portsHandedOut.has(port)) continue;
    if (!(await listensOn(port))) {
      if (tries > 1000) throw new Error(`no free port in ${low}-${high}`);
      continue;
    }
    portsHandedOut.add(port);
    return port;
  }
}

/** Ports for servers: from 10000 to just below the ephemeral range (else 10000–32767). */
export function listenPortRange(): [number, number] {
  let ephemeralLow = 32768;
  try {
    const [first] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    const parsed = Number(first);
    if (Number.isInteger(parsed) && parsed > 11_000) ephemeralLow = parsed;
  } catch {
    // Not Linux: the IANA dynamic range starts higher still.
  }
  return [10_000, ephemeralLow - 1];
}

/** True when this process could listen on the port (and closed it again). */
function listensOn(port: number): Promise<boolean> {
  return new Promise((resolveListen) => {
    const server = createServer();
    server.unref();
    server.on("error", () => resolveListen(false));
    server.listen(port, "127.0.0.1", () => {
      server.close(() => resolveListen(true));
    });
  });
}
