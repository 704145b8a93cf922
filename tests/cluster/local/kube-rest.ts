import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";

/**
 * A minimal JSON client for the local control plane's own tooling (bring-up, readiness,
 * fake nodes), authenticated with a client certificate over keep-alive connections.
 */
export class KubeRest {
  private readonly agent: Agent;

  constructor(
    private readonly server: string,
    credentials: { ca: string; cert: string; key: string },
  ) {
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: 64,
      ca: readFileSync(credentials.ca),
      cert: readFileSync(credentials.cert),
      key: readFileSync(credentials.key),
    });
  }

  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const url = new URL(path, this.server);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolveCall, reject) => {
      const req = request(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            accept: "application/json",
            ...(payload
              ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
              : {}),
          },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // plain-text answers such as /readyz's "ok"
            }
            resolveCall({ status: res.statusCode ?? 0, body: parsed as T });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on("error", reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  async get<T = unknown>(path: string): Promise<T> {
    const res = await this.call<T>("GET", path);
    if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /**
   * Lists, then streams watch events of a collection path until the returned function is
   * called. A watch the server ends (timeouts, "unresponsive watcher" closes under load) is
   * resumed from the last resourceVersion seen; 410 Gone relists (reporting every current
   * object again as ADDED). Objects are parsed JSON.
   */
  async watch<T extends { metadata?: { resourceVersion?: string } }>(
    path: string,
    onEvent: (type: string, object: T) => void,
  ): Promise<() => void> {
    let stopped = false;
    let current: ReturnType<typeof request> | undefined;
    let resourceVersion = "";
    const list = async () => {
      const listed = await this.get<{ items: T[]; metadata: { resourceVersion: string } }>(path);
      for (const item of listed.items) onEvent("ADDED", item);
      resourceVersion = listed.metadata.resourceVersion;
    };
    const separator = path.includes("?") ? "&" : "?";
    const resume = (relist: boolean) => {
      if (stopped) return;
      setTimeout(
        () => {
          (relist ? list() : Promise.resolve()).then(open, () => resume(true));
        },
        relist ? 500 : 50,
      );
    };
    const open = () => {
      if (stopped) return;
      const url = new URL(
        `${path}${separator}watch=true&allowWatchBookmarks=true&resourceVersion=${resourceVersion}`,
        this.server,
      );
      let gone = false;
      current = request(url, { agent: this.agent, headers: { accept: "application/json" } }, (res) => {
        if (res.statusCode === 410) gone = true;
        let buffered = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffered += chunk;
          let newline = buffered.indexOf("\n");
          while (newline >= 0) {
            const line = buffered.slice(0, newline);
            buffered = buffered.slice(newline + 1);
            if (line.trim()) {
              const event = JSON.parse(line) as { type: string; object: T & { code?: number } };
              if (event.type === "ERROR") {
                if (event.object.code === 410) gone = true;
              } else {
                const version = event.object.metadata?.resourceVersion;
                if (version) resourceVersion = version;
                if (event.type !== "BOOKMARK") onEvent(event.type, event.object);
              }
            }
            newline = buffered.indexOf("\n");
          }
        });
        res.on("end", () => resume(gone));
        res.on("error", () => undefined);
      });
      current.on("error", () => resume(false));
      current.end();
    };
    await list();
    open();
    return () => {
      stopped = true;
      current?.destroy();
    };
  }

  close(): void {
    this.agent.destroy();
  }
}

/** GET over TLS without verifying the peer: only for local /healthz of self-signed components. */
export async function insecureHealth(url: string): Promise<boolean> {
  return new Promise((resolveHealth) => {
    const req = request(url, { rejectUnauthorized: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolveHealth(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolveHealth(false));
    req.end();
  });
}
