/** The coordinator's pure core: capacity summaries in, relief plans out; the leadership proof. No I/O. */
export { type CapacityView, capacityView, freeCpu, usableFreeCpu } from "./capacity-view.js";
export { LeadershipProof, type LeaderTicket, Reachability } from "./leadership.js";
export { type LendState, shouldReturn } from "./lend-return.js";
export { planRelief, promisedToAnother, type ReliefPlan, type ReliefRequest } from "./relief-plan.js";
export { type Reservation, withReservations } from "./reservations.js";
