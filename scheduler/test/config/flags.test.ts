/** The one flag parser of every CLI: its errors are one line, ConfigErrors, exit code 2. */
import { describe, expect, it } from "vitest";
import { ConfigError, failureReport, parseFlags, usageExitCode } from "../../src/config/flags.js";
import { loadShardConfig } from "../../src/shard/config.js";

const options = { nodes: { type: "string" }, json: { type: "boolean" } } as const;

describe("parseFlags", () => {
  it("reads the flags it knows", () => {
    expect(parseFlags(["--nodes", "3", "--json"], options).values).toEqual({ nodes: "3", json: true });
    expect(parseFlags(["up", "--nodes=2"], options, true).positionals).toEqual(["up"]);
  });

  it.each([
    [["--bogus"], "unknown flag --bogus"],
    [["-x"], "unknown flag -x"],
    [["--nodes"], "flag --nodes needs a value"],
    [["--json=yes"], "flag --json takes no value"],
    [["extra"], 'unexpected argument "extra"'],
  ])("refuses %j in one line: %s", (args, message) => {
    const parse = () => parseFlags(args, options);
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(new RegExp(`^${message}$`));
  });

  it("is what the shard's and the coordinator's settings tables are read with", () => {
    expect(() => loadShardConfig(["--bogus"], {})).toThrow(new ConfigError("unknown flag --bogus"));
    expect(() => loadShardConfig(["--qps=many"], {})).toThrow(ConfigError);
  });
});

describe("failureReport", () => {
  it("reports a usage error in one line with a hint to --help, exit code 2", () => {
    expect(
      failureReport("bench", new ConfigError("unknown flag --bogus"), { help: "npm run bench -- --help" }),
    ).toEqual({
      line: "bench: unknown flag --bogus (see npm run bench -- --help)",
      exitCode: usageExitCode,
    });
    expect(usageExitCode).toBe(2);
  });

  it("reports any other failure in one line with exit code 1, its stack only when asked", () => {
    const error = new Error("connect ECONNREFUSED\n  while listing");
    expect(failureReport("cluster", error)).toEqual({
      line: "cluster: connect ECONNREFUSED while listing",
      exitCode: 1,
    });
    expect(failureReport("shard", error, { stack: true }).line).toContain("    at ");
  });
});
