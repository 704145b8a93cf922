/**
 * The KWOK stages a local cluster runs (tests/cluster/kwok/stages.yaml), with or without the pod
 * lifecycle. Without it, a bound pod stays Pending: KWOK writes no status patch for it (the
 * one write per pod a real kubelet makes when the pod starts), so a benchmark's API server serves
 * only what the scheduler under test writes. Nodes still initialize and heartbeat, and deleted
 * pods are still finished (finalizers dropped, then deleted).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clusterToolDir } from "./layout.js";

export const kwokStagesPath = join(clusterToolDir, "kwok/stages.yaml");

/** The stages that move a bound pod on (Pending → Running → Succeeded): each is a status patch per pod. */
export const podLifecycleStages: readonly string[] = ["pod-ready", "pod-complete-after"];

/** The stages file's text without the named stages (YAML documents split on `---` lines). */
export function withoutStages(text: string, names: readonly string[]): string {
  const documents = text.split(/^---$/m);
  const nameOf = (document: string) => /^metadata:\n\s+name:\s*(\S+)/m.exec(document)?.[1];
  return documents
    .filter((document) => {
      const name = nameOf(document);
      return name === undefined || !names.includes(name);
    })
    .join("---");
}

/** The stages file for kwok's --config: the repository's, or (no pod lifecycle) a copy without it in dir. */
export function kwokStagesFile(podLifecycle: boolean, dir: string): string {
  if (podLifecycle) return kwokStagesPath;
  const path = join(dir, "stages-without-pod-lifecycle.yaml");
  writeFileSync(path, withoutStages(readFileSync(kwokStagesPath, "utf8"), podLifecycleStages));
  return path;
}
