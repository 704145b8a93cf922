/** What shards and the coordinator share: the capacity summary and the Redis connection. */
export * from "./capacity-summary.js";
export * from "./redis-connection.js";
export * from "./shard-report.js";
export { SummaryPublisher } from "./summary-publisher.js";
