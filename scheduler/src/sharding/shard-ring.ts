/**
 * Which shard owns a node or a pod group: a consistent-hash ring (ketama, md5) over the live
 * shard identities (StatefulSet pod names). Node names and group hash keys share one ring; a
 * gang is hashed as one unit by its GroupKey.hashKey. Pure: the same members give the same
 * owner for every key in every process, and a member joining or leaving moves only the keys
 * it takes or gives up.
 */
import { createHash, hash } from "node:crypto";
import HashRing from "hashring";
import { isShardIdentity } from "../contracts/leases.js";

/**
 * Virtual nodes per member, 4 ring points each. With 1000, each member's arc of the ring is
 * within ±3.5 % of the mean (measured for sharded-scheduler-0…7); the rest of a member's
 * deviation on a set of keys is sampling noise (σ ≈ 4 % for 5000 keys over 8 members).
 * Set per member rather than through hashring's `vnode count`, which floors
 * share × count × members in floating point: with 1000 it gives 999 at 9, 18, 19, … members,
 * so a join would also move keys between members that stayed.
 */
export const vnodesPerMember = 1000;

/** Part of the version: a change of hashing or vnodes changes owners, so it must change it too. */
const ringScheme = `ketama-md5/vnodes=${vnodesPerMember}`;

/** hashring's default md5 as a latin1 ("binary") string: the same bytes and owners, about 2× faster. */
const md5Binary = (key: string): string => hash("md5", key, "binary");

/**
 * Owners remembered per ring, at most this many keys (then forgotten all at once): a shard asks
 * the owner of every pod group and node again and again (each cycle, each metrics scrape), and a
 * ring never changes once built.
 */
const rememberedOwners = 200_000;

export class ShardRing {
  /** Distinct members in code-unit order. */
  readonly members: readonly string[];
  /** Digest of the ring scheme and the sorted members: equal rings have equal versions. */
  readonly version: string;
  readonly #ring: HashRing;
  readonly #owners = new Map<string, string | undefined>();

  constructor(members: Iterable<string>) {
    const sorted = [...new Set(members)].sort();
    // Callers pass identities checked where they were read: hashring keeps members as keys of
    // a plain object, where "__proto__" would get no points.
    for (const member of sorted)
      if (!isShardIdentity(member)) throw new TypeError(`invalid shard identity ${JSON.stringify(member)}`);
    this.members = Object.freeze(sorted);
    this.version = createHash("sha256")
      .update(JSON.stringify([ringScheme, ...sorted]))
      .digest("hex")
      .slice(0, 16);
    // Building from the sorted list makes ties between equal 32-bit points (likely among
    // thousands of points) resolve the same way in every process.
    this.#ring = new HashRing(
      Object.fromEntries(sorted.map((member) => [member, { vnodes: vnodesPerMember }])),
      md5Binary,
    );
  }

  /** The member owning a node name or group hash key; undefined when the ring has no members. */
  ownerOf(key: string): string | undefined {
    if (this.#owners.has(key)) return this.#owners.get(key);
    const owner = this.#ring.range(key, 1)[0];
    if (this.#owners.size >= rememberedOwners) this.#owners.clear();
    this.#owners.set(key, owner);
    return owner;
  }
}

/**
 * A node's owner under a ring object: the member it is lent to, else the member whose domains
 * list it (`listed`: domainNodeOwners of the ring's domains), else the ring's owner.
 */
export function nodeOwnerOf(
  ring: ShardRing,
  lends: Readonly<Record<string, string>>,
  nodeName: string,
  listed?: ReadonlyMap<string, string>,
): string | undefined {
  const lent = Object.hasOwn(lends, nodeName) ? lends[nodeName] : undefined;
  if (lent !== undefined && ring.members.includes(lent)) return lent;
  const domainOwner = listed?.get(nodeName);
  if (domainOwner !== undefined && ring.members.includes(domainOwner)) return domainOwner;
  return ring.ownerOf(nodeName);
}
