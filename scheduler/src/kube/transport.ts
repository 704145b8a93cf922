/**
 * How a KubeClient's requests reach the API server: one exchange (request headers and body out,
 * a streamed answer back) at a time per caller, over HTTP/2 (http2-transport.ts) or HTTP/1.1
 * keep-alive connections (here). The client above does JSON, credentials, throttling and retries.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import { type SecureContext, TLSSocket } from "node:tls";

/** A request not sent: the caller's condition (sendIf) no longer held when it was about to go out. */
export class RequestWithheld extends Error {
  constructor(method: string, path: string) {
    super(`${method} ${path}: withheld, its condition no longer held`);
    this.name = "RequestWithheld";
  }
}

export interface Exchange {
  method: string;
  /** Path and query, from the server's root. */
  path: string;
  headers: Record<string, string>;
  /** The body: text (JSON, a patch) or bytes (protobuf). */
  payload?: string | Uint8Array;
  /**
   * Asked once the request can go out at once (a connection or stream is free, past any
   * handshake): false withholds it, and open() rejects with RequestWithheld.
   */
  sendIf?: () => boolean;
  /** The exchange fails when nothing moved on it for this long (none: a watch, open for long). */
  timeoutMs?: number;
  /** Told when the request is sent again because the server did not process it (HTTP/2). */
  onResend?: () => void;
}

/** An answer whose headers have come: its body is read from the stream. */
export type StreamResponse = Readable & { statusCode?: number; headers: IncomingHttpHeaders };

export interface OpenExchange {
  response: StreamResponse;
  /** Ends the exchange early (a watch no longer wanted). */
  abort: () => void;
}

export interface Transport {
  /** Sends the request; resolves once the answer's headers have come. Transport failures reject. */
  open(exchange: Exchange): Promise<OpenExchange>;
  close(): void;
}

/** TLS settings of the connections to the API server (one context, shared by every connection). */
export interface TlsSettings {
  secureContext: SecureContext;
  rejectUnauthorized?: false;
  servername?: string;
}

/** HTTP/1.1 over a pool of keep-alive connections (plain http, or a server refusing HTTP/2). */
export class Http1Transport implements Transport {
  private readonly agent: HttpAgent | HttpsAgent;

  constructor(
    private readonly server: URL,
    maxSockets: number,
    tls: TlsSettings | undefined,
  ) {
    const pool = { keepAlive: true, maxSockets };
    this.agent = tls ? new HttpsAgent({ ...pool, ...tls }) : new HttpAgent(pool);
  }

  open({ method, path, headers, payload, sendIf, timeoutMs }: Exchange): Promise<OpenExchange> {
    return new Promise((resolve, reject) => {
      const url = new URL(path, this.server);
      const send = url.protocol === "https:" ? httpsRequest : httpRequest;
      let response: StreamResponse | undefined;
      const req = send(url, { method, agent: this.agent, headers }, (answer) => {
        response = answer;
        resolve({ response: answer, abort: () => req.destroy() });
      });
      if (timeoutMs !== undefined)
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: timed out`)));
      // Once answered, a failure (a timeout while the body comes) is the body's.
      req.on("error", (error) => (response ? response.destroy(error) : reject(error)));
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

  close(): void {
    this.agent.destroy();
  }
}
