/**
 * Ports the local cluster and the test stacks hand to servers: free, never handed out twice,
 * and outside the kernel's ephemeral range, so no outgoing connection can take one between the
 * choice and the server's listen.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freeLoopbackPort, listenPortRange } from "./processes.js";

describe("freeLoopbackPort", () => {
  it("hands out distinct free ports below the ephemeral range", async () => {
    const [ephemeralLow] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    const [low, high] = listenPortRange();
    expect(high).toBe((ephemeralLow as number) - 1);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freeLoopbackPort()));
    expect(new Set(ports).size).toBe(20);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(low);
      expect(port).toBeLessThan(ephemeralLow as number);
    }
    // Free: a server can listen on it.
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.on("error", reject);
      server.listen(ports[0], "127.0.0.1", resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("skips a port something listens on", async () => {
    const taken = await freeLoopbackPort();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(taken, "127.0.0.1", resolve));
    const others = await Promise.all(Array.from({ length: 50 }, () => freeLoopbackPort()));
    expect(others).not.toContain(taken);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
