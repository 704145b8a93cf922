/**
 * A thin Kubernetes REST client for the hot paths (binds, evictions, status patches, watches):
 * JSON, but binds, Events and a handover's read of pods in protobuf (protobuf.ts), authenticated
 * from the loaded kubeconfig (config/kubeconfig.ts: a kubeconfig file or the in-cluster service
 * account). Over TLS it speaks HTTP/2 when the server offers it (a connection carrying requests
 * and watches as streams, another when it is full, as client-go: http2-transport.ts), else
 * HTTP/1.1 keep-alive connections (transport.ts); one TLS context per client either way: a new
 * TLS connection or context per request costs more than the request itself at scheduler rates.
 *
 * Every request carries our User-Agent (user-agent.ts). An answer throttled by API Priority and
 * Fairness (429) is not the operation's answer: the request is sent again after Retry-After
 * (bounded, with jitter), for as long as the call's budget and its caller's signal allow, as
 * client-go does. A 429 from the Eviction API citing a PodDisruptionBudget is an answer, and is
 * returned at once. The API server's Priority and Fairness is the rate limit; a client-side one
 * (qps) is optional.
 */
import { finished } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { createSecureContext } from "node:tls";
import { type KubeConfig, KubeCredentials, type KubeTlsOptions, tlsOptions } from "../config/kubeconfig.js";
import { defaultHttp2Options, NegotiatedTransport } from "./http2-transport.js";
import { decodeAnswer, protobufContentType } from "./protobuf.js";
import { TokenBucket } from "./token-bucket.js";
import {
  Http1Transport,
  type OpenExchange,
  RequestWithheld,
  type StreamResponse,
  type Transport,
} from "./transport.js";
import { userAgent } from "./user-agent.js";

export { RequestWithheld };

/** Told of every request sent and every request sent again (the rest_client_* metrics). */
export interface RequestObserver {
  /** An attempt was answered with `code`, an HTTP status, or "<error>" when the transport failed. */
  requested(method: string, code: string): void;
  /**
   * An attempt is sent again after an answer with `code` (429: throttled; 401: credentials
   * renewed; "<unprocessed>": the server did not process it, e.g. above a GOAWAY's last stream).
   */
  retried(method: string, code: string): void;
}

export interface KubeClientOptions {
  /** Client-side limit of sustained requests per second (watches are not counted); 0: none. */
  qps: number;
  /** Requests the client-side limit lets through at once; 0: twice qps. */
  burst: number;
  /**
   * Connections to the API server at most: over HTTP/1.1 each carries one request at a time;
   * over HTTP/2 each carries up to the server's stream limit, and another is opened only when
   * every one is full (http2-transport.ts).
   */
  maxSockets: number;
  /** Over TLS, HTTP/2 when the server offers it (else HTTP/1.1 keep-alive connections, always). */
  http2: boolean;
  /** Per-request timeout. */
  timeoutMs: number;
  /** Sent as User-Agent on every request, watches included: userAgent(identity). */
  userAgent: string;
  /**
   * How long one call keeps sending again a request throttled by the API server (429), counted
   * from its first attempt; the caller's AbortSignal may end the retries sooner. Then the 429
   * is returned to the caller.
   */
  throttleWaitMs: number;
  observer?: RequestObserver;
}

export const defaultKubeClientOptions: KubeClientOptions = {
  qps: 0,
  burst: 0,
  maxSockets: 128,
  http2: true,
  timeoutMs: 30_000,
  userAgent: userAgent(),
  throttleWaitMs: 30_000,
};

/**
 * Retry-After is honoured between these bounds (APF answers 1 s or more; a missing or unreadable
 * value counts as the minimum, a huge one must not park a request for minutes), and every wait
 * gets up to `jitter` of itself added at random, so that replicas throttled together do not come
 * back together.
 */
export const throttleDelay = { minMs: 1_000, maxMs: 10_000, jitter: 0.25 } as const;

/** How long to wait before sending a throttled request again; `random` in [0, 1). */
export function throttleDelayMs(retryAfter: string | undefined, random: number, now = Date.now()): number {
  let ms = Number.NaN;
  const value = retryAfter?.trim() ?? "";
  if (/^\d+$/.test(value)) ms = Number(value) * 1000;
  else if (value) ms = Date.parse(value) - now;
  const base = Number.isFinite(ms)
    ? Math.min(throttleDelay.maxMs, Math.max(throttleDelay.minMs, ms))
    : throttleDelay.minMs;
  return Math.round(base * (1 + throttleDelay.jitter * random));
}

/**
 * A 429 whose Status names a DisruptionBudget cause is the Eviction API refusing to evict (a
 * PodDisruptionBudget allows no disruption now, or its status is not computed yet), not the API
 * server shedding load: it is the request's answer and is never sent again by the client. (A
 * StatusCause's type travels as "reason" in JSON.)
 */
export function isDisruptionBudgetRefusal(status: number, body: unknown): boolean {
  return status === 429 && disruptionBudgetCauses(body).length > 0;
}

