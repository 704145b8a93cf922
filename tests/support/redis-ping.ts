/** Whether a Redis answers: one PING, with no retries and no queueing. */
import { Redis } from "ioredis";

/** Whether the Redis at url answers PING, trying once; detail is its answer or the error. */
export async function redisPing(url: string): Promise<{ ok: boolean; detail: string }> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on("error", () => undefined);
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
