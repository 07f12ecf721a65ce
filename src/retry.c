/*
 * retry: see retry.h.
 */
#include "retry.h"

#include <stdlib.h>
#include <time.h>

#include "clock.h"

void retry_init(struct retry *r, int max, int64_t deadline_ms)
{
	r->attempt = 0;
	r->max = max;
	r->deadline_ms = deadline_ms;
	r->cap_ms = RETRY_BACKOFF_MAX_MS;
}

int64_t retry_backoff_ms(int attempt, int cap_ms, long rnd)
{
	int64_t cap = (int64_t)RETRY_BACKOFF_BASE_MS << (attempt < 0 ? 0
	                      : attempt < 16                         ? attempt
	                                                             : 16);

	if (cap > cap_ms)
		cap = cap_ms;
	if (cap < 1)
		cap = 1;
	return cap / 2 + (rnd < 0 ? 0 : rnd) % (cap - cap / 2 + 1);
}

int retry_again(struct retry *r)
{
	int64_t ms;
	struct timespec ts;

	if (r->max >= 0 && r->attempt >= r->max)
		return 0;
	ms = retry_backoff_ms(r->attempt, r->cap_ms, random());
	if (r->deadline_ms != 0 && clock_ms() + ms > r->deadline_ms)
		return 0;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	/* An interrupted sleep only shortens the back-off. */
	(void)nanosleep(&ts, NULL);
	r->attempt++;
	return 1;
}
