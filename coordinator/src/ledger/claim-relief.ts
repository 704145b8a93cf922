/**
 * The ledger's one Lua script: claims the next relief (handoff or lend) of a pod group,
 * atomically. Redis runs it whole, so two coordinators can never both claim a relief.
 *
 * KEYS[1]      the group's ledger record (hash: attempts, at, kind, to, from)
 * KEYS[2..n]   for a lend: one key per node lent (refused if any is lent already)
 * ARGV         now, cooldownMs, maxAttempts, ttlMs, kind, to, from,
 *              knownAttempts, knownAt (from the pods' Relief conditions: the ledger rebuilt), groupId,
 *              maxCooldownMs
 * Returns {claimed (0|1), outcome, attempts, kind, to}.
 * Up to maxAttempts reliefs come a cooldown apart; past that each wait doubles, up to
 * maxCooldownMs ('exhausted' while it lasts), so a group is never given up while it waits.
 */
export const claimReliefScript = `
local now = tonumber(ARGV[1])
local cooldown = tonumber(ARGV[2])
local maxAttempts = tonumber(ARGV[3])
local attempts = math.max(tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0'), tonumber(ARGV[8]))
local at = math.max(tonumber(redis.call('HGET', KEYS[1], 'at') or '0'), tonumber(ARGV[9]))
if at > 0 and now < at + cooldown then
  return {0, 'cooldown', attempts, redis.call('HGET', KEYS[1], 'kind') or '', redis.call('HGET', KEYS[1], 'to') or ''}
end
if attempts >= maxAttempts then
  local wait = math.min(cooldown * 2 ^ (attempts - maxAttempts + 1), math.max(cooldown, tonumber(ARGV[11])))
  if now < at + wait then
    return {0, 'exhausted', attempts, '', ''}
  end
end
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return {0, 'node-taken', attempts, '', ''}
  end
end
attempts = attempts + 1
redis.call('HSET', KEYS[1], 'attempts', attempts, 'at', now, 'kind', ARGV[5], 'to', ARGV[6], 'from', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[10], 'PX', ARGV[4])
end
return {1, 'claimed', attempts, ARGV[5], ARGV[6]}
`;
