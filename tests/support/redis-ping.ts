/** Small Redis helpers for the harness: one PING, and reading keys for a run's diagnostics. */
import { Redis } from "ioredis";

/** A client that connects once when asked, never retries and never queues. */
function oneShotClient(url: string): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on("error", () => undefined);
  return client;
}

/** Whether the Redis at url answers PING, trying once; detail is its answer or the error. */
export async function redisPing(url: string): Promise<{ ok: boolean; detail: string }> {
  const client = oneShotClient(url);
  try {
    await client.connect();
    const answer = await client.ping();
    return { ok: answer === "PONG", detail: answer };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { ok: false, detail: typeof code === "string" ? code : String((error as Error).message ?? error) };
  } finally {
    client.disconnect();
  }
}

/** Every string value whose key matches pattern (a SCAN), parsed as JSON where it parses; {} if Redis is down. */
export async function redisValues(url: string, pattern: string): Promise<Record<string, unknown>> {
  const client = oneShotClient(url);
  const values: Record<string, unknown> = {};
  try {
    await client.connect();
    for await (const keys of client.scanStream({ match: pattern, count: 100 }) as AsyncIterable<string[]>) {
      for (const key of keys) {
        const text = await client.get(key);
        if (text === null) continue;
        try {
          values[key] = JSON.parse(text);
        } catch {
          values[key] = text;
        }
      }
    }
  } catch {
    // A diagnostic only: nothing to add when Redis does not answer.
  } finally {
    client.disconnect();
  }
  return values;
}
