/**
 * The REST client toward a real node:http2 TLS server on loopback: one connection carries every
 * request and watch as concurrent streams, no more at once than the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS; when every connection is full another is opened (as
 * client-go), up to maxSockets, and beyond that requests wait; a GOAWAY moves the client to a
 * new connection and the requests the server did not process are sent again there; a request withheld by its
 * caller's condition never reaches the server; 429s and 401s are handled as over HTTP/1.1; and
 * a server without h2 in its ALPN is spoken to over HTTP/1.1.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import {
  constants,
  createSecureServer,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket, Server as TlsServer } from "node:tls";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { KubeConfig } from "../../src/config/kubeconfig.js";
import { Informer } from "../../src/kube/informer.js";
import { KubeClient, type KubeClientOptions, RequestWithheld } from "../../src/kube/kube-client.js";
import { selfSignedCertificate } from "../../src/serving/self-signed-cert.js";
import { type Thing, thing, waitUntil } from "./fake-api-server.js";
import { servingCertificate, tlsKubeConfig } from "./tls-kubeconfig.js";

/** A request as the server saw it. */
interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  stream: ServerHttp2Stream;
  /** Which TLS connection (1, 2 …) carried it. */
  connection: number;
  body: string;
}

type Handler = (request: Received) => void;

let servers: TlsServer[] = [];
let clients: KubeClient[] = [];

afterEach(async () => {
  for (const client of clients) client.close();
  clients = [];
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  servers = [];
});

