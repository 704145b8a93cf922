/**
 * An informer: list, then watch from the list's resourceVersion, keeping a store of objects
 * by namespace/name and telling handlers what changed.
 *   - A watch is a raw HTTP stream parsed line by line with JSON.parse (cheap, predictable).
 *   - 410 Gone (history compacted) → relist; the relist reports deletions it missed.
 *   - Errors and dropped connections → re-watch from the last seen resourceVersion, with backoff.
 *   - A watch silent for longer than the watchdog allows is restarted (bookmarks keep a healthy
 *     watch talking).
 *   - A handler that throws costs only that object: it is logged once (until it is handled
 *     again), counted, and the list or watch goes on with the next one.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { KubeClient } from "./kube-client.js";

export interface KubeObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

export interface InformerHandlers<T> {
  upsert(object: T, previous: T | undefined): void;
  remove(object: T): void;
  /** After the first complete list, and after every relist. */
  synced?(): void;
}

export interface InformerOptions {
  /** Collection path, e.g. /api/v1/pods. */
  path: string;
  fieldSelector?: string;
  labelSelector?: string;
  pageSize?: number;
  /** Restart a watch that has said nothing for this long. */
  watchdogMs?: number;
  /** Called each time a handler throws (for a metric). */
  onHandlerError?: () => void;
}

interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T & { code?: number; message?: string };
}

class GoneError extends Error {}

