/**
 * The profile configuration as a user writes it once (a file the shards and the coordinator
 * both read, config/profile-config.ts), checked strictly: every mistake is one reason naming
 * its field. The shape follows one profile of kube-scheduler's KubeSchedulerConfiguration:
 *
 *   apiVersion: sharded-scheduler.io/v1alpha1   (optional)
 *   kind: SchedulingProfile                      (optional)
 *   scoringStrategy: MostAllocated               (NodeResourcesFit's scoringStrategy.type)
 *   scoreWeights: {MostAllocated: 1}             (plugins.score.enabled[].weight)
 *   pluginConfig:                                (pluginConfig; naming an optional plugin turns it on)
 *     - name: MaxPerZone
 *       args: {labelKey: app, maxPerZone: 2}
 *     - name: InterPodAffinity                   (always on; its args, kube-scheduler's defaults)
 *       args: {hardPodAffinityWeight: 1, ignorePreferredTermsOfExistingPods: false}
 *     - name: PodTopologySpread                  (always on: args replace its defaults)
 *       args: {defaultingType: List, defaultConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway}]}
 */
import { profileApiVersion, profileKind } from "../contracts/keys.js";
import { invalid, type Parsed, parsed, quoted } from "../contracts/parsed.js";
import { ClusterState } from "./cluster-state.js";
import { type ScoringStrategy, scoringStrategies } from "./plugins/node-resources/resource-allocation.js";
import {
  buildProfile,
  type ConfigurablePluginArgs,
  type ConfigurablePluginName,
  configurablePluginNames,
  configurablePlugins,
  type OptionalPluginArgs,
  type OptionalPluginName,
  optionalPluginArgs,
  optionalPluginNames,
  type ProfileConfig,
} from "./profile.js";

/** kube-scheduler's bounds of a score plugin's weight. */
export const maxScoreWeight = 100;

const fields = ["apiVersion", "kind", "scoringStrategy", "scoreWeights", "pluginConfig"];

const isMap = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The profile a configuration describes; without scoringStrategy, MostAllocated. */
export function parseProfileConfig(value: unknown): Parsed<ProfileConfig> {
  if (!isMap(value)) return invalid(`must be a map of ${fields.join(", ")}`);
  const unknown = Object.keys(value).find((key) => !fields.includes(key));
  if (unknown !== undefined) return invalid(`unknown field ${quoted(unknown)} (known: ${fields.join(", ")})`);
  if (value.apiVersion !== undefined && value.apiVersion !== profileApiVersion)
    return invalid(`apiVersion must be ${profileApiVersion}, got ${quoted(String(value.apiVersion))}`);
  if (value.kind !== undefined && value.kind !== profileKind)
    return invalid(`kind must be ${profileKind}, got ${quoted(String(value.kind))}`);
  const strategy = value.scoringStrategy ?? "MostAllocated";
  if (!scoringStrategies.includes(strategy as ScoringStrategy))
    return invalid(
      `scoringStrategy must be one of ${scoringStrategies.join(", ")}, got ${quoted(String(strategy))}`,
    );
  const plugins = pluginArgs(value.pluginConfig);
  if (!plugins.ok) return plugins;
  const { configured, ...optional } = plugins.value;
  const config: ProfileConfig = {
    scoringStrategy: strategy as ScoringStrategy,
    ...(Object.keys(optional).length > 0 ? { plugins: optional } : {}),
    ...(Object.keys(configured).length > 0 ? { pluginArgs: configured } : {}),
  };
  if (value.scoreWeights === undefined) return parsed(config);
  const weights = scoreWeights(value.scoreWeights, config);
  return weights.ok ? parsed({ ...config, scoreWeights: weights.value }) : weights;
}

/**
 * pluginConfig: each plugin at most once, its args checked by the plugin's parser; optional
 * plugins' args (turning them on), and always-on plugins' args under `configured`.
 */
function pluginArgs(value: unknown): Parsed<OptionalPluginArgs & { configured: ConfigurablePluginArgs }> {
  const configured: Partial<Record<ConfigurablePluginName, unknown>> = {};
  if (value === undefined) return parsed({ configured: {} });
  if (!Array.isArray(value)) return invalid("pluginConfig must be a list of {name, args}");
  const plugins: Partial<Record<OptionalPluginName, unknown>> = {};
  for (const [i, entry] of value.entries()) {
    const at = `pluginConfig[${i}]`;
    if (!isMap(entry)) return invalid(`${at} must be a map {name, args}`);
    const extra = Object.keys(entry).find((key) => key !== "name" && key !== "args");
    if (extra !== undefined) return invalid(`${at}: unknown field ${quoted(extra)} (known: name, args)`);
    const name = entry.name;
    if (configurablePluginNames.includes(name as ConfigurablePluginName)) {
      const always = name as ConfigurablePluginName;
      if (always in configured) return invalid(`${at}: ${always} is configured twice`);
      const args = configurablePlugins[always].args(entry.args ?? {});
      if (!args.ok) return invalid(`${at}.args (${always}): ${args.reason}`);
      configured[always] = args.value;
      continue;
    }
    if (!optionalPluginNames.includes(name as OptionalPluginName))
      return invalid(
        `${at}.name: no plugin ${quoted(String(name))} takes arguments (plugins with arguments: ${[...configurablePluginNames, ...optionalPluginNames].join(", ")})`,
      );
    const plugin = name as OptionalPluginName;
    if (plugin in plugins) return invalid(`${at}: ${plugin} is configured twice`);
    const args = optionalPluginArgs(plugin, entry.args ?? {});
    if (!args.ok) return invalid(`${at}.args (${plugin}): ${args.reason}`);
    plugins[plugin] = args.value;
  }
  return parsed({ ...(plugins as OptionalPluginArgs), configured: configured as ConfigurablePluginArgs });
}

/** scoreWeights: an integer 1-100 for score plugins this profile runs (and nothing else). */
function scoreWeights(value: unknown, config: ProfileConfig): Parsed<Record<string, number>> {
  if (!isMap(value)) return invalid("scoreWeights must be a map of score plugin name to weight");
  const profile = buildProfile(new ClusterState(), config);
  const scorers = [...profile.scores, ...profile.placementScores].map(({ plugin }) => plugin.name);
  const weights: Record<string, number> = {};
  for (const [name, weight] of Object.entries(value)) {
    if (!scorers.includes(name))
      return invalid(
        `scoreWeights: this profile has no score plugin ${quoted(name)} (it scores with: ${scorers.join(", ")})`,
      );
    if (typeof weight !== "number" || !Number.isInteger(weight) || weight < 1 || weight > maxScoreWeight)
      return invalid(
        `scoreWeights.${name} must be an integer 1-${maxScoreWeight}, got ${quoted(String(weight))}`,
      );
    weights[name] = weight;
  }
  return parsed(weights);
}
