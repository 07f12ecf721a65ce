/*
 * config_keys: see config_keys.h.  Each key is one row of config_keys[]:
 * the parser looks the key up there, the row's type picks the validator,
 * and the row's bounds (or, for an enum, its table of names) are the only
 * bounds.  Error messages and config_usage print those bounds from the same
 * row, so what the daemon says about a limit cannot drift from what it
 * checks.  Defaults are text in the same row and go through the same
 * validators in config_create, so a default is always a value the daemon
 * would accept from a file.
 */
#include "config_keys.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_addr.h"
#include "config_owner.h"
#include "log.h"
#include "num.h"
#include "xmalloc.h"
#include "coupon_gate.h"
#include "coupon_issue.h"
#include "point.h"
#include "stock.h"

#define MS_PER_MIN 60000LL
#define MS_PER_HOUR 3600000LL

const char *const config_type_names[CONFIG__MAX] = {
	"integer",
	"integer",
	"octal mode",
	"string",
	"duration",
	"size",
	"choice",
};

/*
 * The field type each config type is stored in; strings are char arrays.
 * An enum is stored in an int, not in its enum type, whose size and
 * signedness C leaves to the compiler.
 */
static const size_t config_type_sizes[CONFIG__MAX] = {
	sizeof(int),
	sizeof(long long),
	sizeof(unsigned),
	0,
	sizeof(int),
	sizeof(size_t),
	sizeof(int),
};

struct config_unit {
	const char *suffix;
	long long factor;
};

/*
 * No "d": the longest bound (idempotency_ttl, 480h) reads well in hours, and
 * an int of milliseconds runs out at 24.8 days anyway.
 */
static const struct config_unit config_duration_units[] = {
	{ "", 1 },
	{ "ms", 1 },
	{ "s", 1000 },
	{ "min", MS_PER_MIN },
	{ "h", MS_PER_HOUR },
	{ NULL, 0 },
};

/* Both cases, as nginx accepts, since sizes are often copied from there. */
static const struct config_unit config_size_units[] = {
	{ "", 1 },
	{ "k", 1024 },
	{ "K", 1024 },
	{ "M", 1048576 },
	{ "m", 1048576 },
	{ NULL, 0 },
};

/*
 * Checks a path that may be empty (unset): absolute, so that its meaning
 * does not depend on the directory the daemon was started from.
 */
static int config_absolute_path(struct config *cfg, const char *value,
    char *why, size_t whylen)
{
	char shown[CONFIG_SHOW_MAX];

	(void)cfg;
	if (value[0] == '\0' || value[0] == '/')
		return 0;
	snprintf(why, whylen, "must be an absolute path or \"\", got \"%s\"",
	    config_show(shown, sizeof(shown), value));
	return -1;
}

/*
 * Writes "no such user \"x\"" (what: "user" or "group") and returns -1.
 * getpwnam(3) leaves errno 0, ENOENT, ESRCH, EBADF or EPERM for a name that
 * is not there; any other errno is a failed lookup, and is named.
 */
static int config_no_such(const char *what, const char *value, char *why,
    size_t whylen)
{
	char shown[CONFIG_SHOW_MAX];
	int e = errno,
	    failed =
	        e != 0 && e != ENOENT && e != ESRCH && e != EBADF && e != EPERM;

	snprintf(why, whylen, "no such %s \"%s\"%s%s", what,
	    config_show(shown, sizeof(shown), value), failed ? ": " : "",
	    failed ? strerror(e) : "");
	return -1;
}

/*
 * Checks that a user (a group) named in the file exists, so that a typo is
 * an error naming the line, at start or by config-check, not a failure of
 * the first worker.  "" is unset.
 */
static int config_user(struct config *cfg, const char *value, char *why,
    size_t whylen)
{
	(void)cfg;
	errno = 0;
	if (value[0] == '\0' || getpwnam(value) != NULL)
		return 0;
	return config_no_such("user", value, why, whylen);
}

