/**
 * The coordinator's ledger in Redis: per pod group, how many reliefs (handoffs or lends) it
 * had and when the last one was, so a group is never handed around faster than the cooldown,
 * and past the maximum ever more slowly (never given up); per lent node, which group it is
 * lent for. Every change is one Lua script (claim-relief.ts), so two coordinators can never
 * both claim a relief.
 *
 * The ledger is a lock and a memory, not the truth: the owner overrides live on the pods and
 * nodes. If Redis loses it, the next claim rebuilds the count from the pods' Relief conditions.
 */
import { redisKeyPrefix } from "@sharded-scheduler/scheduler/contracts";
import type { Redis } from "ioredis";
import { claimReliefScript } from "./claim-relief.js";

export type ReliefKind = "handoff" | "lend";

export interface ReliefClaim {
  readonly group: string;
  readonly kind: ReliefKind;
  readonly to: string;
  readonly from: string;
  /** For a lend: the nodes lent. */
  readonly nodes: readonly string[];
  /** What the group's pods say (their sharded-scheduler.io/Relief condition), if anything. */
  readonly knownAttempts: number;
  readonly knownAt: number;
}

export type ClaimOutcome =
  | { readonly claimed: true; readonly attempts: number }
  | {
      readonly claimed: false;
      readonly reason: "cooldown" | "exhausted" | "node-taken";
      readonly attempts: number;
      /** During the cooldown: the relief the ledger holds (to finish one a crash interrupted). */
      readonly current: { readonly kind: string; readonly to: string } | undefined;
    };

export interface LedgerOptions {
  schedulerName: string;
  cooldownMs: number;
  maxAttempts: number;
  /** Past maxAttempts, the wait between reliefs doubles up to this. */
  maxCooldownMs: number;
  /** How long a group's record is kept after its last relief. */
  recordTtlMs: number;
}

export class ReliefLedger {
  constructor(
    private readonly redis: Redis,
    private readonly options: LedgerOptions,
  ) {
    redis.defineCommand("claimRelief", { lua: claimReliefScript });
  }

  groupKey(group: string): string {
    return `${redisKeyPrefix(this.options.schedulerName)}relief:${group}`;
  }

  lendKey(node: string): string {
    return `${redisKeyPrefix(this.options.schedulerName)}lend:${node}`;
  }

  async claim(claim: ReliefClaim, now: number): Promise<ClaimOutcome> {
    const keys = [this.groupKey(claim.group), ...claim.nodes.map((node) => this.lendKey(node))];
    const reply = (await (
      this.redis as unknown as { claimRelief: (...args: (string | number)[]) => Promise<unknown[]> }
    ).claimRelief(
      keys.length,
      ...keys,
      now,
      this.options.cooldownMs,
      this.options.maxAttempts,
      this.options.recordTtlMs,
      claim.kind,
      claim.to,
      claim.from,
      claim.knownAttempts,
      claim.knownAt,
      claim.group,
      this.options.maxCooldownMs,
    )) as [number, string, number, string, string];
    const [claimed, outcome, attempts, kind, to] = reply;
    if (claimed === 1) return { claimed: true, attempts: Number(attempts) };
    return {
      claimed: false,
      reason: outcome as "cooldown" | "exhausted" | "node-taken",
      attempts: Number(attempts),
      current: outcome === "cooldown" && to !== "" ? { kind, to } : undefined,
    };
  }

  /** True when Redis answered a PING within timeoutMs; false when down, slow or refusing us (a wrong password). */
  async ping(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.redis.ping().then((reply) => reply === "PONG"), late]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A node came back: it may be lent again. */
  async releaseLend(node: string): Promise<void> {
    await this.redis.del(this.lendKey(node));
  }
}
