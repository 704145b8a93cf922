/**
 * The extension points of a scheduling cycle, named once (after kube-scheduler's framework):
 *
 *   QueueSort  – which pending group goes first            (queue-sort.ts)
 *   Filter     – can this pod run on this node at all?      (FilterPlugin)
 *   Score      – of the feasible nodes, which is best?       (ScorePlugin)
 *   Gang       – place every required member or none         (gang-placement.ts)
 *   PostFilter – gang preemption when a group does not fit   (preemption.ts)
 *
 * Reserve/Bind happen outside the core: the cycle returns decisions and the shard's
 * binder carries them out.
 */
import type { NodeInfo, PodInfo } from "./model.js";

/** Why a node was rejected: kube-scheduler-style reasons, counted per node in diagnoses. */
export type FilterReasons = readonly string[];

export interface FilterPlugin {
  readonly name: string;
  /**
   * True when the answer depends only on the pod and node objects, not on what else runs
   * on the node; such results can be reused while node and pod are unchanged.
   */
  readonly static: boolean;
  /** undefined when the pod fits, otherwise the reasons it does not. */
  filter(pod: PodInfo, node: NodeInfo): FilterReasons | undefined;
}

export interface ScorePlugin {
  readonly name: string;
  /** 0 (worst) to 100 (best). */
  score(pod: PodInfo, node: NodeInfo): number;
}
