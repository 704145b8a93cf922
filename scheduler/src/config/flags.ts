/**
 * Flags and environment variables of an entry point, from one declarative table: a flag wins
 * over its environment variable, both win over the documented default. Shards and the
 * coordinator read their configuration through this.
 */
import { parseArgs } from "node:util";

export interface Setting {
  flag: string;
  env: string;
  help: string;
  fallback: () => string;
}

export class ConfigError extends Error {}

/** One line per setting: flag, environment variable, meaning, default. */
export function usage(settings: Record<string, Setting>): string {
  const lines = Object.values(settings).map(
    (s) => `  --${s.flag.padEnd(30)} ${s.env.padEnd(30)} ${s.help} (default: ${s.fallback() || "none"})`,
  );
  return `flag                             env                            meaning\n${lines.join("\n")}`;
}

/** Typed, validated values of a settings table for one command line and environment. */
export class FlagReader<K extends string> {
  private readonly values: Record<string, string | boolean | undefined>;

  constructor(
    private readonly settings: Record<K, Setting>,
    argv: string[],
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    const table: Record<string, Setting> = settings;
    this.values = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.values(table).map((s) => [s.flag, { type: "string" as const }])),
      strict: true,
    }).values;
  }

  string(key: K): string {
    const s = this.settings[key];
    return (this.values[s.flag] as string | undefined) ?? this.env[s.env] ?? s.fallback();
  }

  int(key: K, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const text = this.string(key);
    const value = Number(text);
    if (text.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}-${max}`;
      throw new ConfigError(`${this.name(key)} must be an integer ${range}, got "${text}"`);
    }
    return value;
  }

  bool(key: K): boolean {
    const text = this.string(key);
    if (text !== "true" && text !== "false")
      throw new ConfigError(`${this.name(key)} must be true or false, got "${text}"`);
    return text === "true";
  }

  oneOf<T extends string>(key: K, allowed: readonly T[]): T {
    const text = this.string(key);
    if (!allowed.includes(text as T))
      throw new ConfigError(`${this.name(key)} must be one of ${allowed.join(", ")}, got "${text}"`);
    return text as T;
  }

  /** "--flag (ENV)", for error messages. */
  name(key: K): string {
    return `--${this.settings[key].flag} (${this.settings[key].env})`;
  }
}
