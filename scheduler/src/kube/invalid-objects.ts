/**
 * Input from the API server or Redis is parsed at the edge into a typed value or a reason
 * (`Parsed`, contracts/parsed.ts), never thrown. What is invalid is skipped, logged once with the object's name and
 * counted (`InvalidObjects`), so one bad object can neither crash a component nor flood its log.
 */
import type { Logger } from "pino";
import { type Parsed, quoted } from "../contracts/parsed.js";

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