static int config_group(struct config *cfg, const char *value, char *why,
    size_t whylen)
{
	(void)cfg;
	errno = 0;
	if (value[0] == '\0' || getgrnam(value) != NULL)
		return 0;
	return config_no_such("group", value, why, whylen);
}

/*
 * redis_master_name: what Sentinel accepts in `sentinel monitor NAME`
 * without quoting, and what goes on a command line unescaped: letters,
 * digits, '.', '-' and '_'.
 */
static int config_master_name(struct config *cfg, const char *value, char *why,
    size_t whylen)
{
	static const char allowed[] = "abcdefghijklmnopqrstuvwxyz"
	                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
	char shown[CONFIG_SHOW_MAX];

	(void)cfg;
	if (strspn(value, allowed) == strlen(value))
		return 0;
	snprintf(why, whylen,
	    "may hold only letters, digits, '.', '-' and '_', got \"%s\"",
	    config_show(shown, sizeof(shown), value));
	return -1;
}

/* Row parts: where a key's field is, and an enum's counted name table. */
#define FIELD(f) \
	.offset = offsetof(struct config, f), \
	.size = sizeof(((struct config *)0)->f)
#define NAMES(t) .names = (t), .nnames = (int)(sizeof(t) / sizeof((t)[0]))
#define STRMAX (CONFIG_STRING_MAX - 1)

