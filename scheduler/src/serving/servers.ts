/**
 * The two HTTP servers of a program (shard or coordinator), as kube-scheduler serves its own:
 *   - health: /healthz and /livez (alive), /readyz (ready), plain HTTP, unauthenticated, nothing
 *     else: what the kubelet's probes need, bound where they come from (the chart: the pod IP);
 *   - metrics: /metrics (Prometheus). With auth "rbac", over HTTPS and only for a bearer token
 *     whose user may get the nonResourceURL /metrics (serving/metrics-access.ts); with "none",
 *     plain HTTP for anyone who can reach it. It answers the probe paths too, unauthenticated
 *     (kube-scheduler's always-allowed paths), so local runs need only one port.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import {
  type AccessReviewer,
  type MetricsAccess,
  MetricsAccessCheck,
  metricsPath,
} from "./metrics-access.js";
import { selfSignedCertificate } from "./self-signed-cert.js";
import { type BindAddress, describeBindAddress, type ServingConfig } from "./serving-config.js";

export interface ServingDeps {
  registry: Registry;
  isReady: () => boolean;
  log: Logger;
  /** Names the self-signed certificate (the replica identity). */
  identity: string;
  /** Required with metricsAuth "rbac": who answers the reviews. */
  reviewer?: AccessReviewer;
  /** How often certificate files are reread (default 60 s). */
  certReloadMs?: number;
}

export interface Serving {
  metricsPort: number;
  metricsScheme: "http" | "https";
  healthPort: number;
  close(): void;
}

const probePaths = new Set(["/healthz", "/livez", "/readyz"]);

export async function startServing(config: ServingConfig, deps: ServingDeps): Promise<Serving> {
  const { registry, isReady, log } = deps;
  const timers: NodeJS.Timeout[] = [];
  let metricsServer: Server;
  let access: MetricsAccessCheck | undefined;
  if (config.metricsAuth === "rbac") {
    if (!deps.reviewer) throw new Error("--metrics-auth=rbac needs a reviewer");
    access = new MetricsAccessCheck(deps.reviewer);
    const tls = config.tls;
    const pair = tls
      ? { cert: readFileSync(tls.certFile, "utf8"), key: readFileSync(tls.keyFile, "utf8") }
      : selfSignedCertificate(`${deps.identity}@${Math.floor(Date.now() / 1000)}`, [
          "localhost",
          hostname(),
          "127.0.0.1",
          "::1",
          ...(config.metrics.host ? [config.metrics.host] : []),
        ]);
    const server = createHttpsServer(pair);
    if (tls) timers.push(reloadCertificate(server, tls, pair, deps.certReloadMs ?? 60_000, log));
    metricsServer = server;
  } else {
    metricsServer = createServer();
  }
  const warn = warnOncePerMinute(log);
  metricsServer.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const path = pathOf(req);
    if (probePaths.has(path)) return answerProbe(path, isReady, res);
    if (path !== metricsPath) return void res.writeHead(404).end("not found");
    if (req.method !== "GET" && req.method !== "HEAD")
      return void res.writeHead(405, { allow: "GET, HEAD" }).end("method not allowed");
    const allowed: Promise<MetricsAccess> = access
      ? access
          .check(req.headers.authorization)
          .catch((error: unknown) => ({ status: 500, reason: String(error) }))
      : Promise.resolve({ status: 200, user: "" });
    void allowed.then(async (decision) => {
      if (decision.status !== 200) {
        if (decision.status === 500 || (decision.status === 401 && decision.failed))
          warn(decision.reason, "a review for /metrics failed");
        else log.debug({ status: decision.status, reason: decision.reason }, "/metrics refused");
        return void res
          .writeHead(decision.status, refusalHeaders(decision.status))
          .end(refusalText(decision));
      }
      try {
        const text = await registry.metrics();
        res.writeHead(200, { "content-type": registry.contentType }).end(req.method === "HEAD" ? "" : text);
      } catch (error) {
        res.writeHead(500).end(String(error));
      }
    });
  });
  const healthServer = createServer((req, res) => {
    const path = pathOf(req);
    if (probePaths.has(path)) answerProbe(path, isReady, res);
    else res.writeHead(404).end("not found");
  });
  try {
    const metricsPort = await listen(metricsServer, config.metrics);
    const healthPort = await listen(healthServer, config.health).catch((error: unknown) => {
      metricsServer.close();
      throw error;
    });
    const metricsScheme = access ? "https" : "http";
    log.info(
      {
        metrics: `${metricsScheme}://${describeBindAddress(config.metrics, metricsPort)}${metricsPath}`,
        metricsAuth: config.metricsAuth,
        health: `http://${describeBindAddress(config.health, healthPort)}`,
      },
      "serving",
    );
    if (config.metricsAuth === "none" && config.metrics.host !== "127.0.0.1" && config.metrics.host !== "::1")
      log.warn(
        "/metrics is served without authentication beyond loopback: allow only the scrapers (a NetworkPolicy)",
      );
    return {
      metricsPort,
      metricsScheme,
      healthPort,
      close: () => {
        for (const timer of timers) clearInterval(timer);
        metricsServer.close();
        healthServer.close();
      },
    };
  } catch (error) {
    for (const timer of timers) clearInterval(timer);
    throw error;
  }
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? "/").split("?")[0] ?? "/";
}

