/**
 * The repository's own command lines (npm run cluster, stack, bench, test:chaos, demo), spawned:
 * an unknown flag or a bad value is one line on stderr with a hint to --help, no stack frames,
 * exit code 2, and nothing is started.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../cluster/local/layout.js";

function run(cli: string, ...args: string[]) {
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", join(repoRoot, "tests", cli, "cli.ts"), ...args],
    {
      encoding: "utf8",
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      timeout: 60_000,
    },
  );
  return { code: result.status, stderr: result.stderr };
}

const clis: [string, string, string[]][] = [
  ["cluster", "npm run cluster -- --help", ["status", "--nodes"]],
  ["stack", "npm run stack -- --help", ["up", "--shards=0"]],
  ["bench", "npm run bench -- --help", ["--scenario=nope"]],
  ["chaos", "npm run test:chaos -- --help", ["--platform=moon"]],
  ["demo", "npm run demo -- --help", ["--nodes=-1"]],
];

describe("the repository's command lines", { timeout: 120_000 }, () => {
  it.each(clis)("%s: --bogus and a bad value are one line, exit code 2", (cli, help, badValue) => {
    for (const args of [["--bogus"], badValue]) {
      const result = run(cli, ...args);
      const lines = result.stderr.split("\n").filter((line) => line !== "");
      expect(lines, `${cli} ${args.join(" ")}: ${result.stderr}`).toHaveLength(1);
      expect(lines[0]).toContain(`(see ${help})`);
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(result.code, `${cli} ${args.join(" ")}`).toBe(2);
    }
    expect(run(cli, "--bogus").stderr).toContain("unknown flag --bogus");
  });
});
