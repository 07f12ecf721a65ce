/*
 * config: see config.h.  Each key is one row of config_keys[]: the parser
 * looks the key up there, the row's type picks the validator, and the row's
 * bounds (or, for an enum, its table of names) are the only bounds.  Error
 * messages and config_usage print those bounds from the same row, so what
 * the daemon says about a limit cannot drift from what it checks.  Defaults
 * are text in the same row and go through the same validators in
 * config_create, so a default is always a value the daemon would accept
 * from a file.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "num.h"
#include "xmalloc.h"

#define CONFIG_LINE_MAX 4096 /* bytes on a line, newline excluded */
#define CONFIG_FILE_MAX (1024 * 1024) /* a bigger config file is a mistake */
#define CONFIG_WHY_MAX 512 /* one error message */
#define CONFIG_SHOW_MAX 80 /* bytes of a bad value quoted back */
#define SECRET_MIN 32 /* 256 bits, the HS256 key size */
#define SECRET_MAX 4096
#define REDIS_PORT 6379 /* the port redis:// implies */
#define MS_PER_MIN 60000LL
#define MS_PER_HOUR 3600000LL

/* Longest unix socket path, NUL excluded: sockaddr_un has a fixed array. */
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

enum config_type {
	CONFIG_INT,
	CONFIG_INT64,
	CONFIG_MODE,
	CONFIG_STRING,
	CONFIG_DURATION,
	CONFIG_SIZE,
	CONFIG_ENUM,
	CONFIG__MAX
};

static const char *const config_type_names[CONFIG__MAX] = {
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

const char *const listen_kind_names[LISTEN__MAX] = { "unix", "tcp" };

const char *const stock_strategy_names[STOCK_STRATEGY__MAX] = {
	"pessimistic",
	"conditional",
	"redis_lock",
};

const char *const point_strategy_names[POINT_STRATEGY__MAX] = {
	"optimistic",
	"pessimistic",
	"conditional",
};

const char *const coupon_strategy_names[COUPON_STRATEGY__MAX] = {
	"pessimistic",
	"conditional",
	"sharded",
};

const char *const coupon_gate_names[GATE_KIND__MAX] = {
	"redis",
	"off",
	"slots",
};

/*
 * One key.  Integer bounds are in the stored unit (milliseconds for a
 * duration, bytes for a size); string bounds are lengths in bytes.  An enum
 * has no bounds: its value is an index of names, which stand in the file
 * for the indexes 0 to nnames - 1.
 */
struct config_key {
	const char *name;
	enum config_type type;
	size_t offset; /* of the field in struct config */
	size_t size; /* of the field, checked against the type */
	long long min;
	long long max;
	const char *dflt; /* the default, as it would be written in a file */
	/* For strings: checks the value further and fills derived fields. */
	int (*derive)(struct config *, const char *, char *, size_t);
	const char *const *names; /* for enums: the name of each value */
	int nnames;
	const char *help;
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

static int config_derive_listen(struct config *, const char *, char *, size_t);
static int config_derive_redis(struct config *, const char *, char *, size_t);

/* Row parts: where a key's field is, and an enum's counted name table. */
#define FIELD(f) \
	.offset = offsetof(struct config, f), \
	.size = sizeof(((struct config *)0)->f)
#define NAMES(t) .names = (t), .nnames = (int)(sizeof(t) / sizeof((t)[0]))
#define STRMAX (CONFIG_STRING_MAX - 1)

/* Grouped as in etc/stockade.conf.sample; config_dump keeps this order. */
static const struct config_key config_keys[] = {
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
	            "SIGKILL" },
	/* FastCGI socket */
	{ .name = "listen",
	    .type = CONFIG_STRING,
	    FIELD(listen),
	    .min = 1,
	    .max = STRMAX,
	    .dflt = "/run/stockade/stockade.sock",
	    .derive = config_derive_listen,
	    .help = "FastCGI socket: absolute unix path, IPV4:PORT or "
	            "[IPV6]:PORT" },
	{ .name = "socket_mode",
	    .type = CONFIG_MODE,
	    FIELD(socket_mode),
	    .min = 0,
	    .max = 0777,
	    .dflt = "0660",
	    .help = "permissions of a unix socket" },
	{ .name = "listen_backlog",
	    .type = CONFIG_INT,
	    FIELD(listen_backlog),
	    .min = 1,
	    .max = 65535,
	    .dflt = "1024",
	    .help =
	        "connections the kernel queues while every worker is busy" },
	/* database */
	{ .name = "database_url",
	    .type = CONFIG_STRING,
	    FIELD(database_url),
	    .min = 0,
	    .max = STRMAX,
	    .dflt = "dbname=stockade",
	    .help = "libpq connection string or URI, passed to libpq as is" },
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
	    .derive = config_derive_redis,
	    .help = "Redis server: redis://HOST:PORT or unix:/PATH" },
	{ .name = "redis_timeout",
	    .type = CONFIG_DURATION,
	    FIELD(redis_timeout_ms),
	    .min = 1,
	    .max = MS_PER_MIN,
	    .dflt = "250ms",
	    .help = "Redis connect and command timeout" },
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
	    .help = "seconds sent in Retry-After with a 503" },
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
	    .help = "optimistic conflicts retried before answering 409 "
	            "conflict" },
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
	            "row FOR UPDATE), conditional (one guarded UPDATE) or "
	            "sharded (the policy split over rows, one statement)" },
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
	/* logging */
	{ .name = "log_level",
	    .type = CONFIG_ENUM,
	    FIELD(log_level),
	    NAMES(log_level_names),
	    .dflt = "info",
	    .help = "least severe level written to stderr" },
};

