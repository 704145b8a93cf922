/**
 * Credentials found as kubectl finds them: the --kubeconfig file, else the files KUBECONFIG
 * lists (colon-separated, merged: the first file to set a cluster, user, context or the
 * current context wins; files that do not exist are skipped), else ~/.kube/config, else the
 * in-cluster service account. --context picks a context of whatever was loaded.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { type Cluster, type Context, KubeConfig, type User } from "@kubernetes/client-node";
import { ConfigError } from "./flags.js";

export interface KubeConfigChoice {
  /** An explicit file (--kubeconfig): it must exist. */
  readonly kubeconfig?: string | undefined;
  /** A context to use instead of the current one (--context). */
  readonly context?: string | undefined;
}

export interface KubeConfigEnvironment {
  readonly env: NodeJS.ProcessEnv;
  readonly home: string;
}

/** Loads the kubeconfig kubectl would, or throws a ConfigError saying what is missing. */
export function loadKubeConfig(
  choice: KubeConfigChoice = {},
  environment: KubeConfigEnvironment = { env: process.env, home: homedir() },
): KubeConfig {
  const { env, home } = environment;
  const { config, source } = load(choice.kubeconfig, env, home);
  if (choice.context) {
    if (!config.contexts.some((context) => context.name === choice.context))
      throw new ConfigError(`context "${choice.context}" not found in ${source}`);
    config.setCurrentContext(choice.context);
  }
  const context = config.getContextObject(config.getCurrentContext());
  if (!context) throw new ConfigError(`${source} sets no current context: pass --context`);
  if (!config.getCurrentCluster())
    throw new ConfigError(`context "${context.name}" names cluster "${context.cluster}", not in ${source}`);
  return config;
}

function load(file: string | undefined, env: NodeJS.ProcessEnv, home: string) {
  if (file) {
    if (!existsSync(file)) throw new ConfigError(`--kubeconfig ${file}: no such file`);
    return { config: readFile(file), source: file };
  }
  const listed = (env.KUBECONFIG ?? "").split(delimiter).filter((path) => path !== "");
  if (listed.length > 0) {
    const present = listed.filter((path) => existsSync(path));
    if (present.length === 0)
      throw new ConfigError(`none of the KUBECONFIG files exists (${env.KUBECONFIG})`);
    return { config: merged(present.map(readFile)), source: `KUBECONFIG (${present.join(delimiter)})` };
  }
  const personal = join(home, ".kube", "config");
  if (existsSync(personal)) return { config: readFile(personal), source: personal };
  if (env.KUBERNETES_SERVICE_HOST) {
    const config = new KubeConfig();
    config.loadFromCluster();
    return { config, source: "the in-cluster service account" };
  }
  throw new ConfigError(
    "no kubeconfig: pass --kubeconfig, set KUBECONFIG or create ~/.kube/config (or run in a cluster)",
  );
}

function readFile(file: string): KubeConfig {
  const config = new KubeConfig();
  try {
    // Relative certificate and key paths are made absolute to the file's folder, as kubectl does.
    config.loadFromFile(file);
  } catch (error) {
    throw new ConfigError(`${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return config;
}

/** kubectl's merge: nothing a file set is changed by a later one. */
function merged(configs: readonly KubeConfig[]): KubeConfig {
  const clusters = new Map<string, Cluster>();
  const users = new Map<string, User>();
  const contexts = new Map<string, Context>();
  let currentContext = "";
  for (const config of configs) {
    for (const cluster of config.clusters)
      if (!clusters.has(cluster.name)) clusters.set(cluster.name, cluster);
    for (const user of config.users) if (!users.has(user.name)) users.set(user.name, user);
    for (const context of config.contexts)
      if (!contexts.has(context.name)) contexts.set(context.name, context);
    currentContext ||= config.getCurrentContext() ?? "";
  }
  const result = new KubeConfig();
  result.loadFromOptions({
    clusters: [...clusters.values()],
    users: [...users.values()],
    contexts: [...contexts.values()],
    currentContext,
  });
  return result;
}
