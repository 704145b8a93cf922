/**
 * Resident memory of the processes under test, from /proc/<pid>/status: VmRSS (now) and VmHWM
 * (the peak since the process started). Read at the end of a run, before the system stops.
 */
import { readFileSync } from "node:fs";

export interface ProcessMemory {
  /** e.g. sharded-scheduler-0, kube-scheduler, noop-binder. */
  process: string;
  rssMiB: number;
  peakRssMiB: number;
}

const mebibytes = (kilobytes: number) => Math.round((kilobytes / 1024) * 10) / 10;

/** undefined when the process is gone (or not on Linux). */
export function processMemory(process: string, pid: number): ProcessMemory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kilobytes = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  const rss = kilobytes("VmRSS");
  const peak = kilobytes("VmHWM");
  if (!Number.isFinite(rss) || !Number.isFinite(peak)) return undefined;
  return { process, rssMiB: mebibytes(rss), peakRssMiB: mebibytes(peak) };
}

/** The processes that answered, in the given order. */
export function processesMemory(processes: readonly { name: string; pid: number }[]): ProcessMemory[] {
  return processes.flatMap(({ name, pid }) => processMemory(name, pid) ?? []);
}
