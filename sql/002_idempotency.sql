-- 002: Idempotency-Key records.
--
-- A value-moving POST sent with an Idempotency-Key runs at most once per
-- (user, key).  The row is written in the same transaction as the effect,
-- so it exists exactly when the effect committed; a retry finds it and gets
-- the stored answer back.  request_hash (SHA-256 of method, path and body)
-- tells a true retry from a different request reusing the key.  The reaper
-- deletes rows older than idempotency_ttl (at least 24 hours).
CREATE TABLE idempotency_keys (
    user_id      bigint NOT NULL CHECK (user_id > 0),
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash text NOT NULL,
    status       int NOT NULL CHECK (status BETWEEN 200 AND 299),
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
