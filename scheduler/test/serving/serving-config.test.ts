import { describe, expect, it } from "vitest";
import { loadShardConfig } from "../../src/shard/config.js";

describe("serving settings", () => {
  it("default to /metrics behind RBAC over HTTPS on :10260 and the probes alone on :10262", () => {
    expect(loadShardConfig([], {}).serving).toEqual({
      metrics: { host: undefined, port: 10260 },
      health: { host: undefined, port: 10262 },
      metricsAuth: "rbac",
      tls: undefined,
    });
  });

  it("read bind addresses, the auth mode and certificate files from flags or the environment", () => {
    const { serving } = loadShardConfig(["--metrics-bind-address=127.0.0.1:9000", "--metrics-auth=none"], {
      HEALTH_BIND_ADDRESS: "10.1.2.3:9001",
    });
    expect(serving).toMatchObject({
      metrics: { host: "127.0.0.1", port: 9000 },
      health: { host: "10.1.2.3", port: 9001 },
      metricsAuth: "none",
    });
    expect(
      loadShardConfig([], { METRICS_TLS_CERT_FILE: "/tls/tls.crt", METRICS_TLS_KEY_FILE: "/tls/tls.key" })
        .serving.tls,
    ).toEqual({ certFile: "/tls/tls.crt", keyFile: "/tls/tls.key" });
  });

  it("refuses what would not do what it says", () => {
    expect(() => loadShardConfig(["--metrics-auth=off"], {})).toThrow(/must be one of rbac, none/);
    expect(() => loadShardConfig(["--metrics-tls-cert-file=/c"], {})).toThrow(/go together/);
    expect(() =>
      loadShardConfig(["--metrics-auth=none", "--metrics-tls-cert-file=/c", "--metrics-tls-key-file=/k"], {}),
    ).toThrow(/needs --metrics-auth \(METRICS_AUTH\)=rbac/);
    expect(() => loadShardConfig(["--health-bind-address=10262"], {})).toThrow(/host:port/);
  });
});