/* Grouped as in etc/stockade.conf.sample; config_dump keeps this order. */
const struct config_key config_keys[] = {
	/* process */
	{ .name = "workers",
	    .type = CONFIG_INT,
	    FIELD(workers),
	    .min = 1,
	    .max = 256,
	    .dflt = "8",
	    .help = "worker processes; each holds one PostgreSQL and one Redis "
	            "connection" },
	{ .name = "max_requests",
	    .type = CONFIG_INT,
	    FIELD(max_requests),
	    .min = 0,
	    .max = 100000000,
	    .dflt = "0",
	    .help =
	        "requests a worker serves before it is replaced (0: never)" },
	{ .name = "shutdown_timeout",
	    .type = CONFIG_DURATION,
	    FIELD(shutdown_timeout_ms),
	    .min = 100,
	    .max = 10 * MS_PER_MIN,
	    .dflt = "10s",
	    .help = "how long a graceful stop waits for requests before "
	            "SIGTERM (SIGKILL a second later)" },
	{ .name = "user",
	    .type = CONFIG_STRING,
	    FIELD(user),
	    .min = 0,
	    .max = 255,
	    .dflt = "",
	    .derive = config_user,
	    .restart = 1,
	    .help = "user the workers and the reaper run as, when started as "
	            "root (\"\": the master's)" },
	{ .name = "group",
	    .type = CONFIG_STRING,
	    FIELD(group),
	    .min = 0,
	    .max = 255,
	    .dflt = "",
	    .derive = config_group,
	    .restart = 1,
	    .help = "group they run as (\"\": the user's primary group); "
	            "also the unix socket's group" },
	{ .name = "request_timeout",
	    .type = CONFIG_DURATION,
	    FIELD(request_timeout_ms),
	    .min = 1000,
	    .max = MS_PER_HOUR,
	    .zero_off = 1,
	    .dflt = "20s",
	    .help = "a worker serving one request longer is killed and "
	            "replaced (0: never)" },
	{ .name = "slow_request",
	    .type = CONFIG_DURATION,
	    FIELD(slow_request_ms),
	    .min = 100,
	    .max = MS_PER_HOUR,
	    .zero_off = 1,
	    .dflt = "1s",
	    .help = "a request running longer is logged once, with the SQL "
	            "statement it waits on (0: never)" },
	/* FastCGI socket */
	{ .name = "listen",
	    .restart = 1,
	    .type = CONFIG_STRING,
	    FIELD(listen),
	    .min = 1,
	    .max = STRMAX,
	    .dflt = "/run/stockade/stockade.sock",
	    .derive = config_addr_listen,
	    .help = "FastCGI socket: absolute unix path, IPV4:PORT or "
	            "[IPV6]:PORT" },
	{ .name = "socket_mode",
	    .restart = 1,
	    .type = CONFIG_MODE,
	    FIELD(socket_mode),
	    .min = 0,
	    .max = 0777,
	    .dflt = "0660",
	    .help = "permissions of a unix socket" },
	{ .name = "socket_owner",
	    .type = CONFIG_STRING,
	    FIELD(socket_owner),
	    .min = 0,
	    .max = 255,
	    .dflt = "",
	    .derive = config_owner_user,
	    .restart = 1,
	    .help = "user that owns a unix socket, a name or a uid (empty: "
	            "the user stockade runs as)" },
	{ .name = "socket_group",
	    .type = CONFIG_STRING,
	    FIELD(socket_group),
	    .min = 0,
	    .max = 255,
	    .dflt = "",
	    .derive = config_owner_group,
	    .restart = 1,
	    .help = "group of a unix socket, a name or a gid (empty: the "
	            "group of `group`/`user` when set, else the group "
	            "stockade runs as); put nginx's group here" },
	{ .name = "listen_backlog",
	    .type = CONFIG_INT,
	    FIELD(listen_backlog),
	    .min = 1,
	    .max = 65535,
	    .dflt = "1024",
	    .help =
	        "connections the kernel queues while every worker is busy" },
	{ .name = "fastcgi_timeout",
	    .type = CONFIG_DURATION,
	    FIELD(fastcgi_timeout_ms),
	    .min = 10,
	    .max = 10 * MS_PER_MIN,
	    .dflt = "5s",
	    .help = "how long one read from or write to a FastCGI connection "
	            "may wait before the connection is dropped" },
	/* database */
	{ .name = "database_url",
	    .type = CONFIG_STRING,
	    FIELD(database_url),
	    .min = 0,
	    .max = STRMAX,
	    .dflt = "dbname=stockade",
	    .help = "libpq connection string or URI, passed to libpq as is" },
	{ .name = "database_read_url",
	    .type = CONFIG_STRING,
	    FIELD(database_read_url),
	    .min = 0,
	    .max = STRMAX,
	    .dflt = "",
	    .help =
	        "libpq connection string or URI of a read replica for the "
	        "catalogue and the histories (empty: read from the primary)" },
	{ .name = "database_read_max_lag",
	    .type = CONFIG_DURATION,
	    FIELD(database_read_max_lag_ms),
	    .min = 10,
	    .max = MS_PER_HOUR,
	    .zero_off = 1,
	    .dflt = "1s",
	    .help =
	        "a read replica further behind its primary leaves its reads "
	        "to the primary (0: never checked)" },
	{ .name = "statement_timeout",
	    .type = CONFIG_DURATION,
	    FIELD(statement_timeout_ms),
	    .min = 1,
	    .max = 10 * MS_PER_MIN,
	    .dflt = "5s",
	    .help = "PostgreSQL statement_timeout of every worker session" },
	{ .name = "lock_timeout",
	    .type = CONFIG_DURATION,
	    FIELD(lock_timeout_ms),
	    .min = 1,
	    .max = 10 * MS_PER_MIN,
	    .dflt = "2s",
	    .help = "PostgreSQL lock_timeout of every worker session" },
	{ .name = "idle_in_transaction_timeout",
	    .type = CONFIG_DURATION,
	    FIELD(idle_in_transaction_timeout_ms),
	    .min = 1,
	    .max = MS_PER_HOUR,
	    .dflt = "10s",
	    .help = "PostgreSQL idle_in_transaction_session_timeout" },
	{ .name = "db_retries",
	    .type = CONFIG_INT,
	    FIELD(db_retries),
	    .min = 0,
	    .max = 20,
	    .dflt = "3",
	    .help = "retries of a transaction that hit SQLSTATE 40001 or "
	            "40P01" },
	/* redis */
	{ .name = "redis_url",
	    .type = CONFIG_STRING,
	    FIELD(redis_url),
	    .min = 1,
	    .max = STRMAX,
	    .dflt = "redis://127.0.0.1:6379",
	    .derive = config_addr_redis,
	    .help = "Redis server: redis://HOST:PORT or unix:/PATH (not used "
	            "when redis_sentinels is set)" },
	{ .name = "redis_sentinels",
	    .type = CONFIG_STRING,
	    FIELD(redis_sentinels),
	    .min = 0,
	    .max = STRMAX,
	    .dflt = "",
	    .derive = config_addr_sentinels,
	    .help = "Redis Sentinels that name the primary, \"HOST:PORT, "
	            "HOST:PORT, ...\" (\"\": none; redis_url is used)" },
	{ .name = "redis_master_name",
	    .type = CONFIG_STRING,
	    FIELD(redis_master_name),
	    .min = 1,
	    .max = 255,
	    .dflt = "mymaster",
	    .derive = config_master_name,
	    .help = "the name the Sentinels monitor the primary under" },
	{ .name = "redis_timeout",
	    .type = CONFIG_DURATION,
	    FIELD(redis_timeout_ms),
	    .min = 1,
	    .max = MS_PER_MIN,
	    .dflt = "250ms",
	    .help = "Redis connect and command timeout" },
	{ .name = "redis_cooldown",
	    .type = CONFIG_DURATION,
	    FIELD(redis_cooldown_ms),
	    .min = 10,
	    .max = MS_PER_MIN,
	    .dflt = "1s",
	    .help = "after a Redis failure, how long a worker goes straight "
	            "to the database before asking Redis again" },
	/* auth */
	{ .name = "auth_secret_file",
	    .type = CONFIG_STRING,
	    FIELD(auth_secret_file),
	    .min = 0,
	    .max = STRMAX,
	    .dflt = "",
	    .help = "file holding the token signing secret (32 to 4096 "
	            "bytes)" },
	/* http */
	{ .name = "max_body",
	    .type = CONFIG_SIZE,
	    FIELD(max_body),
	    .min = 1,
	    .max = 16 * 1048576,
	    .dflt = "64k",
	    .help = "largest request body read" },
	{ .name = "retry_after",
	    .type = CONFIG_INT,
	    FIELD(retry_after_s),
	    .min = 1,
	    .max = 3600,
	    .dflt = "1",
	    .help = "seconds sent in Retry-After with a 503 or 409" },
	{ .name = "status_public",
	    .type = CONFIG_ENUM,
	    FIELD(status_public),
	    NAMES(config_on_off_names),
	    .dflt = "off",
	    .help = "on: GET /status answers without a token (off: it needs "
	            "the admin role)" },
	{ .name = "metrics_public",
	    .type = CONFIG_ENUM,
	    FIELD(metrics_public),
	    NAMES(config_on_off_names),
	    .dflt = "off",
	    .help = "on: GET /metrics answers without a token (off: it needs "
	            "the admin role)" },
	/* orders and stock */
	{ .name = "stock_strategy",
	    .type = CONFIG_ENUM,
	    FIELD(stock_strategy),
	    NAMES(stock_strategy_names),
	    .dflt = "pessimistic",
	    .help = "how an order takes stock: lock the options, one "
	            "conditional UPDATE, or that UPDATE under Redis locks" },
	{ .name = "reservation_ttl",
	    .type = CONFIG_DURATION,
	    FIELD(reservation_ttl_ms),
	    .min = 1000,
	    .max = 24 * MS_PER_HOUR,
	    .dflt = "10min",
	    .help = "how long a pending order holds its stock before it "
	            "expires" },
	{ .name = "reaper_interval",
	    .type = CONFIG_DURATION,
	    FIELD(reaper_interval_ms),
	    .min = 10,
	    .max = MS_PER_MIN,
	    .dflt = "1s",
	    .help = "how often the reaper looks for expired reservations" },
	{ .name = "reaper_batch",
	    .type = CONFIG_INT,
	    FIELD(reaper_batch),
	    .min = 1,
	    .max = CONFIG_REAPER_BATCH_MAX,
	    .dflt = "100",
	    .help = "pending orders the reaper expires per transaction" },
	{ .name = "idempotency_ttl",
	    .type = CONFIG_DURATION,
	    FIELD(idempotency_ttl_ms),
	    .min = 24 * MS_PER_HOUR,
	    .max = 480 * MS_PER_HOUR,
	    .dflt = "24h",
	    .help = "how long Idempotency-Key records are kept (at least 24h, "
	            "as promised to clients)" },
	/* points */
	{ .name = "point_strategy",
	    .type = CONFIG_ENUM,
	    FIELD(point_strategy),
	    NAMES(point_strategy_names),
	    .dflt = "optimistic",
	    .help = "how a balance moves: optimistic (version check, "
	            "retried), pessimistic (FOR UPDATE) or conditional "
	            "(one guarded UPDATE)" },
	{ .name = "point_retries",
	    .type = CONFIG_INT,
	    FIELD(point_retries),
	    .min = 0,
	    .max = 50,
	    .dflt = "5",
	    .help = "optimistic conflicts retried before a last try takes "
	            "the row lock" },
	{ .name = "max_charge",
	    .type = CONFIG_INT64,
	    FIELD(max_charge),
	    .min = 1,
	    .max = 1000000000LL,
	    .dflt = "1000000",
	    .help = "the largest single charge of points" },
	{ .name = "max_balance",
	    .type = CONFIG_INT64,
	    FIELD(max_balance),
	    .min = 1,
	    .max = 1000000000000LL,
	    .dflt = "1000000000",
	    .help = "a charge may not take a balance past this" },
	/* coupons */
	{ .name = "coupon_strategy",
	    .type = CONFIG_ENUM,
	    FIELD(coupon_strategy),
	    NAMES(coupon_strategy_names),
	    .dflt = "pessimistic",
	    .help = "how the database issues a coupon: pessimistic (policy "
	            "row FOR UPDATE), conditional (one guarded UPDATE), "
	            "sharded (the policy split over rows, one statement) or "
	            "queue (a Redis stream, committed in batches)" },
	{ .name = "coupon_shards",
	    .type = CONFIG_INT,
	    FIELD(coupon_shards),
	    .min = 1,
	    .max = COUPON_SHARDS_MAX,
	    .dflt = "16",
	    .help = "with coupon_strategy = sharded, how many rows a policy's "
	            "remaining coupons are split into on its first issue" },
	{ .name = "coupon_gate",
	    .type = CONFIG_ENUM,
	    FIELD(coupon_gate),
	    NAMES(coupon_gate_names),
	    .dflt = "redis",
	    .help = "what turns the crowd away before the database: redis "
	            "(the Lua gate), slots (a Redis list of the coupons "
	            "left) or off" },
	{ .name = "coupon_cache_ttl",
	    .type = CONFIG_DURATION,
	    FIELD(coupon_cache_ttl_ms),
	    .min = 0,
	    .max = MS_PER_HOUR,
	    .dflt = "1s",
	    .help = "how long a worker keeps a policy's total and window for "
	            "the gate (0: read them for every request)" },
	{ .name = "queue_consumers",
	    .type = CONFIG_INT,
	    FIELD(queue_consumers),
	    .min = 1,
	    .max = 64,
	    .dflt = "4",
	    .help = "with coupon_strategy = queue, the consumer processes "
	            "that commit queued claims, one database connection each" },
	{ .name = "queue_batch",
	    .type = CONFIG_INT,
	    FIELD(queue_batch),
	    .min = 1,
	    .max = CONFIG_QUEUE_BATCH_MAX,
	    .dflt = "64",
	    .help = "with coupon_strategy = queue, the most claims a "
	            "consumer commits in one transaction" },
	/* logging */
	{ .name = "log_level",
	    .type = CONFIG_ENUM,
	    FIELD(log_level),
	    NAMES(log_level_names),
	    .dflt = "info",
	    .help = "least severe level written to the log" },
	{ .name = "log_format",
	    .type = CONFIG_ENUM,
	    FIELD(log_format),
	    NAMES(log_format_names),
	    .dflt = "text",
	    .help = "text (one line per event for people) or json (one "
	            "object per line for log shippers)" },
	{ .name = "log_file",
	    .type = CONFIG_STRING,
	    FIELD(log_file),
	    .min = 0,
	    .max = STRMAX,
	    .dflt = "",
	    .derive = config_absolute_path,
	    .restart = 1,
	    .help = "file the log is appended to, reopened on SIGUSR1 (\"\": "
	            "stderr)" },
};

