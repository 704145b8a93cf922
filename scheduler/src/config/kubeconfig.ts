/**
 * Credentials found as kubectl finds them: the --kubeconfig file, else the files KUBECONFIG
 * lists (colon-separated, merged: the first file to set a cluster, user, context or the
 * current context wins; files that do not exist are skipped), else ~/.kube/config, else the
 * in-cluster service account. --context picks a context of whatever was loaded.
 *
 * Our own reader of the kubeconfig format (clusters, users, contexts), not a client library's:
 * importing a Kubernetes client library costs a process ~0.5 CPU-seconds at start, which a
 * backlog waiting for three shards and two coordinators would pay five times over.
 * What it understands: server, certificate-authority(-data), insecure-skip-tls-verify,
 * tls-server-name; users with token, tokenFile, client-certificate(-data)/client-key(-data),
 * username/password, and exec credential plugins that return a token. What it does not
 * (auth-provider, proxy-url, exec plugins that return certificates, impersonation) is refused
 * with a ConfigError naming it, never silently ignored.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { load as parseYaml } from "js-yaml";
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

/** A kubeconfig cluster entry; file paths are absolute. */
export interface KubeCluster {
  readonly name: string;
  readonly server: string;
  readonly certificateAuthority?: string;
  /** PEM, decoded from certificate-authority-data. */
  readonly certificateAuthorityData?: string;
  readonly insecureSkipTlsVerify: boolean;
  readonly tlsServerName?: string;
}

/** An exec credential plugin (client.authentication.k8s.io). */
export interface ExecPlugin {
  readonly apiVersion: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: readonly { name: string; value: string }[];
}

/** A kubeconfig user entry; file paths are absolute. */
export interface KubeUser {
  readonly name: string;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly clientCertificate?: string;
  readonly clientCertificateData?: string;
  readonly clientKey?: string;
  readonly clientKeyData?: string;
  readonly username?: string;
  readonly password?: string;
  readonly exec?: ExecPlugin;
}

export interface KubeContext {
  readonly name: string;
  readonly cluster: string;
  readonly user: string;
  readonly namespace?: string;
}

/** Everything loaded, and the context in use resolved to its cluster and user. */
export interface KubeConfig {
  /** Where it came from, for messages. */
  readonly source: string;
  readonly contexts: readonly KubeContext[];
  readonly currentContext: string;
  readonly cluster: KubeCluster;
  readonly user: KubeUser;
}

