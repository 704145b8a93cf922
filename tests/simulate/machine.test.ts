import { describe, expect, it } from "vitest";
import { mulberry32 } from "../support/random.js";
import { VirtualClock } from "./clock.js";
import { CpuPool } from "./machine.js";

describe("CpuPool as a queue", () => {
  it("drains a backlog of n jobs of D ms on c cores in n·D/c (M/D/c at saturation)", () => {
    for (const cores of [1, 2, 8]) {
      const clock = new VirtualClock();
      const pool = new CpuPool("api", cores, clock);
      const server = pool.process("api", cores);
      let done = 0;
      for (let i = 0; i < 1000; i++) server.submit(2, () => done++);
      clock.run();
      expect(done).toBe(1000);
      expect(clock.now).toBeCloseTo((1000 * 2) / cores, 6);
      expect(pool.busyMs).toBeCloseTo(2000, 6);
    }
  });

  it("M/D/1 under Poisson arrivals: throughput is the arrival rate and the mean wait is Pollaczek–Khinchine's", () => {
    const clock = new VirtualClock();
    const server = new CpuPool("api", 1, clock).process("api", 1);
    const random = mulberry32(42);
    const serviceMs = 1;
    const rho = 0.7;
    const jobs = 50_000;
    let t = 0;
    let waited = 0;
    let done = 0;
    for (let i = 0; i < jobs; i++) {
      t += -Math.log(1 - random()) * (serviceMs / rho);
      const arrival = t;
      clock.at(arrival, () =>
        server.submit(serviceMs, () => {
          waited += clock.now - arrival - serviceMs;
          done++;
        }),
      );
    }
    clock.run();
    expect(done).toBe(jobs);
    expect(done / clock.now).toBeCloseTo(rho / serviceMs, 2);
    const expectedWait = (rho * serviceMs) / (2 * (1 - rho));
    expect(waited / jobs).toBeGreaterThan(expectedWait * 0.93);
    expect(waited / jobs).toBeLessThan(expectedWait * 1.07);
  }, 60_000);

  it("shares cores fairly between busy processes: two single-threaded processes on one core get half each", () => {
    const clock = new VirtualClock();
    const pool = new CpuPool("machine", 1, clock);
    const a = pool.process("a", 1);
    const b = pool.process("b", 1);
    for (let i = 0; i < 100; i++) {
      a.submit(1);
      b.submit(1);
    }
    clock.run(() => false, 100);
    expect(a.cpuMs).toBeCloseTo(50, 0);
    expect(b.cpuMs).toBeCloseTo(50, 0);
  });

  it("a single-threaded process uses one core of many", () => {
    const clock = new VirtualClock();
    const pool = new CpuPool("machine", 4, clock);
    const shard = pool.process("shard", 1);
    for (let i = 0; i < 10; i++) shard.submit(10);
    clock.run();
    expect(clock.now).toBe(100);
  });
});
