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
    const stat = readFileSync(`/proc/${proc.pid}/stat`, "utf8");
    // A zombie (state Z) has exited; only its parent has not reaped it yet.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    // Compare executables, not argv: some programs (redis) rewrite their command line.
    const exe = readlinkSync(`/proc/${proc.pid}/exe`).replace(/ \(deleted\)$/, "");
    return exe === realpathSync(proc.binary) && state !== "Z";
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after the grace period; resolves once the process is gone. */
export async function stopProcess(proc: ManagedProcess, graceMs = 10_000): Promise<void> {
  if (!isRunning(proc)) return;
  signal(proc.pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (isRunning(proc) && Date.now() < deadline) await sleep(100);
  if (isRunning(proc)) {
    signal(proc.pid, "SIGKILL");
    while (isRunning(proc)) await sleep(50);
  }
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

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolvePort(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}
