/**
 * For reading a lostPods violation where only the run's output survives (CI): the last lines
 * the shards and coordinators logged about a group, merged in time order, and what each
 * shard's last capacity summary said of it.
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
  for (const file of readdirSync(runDir).filter((name) => name.endsWith(".log"))) {
    const source = file.replace(/\.log$/, "");
    for (const raw of readFileSync(join(runDir, file), "utf8").split("\n")) {
      if (!raw.includes(group)) continue;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(raw);
      } catch {
        continue;
      }
      if (entry.group !== group) continue;
      const time = Number(entry.time);
      if (entry.msg === dropped) {
        const seen = drops.get(source) ?? { count: 0, last: 0, epoch: undefined };
        seen.count++;
        if (seen.last <= time) Object.assign(seen, { last: time, epoch: entry.epoch });
        drops.set(source, seen);
        continue;
      }
      const details = Object.entries(entry)
        .filter(([key]) => !shown.has(key))
        .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
        .join(" ");
      lines.push({ time, source, text: `${entry.msg}${details ? ` ${details}` : ""}` });
    }
  }
  lines.sort((a, b) => a.time - b.time);
  const kept = lines.slice(-limit);
  return [
    ...(lines.length > kept.length ? [`(${lines.length - kept.length} earlier line(s) left out)`] : []),
    ...kept.map(({ time, source, text }) => `${clock(time)} ${source}: ${text}`),
    ...[...drops].map(
      ([source, { count, last, epoch }]) =>
        `${source} dropped it as another shard's ${count} time(s), last at ${clock(last)} (epoch ${epoch})`,
    ),
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
