/*
 * config: the daemon's settings as every module reads them: one plain struct
 * of typed fields, and the enums its fields hold.  This header is the base
 * layer (scripts/check-layers); what fills the struct sits on top, since it
 * names every module's settings: config_keys.h (the table of keys, with
 * each one's type, bounds, default and help, in the spirit of kcgi's struct
 * kvalid; config_create, config_set), config_file.h (the "key = value" file
 * and the secret file) and config_dump.h (the effective values, for
 * `stockade config-check`).  docs/configuration.md describes each key;
 * etc/stockade.conf.sample lists them all.
 */
#ifndef STOCKADE_CONFIG_H
#define STOCKADE_CONFIG_H

#include <stddef.h>

#include "log.h"

/*
 * The most pending orders the reaper expires in one transaction (key
 * reaper_batch): order.c sizes its batch arrays by it.
 */
#define CONFIG_REAPER_BATCH_MAX 10000

/*
 * The most claims a queue consumer commits in one transaction (key
 * queue_batch, coupon_strategy = queue): coupon_queue.c sizes its batch
 * by it.
 */
#define CONFIG_QUEUE_BATCH_MAX 1000

/* Size of every string setting, terminating NUL included. */
#define CONFIG_STRING_MAX 1024

/* The most Sentinels redis_sentinels may list. */
#define CONFIG_SENTINELS_MAX 8

/* Bytes of a bad value quoted back in an error message, escaped. */
#define CONFIG_SHOW_MAX 80

enum listen_kind { LISTEN_UNIX, LISTEN_TCP, LISTEN__MAX };

/* "unix" and "tcp", for log lines. */
extern const char *const listen_kind_names[LISTEN__MAX];
/* "off" (0) and "on" (1), the names of a yes/no key. */
extern const char *const config_on_off_names[2];

/*
 * The strategies' enums live with their modules (stock.h, point.h,
 * coupon_issue.h, coupon_gate.h); the struct keeps them as ints.
 */

/*
 * A flat struct of fixed-size fields holding no pointers, so a reload can
 * build a new one and swap it in whole.  Strings are zero-padded and the
 * struct is zeroed at creation, so two configs holding the same values
 * compare equal with memcmp.  Fields marked "derived" are filled in when the
 * key they come from is set; set keys with config_set, never the fields.
 * Keys that name one of a fixed set of values are stored as an int holding
 * an index of that set's name table (an enum value), never out of range.
 */
struct config {
	/* FastCGI socket: an absolute unix path, IPV4:PORT or [IPV6]:PORT. */
	char listen[CONFIG_STRING_MAX];
	enum listen_kind listen_kind; /* derived */
	char listen_host[64]; /* derived, TCP only, no brackets */
	int listen_port; /* derived, TCP only, 1..65535 */
	unsigned socket_mode; /* unix socket permissions */
	char socket_owner[256]; /* a user name or uid; "" keeps ours */
	int socket_uid; /* derived; -1: not set */
	char socket_group[256]; /* a group name or gid; "" keeps ours */
	int socket_gid; /* derived; -1: not set */
	int listen_backlog;
	int fastcgi_timeout_ms; /* one read or write on a FastCGI connection */
	int workers;
	int max_requests; /* 0: never recycle a worker */
	char database_url[CONFIG_STRING_MAX]; /* libpq conninfo or URI */
	/* The replica the catalogue and histories read; "": the primary. */
	char database_read_url[CONFIG_STRING_MAX];
	int database_read_max_lag_ms; /* 0: the lag is not checked */
	char redis_url[CONFIG_STRING_MAX]; /* redis://HOST:PORT or unix:/PATH */
	char redis_host[256]; /* derived; "" for unix */
	int redis_port; /* derived; 0 for unix */
	char redis_unix_path[CONFIG_STRING_MAX]; /* derived; "" for tcp */
	/* "HOST:PORT, ...": the Sentinels naming the primary; "": none. */
	char redis_sentinels[CONFIG_STRING_MAX];
	int redis_nsentinels; /* derived; 0 when redis_sentinels is "" */
	char redis_sentinel_host[CONFIG_SENTINELS_MAX][256]; /* derived */
	int redis_sentinel_port[CONFIG_SENTINELS_MAX]; /* derived */
	char redis_master_name[256]; /* the Sentinels' name of the primary */
	int redis_timeout_ms;
	int redis_cooldown_ms; /* the circuit breaker's cool-down (redis.h) */
	char auth_secret_file[CONFIG_STRING_MAX]; /* "" until set */
	size_t max_body;
	int log_level; /* enum log_level */
	int log_format; /* enum log_format */
	char log_file[CONFIG_STRING_MAX]; /* absolute path; "": stderr */
	int statement_timeout_ms;
	int lock_timeout_ms;
	int idle_in_transaction_timeout_ms;
	int db_retries; /* retries of SQLSTATE 40001/40P01 */
	int retry_after_s; /* Retry-After on a 503 */
	int status_public; /* 1: /status without a token (config_on_off) */
	int metrics_public; /* 1: /metrics without a token (config_on_off) */
	int shutdown_timeout_ms; /* graceful stop, then SIGKILL */
	char user[256]; /* children run as it; "": as the master (privs.h) */
	char group[256]; /* "": the user's primary group */
	int request_timeout_ms; /* a longer request's worker is killed; 0: off
	                         */
	int slow_request_ms; /* a longer request is logged; 0: off */
	int stock_strategy; /* enum stock_strategy */
	int reservation_ttl_ms; /* a pending order's hold on its stock */
	int reaper_interval_ms; /* how often the reaper looks */
	int reaper_batch; /* pending orders expired per transaction */
	int idempotency_ttl_ms; /* Idempotency-Key records kept, >= 24h */
	int point_strategy; /* enum point_strategy */
	int point_retries; /* optimistic conflicts retried before a 409 */
	long long max_charge; /* the largest single charge */
	long long max_balance; /* a charge may not take a balance past it */
	int coupon_strategy; /* enum coupon_strategy */
	int coupon_shards; /* coupon_strategy = sharded: rows per policy */
	int coupon_gate; /* enum coupon_gate_kind */
	int coupon_cache_ttl_ms; /* a worker's copy of a policy's limits */
	int queue_consumers; /* coupon_strategy = queue: consumer processes */
	int queue_batch; /* claims a consumer commits per transaction */
};

/*
 * Copies the string s into a field of size bytes, zeroing the rest, so that
 * two configs holding the same values are equal byte for byte (a reload can
 * tell whether anything changed with memcmp).  s must fit.
 */
void config_copy_string(char *field, size_t size, const char *s);

#endif
