-- redis/coupon_gate_admit.lua: the coupon gate's admission (src/coupon_gate.c,
-- docs/coupons.md): dedupe by user, then count against the policy's total,
-- in one atomic step, so that two workers admitting the last coupon's worth
-- of users at once cannot both see the counter one short of the total.
--
-- KEYS[1]  {coupon:ID}:users     set of the users admitted
-- KEYS[2]  {coupon:ID}:requests  admissions counted against the total
-- KEYS[3]  {coupon:ID}:run       run_id of the server the gate was built on
-- ARGV[1]  the user's id
-- ARGV[2]  the policy's total_quantity
-- ARGV[3]  this server's run_id (INFO server)
--
-- Returns 'cold' (not built on this server: rebuild it first), 'already'
-- (the user was admitted before), 'sold_out' (the counter reached the
-- total) or 'pass' (counted, and the user added to the set).
--
--   redis-cli --eval redis/coupon_gate_admit.lua \
--       '{coupon:7}:users' '{coupon:7}:requests' '{coupon:7}:run' , 42 100 RUNID
--
-- The cold check comes first: a set or counter from another run of the
-- server (an older snapshot) must not turn anyone away.
local n = redis.call('GET', KEYS[2])
if not n or redis.call('GET', KEYS[3]) ~= ARGV[3] then
  return 'cold'
end
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  return 'already'
end
if tonumber(n) >= tonumber(ARGV[2]) then
  return 'sold_out'
end
redis.call('INCR', KEYS[2])
redis.call('SADD', KEYS[1], ARGV[1])
return 'pass'
