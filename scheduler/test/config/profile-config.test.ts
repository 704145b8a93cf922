/**
 * The profile configuration file (--profile-config): its format, its strict checks (each
 * mistake one ConfigError line naming the file and the field) and its precedence with
 * --scoring-strategy.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, failureReport, usageExitCode } from "../../src/config/flags.js";
import { loadProfileConfig } from "../../src/config/profile-config.js";
import { buildProfile, ClusterState } from "../../src/core/index.js";
import { loadShardConfig } from "../../src/shard/config.js";

const dir = mkdtempSync(join(tmpdir(), "profile-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A profile configuration file with this text. */
function profileFile(text: string, extension = "yaml"): string {
  const file = join(dir, `profile-${++files}.${extension}`);
  writeFileSync(file, text);
  return file;
}

const maxPerZone = `
apiVersion: sharded-scheduler.io/v1alpha1
kind: SchedulingProfile
scoringStrategy: LeastAllocated
scoreWeights:
  LeastAllocated: 3
pluginConfig:
  - name: MaxPerZone
    args:
      labelKey: app
      labelValue: db
      maxPerZone: 2
      zoneKey: example.com/rack
`;

const shardProfile = (args: string[], env: NodeJS.ProcessEnv = {}) => loadShardConfig(args, env).profile;

