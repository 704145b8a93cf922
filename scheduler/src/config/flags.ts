/**
 * Flags and environment variables of an entry point, from one declarative table: a flag wins
 * over its environment variable, both win over the documented default. Shards and the
 * coordinator read their configuration through this; every other command line of the repository
 * (status, and the tests' cluster, stack, bench, chaos and demo) parses its flags with
 * parseFlags, so all of them refuse an unknown flag or a bad value the same way.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";

export interface Setting {
  flag: string;
  /** The environment variable that sets it; "" for a flag only. */
  env: string;
  help: string;
  fallback: () => string;
  /** The variable is read where the value is used (the kubeconfig loader reads KUBECONFIG as kubectl does). */
  envReadElsewhere?: boolean;
  /** The default as --help shows it, when the fallback ("" = none) does not say it. */
  shownDefault?: string;
}

/**
 * A command line or environment the program cannot run with: a flag it does not know, a flag's
 * bad value, settings that contradict each other. Reported as one line with a hint to --help,
 * exit code 2 (usageExitCode), never with a stack.
 */
export class ConfigError extends Error {}

/** The exit code of a usage error, as of most Unix tools (and Go's flag package). */
export const usageExitCode = 2;

/**
 * node:util parseArgs, strict, with its errors as ConfigErrors in one short line: "unknown flag
 * --bogus", "flag --nodes needs a value", "unexpected argument x". Every command line of the
 * repository goes through here.
 */
export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
  allowPositionals = false,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean; strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw flagError(error);
  }
}

/** parseArgs' TypeError (ERR_PARSE_ARGS_*) as a ConfigError; anything else unchanged. */
function flagError(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new ConfigError(`unknown flag ${quoted}`);
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return new ConfigError(`unexpected argument "${quoted}"`);
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const flag = quoted.split(" ")[0] ?? quoted;
      return new ConfigError(
        /does not take an argument/.test(message)
          ? `flag ${flag} takes no value`
          : `flag ${flag} needs a value`,
      );
    }
    default:
      return error;
  }
}

/**
 * How a program reports a failure on stderr, in one line: a ConfigError with a hint to the
 * usage (exit code 2), anything else with its message (exit code 1; the stack only when asked).
 */
export function failureReport(
  program: string,
  error: unknown,
  options: { help?: string; stack?: boolean } = {},
): { line: string; exitCode: number } {
  if (error instanceof ConfigError)
    return {
      line: `${program}: ${oneLine(error.message)} (see ${options.help ?? `${program} --help`})`,
      exitCode: usageExitCode,
    };
  const text =
    error instanceof Error ? (options.stack ? (error.stack ?? error.message) : error.message) : String(error);
  return { line: `${program}: ${options.stack ? text : oneLine(text)}`, exitCode: 1 };
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " ");

/** One line per setting: flag, environment variable, meaning, default. */
export function usage(settings: Record<string, Setting>): string {
  const lines = Object.values(settings).map(
    (s) =>
      `  --${s.flag.padEnd(30)} ${s.env.padEnd(30)} ${s.help} (default: ${s.shownDefault ?? (s.fallback() || "none")})`,
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
    this.values = parseFlags(
      argv,
      Object.fromEntries(Object.values(table).map((s) => [s.flag, { type: "string" as const }])),
    ).values;
  }

  string(key: K): string {
    const s = this.settings[key];
    const fromEnv = s.env && !s.envReadElsewhere ? this.env[s.env] : undefined;
    return (this.values[s.flag] as string | undefined) ?? fromEnv ?? s.fallback();
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
    const { flag, env } = this.settings[key];
    return env ? `--${flag} (${env})` : `--${flag}`;
  }
}
