-- sql/queries/coupon_issue.sql: the statements of the coupon issue path:
-- the worker's copy of a policy's limits (src/coupon_limits.c), the
-- strategies of the final defense and the gate's rebuild
-- (src/coupon_issue.c), and the queue's batch (src/coupon_queue.c).  docs/coupons.md explains each strategy; the JSON
-- shapes are fragments of sql/queries/coupon.sql.

-- name: coupon_limits
-- What the gate needs of policy $1, and the database's clock to judge the
-- window by, all as milliseconds since the epoch.
SELECT total_quantity, (extract(epoch FROM starts_at) * 1000)::bigint,
       (extract(epoch FROM ends_at) * 1000)::bigint,
       (extract(epoch FROM now()) * 1000)::bigint
  FROM coupon_policies WHERE id = $1::bigint;

-- fragment: coupon_state
-- What decides an issue of policy $1 to user $2: total, issued, open now?,
-- valid_days, does the user hold one?, shards.  The EXISTS sees the
-- statement's snapshot, not a coupon committed while this waited for a
-- lock; the insert's unique index catches that one.
SELECT p.total_quantity, {{policy_issued}},
       now() >= p.starts_at AND now() < p.ends_at, p.valid_days,
       EXISTS (SELECT 1 FROM user_coupons u WHERE u.policy_id = p.id
               AND u.user_id = $2::bigint), p.shards
  FROM coupon_policies p WHERE p.id = $1::bigint

-- name: coupon_lock
-- The policy locked, and what decides the issue: the textbook pessimistic
-- transaction's first step (BEGIN; this; coupon_take; COMMIT), which
-- bench/pgbench/coupon-pessimistic.pgb runs as the baseline that
-- coupon_lock_take is measured against.
{{coupon_state}} FOR UPDATE OF p;

-- name: coupon_explain
-- The same read without the lock, to explain a refusal.
{{coupon_state}};

-- name: coupon_take
-- The baseline's second step, under the row lock: the coupon ($3
-- valid_days) and the count together.
WITH c AS (INSERT INTO user_coupons (policy_id, user_id, expires_at)
           VALUES ($1::bigint, $2::bigint,
                   now() + make_interval(days => $3::int)) RETURNING *),
     n AS (UPDATE coupon_policies SET issued_quantity = issued_quantity + 1
            WHERE id = $1::bigint)
SELECT {{coupon_json}} FROM c JOIN coupon_policies p
    ON p.id = c.policy_id;

-- name: coupon_lock_take
-- Pessimistic in one statement (src/coupon_issue.c): the policy row locked
-- FOR UPDATE (every issue of one policy queues on it), what decides the
-- issue read under that lock, and when it may issue, the coupon and the
-- count: coupon_lock then coupon_take in one round trip, so the lock is
-- held for this statement and its COMMIT (sent with it) alone.  Columns:
-- coupon_state's six, then the coupon's JSON (NULL when none was taken).
-- The UPDATE reaches the locked row version (READ COMMITTED rechecks a row
-- that moved since the snapshot), so the count is never lost.
WITH s (total, issued, open, valid_days, held, shards) AS (
         {{coupon_state}} FOR UPDATE OF p),
     ok AS (SELECT * FROM s WHERE s.open AND NOT s.held AND s.shards = 0
               AND s.issued < s.total),
     n AS (UPDATE coupon_policies x SET issued_quantity =
               x.issued_quantity + 1 FROM ok WHERE x.id = $1::bigint),
     c AS (INSERT INTO user_coupons (policy_id, user_id, expires_at)
           SELECT $1::bigint, $2::bigint,
                  now() + make_interval(days => ok.valid_days) FROM ok
           RETURNING *)
SELECT s.*, (SELECT {{coupon_json}} FROM c JOIN coupon_policies p
                 ON p.id = c.policy_id)
  FROM s;

-- name: coupon_take_conditional
-- Conditional: the guarded increment, then the coupon, one statement.
WITH p AS (UPDATE coupon_policies SET issued_quantity =
               issued_quantity + 1 WHERE id = $1::bigint AND shards = 0
               AND issued_quantity < total_quantity AND now() >= starts_at
               AND now() < ends_at RETURNING *),
     c AS (INSERT INTO user_coupons (policy_id, user_id, expires_at)
           SELECT p.id, $2::bigint, now() + make_interval(days => p.valid_days)
             FROM p RETURNING *)
SELECT {{coupon_json}} FROM c JOIN p ON p.id = c.policy_id;

-- name: coupon_held
-- Does user $2 hold a coupon of policy $1?  UNIQUE (policy_id, user_id).
SELECT EXISTS (SELECT 1 FROM user_coupons
                WHERE policy_id = $1::bigint AND user_id = $2::bigint);

