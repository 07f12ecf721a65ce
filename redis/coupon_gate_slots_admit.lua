-- redis/coupon_gate_slots_admit.lua: the admission of the slots gate
-- (coupon_gate = slots, src/coupon_gate.c, docs/coupons.md): instead of a
-- counter, a list holds one entry per coupon not yet issued, and an
-- admission pops one.  It exists to be measured against the counter: the
-- same answers, memory that grows with total_quantity.
--
-- KEYS[1]  {coupon:ID}:users      set of the users admitted
-- KEYS[2]  {coupon:ID}:slots      one entry per coupon not yet issued
-- KEYS[3]  {coupon:ID}:slots_run  run_id of the server the list was built on
-- ARGV[1]  the user's id
-- ARGV[2]  the policy's total_quantity (unused: the same ARGV as the
--          counter's script)
-- ARGV[3]  this server's run_id
--
-- Returns 'cold', 'already', 'sold_out' or 'pass', as
-- coupon_gate_admit.lua does.
--
--   redis-cli --eval redis/coupon_gate_slots_admit.lua \
--       '{coupon:7}:users' '{coupon:7}:slots' '{coupon:7}:slots_run' , 42 100 RUNID
--
-- An empty list does not exist in Redis, so ":slots_run" alone says built.
if redis.call('GET', KEYS[3]) ~= ARGV[3] then
  return 'cold'
end
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  return 'already'
end
if not redis.call('LPOP', KEYS[2]) then
  return 'sold_out'
end
redis.call('SADD', KEYS[1], ARGV[1])
return 'pass'
