/**
 * The simulation against saved benchmark runs: every sharded-scheduler run of a results.json
 * (`npm run bench -- --report`; basic, gangs and basic at the larger size, backlog mode) is simulated with its nodes,
 * pods, shard count and machine, and the predicted pods/s compared with the measured one.
 * kube-scheduler and the no-op binder are not modelled; the baseline run the calibration was
 * solved from is listed too, marked as the fit.
 */
import { readFileSync } from "node:fs";
import { baseline } from "./calibration.js";
import { type SimulationOptions, simulate } from "./simulation.js";

export interface ValidationRow {
  readonly run: string;
  readonly shards: number;
  readonly nodes: number;
  readonly pods: number;
  readonly measured: number;
  readonly predicted: number;
  /** predicted / measured − 1, in %. */
  readonly errorPercent: number;
  /** Part of the calibration (not a check). */
  readonly fit: boolean;
}

interface SavedRun {
  system: string;
  shards?: number;
  pods: number;
  podsPerSecond: number;
}

interface SavedScenario {
  mode?: string;
  nodes: number;
  pods: number;
  gangSize?: number;
  /** How the gangs were declared: native PodGroups or annotations (saved before: annotations). */
  api?: string;
  results: SavedRun[];
}

interface SavedResults {
  machine?: { cores?: number };
  basic?: SavedScenario;
  gangs?: SavedScenario;
  basicLarge?: SavedScenario;
}

export function validate(path: string): ValidationRow[] {
  const saved = JSON.parse(readFileSync(path, "utf8")) as SavedResults;
  const cores = saved.machine?.cores ?? baseline.machineCores;
  const rows: ValidationRow[] = [];
  const check = (
    run: string,
    shards: number,
    nodes: number,
    pods: number,
    measured: number,
    fit: boolean,
    extra: Partial<SimulationOptions>,
  ) => {
    const predicted = simulate({
      nodes,
      pods,
      shards,
      machineCores: cores,
      scale: 1,
      gangFraction: 0,
      coordinator: false,
      statusPatchesPerPod: baseline.writesPerPod.statusPatches,
      ...extra,
    }).podsPerSecond;
    const errorPercent = Math.round((predicted / measured - 1) * 1000) / 10;
    rows.push({ run, shards, nodes, pods, measured, predicted, errorPercent, fit });
  };
  for (const [shards, podsPerSecond] of Object.entries(baseline.podsPerSecond))
    check("baseline (fit)", Number(shards), baseline.nodes, baseline.pods, podsPerSecond, true, {});
  for (const scenario of [saved.basic, saved.gangs, saved.basicLarge]) {
    if (!scenario || (scenario.mode !== undefined && scenario.mode !== "backlog")) continue;
    const gangs = scenario === saved.gangs;
    for (const run of scenario.results) {
      if (run.system !== "sharded-scheduler" || run.shards === undefined) continue;
      check(
        gangs ? `gangs of ${scenario.gangSize ?? 8}` : "basic",
        run.shards,
        scenario.nodes,
        run.pods,
        run.podsPerSecond,
        false,
        gangs
          ? { gangFraction: 1, gangSize: scenario.gangSize ?? 8, podGroupWrites: scenario.api === "podgroup" }
          : {},
      );
    }
  }
  return rows;
}
