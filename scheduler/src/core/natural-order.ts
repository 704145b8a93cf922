/**
 * Names in natural order, numbers compared as numbers: member-2 before member-10,
 * sharded-scheduler-2 before sharded-scheduler-10. Which members of a group are kept longest, which
 * member a group's Events regard, and how shards are listed all follow it.
 */
export function naturalOrder(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}
