/**
 * The coordinator removes the capacity fragmentation that sharding causes: it hands stuck
 * pod groups to shards with room and lends nodes across shards, keeping its ledger in Redis.
 */

export { Coordinator } from "./coordinator.js";
export * from "./core/index.js";
export { LeaderElection } from "./kube/leader-election.js";
export * from "./kube/overrides.js";
export { ReliefLedger } from "./ledger/relief-ledger.js";
