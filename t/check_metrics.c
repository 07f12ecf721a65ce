/*
 * check_metrics: the scoreboard's request counting (buckets, status
 * classes, routes out of range), the sums over the slots, and the
 * Prometheus text /metrics writes: every sample line well-formed and
 * announced by its family's HELP and TYPE, histograms cumulative with the
 * count equal to the +Inf bucket.  The scoreboard is a real one
 * (scoreboard_create), written as workers write it.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "metrics.h"
#include "scoreboard.h"
#include "check_run.h"

/* Two routes in the test's table. */
static const char *test_route_name(int i)
{
	static const char *const names[] = { "first", "second" };

	return i >= 0 && i < 2 ? names[i] : NULL;
}

/* The body of res, NUL-terminated (response_printf keeps it so). */
static const char *text_of(const struct response *res)
{
	ck_assert_int_eq(res->is_text, 1);
	return res->text;
}

/* 1 when text has line as a whole line. */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	}
	return 0;
}

START_TEST(test_buckets)
{
	ck_assert_int_eq(scoreboard_bucket(0), 0);
	ck_assert_int_eq(scoreboard_bucket(1000), 0); /* le is inclusive */
	ck_assert_int_eq(scoreboard_bucket(1001), 1);
	ck_assert_int_eq(scoreboard_bucket(2500), 1);
	ck_assert_int_eq(scoreboard_bucket(10000000), SCOREBOARD_BUCKETS - 2);
	ck_assert_int_eq(scoreboard_bucket(10000001), SCOREBOARD_BUCKETS - 1);
	ck_assert_int_eq(scoreboard_bucket(INT64_MAX), SCOREBOARD_BUCKETS - 1);
	for (int i = 1; i < SCOREBOARD_BUCKETS - 1; i++)
		ck_assert(
		    scoreboard_bucket_us[i - 1] < scoreboard_bucket_us[i]);
}
END_TEST

START_TEST(test_observe)
{
	struct scoreboard *sb = scoreboard_create(2);
	struct scoreboard_slot *s;

	ck_assert_ptr_nonnull(sb);
	s = &sb->slots[0];
	scoreboard_observe(s, 1, 200, 1500);
	scoreboard_observe(s, 1, 201, 500);
	scoreboard_observe(s, 1, 409, 20000000);
	scoreboard_observe(s, 1, 499, -5); /* a clock step: counted as 0 */
	scoreboard_observe(s, -1, 404, 10);
	scoreboard_observe(s, 1000, 0, 10); /* nonsense: no route, 5xx */
	ck_assert_uint_eq(s->routes[1].requests[1], 2);
	ck_assert_uint_eq(s->routes[1].requests[3], 2);
	ck_assert_uint_eq(s->routes[1].buckets[0], 2);
	ck_assert_uint_eq(s->routes[1].buckets[1], 1);
	ck_assert_uint_eq(s->routes[1].buckets[SCOREBOARD_BUCKETS - 1], 1);
	ck_assert_uint_eq(s->routes[1].duration_us, 20002000);
	ck_assert_uint_eq(s->routes[SCOREBOARD_ROUTE_NONE].requests[3], 1);
	ck_assert_uint_eq(s->routes[SCOREBOARD_ROUTE_NONE].requests[4], 1);
	ck_assert_int_eq(s->last_duration_us, 10);
	ck_assert_int_gt(s->request_ended_ms, 0);
	scoreboard_free(sb);
}
END_TEST

/* Workers' and the reaper's slots summed; states and respawns apart. */
START_TEST(test_collect)
{
	struct scoreboard *sb = scoreboard_create(3);
	struct metrics_pool p;

	sb->slots[0].state = WORKER_IDLE;
	sb->slots[1].state = WORKER_BUSY;
	sb->slots[2].state = WORKER_BUSY; /* the reaper: no worker */
	sb->slots[0].restarts = 2;
	sb->slots[2].restarts = 1;
	sb->slots[0].counters[COUNTER_DB_RECONNECTS] = 3;
	sb->slots[1].counters[COUNTER_DB_RECONNECTS] = 4;
	sb->slots[2].counters[COUNTER_DB_RECONNECTS] = 5;
	scoreboard_observe(&sb->slots[0], 0, 200, 10);
	scoreboard_observe(&sb->slots[1], 0, 200, 10);
	scoreboard_observe(&sb->slots[1], 1, 503, 10);
	metrics_collect(sb, 2, &p);
	ck_assert_uint_eq(p.t.counters[COUNTER_DB_RECONNECTS], 12);
	ck_assert_uint_eq(p.t.routes[0].requests[1], 2);
	ck_assert_uint_eq(p.t.routes[1].requests[4], 1);
	ck_assert_uint_eq(p.accepted, 3);
	ck_assert_int_eq(p.by_state[WORKER_IDLE], 1);
	ck_assert_int_eq(p.by_state[WORKER_BUSY], 1);
	ck_assert_uint_eq(p.t.worker_restarts, 2);
	ck_assert_uint_eq(p.t.reaper_restarts, 1);
	/* Never below what is busy now, whatever was sampled. */
	ck_assert_uint_eq(p.active_max, 1);
	ck_assert_int_eq(p.has_queue, 0);
	sb->listen_queue_max = 7;
	metrics_set_queue(&p, sb, 3, 128);
	ck_assert_uint_eq(p.queue_max, 7);
	metrics_set_queue(&p, sb, 9, 128);
	ck_assert_uint_eq(p.queue_max, 9);
	scoreboard_free(sb);
}
END_TEST