const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);

static void *config_field(struct config *cfg, const struct config_key *k)
{
	return (char *)cfg + k->offset;
}

const void *config_key_field(const struct config *cfg,
    const struct config_key *k)
{
	return (const char *)cfg + k->offset;
}

const struct config_key *config_key_find(const char *name)
{
	for (size_t i = 0; i < config_nkeys; i++) {
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	}
	return NULL;
}

/* Escapes text from a file for a message: it may hold anything. */
const char *config_show(char *buf, size_t len, const char *s)
{
	log_escape(buf, len, s, strlen(s));
	return buf;
}

/* Writes ms with the largest unit that divides it: 5000 -> "5s". */
void config_format_ms(char *buf, size_t len, long long ms)
{
	if (ms != 0 && ms % MS_PER_HOUR == 0)
		snprintf(buf, len, "%lldh", ms / MS_PER_HOUR);
	else if (ms != 0 && ms % MS_PER_MIN == 0)
		snprintf(buf, len, "%lldmin", ms / MS_PER_MIN);
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(buf, len, "%llds", ms / 1000);
	else
		snprintf(buf, len, "%lldms", ms);
}

/* Writes a byte count with the largest unit that divides it: "64k". */
void config_format_bytes(char *buf, size_t len, long long n)
{
	if (n != 0 && n % 1048576 == 0)
		snprintf(buf, len, "%lldM", n / 1048576);
	else if (n != 0 && n % 1024 == 0)
		snprintf(buf, len, "%lldk", n / 1024);
	else
		snprintf(buf, len, "%lld", n);
}

