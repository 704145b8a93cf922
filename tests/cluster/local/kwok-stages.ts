/**
 * The KWOK stages a local cluster runs (tests/cluster/kwok/stages.yaml), with or without the pod
 * lifecycle. Without it, a bound pod stays Pending: KWOK writes no status patch for it (the
 * one write per pod a real kubelet makes when the pod starts), so a benchmark's API server serves
 * only what the scheduler under test writes. Nodes still initialize and heartbeat, and deleted
 * pods are still finished (finalizers dropped, then deleted). A throughput cluster also spaces
 * the node heartbeat out as far as its node Leases' renewal (see local-cluster.ts).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clusterToolDir } from "./layout.js";

export const kwokStagesPath = join(clusterToolDir, "kwok/stages.yaml");

/** The stages that move a bound pod on (Pending → Running → Succeeded): each is a status patch per pod. */
export const podLifecycleStages: readonly string[] = ["pod-ready", "pod-complete-after"];

/** The stages file's YAML documents (split on `---` lines), each with its stage's name. */
function stageDocuments(text: string): { document: string; name: string | undefined }[] {
  return text.split(/^---$/m).map((document) => ({
    document,
    name: /^metadata:\n\s+name:\s*(\S+)/m.exec(document)?.[1],
  }));
}

/** The stages file's text without the named stages. */
export function withoutStages(text: string, names: readonly string[]): string {
  return stageDocuments(text)
    .filter(({ name }) => name === undefined || !names.includes(name))
    .map(({ document }) => document)
    .join("---");
}

/**
 * The stages file's text with the node heartbeat (a status patch per node, the kubelet's
 * 5-minute report) every `seconds` instead, give or take a fifth.
 */
export function withNodeHeartbeat(text: string, seconds: number): string {
  return stageDocuments(text)
    .map(({ document, name }) =>
      name === "node-heartbeat"
        ? document
            .replace(/^(\s+durationMilliseconds:) \d+$/m, `$1 ${seconds * 1000}`)
            .replace(/^(\s+jitterDurationMilliseconds:) \d+$/m, `$1 ${Math.round(seconds * 1200)}`)
        : document,
    )
    .join("---");
}

/**
 * The stages file for kwok's --config: the repository's, or a copy in dir without the pod
 * lifecycle and/or with the node heartbeat every `nodeHeartbeatSeconds`.
 */
export function kwokStagesFile(
  options: { podLifecycle: boolean; nodeHeartbeatSeconds?: number | undefined },
  dir: string,
): string {
  const { podLifecycle, nodeHeartbeatSeconds } = options;
  if (podLifecycle && nodeHeartbeatSeconds === undefined) return kwokStagesPath;
  let text = readFileSync(kwokStagesPath, "utf8");
  if (!podLifecycle) text = withoutStages(text, podLifecycleStages);
  if (nodeHeartbeatSeconds !== undefined) text = withNodeHeartbeat(text, nodeHeartbeatSeconds);
  const path = join(dir, "stages.yaml");
  writeFileSync(path, text);
  return path;
}
