/**
 * How the gangs scenario cuts its pods into gangs: gang g has min + (g mod (max − min + 1))
 * members (sizes cycle min…max, scheduler_perf's GangScheduling shape), the last gang the pods
 * left over. With min = max every gang has that size. Deterministic, so every system of a run
 * gets the same gangs.
 */

/** Pods per gang: a fixed size (min = max) or a range whose sizes cycle. */
export interface GangSizes {
  min: number;
  max: number;
}

export interface GangLayout {
  /** The gang pod i belongs to. */
  gangOf(pod: number): number;
  /** Members of gang g. */
  membersOf(gang: number): number;
  gangs: number;
}

export function gangLayout(pods: number, sizes: GangSizes): GangLayout {
  const gangOfPod = new Int32Array(pods);
  const members: number[] = [];
  const span = sizes.max - sizes.min + 1;
  for (let pod = 0; pod < pods; ) {
    const gang = members.length;
    const size = Math.min(sizes.min + (gang % span), pods - pod);
    members.push(size);
    gangOfPod.fill(gang, pod, pod + size);
    pod += size;
  }
  return {
    gangOf: (pod) => gangOfPod[pod] as number,
    membersOf: (gang) => members[gang] as number,
    gangs: members.length,
  };
}

/** Parses --gang-size: "G" (every gang G pods) or "A-B" (sizes A…B cycling); undefined when invalid. */
export function parseGangSizes(text: string): GangSizes | undefined {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!match) return undefined;
  const min = Number(match[1]);
  const max = Number(match[2] ?? match[1]);
  return min >= 1 && max >= min ? { min, max } : undefined;
}

/** "8" or "3-8", as --gang-size takes it. */
export const formatGangSizes = (sizes: GangSizes) =>
  sizes.min === sizes.max ? String(sizes.min) : `${sizes.min}-${sizes.max}`;
