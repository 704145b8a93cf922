/**
 * The User-Agent every request to the API server carries: `sharded-scheduler/<version> (<identity>)`,
 * so audit logs and the API server's request metrics tell each replica apart (client-go sends
 * `<binary>/<version> (<os>/<arch>) kubernetes/<commit>`). Identities: the shard's replica
 * identity, `coordinator/<pod name>`, `status` for the status command.
 */
import { createRequire } from "node:module";

/** Written in by the bundle of an entry point (scripts/bundle-entry.mjs); absent when run unbundled. */
declare const SHARDED_SCHEDULER_VERSION: string | undefined;

/**
 * The scheduler package's version: written into the bundled entry points by their build, else
 * read from its package.json, one level above both src/ and dist/.
 */
export const schedulerVersion: string =
  typeof SHARDED_SCHEDULER_VERSION === "string" ? SHARDED_SCHEDULER_VERSION : versionFromManifest();

function versionFromManifest(): string {
  try {
    const manifest = createRequire(import.meta.url)("../../package.json") as { version?: unknown };
    return typeof manifest.version === "string" ? manifest.version : "unknown";
  } catch {
    return "unknown";
  }
}

/** Header values allow visible ASCII only; an identity from the environment may hold anything. */
const unsafe = /[^\x21-\x7e]|[()]/g;

export function userAgent(identity?: string): string {
  const product = `sharded-scheduler/${schedulerVersion}`;
  const comment = identity?.replace(unsafe, "_");
  return comment ? `${product} (${comment})` : product;
}
