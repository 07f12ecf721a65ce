/*
 * coupon_gate: see coupon_gate.h.
 *
 * Every decision that reads and writes the gate is one Lua script
 * (redis/coupon_gate_*.lua, compiled in by scripts/embed-lua), so it is
 * atomic in Redis: two workers admitting the last coupon's worth of users at
 * once cannot both see the counter one short of the total.  Nothing here
 * decides who gets a coupon; the database does (coupon_issue.c).  The gate
 * only decides who need not ask it.
 */
#include "coupon_gate.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "num.h"
#include "redis_lock.h"
#include "redis_scripts.h"

const char *const coupon_gate_names[GATE_KIND__MAX] = {
	"redis",
	"off",
	"slots",
};

/* How long a rebuild may hold the lock without showing progress. */
#define COUPON_GATE_LOCK_MS "5000"

/* Entries pushed on a slots list per command: a Lua call or an RPUSH of
 * millions would block Redis (single-threaded) for seconds. */
#define COUPON_GATE_FILL_BATCH 1000

static const char *const undo_names[COUPON_UNDO__MAX] = { "refused",
	"keep_user", "sold_out", "sold_out_keep_user" };

/* One policy's keys; "requests" and "run" are the slots gate's own when
 * slots is set, so the two kinds of gate never read each other's state. */
struct coupon_keys {
	char users[REDIS_KEY_MAX], requests[REDIS_KEY_MAX],
	    issued[REDIS_KEY_MAX], run[REDIS_KEY_MAX], lock[REDIS_KEY_MAX];
	char token[24]; /* this process, as the rebuild lock's owner */
	int slots;
};

const char *coupon_gate_key(char *buf, size_t len, int64_t policy,
    const char *suffix)
{
	return redis_key(buf, len, "coupon", policy, suffix);
}

static void coupon_keys_init(struct coupon_keys *k, int slots, int64_t policy)
{
	k->slots = slots;
	coupon_gate_key(k->users, sizeof(k->users), policy, "users");
	coupon_gate_key(k->requests, sizeof(k->requests), policy,
	    slots ? "slots" : "requests");
	coupon_gate_key(k->issued, sizeof(k->issued), policy, "issued");
	coupon_gate_key(k->run, sizeof(k->run), policy,
	    slots ? "slots_run" : "run");
	coupon_gate_key(k->lock, sizeof(k->lock), policy, "lock");
	snprintf(k->token, sizeof(k->token), "%ld", (long)getpid());
}

/*
 * Runs one of the gate's scripts: KEYS users (if with_users), requests and
 * run, then ARGV argv followed by this server's run_id, which every script
 * compares with the gate's stamp.
 */
static redisReply *coupon_gate_run(struct redis *redis,
    struct redis_script *script, const struct coupon_keys *k, int with_users,
    const char *const *argv, int nargv)
{
	const char *args[REDIS_EVAL_ARGS_MAX];
	int n = 0, nkeys;

	if (nargv > REDIS_EVAL_ARGS_MAX - 4)
		return NULL;
	if (with_users)
		args[n++] = k->users;
	args[n++] = k->requests;
	args[n++] = k->run;
	nkeys = n;
	for (int i = 0; i < nargv; i++)
		args[n++] = argv[i];
	args[n++] = redis_run_id(redis);
	return redis_eval(redis, script, nkeys, args, n - nkeys);
}

void coupon_gate_hash_scripts(void)
{
	redis_script_prepare(&coupon_gate_admit_script);
	redis_script_prepare(&coupon_gate_undo_script);
	redis_script_prepare(&coupon_gate_lower_script);
	redis_script_prepare(&coupon_gate_slots_admit_script);
	redis_script_prepare(&coupon_gate_slots_undo_script);
	redis_script_prepare(&coupon_gate_slots_lower_script);
	redis_lock_prepare();
}

void coupon_gate_load(struct redis *redis)
{
	if (redis_load(redis, &coupon_gate_admit_script) < 0 ||
	    redis_load(redis, &coupon_gate_undo_script) < 0 ||
	    redis_load(redis, &coupon_gate_lower_script) < 0 ||
	    redis_load(redis, &coupon_gate_slots_admit_script) < 0 ||
	    redis_load(redis, &coupon_gate_slots_undo_script) < 0 ||
	    redis_load(redis, &coupon_gate_slots_lower_script) < 0 ||
	    redis_lock_load(redis) < 0)
		log_debug("coupon gate scripts not loaded now: %s",
		    redis_errmsg(redis));
}