/** The messages of a Status's DisruptionBudget causes ("The disruption budget web needs 2 healthy pods…"). */
export function disruptionBudgetCauses(body: unknown): string[] {
  if (typeof body !== "object" || body === null) return [];
  const causes = (body as { details?: { causes?: unknown } }).details?.causes;
  if (!Array.isArray(causes)) return [];
  return causes
    .filter((cause) => (cause as { reason?: unknown } | null)?.reason === "DisruptionBudget")
    .map((cause) => {
      const message = (cause as { message?: unknown }).message;
      return typeof message === "string" ? message : "";
    });
}

/** Throttled: the API server did not take the request now (429) and it may be sent again. */
const throttled = (res: KubeResponse<unknown>) =>
  res.status === 429 && !isDisruptionBudgetRefusal(res.status, res.body);

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

export interface KubeResponse<T> {
  status: number;
  body: T;
  /** The Retry-After header, when the answer had one. */
  retryAfter?: string;
}

/** Credentials refresh this often: in-cluster service-account tokens rotate. */
const credentialRefreshMs = 60_000;

export class KubeClient {
  private readonly transport: Transport;
  private readonly limiter: TokenBucket | undefined;
  private headers: Record<string, string> = {};
  private refreshedAt = 0;

  private constructor(
    private readonly credentials: KubeCredentials,
    server: string,
    tls: KubeTlsOptions,
    readonly options: KubeClientOptions,
  ) {
    const url = new URL(server);
    if (url.protocol === "https:") {
      const { ca, cert, key, ...connection } = tls;
      // One TLS context for every connection: built per connection it costs ~0.9 ms of CPU
      // each (parsing the CA and key again), a third of opening one.
      const settings = { ...connection, secureContext: createSecureContext({ ca, cert, key }) };
      this.transport = options.http2
        ? new NegotiatedTransport(url, settings, options.maxSockets, {
            ...defaultHttp2Options,
            connectTimeoutMs: options.timeoutMs,
          })
        : new Http1Transport(url, options.maxSockets, settings);
    } else this.transport = new Http1Transport(url, options.maxSockets, undefined);
    if (options.qps > 0) this.limiter = new TokenBucket(options.qps, options.burst || 2 * options.qps);
  }

  static async create(kubeConfig: KubeConfig, options: Partial<KubeClientOptions> = {}): Promise<KubeClient> {
    const client = new KubeClient(
      new KubeCredentials(kubeConfig),
      kubeConfig.cluster.server,
      tlsOptions(kubeConfig),
      {
        ...defaultKubeClientOptions,
        ...options,
      },
    );
    await client.refreshCredentials(true);
    return client;
  }

  private async refreshCredentials(force = false): Promise<void> {
    if (!force && Date.now() - this.refreshedAt < credentialRefreshMs) return;
    this.headers = await this.credentials.headers(force);
    this.refreshedAt = Date.now();
  }

