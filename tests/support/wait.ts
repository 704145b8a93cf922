import { setTimeout as sleep } from "node:timers/promises";

/** Thrown by a check to stop waiting at once: what it waits for can no longer happen. */
export class GiveUp extends Error {}

/** Polls until check() returns a value, or fails with what the last attempt said. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof GiveUp) throw new Error(`gave up waiting for ${what}: ${error.message}`);
      lastError = error;
    }
    await sleep(intervalMs);
  }
  const detail = lastError instanceof Error ? `: ${lastError.message}` : "";
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${detail}`);
}

/**
 * Asserts that something keeps holding for a bounded time: check() throws when it is violated,
 * and the first violation fails at once. For "X does not happen": choose a duration longer than
 * what would make X happen (the shard's settle window plus a cycle or two).
 */
export async function holdsFor(
  what: string,
  check: () => Promise<void>,
  durationMs: number,
  intervalMs = 250,
): Promise<void> {
  const deadline = Date.now() + durationMs;
  for (;;) {
    try {
      await check();
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new Error(`expected ${what} for ${durationMs / 1000}s, but: ${detail}`);
    }
    if (Date.now() >= deadline) return;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}