#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static int config_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void *config_field(struct config *cfg, const struct config_key *k)
{
	return (char *)cfg + k->offset;
}

static const void *config_cfield(const struct config *cfg,
    const struct config_key *k)
{
	return (const char *)cfg + k->offset;
}

static const struct config_key *config_find(const char *name)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	}
	return NULL;
}

/*
 * Copies the string s into a field of size bytes, zeroing the rest, so that
 * two configs holding the same values are equal byte for byte (a reload can
 * tell whether anything changed with memcmp).  s must fit.
 */
static void config_copy_string(char *field, size_t size, const char *s)
{
	size_t len = strlen(s);

	memcpy(field, s, len);
	memset(field + len, 0, size - len);
}

/* Escapes text from a file for a message: it may hold anything. */
static const char *config_show(char *buf, size_t len, const char *s)
{
	log_escape(buf, len, s, strlen(s));
	return buf;
}

/* Writes ms with the largest unit that divides it: 5000 -> "5s". */
static void config_format_ms(char *buf, size_t len, long long ms)
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
static void config_format_bytes(char *buf, size_t len, long long n)
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
static void config_describe(const struct config_key *k, char *buf, size_t len)
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
		    "a duration from %s to %s (milliseconds, "
		    "or a number followed by ms, s, min or h)",
		    lo, hi);
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

	config_describe(k, what, sizeof(what));
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
		return config_parse_scaled(value, config_duration_units, k->min,
		    k->max, n);
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
static int config_set_key(struct config *cfg, const struct config_key *k,
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

/*
 * Splits "HOST:PORT" or "[IPV6]:PORT" into host (brackets removed) and port,
 * and sets *v6 for the bracketed form.  Without ":PORT" the port is
 * dflt_port, or an error when dflt_port is 0.  Returns 0, or -1 with why.
 */
static int config_split_hostport(const char *s, int dflt_port, char *host,
    size_t hostlen, int *port, int *v6, char *why, size_t whylen)
{
	const char *h = s, *rest;
	long long n;

	*v6 = s[0] == '[';
	if (*v6) {
		h = s + 1;
		if ((rest = strchr(h, ']')) == NULL) {
			snprintf(why, whylen,
			    "missing \"]\" after the IPv6 address");
			return -1;
		}
	} else if ((rest = strchr(s, ':')) == NULL) {
		rest = s + strlen(s);
	} else if (strchr(rest + 1, ':') != NULL) {
		snprintf(why, whylen,
		    "an IPv6 address must be in brackets, as in [::1]:9000");
		return -1;
	}
	if (rest == h || (size_t)(rest - h) >= hostlen) {
		snprintf(why, whylen, "the host must be 1 to %zu bytes",
		    hostlen - 1);
		return -1;
	}
	memcpy(host, h, (size_t)(rest - h));
	host[rest - h] = '\0';
	rest += *v6; /* past the ']' */
	if (*rest == '\0' && dflt_port != 0) {
		*port = dflt_port;
		return 0;
	}
	if (*rest != ':' || config_parse_int(rest + 1, 1, 65535, &n) == -1) {
		snprintf(why, whylen,
		    "must end in :PORT, PORT an integer from 1 to 65535");
		return -1;
	}
	*port = (int)n;
	return 0;
}

/* Checks a unix socket path: absolute, and short enough for sun_path. */
static int config_check_sun_path(const char *path, char *why, size_t whylen)
{
	if (path[0] != '/') {
		snprintf(why, whylen, "a unix socket path must be absolute");
		return -1;
	}
	if (strlen(path) > SUN_PATH_MAX) {
		snprintf(why, whylen,
		    "a unix socket path must be at most %zu "
		    "bytes (sockaddr_un), got %zu",
		    SUN_PATH_MAX, strlen(path));
		return -1;
	}
	return 0;
}

/*
 * listen: a unix path, or an address literal and port.  Host names are
 * refused: a socket bound to whatever a name resolved to at start-up would
 * change meaning silently when DNS or /etc/hosts does.
 */
static int config_derive_listen(struct config *cfg, const char *value,
    char *why, size_t whylen)
{
	char host[sizeof(cfg->listen_host)], shown[CONFIG_SHOW_MAX];
	unsigned char addr[sizeof(struct in6_addr)];
	int port, v6;

	config_show(shown, sizeof(shown), value);
	if (value[0] == '/') {
		if (config_check_sun_path(value, why, whylen) == -1)
			return -1;
		cfg->listen_kind = LISTEN_UNIX;
		config_copy_string(cfg->listen_host, sizeof(cfg->listen_host),
		    "");
		cfg->listen_port = 0;
		return 0;
	}
	if (value[0] != '[' && strchr(value, ':') == NULL) {
		snprintf(why, whylen,
		    "must be an absolute unix socket path, "
		    "IPV4:PORT or [IPV6]:PORT, got \"%s\"",
		    shown);
		return -1;
	}
	if (config_split_hostport(value, 0, host, sizeof(host), &port, &v6, why,
	        whylen) == -1)
		return -1;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1) {
		snprintf(why, whylen,
		    "the host must be an IPv4 address such "
		    "as 127.0.0.1 or an IPv6 address in brackets such as "
		    "[::1] (host names are not accepted), got \"%s\"",
		    shown);
		return -1;
	}
	cfg->listen_kind = LISTEN_TCP;
	config_copy_string(cfg->listen_host, sizeof(cfg->listen_host), host);
	cfg->listen_port = port;
	return 0;
}

