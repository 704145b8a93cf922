/** The coordinator's command line, spawned: an unknown flag is one line on stderr and exit code 2. */
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..");

describe("sharded-scheduler-coordinator on the command line", { timeout: 60_000 }, () => {
  it.each([
    [
      ["--bogus"],
      /^sharded-scheduler-coordinator: unknown flag --bogus \(see sharded-scheduler-coordinator --help\)$/,
    ],
    [
      ["--redis-url=redis://r:6379", "--cooldown-ms=soon"],
      /^sharded-scheduler-coordinator: --cooldown-ms \(COOLDOWN_MS\) must be an integer/,
    ],
  ])("refuses %j in one line, without a stack, exit code 2", (args, message) => {
    const result = spawnSync(process.execPath, ["--import", "tsx", join(root, "src/cli.ts"), ...args], {
      encoding: "utf8",
      env: { PATH: process.env.PATH },
      timeout: 60_000,
    });
    const lines = result.stderr.split("\n").filter((line) => line !== "");
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.status).toBe(2);
  });
});
