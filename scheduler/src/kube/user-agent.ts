/**
 * The User-Agent every request to the API server carries: `sharded-scheduler/<version> (<identity>)`,
 * so audit logs and the API server's request metrics tell each replica apart (client-go sends
 * `<binary>/<version> (<os>/<arch>) kubernetes/<commit>`). Identities: the shard's replica
 * identity, `coordinator/<pod name>`, `status` for the status command.
 */
import { createRequire } from "node:module";

/**
 * The scheduler package's version, read from its package.json: one level above both src/ and
 * dist/, and shipped in the image (/app/scheduler/package.json).
 */
export const schedulerVersion: string = (() => {
  try {
    const manifest = createRequire(import.meta.url)("../../package.json") as { version?: unknown };
    return typeof manifest.version === "string" ? manifest.version : "unknown";
  } catch {
    return "unknown";
  }
})();

/** Header values allow visible ASCII only; an identity from the environment may hold anything. */
const unsafe = /[^\x21-\x7e]|[()]/g;

export function userAgent(identity?: string): string {
  const product = `sharded-scheduler/${schedulerVersion}`;
  const comment = identity?.replace(unsafe, "_");
  return comment ? `${product} (${comment})` : product;
}
