/**
 * A thin Kubernetes REST client for the hot paths (binds, evictions, status patches, watches):
 * plain JSON over keep-alive connections, authenticated from a client-node KubeConfig
 * (kubeconfig file or in-cluster service account), with a client-side QPS limit.
 * client-node's generated clients open a new TLS connection per request, which costs more
 * than the request itself at scheduler rates.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import type { KubeConfig } from "@kubernetes/client-node";
import { TokenBucket } from "./token-bucket.js";

export interface KubeClientOptions {
  /** Sustained requests per second (watches are not counted). */
  qps: number;
  burst: number;
  /** Open connections to the API server at most. */
  maxSockets: number;
  /** Per-request timeout. */
  timeoutMs: number;
}

export const defaultKubeClientOptions: KubeClientOptions = {
  qps: 500,
  burst: 1000,
  maxSockets: 128,
  timeoutMs: 30_000,
};

/** An error answer from the API server, with its HTTP status and Status reason. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "KubeApiError";
  }
}

/** A request not sent: the caller's condition (sendIf) no longer held when it was about to go out. */
export class RequestWithheld extends Error {
  constructor(method: string, path: string) {
    super(`${method} ${path}: withheld, its condition no longer held`);
    this.name = "RequestWithheld";
  }
}

export interface KubeResponse<T> {
  status: number;
  body: T;
}

/** Credentials refresh this often: in-cluster service-account tokens rotate. */
const credentialRefreshMs = 60_000;

export class KubeClient {
  private readonly server: URL;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly limiter: TokenBucket;
  private headers: Record<string, string> = {};
  private refreshedAt = 0;

  private constructor(
    private readonly kubeConfig: KubeConfig,
    server: string,
    tls: RequestOptions,
    readonly options: KubeClientOptions,
  ) {
    this.server = new URL(server);
    const agentOptions = {
      keepAlive: true,
      maxSockets: options.maxSockets,
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      ...(tls.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
      ...(tls.servername ? { servername: tls.servername } : {}),
    };
    this.agent =
      this.server.protocol === "https:" ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.limiter = new TokenBucket(options.qps, options.burst);
  }

  static async create(kubeConfig: KubeConfig, options: Partial<KubeClientOptions> = {}): Promise<KubeClient> {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    const tls: RequestOptions = {};
    await kubeConfig.applyToHTTPSOptions(tls);
    const client = new KubeClient(kubeConfig, cluster.server, tls, {
      ...defaultKubeClientOptions,
      ...options,
    });
    await client.refreshCredentials(true);
    return client;
  }

  private async refreshCredentials(force = false): Promise<void> {
    if (!force && Date.now() - this.refreshedAt < credentialRefreshMs) return;
    const opts: RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(opts.headers ?? {})) {
      if (typeof value === "string") headers[name] = value;
    }
    this.headers = headers;
    this.refreshedAt = Date.now();
  }

  /**
   * One JSON request. Non-2xx answers are returned, not thrown; transport errors throw.
   * `sendIf` is asked once a connection is ready to carry the request, after any wait for the
   * rate limit or a free connection: when false, nothing is sent and RequestWithheld is thrown
   * (fencing: a replica stalled meanwhile may no longer hold its lease).
   */
  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
    sendIf?: () => boolean,
  ): Promise<KubeResponse<T>> {
    await this.limiter.take();
    await this.refreshCredentials();
    let res = await this.send<T>(method, path, body, contentType, sendIf);
    if (res.status === 401) {
      await this.refreshCredentials(true);
      res = await this.send<T>(method, path, body, contentType, sendIf);
    }
    return res;
  }

  /** Like call(), but throws a KubeApiError for any non-2xx answer. */
  async must<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
    sendIf?: () => boolean,
  ): Promise<T> {
    const res = await this.call<T>(method, path, body, contentType, sendIf);
    if (res.status < 200 || res.status > 299) throw apiError(method, path, res);
    return res.body;
  }

  private send<T>(
    method: string,
    path: string,
    body: unknown,
    contentType: string,
    sendIf: (() => boolean) | undefined,
  ): Promise<KubeResponse<T>> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = this.open(method, path, payload ? { "content-type": contentType } : {}, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = text;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T });
        });
        res.on("error", reject);
      });
      req.setTimeout(this.options.timeoutMs, () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on("error", reject);
      if (!sendIf) req.end(payload);
      else
        req.once("socket", (socket: Socket) => {
          const decide = () => {
            if (sendIf()) req.end(payload);
            else req.destroy(new RequestWithheld(method, path));
          };
          // A new connection is ready only once connected (and past the TLS handshake): asked
          // earlier, the answer could be stale by the time the request goes out.
          if (!socket.connecting) decide();
          else socket.once(socket instanceof TLSSocket ? "secureConnect" : "connect", decide);
        });
    });
  }

  /**
   * Opens a streaming GET (a watch). Resolves with the response once headers arrive;
   * the caller reads the body and calls abort() to stop.
   */
  async stream(path: string): Promise<{ response: IncomingMessage; abort: () => void }> {
    await this.refreshCredentials();
    return new Promise((resolve, reject) => {
      const req = this.open("GET", path, {}, (response) => resolve({ response, abort: () => req.destroy() }));
      req.on("error", reject);
      req.end();
    });
  }

  private open(
    method: string,
    path: string,
    extraHeaders: Record<string, string>,
    onResponse: (res: IncomingMessage) => void,
  ) {
    const url = new URL(path, this.server);
    const options: RequestOptions = {
      method,
      agent: this.agent,
      headers: { accept: "application/json", ...this.headers, ...extraHeaders },
    };
    return url.protocol === "https:"
      ? httpsRequest(url, options, onResponse)
      : httpRequest(url, options, onResponse);
  }

  close(): void {
    this.agent.destroy();
  }
}

export function apiError(method: string, path: string, res: KubeResponse<unknown>): KubeApiError {
  const status = res.body as { reason?: string; message?: string } | undefined;
  return new KubeApiError(
    res.status,
    status?.reason ?? "",
    `${method} ${path}: HTTP ${res.status}${status?.message ? `: ${status.message}` : ""}`,
  );
}