/** The service account's files in a pod. */
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Loads the kubeconfig kubectl would, or throws a ConfigError saying what is missing. */
export function loadKubeConfig(
  choice: KubeConfigChoice = {},
  environment: KubeConfigEnvironment = { env: process.env, home: homedir() },
): KubeConfig {
  const { env, home } = environment;
  const { entries, source } = load(choice.kubeconfig, env, home);
  let currentContext = entries.currentContext;
  if (choice.context) {
    if (!entries.contexts.has(choice.context))
      throw new ConfigError(`context "${choice.context}" not found in ${source}`);
    currentContext = choice.context;
  }
  const context = entries.contexts.get(currentContext);
  if (!context) throw new ConfigError(`${source} sets no current context: pass --context`);
  const clusterEntry = entries.clusters.get(context.cluster);
  if (!clusterEntry)
    throw new ConfigError(`context "${context.name}" names cluster "${context.cluster}", not in ${source}`);
  // Only the entries the context uses are read: others may use what this reader does not know.
  const userEntry = entries.users.get(context.user);
  try {
    const cluster = clusterOf(context.cluster, clusterEntry);
    // kubectl accepts a context without a user (anonymous): so do we.
    const user = userEntry ? userOf(context.user, userEntry) : { name: context.user };
    return { source, contexts: [...entries.contexts.values()], currentContext, cluster, user };
  } catch (error) {
    throw new ConfigError(`${source}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A cluster or user entry as written, with the folder its relative paths are relative to. */
interface Entry {
  readonly fields: Fields;
  readonly folder: string;
}

/** The entries of one file, or of several merged. */
interface Entries {
  clusters: Map<string, Entry>;
  users: Map<string, Entry>;
  contexts: Map<string, KubeContext>;
  currentContext: string;
}

function load(file: string | undefined, env: NodeJS.ProcessEnv, home: string) {
  if (file) {
    if (!existsSync(file)) throw new ConfigError(`--kubeconfig ${file}: no such file`);
    return { entries: readFile(file), source: file };
  }
  const listed = (env.KUBECONFIG ?? "").split(delimiter).filter((path) => path !== "");
  if (listed.length > 0) {
    const present = listed.filter((path) => existsSync(path));
    if (present.length === 0)
      throw new ConfigError(`none of the KUBECONFIG files exists (${env.KUBECONFIG})`);
    return { entries: merged(present.map(readFile)), source: `KUBECONFIG (${present.join(delimiter)})` };
  }
  const personal = join(home, ".kube", "config");
  if (existsSync(personal)) return { entries: readFile(personal), source: personal };
  if (env.KUBERNETES_SERVICE_HOST)
    return { entries: inCluster(env), source: "the in-cluster service account" };
  throw new ConfigError(
    "no kubeconfig: pass --kubeconfig, set KUBECONFIG or create ~/.kube/config (or run in a cluster)",
  );
}

/** kubectl's merge: nothing a file set is changed by a later one. */
function merged(files: readonly Entries[]): Entries {
  const result: Entries = { clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: "" };
  for (const file of files) {
    for (const [name, cluster] of file.clusters)
      if (!result.clusters.has(name)) result.clusters.set(name, cluster);
    for (const [name, user] of file.users) if (!result.users.has(name)) result.users.set(name, user);
    for (const [name, context] of file.contexts)
      if (!result.contexts.has(name)) result.contexts.set(name, context);
    result.currentContext ||= file.currentContext;
  }
  return result;
}

/** The service account mounted into the pod, as client-go's InClusterConfig reads it. */
function inCluster(env: NodeJS.ProcessEnv): Entries {
  const host = env.KUBERNETES_SERVICE_HOST as string;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const name = "in-cluster";
  return {
    clusters: new Map([
      [name, { fields: { server, "certificate-authority": "ca.crt" }, folder: serviceAccountDir }],
    ]),
    // The token is read again at every refresh: bound service account tokens rotate.
    users: new Map([[name, { fields: { tokenFile: "token" }, folder: serviceAccountDir }]]),
    contexts: new Map([[name, { name, cluster: name, user: name }]]),
    currentContext: name,
  };
}

function readFile(file: string): Entries {
  try {
    return parseKubeConfig(readFileSync(file, "utf8"), dirname(file));
  } catch (error) {
    throw new ConfigError(`${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

type Fields = Record<string, unknown>;

const isFields = (value: unknown): value is Fields =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * One kubeconfig file's text; relative file paths in it are relative to `folder`, as kubectl
 * reads them. Throws an Error naming the first malformed list or context.
 */
function parseKubeConfig(text: string, folder: string): Entries {
  const doc = parseYaml(text) ?? {};
  if (!isFields(doc)) throw new Error("not a kubeconfig (expected a mapping)");
  const entries: Entries = { clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: "" };
  const currentContext = doc["current-context"];
  if (currentContext !== undefined && typeof currentContext !== "string")
    throw new Error("current-context must be a string");
  entries.currentContext = currentContext ?? "";
  for (const [name, fields] of namedEntries(doc, "clusters", "cluster"))
    entries.clusters.set(name, { fields, folder });
  for (const [name, fields] of namedEntries(doc, "users", "user"))
    entries.users.set(name, { fields, folder });
  for (const [name, fields] of namedEntries(doc, "contexts", "context")) {
    entries.contexts.set(name, {
      name,
      cluster: stringField(fields, "cluster", `context "${name}"`) ?? "",
      user: stringField(fields, "user", `context "${name}"`) ?? "",
      ...optional("namespace", stringField(fields, "namespace", `context "${name}"`)),
    });
  }
  return entries;
}

/** The `- name: x\n  <field>: {...}` entries of a list; the first of a name wins, as kubectl. */
function namedEntries(doc: Fields, list: string, field: string): [string, Fields][] {
  const items = doc[list] ?? [];
  if (!Array.isArray(items)) throw new Error(`${list} must be a list`);
  const result: [string, Fields][] = [];
  for (const item of items) {
    if (!isFields(item) || typeof item.name !== "string" || item.name === "")
      throw new Error(`every entry of ${list} needs a name`);
    const fields = item[field] ?? {};
    if (!isFields(fields)) throw new Error(`${field} "${item.name}" must be a mapping`);
    if (!result.some(([name]) => name === item.name)) result.push([item.name, fields]);
  }
  return result;
}

function clusterOf(name: string, { fields, folder }: Entry): KubeCluster {
  const where = `cluster "${name}"`;
  refuse(fields, where, {
    "proxy-url": "proxies are not supported: reach the API server directly",
  });
  const server = stringField(fields, "server", where);
  if (!server) throw new Error(`${where} has no server`);
  const insecure = fields["insecure-skip-tls-verify"];
  if (insecure !== undefined && typeof insecure !== "boolean")
    throw new Error(`${where}: insecure-skip-tls-verify must be true or false`);
  return {
    name,
    server,
    ...optional("certificateAuthority", pathField(fields, "certificate-authority", where, folder)),
    ...optional("certificateAuthorityData", base64Field(fields, "certificate-authority-data", where)),
    insecureSkipTlsVerify: insecure === true,
    ...optional("tlsServerName", stringField(fields, "tls-server-name", where)),
  };
}

function userOf(name: string, { fields, folder }: Entry): KubeUser {
  const where = `user "${name}"`;
  refuse(fields, where, {
    "auth-provider": "auth-provider plugins are not supported: use an exec credential plugin",
    as: "impersonation is not supported",
    "as-groups": "impersonation is not supported",
    "as-uid": "impersonation is not supported",
    "as-user-extra": "impersonation is not supported",
  });
  return {
    name,
    ...optional("token", stringField(fields, "token", where)),
    ...optional("tokenFile", pathField(fields, "tokenFile", where, folder)),
    ...optional("clientCertificate", pathField(fields, "client-certificate", where, folder)),
    ...optional("clientCertificateData", base64Field(fields, "client-certificate-data", where)),
    ...optional("clientKey", pathField(fields, "client-key", where, folder)),
    ...optional("clientKeyData", base64Field(fields, "client-key-data", where)),
    ...optional("username", stringField(fields, "username", where)),
    ...optional("password", stringField(fields, "password", where)),
    ...optional("exec", fields.exec === undefined ? undefined : execPlugin(fields.exec, where)),
  };
}

function execPlugin(value: unknown, where: string): ExecPlugin {
  if (!isFields(value)) throw new Error(`${where}: exec must be a mapping`);
  const at = `${where} exec`;
  const command = stringField(value, "command", at);
  if (!command) throw new Error(`${at} has no command`);
  const args = value.args ?? [];
  if (!Array.isArray(args) || args.some((arg) => typeof arg !== "string"))
    throw new Error(`${at}: args must be a list of strings`);
  const env = value.env ?? [];
  if (
    !Array.isArray(env) ||
    env.some((e) => !isFields(e) || typeof e.name !== "string" || typeof e.value !== "string")
  )
    throw new Error(`${at}: env must be a list of {name, value}`);
  return {
    apiVersion: stringField(value, "apiVersion", at) ?? "client.authentication.k8s.io/v1",
    command,
    args: args as string[],
    env: env as { name: string; value: string }[],
  };
}

function refuse(fields: Fields, where: string, unsupported: Record<string, string>): void {
  for (const [key, why] of Object.entries(unsupported))
    if (fields[key] !== undefined) throw new Error(`${where} sets ${key}: ${why}`);
}

function stringField(fields: Fields, key: string, where: string): string | undefined {
  const value = fields[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new Error(`${where}: ${key} must be a string`);
  return value;
}

function pathField(fields: Fields, key: string, where: string, folder: string): string | undefined {
  const value = stringField(fields, key, where);
  return value === undefined || isAbsolute(value) ? value : join(folder, value);
}

function base64Field(fields: Fields, key: string, where: string): string | undefined {
  const value = stringField(fields, key, where);
  return value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** What a TLS connection to the API server is opened with. */
export interface KubeTlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: false;
  servername?: string;
}

/** The files the config names, read now (a missing file is a ConfigError naming it). */
export function tlsOptions(config: KubeConfig): KubeTlsOptions {
  const { cluster, user } = config;
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch (error) {
      throw new ConfigError(
        `${config.source}: ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
  };
  const ca =
    cluster.certificateAuthorityData ??
    (cluster.certificateAuthority ? read(cluster.certificateAuthority, "certificate-authority") : undefined);
  const cert =
    user.clientCertificateData ??
    (user.clientCertificate ? read(user.clientCertificate, "client-certificate") : undefined);
  const key = user.clientKeyData ?? (user.clientKey ? read(user.clientKey, "client-key") : undefined);
  return {
    ...optional("ca", ca),
    ...optional("cert", cert),
    ...optional("key", key),
    ...(cluster.insecureSkipTlsVerify ? { rejectUnauthorized: false as const } : {}),
    ...optional("servername", cluster.tlsServerName),
  };
}

/** Runs an exec plugin; resolves with its ExecCredential's status. */
export type ExecRunner = (plugin: ExecPlugin, cluster: KubeCluster) => Promise<unknown>;

/**
 * The Authorization header of a config's user, kept fresh: a token file is read again on every
 * refresh (rotating service account tokens), an exec plugin's token is reused until it expires.
 */
export class KubeCredentials {
  private execToken: { token: string; expiresAt: number } | undefined;

  constructor(
    private readonly config: KubeConfig,
    private readonly runExec: ExecRunner = runExecPlugin,
  ) {}

  /** The headers every request carries; `force` re-runs an exec plugin (the server said 401). */
  async headers(force = false): Promise<Record<string, string>> {
    const { user } = this.config;
    if (user.exec) return { authorization: `Bearer ${await this.execCredential(user.exec, force)}` };
    if (user.tokenFile) {
      const token = readFileSync(user.tokenFile, "utf8").trim();
      return { authorization: `Bearer ${token}` };
    }
    if (user.token) return { authorization: `Bearer ${user.token}` };
    if (user.username !== undefined && user.password !== undefined)
      return {
        authorization: `Basic ${Buffer.from(`${user.username}:${user.password}`).toString("base64")}`,
      };
    return {};
  }

  private async execCredential(plugin: ExecPlugin, force: boolean): Promise<string> {
    if (!force && this.execToken && Date.now() < this.execToken.expiresAt) return this.execToken.token;
    const status = await this.runExec(plugin, this.config.cluster);
    const where = `${this.config.source}: exec plugin ${plugin.command}`;
    if (!isFields(status)) throw new ConfigError(`${where} returned no status`);
    if (status.clientCertificateData !== undefined || status.clientKeyData !== undefined)
      throw new ConfigError(
        `${where} returned a client certificate: only plugins that return a token are supported`,
      );
    if (typeof status.token !== "string" || status.token === "")
      throw new ConfigError(`${where} returned no token`);
    const expiry =
      typeof status.expirationTimestamp === "string" ? Date.parse(status.expirationTimestamp) : Number.NaN;
    // Without an expiry the token is used until the server refuses it (401 re-runs the plugin).
    this.execToken = {
      token: status.token,
      expiresAt: Number.isNaN(expiry) ? Number.POSITIVE_INFINITY : expiry,
    };
    return status.token;
  }
}

/** kubectl's exec protocol: KUBERNETES_EXEC_INFO in, an ExecCredential on stdout. */
export const runExecPlugin: ExecRunner = (plugin, cluster) =>
  new Promise((resolve, reject) => {
    const info = {
      apiVersion: plugin.apiVersion,
      kind: "ExecCredential",
      spec: { interactive: false, cluster: { server: cluster.server } },
    };
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) };
    for (const { name, value } of plugin.env) env[name] = value;
    execFile(
      plugin.command,
      [...plugin.args],
      { env, timeout: 60_000, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new ConfigError(`exec plugin ${plugin.command} failed: ${stderr.trim() || error.message}`));
          return;
        }
        try {
          resolve((JSON.parse(stdout) as { status?: unknown }).status);
        } catch {
          reject(new ConfigError(`exec plugin ${plugin.command} printed no ExecCredential JSON`));
        }
      },
    );
  });
