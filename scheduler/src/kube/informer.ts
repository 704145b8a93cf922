/**
 * An informer: list, then watch from the list's resourceVersion, keeping a store of objects
 * by namespace/name and telling handlers what changed.
 *   - A list is a watch-list where the server offers one: one watch with sendInitialEvents=true
 *     streams every object as an ADDED event, then a bookmark annotated
 *     k8s.io/initial-events-end marks the list complete, and the same stream goes on as the
 *     watch. A server that refuses it (WatchList gate off: 422; storage that cannot stream: an
 *     ERROR event before that bookmark) is listed in pages instead (limit + continue; a 410 on a
 *     continue token restarts the list). Either way objects are applied as they arrive: no
 *     response or map holds the whole collection at once.
 *   - Every list is asked with resourceVersion "" (a quorum-fresh read): relist() promises what
 *     is at least as new as the moment it was asked, and after a 410 the last known one is gone.
 *   - Objects in the store that a list did not show are reported removed once the list completes.
 *   - 410 Gone (history compacted) → relist; the relist reports deletions it missed.
 *   - Errors and dropped connections → re-watch from the last seen resourceVersion, with backoff.
 *   - A watch silent for longer than the watchdog allows is restarted (bookmarks keep a healthy
 *     watch talking).
 *   - A handler that throws costs only that object: it is logged once (until it is handled
 *     again), counted, and the list or watch goes on with the next one.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { apiError, type KubeClient } from "./kube-client.js";

export interface KubeObject {
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
}

/**
 * What deliveredAsOfNow's `include` sees of an object its read shows: the metadata, and a pod's
 * node (pods are read in protobuf for no more than these: protobuf.ts; other kinds in JSON, whole).
 */
export interface ReadObject {
  metadata: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: { nodeName?: string };
}

export interface InformerHandlers<T> {
  upsert(object: T, previous: T | undefined): void;
  remove(object: T): void;
  /** After the first complete list, and after every relist. */
  synced?(): void;
}

/** How the informer lists: streamed where the server can (falling back to pages), or in pages. */
export type ListMode = "watch-list" | "paginated";

export interface InformerOptions<T = KubeObject> {
  /** Collection path, e.g. /api/v1/pods. */
  path: string;
  fieldSelector?: string;
  labelSelector?: string;
  /** Objects per page of a paginated list (500). */
  pageSize?: number;
  /** "watch-list" (default) or "paginated" (never ask for a watch-list). */
  listMode?: ListMode;
  /** Restart a watch that has said nothing for this long. */
  watchdogMs?: number;
  /** Called each time a handler throws (for a metric). */
  onHandlerError?: () => void;
  /**
   * What the store keeps of each object, applied as soon as an event is decoded (the cache's
   * fields only: a watch of every pod must not hold whole pods). Its copy is what handlers get;
   * an object it cannot read (it throws) is kept as decoded, for the handlers to refuse.
   */
  keep?: (object: T) => T;
  /** Told what each watch stream received and how long decoding it took (metrics). */
  meter?: WatchMeter;
}

/** What the watch streams of one informer received, and what decoding them cost. */
export interface WatchMeter {
  /** `bytes` read off a watch stream; the `events` it completed took `seconds` to decode (parse and keep). */
  received(bytes: number, events: number, seconds: number): void;
}

/** The bookmark that ends a watch-list's initial events carries this annotation, "true". */
export const initialEventsEndAnnotation = "k8s.io/initial-events-end";

const defaultPageSize = 500;

interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T & { code?: number; message?: string };
}

class GoneError extends Error {}

/** The server would not stream a list (its answer as the message): list in pages instead. */
class WatchListRefused extends Error {}

/** The list in progress: the keys it showed, and the relist() callers it answers. */
interface Listing {
  readonly seen: Set<string>;
  readonly waiting: number;
}