/*
 * Checks a DNS host name (RFC 1123): dot-separated labels of 1 to 63
 * letters, digits and hyphens, not starting or ending with a hyphen.
 * Returns 1 or 0.
 */
static int config_is_hostname(const char *s)
{
	size_t label = 0;

	if (strlen(s) > 253)
		return 0;
	for (const char *p = s;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return 0;
			if (*p == '\0')
				return 1;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') || (*p == '-' && label > 0)))
			return 0;
		label++;
	}
}

/* Checks a redis:// host: a bracketed IPv6, a dotted IPv4 or a name. */
static int config_check_redis_host(const char *host, int v6, char *why,
    size_t whylen)
{
	unsigned char addr[sizeof(struct in6_addr)];
	int numeric = strspn(host, "0123456789.") == strlen(host);

	if (v6 || numeric) {
		if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1) {
			snprintf(why, whylen,
			    "the host is not a valid IPv%c address",
			    v6 ? '6' : '4');
			return -1;
		}
	} else if (!config_is_hostname(host)) {
		snprintf(why, whylen, "the host is not a valid host name");
		return -1;
	}
	return 0;
}

/* Fills the redis_* fields for "unix:/PATH". */
static int config_derive_redis_unix(struct config *cfg, const char *path,
    char *why, size_t whylen)
{
	if (config_check_sun_path(path, why, whylen) == -1)
		return -1;
	config_copy_string(cfg->redis_host, sizeof(cfg->redis_host), "");
	cfg->redis_port = 0;
	config_copy_string(cfg->redis_unix_path, sizeof(cfg->redis_unix_path),
	    path);
	return 0;
}

/*
 * redis_url: "redis://HOST[:PORT][/]" or "unix:/PATH".  The URL is never
 * quoted back: a later version may accept a password in it.
 */
