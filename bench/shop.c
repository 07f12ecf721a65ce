/*
 * bench/shop.c: the mixed-shop load client of bench/run.  CLIENTS shoppers
 * each keep one request in flight for SECONDS (libcurl's multi interface,
 * connections kept alive), choosing every next request at random by the
 * mix, in percent (-m BROWSE,ORDER,PAY,COUPON, default 80,10,5,5):
 *
 *   browse  GET /api/v1/products?after=A (the page of PRODUCTS: A is their
 *           smallest id less one, so that what earlier runs created does
 *           not change the page) or /api/v1/products/ID, half and half,
 *           without a token, ID one of PRODUCTS
 *   order   POST /api/v1/orders, one unit of an option of OPTIONS, as a
 *           user of USER_TOKENS picked at random
 *   pay     POST /api/v1/orders/ID/pay, no body, of the oldest order this
 *           run placed and did not pay yet, as the user who placed it (an
 *           order instead while there is none: counted in pay_as_order)
 *   coupon  POST /api/v1/coupons/POLICY/issue as the next user of
 *           COUPON_TOKENS (cycled)
 *
 * It records every request's latency (libcurl's total time) and answer by
 * class, and prints machine-readable lines:
 *
 *   SHOP seconds=X requests=N rps=X errors=N timeouts=N pay_as_order=N
 *        unpaid=N unpaid_dropped=N ids_unread=N
 *   SHOP_CLASS class=browse requests=N rps=X p50_us=N p90_us=N p99_us=N
 *        max_us=N errors=N timeouts=N status_200=N ... code_409_NAME=N ...
 *
 * errors are transfers that got no HTTP answer (timeouts among them);
 * unpaid is what was left of the orders to pay; ids_unread are 201 answers
 * to an order whose id could not be read (a defect).
 *
 *   shop [-c CLIENTS] [-T SECONDS] [-t TIMEOUT_MS] [-m B,O,P,C] [-s SEED]
 *        BASE_URL USER_TOKENS COUPON_TOKENS PRODUCTS OPTIONS POLICY
 *
 * Not part of the autotools build: bench/run compiles it with
 *   cc -std=c11 -O2 -Wall -Wextra -Werror -o shop bench/shop.c \
 *      bench/client.c -lcurl
 */
#define _POSIX_C_SOURCE 200809L

#include "client.h"

#include <curl/curl.h>

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHOP_FILE_MAX (512L * 1024 * 1024)
#define SHOP_CLIENTS_MAX 8192
#define SHOP_BASE_MAX 200 /* BASE_URL's length */
#define SHOP_ID_MAX 20 /* digits of an id */
#define SHOP_UNPAID_MAX 65536 /* orders waiting to be paid */

enum shop_class { SHOP_BROWSE, SHOP_ORDER, SHOP_PAY, SHOP_COUPON, SHOP_NCLASS };

static const char *const shop_class_names[SHOP_NCLASS] = { "browse", "order",
	"pay", "coupon" };

/* The answers and latencies of one class of request. */
struct shop_class_stats {
	struct client_tally tally;
	uint64_t *latency_us;
	size_t done, cap;
	unsigned long errors, timeouts;
};

/* An order placed and not paid yet, and the user (token index) who owns it. */
struct shop_unpaid {
	long long order_id;
	long user;
};

/* The orders to pay, oldest first (a ring). */
struct shop_queue {
	struct shop_unpaid v[SHOP_UNPAID_MAX];
	size_t head, len;
	unsigned long dropped; /* the oldest, pushed out when full */
};

/* One shopper: its transfer in flight. */
struct shop_slot {
	struct client_transfer t; /* first: client_transfer_of is the slot */
	enum shop_class class;
	long user; /* index in the user tokens (orders and pays) */
	char url[SHOP_BASE_MAX + 128];
	char body[128];
};

/* A file of lines and the buffer they point into. */
struct shop_lines {
	char *buf;
	char **line;
	long n;
};

struct shop_args {
	long clients;
	long seconds;
	long timeout_ms;
	long mix[SHOP_NCLASS]; /* percent, summing to 100 */
	uint64_t seed;
	const char *base;
	long long policy;
	long long list_after; /* the smallest product id less one */
	struct shop_lines users, coupon_users, products, options;
};

