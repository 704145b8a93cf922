/**
 * The parts of `hashring` 3.2 (CommonJS, untyped) that the shard ring uses.
 * `get()` is left out on purpose: its LRU cache is a plain object, so a key such as
 * "constructor" (a valid node name) reads Object.prototype and leaks answers across rings.
 */
declare module "hashring" {
  /** Per-member settings; `vnodes` gives the member exactly that many virtual nodes (4 points each). */
  interface HashRingMember {
    vnodes?: number;
    weight?: number;
  }

  /** A hash algorithm name for node:crypto, or a hasher returning the digest as bytes or a latin1 string. */
  type HashRingHasher = string | ((key: string) => string | Buffer);

  class HashRing {
    constructor(members: Readonly<Record<string, HashRingMember>>, algorithm?: HashRingHasher);
    /** Up to `size` distinct members clockwise from the key's point; [] on an empty ring. Uncached. */
    range(key: string, size?: number, unique?: boolean): string[];
  }

  export = HashRing;
}
