/**
 * A stand-in for the API server's list and watch of one collection, for informer tests: pages
 * (limit + continue), watch-lists (initial events then the initial-events-end bookmark), plain
 * watches, and the refusals and expiries a real server answers with.
 */
import { PassThrough } from "node:stream";
import type { KubeClient } from "../../src/kube/kube-client.js";

export interface Thing {
  metadata: { name: string; resourceVersion?: string };
  poison?: boolean;
}

export const thing = (name: string, resourceVersion: string, poison = false): Thing => ({
  metadata: { name, resourceVersion },
  ...(poison ? { poison } : {}),
});

/** How the server answers a watch with sendInitialEvents=true. */
export type WatchListSupport = "stream" | "refuse" | "error-event";

export class FakeApiServer {
  readonly objects = new Map<string, Thing>();
  resourceVersion = 10;
  watchList: WatchListSupport = "stream";
  /** The next paginated continuation is answered 410 (its snapshot compacted). */
  expireNextContinue = false;
  /** This many watch-lists end after their objects, before the bookmark (a cut connection). */
  cutWatchLists = 0;
  /** Hold the initial-events-end bookmark back until release() (to see the state before it). */
  holdBookmark = false;
  /** Every request, as "GET <path>" or "WATCH <path>". */
  readonly requests: string[] = [];
  private current: PassThrough | undefined;
  private held: (() => void) | undefined;

  constructor(things: Thing[] = []) {
    for (const object of things) this.objects.set(object.metadata.name, object);
  }

  readonly client = {
    call: async (method: string, path: string) => {
      this.requests.push(`${method} ${path}`);
      const params = new URL(path, "http://fake").searchParams;
      const limit = Number(params.get("limit") ?? "0") || Number.POSITIVE_INFINITY;
      const from = Number(params.get("continue") ?? "0");
      if (params.get("continue") && this.expireNextContinue) {
        this.expireNextContinue = false;
        return { status: 410, body: { kind: "Status", code: 410, reason: "Expired", message: "too old" } };
      }
      const all = [...this.objects.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
      const items = all.slice(from, from + limit);
      const next = from + items.length < all.length ? String(from + items.length) : undefined;
      return {
        status: 200,
        body: {
          items,
          metadata: { resourceVersion: String(this.resourceVersion), ...(next ? { continue: next } : {}) },
        },
      };
    },
    // A read answers as a JSON server does: the objects whole.
    read: (path: string) => this.client.call("GET", path),
    stream: async (path: string) => {
      this.requests.push(`WATCH ${path}`);
      const params = new URL(path, "http://fake").searchParams;
      const response = new PassThrough();
      const listing = params.get("sendInitialEvents") === "true";
      if (listing && this.watchList === "refuse") {
        Object.assign(response, { statusCode: 422 });
        response.end(
          JSON.stringify({
            kind: "Status",
            code: 422,
            reason: "Invalid",
            message:
              'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled',
          }),
        );
        return { response, abort: () => response.destroy() };
      }
      Object.assign(response, { statusCode: 200 });
      this.current = response;
      if (listing && this.watchList === "error-event") {
        this.write(response, "ERROR", {
          kind: "Status",
          code: 500,
          message:
            "a watch stream was requested by the client but the required storage feature RequestWatchProgress is disabled",
        });
        response.end();
      } else if (listing) {
        for (const object of this.objects.values()) this.write(response, "ADDED", object);
        const bookmark = () =>
          this.write(response, "BOOKMARK", {
            metadata: {
              resourceVersion: String(this.resourceVersion),
              annotations: { "k8s.io/initial-events-end": "true" },
            },
          });
        if (this.cutWatchLists > 0) {
          this.cutWatchLists--;
          response.end();
        } else if (this.holdBookmark) this.held = bookmark;
        else bookmark();
      }
      return { response, abort: () => response.destroy() };
    },
  } as unknown as Pick<KubeClient, "call" | "read" | "stream">;

  /** Sends the held initial-events-end bookmark. */
  release(): void {
    this.held?.();
    this.held = undefined;
  }

  /** Changes an object and tells the open watch, as the API server would. */
  send(type: "ADDED" | "MODIFIED" | "DELETED", object: Thing): void {
    this.resourceVersion++;
    if (type === "DELETED") this.objects.delete(object.metadata.name);
    else this.objects.set(object.metadata.name, object);
    if (this.current) this.write(this.current, type, object);
  }

  /** Writes a raw event (ERROR, a malformed object …) on the open watch. */
  sendRaw(type: string, object: unknown): void {
    if (this.current) this.write(this.current, type, object);
  }

  watches(): URLSearchParams[] {
    return this.requests
      .filter((request) => request.startsWith("WATCH "))
      .map((request) => new URL(request.slice(6), "http://fake").searchParams);
  }

  private write(response: PassThrough, type: string, object: unknown): void {
    response.write(`${JSON.stringify({ type, object })}\n`);
  }
}

export const waitUntil = async (what: string, done: () => boolean) => {
  for (let i = 0; i < 400 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!done()) throw new Error(`timed out waiting for ${what}`);
};
