-- redis/coupon_gate_lower.lua: lowers the coupon gate's admission counter
-- to what the database has issued, when the gate says sold out and the
-- database, asked twice a second apart, has issued fewer: an admission
-- whose undo was lost (src/coupon_issue.c, docs/coupons.md).
--
-- KEYS[1]  {coupon:ID}:requests  admissions counted against the total
-- KEYS[2]  {coupon:ID}:run       run_id of the server the gate was built on
-- ARGV[1]  issued: what the database has issued
-- ARGV[2]  the policy's total_quantity
-- ARGV[3]  this server's run_id
--
-- Returns 1 when lowered, 0 when the gate is cold, of another run, or no
-- longer at the total (it changed meanwhile).
--
--   redis-cli --eval redis/coupon_gate_lower.lua \
--       '{coupon:7}:requests' '{coupon:7}:run' , 97 100 RUNID
local n = redis.call('GET', KEYS[1])
if not n or redis.call('GET', KEYS[2]) ~= ARGV[3] or
   tonumber(n) < tonumber(ARGV[2]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
