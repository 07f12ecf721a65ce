/*
 * scoreboard: see scoreboard.h.  The region is mapped before the first fork,
 * so every child inherits the same pages (MAP_SHARED | MAP_ANONYMOUS).
 */
#include "scoreboard.h"

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

const char *const worker_state_names[WORKER_STATE__MAX] = {
	"empty",
	"starting",
	"idle",
	"busy",
	"stopping",
};

const char *const slot_counter_names[SLOT_COUNTER__MAX] = {
	"db_retries",
	"db_retries_40001",
	"db_retries_40p01",
	"db_reconnects",
	"db_replica_reads",
	"db_replica_lagging",
	"db_replica_failed",
	"redis_reconnects",
	"idempotent_replays",
	"point_conflicts",
	"point_lock_fallbacks",
	"coupon_gate_passed",
	"coupon_gate_refused",
	"coupon_gate_sold_out",
	"coupon_gate_already_issued",
	"coupon_gate_not_open",
	"coupon_queue_answered",
	"coupon_queue_direct",
	"coupon_queue_takeovers",
	"coupon_queue_batches",
	"coupon_queue_claims",
	"coupon_gate_bypassed",
	"coupon_db_attempts",
	"coupon_gate_rebuilds",
	"coupon_gate_compensations",
	"coupon_keyed_reads",
	"redis_breaker_opens",
	"orders_expired",
	"coupons_expired",
};

/*
 * 1 ms to 10 s: a request is a few database round trips (around a
 * millisecond); a rush queues them behind row locks (tens to hundreds);
 * statement_timeout (5 s by default) bounds the rest.
 */
const int64_t scoreboard_bucket_us[SCOREBOARD_BUCKETS - 1] = {
	1000,
	2500,
	5000,
	10000,
	25000,
	50000,
	100000,
	250000,
	500000,
	1000000,
	2500000,
	5000000,
	10000000,
};

static size_t scoreboard_size(int nslots)
{
	return sizeof(struct scoreboard) +
	    (size_t)nslots * sizeof(struct scoreboard_slot);
}

struct scoreboard *scoreboard_create(int nslots)
{
	struct scoreboard *sb;

	if (nslots < 1)
		return NULL;
	sb = mmap(NULL, scoreboard_size(nslots), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sb == MAP_FAILED)
		return NULL;
	sb->nslots = nslots;
	sb->started_ms = scoreboard_now_ms();
	return sb;
}

void scoreboard_free(struct scoreboard *sb)
{
	if (sb != NULL)
		munmap(sb, scoreboard_size(sb->nslots));
}

int64_t scoreboard_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int scoreboard_request_get(const struct scoreboard_slot *slot,
    struct scoreboard_request *out)
{
	uint64_t seq = slot->request_seq;

