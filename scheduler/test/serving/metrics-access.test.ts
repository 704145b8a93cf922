import { describe, expect, it } from "vitest";
import { parseAccessReview, parseTokenReview } from "../../src/serving/access-reviews.js";
import {
  type AccessReviewAnswer,
  type AccessReviewer,
  bearerToken,
  MetricsAccessCheck,
  type TokenReviewAnswer,
  type UserInfo,
} from "../../src/serving/metrics-access.js";

const user = (username: string, groups: string[] = ["system:authenticated"]): UserInfo => ({
  username,
  uid: `uid-${username}`,
  groups,
  extra: {},
});

/** Answers as the API server would, from tables; counts the reviews asked. */
class StubReviewer implements AccessReviewer {
  tokenReviews = 0;
  accessReviews: { user: UserInfo; path: string; verb: string }[] = [];
  tokens = new Map<string, TokenReviewAnswer>();
  access = new Map<string, AccessReviewAnswer>();

  async reviewToken(token: string): Promise<TokenReviewAnswer> {
    this.tokenReviews++;
    return this.tokens.get(token) ?? { kind: "unauthenticated", reason: "invalid bearer token" };
  }

  async reviewAccess(u: UserInfo, attrs: { path: string; verb: string }): Promise<AccessReviewAnswer> {
    this.accessReviews.push({ user: u, ...attrs });
    return this.access.get(u.username) ?? { kind: "denied", reason: "" };
  }
}

function setup() {
  const reviewer = new StubReviewer();
  reviewer.tokens.set("prometheus-token", { kind: "authenticated", user: user("prometheus") });
  reviewer.tokens.set("tenant-token", { kind: "authenticated", user: user("tenant") });
  reviewer.access.set("prometheus", { kind: "allowed" });
  let now = 1_000_000;
  const check = new MetricsAccessCheck(reviewer, { cacheTtlMs: 10_000, now: () => now });
  return { reviewer, check, advance: (ms: number) => (now += ms) };
}

describe("who may read /metrics", () => {
  it("answers 401 without a bearer token, and asks the API server nothing", async () => {
    const { reviewer, check } = setup();
    for (const header of [undefined, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "prometheus-token"])
      expect((await check.check(header)).status, String(header)).toBe(401);
    expect(reviewer.tokenReviews).toBe(0);
  });

  it("answers 401 to a token the TokenReview does not authenticate", async () => {
    const { check } = setup();
    expect(await check.check("Bearer made-up")).toEqual({
      status: 401,
      reason: "invalid bearer token",
      failed: false,
    });
  });

  it("answers 403 to a user the SubjectAccessReview does not allow to get the nonResourceURL /metrics", async () => {
    const { reviewer, check } = setup();
    expect(await check.check("Bearer tenant-token")).toMatchObject({ status: 403, user: "tenant" });
    expect(reviewer.accessReviews).toEqual([{ user: user("tenant"), path: "/metrics", verb: "get" }]);
  });

  it("answers 200 to a user allowed, the scheme read case-insensitively", async () => {
    const { reviewer, check } = setup();
    expect(await check.check("Bearer prometheus-token")).toEqual({ status: 200, user: "prometheus" });
    expect(await check.check("bearer prometheus-token")).toEqual({ status: 200, user: "prometheus" });
    expect(reviewer.accessReviews[0]).toEqual({ user: user("prometheus"), path: "/metrics", verb: "get" });
  });

  it("reuses answers, allowed and denied, for the cache TTL, then asks again", async () => {
    const { reviewer, check, advance } = setup();
    for (let i = 0; i < 5; i++) {
      await check.check("Bearer prometheus-token");
      await check.check("Bearer tenant-token");
      await check.check("Bearer made-up");
      advance(1_000);
    }
    expect(reviewer.tokenReviews).toBe(3);
    expect(reviewer.accessReviews).toHaveLength(2);
    // Rights taken away show within the TTL.
    reviewer.access.set("prometheus", { kind: "denied", reason: "" });
    advance(5_001);
    expect((await check.check("Bearer prometheus-token")).status).toBe(403);
    expect(reviewer.tokenReviews).toBe(4);
    expect(reviewer.accessReviews).toHaveLength(3);
  });

  it("never caches a failed review: 401 (TokenReview) or 500 (SubjectAccessReview) until the API server answers", async () => {
    const { reviewer, check } = setup();
    reviewer.tokens.set("prometheus-token", { kind: "failed", reason: "TokenReview: HTTP 403" });
    expect(await check.check("Bearer prometheus-token")).toEqual({
      status: 401,
      reason: "TokenReview: HTTP 403",
      failed: true,
    });
    reviewer.tokens.set("prometheus-token", { kind: "authenticated", user: user("prometheus") });
    reviewer.access.set("prometheus", { kind: "failed", reason: "SubjectAccessReview: timed out" });
    expect(await check.check("Bearer prometheus-token")).toEqual({
      status: 500,
      reason: "SubjectAccessReview: timed out",
    });
    reviewer.access.set("prometheus", { kind: "allowed" });
    expect((await check.check("Bearer prometheus-token")).status).toBe(200);
    expect(reviewer.tokenReviews).toBe(2);
    expect(reviewer.accessReviews).toHaveLength(2);
  });

  it("sends one review for concurrent requests with one token", async () => {
    const { reviewer, check } = setup();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => check.check("Bearer prometheus-token")),
    );
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(reviewer.tokenReviews).toBe(1);
    expect(reviewer.accessReviews).toHaveLength(1);
  });

  it("keeps at most cacheSize answers", async () => {
    const reviewer = new StubReviewer();
    const check = new MetricsAccessCheck(reviewer, { cacheSize: 2 });
    for (const token of ["a", "b", "c", "a"]) await check.check(`Bearer ${token}`);
    expect(reviewer.tokenReviews).toBe(4);
  });

  it("reads the bearer token as the apiserver does", () => {
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("  BEARER abc ")).toBe("abc");
    expect(bearerToken("Bearer  abc")).toBeUndefined();
    expect(bearerToken("Token abc")).toBeUndefined();
  });
});