/* The state of a run. */
struct shop_run {
	const struct shop_args *a;
	struct shop_class_stats stats[SHOP_NCLASS];
	struct shop_queue *unpaid;
	uint64_t rng;
	long next_coupon_user;
	unsigned long pay_as_order, ids_unread;
	size_t done;
};

static void usage(void)
{
	fprintf(stderr,
	    "usage: shop [-c CLIENTS] [-T SECONDS] [-t TIMEOUT_MS] "
	    "[-m BROWSE,ORDER,PAY,COUPON] [-s SEED]\n"
	    "            BASE_URL USER_TOKENS COUPON_TOKENS PRODUCTS OPTIONS "
	    "POLICY\n");
}

/* xorshift64*: fast, and the same sequence for the same seed. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* A number in [0, n), n > 0. */
static long rng_below(uint64_t *s, long n)
{
	return (long)(rng_next(s) % (uint64_t)n);
}

static void lines_free(struct shop_lines *l)
{
	free(l->line);
	free(l->buf);
	memset(l, 0, sizeof(*l));
}

/* Reads path into l: its non-empty lines, each of allowed.  0, or -1. */
static int lines_read(struct shop_lines *l, const char *path,
    const char *allowed, size_t max_len, const char *what)
{
	size_t len;

	if ((l->buf = client_read_file(path, SHOP_FILE_MAX, &len)) == NULL)
		return -1;
	l->n =
	    client_split_lines(l->buf, len, allowed, max_len, what, &l->line);
	if (l->n <= 0) {
		if (l->n == 0)
			fprintf(stderr, "shop: %s: no %s\n", path, what);
		lines_free(l);
		return -1;
	}
	return 0;
}

/* Appends an order to pay; a full queue forgets its oldest. */
static void queue_push(struct shop_queue *q, long long order_id, long user)
{
	if (q->len == SHOP_UNPAID_MAX) {
		q->head = (q->head + 1) % SHOP_UNPAID_MAX;
		q->len--;
		q->dropped++;
	}
	q->v[(q->head + q->len) % SHOP_UNPAID_MAX] =
	    (struct shop_unpaid){ order_id, user };
	q->len++;
}

/* Takes the oldest order to pay into *u.  0, or -1 when there is none. */
static int queue_pop(struct shop_queue *q, struct shop_unpaid *u)
{
	if (q->len == 0)
		return -1;
	*u = q->v[q->head];
	q->head = (q->head + 1) % SHOP_UNPAID_MAX;
	q->len--;
	return 0;
}

/* The class of the next request, by the mix. */
static enum shop_class pick_class(struct shop_run *r)
{
	long x = rng_below(&r->rng, 100), c;

	for (c = 0; c < SHOP_NCLASS - 1; c++) {
		if (x < r->a->mix[c])
			return (enum shop_class)c;
		x -= r->a->mix[c];
	}
	return SHOP_COUPON;
}

/*
 * Fills the slot's URL and body for its next request, of a class picked
 * by the mix; sets *token to the bearer token to send (NULL: none).
 * Returns 0, or -1 when a URL does not fit (it always does: the base's
 * length is bounded).
 */
static int plan_request(struct shop_run *r, struct shop_slot *s,
    const char **token)
{
	const struct shop_args *a = r->a;
	struct shop_unpaid u;
	int n;

	s->class = pick_class(r);
	s->body[0] = '\0';
	*token = NULL;
	if (s->class == SHOP_PAY && queue_pop(r->unpaid, &u) < 0) {
		r->pay_as_order++;
		s->class = SHOP_ORDER;
	}
	switch (s->class) {
	case SHOP_BROWSE:
		if (rng_below(&r->rng, 2) == 0)
			n = snprintf(s->url, sizeof(s->url),
			    "%s/api/v1/products?after=%lld", a->base,
			    a->list_after);
		else
			n = snprintf(s->url, sizeof(s->url),
			    "%s/api/v1/products/%s", a->base,
			    a->products
			        .line[rng_below(&r->rng, a->products.n)]);
		break;
	case SHOP_ORDER:
		s->user = rng_below(&r->rng, a->users.n);
		*token = a->users.line[s->user];
		n = snprintf(s->url, sizeof(s->url), "%s/api/v1/orders",
		    a->base);
		snprintf(s->body, sizeof(s->body),
		    "{\"items\":[{\"option_id\":%s,\"quantity\":1}]}",
		    a->options.line[rng_below(&r->rng, a->options.n)]);
		break;
	case SHOP_PAY:
		s->user = u.user;
		*token = a->users.line[u.user];
		n = snprintf(s->url, sizeof(s->url),
		    "%s/api/v1/orders/%lld/pay", a->base, u.order_id);
		break;
	default:
		*token = a->coupon_users.line[r->next_coupon_user];
		r->next_coupon_user =
		    (r->next_coupon_user + 1) % a->coupon_users.n;
		n = snprintf(s->url, sizeof(s->url),
		    "%s/api/v1/coupons/%lld/issue", a->base, a->policy);
		break;
	}
	return n > 0 && (size_t)n < sizeof(s->url) ? 0 : -1;
}

