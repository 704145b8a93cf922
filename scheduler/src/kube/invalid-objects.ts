/**
 * Input from the API server or Redis is parsed at the edge into a typed value or a reason
 * (`Parsed`), never thrown. What is invalid is skipped, logged once with the object's name and
 * counted (`InvalidObjects`), so one bad object can neither crash a component nor flood its log.
 */
import type { Logger } from "pino";

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

/**
 * Logs each invalid object once (again only when its reason changes, or after it was valid) and
 * counts it by kind. `name` says which object: namespace/name, a Redis key, a shard.
 */
export class InvalidObjects {
  /** kind/name → the reason last logged. */
  private readonly logged = new Map<string, string>();

  constructor(
    private readonly log: Logger,
    private readonly count: (kind: string) => void = () => undefined,
  ) {}

  /** Skips `name`: logs and counts it unless the same reason was reported last time. */
  report(kind: string, name: string, reason: string): void {
    const key = `${kind}\u0000${name}`;
    if (this.logged.get(key) === reason) return;
    this.logged.set(key, reason);
    this.count(kind);
    this.log.warn(
      { kind, name: name.length > 253 ? quoted(name, 253) : name, reason },
      "skipping an invalid object",
    );
  }

  /** `name` is valid (or gone): a later fault is reported again. */
  valid(kind: string, name: string): void {
    this.logged.delete(`${kind}\u0000${name}`);
  }

  /** A Parsed value, reporting the object when it is invalid. */
  check<T>(kind: string, name: string, result: Parsed<T>): T | undefined {
    if (result.ok) {
      this.valid(kind, name);
      return result.value;
    }
    this.report(kind, name, result.reason);
    return undefined;
  }
}