  /**
   * One request: a JSON body, or a protobuf one (a Uint8Array from ./protobuf.ts, sent with
   * its content type). Non-2xx answers are returned, not thrown; transport errors throw.
   * `sendIf` is asked once a connection or HTTP/2 stream is ready to carry the request, after
   * any wait for the rate limit or a free connection or stream: when false, nothing is sent and
   * RequestWithheld is thrown (fencing: a replica stalled meanwhile may no longer hold its
   * lease). A throttled answer (429) is waited out and the request sent again, sendIf asked again
   * each time, until the call's throttleWaitMs is spent or `signal` aborts: then the 429 is
   * returned.
   */
  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
    sendIf?: () => boolean,
    signal?: AbortSignal,
  ): Promise<KubeResponse<T>> {
    return this.exchange<T>(method, path, body, contentType, undefined, sendIf, signal);
  }

  /**
   * A GET as call() sends it, answered in protobuf where the API server has it for the kind
   * (built-in kinds; else JSON): read by decodeAnswer (protobuf.ts), which gives a Status in its
   * JSON form, a PodList as its pods' placements only, and any other kind as `{ kind }`.
   */
  read<T = unknown>(path: string): Promise<KubeResponse<T>> {
    return this.exchange<T>("GET", path, undefined, undefined, `${protobufContentType}, application/json`);
  }

  /** call(), asking for the answer in `accept` (else in protobuf for a protobuf body, JSON for any other). */
  private async exchange<T>(
    method: string,
    path: string,
    body: unknown,
    contentType: string | undefined,
    accept: string | undefined,
    sendIf?: () => boolean,
    signal?: AbortSignal,
  ): Promise<KubeResponse<T>> {
    const giveUpAt = Date.now() + this.options.throttleWaitMs;
    for (;;) {
      await this.limiter?.take();
      await this.refreshCredentials();
      let res = await this.attempt<T>(method, path, body, contentType, accept, sendIf);
      if (res.status === 401) {
        this.options.observer?.retried(method, "401");
        await this.refreshCredentials(true);
        res = await this.attempt<T>(method, path, body, contentType, accept, sendIf);
      }
      const delay = throttled(res) ? this.throttleWait(res.retryAfter, giveUpAt, signal) : undefined;
      if (delay === undefined || !(await this.pause(method, delay, signal))) return res;
    }
  }

  /**
   * After a throttled answer: how long to wait before sending the request again (Retry-After,
   * bounded and jittered), or undefined when the call's budget or the caller's signal forbid it.
   */
  private throttleWait(
    retryAfter: string | undefined,
    giveUpAt: number,
    signal: AbortSignal | undefined,
  ): number | undefined {
    const delay = throttleDelayMs(retryAfter, Math.random());
    return signal?.aborted || Date.now() + delay > giveUpAt ? undefined : delay;
  }

  /** Waits before a retry; false when the caller's signal aborted the wait. */
  private async pause(method: string, delay: number, signal: AbortSignal | undefined): Promise<boolean> {
    this.options.observer?.retried(method, "429");
    try {
      await sleep(delay, undefined, signal ? { signal } : {});
      return true;
    } catch {
      return false;
    }
  }

  private async attempt<T>(
    method: string,
    path: string,
    body: unknown,
    contentType: string | undefined,
    accept: string | undefined,
    sendIf: (() => boolean) | undefined,
  ): Promise<KubeResponse<T>> {
    try {
      const res = await this.send<T>(method, path, body, contentType, accept, sendIf);
      this.options.observer?.requested(method, String(res.status));
      return res;
    } catch (error) {
      if (!(error instanceof RequestWithheld)) this.options.observer?.requested(method, "<error>");
      throw error;
    }
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

  private async send<T>(
    method: string,
    path: string,
    body: unknown,
    contentType: string | undefined,
    accept: string | undefined,
    sendIf: (() => boolean) | undefined,
  ): Promise<KubeResponse<T>> {
    // A protobuf body (encoded by ./protobuf.ts) asks for a protobuf answer too.
    const binary = body instanceof Uint8Array;
    const payload = body === undefined || binary ? body : JSON.stringify(body);
    const { response } = await this.transport.open({
      method,
      path,
      headers: this.requestHeaders(
        payload === undefined ? undefined : (contentType ?? "application/json"),
        accept ?? (binary ? `${protobufContentType}, application/json` : "application/json"),
      ),
      ...(payload === undefined ? {} : { payload }),
      ...(sendIf ? { sendIf } : {}),
      timeoutMs: this.options.timeoutMs,
      onResend: this.resent(method),
    });
    const bytes = await readBody(response);
    let parsed: unknown;
    if (response.headers["content-type"]?.startsWith(protobufContentType)) parsed = decodeAnswer(bytes);
    else {
      const text = bytes.toString("utf8");
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
    }
    const retryAfter = response.headers["retry-after"];
    return {
      status: response.statusCode ?? 0,
      body: parsed as T,
      ...(retryAfter === undefined ? {} : { retryAfter }),
    };
  }

  /**
   * Opens a streaming GET (a watch). Resolves with the response once headers arrive;
   * the caller reads the body and calls abort() to stop. A throttled answer (429) is waited out
   * and the watch opened again, as call() does.
   */
  async stream(path: string): Promise<OpenExchange> {
    const giveUpAt = Date.now() + this.options.throttleWaitMs;
    for (;;) {
      await this.refreshCredentials();
      const opened = await this.openStream(path);
      const { response } = opened;
      if (response.statusCode !== 429) return opened;
      const delay = this.throttleWait(response.headers["retry-after"], giveUpAt, undefined);
      if (delay === undefined) return opened;
      response.resume();
      await this.pause("GET", delay, undefined);
    }
  }

  private async openStream(path: string): Promise<OpenExchange> {
    try {
      const opened = await this.transport.open({
        method: "GET",
        path,
        headers: this.requestHeaders(),
        onResend: this.resent("GET"),
      });
      this.options.observer?.requested("GET", String(opened.response.statusCode ?? 0));
      return opened;
    } catch (error) {
      this.options.observer?.requested("GET", "<error>");
      throw error;
    }
  }

  private resent(method: string): (() => void) | undefined {
    const { observer } = this.options;
    return observer && (() => observer.retried(method, "<unprocessed>"));
  }

  private requestHeaders(contentType?: string, accept = "application/json"): Record<string, string> {
    return {
      accept,
      ...this.headers,
      "user-agent": this.options.userAgent,
      ...(contentType === undefined ? {} : { "content-type": contentType }),
    };
  }

  close(): void {
    this.transport.close();
  }
}

/** The whole body of an answer. */
async function readBody(response: StreamResponse): Promise<Buffer> {
  const chunks: Buffer[] = [];
  response.on("data", (chunk: Buffer) => chunks.push(chunk));
  await finished(response, { writable: false });
  return Buffer.concat(chunks);
}

export function apiError(method: string, path: string, res: KubeResponse<unknown>): KubeApiError {
  const status = res.body as { reason?: string; message?: string } | undefined;
  return new KubeApiError(
    res.status,
    status?.reason ?? "",
    `${method} ${path}: HTTP ${res.status}${status?.message ? `: ${status.message}` : ""}`,
  );
}
