import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { pino } from "pino";
import { Gauge, Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import type { AccessReviewer, UserInfo } from "../../src/serving/metrics-access.js";
import { selfSignedCertificate } from "../../src/serving/self-signed-cert.js";
import { type Serving, startServing } from "../../src/serving/servers.js";
import { parseBindAddress, type ServingConfig } from "../../src/serving/serving-config.js";

const log = pino({ level: "silent" });
const loopback = { host: "127.0.0.1", port: 0 };
const registry = new Registry();
new Gauge({ name: "probe_gauge", help: "a gauge", registers: [registry] });

const reviewer: AccessReviewer = {
  reviewToken: async (token) =>
    token === "reader" || token === "tenant"
      ? { kind: "authenticated", user: { username: token, uid: "", groups: [], extra: {} } as UserInfo }
      : { kind: "unauthenticated", reason: "invalid bearer token" },
  reviewAccess: async (user) =>
    user.username === "reader" ? { kind: "allowed" } : { kind: "denied", reason: "" },
};

let serving: Serving | undefined;
afterEach(() => serving?.close());

async function start(metricsAuth: ServingConfig["metricsAuth"], ready = true) {
  serving = await startServing(
    { metrics: loopback, health: loopback, metricsAuth, tls: undefined },
    { registry, isReady: () => ready, log, identity: "shard-0", reviewer },
  );
  return serving;
}

/** GET over http or https (any certificate), with the peer certificate. */
function get(
  scheme: "http" | "https",
  port: number,
  path: string,
  token?: string,
): Promise<{ status: number; body: string; cert?: X509Certificate }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (scheme === "http")
    return fetch(`http://127.0.0.1:${port}${path}`, { headers }).then(async (res) => ({
      status: res.status,
      body: await res.text(),
    }));
  return new Promise((resolve, reject) => {
    let cert: X509Certificate | undefined;
    const req = request(
      { host: "127.0.0.1", port, path, headers, rejectUnauthorized: false, agent: false },
      (res) => {
        let body = "";
        res.on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, cert }));
      },
    );
    req.once("socket", (socket: TLSSocket) =>
      socket.once("secureConnect", () => {
        cert = socket.getPeerX509Certificate();
      }),
    );
    req.on("error", reject);
    req.end();
  });
}

describe("serving /metrics and the probes", () => {
  it("with auth rbac: HTTPS; /metrics 401 without a token, 403 without the right, 200 with it", async () => {
    const { metricsPort, metricsScheme } = await start("rbac");
    expect(metricsScheme).toBe("https");
    expect((await get("https", metricsPort, "/metrics")).status).toBe(401);
    expect((await get("https", metricsPort, "/metrics", "made-up")).status).toBe(401);
    const forbidden = await get("https", metricsPort, "/metrics", "tenant");
    expect(forbidden).toMatchObject({
      status: 403,
      body: 'Forbidden: user "tenant" cannot get path "/metrics"',
    });
    const allowed = await get("https", metricsPort, "/metrics", "reader");
    expect(allowed.status).toBe(200);
    expect(allowed.body).toContain("# TYPE probe_gauge gauge");
    // Plain HTTP is not spoken on the metrics port.
    await expect(get("http", metricsPort, "/metrics")).rejects.toThrow();
    // The self-signed certificate names the replica.
    expect(allowed.cert?.subject).toMatch(/^CN=shard-0@\d+$/);
  });

  it("answers the probes unauthenticated, on the health port and on the metrics port", async () => {
    const { metricsPort, healthPort } = await start("rbac", false);
    expect(await get("http", healthPort, "/healthz")).toMatchObject({ status: 200, body: "ok" });
    expect(await get("http", healthPort, "/livez")).toMatchObject({ status: 200, body: "ok" });
    expect(await get("http", healthPort, "/readyz")).toMatchObject({ status: 503 });
    expect((await get("https", metricsPort, "/healthz")).status).toBe(200);
    expect((await get("https", metricsPort, "/readyz")).status).toBe(503);
  });

  it("never serves /metrics on the health port", async () => {
    const { healthPort } = await start("none");
    expect((await get("http", healthPort, "/metrics")).status).toBe(404);
  });

  it("with auth none: plain HTTP for anyone (local runs, or behind a NetworkPolicy)", async () => {
    const { metricsPort, metricsScheme } = await start("none");
    expect(metricsScheme).toBe("http");
    const res = await get("http", metricsPort, "/metrics");
    expect(res.status).toBe(200);
    expect(res.body).toContain("probe_gauge");
    expect((await get("http", metricsPort, "/readyz")).status).toBe(200);
    expect((await get("http", metricsPort, "/other")).status).toBe(404);
  });
});

describe("a provided certificate", () => {
  it("is served, and served anew once its files change (cert-manager renews in place)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "metrics-tls-"));
    const files = { certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key") };
    const write = (name: string) => {
      const pair = selfSignedCertificate(name, ["localhost"]);
      writeFileSync(files.certFile, pair.cert);
      writeFileSync(files.keyFile, pair.key);
    };
    write("first");
    serving = await startServing(
      { metrics: loopback, health: loopback, metricsAuth: "rbac", tls: files },
      { registry, isReady: () => true, log, identity: "shard-0", reviewer, certReloadMs: 50 },
    );
    const port = serving.metricsPort;
    expect((await get("https", port, "/metrics", "reader")).cert?.subject).toBe("CN=first");
    write("second");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await get("https", port, "/metrics", "reader")).cert?.subject).toBe("CN=second");
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("bind addresses", () => {
  it.each([
    [":10260", { host: undefined, port: 10260 }],
    ["127.0.0.1:0", { host: "127.0.0.1", port: 0 }],
    ["[::1]:10262", { host: "::1", port: 10262 }],
    // The chart's "$(POD_IP):10262" with an IPv6 pod IP.
    ["fd00::5:10262", { host: "fd00::5", port: 10262 }],
  ])("reads %s", (text, address) => {
    expect(parseBindAddress(text, "--x")).toEqual(address);
  });

  it.each(["10260", "host:", ":port", ":70000", ""])("rejects %s", (text) => {
    expect(() => parseBindAddress(text, "--metrics-bind-address")).toThrow(/host:port/);
  });
});

describe("the self-signed certificate", () => {
  it("is a valid serverAuth certificate for the names and addresses given, signed by its own key", () => {
    const now = new Date("2026-12-04T00:00:00Z");
    const { cert, key } = selfSignedCertificate(
      "shard-0@1",
      ["localhost", "shard-0", "127.0.0.1", "::1"],
      now,
    );
    const x509 = new X509Certificate(cert);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(x509.ca).toBe(false);
    expect(x509.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(x509.checkHost("shard-0")).toBe("shard-0");
    expect(x509.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(x509.checkIP("::1")).toBe("::1");
    expect(new Date(x509.validFrom).getTime()).toBeLessThanOrEqual(now.getTime());
    expect(new Date(x509.validTo).getTime()).toBeGreaterThan(now.getTime() + 364 * 24 * 3600_000);
  });
});