export class Informer<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private resourceVersion = "";
  private stopped = false;
  private abortWatch: (() => void) | undefined;
  private hasSynced = false;
  /** Callers of relist() waiting for the next complete list, or (before it) for the first. */
  private relistWaiters: (() => void)[] = [];
  private firstListWaiters: (() => void)[] = [];
  private relistRequested = false;
  /** Keys of the objects whose handler threw, each logged once until it is handled again. */
  private readonly failing = new Set<string>();
  /** Counters for metrics and tests. */
  readonly stats = { lists: 0, watches: 0, gone: 0, watchdogRestarts: 0, errors: 0, handlerErrors: 0 };

  constructor(
    private readonly client: KubeClient,
    private readonly options: InformerOptions,
    private readonly handlers: InformerHandlers<T>,
    private readonly log: Logger,
  ) {}

  get synced(): boolean {
    return this.hasSynced;
  }

  get size(): number {
    return this.store.size;
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  values(): IterableIterator<T> {
    return this.store.values();
  }

  /**
   * Lists afresh (a quorum read) and resolves once the store holds that list: what a caller
   * sees afterwards is at least as new as the moment it asked, whatever the watch still owes.
   * Before the first list it waits for that one.
   */
  relist(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.hasSynced) {
        this.firstListWaiters.push(resolve);
        return;
      }
      this.relistWaiters.push(resolve);
      this.relistRequested = true;
      this.abortWatch?.();
    });
  }

  /** Runs until stop(); never throws. */
  async run(): Promise<void> {
    let backoffMs = 250;
    let needList = true;
    while (!this.stopped) {
      try {
        if (this.relistRequested) {
          this.relistRequested = false;
          needList = true;
        }
        if (needList) {
          const waiting = this.relistWaiters.length;
          await this.list();
          needList = false;
          for (const resolve of [
            ...this.relistWaiters.splice(0, waiting),
            ...this.firstListWaiters.splice(0),
          ])
            resolve();
        }
        await this.watch();
        backoffMs = 250;
      } catch (error) {
        if (this.stopped) break;
        if (error instanceof GoneError) {
          this.stats.gone++;
          this.log.info({ path: this.options.path }, "watch history expired (410 Gone); relisting");
          needList = true;
          continue;
        }
        this.stats.errors++;
        this.log.warn({ path: this.options.path, err: String(error) }, "list/watch failed; retrying");
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 10_000);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.abortWatch?.();
  }

  private query(extra: Record<string, string>): string {
    const params = new URLSearchParams(extra);
    if (this.options.fieldSelector) params.set("fieldSelector", this.options.fieldSelector);
    if (this.options.labelSelector) params.set("labelSelector", this.options.labelSelector);
    return `${this.options.path}?${params}`;
  }

  private async list(): Promise<void> {
    this.stats.lists++;
    const fresh = new Map<string, T>();
    let continueToken = "";
    let resourceVersion = "";
    do {
      const page = await this.client.must<{
        items: T[];
        metadata: { resourceVersion: string; continue?: string };
      }>(
        "GET",
        this.query({
          limit: String(this.options.pageSize ?? 1000),
          ...(continueToken ? { continue: continueToken } : {}),
        }),
      );
      for (const item of page.items) if (this.wellFormed(item)) fresh.set(keyOf(item), item);
      continueToken = page.metadata.continue ?? "";
      resourceVersion = page.metadata.resourceVersion;
    } while (continueToken);
    // List items carry no kind; handlers only need the objects.
    for (const [key, old] of this.store) {
      if (!fresh.has(key)) {
        this.store.delete(key);
        this.handle(key, old, () => this.handlers.remove(old));
      }
    }
    for (const [key, item] of fresh) {
      const previous = this.store.get(key);
      if (previous?.metadata.resourceVersion === item.metadata.resourceVersion) continue;
      this.store.set(key, item);
      this.handle(key, item, () => this.handlers.upsert(item, previous));
    }
    this.resourceVersion = resourceVersion;
    this.hasSynced = true;
    this.handlers.synced?.();
  }

  private async watch(): Promise<void> {
    this.stats.watches++;
    const timeoutSeconds = String(240 + Math.floor(Math.random() * 60));
    const { response, abort } = await this.client.stream(
      this.query({
        watch: "true",
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: "true",
        timeoutSeconds,
      }),
    );
    if (response.statusCode === 410) {
      response.resume();
      throw new GoneError();
    }
    if (response.statusCode !== 200) {
      response.resume();
      throw new Error(`watch ${this.options.path}: HTTP ${response.statusCode}`);
    }
    let abortedByUs = false;
    const stopWatch = () => {
      abortedByUs = true;
      abort();
    };
    this.abortWatch = stopWatch;
    // A relist asked for while this watch was being opened: the loop lists before watching on.
    if (this.relistRequested) stopWatch();
    const watchdogMs = this.options.watchdogMs ?? 120_000;
    let watchdog = setTimeout(() => this.silent(stopWatch), watchdogMs);
    let buffered = "";
    try {
      response.setEncoding("utf8");
      for await (const chunk of response as AsyncIterable<string>) {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => this.silent(stopWatch), watchdogMs);
        buffered += chunk;
        let newline = buffered.indexOf("\n");
        while (newline >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (line.trim()) this.apply(JSON.parse(line) as WatchEvent<T>);
          newline = buffered.indexOf("\n");
        }
      }
    } catch (error) {
      // Our own abort (stop, watchdog) just ends this watch; anything else is a failure.
      if (!abortedByUs && !this.stopped) throw error;
    } finally {
      clearTimeout(watchdog);
      this.abortWatch = undefined;
    }
  }

  private silent(abort: () => void): void {
    this.stats.watchdogRestarts++;
    this.log.warn({ path: this.options.path }, "watch silent past the watchdog; restarting it");
    abort();
  }

  private apply(event: WatchEvent<T>): void {
    if (event.type === "ERROR") {
      if (event.object.code === 410) throw new GoneError();
      throw new Error(`watch error: ${event.object.message ?? JSON.stringify(event.object)}`);
    }
    const version = event.object.metadata?.resourceVersion;
    if (version) this.resourceVersion = version;
    if (event.type === "BOOKMARK" || !this.wellFormed(event.object)) return;
    const object = event.object;
    const key = keyOf(object);
    const previous = this.store.get(key);
    if (event.type === "DELETED") {
      this.store.delete(key);
      this.handle(key, object, () => this.handlers.remove(object));
      return;
    }
    this.store.set(key, object);
    this.handle(key, object, () => this.handlers.upsert(object, previous));
  }

  /** Objects without a name cannot be stored (the API server never sends one). */
  private wellFormed(object: T | undefined): boolean {
    const metadata = object?.metadata;
    if (typeof metadata?.name === "string" && metadata.name !== "") return true;
    this.log.warn({ path: this.options.path }, "skipping an object without a name");
    return false;
  }

  /** Runs a handler for `key`; what it throws is logged once per object, counted, and dropped. */
  private handle(key: string, object: T, handler: () => void): void {
    try {
      handler();
      this.failing.delete(key);
    } catch (error) {
      this.stats.handlerErrors++;
      this.options.onHandlerError?.();
      if (this.failing.has(key)) return;
      this.failing.add(key);
      this.log.error(
        {
          path: this.options.path,
          object: key,
          resourceVersion: object.metadata.resourceVersion,
          err: error instanceof Error ? (error.stack ?? error.message) : String(error),
        },
        "informer handler failed; the object is skipped until it changes",
      );
    }
  }
}

export function keyOf(object: KubeObject): string {
  return object.metadata.namespace
    ? `${object.metadata.namespace}/${object.metadata.name}`
    : object.metadata.name;
}
