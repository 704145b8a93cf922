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
import { loadKubeConfig } from "../../src/config/kubeconfig.js";

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
    expect(config.getCurrentCluster()?.server).toBe("https://a:6443");
    expect(config.getCurrentCluster()?.caFile).toBe(join(dir, "ca.crt"));
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
    expect(config.getCurrentContext()).toBe("shared");
    expect(config.getCurrentCluster()?.server).toBe("https://first:6443");
    expect(config.getCurrentUser()?.token).toBe("first-token");
    // What only the later file has is there too.
    expect(config.contexts.map((c) => c.name).sort()).toEqual(["extra", "shared"]);
    expect(
      loadKubeConfig({ context: "extra" }, env({ KUBECONFIG: `${first}:${second}` })).getCurrentCluster()
        ?.server,
    ).toBe("https://extra:6443");
  });

  it("takes the current context from the first file that sets one", () => {
    const none = kubeconfig("none", [entry("a", "https://a:6443")]);
    const sets = kubeconfig("sets", [entry("b", "https://b:6443")], "b");
    expect(loadKubeConfig({}, env({ KUBECONFIG: `${none}:${sets}` })).getCurrentContext()).toBe("b");
  });

  it("falls back to ~/.kube/config, then to the in-cluster service account", () => {
    mkdirSync(join(dir, "home", ".kube"), { recursive: true });
    writeFileSync(
      join(dir, "home", ".kube", "config"),
      `apiVersion: v1\nkind: Config\ncurrent-context: h\nclusters:\n- name: h\n  cluster:\n    server: https://home:6443\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: h\n  context:\n    cluster: h\n    user: u\n`,
    );
    expect(loadKubeConfig({}, env()).getCurrentCluster()?.server).toBe("https://home:6443");
    rmSync(join(dir, "home"), { recursive: true });
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = "10.0.0.1";
    process.env.KUBERNETES_SERVICE_PORT = "443";
    try {
      const inCluster = loadKubeConfig({}, env({ KUBERNETES_SERVICE_HOST: "10.0.0.1" }));
      expect(inCluster.getCurrentCluster()?.server).toBe("https://10.0.0.1:443");
    } finally {
      if (saved.host === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
      else process.env.KUBERNETES_SERVICE_HOST = saved.host;
      if (saved.port === undefined) delete process.env.KUBERNETES_SERVICE_PORT;
      else process.env.KUBERNETES_SERVICE_PORT = saved.port;
    }
  });

  it("selects --context, and refuses an unknown one in one line", () => {
    const file = kubeconfig("two", [entry("a", "https://a:6443"), entry("b", "https://b:6443")], "a");
    expect(loadKubeConfig({ kubeconfig: file, context: "b" }, env()).getCurrentCluster()?.server).toBe(
      "https://b:6443",
    );
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