static int config_derive_redis(struct config *cfg, const char *value, char *why,
    size_t whylen)
{
	char authority[CONFIG_STRING_MAX], host[sizeof(cfg->redis_host)];
	const char *s, *end;
	int port, v6;

	if (strncmp(value, "unix:", 5) == 0)
		return config_derive_redis_unix(cfg, value + 5, why, whylen);
	if (strncmp(value, "redis://", 8) != 0) {
		snprintf(why, whylen,
		    "must be redis://HOST:PORT or "
		    "unix:/PATH (rediss:// is not supported)");
		return -1;
	}
	s = value + 8;
	end = s + strcspn(s, "/?#");
	if (memchr(s, '@', (size_t)(end - s)) != NULL ||
	    (*end != '\0' && strcmp(end, "/") != 0)) {
		snprintf(why, whylen,
		    "a user, password, database number or "
		    "query is not supported yet: use redis://HOST:PORT");
		return -1;
	}
	memcpy(authority, s, (size_t)(end - s));
	authority[end - s] = '\0';
	if (config_split_hostport(authority, REDIS_PORT, host, sizeof(host),
	        &port, &v6, why, whylen) == -1 ||
	    config_check_redis_host(host, v6, why, whylen) == -1)
		return -1;
	config_copy_string(cfg->redis_host, sizeof(cfg->redis_host), host);
	cfg->redis_port = port;
	config_copy_string(cfg->redis_unix_path, sizeof(cfg->redis_unix_path),
	    "");
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
	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		const struct config_key *k = &config_keys[i];

		if (!config_key_sane(k))
			fatal("config: table row %s does not fit its field",
			    k->name);
		if (config_set_key(cfg, k, k->dflt, why, sizeof(why)) == -1)
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

	if ((k = config_find(key)) == NULL) {
		snprintf(err, errlen, "%s: unknown key",
		    config_show(shown, sizeof(shown), key));
		return -1;
	}
	return config_set_key(cfg, k, value, err, errlen);
}