/* Writes "one of a, b, c" from the name table of the enum k. */
static void config_describe_names(const struct config_key *k, char *buf,
    size_t len)
{
	size_t o = 0;

	for (int i = 0; i < k->nnames; i++) {
		int n = snprintf(buf + o, len - o, "%s%s",
		    i == 0 ? "one of " : ", ", k->names[i]);

		if (n < 0 || (size_t)n >= len - o)
			return; /* truncated, still NUL-terminated */
		o += (size_t)n;
	}
}

/* Writes what a value of k must be, from k's own bounds. */
void config_key_describe(const struct config_key *k, char *buf, size_t len)
{
	char lo[32], hi[32];

	switch (k->type) {
	case CONFIG_INT:
	case CONFIG_INT64:
		snprintf(buf, len, "an integer from %lld to %lld", k->min,
		    k->max);
		break;
	case CONFIG_MODE:
		snprintf(buf, len, "an octal mode from %04llo to %04llo",
		    (unsigned long long)k->min, (unsigned long long)k->max);
		break;
	case CONFIG_STRING:
		snprintf(buf, len,
		    "a string of %lld to %lld bytes without control characters",
		    k->min, k->max);
		break;
	case CONFIG_DURATION:
		config_format_ms(lo, sizeof(lo), k->min);
		config_format_ms(hi, sizeof(hi), k->max);
		snprintf(buf, len,
		    "%sa duration from %s to %s (milliseconds, "
		    "or a number followed by ms, s, min or h)",
		    k->zero_off ? "0 (off) or " : "", lo, hi);
		break;
	case CONFIG_SIZE:
		config_format_bytes(lo, sizeof(lo), k->min);
		config_format_bytes(hi, sizeof(hi), k->max);
		snprintf(buf, len,
		    "a size from %s to %s (bytes, or a number "
		    "followed by k or M)",
		    lo, hi);
		break;
	default:
		config_describe_names(k, buf, len);
		break;
	}
}

