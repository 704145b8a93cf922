/**
 * The coordinator removes the capacity fragmentation that sharding causes: it hands stuck
 * pod groups to shards with room and lends nodes across shards, keeping its ledger in Redis.
 */
export const coordinatorComponent = "coordinator";
