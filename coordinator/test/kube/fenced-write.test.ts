/**
 * A leader's write that waited (here: for the client's rate limit) until past its renew
 * deadline is not sent: the KubeClient asks the ticket right when the request would go out.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig } from "@sharded-scheduler/scheduler/config";
import { EventRecorder, KubeClient, RequestWithheld } from "@sharded-scheduler/scheduler/kube";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LeadershipProof } from "../../src/core/index.js";

let server: Server;
let received: string[];
let client: KubeClient;

beforeEach(async () => {
  received = [];
  server = createServer((req, res) => {
    received.push(`${req.method} ${req.url}`);
    req.resume();
    req.on("end", () => {
      res.writeHead(req.method === "POST" ? 201 : 200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const kubeConfig: KubeConfig = {
    source: "test",
    contexts: [{ name: "test", cluster: "test", user: "test" }],
    currentContext: "test",
    cluster: {
      name: "test",
      server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      insecureSkipTlsVerify: true,
    },
    user: { name: "test" },
  };
  // One request at once, then one every 500 ms: the second write waits in the rate limiter.
  client = await KubeClient.create(kubeConfig, { qps: 2, burst: 1, maxSockets: 1 });
});

afterEach(async () => {
  client?.close();
  await new Promise((resolve) => server.close(resolve));
});

/** A leader whose renewal was sent at 0: with a 10 s lease and a 2 s margin, its deadline is 8 s. */
function leading() {
  const clock = { now: 0 };
  const proof = new LeadershipProof(10_000, () => clock.now);
  proof.renewed(0);
  const ticket = proof.ticket();
  if (!ticket) throw new Error("no ticket");
  return { clock, ticket };
}

describe("a leader's write past its renew deadline", () => {
  it("is withheld when the deadline passed while it waited to go out", async () => {
    const { clock, ticket } = leading();
    const patch = (pod: string) =>
      client.call("PATCH", `/api/v1/namespaces/default/pods/${pod}`, {}, "application/merge-patch+json", () =>
        ticket.valid(),
      );
    const first = patch("a");
    const second = patch("b");
    await first;
    // The renew deadline passes.
    clock.now = 8_000;
    await expect(second).rejects.toBeInstanceOf(RequestWithheld);
    expect(received).toEqual(["PATCH /api/v1/namespaces/default/pods/a"]);
  });

  it("drops an Event recorded before the deadline that would go out after it", async () => {
    const { clock, ticket } = leading();
    await client.call("GET", "/healthz");
    const events = new EventRecorder(client, "coordinator", "coordinator-a", pino({ level: "silent" }));
    const pod = { metadata: { namespace: "default", name: "p", uid: "u" }, spec: { containers: [] } };
    events.record(pod as never, "Normal", "HandedOff", "handed off", undefined, () => ticket.valid());
    clock.now = 8_000;
    // Past the rate limit's wait and the recorder's one retry.
    await sleep(1_700);
    expect(received).toEqual(["GET /healthz"]);
  });
});
