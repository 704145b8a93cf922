/**
 * For reading a violation where only the run's output survives (CI): the last lines the shards
 * and coordinators logged about a group (a lostPods violation) or about the pods and nodes a
 * violation names, merged in time order, and what each shard's last capacity summary said of it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface LogLine {
  time: number;
  source: string;
  text: string;
}

/** Fields already shown elsewhere in a traced line. */
const shown = new Set(["level", "time", "pid", "hostname", "msg", "group", "shard", "coordinator"]);

/** Logged by every shard each time a pod of a group it does not own changes: summed up, not listed. */
const dropped = "not this shard's group; dropped";

/**
 * The last `limit` log lines (pino JSON) of the run's .log files whose `group` is the group's
 * id, then, per shard, how often and when last it dropped the group as another shard's.
 */
export function groupLogTrace(runDir: string, group: string, limit = 30): string[] {
  const lines: LogLine[] = [];
  const drops = new Map<string, { count: number; last: number; epoch: unknown }>();
  for (const { source, entry } of logEntries(runDir, (raw) => raw.includes(group))) {
    if (entry.group !== group) continue;
    const time = Number(entry.time);
    if (entry.msg === dropped) {
      const seen = drops.get(source) ?? { count: 0, last: 0, epoch: undefined };
      seen.count++;
      if (seen.last <= time) Object.assign(seen, { last: time, epoch: entry.epoch });
      drops.set(source, seen);
      continue;
    }
    lines.push({ time, source, text: described(entry) });
  }
  return [
    ...lastLines(lines, limit),
    ...[...drops].map(
      ([source, { count, last, epoch }]) =>
        `${source} dropped it as another shard's ${count} time(s), last at ${clock(last)} (epoch ${epoch})`,
    ),
  ];
}

/**
 * For reading any other violation from the run's output alone: the last `limit` log lines of
 * the run up to a second after the violation (`at`) that name what its detail names — the pods'
 * groups (a pod name less its generated suffix: `ns/gang-00136-r8xct` → `ns/gang-00136`) and the
 * nodes (`kwok-node-17`, quoted, so `kwok-node-170` is not taken for it) — in time order.
 */
export function violationLogTrace(runDir: string, detail: string, at: number, limit = 40): string[] {
  const named = new Set<string>();
  for (const [, key] of detail.matchAll(/\b([a-z0-9-]+\/[a-z0-9.-]+)-[a-z0-9]{5}\b/g))
    named.add(key as string);
  for (const [node] of detail.matchAll(/\bkwok-node-\d+\b/g)) named.add(`"${node}"`);
  if (named.size === 0) return [];
  const lines: LogLine[] = [];
  for (const { source, entry } of logEntries(runDir, (raw) =>
    [...named].some((word) => raw.includes(word)),
  )) {
    if (entry.msg === dropped || Number(entry.time) > at + 1_000) continue;
    const group = typeof entry.group === "string" ? ` group=${entry.group}` : "";
    lines.push({ time: Number(entry.time), source, text: `${described(entry)}${group}` });
  }
  return lastLines(lines, limit);
}

/** How long a group waited from its first preemption to its first bind decision (or the end). */
export interface PreemptionWait {
  readonly group: string;
  readonly preemptedAt: number;
  /** Undefined: not bound by the end of the logs. */
  readonly boundAt: number | undefined;
  readonly waitMs: number;
}

/**
 * For every group a shard preempted for: from its first "preempting" line to the first bind
 * decision any shard logged for it after that (victims leaving, the room won kept or lost, the
 * group moved by the coordinator meanwhile) — or to `end`, when none came. Slowest first.
 */
export function preemptionWaits(runDir: string, end: number): PreemptionWait[] {
  const preempted = new Map<string, number>();
  const binds = new Map<string, number[]>();
  for (const { entry } of logEntries(
    runDir,
    (raw) => raw.includes('"preempting"') || raw.includes('"decision":"bind"'),
  )) {
    const group = entry.group;
    const time = Number(entry.time);
    if (typeof group !== "string" || !Number.isFinite(time)) continue;
    if (entry.msg === "preempting") preempted.set(group, Math.min(preempted.get(group) ?? time, time));
    else if (entry.msg === "decision" && entry.decision === "bind") {
      const times = binds.get(group) ?? [];
      times.push(time);
      binds.set(group, times);
    }
  }
  return [...preempted]
    .map(([group, preemptedAt]) => {
      // Binds before it (a growing group's earlier members) do not count.
      const after = (binds.get(group) ?? []).filter((time) => time >= preemptedAt);
      const boundAt = after.length > 0 ? Math.min(...after) : undefined;
      return { group, preemptedAt, boundAt, waitMs: (boundAt ?? end) - preemptedAt };
    })
    .sort((a, b) => b.waitMs - a.waitMs || (a.group < b.group ? -1 : 1));
}

