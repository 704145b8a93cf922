/**
 * What the scheduler's processes (shards, the coordinator, the status command) and the cluster
 * agree on: every `sharded-scheduler.io/*` key, the Lease names and Redis keys, and the formats
 * written by one process and read by another, each with its parser. Pure: no I/O, and it imports
 * nothing from the rest of the scheduler (the layering test holds it to that).
 */
export * from "./capacity-summary.js";
export * from "./keys.js";
export * from "./leases.js";
export * from "./owner-condition.js";
export * from "./parsed.js";
