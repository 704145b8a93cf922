/**
 * The REST client toward an API server stand-in on loopback (plain HTTP): every request and
 * watch carries our User-Agent; an answer throttled by API Priority and Fairness (429 +
 * Retry-After) is waited out and the request sent again, within the call's budget and its
 * caller's signal; a PodDisruptionBudget's refusal (also 429) is an answer and is returned at once.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import type { KubeConfig } from "../../src/config/kubeconfig.js";
import {
  isDisruptionBudgetRefusal,
  KubeClient,
  type KubeClientOptions,
  throttleDelayMs,
} from "../../src/kube/kube-client.js";
import { restClientMetrics } from "../../src/kube/rest-client-metrics.js";
import { schedulerVersion, userAgent } from "../../src/kube/user-agent.js";
import { selfSignedCertificate } from "../../src/serving/self-signed-cert.js";
import { budgetRefusal } from "./api-answers.js";
import { servingCertificate, tlsKubeConfig } from "./tls-kubeconfig.js";

type Answer = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface Seen {
  method: string;
  url: string;
  userAgent: string | undefined;
  at: number;
}

let server: Server | undefined;
let client: KubeClient | undefined;

afterEach(async () => {
  client?.close();
  client = undefined;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server answering each request with answers[i] (the last one from then on). */
async function serve(answers: Answer[], options: Partial<KubeClientOptions> = {}) {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        userAgent: req.headers["user-agent"],
        at: Date.now(),
      });
      const answer = answers[Math.min(seen.length, answers.length) - 1] as Answer;
      answer(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const kubeConfig: KubeConfig = {
    source: "test",
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
    cluster: { name: "c", server: `http://127.0.0.1:${port}`, insecureSkipTlsVerify: true },
    user: { name: "u" },
  };
  client = await KubeClient.create(kubeConfig, options);
  return { client, seen };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Answer =>
  (_req, res) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };

/** What APF answers when a priority level rejects a request (text, not a Status). */
const throttled =
  (retryAfter = "1"): Answer =>
  (_req, res) => {
    res.writeHead(429, { "content-type": "text/plain; charset=utf-8", "retry-after": retryAfter });
    res.end("Too many requests, please try again later.\n");
  };

function counting() {
  const events: string[] = [];
  return {
    events,
    observer: {
      requested: (method: string, code: string) => events.push(`${method} ${code}`),
      retried: (method: string, code: string) => events.push(`retry ${method} ${code}`),
    },
  };
}

describe("User-Agent", () => {
  it("is sharded-scheduler/<version of the scheduler package> (<identity>)", () => {
    const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    expect(schedulerVersion).toBe(manifest.version);
    expect(userAgent("shard-0")).toBe(`sharded-scheduler/${manifest.version} (shard-0)`);
    expect(userAgent("coordinator/coord-1")).toBe(
      `sharded-scheduler/${manifest.version} (coordinator/coord-1)`,
    );
    expect(userAgent()).toBe(`sharded-scheduler/${manifest.version}`);
    // An identity from the environment cannot break the header.
    expect(userAgent("a b\n(c)")).toBe(`sharded-scheduler/${manifest.version} (a_b__c_)`);
  });

  it("goes with every request and every watch", async () => {
    const { client, seen } = await serve([json(200, { items: [] })], { userAgent: userAgent("shard-7") });
    await client.call("GET", "/api/v1/nodes");
    await client.must("POST", "/api/v1/namespaces/a/pods/p/binding", {});
    const { response, abort } = await client.stream("/api/v1/pods?watch=true");
    response.resume();
    abort();
    expect(seen.map((s) => s.userAgent)).toEqual([
      userAgent("shard-7"),
      userAgent("shard-7"),
      userAgent("shard-7"),
    ]);
  });

  it("names at least the product when no identity is given", async () => {
    const { client, seen } = await serve([json(200, {})]);
    await client.call("GET", "/version");
    expect(seen[0]?.userAgent).toBe(`sharded-scheduler/${schedulerVersion}`);
  });
});