/*
 * A reload, as master.c carries it: the new generation's scoreboard starts
 * from the old one's totals, the old one counts a little more while it
 * retires, and that rest follows when it exits.  The sums never go down
 * and end with everything counted once.
 */
START_TEST(test_carry_over_reload)
{
	struct scoreboard *old = scoreboard_create(2),
	                  *new = scoreboard_create(3);
	struct scoreboard_totals handed, last;
	struct metrics_pool p;

	old->slots[0].counters[COUNTER_IDEMPOTENT_REPLAYS] = 4;
	old->slots[0].restarts = 1;
	old->slots[1].restarts = 2; /* the reaper */
	old->slow_requests = 3;
	old->request_timeouts = 1;
	scoreboard_observe(&old->slots[0], 3, 200, 10);
	scoreboard_total(old, &handed);
	scoreboard_carry(new, &handed, NULL);
	metrics_collect(new, 2, &p);
	ck_assert_uint_eq(p.t.counters[COUNTER_IDEMPOTENT_REPLAYS], 4);
	ck_assert_uint_eq(p.t.routes[3].requests[1], 1);
	ck_assert_uint_eq(p.accepted, 1);
	ck_assert_uint_eq(p.t.slow_requests, 3);
	ck_assert_uint_eq(p.t.request_timeouts, 1);
	/* Both generations serve for a moment, and watch their requests. */
	old->slots[0].counters[COUNTER_IDEMPOTENT_REPLAYS]++;
	old->request_timeouts++;
	new->slow_requests++;
	scoreboard_observe(&old->slots[0], 3, 200, 2000);
	scoreboard_observe(&new->slots[1], 3, 503, 10);
	metrics_collect(new, 2, &p);
	ck_assert_uint_eq(p.t.routes[3].requests[1], 1);
	ck_assert_uint_eq(p.t.routes[3].requests[4], 1);
	/* The old one exits: its rest is carried. */
	scoreboard_total(old, &last);
	scoreboard_carry(new, &last, &handed);
	metrics_collect(new, 2, &p);
	ck_assert_uint_eq(p.t.counters[COUNTER_IDEMPOTENT_REPLAYS], 5);
	ck_assert_uint_eq(p.t.routes[3].requests[1], 2);
	ck_assert_uint_eq(p.t.routes[3].requests[4], 1);
	ck_assert_uint_eq(p.t.routes[3].buckets[0], 2);
	ck_assert_uint_eq(p.t.routes[3].buckets[1], 1);
	ck_assert_uint_eq(p.t.routes[3].duration_us, 2020);
	ck_assert_uint_eq(p.t.worker_restarts, 1);
	ck_assert_uint_eq(p.t.reaper_restarts, 2);
	ck_assert_uint_eq(p.t.slow_requests, 4);
	ck_assert_uint_eq(p.t.request_timeouts, 2);
	ck_assert_uint_eq(p.accepted, 3);
	scoreboard_free(old);
	scoreboard_free(new);
}
END_TEST

START_TEST(test_busy_raises_active_max)
{
	struct scoreboard *sb = scoreboard_create(4);

	scoreboard_busy(sb, 0, 3);
	ck_assert_uint_eq(sb->active_max, 1);
	scoreboard_busy(sb, 2, 3);
	ck_assert_uint_eq(sb->active_max, 2);
	sb->slots[0].state = WORKER_IDLE;
	sb->slots[2].state = WORKER_IDLE;
	scoreboard_busy(sb, 3, 3); /* the reaper's slot counts for nothing */
	scoreboard_busy(sb, 1, 3);
	ck_assert_uint_eq(sb->active_max, 2);
	ck_assert_int_eq(scoreboard_count_state(sb, 3, WORKER_BUSY), 1);
	scoreboard_free(sb);
}
END_TEST

/*
 * Every line is a comment (# HELP / # TYPE NAME ...) or a sample
 * `NAME{labels} VALUE` of a family whose TYPE came before it; no family is
 * announced twice.
 */
