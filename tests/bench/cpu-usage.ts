/**
 * Where the CPU time goes during a measured span: CPU seconds per component (from
 * /proc/<pid>/stat, user + system time) and how busy the whole machine was (from /proc/stat).
 * Components are recognized by executable name; shards by their entry script.
 */
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/** Clock ticks per second of /proc times (USER_HZ; 100 on Linux). */
const ticksPerSecond = 100;

export interface CpuUsage {
  /** CPU seconds used in the span, by component. */
  cpuSeconds: Record<string, number>;
  /** Share of all cores' time that was busy, in percent. */
  machineBusyPercent: number;
  cores: number;
}

interface Sample {
  /** pid → [component, ticks]. */
  processes: Map<number, [string, number]>;
  busy: number;
  total: number;
}

function componentOf(pid: number, scope: string | undefined): string | undefined {
  if (pid === process.pid) return "bench harness";
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  if (scope !== undefined && !cmdline.some((arg) => arg.includes(`${scope}/`))) return undefined;
  const exe = (cmdline[0] ?? "").split("/").pop() ?? "";
  if (cmdline.some((arg) => arg.endsWith("scheduler/dist/cli.js"))) return "sharded-scheduler";
  const known = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "redis-server",
    "noop-binder",
  ];
  return known.find((name) => exe === name || exe.startsWith(`${name}:`));
}

function sample(scope: string | undefined): Sample {
  const processes = new Map<number, [string, number]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const component = componentOf(pid, scope);
      if (!component) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Fields after the command: state(0) … utime(11) stime(12).
      processes.set(pid, [component, Number(fields[11]) + Number(fields[12])]);
    } catch {
      // The process ended while we looked.
    }
  }
  return { processes, ...machineTicks() };
}

/** How busy the whole machine was between two readings, in percent of all cores. */
function busyPercent(start: { busy: number; total: number }, end: { busy: number; total: number }): number {
  const total = end.total - start.total;
  return total > 0 ? ((end.busy - start.busy) / total) * 100 : 0;
}

/** The whole machine's busy and total ticks so far, from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const cpu = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").split(/\s+/).slice(1).map(Number);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  const total = cpu.reduce((sum, value) => sum + value, 0);
  return { busy: total - idle, total };
}

/**
 * Starts measuring; the returned function ends the span and reports it. scope (a local cluster's
 * state folder): only processes whose command line names a path in it count — every component
 * of that cluster and the systems run against it do — so another cluster on the same machine
 * (another checkout's) is not taken for this one. machineBusyPercent is the whole machine's.
 */
export function measureCpu(scope?: string): () => CpuUsage {
  const start = sample(scope);
  return () => {
    const end = sample(scope);
    const cpuSeconds: Record<string, number> = {};
    for (const [pid, [component, ticks]] of end.processes) {
      const before = start.processes.get(pid)?.[1] ?? 0;
      cpuSeconds[component] = (cpuSeconds[component] ?? 0) + (ticks - before) / ticksPerSecond;
    }
    for (const key of Object.keys(cpuSeconds)) cpuSeconds[key] = Math.round((cpuSeconds[key] ?? 0) * 10) / 10;
    return {
      cpuSeconds,
      machineBusyPercent: Math.round(busyPercent(start, end) * 10) / 10,
      cores: availableParallelism(),
    };
  };
}

/** What a quiet machine is, for waitUntilQuiet. */
export interface Quiet {
  /** The whole machine busier than this share of all cores (percent) is not quiet. */
  busyBelowPercent: number;
  /** Quiet this long in a row (whole seconds, one sample each). */
  forSeconds: number;
  /** Given up after this long: measured anyway. */
  boundSeconds: number;
}

/**
 * The machine quiet before a run's clock starts: work the cluster still does for what came before
 * (the controllers and KWOK reading the previous run's deletions and this run's creations from
 * their watches) would otherwise fall inside the next run's window, in some runs and not others.
 * Resolves with the seconds waited and whether the machine got quiet.
 */
export async function waitUntilQuiet(
  quiet: Quiet,
  sampleSecond: () => Promise<number> = busyPercentOverASecond,
): Promise<{ waitedSeconds: number; quiet: boolean }> {
  let inARow = 0;
  for (let second = 1; second <= quiet.boundSeconds; second++) {
    inARow = (await sampleSecond()) < quiet.busyBelowPercent ? inARow + 1 : 0;
    if (inARow >= quiet.forSeconds) return { waitedSeconds: second, quiet: true };
  }
  return { waitedSeconds: quiet.boundSeconds, quiet: false };
}

/** How busy the whole machine was over the next second, in percent of all cores. */
async function busyPercentOverASecond(): Promise<number> {
  const start = machineTicks();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  return busyPercent(start, machineTicks());
}
