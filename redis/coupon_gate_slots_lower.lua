-- redis/coupon_gate_slots_lower.lua: the slots gate's repair of a lost
-- undo, as coupon_gate_lower.lua does for the counter: refills an empty
-- list with what the database has not issued.
--
-- KEYS[1]  {coupon:ID}:slots      one entry per coupon not yet issued
-- KEYS[2]  {coupon:ID}:slots_run  run_id of the server the list was built on
-- ARGV[1]  issued: what the database has issued
-- ARGV[2]  the policy's total_quantity
-- ARGV[3]  batch: the most entries pushed here
-- ARGV[4]  this server's run_id
--
-- Pushes at most batch entries, atomically with the check that the list is
-- empty; the caller (src/coupon_gate.c) pushes the rest in batches, as a
-- rebuild fills the list, holding the gate's lock: one call pushing up to
-- 10,000,000 entries would block Redis for seconds.
--
-- Returns 1 when refilled (the first batch), 0 when the list is cold, of
-- another run, or not empty (it changed meanwhile).
--
--   redis-cli --eval redis/coupon_gate_slots_lower.lua \
--       '{coupon:7}:slots' '{coupon:7}:slots_run' , 97 100 1000 RUNID
if redis.call('GET', KEYS[2]) ~= ARGV[4] or
   redis.call('LLEN', KEYS[1]) > 0 then
  return 0
end
local n = math.min(tonumber(ARGV[2]) - tonumber(ARGV[1]), tonumber(ARGV[3]))
for i = 1, n do
  redis.call('RPUSH', KEYS[1], '1')
end
return 1