enum coupon_gate_verdict coupon_gate_admit(struct redis *redis, int slots,
    int64_t policy, int64_t user, int64_t total)
{
	static const struct {
		const char *name;
		enum coupon_gate_verdict verdict;
	} verdicts[] = {
		{ "pass", COUPON_GATE_PASS },
		{ "already", COUPON_GATE_ALREADY },
		{ "sold_out", COUPON_GATE_SOLD_OUT },
		{ "cold", COUPON_GATE_COLD },
	};
	struct coupon_keys k;
	char u[NUM_I64_LEN], t[NUM_I64_LEN];
	const char *argv[] = { num_format(u, user), num_format(t, total) };
	enum coupon_gate_verdict v = COUPON_GATE_DOWN;
	redisReply *r;

	coupon_keys_init(&k, slots, policy);
	r = coupon_gate_run(redis,
	    slots ? &coupon_gate_slots_admit_script : &coupon_gate_admit_script,
	    &k, 1, argv, 2);
	if (r == NULL)
		return COUPON_GATE_DOWN;
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
		for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]);
		     i++)
			if (strcmp(r->str, verdicts[i].name) == 0)
				v = verdicts[i].verdict;
	}
	if (v == COUPON_GATE_DOWN)
		log_warn("coupon gate: unexpected reply to the admit script "
		         "(type %d%s%s)",
		    r->type, r->type == REDIS_REPLY_ERROR ? ": " : "",
		    r->type == REDIS_REPLY_ERROR ? r->str : "");
	freeReplyObject(r);
	return v;
}

int coupon_gate_undo(struct redis *redis, int slots, int64_t policy,
    int64_t user, enum coupon_undo how, int64_t total)
{
	struct coupon_keys k;
	char u[NUM_I64_LEN], t[NUM_I64_LEN];
	const char *argv[] = { num_format(u, user), undo_names[how],
		num_format(t, total) };
	redisReply *r;
	int ok;

	coupon_keys_init(&k, slots, policy);
	r = coupon_gate_run(redis,
	    slots ? &coupon_gate_slots_undo_script : &coupon_gate_undo_script,
	    &k, 1, argv, 3);
	ok = r != NULL && r->type == REDIS_REPLY_INTEGER;
	if (r != NULL)
		freeReplyObject(r);
	if (!ok)
		log_warn("coupon gate %" PRId64 ": could not undo the "
		         "admission of user %" PRId64 " (%s); the database "
		         "still decides, the gate may turn away a little early",
		    policy, user, redis_errmsg(redis));
	return ok ? 0 : -1;
}

