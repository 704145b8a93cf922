/**
 * What a failed client-node call says, for code that runs outside vitest too (the chaos and
 * bench CLIs): kube.ts, which reads vitest's injected kubeconfig, re-exports it for tests.
 */

/** The HTTP status of a failed client-node call. */
export function statusOf(error: unknown): number | undefined {
  return (error as { code?: number }).code;
}
