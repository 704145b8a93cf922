/**
 * HTTP/2 to the API server, as client-go speaks it: a TLS connection (session) carries requests
 * and watches as concurrent streams, so the server serves a few connections and verifies a
 * client certificate once each instead of once per pooled HTTP/1.1 connection.
 *
 * - A connection carries at most the server's SETTINGS_MAX_CONCURRENT_STREAMS streams at once
 *   (kube-apiserver's: 100). When every connection is full, another is opened, as client-go's
 *   transport does (it does not hold streams to the server's limit globally), up to
 *   `maxConnections`; beyond that requests wait for a stream to close, in order. Streams go to
 *   the oldest connection with room, so the extra ones empty and close once the burst is over
 *   (idle, below). Held to one connection's limit, a shard's binds would reach the API server a
 *   few at a time (measured: ~18 in its handlers with 64 asked for; kube-scheduler's ~270). A
 *   session is used only once the server's SETTINGS have come (streams beyond its limit would
 *   be refused). An extra connection that fails is not tried again for `retryConnectMs`; the
 *   requests wait for the connections there are.
 * - A session lost (GOAWAY, a socket error, closed when idle) is replaced on next use. A request
 *   the server did not process is sent again once: its stream refused (REFUSED_STREAM), above a
 *   GOAWAY's last stream id, or never sent at all. Any other failure is the caller's.
 * - A session with open streams that has heard nothing for `readIdleMs` is pinged; without an
 *   answer in `pingTimeoutMs` it is dropped (client-go: ReadIdleTimeout 30 s, PingTimeout 15 s).
 *   A session without streams idle that long is closed.
 * - The server is asked for h2 by ALPN; one that does not offer it (HTTP/1.1 only) is spoken to
 *   over HTTP/1.1 keep-alive connections from then on (NegotiatedTransport).
 */
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect as connectHttp2,
  constants,
  type IncomingHttpHeaders,
} from "node:http2";
import { isIP } from "node:net";
import { connect as connectTls } from "node:tls";
import {
  type Exchange,
  Http1Transport,
  type OpenExchange,
  RequestWithheld,
  type StreamResponse,
  type TlsSettings,
  type Transport,
} from "./transport.js";

export interface Http2Options {
  /** Connecting (TCP, TLS, the server's SETTINGS) fails after this long. */
  connectTimeoutMs: number;
  /** Connections open at once at most (each up to the server's stream limit): the client's maxSockets. */
  maxConnections: number;
  /** After an extra connection failed, no other is tried for this long. */
  retryConnectMs: number;
  readIdleMs: number;
  pingTimeoutMs: number;
}

export const defaultHttp2Options: Omit<Http2Options, "maxConnections"> = {
  connectTimeoutMs: 30_000,
  retryConnectMs: 1_000,
  readIdleMs: 30_000,
  pingTimeoutMs: 15_000,
};

/** The server answered ALPN without h2: it speaks HTTP/1.1 only. */
export class Http2NotOffered extends Error {
  constructor(origin: string) {
    super(`${origin}: the server does not offer HTTP/2 (ALPN)`);
    this.name = "Http2NotOffered";
  }
}

/** A request the server did not process, so it may be sent again. */
class Unprocessed extends Error {
  constructor(readonly reason: unknown) {
    super(reason instanceof Error ? reason.message : String(reason));
  }
}

/**
 * Flow-control windows as client-go's (4 MiB a stream): a watch-list streaming every pod is not
 * held to a round trip per 64 KiB.
 */
const streamWindow = 4 << 20;
const sessionWindow = 32 << 20;

/** One HTTP/2 connection and the streams it carries. */
class Session {
  /** Streams open or about to open (a slot taken). */
  active = 0;
  /** SETTINGS_MAX_CONCURRENT_STREAMS (absent: unlimited). */
  limit = Number.POSITIVE_INFINITY;
  /** No new streams: replaced (GOAWAY, an error, closing). */
  retired = false;
  /** From a GOAWAY: streams above it were not processed. */
  lastStreamId: number | undefined;

  constructor(readonly http2: ClientHttp2Session) {}

  hasRoom(): boolean {
    return !this.retired && this.active < this.limit;
  }

  /** Whether a stream that failed before its answer was left unprocessed by the server. */
  unprocessed(stream: ClientHttp2Stream): boolean {
    return (
      stream.id === undefined ||
      stream.rstCode === constants.NGHTTP2_REFUSED_STREAM ||
      (this.lastStreamId !== undefined && stream.id > this.lastStreamId)
    );
  }
}