/* Runs one command built of argv; 0 unless it failed or Redis refused it. */
static int coupon_gate_send(struct redis *redis, int argc, const char **argv)
{
	redisReply *r = redis_command_argv(redis, argc, argv);
	int ok = r != NULL && r->type != REDIS_REPLY_ERROR;

	if (r != NULL)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

/* Pushes n entries on the slots list, a batch per command. */
static int coupon_gate_fill_slots(struct redis *redis,
    const struct coupon_keys *k, int64_t n)
{
	enum { BATCH = COUPON_GATE_FILL_BATCH };
	const char *argv[2 + BATCH];
	redisReply *r;

	argv[0] = "RPUSH";
	argv[1] = k->requests;
	for (int i = 0; i < BATCH; i++)
		argv[2 + i] = "1";
	for (int64_t done = 0; done < n;) {
		int m = n - done < BATCH ? (int)(n - done) : BATCH;

		if (coupon_gate_send(redis, 2 + m, argv) < 0)
			return -1;
		done += m;
		if (done % (100 * BATCH) == 0 &&
		    (r = redis_command(redis, "PEXPIRE %s " COUPON_GATE_LOCK_MS,
		         k->lock)) != NULL)
			freeReplyObject(r);
	}
	return 0;
}

/* The script's verdict: its integer (1 or 0), or -1. */
static int coupon_gate_lowered(redisReply *r)
{
	int lowered;

	if (r == NULL)
		return -1;
	lowered = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
	freeReplyObject(r);
	return lowered;
}

static void coupon_gate_unlock(struct redis *redis, const struct coupon_keys *k)
{
	(void)redis_lock_drop(redis, k->lock, k->token);
}

/*
 * The slots gate's lower: the script refills the first batch, atomically
 * with its check that the list is empty, and the rest goes in batches as a
 * rebuild fills the list.  The rebuild lock is held throughout, so neither
 * a rebuild nor another worker's lower (which would find the list empty
 * again once admissions drain the first batch) interleaves; when another
 * holds it, that one repairs the gate and this call leaves it (0).
 */
static int coupon_gate_lower_slots(struct redis *redis,
    const struct coupon_keys *k, int64_t issued, int64_t total)
{
	char i[NUM_I64_LEN], t[NUM_I64_LEN], b[NUM_I64_LEN];
	const char *argv[] = { num_format(i, issued), num_format(t, total),
		num_format(b, COUPON_GATE_FILL_BATCH) };
	redisReply *r;
	int lowered, taken;

	r = redis_command(redis, "SET %s %s NX PX " COUPON_GATE_LOCK_MS,
	    k->lock, k->token);
	if (r == NULL)
		return -1;
	taken = r->type == REDIS_REPLY_STATUS;
	freeReplyObject(r);
	if (!taken)
		return 0;
	lowered = coupon_gate_lowered(coupon_gate_run(redis,
	    &coupon_gate_slots_lower_script, k, 0, argv, 3));
	if (lowered == 1 && total - issued > COUPON_GATE_FILL_BATCH &&
	    coupon_gate_fill_slots(redis, k,
	        total - issued - COUPON_GATE_FILL_BATCH) < 0)
		lowered = -1;
	coupon_gate_unlock(redis, k);
	return lowered;
}

int coupon_gate_lower(struct redis *redis, int slots, int64_t policy,
    int64_t issued, int64_t total)
{
	struct coupon_keys k;
	char i[NUM_I64_LEN], t[NUM_I64_LEN];
	const char *argv[] = { num_format(i, issued), num_format(t, total) };

	coupon_keys_init(&k, slots, policy);
	if (slots)
		return coupon_gate_lower_slots(redis, &k, issued, total);
	return coupon_gate_lowered(
	    coupon_gate_run(redis, &coupon_gate_lower_script, &k, 0, argv, 2));
}

void coupon_gate_count_issued(struct redis *redis, int64_t policy)
{
	struct coupon_keys k;
	redisReply *r;

	coupon_keys_init(&k, 0, policy);
	if ((r = redis_command(redis, "INCR %s", k.issued)) != NULL)
		freeReplyObject(r);
}

int coupon_gate_rebuild_begin(struct redis *redis, int slots, int64_t policy)
{
	struct coupon_keys k;
	redisReply *r;

	coupon_keys_init(&k, slots, policy);
	r = redis_command(redis, "SET %s %s NX PX " COUPON_GATE_LOCK_MS, k.lock,
	    k.token);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_STATUS) {
		freeReplyObject(r); /* nil: another worker rebuilds */
		return 0;
	}
	freeReplyObject(r);
	/* One DEL: from here until rebuild_end the gate is cold. */
	r = redis_command(redis, "DEL %s %s %s", k.requests, k.users, k.run);
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return 1;
}

int coupon_gate_rebuild_add(struct redis *redis, int64_t policy,
    const int64_t *users, size_t n)
{
	enum { BATCH = 500 };
	const char *argv[2 + BATCH];
	char ids[BATCH][NUM_I64_LEN];
	struct coupon_keys k;
	redisReply *r;

	coupon_keys_init(&k, 0, policy);
	for (size_t done = 0; done < n;) {
		size_t m = n - done < BATCH ? n - done : BATCH;

		argv[0] = "SADD";
		argv[1] = k.users;
		for (size_t i = 0; i < m; i++) {
			argv[2 + i] = num_format(ids[i], users[done + i]);
		}
		if (coupon_gate_send(redis, (int)(2 + m), argv) < 0)
			return -1;
		done += m;
	}
	r = redis_command(redis, "PEXPIRE %s " COUPON_GATE_LOCK_MS, k.lock);
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

int coupon_gate_rebuild_end(struct redis *redis, int slots, int64_t policy,
    int64_t count, int64_t total)
{
	struct coupon_keys k;
	redisReply *r;
	int ok;

	coupon_keys_init(&k, slots, policy);
	r = redis_command(redis, "SET %s %" PRId64, k.issued, count);
	ok = r != NULL && r->type == REDIS_REPLY_STATUS;
	if (r != NULL)
		freeReplyObject(r);
	if (ok && slots)
		ok = coupon_gate_fill_slots(redis, &k, total - count) == 0;
	if (ok && !slots) {
		r = redis_command(redis, "SET %s %" PRId64, k.requests, count);
		ok = r != NULL && r->type == REDIS_REPLY_STATUS;
		if (r != NULL)
			freeReplyObject(r);
	}
	if (ok) {
		/* Last: the run stamp makes the gate warm. */
		r = redis_command(redis, "SET %s %s", k.run,
		    redis_run_id(redis));
		ok = r != NULL && r->type == REDIS_REPLY_STATUS;
		if (r != NULL)
			freeReplyObject(r);
	}
	coupon_gate_unlock(redis, &k);
	return ok ? 0 : -1;
}

void coupon_gate_rebuild_abort(struct redis *redis, int64_t policy)
{
	struct coupon_keys k;

	coupon_keys_init(&k, 0, policy);
	coupon_gate_unlock(redis, &k);
}
