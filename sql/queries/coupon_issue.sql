-- sql/queries/coupon_issue.sql: the statements of the coupon issue path:
-- the worker's copy of a policy's limits (src/coupon_limits.c), the three
-- strategies of the final defense and the gate's rebuild
-- (src/coupon_issue.c).  docs/coupons.md explains each strategy; the JSON
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
-- Sharded: a shard of open policy $1 with a unit left.  The shards are
-- searched in the order (shard + $3) mod the policy's number of shards, $3
-- being user_id % COUPON_SHARDS, so that issues of different users begin at
-- different shards and spread even before any shard is held.  (The modulus
-- must be the number of shards: with a larger one the sum never wraps and
-- every issue begins at shard 0.)  The window is checked here, before
-- anything is taken.
SELECT x.policy_id, x.shard FROM coupon_shards x
  JOIN coupon_policies p ON p.id = x.policy_id
 WHERE x.policy_id = $1::bigint AND x.issued < x.total
   AND now() >= p.starts_at AND now() < p.ends_at
 ORDER BY (x.shard + $3::int) % p.shards LIMIT 1 FOR UPDATE OF x

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