/** An HTTP/2-only TLS server (h2 the only ALPN protocol) handing each request to `handle`. */
async function h2Server(
  handle: Handler,
  settings: { maxConcurrentStreams?: number } = {},
  /** Connections after this many are dropped as they open. */
  refuseAfter = Number.POSITIVE_INFINITY,
) {
  const server: Http2SecureServer = createSecureServer({
    ...servingCertificate,
    settings,
    requestCert: true,
    rejectUnauthorized: false,
  });
  const received: Received[] = [];
  const presented: string[] = [];
  let connections = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  /** The most streams each connection had open at once, by connection number. */
  const maxInFlightOf = new Map<number, number>();
  server.on("session", (session) => {
    const connection = ++connections;
    if (connection > refuseAfter) {
      session.destroy();
      return;
    }
    let open = 0;
    const peer = (session.socket as TLSSocket).getPeerCertificate();
    presented.push(typeof peer.subject?.CN === "string" ? peer.subject.CN : "none");
    session.on("error", () => {});
    session.on("stream", (stream, headers) => {
      stream.on("error", () => {});
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      open++;
      maxInFlightOf.set(connection, Math.max(maxInFlightOf.get(connection) ?? 0, open));
      stream.once("close", () => {
        inFlight--;
        open--;
      });
      let body = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        body += chunk;
      });
      stream.on("end", () => {
        const request: Received = {
          method: String(headers[":method"]),
          path: String(headers[":path"]),
          headers,
          stream,
          connection,
          body,
        };
        received.push(request);
        handle(request);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return {
    port,
    received,
    presented,
    connections: () => connections,
    inFlight: () => inFlight,
    maxInFlight: () => maxInFlight,
    maxInFlightOf,
  };
}

const kubeConfig = (port: number, user: Partial<KubeConfig["user"]> = {}, cluster = {}) =>
  tlsKubeConfig(port, cluster, { token: "t0ken", ...user });

async function connect(config: KubeConfig, options: Partial<KubeClientOptions> = {}) {
  const client = await KubeClient.create(config, options);
  clients.push(client);
  return client;
}

const answer = (request: Received, status: number, body: unknown = {}, headers = {}) => {
  if (request.stream.destroyed) return;
  request.stream.respond({ ":status": status, "content-type": "application/json", ...headers });
  request.stream.end(JSON.stringify(body));
};

const ok: Handler = (request) => answer(request, 200, { path: request.path });

describe("over HTTP/2", () => {
  it("carries many concurrent requests on one TLS connection, with credentials and User-Agent", async () => {
    const held: Received[] = [];
    const server = await h2Server((request) => {
      if (held.length === 40) return answer(request, 200);
      held.push(request);
      // Answered only once all are in: they were all open at once.
      if (held.length === 40) for (const each of held) answer(each, 201, { path: each.path });
    });
    const client = await connect(kubeConfig(server.port), { userAgent: "sharded-scheduler/test (shard-1)" });
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        client.call("POST", `/api/v1/namespaces/a/pods/p${i}/binding`, { i }),
      ),
    );
    expect(answers.map((each) => each.status)).toEqual(Array(40).fill(201));
    expect(answers[7]?.body).toEqual({ path: "/api/v1/namespaces/a/pods/p7/binding" });
    expect(server.connections()).toBe(1);
    expect(server.maxInFlight()).toBe(40);
    expect(server.presented).toEqual(["shard"]);
    const first = server.received[0];
    expect(first?.headers.authorization).toBe("Bearer t0ken");
    expect(first?.headers["user-agent"]).toBe("sharded-scheduler/test (shard-1)");
    expect(first?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(server.received.find((each) => each.path.endsWith("/p3/binding"))?.body ?? "")).toEqual(
      {
        i: 3,
      },
    );
    // Later requests reuse the connection.
    await client.call("GET", "/version");
    expect(server.connections()).toBe(1);
  });

  it("opens another connection when every one is at the server's SETTINGS_MAX_CONCURRENT_STREAMS, as client-go", async () => {
    const held: Received[] = [];
    const server = await h2Server(
      (request) => {
        if (!request.path.startsWith("/r/")) return ok(request);
        held.push(request);
        // Answered only once all are in: they were all open at once.
        if (held.length === 12) for (const each of held) ok(each);
      },
      { maxConcurrentStreams: 3 },
    );
    const client = await connect(kubeConfig(server.port));
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => client.call("GET", `/r/${i}`)));
    expect(answers.map((each) => each.status)).toEqual(Array(12).fill(200));
    // Four connections of three streams each, none above the server's limit.
    expect(server.maxInFlight()).toBe(12);
    expect(server.connections()).toBe(4);
    expect([...server.maxInFlightOf.values()]).toEqual([3, 3, 3, 3]);
    // Once they are answered, requests go to the oldest connection again: the others empty.
    await client.call("GET", "/version");
    expect(server.received.at(-1)?.connection).toBe(1);
  });

  it("when another connection cannot be opened, requests wait for a stream of the one there is", async () => {
    const held: Received[] = [];
    const server = await h2Server(
      (request) => {
        held.push(request);
        if (held.length > 3) ok(request);
      },
      { maxConcurrentStreams: 3 },
      1,
    );
    const client = await connect(kubeConfig(server.port));
    const calls = Promise.all(Array.from({ length: 6 }, (_, i) => client.call("GET", `/r/${i}`)));
    // The first three hold the first connection's streams until the second one was tried.
    await waitUntil("a second connection tried", () => server.connections() === 2);
    for (const each of held) ok(each);
    const answers = await calls;
    expect(answers.map((each) => each.status)).toEqual(Array(6).fill(200));
    // The second connection was tried and dropped; every request went on the first.
    expect(server.connections()).toBe(2);
    expect(server.received.map((each) => each.connection)).toEqual(Array(6).fill(1));
  });

  it("beyond maxSockets connections, requests wait for a stream in the order asked, none fail", async () => {
    const server = await h2Server((request) => setTimeout(() => ok(request), 40), {
      maxConcurrentStreams: 3,
    });
    // A request's timeout counts from when its stream opens, not while it waits for one.
    const client = await connect(kubeConfig(server.port), { timeoutMs: 150, maxSockets: 1 });
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => client.call("GET", `/r/${i}`)));
    expect(answers.map((each) => each.status)).toEqual(Array(24).fill(200));
    expect(server.maxInFlight()).toBe(3);
    expect(server.received).toHaveLength(24);
    // Sent in the order asked.
    expect(server.received.map((each) => each.path)).toEqual(Array.from({ length: 24 }, (_, i) => `/r/${i}`));
    expect(server.connections()).toBe(1);
  });

  it("after a GOAWAY opens a new connection and sends again, once, only what the server did not process", async () => {
    const firstConnection: Received[] = [];
    const server = await h2Server((request) => {
      if (request.connection > 1) return answer(request, 200, { on: request.connection });
      firstConnection.push(request);
      if (firstConnection.length < 6) return;
      // The server processes the first three and refuses the others.
      const lastStreamId = firstConnection[2]?.stream.id as number;
      request.stream.session?.goaway(constants.NGHTTP2_NO_ERROR, lastStreamId);
      for (const each of firstConnection.slice(0, 3)) answer(each, 200, { on: 1 });
    });
    const retried: string[] = [];
    const observer = {
      requested: () => {},
      retried: (method: string, code: string) => retried.push(`${method} ${code}`),
    };
    const client = await connect(kubeConfig(server.port), { observer });
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => client.call("POST", `/api/v1/namespaces/a/pods/p${i}/binding`, {})),
    );
    expect(retried).toEqual(Array(3).fill("POST <unprocessed>"));
    expect(answers.map((each) => each.status)).toEqual(Array(6).fill(200));
    expect(answers.map((each) => (each.body as { on: number }).on)).toEqual([1, 1, 1, 2, 2, 2]);
    expect(server.connections()).toBe(2);
    // Each processed exactly once.
    const processed = server.received.filter(
      (each) => each.connection === 2 || firstConnection.indexOf(each) < 3,
    );
    expect(processed.map((each) => each.path).sort()).toEqual(
      Array.from({ length: 6 }, (_, i) => `/api/v1/namespaces/a/pods/p${i}/binding`),
    );
    expect((await client.call("GET", "/version")).status).toBe(200);
    expect(server.connections()).toBe(2);
  });

  it("returns the error of a request the server may have processed, then connects again", async () => {
    const server = await h2Server((request) => {
      if (request.connection === 1) request.stream.session?.socket.destroy();
      else ok(request);
    });
    const client = await connect(kubeConfig(server.port));
    await expect(client.call("POST", "/api/v1/namespaces/a/pods/p/binding", {})).rejects.toThrow();
    expect(server.received).toHaveLength(1);
    expect((await client.call("GET", "/version")).status).toBe(200);
    expect(server.connections()).toBe(2);
  });

  it("asks sendIf once a stream is free: when false nothing reaches the server, and the stream is not lost", async () => {
    let release: () => void = () => {};
    const server = await h2Server(
      (request) => {
        if (request.path === "/held") release = () => ok(request);
        else ok(request);
      },
      { maxConcurrentStreams: 1 },
    );
    const client = await connect(kubeConfig(server.port), { maxSockets: 1 });
    const held = client.call("GET", "/held");
    await waitUntil("the first request", () => server.received.length === 1);
    let asked = 0;
    let allowed = true;
    const fenced = client.call("POST", "/api/v1/namespaces/a/pods/p/binding", {}, undefined, () => {
      asked++;
      return allowed;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Still waiting for the only stream: not asked yet.
    expect(asked).toBe(0);
    allowed = false;
    release();
    await expect(fenced).rejects.toBeInstanceOf(RequestWithheld);
    expect(asked).toBe(1);
    expect((await held).status).toBe(200);
    expect((await client.call("GET", "/after", undefined, undefined, () => true)).status).toBe(200);
    expect(server.received.map((each) => each.path)).toEqual(["/held", "/after"]);
  });

  it("serves an informer's watch-list and watch as a stream of lines, aborted without closing the connection", async () => {
    let watch: ServerHttp2Stream | undefined;
    const server = await h2Server((request) => {
      if (!request.path.startsWith("/things?")) return ok(request);
      const { stream } = request;
      stream.respond({ ":status": 200, "content-type": "application/json" });
      const line = (type: string, object: unknown) => stream.write(`${JSON.stringify({ type, object })}\n`);
      line("ADDED", thing("a", "1"));
      line("ADDED", thing("b", "2"));
      line("BOOKMARK", {
        metadata: { resourceVersion: "2", annotations: { "k8s.io/initial-events-end": "true" } },
      });
      watch = stream;
    });
    const client = await connect(kubeConfig(server.port));
    const seen: string[] = [];
    const informer = new Informer<Thing>(
      client,
      { path: "/things" },
      { upsert: (object) => seen.push(object.metadata.name), remove: () => {} },
      pino({ level: "silent" }),
    );
    const running = informer.run();
    await waitUntil("the list", () => informer.synced);
    expect(seen).toEqual(["a", "b"]);
    // Split across frames, as the API server may.
    const event = JSON.stringify({ type: "MODIFIED", object: thing("a", "3") });
    watch?.write(event.slice(0, 10));
    watch?.write(`${event.slice(10)}\n`);
    await waitUntil("the watch event", () => seen.length === 3);
    expect(informer.stats.watchLists).toBe(1);
    const closed = new Promise((resolve) => watch?.once("close", () => resolve(watch?.rstCode)));
    informer.stop();
    await running;
    expect(await closed).toBe(constants.NGHTTP2_CANCEL);
    expect((await client.call("GET", "/version")).status).toBe(200);
    expect(server.connections()).toBe(1);
  });

  it("waits out a 429 for Retry-After and sends the request again", async () => {
    const at: number[] = [];
    const server = await h2Server((request) => {
      at.push(Date.now());
      if (at.length === 1) {
        request.stream.respond({ ":status": 429, "retry-after": "2", "content-type": "text/plain" });
        request.stream.end("Too many requests, please try again later.\n");
      } else answer(request, 201);
    });
    const client = await connect(kubeConfig(server.port));
    const res = await client.call("POST", "/api/v1/namespaces/a/pods/p/binding", {});
    expect(res.status).toBe(201);
    expect(at).toHaveLength(2);
    expect((at[1] ?? 0) - (at[0] ?? 0)).toBeGreaterThanOrEqual(1_990);
    expect(server.connections()).toBe(1);
  });

  it("renews credentials after a 401 and sends the request again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kube-client-http2-"));
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "old\n");
    const server = await h2Server((request) =>
      request.headers.authorization === "Bearer new" ? ok(request) : answer(request, 401, { kind: "Status" }),
    );
    const { token: _, ...user } = kubeConfig(server.port).user;
    const client = await connect({ ...kubeConfig(server.port), user: { ...user, tokenFile } });
    writeFileSync(tokenFile, "new\n");
    expect((await client.call("GET", "/version")).status).toBe(200);
    expect(server.received.map((each) => each.headers.authorization)).toEqual(["Bearer old", "Bearer new"]);
  });

  it("times out a request left unanswered, and frees its stream", async () => {
    const server = await h2Server((request) => (request.path === "/never" ? undefined : ok(request)), {
      maxConcurrentStreams: 1,
    });
    const client = await connect(kubeConfig(server.port), { timeoutMs: 200, maxSockets: 1 });
    await expect(client.call("GET", "/never")).rejects.toThrow(/timed out/);
    // Reset by the client; the next request needs the only stream slot again.
    await waitUntil("the stream reset", () => server.inFlight() === 0);
    expect((await client.call("GET", "/version")).status).toBe(200);
  });

  it("verifies the server as over HTTP/1.1: its CA and its name", async () => {
    const server = await h2Server(ok);
    const otherCa = selfSignedCertificate("api", ["api.internal"]).cert;
    await expect(
      (await connect(kubeConfig(server.port, {}, { certificateAuthorityData: otherCa }))).call("GET", "/v"),
    ).rejects.toThrow();
    await expect(
      (await connect(kubeConfig(server.port, {}, { tlsServerName: "elsewhere" }))).call("GET", "/v"),
    ).rejects.toThrow(/elsewhere/);
    expect(server.received).toHaveLength(0);
  });
});

