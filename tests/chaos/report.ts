/**
 * How a chaos run is shown: a table for people, one JSON line for programs, and a summary in
 * the test reports' format (each invariant and each fault is one check) for the test command.
 */
import { type ViolationKind, violationKinds } from "../checker/invariant-ledger.js";
import type { ChaosResult } from "./run.js";

/**
 * Invariants a run reports but does not fail on (--known-failing): an open bug the suite found,
 * shown as KNOWN in the table and counted as skipped, never as passed, in the test report.
 */
export type KnownFailing = readonly ViolationKind[];

/** The run failed: a violation (other than a known-failing one), or a fault not verified as injected. */
export function failed(result: ChaosResult, known: KnownFailing = []): boolean {
  return (
    violationKinds.some((kind) => result.violations[kind] > 0 && !known.includes(kind)) ||
    result.faults.some((fault) => !fault.verified) ||
    result.faults.length === 0
  );
}

export function resultTable(result: ChaosResult, known: KnownFailing = []): string {
  const lines: string[] = [];
  const row = (label: string, value: string | number) => lines.push(`  ${label.padEnd(26)} ${value}`);
  lines.push(`chaos run, seed ${result.seed}, ${result.durationSeconds}s`);
  lines.push("faults");
  for (const fault of result.faults) {
    const seconds = ((fault.endedAt - fault.startedAt) / 1000).toFixed(1);
    lines.push(
      `  ${fault.verified ? "ok  " : "FAIL"} ${fault.fault.padEnd(24)} ${seconds.padStart(6)}s  ${fault.target}: ${fault.evidence}`,
    );
  }
  lines.push("load");
  const load = result.workload;
  row(
    "jobs created",
    `${load.jobsCreated} (${load.gangJobs} gangs, ${load.soloJobs} solo, ${load.growingGroups} growing groups)`,
  );
  row(
    "gated gangs",
    `${load.gatedGangs} (${load.podsUngated} gates lifted; ${result.gatedPods} pods seen gated)`,
  );
  row(
    "PodGroup gangs",
    `${load.nativePodGroups} native, ${load.schedulerPluginsPodGroups} scheduler-plugins, ${load.volcanoPodGroups} Volcano`,
  );
  row("growing groups grown", `${load.groupsGrown} (${load.groupsGrownRunning} while running)`);
  row(
    "mixed-priority gangs",
    `${load.mixedPriorityGangs} (${result.mixedPriorityGroups} seen; ${result.mixedPriorityBinds} pods bound while their members disagreed)`,
  );
  row(
    "constrained workloads",
    `${load.constrainedWorkloads} (${load.antiAffinityDeployments} anti-affinity and ${load.spreadDeployments} spread Deployments, ` +
      `${load.hostPortJobs} host-port and ${load.volumeJobs} volume Jobs, ${load.rackGangs} rack gangs)`,
  );
  row("pods created", result.podsCreated);
  row("pods bound", result.podsBound);
  row("pending at the end", result.pendingAtEnd);
  row("evictions (preemption)", result.evictions);
  row("preemptors displaced", `${result.preemptorsDisplaced} (a higher priority took their room first)`);
  row("handoffs / lends", `${result.handoffs} / ${result.lends}`);
  row("gang rollbacks", `${result.gangRollbacks} (GangRollback Events)`);
  row("create errors", result.workload.createErrors);
  lines.push("invariants");
  for (const kind of violationKinds)
    row(
      kind,
      result.violations[kind] === 0
        ? "0"
        : `${result.violations[kind]}  ${known.includes(kind) ? "VIOLATED (known, not failing the run)" : "VIOLATED"}`,
    );
  lines.push("checker");
  row("binds not judged", `${result.unverifiableBinds} (their ring epoch was never seen)`);
  row("watch restarts", result.checkerWatchRestarts);
  row(
    "PodGroups read",
    `${result.checkerPodGroups.native} native, ${result.checkerPodGroups.crd} of the CRDs`,
  );
  for (const example of result.examples) lines.push(`  ${example.kind}: ${example.detail}`);
  const knownSeen = known.filter((kind) => result.violations[kind] > 0);
  lines.push(
    failed(result, known)
      ? "FAILED"
      : `passed: ${result.faultsInjected} faults survived, ` +
          (knownSeen.length === 0 ? "no violation" : `no violation but the known ${knownSeen.join(", ")}`),
  );
  return lines.join("\n");
}

/** The run as the test command's reports count it: one check per invariant and per fault. */
export function testReport(result: ChaosResult, known: KnownFailing = []): Record<string, unknown> {
  const judged = violationKinds.filter((kind) => !(known.includes(kind) && result.violations[kind] > 0));
  const checks = [
    ...judged.map((kind) => result.violations[kind] === 0),
    ...result.faults.map((fault) => fault.verified),
  ];
  return {
    numPassedTests: checks.filter(Boolean).length,
    numFailedTests: checks.filter((ok) => !ok).length + (result.faults.length === 0 ? 1 : 0),
    numPendingTests: violationKinds.length - judged.length,
    chaos: result,
  };
}
