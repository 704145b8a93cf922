/**
 * Where a program serves /metrics and its probes, and how /metrics is protected: the settings
 * rows both programs share (see config/flags.ts). Defaults are the safe ones: /metrics over
 * HTTPS behind delegated RBAC (as kube-scheduler's secure port); probes on their own port.
 */
import { ConfigError, type FlagReader, type Setting } from "../config/flags.js";

export const metricsAuthModes = ["rbac", "none"] as const;
export type MetricsAuth = (typeof metricsAuthModes)[number];

export interface BindAddress {
  /** undefined: every interface. */
  host: string | undefined;
  /** 0: any free port. */
  port: number;
}

export interface ServingConfig {
  /** /metrics, and the probes' paths too (never behind auth). */
  metrics: BindAddress;
  /** /healthz, /livez and /readyz only, plain HTTP, no auth: the kubelet's probes. */
  health: BindAddress;
  /** rbac: HTTPS, bearer token + TokenReview + SubjectAccessReview; none: plain HTTP, no checks. */
  metricsAuth: MetricsAuth;
  /** PEM files of the HTTPS certificate (reread when they change); undefined: self-signed. */
  tls: { certFile: string; keyFile: string } | undefined;
}

/** The settings rows, with this program's default ports. */
export function servingSettingTable(metricsPort: number, healthPort: number) {
  return {
    metricsBindAddress: {
      flag: "metrics-bind-address",
      env: "METRICS_BIND_ADDRESS",
      help: "host:port of /metrics (host '' = all interfaces; port 0 = any)",
      fallback: () => `:${metricsPort}`,
    },
    healthBindAddress: {
      flag: "health-bind-address",
      env: "HEALTH_BIND_ADDRESS",
      help: "host:port of /healthz, /livez, /readyz only, unauthenticated (the chart binds the pod IP)",
      fallback: () => `:${healthPort}`,
    },
    metricsAuth: {
      flag: "metrics-auth",
      env: "METRICS_AUTH",
      help: "rbac: HTTPS, a bearer token allowed to get the nonResourceURL /metrics; none: plain HTTP, no auth",
      fallback: () => "rbac",
    },
    metricsTlsCertFile: {
      flag: "metrics-tls-cert-file",
      env: "METRICS_TLS_CERT_FILE",
      help: "PEM certificate of /metrics with --metrics-auth=rbac ('' = self-signed at start)",
      fallback: () => "",
    },
    metricsTlsKeyFile: {
      flag: "metrics-tls-key-file",
      env: "METRICS_TLS_KEY_FILE",
      help: "PEM private key of that certificate",
      fallback: () => "",
    },
  } satisfies Record<string, Setting>;
}

type ServingSettingKey = keyof ReturnType<typeof servingSettingTable>;

export function readServingConfig<K extends string>(
  reader: FlagReader<K | ServingSettingKey>,
): ServingConfig {
  const metricsAuth = reader.oneOf("metricsAuth", metricsAuthModes);
  const certFile = reader.string("metricsTlsCertFile");
  const keyFile = reader.string("metricsTlsKeyFile");
  if ((certFile === "") !== (keyFile === ""))
    throw new ConfigError(
      `${reader.name("metricsTlsCertFile")} and ${reader.name("metricsTlsKeyFile")} go together`,
    );
  if (certFile && metricsAuth === "none")
    throw new ConfigError(
      `${reader.name("metricsTlsCertFile")} needs ${reader.name("metricsAuth")}=rbac (none serves plain HTTP)`,
    );
  return {
    metrics: parseBindAddress(reader.string("metricsBindAddress"), reader.name("metricsBindAddress")),
    health: parseBindAddress(reader.string("healthBindAddress"), reader.name("healthBindAddress")),
    metricsAuth,
    tls: certFile ? { certFile, keyFile } : undefined,
  };
}

/**
 * "host:port", "[v6]:port" or ":port". The port is after the last colon, so an unbracketed IPv6
 * host works too (the chart writes "$(POD_IP):port" whichever family the pod IP is).
 */
export function parseBindAddress(text: string, name: string): BindAddress {
  const colon = text.lastIndexOf(":");
  const portText = text.slice(colon + 1);
  const port = Number(portText);
  if (colon < 0 || portText === "" || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`${name} must be host:port (host may be empty), got "${text}"`);
  let host = text.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return { host: host === "" ? undefined : host, port };
}

export const describeBindAddress = (address: BindAddress, port = address.port) =>
  `${address.host === undefined ? "*" : address.host.includes(":") ? `[${address.host}]` : address.host}:${port}`;
