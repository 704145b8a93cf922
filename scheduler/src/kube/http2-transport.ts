/**
 * HTTP/2 to the API server, as client-go speaks it: one TLS connection (session) per client
 * carries every request and watch as concurrent streams, so the server serves one connection
 * and verifies one client certificate instead of one per pooled HTTP/1.1 connection.
 *
 * - At most the server's SETTINGS_MAX_CONCURRENT_STREAMS streams are open at once; further
 *   requests wait for a stream to close, in order. A session is used only once the server's
 *   SETTINGS have come (streams beyond its limit would be refused).
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
  readIdleMs: number;
  pingTimeoutMs: number;
}

export const defaultHttp2Options: Http2Options = {
  connectTimeoutMs: 30_000,
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
  private current: Session | undefined;
  private connecting = false;
  private closed = false;
  private readonly sessions = new Set<Session>();
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly server: URL,
    private readonly tls: TlsSettings,
    private readonly options: Http2Options = defaultHttp2Options,
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
    this.current = undefined;
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
    const session = this.current;
    if (session && this.waiting.length === 0 && session.hasRoom()) {
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

  /** Hands free slots to waiting requests in order; connects when there is no session. */
  private pump(): void {
    if (this.waiting.length === 0) return;
    const session = this.current;
    if (!session) {
      this.connect();
      return;
    }
    while (this.waiting.length > 0 && session.hasRoom()) {
      this.take(session);
      this.waiting.shift()?.resolve(session);
    }
  }

  private connect(): void {
    if (this.connecting || this.closed) return;
    this.connecting = true;
    this.newSession().then(
      (session) => {
        this.connecting = false;
        if (this.closed) {
          session.http2.destroy();
          return;
        }
        this.sessions.add(session);
        this.current = session;
        this.pump();
        // Idle, it does not keep the process alive (as a free keep-alive socket does not).
        if (session.active === 0) session.http2.unref();
      },
      (error: unknown) => {
        this.connecting = false;
        for (const waiter of this.waiting.splice(0)) waiter.reject(error);
      },
    );
  }

  /** No new streams on `session`; the next request opens a new one. */
  private retire(session: Session): void {
    session.retired = true;
    if (this.current === session) this.current = undefined;
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
        http2.on("remoteSettings", (settings) => {
          session.limit = settings.maxConcurrentStreams ?? Number.POSITIVE_INFINITY;
          if (this.current === session) this.pump();
          else {
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
    options?: Http2Options,
  ) {
    this.http2 = new Http2Transport(server, tls, options);
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
