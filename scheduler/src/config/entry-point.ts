/**
 * What both programs (a shard, the coordinator) do the same way around their own work: the
 * settings every replica has, loading credentials, --help, and exiting with a clear message.
 */
import { hostname } from "node:os";
import { KubeConfig } from "@kubernetes/client-node";
import { ConfigError, type Setting } from "./flags.js";

/** Settings rows every program has (see config/flags.ts). */
export const replicaSettingTable = {
  identity: { flag: "identity", env: "POD_NAME", help: "replica identity", fallback: () => hostname() },
  logLevel: { flag: "log-level", env: "LOG_LEVEL", help: "pino level", fallback: () => "info" },
  kubeconfig: {
    flag: "kubeconfig",
    env: "KUBECONFIG",
    help: "kubeconfig file (default: in-cluster)",
    fallback: () => "",
  },
} satisfies Record<string, Setting>;

/** The kubeconfig file given, or the in-cluster service account. */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (file) kubeConfig.loadFromFile(file);
  else kubeConfig.loadFromCluster();
  return kubeConfig;
}

/**
 * Runs a program's main: prints its usage for --help or -h instead, and on failure prints
 * the message (a configuration error without a stack) and exits 1.
 */
export function runEntryPoint(program: string, usageText: () => string, main: () => Promise<void>): void {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(`usage: ${program} [flags]\n\n${usageText()}\n`);
    return;
  }
  main().catch((error: unknown) => {
    const message =
      error instanceof ConfigError
        ? error.message
        : error instanceof Error
          ? (error.stack ?? error.message)
          : String(error);
    process.stderr.write(`${program}: ${message}\n`);
    process.exit(1);
  });
}
