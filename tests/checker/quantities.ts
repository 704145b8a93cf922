/**
 * The checker's own arithmetic of Kubernetes resources: quantities as numbers, and what a pod
 * holds on its node. Nothing here comes from the scheduler.
 */
import type * as k8s from "@kubernetes/client-node";

/** Resource name → amount in base units (cores, bytes, pods, devices). */
export type Amounts = Map<string, number>;

const scale: Record<string, number> = {
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Parses a resource quantity ("250m", "2", "8Gi", "1e3") to a number of base units. */
export function quantity(text: string): number {
  const match = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$/.exec(text.trim());
  if (!match) throw new Error(`not a quantity: ${text}`);
  return Number(match[1]) * (match[2] ? (scale[match[2]] as number) : 1);
}

export function addAmounts(into: Amounts, list: Record<string, string> | undefined): void {
  for (const [name, value] of Object.entries(list ?? {}))
    into.set(name, (into.get(name) ?? 0) + quantity(value));
}

/** What a pod holds on its node: max(sum of containers, each init container) + overhead, and 1 pod. */
export function podRequests(pod: k8s.V1Pod): Amounts {
  const total: Amounts = new Map();
  for (const container of pod.spec?.containers ?? []) addAmounts(total, container.resources?.requests);
  for (const init of pod.spec?.initContainers ?? []) {
    const one: Amounts = new Map();
    addAmounts(one, init.resources?.requests);
    for (const [name, value] of one) total.set(name, Math.max(total.get(name) ?? 0, value));
  }
  addAmounts(total, pod.spec?.overhead as Record<string, string> | undefined);
  total.set("pods", 1);
  return total;
}

/** A thousandth of a unit absorbs floating-point sums of milli-quantities. */
export const tolerance = 1e-3;
