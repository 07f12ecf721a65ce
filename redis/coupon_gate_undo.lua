-- redis/coupon_gate_undo.lua: undoes an admission of the coupon gate after
-- the database did not issue the coupon (src/coupon_gate.c, docs/coupons.md,
-- "compensation").
--
-- KEYS[1]  {coupon:ID}:users     set of the users admitted
-- KEYS[2]  {coupon:ID}:requests  admissions counted against the total
-- KEYS[3]  {coupon:ID}:run       run_id of the server the gate was built on
-- ARGV[1]  the user's id
-- ARGV[2]  how: 'refused' (remove the user, give the count back),
--          'keep_user' (the user holds a coupon: give the count back only),
--          'sold_out' (remove the user; the counter to the total),
--          'sold_out_keep_user' (the counter to the total; the user holds
--          a coupon, a twin request's, and stays)
-- ARGV[3]  the policy's total_quantity
-- ARGV[4]  this server's run_id
--
-- Returns 1 when undone, 0 when there was nothing to undo: a gate that is
-- cold or was rebuilt since (another run), or a 'refused' user who is not
-- in the set (undone already).
--
--   redis-cli --eval redis/coupon_gate_undo.lua \
--       '{coupon:7}:users' '{coupon:7}:requests' '{coupon:7}:run' , 42 refused 100 RUNID
--
-- Only a warm gate of the same run is touched: DECR on a missing key would
-- create it and make a flushed gate look built.
local n = redis.call('GET', KEYS[2])
if not n or redis.call('GET', KEYS[3]) ~= ARGV[4] then
  return 0
end
if ARGV[2] == 'sold_out' or ARGV[2] == 'sold_out_keep_user' then
  if ARGV[2] == 'sold_out' then
    redis.call('SREM', KEYS[1], ARGV[1])
  end
  if tonumber(n) < tonumber(ARGV[3]) then
    redis.call('SET', KEYS[2], ARGV[3])
  end
  return 1
end
if ARGV[2] == 'refused' and
   redis.call('SREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
if tonumber(n) > 0 then
  redis.call('DECR', KEYS[2])
end
return 1
