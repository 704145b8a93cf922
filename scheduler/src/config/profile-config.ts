/**
 * The scheduling profile both programs run (the shards' cycle, the coordinator's trial
 * placements): a YAML or JSON file (--profile-config, PROFILE_CONFIG; format in
 * core/profile-config.ts), like kube-scheduler's --config. --scoring-strategy still works: it
 * sets the strategy when the file does not; a file that sets another one is refused, so that
 * no program runs a strategy its peers do not.
 */
import { readFileSync } from "node:fs";
import { load } from "js-yaml";
import {
  type ProfileConfig,
  parseProfileConfig,
  type ScoringStrategy,
  scoringStrategies,
} from "../core/index.js";
import { ConfigError, type FlagReader, type Setting } from "./flags.js";

/** Settings rows of the profile, the same in the shards' and the coordinator's tables. */
export const profileSettingTable = {
  profileConfig: {
    flag: "profile-config",
    env: "PROFILE_CONFIG",
    help: "YAML or JSON file: scoringStrategy, scoreWeights, pluginConfig (give the shards and the coordinator the same)",
    fallback: () => "",
  },
  scoringStrategy: {
    flag: "scoring-strategy",
    env: "SCORING_STRATEGY",
    help: "MostAllocated (bin-packing) or LeastAllocated (spread); a profile file may set it instead",
    fallback: () => "",
    shownDefault: "the profile file's, else MostAllocated",
  },
} satisfies Record<string, Setting>;

/** The profile the flags (and the file they name) describe. */
export function readProfileConfig(flags: FlagReader<keyof typeof profileSettingTable>): ProfileConfig {
  const strategy = flags.string("scoringStrategy");
  if (strategy !== "" && !scoringStrategies.includes(strategy as ScoringStrategy))
    throw new ConfigError(
      `${flags.name("scoringStrategy")} must be one of ${scoringStrategies.join(", ")}, got "${strategy}"`,
    );
  const file = flags.string("profileConfig");
  if (file === "") return { scoringStrategy: (strategy || "MostAllocated") as ScoringStrategy };
  return loadProfileConfig(
    file,
    (strategy || undefined) as ScoringStrategy | undefined,
    flags.name("scoringStrategy"),
  );
}

/**
 * The profile of a file, with `strategy` (from a flag named `flagName`) when the file sets none.
 * Every problem is a ConfigError of one line naming the file.
 */
export function loadProfileConfig(
  file: string,
  strategy?: ScoringStrategy,
  flagName = "--scoring-strategy",
): ProfileConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`--profile-config ${file}: ${code === "ENOENT" ? "no such file" : String(error)}`);
  }
  // A file of nothing but comments (or nothing) is the default profile.
  const empty = text.split("\n").every((line) => /^\s*(#.*)?$/.test(line));
  let value: unknown = {};
  try {
    if (!empty) value = load(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ConfigError(`--profile-config ${file}: not YAML or JSON: ${reason}`);
  }
  if (strategy !== undefined && typeof value === "object" && value !== null && "scoringStrategy" in value) {
    const inFile = (value as { scoringStrategy: unknown }).scoringStrategy;
    if (inFile !== strategy)
      throw new ConfigError(
        `${flagName} ${strategy} contradicts scoringStrategy ${String(inFile)} in ${file}: set it in one place`,
      );
  }
  const withStrategy =
    strategy !== undefined && typeof value === "object" && value !== null && !Array.isArray(value)
      ? { scoringStrategy: strategy, ...value }
      : value;
  const config = parseProfileConfig(withStrategy);
  if (!config.ok) throw new ConfigError(`--profile-config ${file}: ${config.reason}`);
  return config.value;
}
