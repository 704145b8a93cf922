#!/usr/bin/env node
// The `sharded-scheduler` command (`npx sharded-scheduler status`, or a shard itself): the built
// entry point. It lives outside dist/ so that npm links it at install time, before any build.
import { existsSync } from "node:fs";

const entry = new URL("../dist/cli.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("sharded-scheduler is not built yet: run `npm run build` first\n");
  process.exit(1);
}
await import(entry.href);