describe("review answers parsed at the edge", () => {
  it("reads a TokenReview's user, or why there is none", () => {
    expect(
      parseTokenReview({
        status: {
          authenticated: true,
          user: {
            username: "system:serviceaccount:monitoring:prometheus",
            uid: "u1",
            groups: ["system:serviceaccounts"],
            extra: { "authentication.kubernetes.io/pod-name": ["prometheus-0"] },
          },
        },
      }),
    ).toEqual({
      kind: "authenticated",
      user: {
        username: "system:serviceaccount:monitoring:prometheus",
        uid: "u1",
        groups: ["system:serviceaccounts"],
        extra: { "authentication.kubernetes.io/pod-name": ["prometheus-0"] },
      },
    });
    expect(parseTokenReview({ status: { authenticated: false, error: "token expired" } })).toEqual({
      kind: "unauthenticated",
      reason: "token expired",
    });
    expect(parseTokenReview({ status: {} })).toEqual({
      kind: "unauthenticated",
      reason: "invalid bearer token",
    });
    for (const bad of [undefined, "x", { spec: {} }, { status: { authenticated: true, user: {} } }])
      expect(parseTokenReview(bad).kind, JSON.stringify(bad)).toBe("failed");
    expect(
      parseTokenReview({ status: { authenticated: true, user: { username: "a", groups: "g" } } }).kind,
    ).toBe("failed");
  });

  it("reads a SubjectAccessReview: allowed, denied, or not evaluated", () => {
    expect(parseAccessReview({ status: { allowed: true } })).toEqual({ kind: "allowed" });
    expect(parseAccessReview({ status: { allowed: false } })).toEqual({ kind: "denied", reason: "" });
    expect(parseAccessReview({ status: { allowed: false, denied: true, reason: "no" } })).toEqual({
      kind: "denied",
      reason: "no",
    });
    expect(parseAccessReview({ status: { allowed: false, evaluationError: "webhook down" } })).toEqual({
      kind: "failed",
      reason: "SubjectAccessReview: webhook down",
    });
    expect(parseAccessReview({ status: {} }).kind).toBe("failed");
    expect(parseAccessReview(null).kind).toBe("failed");
  });
});