/* Formats the one message every bad number, mode or name gets. */
static int config_bad(const struct config_key *k, const char *value, char *why,
    size_t whylen)
{
	char what[CONFIG_WHY_MAX / 2], shown[CONFIG_SHOW_MAX];

	config_key_describe(k, what, sizeof(what));
	snprintf(why, whylen, "%s: must be %s, got \"%s\"", k->name, what,
	    config_show(shown, sizeof(shown), value));
	return -1;
}

/*
 * Parses a decimal integer in min..max with num_parse: digits only, a '-'
 * only when min is negative, no '+', no blanks.  Returns 0, or -1.
 */
static int config_parse_int(const char *s, long long min, long long max,
    long long *out)
{
	int64_t v;

	if (num_parse(s, min, max, &v) == -1)
		return -1;
	*out = v;
	return 0;
}

/*
 * Parses decimal digits then one of units' suffixes, in min..max (max >= 0):
 * the digits go through num_parse_n, capped at max, so that no input can
 * overflow the multiplication by the unit.
 */
static int config_parse_scaled(const char *s, const struct config_unit *units,
    long long min, long long max, long long *out)
{
	size_t ndigits = strspn(s, "0123456789");
	const struct config_unit *u;
	int64_t n;

	if (num_parse_n(s, ndigits, 0, max, &n) == -1)
		return -1;
	for (u = units; u->suffix != NULL; u++) {
		if (strcmp(s + ndigits, u->suffix) == 0)
			break;
	}
	if (u->suffix == NULL || n > max / u->factor || n * u->factor < min)
		return -1;
	*out = n * u->factor;
	return 0;
}

