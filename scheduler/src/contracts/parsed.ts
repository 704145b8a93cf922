/**
 * Input from the API server or Redis is parsed at the edge into a typed value or a reason
 * (`Parsed`), never thrown. The parsers of the contracts here and of the adapters (kube/,
 * sharding/, the coordinator) share this vocabulary; kube/invalid-objects.ts logs and counts
 * what does not parse.
 */

export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

export const parsed = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const invalid = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

/** External text quoted for a reason or a log line: JSON-escaped and cut to `max` characters. */
export function quoted(text: string, max = 64): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}...` : text);
}

/** DNS-1123 subdomain (what a Node, a Lease or a StatefulSet pod may be named). */
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDnsSubdomain(text: string): boolean {
  return text.length <= 253 && dns1123Subdomain.test(text);
}

/**
 * A non-negative integer written in decimal that a number holds exactly (at most 2^53 - 1), or
 * the reason it is not one ("1e3", "-1", "1.5", "9007199254740992" are not).
 */
export function exactCount(text: string): Parsed<number> {
  if (!/^\d+$/.test(text)) return invalid(`${quoted(text)} is not a non-negative integer`);
  const value = text.length <= 16 ? Number(text) : Number.POSITIVE_INFINITY;
  if (value > Number.MAX_SAFE_INTEGER)
    return invalid(`${quoted(text)} is beyond 2^53 - 1, the largest integer held exactly`);
  return parsed(value);
}
