-- redis/coupon_gate_slots_undo.lua: undoes an admission of the slots gate
-- (coupon_gate = slots), as coupon_gate_undo.lua does for the counter: an
-- entry goes back on the list, or, for 'sold_out', the list is emptied.
--
-- KEYS[1]  {coupon:ID}:users      set of the users admitted
-- KEYS[2]  {coupon:ID}:slots      one entry per coupon not yet issued
-- KEYS[3]  {coupon:ID}:slots_run  run_id of the server the list was built on
-- ARGV[1]  the user's id
-- ARGV[2]  how: 'refused', 'keep_user', 'sold_out' or 'sold_out_keep_user'
--          (coupon_gate_undo.lua)
-- ARGV[3]  the policy's total_quantity (unused)
-- ARGV[4]  this server's run_id
--
-- Returns 1 when undone, 0 when there was nothing to undo.
--
--   redis-cli --eval redis/coupon_gate_slots_undo.lua \
--       '{coupon:7}:users' '{coupon:7}:slots' '{coupon:7}:slots_run' , 42 refused 100 RUNID
if redis.call('GET', KEYS[3]) ~= ARGV[4] then
  return 0
end
if ARGV[2] == 'sold_out' or ARGV[2] == 'sold_out_keep_user' then
  if ARGV[2] == 'sold_out' then
    redis.call('SREM', KEYS[1], ARGV[1])
  end
  redis.call('DEL', KEYS[2])
  return 1
end
if ARGV[2] == 'refused' and
   redis.call('SREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('RPUSH', KEYS[2], '1')
return 1