describe("a TLS server without h2 in its ALPN", () => {
  it("is spoken to over HTTP/1.1 keep-alive connections, watches included", async () => {
    const versions: string[] = [];
    let connections = 0;
    const server = createHttpsServer({ ...servingCertificate }, (req, res) => {
      versions.push(req.httpVersion);
      res.writeHead(200, { "content-type": "application/json" });
      if (req.url?.includes("watch=true")) res.write(`${JSON.stringify({ type: "ADDED", object: {} })}\n`);
      else res.end("{}");
    });
    server.on("connection", () => connections++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
    const client = await connect(kubeConfig((server.address() as AddressInfo).port));
    for (let i = 0; i < 5; i++) expect((await client.call("GET", "/version")).status).toBe(200);
    const { response, abort } = await client.stream("/api/v1/pods?watch=true");
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe("application/json");
    response.setEncoding("utf8");
    const [line] = await Promise.all([new Promise((resolve) => response.once("data", resolve))]);
    expect(String(line)).toContain('"ADDED"');
    abort();
    expect(versions).toEqual(["1.1", "1.1", "1.1", "1.1", "1.1", "1.1"]);
    // The ALPN probe's connection, then one kept alive for the calls and the watch.
    expect(connections).toBe(2);
  });

  it("is what a client with http2 off speaks, even to a server offering h2", async () => {
    const versions: string[] = [];
    const server = createSecureServer({ ...servingCertificate, allowHTTP1: true }, (req, res) => {
      versions.push(req.httpVersion);
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
    const port = (server.address() as AddressInfo).port;
    expect((await (await connect(kubeConfig(port), { http2: false })).call("GET", "/version")).status).toBe(
      200,
    );
    expect((await (await connect(kubeConfig(port))).call("GET", "/version")).status).toBe(200);
    expect(versions).toEqual(["1.1", "2.0"]);
  });
});
