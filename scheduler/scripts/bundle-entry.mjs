#!/usr/bin/env node
/**
 * Bundles a workspace's entry point (src/cli.ts) with everything it imports — this repository's
 * code and its npm dependencies — into one file, dist/cli.js, in place of tsc's output for it.
 * Run by the build of both workspaces after tsc (the library modules under dist/ stay as tsc
 * wrote them), from the workspace's directory: `node ../scheduler/scripts/bundle-entry.mjs`.
 *
 * Why: a process that loads one file instead of some 300 modules starts in about two thirds of
 * the CPU (resolving, reading and compiling each module was most of a shard's start), which
 * counts where several replicas start at once and whenever a replica restarts into a handover;
 * and the image needs no node_modules.
 *
 * The bundle is ES modules like the sources. Dependencies written as CommonJS call `require` for
 * Node's built-in modules, so the bundle defines one from its own URL. node:http is required
 * that way too, not imported: importing it as an ES module reads every one of its exports,
 * and its WebSocket export loads Node's whole fetch implementation (undici), which nothing here
 * uses: a start (`--help`, farm-bench, 15 paired runs) takes 0.254 CPU-s instead of 0.273.
 * The scheduler package's version, which the User-Agent carries, is written in
 * (kube/user-agent.ts reads package.json when run unbundled).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** `import … from "node:http"` becomes the bundle's require("node:http"): its exports read on use. */
const requiredHttp = {
  name: "required-http",
  setup(build) {
    build.onResolve({ filter: /^node:http$/ }, (args) =>
      args.namespace === "required-http"
        ? { path: args.path, external: true }
        : { path: args.path, namespace: "required-http" },
    );
    build.onLoad({ filter: /.*/, namespace: "required-http" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

const schedulerManifest = JSON.parse(
  readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8"),
);

await build({
  entryPoints: ["src/cli.ts"],
  outfile: "dist/cli.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node24",
  sourcemap: true,
  banner: {
    js: 'import { createRequire as bundleCreateRequire } from "node:module";\nconst require = bundleCreateRequire(import.meta.url);',
  },
  define: { SHARDED_SCHEDULER_VERSION: JSON.stringify(schedulerManifest.version) },
  plugins: [requiredHttp],
  logLevel: "warning",
});
