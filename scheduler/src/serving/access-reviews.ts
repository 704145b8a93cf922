/**
 * TokenReviews and SubjectAccessReviews (authentication.k8s.io/v1, authorization.k8s.io/v1) for
 * metrics-access.ts. Answers are parsed at the edge into outcome values, never thrown:
 * a review the API server refused (our ServiceAccount may not create it) or could not make is
 * "failed", with the reason to log.
 */

import type { KubeClient } from "../kube/kube-client.js";
import type { AccessReviewAnswer, AccessReviewer, TokenReviewAnswer, UserInfo } from "./metrics-access.js";

export class KubeAccessReviewer implements AccessReviewer {
  constructor(private readonly client: KubeClient) {}

  async reviewToken(token: string): Promise<TokenReviewAnswer> {
    const body = { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } };
    try {
      const res = await this.client.call("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body);
      if (res.status !== 201 && res.status !== 200)
        return { kind: "failed", reason: `TokenReview: ${describeError(res.status, res.body)}` };
      return parseTokenReview(res.body);
    } catch (error) {
      return { kind: "failed", reason: `TokenReview: ${String(error)}` };
    }
  }

  async reviewAccess(
    user: UserInfo,
    nonResource: { path: string; verb: string },
  ): Promise<AccessReviewAnswer> {
    const body = {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: {
        user: user.username,
        uid: user.uid,
        groups: user.groups,
        extra: user.extra,
        nonResourceAttributes: nonResource,
      },
    };
    try {
      const res = await this.client.call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body);
      if (res.status !== 201 && res.status !== 200)
        return { kind: "failed", reason: `SubjectAccessReview: ${describeError(res.status, res.body)}` };
      return parseAccessReview(res.body);
    } catch (error) {
      return { kind: "failed", reason: `SubjectAccessReview: ${String(error)}` };
    }
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const isStringList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === "string");

function describeError(status: number, body: unknown): string {
  const message = isRecord(body) && typeof body.message === "string" ? body.message : "";
  return `HTTP ${status}${message ? `: ${message}` : ""}`;
}

/** A TokenReview's status: who the token is, or why it is no one. */
export function parseTokenReview(body: unknown): TokenReviewAnswer {
  const status = isRecord(body) ? body.status : undefined;
  if (!isRecord(status)) return { kind: "failed", reason: "TokenReview: an answer without status" };
  const error = typeof status.error === "string" ? status.error : "";
  if (status.authenticated !== true)
    return { kind: "unauthenticated", reason: error || "invalid bearer token" };
  const user = status.user;
  if (!isRecord(user) || typeof user.username !== "string" || user.username === "")
    return { kind: "failed", reason: "TokenReview: authenticated, but no username" };
  if (user.groups !== undefined && !isStringList(user.groups))
    return { kind: "failed", reason: "TokenReview: groups are not a list of strings" };
  const extra: Record<string, string[]> = Object.create(null);
  if (user.extra !== undefined) {
    if (!isRecord(user.extra)) return { kind: "failed", reason: "TokenReview: extra is not a map" };
    for (const [key, values] of Object.entries(user.extra)) {
      if (!isStringList(values)) return { kind: "failed", reason: `TokenReview: extra ${key} is not a list` };
      extra[key] = values;
    }
  }
  return {
    kind: "authenticated",
    user: {
      username: user.username,
      uid: typeof user.uid === "string" ? user.uid : "",
      groups: user.groups ?? [],
      extra,
    },
  };
}

/** A SubjectAccessReview's status: allowed, denied (with RBAC's reason), or not evaluated. */
export function parseAccessReview(body: unknown): AccessReviewAnswer {
  const status = isRecord(body) ? body.status : undefined;
  if (!isRecord(status) || typeof status.allowed !== "boolean")
    return { kind: "failed", reason: "SubjectAccessReview: an answer without status.allowed" };
  if (status.allowed) return { kind: "allowed" };
  const reason = typeof status.reason === "string" ? status.reason : "";
  const evaluationError = typeof status.evaluationError === "string" ? status.evaluationError : "";
  // Not allowed and nothing said no, because an authorizer could not answer: not a denial.
  if (evaluationError && status.denied !== true && !reason)
    return { kind: "failed", reason: `SubjectAccessReview: ${evaluationError}` };
  return { kind: "denied", reason };
}