/* Starts the slot's next request.  0, or -1. */
static int slot_start(struct shop_run *r, struct shop_slot *s, CURLM *multi)
{
	char auth[CLIENT_TOKEN_MAX + 32];
	struct curl_slist *h = NULL;
	const char *token;
	size_t blen;
	int post;

	if (plan_request(r, s, &token) < 0)
		return -1;
	post = s->class != SHOP_BROWSE;
	blen = strlen(s->body);
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		if (client_header_add(&h, auth) < 0)
			goto fail;
	}
	/* An empty value removes a header; "Expect:" avoids a 100 wait. */
	if (client_header_add(&h,
	        blen > 0 ? "Content-Type: application/json" : "Content-Type:") <
	        0 ||
	    client_header_add(&h, "Expect:") < 0)
		goto fail;
	if (curl_easy_setopt(s->t.easy, CURLOPT_URL, s->url) != CURLE_OK)
		goto fail;
	if (post ? curl_easy_setopt(s->t.easy, CURLOPT_POSTFIELDS, s->body) !=
	                CURLE_OK ||
	            curl_easy_setopt(s->t.easy, CURLOPT_POSTFIELDSIZE,
	                (long)blen) != CURLE_OK
	         : curl_easy_setopt(s->t.easy, CURLOPT_HTTPGET, 1L) != CURLE_OK)
		goto fail;
	if (client_transfer_start(&s->t, multi, h) < 0)
		goto fail;
	return 0;
fail:
	curl_slist_free_all(h);
	return -1;
}

/*
 * The "id" of an order's JSON (PostgreSQL's json_build_object writes
 * `"id" : 12`).  0, or -1 when there is none.
 */
static int answer_id(const char *answer, long long *id)
{
	const char *p = strstr(answer, "\"id\"");
	char *end;

	if (p == NULL)
		return -1;
	p += 4;
	p += strspn(p, " ");
	if (*p++ != ':')
		return -1;
	p += strspn(p, " ");
	if (strspn(p, client_digits) == 0 ||
	    strspn(p, client_digits) > SHOP_ID_MAX)
		return -1;
	*id = strtoll(p, &end, 10);
	return *id > 0 ? 0 : -1;
}

/* Appends a latency to a class.  0, or -1 when out of memory. */
static int stats_add(struct shop_class_stats *c, uint64_t us)
{
	uint64_t *v;

	if (c->done == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 4096;
		if ((v = realloc(c->latency_us, c->cap * sizeof(*v))) == NULL)
			return -1;
		c->latency_us = v;
	}
	c->latency_us[c->done++] = us;
	return 0;
}

/* Records a finished transfer of slot s, which ended with rc.  0, or -1. */
static int slot_finish(struct shop_run *r, struct shop_slot *s, CURLcode rc)
{
	struct shop_class_stats *c = &r->stats[s->class];
	uint64_t latency;
	long long id;
	int timed_out;
	long status;

	status = client_transfer_result(&s->t, rc, &latency, &timed_out);
	if (stats_add(c, latency) < 0)
		return -1;
	r->done++;
	if (status == 0) {
		c->errors++;
		c->timeouts += (unsigned long)timed_out;
		return 0;
	}
	client_tally_answer(&c->tally, status, s->t.answer);
	if (s->class == SHOP_ORDER && status == 201) {
		if (answer_id(s->t.answer, &id) < 0)
			r->ids_unread++;
		else
			queue_push(r->unpaid, id, s->user);
	}
	return 0;
}