export class Informer<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private resourceVersion = "";
  private stopped = false;
  private abortWatch: (() => void) | undefined;
  private hasSynced = false;
  private needList = true;
  /** Callers of relist() waiting for the next complete list, or (before it) for the first. */
  private relistWaiters: (() => void)[] = [];
  private firstListWaiters: (() => void)[] = [];
  private relistRequested = false;
  /** Callers of deliveredAsOfNow() waiting for the informer to reach the newest version they read. */
  private versionWaiters: { readonly target: bigint; readonly resolve: (reached: boolean) => void }[] = [];
  private refusalLogged = false;
  /** Keys of the objects whose handler threw, each logged once until it is handled again. */
  private readonly failing = new Set<string>();
  /**
   * Counters for metrics and tests: lists = completed lists of either kind, watchLists = of them
   * streamed, pages = pages fetched by paginated lists, listRestarts = paginated lists restarted
   * after their continue token expired, watchListRefusals = watch-lists the server refused.
   */
  readonly stats = {
    lists: 0,
    watchLists: 0,
    pages: 0,
    listRestarts: 0,
    watchListRefusals: 0,
    watches: 0,
    gone: 0,
    watchdogRestarts: 0,
    errors: 0,
    handlerErrors: 0,
  };
  /** How the last complete list was read; undefined before the first. */
  lastListMode: ListMode | undefined;

  constructor(
    private readonly client: Pick<KubeClient, "call" | "read" | "stream">,
    private readonly options: InformerOptions<T>,
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

  /**
   * Resolves true once this informer has delivered, at least at the version a quorum read shows
   * now, every object of its collection that also matches `fieldSelector` and `include`: the read
   * lists them (in pages; pods in protobuf, read for their placements only: ReadObject) and the
   * informer is to reach the newest of their resourceVersions (watch events arrive in that
   * order): the objects a caller is about to rely on, not every change of the collection, so a
   * watch that trails behind other traffic answers once it has delivered these, and a quiet
   * collection without waiting for a bookmark. Objects gone since they matched
   * are not waited for. False when their versions are not decimal numbers (the API server's are
   * etcd revisions; other storage may make them opaque), when the answer is no list it can read,
   * or on stop; rejects when the read fails.
   */
  async deliveredAsOfNow(
    fieldSelector: string,
    include: (object: ReadObject) => boolean = () => true,
  ): Promise<boolean> {
    let target = 0n;
    let continueToken = "";
    for (;;) {
      const path = this.query(
        {
          limit: String(this.options.pageSize ?? defaultPageSize),
          ...(continueToken ? { continue: continueToken } : {}),
        },
        fieldSelector,
      );
      const res = await this.client.read<{ items?: ReadObject[]; metadata?: { continue?: string } }>(path);
      if (res.status === 410 && continueToken) {
        target = 0n;
        continueToken = "";
        continue;
      }
      if (res.status < 200 || res.status > 299) throw apiError("GET", path, res);
      // Stopped, or an answer that is no list this can read (a kind protobuf.ts does not read).
      if (this.stopped || !Array.isArray(res.body?.items)) return false;
      for (const item of res.body.items) {
        if (!this.wellFormed(item) || !include(item)) continue;
        const version = revision(item.metadata.resourceVersion);
        if (version === undefined) return false;
        if (version > target) target = version;
      }
      continueToken = res.body.metadata?.continue ?? "";
      if (!continueToken) break;
    }
    return new Promise((resolve) => {
      this.versionWaiters.push({ target, resolve });
      this.versionAdvanced();
    });
  }

  /** The informer's resourceVersion moved on: answers the deliveredAsOfNow() callers it reached. */
  private versionAdvanced(): void {
    if (this.versionWaiters.length === 0 || !this.hasSynced || this.needList) return;
    const now = revision(this.resourceVersion);
    if (now === undefined) return;
    const waiting = this.versionWaiters;
    this.versionWaiters = waiting.filter((waiter) => waiter.target > now);
    for (const waiter of waiting) if (waiter.target <= now) waiter.resolve(true);
  }

  /** Runs until stop(); never throws. */
  async run(): Promise<void> {
    let backoffMs = 250;
    while (!this.stopped) {
      try {
        if (this.relistRequested) {
          this.relistRequested = false;
          this.needList = true;
        }
        if (this.needList) {
          const listing: Listing = { seen: new Set(), waiting: this.relistWaiters.length };
          if (this.options.listMode !== "paginated" && (await this.watchList(listing)) === "streamed") {
            // A stream cut before its list was complete (not by us) is a failure, retried with backoff.
            if (this.needList && !this.relistRequested && !this.stopped)
              throw new Error("the watch-list ended before its initial-events-end bookmark");
            // Listed and watched on until the stream ended: the watch resumes where it stopped.
            backoffMs = 250;
            continue;
          }
          await this.paginatedList(listing);
        }
        await this.watch();
        backoffMs = 250;
      } catch (error) {
        if (this.stopped) break;
        if (error instanceof GoneError) {
          this.stats.gone++;
          this.log.info({ path: this.options.path }, "watch history expired (410 Gone); relisting");
          this.needList = true;
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
    for (const waiter of this.versionWaiters.splice(0)) waiter.resolve(false);
  }

  /** The collection's path with its selectors (and `alsoFields`, a further field selector) and `extra`. */
  private query(extra: Record<string, string>, alsoFields = ""): string {
    const params = new URLSearchParams(extra);
    const fields = [this.options.fieldSelector ?? "", alsoFields]
      .filter((selector) => selector !== "")
      .join(",");
    if (fields) params.set("fieldSelector", fields);
    if (this.options.labelSelector) params.set("labelSelector", this.options.labelSelector);
    return `${this.options.path}?${params}`;
  }

  /**
   * Lists through one streaming watch and, once listed, watches on through the same stream until
   * it ends ("streamed"; if it ended before the list was complete, the list is still needed).
   * "refused" when the server would not stream the list: it is to be listed in pages.
   */
  private async watchList(listing: Listing): Promise<"streamed" | "refused"> {
    try {
      await this.stream(
        {
          watch: "true",
          sendInitialEvents: "true",
          resourceVersionMatch: "NotOlderThan",
          allowWatchBookmarks: "true",
        },
        listing,
      );
      return "streamed";
    } catch (error) {
      if (!(error instanceof WatchListRefused)) throw error;
      this.stats.watchListRefusals++;
      this.log[this.refusalLogged ? "debug" : "info"](
        { path: this.options.path, answer: error.message },
        "the API server does not stream lists here; listing in pages",
      );
      this.refusalLogged = true;
      return "refused";
    }
  }

  /** Lists in pages of pageSize, applying each page as it comes; then the watch resumes from it. */
  private async paginatedList(listing: Listing): Promise<void> {
    // What a refused or broken stream showed before does not count: this list shows it all.
    listing.seen.clear();
    let continueToken = "";
    let resourceVersion = "";
    for (;;) {
      const path = this.query({
        limit: String(this.options.pageSize ?? defaultPageSize),
        ...(continueToken ? { continue: continueToken } : {}),
      });
      const res = await this.client.call<{
        items: T[];
        metadata: { resourceVersion: string; continue?: string };
      }>("GET", path);
      if (res.status === 410 && continueToken) {
        // The continue token outlived the snapshot it pages through: start the list over.
        this.stats.listRestarts++;
        this.log.info({ path: this.options.path }, "list continuation expired (410); listing again");
        listing.seen.clear();
        continueToken = "";
        continue;
      }
      if (res.status < 200 || res.status > 299) throw apiError("GET", path, res);
      this.stats.pages++;
      // List items carry no kind; handlers only need the objects.
      for (const item of res.body.items) this.listed(this.kept(item), listing);
      continueToken = res.body.metadata.continue ?? "";
      resourceVersion = res.body.metadata.resourceVersion;
      if (!continueToken) break;
    }
    this.resourceVersion = resourceVersion;
    this.listComplete(listing, "paginated");
    this.versionAdvanced();
  }

  /** An object a list shows: stored and handled unless the store already has this version. */
  private listed(item: T, listing: Listing): void {
    if (!this.wellFormed(item)) return;
    const key = keyOf(item);
    listing.seen.add(key);
    const previous = this.store.get(key);
    if (previous?.metadata.resourceVersion === item.metadata.resourceVersion) return;
    this.store.set(key, item);
    this.handle(key, item, () => this.handlers.upsert(item, previous));
  }

  /** The list is complete: what it did not show is gone; then synced, and relist() callers answered. */
  private listComplete(listing: Listing, mode: ListMode): void {
    for (const [key, old] of this.store) {
      if (listing.seen.has(key)) continue;
      this.store.delete(key);
      this.handle(key, old, () => this.handlers.remove(old));
    }
    this.needList = false;
    this.hasSynced = true;
    this.lastListMode = mode;
    this.stats.lists++;
    if (mode === "watch-list") this.stats.watchLists++;
    this.handlers.synced?.();
    for (const resolve of [
      ...this.relistWaiters.splice(0, listing.waiting),
      ...this.firstListWaiters.splice(0),
    ])
      resolve();
  }

  /** Watches from the last seen resourceVersion until the stream ends. */
  private watch(): Promise<void> {
    this.stats.watches++;
    return this.stream({ watch: "true", resourceVersion: this.resourceVersion, allowWatchBookmarks: "true" });
  }

  /**
   * Reads one watch stream to its end. With a listing it is a watch-list: its events up to the
   * initial-events-end bookmark are the list, and a refusal before that throws WatchListRefused.
   */
  private async stream(params: Record<string, string>, listing?: Listing): Promise<void> {
    const timeoutSeconds = String(240 + Math.floor(Math.random() * 60));
    const { response, abort } = await this.client.stream(this.query({ ...params, timeoutSeconds }));
    const status = response.statusCode ?? 0;
    if (status === 410) {
      response.resume();
      throw new GoneError();
    }
    if (status !== 200) {
      // A watch-list the server will not serve is a 4xx naming why (WatchList gate off, an old
      // server: 422 "sendInitialEvents is forbidden…"); throttling and server errors are retried.
      if (listing && status >= 400 && status < 500 && status !== 429)
        throw new WatchListRefused(`HTTP ${status}: ${await statusMessage(response)}`);
      response.resume();
      throw new Error(`watch ${this.options.path}: HTTP ${status}`);
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
    const watchdog = setTimeout(() => this.silent(stopWatch), watchdogMs);
    // The listing, until its initial-events-end bookmark has come.
    let listingOpen = listing;
    const lines = new LineSplitter();
    const meter = this.options.meter;
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        watchdog.refresh();
        let events = 0;
        let decodeMs = 0;
        lines.push(chunk);
        for (let line = lines.next(); line !== undefined; line = lines.next()) {
          if (!line.trim()) continue;
          events++;
          const started = meter ? performance.now() : 0;
          const event = this.decode(line);
          if (meter) decodeMs += performance.now() - started;
          if (listingOpen && this.listEvent(event, listingOpen)) listingOpen = undefined;
          else if (!listingOpen) this.apply(event);
        }
        meter?.received(chunk.length, events, decodeMs / 1000);
      }
    } catch (error) {
      // Our own abort (stop, watchdog) just ends this watch; anything else is a failure.
      if (!abortedByUs && !this.stopped) throw error;
    } finally {
      clearTimeout(watchdog);
      this.abortWatch = undefined;
    }
  }

  /** One event of a watch-list's initial events; true for the bookmark that completes the list. */
  private listEvent(event: WatchEvent<T>, listing: Listing): boolean {
    if (event.type === "ERROR") {
      if (event.object.code === 410) throw new GoneError();
      // E.g. storage that cannot stream ("…required storage feature RequestWatchProgress is
      // disabled"), or a cache not fresh in time: a paginated list reads etcd directly.
      throw new WatchListRefused(`ERROR event: ${event.object.message ?? JSON.stringify(event.object)}`);
    }
    if (event.type === "BOOKMARK") {
      if (event.object.metadata?.annotations?.[initialEventsEndAnnotation] !== "true") return false;
      this.resourceVersion = event.object.metadata.resourceVersion ?? this.resourceVersion;
      this.listComplete(listing, "watch-list");
      this.versionAdvanced();
      return true;
    }
    if (event.type === "DELETED") {
      if (event.object.metadata?.name) listing.seen.delete(keyOf(event.object));
      this.apply(event);
    } else this.listed(event.object, listing);
    return false;
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
    if (version) {
      this.resourceVersion = version;
      this.versionAdvanced();
    }
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

  /** One watch event off the wire, its object reduced to what the store keeps. */
  private decode(line: string): WatchEvent<T> {
    const event = JSON.parse(line) as WatchEvent<T>;
    if (event.type !== "BOOKMARK" && event.type !== "ERROR") event.object = this.kept(event.object);
    return event;
  }

  private kept(object: T): T {
    const keep = this.options.keep;
    if (!keep || !object?.metadata) return object;
    try {
      return keep(object);
    } catch {
      return object;
    }
  }

  /** Objects without a name cannot be stored (the API server never sends one). */
  private wellFormed(object: ReadObject | undefined): boolean {
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

/** The message of a Status answer, for a log line. */
async function statusMessage(response: AsyncIterable<unknown> & { setEncoding(encoding: "utf8"): unknown }) {
  let text = "";
  try {
    response.setEncoding("utf8");
    for await (const chunk of response) if (text.length < 4096) text += String(chunk);
    return (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    return text;
  }
}

/**
 * Splits a watch stream into its lines (one JSON event each) without copying what it received:
 * a line inside one chunk is decoded straight from it; only a line cut across chunks is joined.
 */
export class LineSplitter {
  private chunk: Buffer = Buffer.alloc(0);
  private start = 0;
  /** The unfinished line's pieces from earlier chunks. */
  private pending: Buffer[] = [];

  push(chunk: Buffer | string): void {
    if (this.start < this.chunk.length) this.pending.push(this.chunk.subarray(this.start));
    this.chunk = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    this.start = 0;
  }

  /** The next complete line (UTF-8 decoded, without its newline), or undefined until more is pushed. */
  next(): string | undefined {
    const newline = this.chunk.indexOf(10, this.start);
    if (newline < 0) return undefined;
    const from = this.start;
    this.start = newline + 1;
    if (this.pending.length === 0) return this.chunk.toString("utf8", from, newline);
    this.pending.push(this.chunk.subarray(from, newline));
    const line = Buffer.concat(this.pending).toString("utf8");
    this.pending = [];
    return line;
  }
}

/** A resourceVersion as a number to compare, when it is a decimal one (etcd's revisions are). */
function revision(version: string | undefined): bigint | undefined {
  return version !== undefined && /^[0-9]{1,20}$/.test(version) ? BigInt(version) : undefined;
}

export function keyOf(object: KubeObject): string {
  return object.metadata.namespace
    ? `${object.metadata.namespace}/${object.metadata.name}`
    : object.metadata.name;
}
