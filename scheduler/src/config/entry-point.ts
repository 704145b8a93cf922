/**
 * What both programs (a shard, the coordinator) do the same way around their own work: the
 * settings every replica has, loading credentials, --help, and exiting with a clear message.
 */
import { hostname } from "node:os";
import { failureReport, type Setting } from "./flags.js";

export { type KubeConfig, loadKubeConfig } from "./kubeconfig.js";

/** Settings rows every program has (see config/flags.ts). */
export const replicaSettingTable = {
  identity: { flag: "identity", env: "POD_NAME", help: "replica identity", fallback: () => hostname() },
  logLevel: { flag: "log-level", env: "LOG_LEVEL", help: "pino level", fallback: () => "info" },
  kubeconfig: {
    flag: "kubeconfig",
    env: "KUBECONFIG",
    help: "kubeconfig file; KUBECONFIG may list several, merged as kubectl merges them",
    fallback: () => "",
    envReadElsewhere: true,
    shownDefault: "KUBECONFIG, else ~/.kube/config, else in-cluster",
  },
  context: {
    flag: "context",
    env: "",
    help: "kubeconfig context to use",
    fallback: () => "",
    shownDefault: "the kubeconfig's current context",
  },
} satisfies Record<string, Setting>;

/** How a program's API client talks to the API server (its Lease client has its own limits). */
export const apiClientSettingTable = {
  qps: {
    flag: "qps",
    env: "KUBE_API_QPS",
    help: "client-side limit of API requests per second; 0 = none (the API server's Priority and Fairness limits)",
    fallback: () => "0",
  },
  burst: {
    flag: "burst",
    env: "KUBE_API_BURST",
    help: "requests the client-side limit lets through at once; 0 = twice --qps",
    fallback: () => "0",
  },
  http2: {
    flag: "http2",
    env: "KUBE_API_HTTP2",
    help: "HTTP/2 to the API server when it offers it (few connections, many streams); false = HTTP/1.1 keep-alive",
    fallback: () => "true",
  },
} satisfies Record<string, Setting>;

/**
 * Runs a program's main: prints its usage for --help or -h instead. A configuration error (an
 * unknown flag, a bad value) is one line with a hint to --help and exit code 2; any other
 * failure prints its stack (a bug or an outage to investigate) and exits 1.
 */
export function runEntryPoint(program: string, usageText: () => string, main: () => Promise<void>): void {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(`usage: ${program} [flags]\n\n${usageText()}\n`);
    return;
  }
  main().catch((error: unknown) => {
    const { line, exitCode } = failureReport(program, error, { stack: true });
    process.stderr.write(`${line}\n`);
    process.exit(exitCode);
  });
}
