/**
 * CPU as the simulation sees it: pools of cores shared by processes. A process runs its jobs
 * in order, at most `threads` at once (a shard is one Node thread; the API server and etcd
 * use every core they get). A free core goes to the runnable process that has had the least
 * CPU lately (fair share, as Linux's CFS gives it), and runs one job to its end: jobs are kept
 * short (bulk work is cut into chunks), so this is close to time slicing. With one process
 * and c threads a pool is an M/D/c (or G/G/c) FIFO queue.
 */
import type { VirtualClock } from "./clock.js";

/** Bulk work (decoding, etcd, KWOK) is merged into jobs of at most this much CPU... */
export const bulkChunkMs = 5;
/** ...gathered over this much virtual time. */
export const bulkWindowMs = 1;

interface Job {
  cpuMs: number;
  readonly done: (() => void) | undefined;
}

export class CpuPool {
  readonly processes: Process[] = [];
  private busy = 0;
  /** The fair-share clock: the least CPU a runnable process had when a core was last handed out. */
  shareClock = 0;
  /** Core-milliseconds in use, integrated over time. */
  busyMs = 0;
  private lastChange = 0;

  constructor(
    readonly name: string,
    readonly cores: number,
    readonly clock: VirtualClock,
  ) {}

  process(name: string, threads: number): Process {
    const process = new Process(name, threads, this);
    this.processes.push(process);
    return process;
  }

  /** Hands free cores to runnable processes. */
  dispatch(): void {
    while (this.busy < this.cores) {
      let best: Process | undefined;
      for (const process of this.processes)
        if (process.runnable() && (best === undefined || process.share < best.share)) best = process;
      if (best === undefined) return;
      const job = best.take();
      this.shareClock = best.share;
      best.share += job.cpuMs / best.threads;
      this.account();
      this.busy++;
      this.clock.after(job.cpuMs, () => {
        this.account();
        this.busy--;
        best.finished(job.cpuMs);
        job.done?.();
        this.dispatch();
      });
    }
  }

  private account(): void {
    const now = this.clock.now;
    this.busyMs += this.busy * (now - this.lastChange);
    this.lastChange = now;
  }
}

export class Process {
  private readonly queue: Job[] = [];
  private head = 0;
  private running = 0;
  /** CPU received, per thread: the fair-share key. */
  share = 0;
  /** CPU used, in ms. */
  cpuMs = 0;
  /** Jobs finished. */
  jobs = 0;
  private debt = 0;
  private flushing = false;

  constructor(
    readonly name: string,
    readonly threads: number,
    private readonly pool: CpuPool,
  ) {}

  /** Queued and running jobs. */
  get load(): number {
    return this.queue.length - this.head + this.running;
  }

  /** Runs a job of `cpuMs` after those queued before it; `done` when it finished. */
  submit(cpuMs: number, done?: () => void): void {
    this.wake();
    this.queue.push({ cpuMs, done });
    this.pool.dispatch();
  }

  /**
   * Work nobody waits for (decoding, etcd, KWOK): gathered for `bulkWindowMs` and queued as
   * one job (in chunks of bulkChunkMs), so many small pieces cost few events.
   */
  bulk(cpuMs: number): void {
    if (cpuMs <= 0) return;
    this.debt += cpuMs;
    if (this.flushing) return;
    this.flushing = true;
    this.pool.clock.after(bulkWindowMs, () => {
      this.flushing = false;
      const debt = this.debt;
      this.debt = 0;
      this.submitChunked(debt);
    });
  }

  /** A long piece of work, queued in chunks of bulkChunkMs so others get the cores between them. */
  submitChunked(cpuMs: number, done?: () => void): void {
    let left = cpuMs;
    while (left > bulkChunkMs) {
      this.submit(bulkChunkMs);
      left -= bulkChunkMs;
    }
    this.submit(left, done);
  }

  runnable(): boolean {
    return this.queue.length > this.head && this.running < this.threads;
  }

  take(): Job {
    const job = this.queue[this.head++] as Job;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.running++;
    return job;
  }

  finished(cpuMs: number): void {
    this.running--;
    this.cpuMs += cpuMs;
    this.jobs++;
  }

  /** A process that was idle does not get to catch up on the CPU it did not ask for. */
  private wake(): void {
    if (this.load === 0) this.share = Math.max(this.share, this.pool.shareClock);
  }
}