/** The waits in a line: how many, median, 90th percentile and the slowest. */
export function preemptionWaitSummary(waits: readonly PreemptionWait[]): string {
  if (waits.length === 0) return "no group preempted";
  const sorted = waits.map((wait) => wait.waitMs).sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const slowest = waits[0] as PreemptionWait;
  const unbound = waits.filter((wait) => wait.boundAt === undefined).length;
  return (
    `${waits.length} group(s) preempted; first preemption to first bind: median ${seconds(at(0.5))}, ` +
    `p90 ${seconds(at(0.9))}, slowest ${seconds(slowest.waitMs)} (${slowest.group}` +
    `${slowest.boundAt === undefined ? ", not bound" : ""})${unbound > 0 ? `; ${unbound} not bound by the end` : ""}`
  );
}

/** The pino JSON entries of the run's .log files whose raw line `mentions` accepts, by source (the file's name). */
function logEntries(
  runDir: string,
  mentions: (raw: string) => boolean,
): { source: string; entry: Record<string, unknown> }[] {
  const found: { source: string; entry: Record<string, unknown> }[] = [];
  for (const file of readdirSync(runDir).filter((name) => name.endsWith(".log"))) {
    const source = file.replace(/\.log$/, "");
    for (const raw of readFileSync(join(runDir, file), "utf8").split("\n")) {
      if (!mentions(raw)) continue;
      try {
        found.push({ source, entry: JSON.parse(raw) });
      } catch {
        // Not a log entry (a line the process printed otherwise).
      }
    }
  }
  return found;
}

/** A log line as `msg key=value …`, without the fields shown elsewhere. */
function described(entry: Record<string, unknown>): string {
  const details = Object.entries(entry)
    .filter(([key]) => !shown.has(key))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
  return `${entry.msg}${details ? ` ${details}` : ""}`;
}

/** The last `limit` lines in time order, saying how many earlier ones were left out. */
function lastLines(lines: LogLine[], limit: number): string[] {
  lines.sort((a, b) => a.time - b.time);
  const kept = lines.slice(-limit);
  return [
    ...(lines.length > kept.length ? [`(${lines.length - kept.length} earlier line(s) left out)`] : []),
    ...kept.map(({ time, source, text }) => `${clock(time)} ${source}: ${text}`),
  ];
}

const clock = (time: number) => new Date(time).toISOString().slice(11, 23);

/** Which shards' last capacity summaries report the group stuck, and since when. */
export function stuckReports(summaries: readonly unknown[], group: string): string[] {
  const reports: string[] = [];
  for (const summary of summaries as {
    shard?: string;
    publishedAt?: number;
    stuck?: { id: string; since: number }[];
  }[]) {
    const report = summary.stuck?.find((stuck) => stuck.id === group);
    if (report && summary.publishedAt !== undefined)
      reports.push(
        `${summary.shard} reports it stuck for ${Math.round((summary.publishedAt - report.since) / 1000)} s`,
      );
  }
  return reports;
}

/**
 * Whether the coordinators were at work at the end: for each coordinator log, its last line and
 * its last word on leadership.
 */
export function coordinatorActivity(runDir: string): string[] {
  const lines: string[] = [];
  for (const file of readdirSync(runDir).filter((name) => /coordinator.*\.log$/.test(name))) {
    let last: Record<string, unknown> | undefined;
    let leadership: Record<string, unknown> | undefined;
    for (const raw of readFileSync(join(runDir, file), "utf8").split("\n")) {
      if (!raw.startsWith("{")) continue;
      try {
        last = JSON.parse(raw);
      } catch {
        continue;
      }
      if (/lead|standing by/i.test(String(last?.msg))) leadership = last;
    }
    const said = (entry: Record<string, unknown> | undefined) =>
      entry === undefined ? "nothing" : `"${entry.msg}" at ${clock(Number(entry.time))}`;
    lines.push(`${file.replace(/\.log$/, "")}: last ${said(last)}; on leadership ${said(leadership)}`);
  }
  return lines;
}