/* Prints the SHOP and SHOP_CLASS lines of a run that took elapsed_us. */
static void report(struct shop_run *r, uint64_t elapsed_us)
{
	double secs = (double)elapsed_us / 1e6;
	unsigned long errors = 0, timeouts = 0;
	struct shop_class_stats *c;
	int k;

	for (k = 0; k < SHOP_NCLASS; k++) {
		errors += r->stats[k].errors;
		timeouts += r->stats[k].timeouts;
	}
	printf("SHOP seconds=%.6f requests=%zu rps=%.1f errors=%lu "
	       "timeouts=%lu pay_as_order=%lu unpaid=%zu unpaid_dropped=%lu "
	       "ids_unread=%lu clients=%ld\n",
	    secs, r->done, secs > 0 ? (double)r->done / secs : 0.0, errors,
	    timeouts, r->pay_as_order, r->unpaid->len, r->unpaid->dropped,
	    r->ids_unread, r->a->clients);
	for (k = 0; k < SHOP_NCLASS; k++) {
		c = &r->stats[k];
		client_sort_u64(c->latency_us, c->done);
		printf("SHOP_CLASS class=%s requests=%zu rps=%.1f "
		       "p50_us=%" PRIu64 " p90_us=%" PRIu64 " p99_us=%" PRIu64
		       " max_us=%" PRIu64 " errors=%lu timeouts=%lu "
		       "codes_dropped=%lu",
		    shop_class_names[k], c->done,
		    secs > 0 ? (double)c->done / secs : 0.0,
		    client_percentile_sorted(c->latency_us, c->done, 50),
		    client_percentile_sorted(c->latency_us, c->done, 90),
		    client_percentile_sorted(c->latency_us, c->done, 99),
		    c->done ? c->latency_us[c->done - 1] : 0, c->errors,
		    c->timeouts, c->tally.codes_dropped);
		client_tally_print(stdout, &c->tally);
		printf("\n");
	}
}

/* Moves every finished transfer to the idle list.  0, or -1. */
static int reap(struct shop_run *r, CURLM *multi, struct shop_slot *slots,
    size_t *idle, size_t *nidle, long *running)
{
	struct shop_slot *s;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		s = (struct shop_slot *)(void *)client_transfer_of(msg);
		if (slot_finish(r, s, msg->data.result) < 0)
			return -1;
		client_transfer_end(&s->t, multi);
		idle[(*nidle)++] = (size_t)(s - slots);
		(*running)--;
	}
	return 0;
}

/*
 * Runs the shop: every shopper starts a new request as soon as its last
 * one is answered, until a->seconds have passed; then the requests in
 * flight are waited for.  0, or -1 on a local failure.
 */
static int shop(struct shop_run *r, size_t nslots)
{
	struct shop_slot *slots = NULL;
	size_t *idle = NULL, nidle = 0, i;
	long running = 0;
	uint64_t t0, end;
	CURLM *multi = NULL;
	int still, rc = -1;

	if ((slots = calloc(nslots, sizeof(*slots))) == NULL ||
	    (idle = calloc(nslots, sizeof(*idle))) == NULL) {
		fprintf(stderr, "shop: out of memory\n");
		goto out;
	}
	if ((multi = client_multi_create(nslots)) == NULL) {
		fprintf(stderr, "shop: cannot set up libcurl\n");
		goto out;
	}
	for (i = 0; i < nslots; i++) {
		if (client_transfer_init(&slots[i].t, r->a->timeout_ms) < 0) {
			fprintf(stderr, "shop: cannot set up a transfer\n");
			goto out;
		}
		idle[nidle++] = i;
	}
	t0 = client_now_us();
	end = t0 + (uint64_t)r->a->seconds * 1000000u;
	for (;;) {
		int open = client_now_us() < end;

		while (open && nidle > 0) {
			if (slot_start(r, &slots[idle[nidle - 1]], multi) < 0) {
				fprintf(stderr,
				    "shop: cannot start a transfer\n");
				goto out;
			}
			nidle--;
			running++;
		}
		if (!open && running == 0)
			break;
		if (curl_multi_perform(multi, &still) != CURLM_OK ||
		    reap(r, multi, slots, idle, &nidle, &running) < 0) {
			fprintf(stderr, "shop: curl_multi_perform failed\n");
			goto out;
		}
		if (running > 0 && nidle == 0 &&
		    curl_multi_poll(multi, NULL, 0, 100, NULL) != CURLM_OK) {
			fprintf(stderr, "shop: curl_multi_poll failed\n");
			goto out;
		}
	}
	report(r, client_now_us() - t0);
	rc = 0;
out:
	for (i = 0; slots != NULL && i < nslots; i++)
		client_transfer_free(&slots[i].t, multi);
	if (multi != NULL)
		curl_multi_cleanup(multi);
	free(idle);
	free(slots);
	return rc;
}

