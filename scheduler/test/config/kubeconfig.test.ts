/**
 * Credentials found as kubectl finds them, with temporary kubeconfig files: --kubeconfig, else
 * KUBECONFIG's files merged (the first to set a value wins), else ~/.kube/config, else the
 * in-cluster service account; --context picks a context; what is missing is one ConfigError.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/flags.js";
import { KubeCredentials, loadKubeConfig, tlsOptions } from "../../src/config/kubeconfig.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

interface Entry {
  cluster: string;
  server: string;
  user: string;
  token: string;
}

/** A kubeconfig file with one context per entry (named as its cluster), in dir/<name>. */
function kubeconfig(name: string, entries: Entry[], currentContext?: string): string {
  const file = join(dir, name);
  const lines = [
    "apiVersion: v1",
    "kind: Config",
    ...(currentContext ? [`current-context: ${currentContext}`] : []),
    "clusters:",
    ...entries.flatMap((e) => [
      `- name: ${e.cluster}`,
      "  cluster:",
      `    server: ${e.server}`,
      "    certificate-authority: ca.crt",
    ]),
    "users:",
    ...entries.flatMap((e) => [`- name: ${e.user}`, "  user:", `    token: ${e.token}`]),
    "contexts:",
    ...entries.flatMap((e) => [
      `- name: ${e.cluster}`,
      "  context:",
      `    cluster: ${e.cluster}`,
      `    user: ${e.user}`,
    ]),
  ];
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

const entry = (
  cluster: string,
  server: string,
  user = `${cluster}-admin`,
  token = `${cluster}-token`,
): Entry => ({
  cluster,
  server,
  user,
  token,
});

/** No KUBECONFIG, a home without .kube, not in a cluster, unless a test says otherwise. */
const env = (vars: NodeJS.ProcessEnv = {}) => ({ env: vars, home: join(dir, "home") });

describe("loadKubeConfig", () => {
  it("reads the --kubeconfig file, its relative paths made absolute to its folder", () => {
    const file = kubeconfig("explicit", [entry("a", "https://a:6443")], "a");
    const other = kubeconfig("listed", [entry("b", "https://b:6443")], "b");
    const config = loadKubeConfig({ kubeconfig: file }, env({ KUBECONFIG: other }));
    expect(config.cluster.server).toBe("https://a:6443");
    expect(config.cluster.certificateAuthority).toBe(join(dir, "ca.crt"));
  });

  it("merges the files KUBECONFIG lists as kubectl does: the first to set a value wins", () => {
    const first = kubeconfig(
      "first",
      [entry("shared", "https://first:6443", "admin", "first-token")],
      "shared",
    );
    const second = kubeconfig(
      "second",
      [entry("shared", "https://second:6443", "admin", "second-token"), entry("extra", "https://extra:6443")],
      "extra",
    );
    const config = loadKubeConfig({}, env({ KUBECONFIG: `${first}::${join(dir, "missing")}:${second}` }));
    expect(config.currentContext).toBe("shared");
    expect(config.cluster.server).toBe("https://first:6443");
    expect(config.user.token).toBe("first-token");
    // What only the later file has is there too.
    expect(config.contexts.map((c) => c.name).sort()).toEqual(["extra", "shared"]);
    expect(
      loadKubeConfig({ context: "extra" }, env({ KUBECONFIG: `${first}:${second}` })).cluster.server,
    ).toBe("https://extra:6443");
  });

  it("takes the current context from the first file that sets one", () => {
    const none = kubeconfig("none", [entry("a", "https://a:6443")]);
    const sets = kubeconfig("sets", [entry("b", "https://b:6443")], "b");
    expect(loadKubeConfig({}, env({ KUBECONFIG: `${none}:${sets}` })).currentContext).toBe("b");
  });

  it("falls back to ~/.kube/config, then to the in-cluster service account", () => {
    mkdirSync(join(dir, "home", ".kube"), { recursive: true });
    writeFileSync(
      join(dir, "home", ".kube", "config"),
      `apiVersion: v1\nkind: Config\ncurrent-context: h\nclusters:\n- name: h\n  cluster:\n    server: https://home:6443\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: h\n  context:\n    cluster: h\n    user: u\n`,
    );
    expect(loadKubeConfig({}, env()).cluster.server).toBe("https://home:6443");
    rmSync(join(dir, "home"), { recursive: true });
    const inCluster = loadKubeConfig({}, env({ KUBERNETES_SERVICE_HOST: "10.0.0.1" }));
    expect(inCluster.cluster.server).toBe("https://10.0.0.1:443");
    expect(inCluster.cluster.certificateAuthority).toBe(
      "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
    );
    // Read again at every refresh: bound service account tokens rotate.
    expect(inCluster.user.tokenFile).toBe("/var/run/secrets/kubernetes.io/serviceaccount/token");
    const ipv6 = loadKubeConfig(
      {},
      env({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" }),
    );
    expect(ipv6.cluster.server).toBe("https://[fd00::1]:6443");
  });

  it("selects --context, and refuses an unknown one in one line", () => {
    const file = kubeconfig("two", [entry("a", "https://a:6443"), entry("b", "https://b:6443")], "a");
    expect(loadKubeConfig({ kubeconfig: file, context: "b" }, env()).cluster.server).toBe("https://b:6443");
    const unknown = () => loadKubeConfig({ kubeconfig: file, context: "c" }, env());
    expect(unknown).toThrow(ConfigError);
    expect(unknown).toThrow(`context "c" not found in ${file}`);
  });

  it("says what is missing: no credentials at all, a missing file, no current context", () => {
    expect(() => loadKubeConfig({}, env())).toThrow(/^no kubeconfig: pass --kubeconfig, set KUBECONFIG/);
    expect(() => loadKubeConfig({ kubeconfig: join(dir, "nope") }, env())).toThrow(/no such file/);
    expect(() => loadKubeConfig({}, env({ KUBECONFIG: join(dir, "nope") }))).toThrow(ConfigError);
    const noCurrent = kubeconfig("no-current", [entry("a", "https://a:6443")]);
    expect(() => loadKubeConfig({ kubeconfig: noCurrent }, env())).toThrow(
      /sets no current context: pass --context/,
    );
  });
});

/** A kubeconfig with one context "c" whose cluster and user carry these fields. */
function withFields(cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  const file = join(dir, "fields");
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      "current-context": "c",
      clusters: [{ name: "c", cluster: { server: "https://c:6443", ...cluster } }],
      users: [{ name: "u", user }],
      contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
    }),
  );
  return file;
}

