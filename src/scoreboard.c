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
	"point_conflicts",
	"point_lock_fallbacks",
	"coupon_gate_passed",
	"coupon_gate_refused",
	"coupon_gate_bypassed",
	"coupon_db_attempts",
	"coupon_gate_rebuilds",
	"coupon_gate_compensations",
	"coupon_keyed_reads",
	"redis_breaker_opens",
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
