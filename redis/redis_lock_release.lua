-- redis/redis_lock_release.lua: releases a Redis lock only if the caller
-- still owns it (src/redis_lock.c): a lock that expired and was taken by
-- another is left to its new owner.
--
-- KEYS[1]  the lock's key
-- ARGV[1]  the owner's token, the value SET ... NX PX stored
--
-- Returns 1 when released, 0 when the lock was not (or no longer) ours.
--
--   redis-cli --eval redis/redis_lock_release.lua '{stock:5}:lock' , TOKEN
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