/* Parses -m BROWSE,ORDER,PAY,COUPON (percentages summing to 100). */
static int parse_mix(const char *s, long mix[SHOP_NCLASS])
{
	char buf[64], *tok, *save = NULL;
	long sum = 0;
	int k = 0;

	if (strlen(s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, strlen(s) + 1);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (k == SHOP_NCLASS ||
		    client_parse_long(tok, 0, 100, &mix[k]) < 0)
			return -1;
		sum += mix[k++];
	}
	return k == SHOP_NCLASS && sum == 100 ? 0 : -1;
}

/* Parses the options into a; returns optind's first operand or -1. */
static int parse_options(int argc, char **argv, struct shop_args *a)
{
	long seed;
	int c;

	while ((c = getopt(argc, argv, "c:T:t:m:s:")) != -1) {
		switch (c) {
		case 'c':
			if (client_parse_long(optarg, 1, SHOP_CLIENTS_MAX,
			        &a->clients) < 0)
				return -1;
			break;
		case 'T':
			if (client_parse_long(optarg, 1, 86400, &a->seconds) <
			    0)
				return -1;
			break;
		case 't':
			if (client_parse_long(optarg, 1, 3600000,
			        &a->timeout_ms) < 0)
				return -1;
			break;
		case 'm':
			if (parse_mix(optarg, a->mix) < 0)
				return -1;
			break;
		case 's':
			if (client_parse_long(optarg, 1, 2147483647L, &seed) <
			    0)
				return -1;
			a->seed = (uint64_t)seed;
			break;
		default:
			return -1;
		}
	}
	return argc - optind == 6 ? optind : -1;
}

static void args_free(struct shop_args *a)
{
	lines_free(&a->users);
	lines_free(&a->coupon_users);
	lines_free(&a->products);
	lines_free(&a->options);
}

/* Reads the operands from argv[first]: BASE_URL and the files.  0, or -1. */
static int read_operands(char **argv, struct shop_args *a)
{
	long policy;

	a->base = argv[0];
	if (strlen(a->base) > SHOP_BASE_MAX ||
	    client_parse_long(argv[5], 1, 2147483647L, &policy) < 0) {
		usage();
		return -1;
	}
	a->policy = policy;
	if (lines_read(&a->users, argv[1], client_token_chars, CLIENT_TOKEN_MAX,
	        "user tokens") < 0 ||
	    lines_read(&a->coupon_users, argv[2], client_token_chars,
	        CLIENT_TOKEN_MAX, "coupon tokens") < 0 ||
	    lines_read(&a->products, argv[3], client_digits, SHOP_ID_MAX,
	        "product ids") < 0 ||
	    lines_read(&a->options, argv[4], client_digits, SHOP_ID_MAX,
	        "option ids") < 0)
		return -1;
	a->list_after = LLONG_MAX;
	for (long i = 0; i < a->products.n; i++) {
		long long id = strtoll(a->products.line[i], NULL, 10);

		if (id < 1 || id == LLONG_MAX) {
			fprintf(stderr, "shop: product id 0 or too large\n");
			return -1;
		}
		if (id - 1 < a->list_after)
			a->list_after = id - 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct shop_args a = { .clients = 64,
		.seconds = 60,
		.timeout_ms = 30000,
		.mix = { 80, 10, 5, 5 },
		.seed = 1 };
	struct shop_run r;
	int first, k, rc = 1;

	memset(&r, 0, sizeof(r));
	if ((first = parse_options(argc, argv, &a)) < 0) {
		usage();
		return 2;
	}
	if (read_operands(argv + first, &a) < 0)
		goto out;
	r.a = &a;
	r.rng = a.seed;
	if ((r.unpaid = calloc(1, sizeof(*r.unpaid))) == NULL) {
		fprintf(stderr, "shop: out of memory\n");
		goto out;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "shop: curl_global_init failed\n");
		goto out;
	}
	rc = shop(&r, (size_t)a.clients) == 0 ? 0 : 1;
	curl_global_cleanup();
out:
	for (k = 0; k < SHOP_NCLASS; k++)
		free(r.stats[k].latency_us);
	free(r.unpaid);
	args_free(&a);
	return rc;
}
