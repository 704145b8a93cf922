/**
 * Who may read /metrics, decided as kube-scheduler's and kube-controller-manager's secure serving
 * decide it (k8s.io/apiserver delegated authentication and authorization, as kube-rbac-proxy):
 *   1. the request's `Authorization: Bearer <token>` goes to the API server in a TokenReview;
 *      no token, or one the API server does not know → 401;
 *   2. the user it names must be allowed `get` on the non-resource URL /metrics, asked in a
 *      SubjectAccessReview (RBAC: a ClusterRole rule `nonResourceURLs: ["/metrics"]`) → else 403;
 *   3. a review that failed (API server unreachable, our ServiceAccount may not create reviews)
 *      answers 401 for the token and 500 for the access, as the apiserver's filters do.
 * Answers are cached 10 s (the apiserver's delegated defaults), allowed and denied alike, keyed
 * by a hash of the token and by the whole user; failures are not cached. Concurrent requests
 * with the same token or user share one review, so a scrape storm costs one review per key.
 */
import { createHash } from "node:crypto";

export interface UserInfo {
  username: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
}

export type TokenReviewAnswer =
  | { kind: "authenticated"; user: UserInfo }
  | { kind: "unauthenticated"; reason: string }
  | { kind: "failed"; reason: string };

export type AccessReviewAnswer =
  | { kind: "allowed" }
  | { kind: "denied"; reason: string }
  | { kind: "failed"; reason: string };

/** The two reviews, as the API server answers them (access-reviews.ts); never throws. */
export interface AccessReviewer {
  reviewToken(token: string): Promise<TokenReviewAnswer>;
  reviewAccess(user: UserInfo, nonResource: { path: string; verb: string }): Promise<AccessReviewAnswer>;
}

export type MetricsAccess =
  | { status: 200; user: string }
  /** failed: the TokenReview itself failed (worth a warning), not the token. */
  | { status: 401; reason: string; failed: boolean }
  | { status: 403; user: string; reason: string }
  | { status: 500; reason: string };

export interface MetricsAccessOptions {
  /** How long an answer is reused (default 10 s). */
  cacheTtlMs?: number;
  /** Answers kept at most per cache; the oldest goes first (default 1024). */
  cacheSize?: number;
  now?: () => number;
}

export const metricsPath = "/metrics";

export class MetricsAccessCheck {
  private readonly tokens: AnswerCache<TokenReviewAnswer>;
  private readonly access: AnswerCache<AccessReviewAnswer>;

  constructor(
    private readonly reviewer: AccessReviewer,
    options: MetricsAccessOptions = {},
  ) {
    const ttl = options.cacheTtlMs ?? 10_000;
    const size = options.cacheSize ?? 1024;
    const now = options.now ?? Date.now;
    this.tokens = new AnswerCache(ttl, size, now);
    this.access = new AnswerCache(ttl, size, now);
  }

  /** The answer to a GET /metrics carrying this Authorization header (undefined: none). */
  async check(authorization: string | undefined): Promise<MetricsAccess> {
    const token = bearerToken(authorization);
    if (token === undefined) return { status: 401, reason: "no bearer token", failed: false };
    const tokenKey = createHash("sha256").update(token).digest("hex");
    const identity = await this.tokens.get(tokenKey, () => this.reviewer.reviewToken(token));
    if (identity.kind !== "authenticated")
      return { status: 401, reason: identity.reason, failed: identity.kind === "failed" };
    const user = identity.user;
    const answer = await this.access.get(userKey(user), () =>
      this.reviewer.reviewAccess(user, { path: metricsPath, verb: "get" }),
    );
    if (answer.kind === "allowed") return { status: 200, user: user.username };
    if (answer.kind === "denied")
      return {
        status: 403,
        user: user.username,
        reason: `user "${user.username}" cannot get path "${metricsPath}"${answer.reason ? `: ${answer.reason}` : ""}`,
      };
    return { status: 500, reason: answer.reason };
  }
}

/** The token of `Authorization: Bearer <token>` (scheme case-insensitive), as the apiserver reads it. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const parts = (authorization ?? "").trim().split(" ");
  if (parts.length < 2 || parts[0]?.toLowerCase() !== "bearer") return undefined;
  return parts[1] || undefined;
}

const userKey = (user: UserInfo) =>
  JSON.stringify([
    user.username,
    user.uid,
    [...user.groups].sort(),
    Object.entries(user.extra).sort(([a], [b]) => (a < b ? -1 : 1)),
  ]);

/** Answers by key for ttl ms, failures never; one review in flight per key. */
class AnswerCache<T extends { kind: string }> {
  private readonly answers = new Map<string, { answer: T; expiresAt: number }>();
  private readonly inFlight = new Map<string, Promise<T>>();

  constructor(
    private readonly ttlMs: number,
    private readonly size: number,
    private readonly now: () => number,
  ) {}

  async get(key: string, review: () => Promise<T>): Promise<T> {
    const cached = this.answers.get(key);
    if (cached && cached.expiresAt > this.now()) return cached.answer;
    this.answers.delete(key);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const started = review()
      .finally(() => this.inFlight.delete(key))
      .then((answer) => {
        if (answer.kind !== "failed") this.remember(key, answer);
        return answer;
      });
    this.inFlight.set(key, started);
    return started;
  }

  private remember(key: string, answer: T): void {
    while (this.answers.size >= this.size) {
      const oldest = this.answers.keys().next().value;
      if (oldest === undefined) break;
      this.answers.delete(oldest);
    }
    this.answers.set(key, { answer, expiresAt: this.now() + this.ttlMs });
  }
}