/* Removes blanks and a \r (from a CRLF file) at the end of s. */
static void config_rtrim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (config_is_blank(s[n - 1]) || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/*
 * Unquotes, in place, the value whose opening quote is at s.  Only \" and \\
 * are escapes, so that a Windows path or a regex is not silently changed.
 * Returns 0, or -1 with why.
 */
static int config_unquote(char *s, const char *key, char **value, char *why,
    size_t whylen)
{
	char *r = s + 1, *w = s + 1;

	*value = w;
	while (*r != '"') {
		if (*r == '\0') {
			snprintf(why, whylen, "%s: missing closing quote", key);
			return -1;
		}
		if (*r == '\\' && r[1] != '"' && r[1] != '\\') {
			snprintf(why, whylen,
			    "%s: in a quoted value a backslash may only "
			    "escape \" or \\",
			    key);
			return -1;
		}
		if (*r == '\\')
			r++;
		*w++ = *r++;
	}
	*w = '\0';
	for (r++; config_is_blank(*r); r++)
		;
	if (*r != '\0' && *r != '#') {
		snprintf(why, whylen,
		    "%s: unexpected text after the closing quote", key);
		return -1;
	}
	return 0;
}

/*
 * Cuts an unquoted value at a comment: a '#' at its start or after a blank.
 * A '#' inside a word stays, so "a#b" needs no quotes.
 */
static void config_strip_comment(char *value)
{
	for (char *p = value; *p != '\0'; p++) {
		if (*p == '#' && (p == value || config_is_blank(p[-1]))) {
			*p = '\0';
			break;
		}
	}
	config_rtrim(value);
}

/*
 * Splits one line, in place, into key and value.  Returns 1 for a setting,
 * 0 for a blank or comment line, -1 with why for a malformed line.
 */
static int config_split(char *line, char **key, char **value, char *why,
    size_t whylen)
{
	char shown[CONFIG_SHOW_MAX];
	char *s = line, *end;

	config_rtrim(line);
	while (config_is_blank(*s))
		s++;
	if (*s == '\0' || *s == '#')
		return 0;
	for (*key = s; *s != '\0' && *s != '=' && !config_is_blank(*s); s++)
		;
	if (s == *key) {
		snprintf(why, whylen, "missing key before \"=\"");
		return -1;
	}
	for (end = s; config_is_blank(*s); s++)
		;
	if (*s != '=') {
		*end = '\0';
		snprintf(why, whylen, "%s: missing \"=\" after the key",
		    config_show(shown, sizeof(shown), *key));
		return -1;
	}
	*end = '\0';
	for (s++; config_is_blank(*s); s++)
		;
	if (*s == '"') {
		config_show(shown, sizeof(shown), *key);
		return config_unquote(s, shown, value, why, whylen) == 0 ? 1
		                                                         : -1;
	}
	*value = s;
	config_strip_comment(s);
	return 1;
}

/*
 * Applies one line of n bytes.  seen[i] holds the line that set key i, to
 * refuse a second setting: with two, the one that wins depends on reading
 * order, which a reader of the file should not have to know.
 */
static int config_line(struct config *cfg, unsigned *seen, const char *line,
    size_t n, unsigned lineno, char *why, size_t whylen)
{
	char buf[CONFIG_LINE_MAX + 1], shown[CONFIG_SHOW_MAX];
	char *key, *value;
	const struct config_key *k;
	int r;

	if (n > CONFIG_LINE_MAX) {
		snprintf(why, whylen, "line is longer than %d bytes",
		    CONFIG_LINE_MAX);
		return -1;
	}
	if (memchr(line, '\0', n) != NULL) {
		snprintf(why, whylen, "line contains a NUL byte");
		return -1;
	}
	memcpy(buf, line, n);
	buf[n] = '\0';
	if ((r = config_split(buf, &key, &value, why, whylen)) <= 0)
		return r;
	if ((k = config_find(key)) == NULL) {
		snprintf(why, whylen, "%s: unknown key",
		    config_show(shown, sizeof(shown), key));
		return -1;
	}
	if (seen[k - config_keys] != 0) {
		snprintf(why, whylen, "%s: given twice (first on line %u)",
		    k->name, seen[k - config_keys]);
		return -1;
	}
	seen[k - config_keys] = lineno;
	return config_set_key(cfg, k, value, why, whylen);
}

int config_load_string(struct config *cfg, const char *name, const char *text,
    size_t len, char *err, size_t errlen)
{
	unsigned seen[CONFIG_NKEYS] = { 0 };
	char why[CONFIG_WHY_MAX];
	const char *p = text, *end = text + len;
	struct config *next;
	unsigned lineno = 0;
	int rc = 0;

	/*
	 * Work on a copy so that a bad line leaves cfg as it was; memcpy, not
	 * '=', so that padding is copied too and memcmp stays meaningful.
	 */
	next = xmalloc(sizeof(*next));
	memcpy(next, cfg, sizeof(*next));
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl != NULL ? nl : end) - p);

		rc = config_line(next, seen, p, n, ++lineno, why, sizeof(why));
		p = nl != NULL ? nl + 1 : end;
	}
	if (rc == 0)
		memcpy(cfg, next, sizeof(*cfg));
	else
		snprintf(err, errlen, "%s:%u: %s", name, lineno, why);
	free(next);
	return rc;
}

/* Reads fd to its end, or until cap bytes.  Returns 0, or -1 with errno. */
static int config_read_all(int fd, void *buf, size_t cap, size_t *len)
{
	*len = 0;
	while (*len < cap) {
		ssize_t r = read(fd, (char *)buf + *len, cap - *len);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		*len += (size_t)r;
	}
	return 0;
}

/*
 * Reads a whole config file into *text (malloc'd; the caller frees it),
 * growing the buffer up to one byte more than allowed, to tell a file that
 * just fits from one that is too big.
 */
static int config_slurp(const char *path, char **text, size_t *len, char *err,
    size_t errlen)
{
	size_t cap = 16384, n;
	char *buf;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = xmalloc(cap);
	*len = 0;
	for (;;) {
		if (config_read_all(fd, buf + *len, cap - *len, &n) == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		*len += n;
		/* A buffer not filled means the end of the file. */
		if (*len < cap || cap > CONFIG_FILE_MAX)
			break;
		cap = cap * 2 > CONFIG_FILE_MAX ? CONFIG_FILE_MAX + 1 : cap * 2;
		buf = xrealloc(buf, cap, 1);
	}
	if (*len > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", path,
		    CONFIG_FILE_MAX);
		goto fail;
	}
	close(fd);
	*text = buf;
	return 0;
fail:
	close(fd);
	free(buf);
	return -1;
}

int config_load_file(struct config *cfg, const char *path, char *err,
    size_t errlen)
{
	char *text;
	size_t len;
	int rc;

	if (config_slurp(path, &text, &len, err, errlen) == -1)
		return -1;
	rc = config_load_string(cfg, path, text, len, err, errlen);
	free(text);
	return rc;
}

