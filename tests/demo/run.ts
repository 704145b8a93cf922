/**
 * Plays the demo's scenes against a running cluster and stack: creates each scene's pods,
 * watches until the scene is over (or its time is up) and redraws the progress every second.
 */

import { setTimeout as sleep } from "node:timers/promises";
import * as k8s from "@kubernetes/client-node";
import { podGroupAnnotation } from "../../scheduler/src/contracts/keys.js";
import {
  type DemoOutcome,
  type DemoView,
  placementOf,
  renderFrame,
  renderPlainLine,
  type SceneOutcome,
  type ShardsView,
  tallyDemo,
} from "./progress.js";
import { demoPriorityClasses, podManifest, rackLabel, type Scene, sceneLabel } from "./scenes.js";

export interface DemoRunOptions {
  kc: k8s.KubeConfig;
  namespace: string;
  schedulerName: string;
  scenes: readonly Scene[];
  /** The shards' and the coordinator's state, read once per tick. */
  readShards: () => Promise<ShardsView>;
  /** Redraw in place (a terminal) or print a line when something changed (a pipe or log). */
  live: boolean;
  /** Longest a scene may take. */
  sceneTimeoutMs: number;
  out: NodeJS.WriteStream;
}

const tickMs = 1_000;
/** Pods created at once. */
const createBatch = 8;
/** A scene that expects pods to wait still gives the scheduler this long to try. */
const settleMinimumMs = 8_000;

export async function runDemo(options: DemoRunOptions): Promise<DemoOutcome> {
  const { kc, namespace, out } = options;
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const scheduling = kc.makeApiClient(k8s.SchedulingV1Api);
  await prepareNamespace(core, namespace);
  for (const { name, value, description } of demoPriorityClasses) {
    await scheduling
      .createPriorityClass({
        body: { metadata: { name }, value, description, preemptionPolicy: "PreemptLowerPriority" },
      })
      .catch((error: unknown) => {
        if ((error as { code?: number }).code !== 409) throw error;
      });
  }

  // Racks do not change during the demo: the one-rack scenes read them once.
  const rackOfNode = new Map(
    (await core.listNode()).items.flatMap((node) => {
      const rack = node.metadata?.labels?.[rackLabel];
      return rack === undefined ? [] : [[node.metadata?.name ?? "", rack] as const];
    }),
  );
  const started = Date.now();
  const planned = options.scenes.reduce((sum, scene) => sum + scene.pods.length, 0);
  let submitted = 0;
  let drawn = 0;
  let lastPlain = "";
  let view: DemoView | undefined;
  let shards: ShardsView = { shards: [], leader: undefined };
  let pods: k8s.V1Pod[] = [];
  let events: k8s.CoreV1Event[] = [];
  const outcomes: SceneOutcome[] = [];

  const observe = async (sceneIndex: number) => {
    const [podList, eventList] = await Promise.all([
      core.listNamespacedPod({ namespace }),
      core.listNamespacedEvent({ namespace }),
    ]);
    pods = podList.items;
    events = eventList.items;
    shards = await options.readShards().catch(() => shards);
    const scene = options.scenes[sceneIndex] as Scene;
    view = {
      scene: { number: sceneIndex + 1, of: options.scenes.length, title: scene.title },
      elapsedSeconds: (Date.now() - started) / 1000,
      submitted,
      planned,
      tally: tallyDemo(pods, eventList.items),
      shards: shards.shards,
      leader: shards.leader,
      ...(shards.racks ? { racks: shards.racks } : {}),
    };
    if (options.live) {
      // A pseudo-terminal without a window size reports 0 columns.
      const lines = renderFrame(view, out.columns > 0 ? out.columns : 100);
      // Up over the last frame, clear to the end of the screen, draw.
      out.write(`${drawn > 0 ? `\x1b[${drawn}A` : ""}\x1b[J${lines.join("\n")}\n`);
      drawn = lines.length;
    } else {
      const line = renderPlainLine(view);
      // The clock changes every tick: print only when something else did.
      const changed = line.replace(/^\[demo [0-9:]+\] /, "");
      if (changed !== lastPlain) out.write(`${line}\n`);
      lastPlain = changed;
    }
  };

  for (const [index, scene] of options.scenes.entries()) {
    const sceneStart = Date.now();
    if (!options.live) out.write(`[demo] scene ${index + 1}/${options.scenes.length}: ${scene.title}\n`);
    for (let i = 0; i < scene.pods.length; i += createBatch) {
      await Promise.all(
        scene.pods.slice(i, i + createBatch).map((pod) =>
          core.createNamespacedPod({
            namespace,
            body: podManifest(pod, scene.name, namespace, options.schedulerName),
          }),
        ),
      );
    }
    submitted += scene.pods.length;
    const before = view?.tally;
    const reliefsBefore = (before?.handoffs ?? 0) + (before?.lends ?? 0);
    const preemptorsBefore = before?.preemptors ?? 0;
    let completed = false;
    for (;;) {
      await observe(index);
      const mine = pods.filter((pod) => pod.metadata?.labels?.[sceneLabel] === scene.name);
      const bound = mine.filter((pod) => pod.spec?.nodeName).length;
      const told = mine.filter((pod) => !pod.spec?.nodeName && waitReason(pod) !== undefined).length;
      const elapsed = Date.now() - sceneStart;
      const tally = (view as DemoView).tally;
      const placement = scene.shows === "one-rack" ? placementOf(mine, events, rackOfNode) : undefined;
      const shown =
        scene.shows === "relief"
          ? tally.handoffs + tally.lends > reliefsBefore
          : scene.shows === "preemption"
            ? tally.preemptors > preemptorsBefore
            : scene.shows === "one-rack"
              ? placement?.racks.length === 1 &&
                placement.racks[0] !== "(none)" &&
                placement.shards.length === 1 &&
                placement.shards[0] !== "(unknown)"
              : true;
      completed =
        shown &&
        (scene.until === "bound"
          ? bound === scene.pods.length
          : elapsed >= settleMinimumMs && bound + told === scene.pods.length);
      if (completed || elapsed >= options.sceneTimeoutMs) {
        outcomes.push({
          scene,
          seconds: Math.round(elapsed / 100) / 10,
          completed,
          bound,
          ...(placement ? { placement } : {}),
        });
        break;
      }
      await sleep(tickMs);
    }
  }
  await observe(options.scenes.length - 1);
  const waiting = pods
    .filter((pod) => !pod.spec?.nodeName && !pod.metadata?.deletionTimestamp)
    .map((pod) => ({
      pod: pod.metadata?.name ?? "",
      group: pod.metadata?.annotations?.[podGroupAnnotation],
      message: waitReason(pod) ?? "no reason given yet",
    }));
  return {
    scenes: outcomes,
    tally: (view as DemoView).tally,
    shards,
    waiting,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}

/** The PodScheduled=False message the scheduler wrote, if any. */
function waitReason(pod: k8s.V1Pod): string | undefined {
  const condition = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  return condition?.reason ? (condition.message ?? condition.reason) : undefined;
}

/** A fresh namespace: an earlier demo's is deleted first, and waited for. */
async function prepareNamespace(core: k8s.CoreV1Api, namespace: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      return;
    } catch (error) {
      if ((error as { code?: number }).code !== 409 || Date.now() > deadline) throw error;
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
      await sleep(1_000);
    }
  }
}

export async function removeDemo(kc: k8s.KubeConfig, namespace: string): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const scheduling = kc.makeApiClient(k8s.SchedulingV1Api);
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  for (const { name } of demoPriorityClasses)
    await scheduling.deletePriorityClass({ name }).catch(() => undefined);
}