interface Waiter {
  resolve: (session: Session) => void;
  reject: (error: unknown) => void;
}

export class Http2Transport implements Transport {
  /** Sessions taking new streams (SETTINGS come, not retired), oldest first. */
  private usable: Session[] = [];
  private connecting = false;
  /** No extra connection is tried before this (performance.now()). */
  private connectNotBefore = 0;
  private closed = false;
  /** Every session not yet closed, retired ones included (closed with the transport). */
  private readonly sessions = new Set<Session>();
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly server: URL,
    private readonly tls: TlsSettings,
    private readonly options: Http2Options,
  ) {}

  async open(exchange: Exchange): Promise<OpenExchange> {
    try {
      return await this.attempt(exchange);
    } catch (error) {
      if (!(error instanceof Unprocessed)) throw error;
    }
    exchange.onResend?.();
    try {
      return await this.attempt(exchange);
    } catch (error) {
      throw error instanceof Unprocessed ? error.reason : error;
    }
  }

  close(): void {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new Error("client closed"));
    for (const session of this.sessions) session.http2.destroy();
    this.sessions.clear();
    this.usable = [];
  }

  /** Takes a stream slot, asks sendIf, opens the stream. */
  private async attempt(exchange: Exchange): Promise<OpenExchange> {
    const session = await this.slot();
    if (exchange.sendIf && !exchange.sendIf()) {
      this.release(session);
      throw new RequestWithheld(exchange.method, exchange.path);
    }
    return this.request(session, exchange);
  }

  private slot(): Promise<Session> {
    if (this.closed) return Promise.reject(new Error("client closed"));
    const session = this.waiting.length === 0 ? this.withRoom() : undefined;
    if (session) {
      this.take(session);
      return Promise.resolve(session);
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.pump();
    });
  }

  private take(session: Session): void {
    if (session.active++ === 0) session.http2.ref();
  }

  private release(session: Session): void {
    if (--session.active === 0 && !session.http2.destroyed) session.http2.unref();
    this.pump();
  }

  /** The oldest usable session with a free stream slot. */
  private withRoom(): Session | undefined {
    return this.usable.find((session) => session.hasRoom());
  }

  /** Hands free slots to waiting requests in order; connects when every session is full. */
  private pump(): void {
    while (this.waiting.length > 0) {
      const session = this.withRoom();
      if (!session) {
        this.connect();
        return;
      }
      this.take(session);
      this.waiting.shift()?.resolve(session);
    }
  }

  private connect(): void {
    if (this.connecting || this.closed || this.usable.length >= this.options.maxConnections) return;
    // The first connection is always tried; an extra one not again right after one failed.
    const extra = this.usable.length > 0;
    if (extra && performance.now() < this.connectNotBefore) return;
    this.connecting = true;
    this.newSession().then(
      (session) => {
        this.connecting = false;
        if (this.closed) {
          session.http2.destroy();
          return;
        }
        this.sessions.add(session);
        this.usable.push(session);
        this.pump();
        // Idle, it does not keep the process alive (as a free keep-alive socket does not).
        if (session.active === 0) session.http2.unref();
      },
      (error: unknown) => {
        this.connecting = false;
        // With connections still up, the requests wait for their streams (or for the next try,
        // should every stream be a watch); with none, they fail.
        if (this.usable.length > 0) {
          this.connectNotBefore = performance.now() + this.options.retryConnectMs;
          setTimeout(() => this.pump(), this.options.retryConnectMs).unref();
          return;
        }
        for (const waiter of this.waiting.splice(0)) waiter.reject(error);
      },
    );
  }

  /** No new streams on `session`; the next request goes to another, or opens a new one. */
  private retire(session: Session): void {
    session.retired = true;
    this.usable = this.usable.filter((each) => each !== session);
    this.pump();
  }

  /** A TLS connection offering h2 by ALPN, then a session once the server's SETTINGS came. */
  private newSession(): Promise<Session> {
    const host = this.server.hostname.replace(/^\[(.*)\]$/, "$1");
    const { servername, ...tls } = this.tls;
    return new Promise((resolve, reject) => {
      const socket = connectTls({
        ...tls,
        host,
        port: Number(this.server.port || 443),
        ...(servername ? { servername } : isIP(host) ? {} : { servername: host }),
        ALPNProtocols: ["h2", "http/1.1"],
      });
      // As HTTP/1.1 agents and Go's net/http: small frames go out at once, not after an ACK.
      socket.setNoDelay(true);
      const timer = setTimeout(
        () => fail(new Error(`connecting to ${this.server.origin}: timed out`)),
        this.options.connectTimeoutMs,
      );
      const fail = (error: unknown) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      socket.once("error", fail);
      socket.once("secureConnect", () => {
        socket.off("error", fail);
        if (socket.alpnProtocol !== "h2") {
          fail(new Http2NotOffered(this.server.origin));
          return;
        }
        const http2 = connectHttp2(this.server.origin, {
          createConnection: () => socket,
          settings: { enablePush: false, initialWindowSize: streamWindow },
        });
        const session = new Session(http2);
        const lost = (error: unknown) => {
          this.retire(session);
          fail(error);
        };
        http2.on("error", lost);
        http2.on("close", () => {
          this.sessions.delete(session);
          lost(new Error(`${this.server.origin}: connection closed`));
        });
        http2.on("goaway", (_code: number, lastStreamId: number) => {
          session.lastStreamId = lastStreamId;
          this.retire(session);
        });
        let settled = false;
        http2.on("remoteSettings", (settings) => {
          session.limit = settings.maxConcurrentStreams ?? Number.POSITIVE_INFINITY;
          if (settled) this.pump();
          else {
            settled = true;
            clearTimeout(timer);
            http2.setLocalWindowSize(sessionWindow);
            resolve(session);
          }
        });
        http2.setTimeout(this.options.readIdleMs, () => this.idle(session));
      });
    });
  }

  /** Nothing heard for readIdleMs: a session without streams is closed, one with streams pinged. */
  private idle(session: Session): void {
    const { http2 } = session;
    if (session.active === 0) {
      this.retire(session);
      http2.close();
      return;
    }
    const timer = setTimeout(
      () => http2.destroy(new Error(`${this.server.origin}: no answer to PING`)),
      this.options.pingTimeoutMs,
    );
    const pinged = http2.ping(() => clearTimeout(timer));
    if (!pinged) clearTimeout(timer);
  }

  private request(session: Session, { method, path, headers, payload, timeoutMs }: Exchange) {
    return new Promise<OpenExchange>((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        stream = session.http2.request(
          { ":method": method, ":path": path, ...headers },
          { endStream: payload === undefined },
        );
      } catch (error) {
        // The session went away between the slot and the stream: nothing was sent.
        this.release(session);
        reject(new Unprocessed(error));
        return;
      }
      let answered = false;
      const failed = (error: unknown) => {
        if (!answered) reject(session.unprocessed(stream) ? new Unprocessed(error) : error);
      };
      stream.on("error", failed);
      stream.once("close", () => {
        this.release(session);
        // Most streams close answered; only one that was not builds its error (a stack each).
        if (!answered)
          failed(new Error(`${method} ${path}: stream closed (code ${stream.rstCode}) before an answer`));
      });
      if (timeoutMs !== undefined)
        stream.setTimeout(timeoutMs, () => stream.destroy(new Error(`${method} ${path}: timed out`)));
      stream.once("response", (answer: IncomingHttpHeaders) => {
        answered = true;
        const response: StreamResponse = Object.assign(stream, {
          statusCode: Number(answer[":status"]),
          headers: answer,
        });
        resolve({ response, abort: () => stream.close(constants.NGHTTP2_CANCEL) });
      });
      if (payload !== undefined) stream.end(payload);
    });
  }
}

/** HTTP/2 while the server offers it; HTTP/1.1 keep-alive from the first time it does not. */
export class NegotiatedTransport implements Transport {
  private http2: Http2Transport | undefined;
  private http1: Http1Transport | undefined;

  constructor(
    private readonly server: URL,
    private readonly tls: TlsSettings,
    private readonly maxSockets: number,
    options: Omit<Http2Options, "maxConnections"> = defaultHttp2Options,
  ) {
    this.http2 = new Http2Transport(server, tls, { ...options, maxConnections: maxSockets });
  }

  async open(exchange: Exchange): Promise<OpenExchange> {
    const http2 = this.http2;
    if (http2)
      try {
        return await http2.open(exchange);
      } catch (error) {
        if (!(error instanceof Http2NotOffered)) throw error;
        if (this.http2 === http2) {
          http2.close();
          this.http2 = undefined;
          this.http1 = new Http1Transport(this.server, this.maxSockets, this.tls);
        }
      }
    return (this.http1 as Http1Transport).open(exchange);
  }

  close(): void {
    this.http2?.close();
    this.http1?.close();
  }
}
