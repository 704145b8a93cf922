/**
 * Room the coordinator has just promised: a group handed off or lent nodes is placed by its
 * shard a little later, and that shard's summary shows the placement later still. Until then
 * (or until the reservation expires) the promised room is taken out of the summaries, so two
 * groups are never sent to the same free room (pure).
 */
import { amountsOf, type CapacitySummary } from "@sharded-scheduler/scheduler/contracts";
import type { Placement } from "@sharded-scheduler/scheduler/core";

export interface Reservation {
  /** The room is counted as taken until then (ms since the epoch, the coordinator's clock). */
  readonly until: number;
  readonly placements: readonly Placement[];
}

/** The summaries with the room of every live reservation taken out of the nodes it is on. */
export function withReservations(
  summaries: readonly CapacitySummary[],
  reservations: Iterable<Reservation>,
  now: number,
): CapacitySummary[] {
  const taken = new Map<string, Record<string, number>>();
  for (const reservation of reservations) {
    if (reservation.until <= now) continue;
    for (const { pod, nodeName } of reservation.placements) {
      const amounts = taken.get(nodeName) ?? {};
      for (const [resource, amount] of Object.entries(amountsOf(pod.requests)))
        amounts[resource] = (amounts[resource] ?? 0) + amount;
      amounts.pods = (amounts.pods ?? 0) + 1;
      taken.set(nodeName, amounts);
    }
  }
  if (taken.size === 0) return [...summaries];
  return summaries.map((summary) => ({
    ...summary,
    nodes: summary.nodes.map((node) => {
      const amounts = taken.get(node.name);
      if (!amounts) return node;
      const free = { ...node.free };
      for (const [resource, amount] of Object.entries(amounts))
        free[resource] = (free[resource] ?? 0) - amount;
      return { ...node, free };
    }),
  }));
}