describe("a throttled answer (429)", () => {
  it("is waited out for Retry-After and the request sent again, the caller's condition asked again", async () => {
    const { observer, events } = counting();
    const { client, seen } = await serve([throttled("1"), json(201, { kind: "Binding" })], { observer });
    let asked = 0;
    const started = Date.now();
    const res = await client.call("POST", "/api/v1/namespaces/a/pods/p/binding", {}, undefined, () => {
      asked++;
      return true;
    });
    expect(res.status).toBe(201);
    expect(seen).toHaveLength(2);
    const waited = (seen[1]?.at ?? 0) - (seen[0]?.at ?? 0);
    expect(waited).toBeGreaterThanOrEqual(990);
    expect(waited).toBeLessThan(1_250 + 200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(asked).toBe(2);
    expect(events).toEqual(["POST 429", "retry POST 429", "POST 201"]);
  });

  it("opens a watch again", async () => {
    const { observer, events } = counting();
    const { client, seen } = await serve([throttled("1"), json(200, {})], { observer });
    const { response, abort } = await client.stream("/api/v1/pods?watch=true");
    expect(response.statusCode).toBe(200);
    response.resume();
    abort();
    expect(seen).toHaveLength(2);
    expect(events).toEqual(["GET 429", "retry GET 429", "GET 200"]);
  });

  it("is returned once the caller's signal aborts the wait", async () => {
    const { client, seen } = await serve([throttled("5")]);
    const started = Date.now();
    const res = await client.call("POST", "/x", {}, undefined, undefined, AbortSignal.timeout(200));
    expect(res.status).toBe(429);
    expect(res.retryAfter).toBe("5");
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(seen).toHaveLength(1);
  });

  it("is returned when waiting it out would overrun the call's budget", async () => {
    const { client, seen } = await serve([throttled("2")], { throttleWaitMs: 1_500 });
    const started = Date.now();
    expect((await client.call("GET", "/x")).status).toBe(429);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(seen).toHaveLength(1);
  });

  it("from the Eviction API citing a PodDisruptionBudget is an answer: returned at once, never retried", async () => {
    const { observer, events } = counting();
    const { client, seen } = await serve([json(429, budgetRefusal, { "retry-after": "10" })], { observer });
    const started = Date.now();
    const res = await client.call("POST", "/api/v1/namespaces/a/pods/p/eviction", {});
    expect(res.status).toBe(429);
    expect(isDisruptionBudgetRefusal(res.status, res.body)).toBe(true);
    expect(Date.now() - started).toBeLessThan(500);
    expect(seen).toHaveLength(1);
    expect(events).toEqual(["POST 429"]);
  });
});

describe("throttleDelayMs", () => {
  it("honours Retry-After between 1 s and 10 s, with up to 25 % added at random", () => {
    expect(throttleDelayMs("1", 0)).toBe(1_000);
    expect(throttleDelayMs("1", 0.999)).toBe(1_250);
    expect(throttleDelayMs("3", 0.5)).toBe(3_375);
    expect(throttleDelayMs("0", 0)).toBe(1_000);
    expect(throttleDelayMs("3600", 0)).toBe(10_000);
    expect(throttleDelayMs(undefined, 0)).toBe(1_000);
    expect(throttleDelayMs("soon", 0)).toBe(1_000);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(throttleDelayMs("Thu, 01 Jan 2026 00:00:04 GMT", 0, now)).toBe(4_000);
  });

  it("tells a budget's refusal from load shedding by the Status's causes", () => {
    expect(isDisruptionBudgetRefusal(429, budgetRefusal)).toBe(true);
    expect(isDisruptionBudgetRefusal(429, "Too many requests, please try again later.")).toBe(false);
    expect(isDisruptionBudgetRefusal(429, { ...budgetRefusal, details: { causes: [] } })).toBe(false);
    expect(isDisruptionBudgetRefusal(500, budgetRefusal)).toBe(false);
  });
});

describe("restClientMetrics", () => {
  it("counts requests and retries by code and method, shared by every client of a registry", async () => {
    const registry = new Registry();
    const first = restClientMetrics(registry);
    const second = restClientMetrics(registry);
    first.requested("POST", "429");
    first.retried("POST", "429");
    second.requested("POST", "201");
    const text = await registry.metrics();
    expect(text).toContain('sharded_scheduler_rest_client_requests_total{code="429",method="POST"} 1');
    expect(text).toContain('sharded_scheduler_rest_client_requests_total{code="201",method="POST"} 1');
    expect(text).toContain('sharded_scheduler_rest_client_request_retries_total{code="429",method="POST"} 1');
  });
});

describe("over TLS", () => {
  it("trusts only the configured CA, checks the server name and presents the client certificate", async () => {
    const presented: string[] = [];
    const tlsServer = createHttpsServer(
      { ...servingCertificate, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        presented.push(typeof peer.subject?.CN === "string" ? peer.subject.CN : "none");
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      },
    );
    await new Promise<void>((resolve) => tlsServer.listen(0, "127.0.0.1", resolve));
    const { port } = tlsServer.address() as AddressInfo;
    const clients: KubeClient[] = [];
    const connect = async (cluster: Partial<KubeConfig["cluster"]> = {}) => {
      const created = await KubeClient.create(tlsKubeConfig(port, cluster), { maxSockets: 4 });
      clients.push(created);
      return created;
    };
    try {
      // Four at once: four connections, each verified and each presenting the certificate.
      const trusted = await connect();
      const answers = await Promise.all([1, 2, 3, 4].map(() => trusted.call("GET", "/version")));
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
      expect(presented).toEqual(["shard", "shard", "shard", "shard"]);
      const otherCa = selfSignedCertificate("api", ["api.internal"]).cert;
      await expect(
        (await connect({ certificateAuthorityData: otherCa })).call("GET", "/version"),
      ).rejects.toThrow();
      await expect((await connect({ tlsServerName: "elsewhere" })).call("GET", "/version")).rejects.toThrow(
        /elsewhere/,
      );
      const skipping = await connect({ certificateAuthorityData: otherCa, insecureSkipTlsVerify: true });
      expect((await skipping.call("GET", "/version")).status).toBe(200);
      expect(presented).toHaveLength(5);
    } finally {
      for (const each of clients) each.close();
      await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    }
  });
});
