import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coordinatorRole, memberMetrics, type StackProcess } from "./stack.js";

/** A member's /metrics as this test sets it: a status and a body. */
let answer = { status: 200, body: "" };
let server: Server;
let port = 0;

beforeAll(async () => {
  server = createServer((_, res) => {
    res.writeHead(answer.status, { "content-type": "text/plain" });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A coordinator replica that is this (running) process, its /metrics the server above. */
const coordinator = (): StackProcess => ({
  name: "coordinator-0",
  identity: "coordinator-0",
  pid: process.pid,
  binary: process.execPath,
  args: [],
  log: "",
  port,
});

describe("a stack member's /metrics", () => {
  it("is the text it answers with", async () => {
    answer = { status: 200, body: "sharded_scheduler_ring_epoch 4\n" };
    expect(await memberMetrics({ port })).toBe("sharded_scheduler_ring_epoch 4\n");
  });

  it("is refused when the member answers with an error status", async () => {
    answer = { status: 500, body: "sharded_scheduler_coordinator_leader 0\n" };
    await expect(memberMetrics({ port })).rejects.toThrow(/HTTP 500/);
  });

  it("tells a coordinator's role from its leader gauge, and unknown from an error answer", async () => {
    answer = { status: 200, body: "sharded_scheduler_coordinator_leader 1\n" };
    expect(await coordinatorRole(coordinator())).toBe("leader");
    answer = { status: 200, body: "sharded_scheduler_coordinator_leader 0\n" };
    expect(await coordinatorRole(coordinator())).toBe("standby");
    answer = { status: 500, body: "sharded_scheduler_coordinator_leader 0\n" };
    expect(await coordinatorRole(coordinator())).toBe("unknown");
  });
});