function answerProbe(path: string, isReady: () => boolean, res: ServerResponse): void {
  const ready = path !== "/readyz" || isReady();
  res.writeHead(ready ? 200 : 503, { "content-type": "text/plain" }).end(ready ? "ok" : "caches not synced");
}

function refusalHeaders(status: number): Record<string, string> {
  return {
    "content-type": "text/plain",
    ...(status === 401 ? { "www-authenticate": 'Bearer realm="metrics"' } : {}),
  };
}

/** What the client learns: the apiserver's words, not the review's details (those are logged). */
function refusalText(decision: Exclude<MetricsAccess, { status: 200 }>): string {
  if (decision.status === 401) return "Unauthorized";
  if (decision.status === 403) return `Forbidden: user "${decision.user}" cannot get path "${metricsPath}"`;
  return "Internal Server Error";
}

function listen(server: Server, address: BindAddress): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const onListening = () => {
      server.off("error", reject);
      const bound = server.address();
      resolve(typeof bound === "object" && bound ? bound.port : address.port);
    };
    if (address.host === undefined) server.listen(address.port, onListening);
    else server.listen(address.port, address.host, onListening);
  });
}

/** Rereads the certificate files (cert-manager renews them in place); a bad pair keeps the old one. */
function reloadCertificate(
  server: ReturnType<typeof createHttpsServer>,
  files: { certFile: string; keyFile: string },
  initial: { cert: string; key: string },
  intervalMs: number,
  log: Logger,
): NodeJS.Timeout {
  let current = initial;
  const timer = setInterval(() => {
    try {
      const next = { cert: readFileSync(files.certFile, "utf8"), key: readFileSync(files.keyFile, "utf8") };
      if (next.cert === current.cert && next.key === current.key) return;
      server.setSecureContext(next);
      current = next;
      log.info({ certFile: files.certFile }, "serving certificate of /metrics reloaded");
    } catch (error) {
      log.warn({ err: String(error), certFile: files.certFile }, "serving certificate not reloaded");
    }
  }, intervalMs);
  timer.unref();
  return timer;
}

/** A failing review would log on every scrape: once a minute per reason is enough. */
function warnOncePerMinute(log: Logger): (reason: string, message: string) => void {
  const lastLogged = new Map<string, number>();
  return (reason, message) => {
    const now = Date.now();
    if ((lastLogged.get(reason) ?? -Infinity) > now - 60_000) return;
    if (lastLogged.size > 100) lastLogged.clear();
    lastLogged.set(reason, now);
    log.warn({ reason }, message);
  };
}