-- name: coupon_held_json
-- User $2's coupon of policy $1, if any, as JSON: a claim that
-- coupon_strategy = queue took over after its wait (src/coupon_queue.c)
-- answers with it.
SELECT {{coupon_json}}
  FROM user_coupons c JOIN coupon_policies p ON p.id = c.policy_id
 WHERE c.policy_id = $1::bigint AND c.user_id = $2::bigint;

-- name: coupon_keyed_answer
-- A claim of policy $3 by user $1 with Idempotency-Key $2, from a user the
-- gate knows (src/api_coupon.c): the answer stored under the key, if any,
-- and whether the user holds a coupon of the policy.  One row, two index
-- probes (the key's primary key, UNIQUE (policy_id, user_id)), no lock:
-- the key's row commits with its coupon, so one snapshot sees both or
-- neither.
SELECT k.request_hash, k.status, k.body,
       EXISTS (SELECT 1 FROM user_coupons u
                WHERE u.policy_id = $3::bigint AND u.user_id = $1::bigint)
  FROM (SELECT 1) one
  LEFT JOIN idempotency_keys k ON k.user_id = $1::bigint AND k.key = $2;

-- name: coupon_issued
-- What policy $1 has issued, to check the gate's sold_out against.
SELECT {{policy_issued}}
  FROM coupon_policies p WHERE p.id = $1::bigint;

-- fragment: coupon_shard_find
-- Sharded: a shard of open policy $1 with a unit left, for user $2.  The
-- shards are searched in the order (shard + user) mod the policy's number
-- of shards, so that issues of different users begin at different shards
-- and spread even before any shard is held, whatever number of shards the
-- policy was split into.  (The modulus must be the number of shards: with
-- a larger one the sum never wraps and every issue begins at shard 0; the
-- user is reduced first so that the sum cannot overflow.)  The window is
-- checked here, before anything is taken.
SELECT x.policy_id, x.shard FROM coupon_shards x
  JOIN coupon_policies p ON p.id = x.policy_id
 WHERE x.policy_id = $1::bigint AND x.issued < x.total
   AND now() >= p.starts_at AND now() < p.ends_at
 ORDER BY (x.shard + $2::bigint % p.shards) % p.shards LIMIT 1
   FOR UPDATE OF x

-- fragment: coupon_shard_take
-- ...then the unit taken from shard s, and user $2's coupon of it.
u AS (UPDATE coupon_shards x SET issued = x.issued + 1 FROM s
       WHERE x.policy_id = s.policy_id AND x.shard = s.shard
      RETURNING x.shard),
c AS (INSERT INTO user_coupons (policy_id, user_id, shard,
          expires_at) SELECT p.id, $2::bigint, u.shard,
          now() + make_interval(days => p.valid_days) FROM u
        JOIN coupon_policies p ON p.id = $1::bigint RETURNING *)
SELECT {{coupon_json}} FROM c JOIN coupon_policies p
    ON p.id = c.policy_id

-- name: coupon_take_shard
-- First a shard no other issue holds...
WITH s AS ({{coupon_shard_find}} SKIP LOCKED),
{{coupon_shard_take}};

-- name: coupon_take_shard_wait
-- ...and if every open one is held, wait for one.
WITH s AS ({{coupon_shard_find}}),
{{coupon_shard_take}};

-- name: coupon_split
-- Splits what remains of policy $1 over $2 shards, once: the policy row's
-- lock orders this after any issue in progress, and a second splitter
-- finds shards > 0 when it gets the lock.
WITH p AS (SELECT id, total_quantity - issued_quantity AS rest
             FROM coupon_policies WHERE id = $1::bigint AND shards = 0
              FOR UPDATE),
     s AS (INSERT INTO coupon_shards (policy_id, shard, total)
           SELECT p.id, g, p.rest / $2::int + (g < p.rest % $2::int)::int
             FROM p, generate_series(0, $2::int - 1) g)
UPDATE coupon_policies c SET shards = $2::int FROM p WHERE c.id = p.id;

-- name: coupon_issued_users
-- Users holding a coupon of policy $1, above user $2, at most $3: the
-- gate's rebuild reads them in batches.
SELECT user_id FROM user_coupons WHERE policy_id = $1::bigint
   AND user_id > $2::bigint ORDER BY user_id LIMIT $3::int;

-- name: coupon_queue_commit
-- coupon_strategy = queue: a batch of claims a queue consumer read from the
-- stream (src/coupon_queue.c), decided and written in one statement, which
-- is its own transaction: one commit, one WAL flush, for the whole batch.
-- $1 the claims' policies, $2 their users, $3 whether each is a redelivery
-- (a consumer may have committed it before it died), in stream order.  The
-- policies are locked FOR UPDATE in id order (two consumers never deadlock,
-- and the direct path's coupon_lock_take queues on the same lock), so the
-- remaining quantity is read from the row as it is; within a policy the
-- coupons go to the first claims in stream order.  One row per claim, in
-- its order: its answer (issued, already_issued, sold_out, not_open,
-- not_found, held: the claim's coupon exists, for the worker to read, or
-- direct: not decided here, for the waiting worker to take on the direct
-- path) and, when issued, the coupon's JSON.
--  - A user who holds a coupon in this statement's snapshot: already_issued,
--    or, for a redelivery, issued with that coupon (the gate admits a user
--    once, so it is this claim's own, committed by the consumer that died).
--  - A second claim of one user in the batch: already_issued.
--  - A coupon committed by another transaction while this one waited for
--    the lock (not in the snapshot) makes the INSERT skip the claim (ON
--    CONFLICT, UNIQUE (policy_id, user_id)): direct, and the claims refused
--    for want of coupons then are direct too, unless the policy is full.
--    For a redelivery it is held: the coupon is the claim's own, committed
--    by the consumer that died (its statement outlived it), and the worker
--    reads it, since this statement's snapshot cannot.
--  - A policy split by coupon_strategy = sharded: direct (its shards hold
--    what remains).
WITH claim AS (
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bool[])
                  WITH ORDINALITY AS c (policy_id, user_id, redo, ord)),
     p AS (SELECT x.id, x.total_quantity - x.issued_quantity AS remaining,
                  x.valid_days, x.shards,
                  now() >= x.starts_at AND now() < x.ends_at AS open
             FROM coupon_policies x
            WHERE x.id = ANY ($1::bigint[]) ORDER BY x.id FOR UPDATE),
     held AS (SELECT c.ord, u.id AS coupon_id FROM claim c
                JOIN user_coupons u ON u.policy_id = c.policy_id
                 AND u.user_id = c.user_id),
     first AS (SELECT DISTINCT ON (c.policy_id, c.user_id) c.ord
                 FROM claim c ORDER BY c.policy_id, c.user_id, c.ord),
     cand AS (SELECT c.ord, c.policy_id, c.user_id, p.valid_days,
                     p.remaining, row_number() OVER (PARTITION BY c.policy_id
                                                     ORDER BY c.ord) AS rn
                FROM claim c JOIN p ON p.id = c.policy_id
               WHERE p.open AND p.shards = 0
                 AND c.ord IN (SELECT ord FROM first)
                 AND c.ord NOT IN (SELECT ord FROM held)),
     take AS (SELECT * FROM cand WHERE rn <= remaining),
     ins AS (INSERT INTO user_coupons (policy_id, user_id, expires_at)
             SELECT t.policy_id, t.user_id,
                    now() + make_interval(days => t.valid_days)
               FROM take t ORDER BY t.ord
             ON CONFLICT (policy_id, user_id) DO NOTHING
             RETURNING *),
     n AS (SELECT ins.policy_id, count(*) AS n FROM ins
            GROUP BY ins.policy_id),
     upd AS (UPDATE coupon_policies x
                SET issued_quantity = x.issued_quantity + n.n
               FROM n WHERE x.id = n.policy_id)
SELECT CASE
         WHEN p.id IS NULL THEN 'not_found'
         WHEN h.ord IS NOT NULL AND q.redo THEN 'issued'
         WHEN h.ord IS NOT NULL THEN 'already_issued'
         WHEN q.ord NOT IN (SELECT ord FROM first) THEN 'already_issued'
         WHEN NOT p.open THEN 'not_open'
         WHEN p.shards > 0 THEN 'direct'
         WHEN i.id IS NOT NULL THEN 'issued'
         WHEN t.ord IS NOT NULL AND q.redo THEN 'held'
         WHEN t.ord IS NOT NULL THEN 'direct'
         WHEN p.remaining - COALESCE(n.n, 0) <= 0 THEN 'sold_out'
         ELSE 'direct' END,
       COALESCE(
         (SELECT {{coupon_json}} FROM ins c
            JOIN coupon_policies p ON p.id = c.policy_id WHERE c.id = i.id),
         (SELECT {{coupon_json}} FROM user_coupons c
            JOIN coupon_policies p ON p.id = c.policy_id
           WHERE q.redo AND c.id = h.coupon_id))
  FROM claim q
  LEFT JOIN p ON p.id = q.policy_id
  LEFT JOIN held h ON h.ord = q.ord
  LEFT JOIN take t ON t.ord = q.ord
  LEFT JOIN ins i ON i.policy_id = t.policy_id AND i.user_id = t.user_id
  LEFT JOIN n ON n.policy_id = q.policy_id
 ORDER BY q.ord;