/*
 * Opens the secret file: a regular file (O_NONBLOCK so that a FIFO put there
 * by mistake cannot hang start-up), warning when others can read it.
 * Returns the descriptor, or -1 with err.
 */
static int config_secret_open(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1 || fstat(fd, &st) == -1) {
		snprintf(err, errlen, "auth_secret_file: %s: %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen,
		    "auth_secret_file: %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH))
		log_warn("auth_secret_file: %s is readable by group or others "
		         "(mode %04o); anyone who reads it can mint tokens: "
		         "chmod 600 it",
		    path, (unsigned)(st.st_mode & 07777));
	return fd;
}

int config_read_secret(const struct config *cfg, unsigned char **secret,
    size_t *len, char *err, size_t errlen)
{
	const char *path = cfg->auth_secret_file;
	/* Room for the longest secret, "\r\n", and one byte to see excess. */
	const size_t cap = SECRET_MAX + 3;
	unsigned char *buf;
	size_t n;
	int fd, r, saved_errno;

	if (path[0] == '\0') {
		snprintf(err, errlen,
		    "auth_secret_file is not set; create "
		    "one with: head -c 32 /dev/urandom | base64 > FILE");
		return -1;
	}
	if ((fd = config_secret_open(path, err, errlen)) == -1)
		return -1;
	buf = xmalloc(cap);
	r = config_read_all(fd, buf, cap, &n);
	saved_errno = errno;
	close(fd);
	if (r == -1) {
		snprintf(err, errlen, "auth_secret_file: %s: %s", path,
		    strerror(saved_errno));
		goto fail;
	}
	/* Editors and "echo" add a newline nobody means as part of the key. */
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n < SECRET_MIN || n > SECRET_MAX) {
		snprintf(err, errlen,
		    "auth_secret_file: %s: the secret must be "
		    "%d to %d bytes, got %s%zu",
		    path, SECRET_MIN, SECRET_MAX,
		    n > SECRET_MAX ? "more than " : "",
		    n > SECRET_MAX ? (size_t)SECRET_MAX : n);
		goto fail;
	}
	*secret = buf;
	*len = n;
	return 0;
fail:
	explicit_bzero(buf, cap);
	free(buf);
	return -1;
}

/* Length of a conninfo value at s: 'quoted' (with \ escapes) or a word. */
static size_t config_conninfo_value_len(const char *s)
{
	size_t i = 1;

	if (s[0] != '\'')
		return strcspn(s, " \t\n\r\f\v");
	while (s[i] != '\0' && s[i] != '\'')
		i += s[i] == '\\' && s[i + 1] != '\0' ? 2 : 1;
	return s[i] == '\'' ? i + 1 : i;
}

/* Says whether a parameter may start at src[i].  Returns 1 or 0. */
static int config_param_start(const char *src, size_t i, int uri)
{
	if (uri)
		return i > 0 && (src[i - 1] == '?' || src[i - 1] == '&');
	return i == 0 || config_is_blank(src[i - 1]);
}

/*
 * If a password parameter starts at src[i] ("password=" after '?' or '&' in
 * a URI, the "password" keyword in a conninfo), returns the length of its
 * value and sets *keylen to the length of the text before the value.
 * Returns 0 otherwise.
 */
static size_t config_password_param(const char *src, size_t i, int uri,
    size_t *keylen)
{
	const char *s = src + i, *v = s + 8;

	if (!config_param_start(src, i, uri) || strncmp(s, "password", 8) != 0)
		return 0;
	while (!uri && config_is_blank(*v))
		v++;
	if (*v++ != '=')
		return 0;
	while (!uri && config_is_blank(*v))
		v++;
	*keylen = (size_t)(v - s);
	return uri ? strcspn(v, "&#") : config_conninfo_value_len(v);
}

/* Finds the password of a URI's "user:password@": sets [*from, *to). */
static void config_uri_password(const char *src, size_t *from, size_t *to)
{
	const char *auth = strstr(src, "://") + 3;
	size_t authlen = strcspn(auth, "/?#");
	const char *at = NULL, *colon;

	*from = *to = 0;
	for (const char *p = auth; p < auth + authlen; p++) {
		if (*p == '@')
			at = p;
	}
	if (at == NULL ||
	    (colon = memchr(auth, ':', (size_t)(at - auth))) == NULL)
		return;
	*from = (size_t)(colon + 1 - src);
	*to = (size_t)(at - src);
}