/*
 * Parses an octal mode such as 0660 (the leading 0 is optional), in
 * min..max: octal digits only.  Checking against max before each step means
 * no input can overflow.  Returns 0, or -1.
 */
static int config_parse_mode(const char *s, long long min, long long max,
    long long *out)
{
	long long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '7' || v > max / 8 ||
		    v * 8 + (*s - '0') > max)
			return -1;
		v = v * 8 + (*s - '0');
	}
	if (v < min)
		return -1;
	*out = v;
	return 0;
}

/*
 * Parses one of the names of the enum k, exactly as written in its table (so
 * in lower case), into its index.  Returns 0, or -1.
 */
static int config_parse_name(const struct config_key *k, const char *s,
    long long *out)
{
	for (int i = 0; i < k->nnames; i++) {
		if (strcmp(s, k->names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return -1;
}

/* Parses a value of any type but string into n.  Returns 0 or -1. */
static int config_parse_number(const struct config_key *k, const char *value,
    long long *n)
{
	switch (k->type) {
	case CONFIG_INT:
	case CONFIG_INT64:
		return config_parse_int(value, k->min, k->max, n);
	case CONFIG_MODE:
		return config_parse_mode(value, k->min, k->max, n);
	case CONFIG_DURATION:
		if (config_parse_scaled(value, config_duration_units,
		        k->zero_off ? 0 : k->min, k->max, n) == -1)
			return -1;
		return *n != 0 && *n < k->min ? -1 : 0;
	case CONFIG_SIZE:
		return config_parse_scaled(value, config_size_units, k->min,
		    k->max, n);
	case CONFIG_ENUM:
		return config_parse_name(k, value, n);
	default:
		return -1;
	}
}

/* Stores n, already range-checked, in the field of k's type. */
static void config_store(struct config *cfg, const struct config_key *k,
    long long n)
{
	void *field = config_field(cfg, k);

	switch (k->type) {
	case CONFIG_MODE:
		*(unsigned *)field = (unsigned)n;
		break;
	case CONFIG_SIZE:
		*(size_t *)field = (size_t)n;
		break;
	case CONFIG_INT64:
		*(long long *)field = n;
		break;
	default:
		*(int *)field = (int)n;
		break;
	}
}

/*
 * Sets a string key: length in bounds, no control characters (they have no
 * place in a path or URL and would corrupt log lines), then the row's own
 * check.  Values that may hold a password are never quoted back.
 */
static int config_set_string(struct config *cfg, const struct config_key *k,
    const char *value, char *why, size_t whylen)
{
	char derived[CONFIG_WHY_MAX];
	size_t len = strlen(value);

	if (len == 0 && k->min > 0) {
		snprintf(why, whylen, "%s: must not be empty", k->name);
		return -1;
	}
	if (len < (size_t)k->min) {
		snprintf(why, whylen,
		    "%s: must be at least %lld bytes, got %zu", k->name, k->min,
		    len);
		return -1;
	}
	if (len > (size_t)k->max) {
		snprintf(why, whylen, "%s: must be at most %lld bytes, got %zu",
		    k->name, k->max, len);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c < 0x20 || c == 0x7f) {
			snprintf(why, whylen,
			    "%s: must not contain control "
			    "characters (byte %zu is 0x%02x)",
			    k->name, i, c);
			return -1;
		}
	}
	if (k->derive != NULL &&
	    k->derive(cfg, value, derived, sizeof(derived)) == -1) {
		snprintf(why, whylen, "%s: %s", k->name, derived);
		return -1;
	}
	config_copy_string(config_field(cfg, k), k->size, value);
	return 0;
}

/* Sets the key of row k.  Returns 0, or -1 with "key: why" and cfg as was. */
int config_key_set(struct config *cfg, const struct config_key *k,
    const char *value, char *why, size_t whylen)
{
	long long n;

	if (k->type == CONFIG_STRING)
		return config_set_string(cfg, k, value, why, whylen);
	if (config_parse_number(k, value, &n) == -1)
		return config_bad(k, value, why, whylen);
	config_store(cfg, k, n);
	return 0;
}

/* Checks an enum row: a non-empty table of non-empty names. */
static int config_names_sane(const struct config_key *k)
{
	if (k->names == NULL || k->nnames <= 0)
		return 0;
	for (int i = 0; i < k->nnames; i++) {
		if (k->names[i] == NULL || k->names[i][0] == '\0')
			return 0;
	}
	return 1;
}

/*
 * Checks a table row against its field; a bad row is a programming error.
 * The bounds of a key stored in an int must fit one, so that no value in
 * bounds can overflow its field.
 */
static int config_key_sane(const struct config_key *k)
{
	if ((k->type == CONFIG_ENUM) != (k->names != NULL))
		return 0;
	if (k->zero_off && (k->type != CONFIG_DURATION || k->min <= 0))
		return 0;
	switch (k->type) {
	case CONFIG_STRING:
		return k->min >= 0 && (size_t)k->max < k->size;
	case CONFIG_ENUM:
		return k->size == sizeof(int) && config_names_sane(k);
	case CONFIG_INT:
	case CONFIG_DURATION:
		if (k->min < INT_MIN || k->max > INT_MAX)
			return 0;
		break;
	default:
		break;
	}
	return k->size == config_type_sizes[k->type] && k->min <= k->max;
}

struct config *config_create(void)
{
	struct config *cfg;
	char why[CONFIG_WHY_MAX];

	cfg = xcalloc(1, sizeof(*cfg));
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];

		if (!config_key_sane(k))
			fatal("config: table row %s does not fit its field",
			    k->name);
		if (config_key_set(cfg, k, k->dflt, why, sizeof(why)) == -1)
			fatal("config: bad default: %s", why);
	}
	return cfg;
}

void config_free(struct config *cfg)
{
	free(cfg);
}

int config_set(struct config *cfg, const char *key, const char *value,
    char *err, size_t errlen)
{
	const struct config_key *k;
	char shown[CONFIG_SHOW_MAX];

	if ((k = config_key_find(key)) == NULL) {
		snprintf(err, errlen, "%s: unknown key",
		    config_show(shown, sizeof(shown), key));
		return -1;
	}
	return config_key_set(cfg, k, value, err, errlen);
}