static void check_exposition(const char *text)
{
	char family[128] = "", line[512], prev[512] = "", help[160];
	const char *p = text;
	int types = 0;

	while (*p != '\0') {
		size_t n = strcspn(p, "\n");
		char name[128], rest[384];

		ck_assert_msg(n < sizeof(line), "a line too long");
		snprintf(prev, sizeof(prev), "%s", line);
		memcpy(line, p, n);
		line[n] = '\0';
		ck_assert_msg(p[n] == '\n', "the text ends without a newline");
		p += n + 1;
		if (sscanf(line, "# TYPE %127s %383s", name, rest) == 2) {
			ck_assert_msg(strcmp(name, family) != 0,
			    "TYPE %s twice", name);
			snprintf(help, sizeof(help), "# HELP %s ", name);
			ck_assert_msg(strncmp(prev, help, strlen(help)) == 0,
			    "no HELP before the TYPE of %s", name);
			snprintf(family, sizeof(family), "%s", name);
			types++;
			continue;
		}
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		ck_assert_msg(sscanf(line, "%127[a-z_]%383[^\n]", name, rest) ==
		        2,
		    "not a sample: %s", line);
		/* name, name_bucket/_sum/_count of a histogram */
		ck_assert_msg(strncmp(name, family, strlen(family)) == 0,
		    "%s outside its family %s", line, family);
		ck_assert_msg(rest[0] == ' ' || rest[0] == '{', "bad: %s",
		    line);
		ck_assert_msg(strchr(rest, ' ') != NULL, "no value: %s", line);
	}
	ck_assert_int_gt(types, 10);
}

START_TEST(test_render)
{
	struct scoreboard *sb = scoreboard_create(2);
	struct metrics_pool p;
	struct response res;
	const char *text;

	sb->slots[0].state = WORKER_IDLE;
	sb->slots[0].counters[COUNTER_DB_RETRIES_40P01] = 6;
	sb->slots[1].counters[COUNTER_ORDERS_EXPIRED] = 8;
	scoreboard_observe(&sb->slots[0], 0, 200, 1500);
	scoreboard_observe(&sb->slots[0], 0, 409, 3000000);
	scoreboard_observe(&sb->slots[0], -1, 404, 10);
	metrics_collect(sb, 1, &p);
	response_init(&res);
	metrics_render(&p, test_route_name, &res);
	text = text_of(&res);
	ck_assert_str_eq(res.content_type, METRICS_CONTENT_TYPE);
	check_exposition(text);
	ck_assert(has_line(text,
	    "stockade_http_requests_total{route=\"first\",code=\"2xx\"} 1"));
	ck_assert(has_line(text,
	    "stockade_http_requests_total{route=\"first\",code=\"4xx\"} 1"));
	ck_assert(has_line(text,
	    "stockade_http_requests_total{route=\"second\",code=\"5xx\"} 0"));
	ck_assert(has_line(text,
	    "stockade_http_requests_total{route=\"none\",code=\"4xx\"} 1"));
	/* No 1xx or 3xx series while nothing was answered so. */
	ck_assert_ptr_null(strstr(text, "code=\"1xx\""));
	ck_assert_ptr_null(strstr(text, "code=\"3xx\""));
	ck_assert(has_line(text,
	    "stockade_http_request_duration_seconds_"
	    "bucket{route=\"first\",le=\"0.001\"} 0"));
	ck_assert(has_line(text,
	    "stockade_http_request_duration_seconds_"
	    "bucket{route=\"first\",le=\"0.0025\"} 1"));
	ck_assert(has_line(text,
	    "stockade_http_request_duration_seconds_"
	    "bucket{route=\"first\",le=\"2.5\"} 1"));
	ck_assert(has_line(text,
	    "stockade_http_request_duration_seconds_"
	    "bucket{route=\"first\",le=\"5\"} 2"));
	ck_assert(has_line(text,
	    "stockade_http_request_duration_seconds_"
	    "bucket{route=\"first\",le=\"+Inf\"} 2"));
	ck_assert(has_line(text,
	    "stockade_http_request_duration_seconds_"
	    "count{route=\"first\"} 2"));
	ck_assert(has_line(text,
	    "stockade_http_request_duration_seconds_"
	    "sum{route=\"first\"} 3.001500"));
	ck_assert(has_line(text, "stockade_workers{state=\"idle\"} 1"));
	ck_assert(has_line(text,
	    "stockade_db_transaction_retries_total{sqlstate=\"40P01\"} 6"));
	ck_assert(has_line(text,
	    "stockade_db_transaction_retries_total{sqlstate=\"40001\"} 0"));
	ck_assert(
	    has_line(text, "stockade_reaper_expired_total{kind=\"order\"} 8"));
	/* The queue is written only when the kernel told it. */
	ck_assert_ptr_null(strstr(text, "stockade_listen_queue"));
	metrics_set_queue(&p, sb, 2, 64);
	metrics_render(&p, test_route_name, &res);
	text = text_of(&res);
	check_exposition(text);
	ck_assert(has_line(text, "stockade_listen_queue 2"));
	ck_assert(has_line(text, "stockade_listen_queue_length 64"));
	response_free(&res);
	scoreboard_free(sb);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_buckets);
	tcase_add_test(tc, test_observe);
	tcase_add_test(tc, test_collect);
	tcase_add_test(tc, test_carry_over_reload);
	tcase_add_test(tc, test_busy_raises_active_max);
	tcase_add_test(tc, test_render);
	suite_add_tcase(s, tc);
	return check_run(s);
}