/* Appends s to dst[*o], leaving room for the NUL; truncates. */
static void config_append(char *dst, size_t dstlen, size_t *o, const char *s,
    size_t n)
{
	for (size_t i = 0; i < n && *o + 1 < dstlen; i++)
		dst[(*o)++] = s[i];
}

/* Copies a libpq conninfo or URI into dst, each password as "****". */
static void config_redact(char *dst, size_t dstlen, const char *src)
{
	int uri = strncmp(src, "postgresql://", 13) == 0 ||
	    strncmp(src, "postgres://", 11) == 0;
	size_t from = 0, to = 0, o = 0, i = 0, keylen, vlen;

	if (uri)
		config_uri_password(src, &from, &to);
	while (src[i] != '\0') {
		if (to > from && i == from) {
			config_append(dst, dstlen, &o, "****", 4);
			i = to;
		} else if ((vlen = config_password_param(src, i, uri,
		                &keylen)) > 0) {
			config_append(dst, dstlen, &o, src + i, keylen);
			config_append(dst, dstlen, &o, "****", 4);
			i += keylen + vlen;
		} else {
			config_append(dst, dstlen, &o, src + i, 1);
			i++;
		}
	}
	dst[o] = '\0';
}

/* Writes s in double quotes, escaping '"' and '\' as config_unquote reads. */
static void config_quote(char *dst, size_t dstlen, const char *s)
{
	size_t o = 0;

	config_append(dst, dstlen, &o, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			config_append(dst, dstlen, &o, "\\", 1);
		config_append(dst, dstlen, &o, s, 1);
	}
	config_append(dst, dstlen, &o, "\"", 1);
	dst[o] = '\0';
}

/*
 * Writes the name of value v of the enum k.  A value out of range can only
 * come from writing the field directly; it is written as a number, which
 * config_load_string then refuses rather than reading back as something
 * else.
 */
static void config_format_name(const struct config_key *k, int v, char *buf,
    size_t len)
{
	if (v >= 0 && v < k->nnames)
		snprintf(buf, len, "%s", k->names[v]);
	else
		snprintf(buf, len, "%d", v);
}

/* Formats the current value of k as it would be written in a file. */
static void config_format(const struct config *cfg, const struct config_key *k,
    char *buf, size_t len)
{
	const void *field = config_cfield(cfg, k);
	char redacted[2 * CONFIG_STRING_MAX];

	switch (k->type) {
	case CONFIG_INT:
		snprintf(buf, len, "%d", *(const int *)field);
		break;
	case CONFIG_INT64:
		snprintf(buf, len, "%lld", *(const long long *)field);
		break;
	case CONFIG_MODE:
		snprintf(buf, len, "%04o", *(const unsigned *)field);
		break;
	case CONFIG_DURATION:
		config_format_ms(buf, len, *(const int *)field);
		break;
	case CONFIG_SIZE:
		config_format_bytes(buf, len,
		    (long long)*(const size_t *)field);
		break;
	case CONFIG_ENUM:
		config_format_name(k, *(const int *)field, buf, len);
		break;
	default:
		/* Only database_url may hold a password today. */
		if (k->offset == offsetof(struct config, database_url))
			config_redact(redacted, sizeof(redacted), field);
		else
			snprintf(redacted, sizeof(redacted), "%s",
			    (const char *)field);
		config_quote(buf, len, redacted);
		break;
	}
}

void config_dump(const struct config *cfg, FILE *f)
{
	char value[4 * CONFIG_STRING_MAX + 3];

	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		config_format(cfg, &config_keys[i], value, sizeof(value));
		fprintf(f, "%s = %s\n", config_keys[i].name, value);
	}
}

void config_usage(FILE *f)
{
	char what[CONFIG_WHY_MAX / 2], dflt[2 * CONFIG_STRING_MAX + 3];

	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		const struct config_key *k = &config_keys[i];

		config_describe(k, what, sizeof(what));
		if (k->type == CONFIG_STRING)
			config_quote(dflt, sizeof(dflt), k->dflt);
		else
			snprintf(dflt, sizeof(dflt), "%s", k->dflt);
		fprintf(f, "%s = %s\n\t%s (%s).\n\tValue: %s.\n", k->name, dflt,
		    k->help, config_type_names[k->type], what);
	}
}
