/**
 * Why a pod or group could not be placed, in kube-scheduler's words:
 * "0/5 nodes are available: 2 node(s) had untolerated taint(s), 3 Insufficient cpu."
 * Users and tools grep for that text, so the format follows kube-scheduler's.
 */
import type { Status } from "./framework.js";

export const otherShardReason = "node(s) are owned by other shards";

export class Diagnosis {
  private readonly reasons = new Map<string, number>();
  private readonly rejectingPlugins = new Set<string>();
  private hopeless: Set<string> | undefined;
  private resolvable = false;
  /** A PreFilter's rejection, which holds on every node: the message is its reasons alone. */
  private preFilterReasons: readonly string[] | undefined;

  /** Counts one node the named plugin rejected, with all of its reasons. */
  reject(plugin: string, status: Status, nodeName?: string): void {
    this.rejectingPlugins.add(plugin);
    if (status.code === "Unschedulable") this.resolvable = true;
    for (const reason of status.reasons) this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
    if (nodeName !== undefined && status.code === "UnschedulableAndUnresolvable") {
      this.hopeless ??= new Set();
      this.hopeless.add(nodeName);
    }
  }

  /**
   * A PreFilter rejected the pod on every node (each still counted by reject): the message then
   * gives its reasons without node counts, as kube-scheduler's PreFilterMsg, and whatever else
   * is counted (nodes owned by other shards, none owned at all) cannot hide them.
   */
  rejectAll(plugin: string, status: Status, nodeNames: Iterable<string>): void {
    this.rejectingPlugins.add(plugin);
    this.preFilterReasons ??= status.reasons;
    for (const name of nodeNames) this.reject(plugin, status, name);
  }

  /**
   * The filter plugins that rejected at least one node, sorted (kube-scheduler's
   * UnschedulablePlugins): a pod counts once for each in the unschedulable_pods metric.
   */
  get plugins(): string[] {
    return [...this.rejectingPlugins].sort();
  }

  /** The nodes rejected as UnschedulableAndUnresolvable: no eviction can make them take the pod. */
  get unresolvableNodes(): ReadonlySet<string> {
    return this.hopeless ?? emptySet;
  }

  /** Some node was rejected for a reason evictions may cure (Unschedulable, not Unresolvable). */
  get evictionsMayHelp(): boolean {
    return this.resolvable;
  }

  rejectMany(reason: string, nodes: number): void {
    if (nodes > 0) this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + nodes);
  }

  get empty(): boolean {
    return this.reasons.size === 0;
  }

  /** "0/N nodes are available: <count reason>, ….", reasons sorted as kube-scheduler sorts them. */
  message(totalNodes: number): string {
    if (this.preFilterReasons !== undefined && this.preFilterReasons.length > 0)
      return `0/${totalNodes} nodes are available: ${this.preFilterReasons.join(", ")}.`;
    const histogram = [...this.reasons].map(([reason, count]) => `${count} ${reason}`).sort();
    return histogram.length > 0
      ? `0/${totalNodes} nodes are available: ${histogram.join(", ")}.`
      : `0/${totalNodes} nodes are available.`;
  }
}

const emptySet: ReadonlySet<string> = new Set();