	/* Pairs with the worker's fences (worker_slot_busy): a slot seen
	 * busy after seq was read shows that request's fields. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (slot->state != WORKER_BUSY)
		return 0;
	out->seq = seq;
	out->pid = slot->pid;
	out->clock_ms = slot->request_clock_ms;
	out->db_backend_pid = slot->db_backend_pid;
	memcpy(out->request, slot->request, sizeof(out->request));
	out->request[sizeof(out->request) - 1] = '\0';
	memcpy(out->request_id, slot->request_id, sizeof(out->request_id));
	out->request_id[sizeof(out->request_id) - 1] = '\0';
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return slot->request_seq == seq;
}

int scoreboard_bucket(int64_t duration_us)
{
	int i = 0;

	while (
	    i < SCOREBOARD_BUCKETS - 1 && duration_us > scoreboard_bucket_us[i])
		i++;
	return i;
}

void scoreboard_observe(struct scoreboard_slot *slot, int route, int status,
    int64_t duration_us)
{
	struct scoreboard_route *r;
	int class = status / 100 - 1;

	if (route < 0 || route >= SCOREBOARD_ROUTE_NONE)
		route = SCOREBOARD_ROUTE_NONE;
	if (class < 0 || class >= SCOREBOARD_CLASSES)
		class = SCOREBOARD_CLASSES - 1;
	if (duration_us < 0)
		duration_us = 0;
	r = &slot->routes[route];
	r->requests[class]++;
	r->buckets[scoreboard_bucket(duration_us)]++;
	r->duration_us += (uint64_t)duration_us;
	slot->last_duration_us = duration_us;
	slot->request_ended_ms = scoreboard_now_ms();
}

int scoreboard_count_state(const struct scoreboard *sb, int nworkers,
    enum worker_state state)
{
	int n = 0;

	for (int i = 0; i < nworkers && i < sb->nslots; i++)
		n += sb->slots[i].state == (int)state;
	return n;
}

void scoreboard_raise_active_max(struct scoreboard *sb, uint32_t n)
{
	uint32_t max = __atomic_load_n(&sb->active_max, __ATOMIC_RELAXED);

	/* Several workers may raise it at once: only ever upwards. */
	while (n > max &&
	    !__atomic_compare_exchange_n(&sb->active_max, &max, n, 1,
	        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void scoreboard_busy(struct scoreboard *sb, int i, int nworkers)
{
	sb->slots[i].state = WORKER_BUSY;
	scoreboard_raise_active_max(sb,
	    (uint32_t)scoreboard_count_state(sb, nworkers, WORKER_BUSY));
}

static void scoreboard_add_route(volatile struct scoreboard_route *to,
    const volatile struct scoreboard_route *add,
    const volatile struct scoreboard_route *sub)
{
	for (int c = 0; c < SCOREBOARD_CLASSES; c++)
		to->requests[c] +=
		    add->requests[c] - (sub ? sub->requests[c] : 0);
	for (int b = 0; b < SCOREBOARD_BUCKETS; b++)
		to->buckets[b] += add->buckets[b] - (sub ? sub->buckets[b] : 0);
	to->duration_us += add->duration_us - (sub ? sub->duration_us : 0);
}

void scoreboard_total(const struct scoreboard *sb, struct scoreboard_totals *t)
{
	*t = sb->carried;
	for (int i = 0; i < sb->nslots; i++) {
		const struct scoreboard_slot *s = &sb->slots[i];

		for (int c = 0; c < SLOT_COUNTER__MAX; c++)
			t->counters[c] += s->counters[c];
		for (int r = 0; r < SCOREBOARD_ROUTES_MAX; r++)
			scoreboard_add_route(&t->routes[r], &s->routes[r],
			    NULL);
		if (i == sb->nslots - 1 - sb->consumers)
			t->reaper_restarts += s->restarts;
		else
			t->worker_restarts += s->restarts;
	}
	t->slow_requests += sb->slow_requests;
	t->request_timeouts += sb->request_timeouts;
}

void scoreboard_carry(struct scoreboard *sb,
    const struct scoreboard_totals *add, const struct scoreboard_totals *sub)
{
	struct scoreboard_totals *to = &sb->carried;

	/* Unsigned: add >= sub field by field (counts only grow), and
	 * wrapping arithmetic gets the difference right regardless. */
	for (int c = 0; c < SLOT_COUNTER__MAX; c++)
		to->counters[c] +=
		    add->counters[c] - (sub ? sub->counters[c] : 0);
	for (int r = 0; r < SCOREBOARD_ROUTES_MAX; r++)
		scoreboard_add_route(&to->routes[r], &add->routes[r],
		    sub ? &sub->routes[r] : NULL);
	to->worker_restarts +=
	    add->worker_restarts - (sub ? sub->worker_restarts : 0);
	to->reaper_restarts +=
	    add->reaper_restarts - (sub ? sub->reaper_restarts : 0);
	to->slow_requests +=
	    add->slow_requests - (sub ? sub->slow_requests : 0);
	to->request_timeouts +=
	    add->request_timeouts - (sub ? sub->request_timeouts : 0);
}
