/**
 * The layers of both packages, lowest first. A module may import its own folder and any lower
 * layer, never a higher one nor a peer of its own rank; docs/architecture.md explains each layer.
 *
 *   scheduler/src                            may also import
 *   0 contracts/     keys, wire formats       nothing (not even a package)
 *   1 core/          pure scheduling          nothing else: no node:*, no packages, no I/O
 *   2 config/        flags, kubeconfig        node:*, packages
 *   3 kube/          API server adapters      node:*, packages
 *   4 sharding/      ring, Leases, handover   node:*, packages
 *   4 coordination/  summaries, Redis         node:*, packages
 *   4 serving/       /metrics and probes      node:*, packages
 *   5 shard/         one shard's shell        node:*, packages
 *   5 status/        the status command       node:*, packages
 *   6 cli.ts, index.ts
 *
 *   coordinator/src (the whole scheduler package is below it)
 *   1 core/          pure relief planning     only scheduler/contracts and scheduler/core
 *   2 kube/, ledger/ API server, Redis        node:*, packages
 *   3 config.ts, metrics.ts
 *   4 coordinator.ts the relief loop
 *   5 cli.ts, index.ts
 *
 * Imports are read from the source text (static, re-export and dynamic), type-only ones too: a
 * type from a higher layer is still a dependency on it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const schedulerPackage = "@sharded-scheduler/scheduler";

interface Layering {
  readonly root: string;
  /** Rank of a file by its path under root (its first folder, or the file itself). */
  readonly ranks: Readonly<Record<string, number>>;
  /** What a module of this rank may import besides modules of its own package. */
  readonly external: (rank: number, specifier: string) => boolean;
}

const io = (specifier: string) => !specifier.startsWith(".");

const scheduler: Layering = {
  root: "scheduler/src",
  ranks: {
    contracts: 0,
    core: 1,
    config: 2,
    kube: 3,
    sharding: 4,
    coordination: 4,
    serving: 4,
    shard: 5,
    status: 5,
    "cli.ts": 6,
    "index.ts": 6,
  },
  external: (rank, specifier) => rank >= 2 && io(specifier) && !specifier.startsWith("@sharded-scheduler/"),
};

/** The scheduler's subpaths the coordinator's pure core may use: both are free of I/O. */
const pureSchedulerSubpaths = new Set([`${schedulerPackage}/contracts`, `${schedulerPackage}/core`]);

const coordinator: Layering = {
  root: "coordinator/src",
  ranks: {
    core: 1,
    kube: 2,
    ledger: 2,
    "config.ts": 3,
    "metrics.ts": 3,
    "coordinator.ts": 4,
    "cli.ts": 5,
    "index.ts": 5,
  },
  external: (rank, specifier) =>
    rank === 1
      ? pureSchedulerSubpaths.has(specifier)
      : specifier.startsWith(`${schedulerPackage}/`) ||
        (io(specifier) && !specifier.startsWith("@sharded-scheduler/")),
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** The module specifiers a TypeScript source imports or re-exports, comments ignored. */
function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const specifiers: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^;"'`]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns)
    for (const match of code.matchAll(pattern)) specifiers.push(match[1] as string);
  return specifiers;
}

function rankOf(layering: Layering, file: string): { layer: string; rank: number } {
  const layer = relative(join(repo, layering.root), file).split("/")[0] as string;
  const rank = layering.ranks[layer];
  if (rank === undefined)
    throw new Error(`${layering.root}/${layer} has no layer: add it to the test's header`);
  return { layer, rank };
}

/** Every import that breaks the layer order, as "<file> -> <specifier>: why". */
function violations(layering: Layering, files = sourceFiles(join(repo, layering.root))): string[] {
  const found: string[] = [];
  for (const file of files) {
    const from = rankOf(layering, file);
    for (const specifier of importsOf(readFileSync(file, "utf8"))) {
      const edge = `${relative(repo, file)} -> ${specifier}`;
      if (!specifier.startsWith(".")) {
        if (!layering.external(from.rank, specifier)) found.push(`${edge}: ${from.layer} may not import it`);
        continue;
      }
      const target = resolve(dirname(file), specifier).replace(/\.js$/, ".ts");
      if (!target.startsWith(join(repo, layering.root))) {
        found.push(`${edge}: outside ${layering.root}`);
        continue;
      }
      const to = rankOf(layering, target);
      if (to.layer === from.layer) continue;
      if (to.rank >= from.rank)
        found.push(`${edge}: ${from.layer} (${from.rank}) imports ${to.layer} (${to.rank})`);
    }
  }
  return found;
}

describe("layering", () => {
  const all = [...violations(scheduler), ...violations(coordinator)];

  it("no module imports a higher layer, a peer layer or, in a core, anything with I/O", () => {
    expect(all).toEqual([]);
  });

  it("reads every kind of import and catches a backward one", () => {
    expect(
      importsOf(
        [
          'import type { A } from "../shard/a.js";',
          "import {\n  b,\n  c,\n} from 'node:fs';",
          'export * from "./d.js";',
          'import "pino";',
          'const e = await import("ioredis");',
          '// import { f } from "./commented-out.js";',
        ].join("\n"),
      ),
    ).toEqual(["../shard/a.js", "node:fs", "./d.js", "pino", "ioredis"]);
    const core = join(repo, "scheduler/src/core/cycle.ts");
    expect(scheduler.external(rankOf(scheduler, core).rank, "node:timers/promises")).toBe(false);
    expect(coordinator.external(1, `${schedulerPackage}/kube`)).toBe(false);
    expect(coordinator.external(1, `${schedulerPackage}/contracts`)).toBe(true);
  });
});

describe("contracts", () => {
  it("every sharded-scheduler.io key of the product is defined in scheduler/src/contracts/", () => {
    const offenders = [scheduler.root, coordinator.root]
      .flatMap((root) => sourceFiles(join(repo, root)))
      .filter((file) => !relative(repo, file).startsWith("scheduler/src/contracts/"))
      .filter((file) => {
        const code = readFileSync(file, "utf8")
          .replace(/\/\*[\s\S]*?\*\//g, "")
          .replace(/^\s*\/\/.*$/gm, "");
        return /["'`]sharded-scheduler\.io\//.test(code);
      })
      .map((file) => relative(repo, file));
    expect(offenders).toEqual([]);
  });
});
