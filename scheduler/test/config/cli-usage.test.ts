/**
 * The product's command lines, spawned as a user runs them: an unknown flag, a bad value or an
 * unknown kubeconfig context is one line on stderr (no stack frames) and exit code 2.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "cli-usage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]) {
  const result = spawnSync(process.execPath, ["--import", "tsx", join(root, "src/cli.ts"), ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, HOME: dir },
    timeout: 60_000,
  });
  return { code: result.status, stderr: result.stderr, stdout: result.stdout };
}

function expectUsageError(result: ReturnType<typeof run>, message: RegExp): void {
  const lines = result.stderr.split("\n").filter((line) => line !== "");
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.code).toBe(2);
}

describe("sharded-scheduler on the command line", { timeout: 60_000 }, () => {
  it("refuses an unknown flag", () => {
    expectUsageError(
      run("--bogus"),
      /^sharded-scheduler: unknown flag --bogus \(see sharded-scheduler --help\)$/,
    );
  });

  it("refuses a bad flag value", () => {
    expectUsageError(run("--qps=fast"), /^sharded-scheduler: --qps \(KUBE_API_QPS\) must be an integer/);
  });

  it("status refuses an unknown flag, and an unknown context", () => {
    expectUsageError(
      run("status", "--bogus"),
      /^sharded-scheduler status: unknown flag --bogus \(see sharded-scheduler status --help\)$/,
    );
    const kubeconfig = join(dir, "config");
    writeFileSync(
      kubeconfig,
      "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: a\n  cluster:\n    server: https://127.0.0.1:1\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: a\n  context:\n    cluster: a\n    user: u\n",
    );
    expectUsageError(
      run("status", `--kubeconfig=${kubeconfig}`, "--context", "nope"),
      /^sharded-scheduler status: context "nope" not found in .*config \(see sharded-scheduler status --help\)$/,
    );
  });
});