describe("profile configuration file", () => {
  it("without a file, is MostAllocated with no optional plugin, as before", () => {
    expect(shardProfile([])).toEqual({ scoringStrategy: "MostAllocated" });
    expect(shardProfile(["--scoring-strategy=LeastAllocated"])).toEqual({
      scoringStrategy: "LeastAllocated",
    });
    expect(shardProfile([], { SCORING_STRATEGY: "LeastAllocated" })).toEqual({
      scoringStrategy: "LeastAllocated",
    });
  });

  it("sets the strategy, the score weights and the optional plugins' arguments", () => {
    const profile = shardProfile([`--profile-config=${profileFile(maxPerZone)}`]);
    expect(profile).toEqual({
      scoringStrategy: "LeastAllocated",
      scoreWeights: { LeastAllocated: 3 },
      plugins: {
        MaxPerZone: { labelKey: "app", labelValue: "db", maxPerZone: 2, zoneKey: "example.com/rack" },
      },
    });
    // What buildProfile makes of it: MaxPerZone filters before NodeResourcesFit, weighted score.
    const built = buildProfile(new ClusterState(), profile);
    expect(built.filters.map((f) => f.name).slice(-2)).toEqual(["MaxPerZone", "NodeResourcesFit"]);
    expect(built.scores.map(({ plugin, weight }) => [plugin.name, weight])).toEqual([
      ["InterPodAffinity", 2],
      ["PodTopologySpread", 2],
      ["LeastAllocated", 3],
      ["NodeResourcesBalancedAllocation", 1],
    ]);
  });

  it("sets PodTopologySpread's cluster-default constraints (an always-on plugin: args only)", () => {
    const file = profileFile(
      [
        "pluginConfig:",
        "  - name: PodTopologySpread",
        "    args:",
        "      defaultingType: List",
        "      defaultConstraints:",
        "        - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway}",
      ].join("\n"),
    );
    const profile = shardProfile([`--profile-config=${file}`]);
    expect(profile).toEqual({
      scoringStrategy: "MostAllocated",
      pluginArgs: {
        PodTopologySpread: {
          defaultingType: "List",
          defaultConstraints: [
            { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway" },
          ],
        },
      },
    });
    // Always on either way: naming it changes its arguments, not whether it runs.
    expect(buildProfile(new ClusterState(), profile).filters.map((f) => f.name)).toContain(
      "PodTopologySpread",
    );
  });

  it("is read from PROFILE_CONFIG too, and may be JSON or empty", () => {
    const json = profileFile(
      JSON.stringify({ pluginConfig: [{ name: "MaxPerZone", args: { labelKey: "app", maxPerZone: 1 } }] }),
      "json",
    );
    expect(shardProfile([], { PROFILE_CONFIG: json })).toEqual({
      scoringStrategy: "MostAllocated",
      plugins: { MaxPerZone: { labelKey: "app", maxPerZone: 1 } },
    });
    expect(shardProfile([`--profile-config=${profileFile("")}`])).toEqual({
      scoringStrategy: "MostAllocated",
    });
  });

  it("takes --scoring-strategy when the file sets none; refuses one that contradicts the file", () => {
    const without = profileFile("pluginConfig: [{name: MaxPerZone, args: {labelKey: app, maxPerZone: 1}}]");
    expect(shardProfile([`--profile-config=${without}`, "--scoring-strategy=LeastAllocated"])).toMatchObject({
      scoringStrategy: "LeastAllocated",
    });
    // Weights are checked against the strategy the flag chose.
    const weighted = profileFile("scoreWeights: {LeastAllocated: 2}");
    expect(shardProfile([`--profile-config=${weighted}`], { SCORING_STRATEGY: "LeastAllocated" })).toEqual({
      scoringStrategy: "LeastAllocated",
      scoreWeights: { LeastAllocated: 2 },
    });
    const file = profileFile(maxPerZone);
    // The same value in both places is no contradiction.
    expect(
      shardProfile([`--profile-config=${file}`, "--scoring-strategy=LeastAllocated"]).scoringStrategy,
    ).toBe("LeastAllocated");
    expect(() => shardProfile([`--profile-config=${file}`], { SCORING_STRATEGY: "MostAllocated" })).toThrow(
      new ConfigError(
        `--scoring-strategy (SCORING_STRATEGY) MostAllocated contradicts scoringStrategy LeastAllocated in ${file}: set it in one place`,
      ),
    );
  });

  it.each([
    ["an unknown field", "scoringStrategys: MostAllocated", 'unknown field "scoringStrategys"'],
    ["another apiVersion", "apiVersion: v2", 'apiVersion must be sharded-scheduler.io/v1alpha1, got "v2"'],
    ["another kind", "kind: KubeSchedulerConfiguration", "kind must be SchedulingProfile"],
    [
      "an unknown strategy",
      "scoringStrategy: Random",
      "scoringStrategy must be one of MostAllocated, LeastAllocated",
    ],
    ["a list", "- MaxPerZone", "must be a map of"],
    [
      "a weight of 0",
      "scoreWeights: {MostAllocated: 0}",
      'scoreWeights.MostAllocated must be an integer 1-100, got "0"',
    ],
    ["a weight above 100", "scoreWeights: {MostAllocated: 101}", "must be an integer 1-100"],
    ["a fractional weight", "scoreWeights: {MostAllocated: 1.5}", "must be an integer 1-100"],
    ["a weight as text", 'scoreWeights: {MostAllocated: "2"}', "must be an integer 1-100"],
    [
      "a weight of a plugin the profile does not run",
      "scoreWeights: {LeastAllocated: 2}",
      'scoreWeights: this profile has no score plugin "LeastAllocated" (it scores with: InterPodAffinity, PodTopologySpread, MostAllocated, NodeResourcesBalancedAllocation, TopologyPlacement)',
    ],
    [
      "an unknown plugin",
      "pluginConfig: [{name: NodePorts, args: {}}]",
      'pluginConfig[0].name: no plugin "NodePorts" takes arguments (plugins with arguments: InterPodAffinity, PodTopologySpread, MaxPerZone)',
    ],
    [
      "a plugin configured twice",
      "pluginConfig: [{name: MaxPerZone, args: {labelKey: a, maxPerZone: 1}}, {name: MaxPerZone, args: {labelKey: b, maxPerZone: 1}}]",
      "pluginConfig[1]: MaxPerZone is configured twice",
    ],
    [
      "pluginConfig as a map",
      "pluginConfig: {MaxPerZone: {}}",
      "pluginConfig must be a list of {name, args}",
    ],
    [
      "an entry with another field",
      "pluginConfig: [{name: MaxPerZone, weight: 2}]",
      'pluginConfig[0]: unknown field "weight"',
    ],
    [
      "args without labelKey",
      "pluginConfig: [{name: MaxPerZone, args: {maxPerZone: 1}}]",
      "pluginConfig[0].args (MaxPerZone): labelKey must be a non-empty string",
    ],
    [
      "a limit of 0",
      "pluginConfig: [{name: MaxPerZone, args: {labelKey: app, maxPerZone: 0}}]",
      'pluginConfig[0].args (MaxPerZone): maxPerZone must be an integer >= 1, got "0"',
    ],
    [
      "an unknown argument",
      "pluginConfig: [{name: MaxPerZone, args: {labelKey: app, maxPerZone: 1, max: 2}}]",
      'pluginConfig[0].args (MaxPerZone): unknown field "max"',
    ],
    ["text that is not YAML", "scoreWeights: {MostAllocated: 1", "not YAML or JSON"],
    [
      "a key given twice",
      "scoringStrategy: MostAllocated\nscoringStrategy: LeastAllocated",
      "not YAML or JSON",
    ],
  ])("refuses %s in one line", (_, text, message) => {
    const file = profileFile(text);
    const load = () => loadShardConfig([`--profile-config=${file}`], {});
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(`--profile-config ${file}: `);
    expect(load).toThrow(message);
    const { line, exitCode } = failureReport("sharded-scheduler", catching(load));
    expect(line).not.toContain("\n");
    expect(exitCode).toBe(usageExitCode);
  });

  it("refuses a file that does not exist and a bad --scoring-strategy", () => {
    const missing = join(dir, "missing.yaml");
    expect(() => loadProfileConfig(missing)).toThrow(
      new ConfigError(`--profile-config ${missing}: no such file`),
    );
    expect(() => loadShardConfig(["--scoring-strategy=Random"], {})).toThrow(
      new ConfigError(
        '--scoring-strategy (SCORING_STRATEGY) must be one of MostAllocated, LeastAllocated, got "Random"',
      ),
    );
  });
});

function catching(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error("did not throw");
}