const b64 = (text: string) => Buffer.from(text).toString("base64");

describe("what a kubeconfig's cluster and user give a connection", () => {
  it("reads the CA, client certificate and key from files (relative to the kubeconfig) or data", () => {
    writeFileSync(join(dir, "ca.pem"), "CA FROM FILE");
    writeFileSync(join(dir, "client.pem"), "CERT FROM FILE");
    writeFileSync(join(dir, "client.key"), "KEY FROM FILE");
    const fromFiles = loadKubeConfig(
      {
        kubeconfig: withFields(
          { "certificate-authority": "ca.pem", "tls-server-name": "api.internal" },
          { "client-certificate": "client.pem", "client-key": "client.key" },
        ),
      },
      env(),
    );
    expect(tlsOptions(fromFiles)).toEqual({
      ca: "CA FROM FILE",
      cert: "CERT FROM FILE",
      key: "KEY FROM FILE",
      servername: "api.internal",
    });
    const fromData = loadKubeConfig(
      {
        kubeconfig: withFields(
          { "certificate-authority-data": b64("CA DATA"), "insecure-skip-tls-verify": true },
          { "client-certificate-data": b64("CERT DATA"), "client-key-data": b64("KEY DATA") },
        ),
      },
      env(),
    );
    expect(tlsOptions(fromData)).toEqual({
      ca: "CA DATA",
      cert: "CERT DATA",
      key: "KEY DATA",
      rejectUnauthorized: false,
    });
  });

  it("names a certificate file that is missing", () => {
    const config = loadKubeConfig(
      { kubeconfig: withFields({ "certificate-authority": "gone.pem" }, {}) },
      env(),
    );
    expect(() => tlsOptions(config)).toThrow(ConfigError);
    expect(() => tlsOptions(config)).toThrow(`certificate-authority ${join(dir, "gone.pem")}: ENOENT`);
  });

  it("refuses what it cannot honour, naming it, rather than connecting without it", () => {
    const refused = (cluster: Record<string, unknown>, user: Record<string, unknown>) => () =>
      loadKubeConfig({ kubeconfig: withFields(cluster, user) }, env());
    expect(refused({}, { "auth-provider": { name: "oidc" } })).toThrow(
      /user "u" sets auth-provider: auth-provider plugins are not supported: use an exec credential plugin/,
    );
    expect(refused({ "proxy-url": "http://proxy:3128" }, {})).toThrow(/cluster "c" sets proxy-url/);
    expect(refused({}, { as: "someone-else" })).toThrow(/impersonation is not supported/);
    expect(refused({ server: 6443 }, {})).toThrow(/cluster "c": server must be a string/);
    expect(refused({}, { exec: { args: ["x"] } })).toThrow(/user "u" exec has no command/);
    expect(refused({}, {})).not.toThrow();
    // Only what the context in use names is read: another context may use what is refused.
    const file = join(dir, "mixed");
    writeFileSync(
      file,
      JSON.stringify({
        "current-context": "plain",
        clusters: [
          { name: "plain", cluster: { server: "https://plain:6443" } },
          { name: "proxied", cluster: { server: "https://proxied:6443", "proxy-url": "http://proxy:3128" } },
        ],
        users: [
          { name: "u", user: { token: "t" } },
          { name: "oidc", user: { "auth-provider": { name: "oidc" } } },
        ],
        contexts: [
          { name: "plain", context: { cluster: "plain", user: "u" } },
          { name: "proxied", context: { cluster: "proxied", user: "oidc" } },
        ],
      }),
    );
    expect(loadKubeConfig({ kubeconfig: file }, env()).user.token).toBe("t");
    expect(() => loadKubeConfig({ kubeconfig: file, context: "proxied" }, env())).toThrow(
      `${file}: cluster "proxied" sets proxy-url`,
    );
  });

  it("sends a token, re-reads a token file at every refresh, or sends basic auth", async () => {
    const token = await new KubeCredentials(
      loadKubeConfig({ kubeconfig: withFields({}, { token: "abc" }) }, env()),
    ).headers();
    expect(token).toEqual({ authorization: "Bearer abc" });
    writeFileSync(join(dir, "token"), "first\n");
    const rotating = new KubeCredentials(
      loadKubeConfig({ kubeconfig: withFields({}, { tokenFile: "token" }) }, env()),
    );
    expect(await rotating.headers()).toEqual({ authorization: "Bearer first" });
    writeFileSync(join(dir, "token"), "rotated\n");
    expect(await rotating.headers()).toEqual({ authorization: "Bearer rotated" });
    const basic = await new KubeCredentials(
      loadKubeConfig({ kubeconfig: withFields({}, { username: "ann", password: "pw" }) }, env()),
    ).headers();
    expect(basic).toEqual({ authorization: `Basic ${b64("ann:pw")}` });
    const anonymous = await new KubeCredentials(
      loadKubeConfig({ kubeconfig: withFields({}, {}) }, env()),
    ).headers();
    expect(anonymous).toEqual({});
  });

  it("runs an exec plugin, reuses its token until it expires, and again when the server says 401", async () => {
    const config = loadKubeConfig(
      {
        kubeconfig: withFields(
          {},
          { exec: { apiVersion: "client.authentication.k8s.io/v1", command: "get-token" } },
        ),
      },
      env(),
    );
    const issued: { token: string; expirationTimestamp?: string }[] = [
      { token: "t1", expirationTimestamp: new Date(Date.now() + 3_600_000).toISOString() },
      { token: "t2", expirationTimestamp: new Date(Date.now() - 1_000).toISOString() },
      { token: "t3" },
    ];
    let runs = 0;
    const credentials = new KubeCredentials(config, async (plugin, cluster) => {
      expect(plugin.command).toBe("get-token");
      expect(cluster.server).toBe("https://c:6443");
      return issued[runs++];
    });
    expect(await credentials.headers()).toEqual({ authorization: "Bearer t1" });
    expect(await credentials.headers()).toEqual({ authorization: "Bearer t1" });
    expect(runs).toBe(1);
    // A 401: run it again although t1 has not expired; t2 has already expired, so the next asks again.
    expect(await credentials.headers(true)).toEqual({ authorization: "Bearer t2" });
    expect(await credentials.headers()).toEqual({ authorization: "Bearer t3" });
    expect(runs).toBe(3);
  });

  it("runs a real exec plugin with KUBERNETES_EXEC_INFO and its env, and refuses one returning certificates", async () => {
    const plugin = join(dir, "plugin.sh");
    writeFileSync(
      plugin,
      `#!/bin/sh\necho "{\\"apiVersion\\":\\"client.authentication.k8s.io/v1\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"$TOKEN_PREFIX-$(echo "$KUBERNETES_EXEC_INFO" | grep -c ExecCredential)\\"}}"\n`,
      { mode: 0o755 },
    );
    const config = loadKubeConfig(
      {
        kubeconfig: withFields(
          {},
          { exec: { command: plugin, env: [{ name: "TOKEN_PREFIX", value: "real" }] } },
        ),
      },
      env(),
    );
    expect(await new KubeCredentials(config).headers()).toEqual({ authorization: "Bearer real-1" });
    const certs = new KubeCredentials(config, async () => ({
      clientCertificateData: "x",
      clientKeyData: "y",
    }));
    await expect(certs.headers()).rejects.toThrow(
      /returned a client certificate: only plugins that return a token/,
    );
    const failing = loadKubeConfig(
      { kubeconfig: withFields({}, { exec: { command: join(dir, "missing-plugin") } }) },
      env(),
    );
    await expect(new KubeCredentials(failing).headers()).rejects.toThrow(ConfigError);
  });
});
