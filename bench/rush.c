/*
 * bench/rush.c: the load client of bench/run for a rush of distinct users,
 * which wrk cannot express: exactly one request per bearer token, each
 * token a different user, at most C requests in flight (libcurl's multi
 * interface, connections kept alive and reused like wrk's).  It records
 * every request's latency and status, and the problem+json "code" of error
 * answers, and prints one machine-readable line:
 *
 *   RUSH requests=N done=N concurrency=C seconds=X rps=X p50_us=N
 *        p90_us=N p99_us=N max_us=N first_2xx_us=N last_2xx_us=N
 *        after_last_2xx=N errors=N timeouts=N connects=N status_201=N
 *        status_409=N ... code_409_sold_out=N ...
 *
 * Latencies are libcurl's total time of each transfer, in microseconds;
 * last_2xx_us is when the last 2xx answer arrived, counted from the start
 * of the rush (so 2xx answers / last_2xx_us is the issue rate of a coupon
 * rush), and after_last_2xx how many transfers ended after it (over
 * seconds - last_2xx_us: the rate of a sold-out crowd); errors are
 * transfers that got no HTTP answer (timeouts among them).  A second mode mints
 * the tokens themselves, as `stockade token` would (HS256, the same claims),
 * thousands per second:
 *
 *   rush [-c C] [-n N] [-t MS] [-d BODY] [-H HEADER]... TOKENS URL
 *   rush mint SECRET_FILE FIRST_USER COUNT [ROLE [TTL_SECONDS]]
 *
 * Not part of the autotools build: bench/run compiles it with
 *   cc -std=c11 -O2 -Wall -Wextra -Werror -o rush bench/rush.c \
 *      bench/client.c -lcurl -lcrypto
 */
#define _POSIX_C_SOURCE 200809L

#include "client.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RUSH_TOKENS_FILE_MAX (512L * 1024 * 1024)
#define RUSH_REQUESTS_MAX 100000000L
#define RUSH_CONC_MAX 8192
#define RUSH_HEADERS_MAX 16 /* -H options */

/* The secret's bounds, as stockade's config_read_secret has them. */
#define RUSH_SECRET_MIN 32
#define RUSH_SECRET_MAX 4096

/* One transfer in flight. */
struct rush_slot {
	struct client_transfer t; /* first: client_transfer_of is the slot */
};

struct rush_stats {
	struct client_tally tally;
	unsigned long errors; /* no HTTP answer */
	unsigned long timeouts; /* among errors */
	long connects;
	uint64_t *latency_us; /* one per finished request */
	size_t done;
	uint64_t first_2xx_us, last_2xx_us; /* since the start; 0: none */
	size_t done_at_last_2xx; /* answers until then, that one included */
};

/* The command line of a rush. */
struct rush_args {
	long concurrency;
	long requests; /* 0: one per token */
	long timeout_ms;
	const char *body; /* NULL: an empty body */
	const char *headers[RUSH_HEADERS_MAX];
	int nheaders;
	const char *tokens_path;
	const char *url;
};

static void usage(void)
{
	fprintf(stderr,
	    "usage: rush [-c CONCURRENCY] [-n REQUESTS] [-t TIMEOUT_MS] "
	    "[-d BODY] [-H HEADER]... TOKENS URL\n"
	    "       rush mint SECRET_FILE FIRST_USER COUNT [ROLE "
	    "[TTL_SECONDS]]\n");
}

/*
 * Sets up the easy handle of a slot once: the URL, the method, the
 * timeouts, the answer's buffer.  Returns 0 or -1.
 */
static int slot_init(struct rush_slot *s, const struct rush_args *a)
{
	const char *body = a->body != NULL ? a->body : "";

	if (client_transfer_init(&s->t, a->timeout_ms) < 0 ||
	    curl_easy_setopt(s->t.easy, CURLOPT_URL, a->url) != CURLE_OK ||
	    curl_easy_setopt(s->t.easy, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(s->t.easy, CURLOPT_POSTFIELDSIZE,
	        (long)strlen(body)) != CURLE_OK)
		return -1;
	return 0;
}

/*
 * Starts a request on slot s with token tok: the Authorization header, the
 * caller's headers, and no Content-Type unless there is a body (libcurl
 * would send a form's).  Returns 0 or -1.
 */
static int slot_start(struct rush_slot *s, CURLM *multi,
    const struct rush_args *a, const char *tok)
{
	char auth[CLIENT_TOKEN_MAX + 32];
	struct curl_slist *h = NULL;
	int i;

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
	/* An empty value removes the header; "Expect:" avoids a 100 wait. */
	if (client_header_add(&h, auth) < 0 ||
	    client_header_add(&h,
	        a->body != NULL ? "Content-Type: application/json"
	                        : "Content-Type:") < 0 ||
	    client_header_add(&h, "Expect:") < 0)
		goto fail;
	for (i = 0; i < a->nheaders; i++)
		if (client_header_add(&h, a->headers[i]) < 0)
			goto fail;
	if (client_transfer_start(&s->t, multi, h) < 0)
		goto fail;
	return 0;
fail:
	curl_slist_free_all(h);
	return -1;
}

/* Records a finished transfer of slot s, which ended with rc, at t_us. */
static void slot_finish(struct rush_slot *s, CURLcode rc, uint64_t t_us,
    struct rush_stats *st)
{
	long status, connects = 0;
	uint64_t latency;
	int timed_out;

	status = client_transfer_result(&s->t, rc, &latency, &timed_out);
	curl_easy_getinfo(s->t.easy, CURLINFO_NUM_CONNECTS, &connects);
	st->latency_us[st->done++] = latency;
	st->connects += connects;
	if (status == 0) {
		st->errors++;
		st->timeouts += (unsigned long)timed_out;
		return;
	}
	client_tally_answer(&st->tally, status, s->t.answer);
	if (status >= 200 && status < 300) {
		if (st->first_2xx_us == 0)
			st->first_2xx_us = t_us;
		st->last_2xx_us = t_us;
		st->done_at_last_2xx = st->done;
	}
}

/* Prints the RUSH line for a rush of a->requests that took elapsed_us. */
static void report(const struct rush_args *a, struct rush_stats *st,
    uint64_t elapsed_us)
{
	double secs = (double)elapsed_us / 1e6;

	client_sort_u64(st->latency_us, st->done);
	printf("RUSH requests=%ld done=%zu concurrency=%ld seconds=%.6f "
	       "rps=%.1f p50_us=%" PRIu64 " p90_us=%" PRIu64 " p99_us=%" PRIu64
	       " max_us=%" PRIu64 " first_2xx_us=%" PRIu64
	       " last_2xx_us=%" PRIu64 " after_last_2xx=%zu"
	       " errors=%lu timeouts=%lu connects=%ld codes_dropped=%lu",
	    a->requests, st->done, a->concurrency, secs,
	    secs > 0 ? (double)st->done / secs : 0.0,
	    client_percentile_sorted(st->latency_us, st->done, 50),
	    client_percentile_sorted(st->latency_us, st->done, 90),
	    client_percentile_sorted(st->latency_us, st->done, 99),
	    st->done ? st->latency_us[st->done - 1] : 0, st->first_2xx_us,
	    st->last_2xx_us, st->done - st->done_at_last_2xx, st->errors,
	    st->timeouts, st->connects, st->tally.codes_dropped);
	client_tally_print(stdout, &st->tally);
	printf("\n");
}

/*
 * Runs the rush: request i carries token i (cycled when a->requests is
 * larger than ntok), at most a->concurrency in flight.  Returns 0 when
 * every request was run (whatever its answer), -1 on a local failure.
 */
static int rush(const struct rush_args *a, char **tokens, long ntok)
{
	struct rush_slot *slots = NULL;
	struct rush_stats st;
	size_t *idle = NULL, nidle = 0, i, nslots;
	long next = 0, running = 0;
	uint64_t t0;
	CURLM *multi = NULL;
	CURLMsg *msg;
	int still, left, rc = -1;

	memset(&st, 0, sizeof(st));
	nslots = (size_t)(a->concurrency < a->requests ? a->concurrency
	                                               : a->requests);
	if ((st.latency_us = calloc((size_t)a->requests,
	         sizeof(*st.latency_us))) == NULL ||
	    (slots = calloc(nslots, sizeof(*slots))) == NULL ||
	    (idle = calloc(nslots, sizeof(*idle))) == NULL) {
		fprintf(stderr, "rush: out of memory\n");
		goto out;
	}
	if ((multi = client_multi_create(nslots)) == NULL) {
		fprintf(stderr, "rush: cannot set up libcurl\n");
		goto out;
	}
	for (i = 0; i < nslots; i++) {
		if (slot_init(&slots[i], a) < 0) {
			fprintf(stderr, "rush: cannot set up a transfer\n");
			goto out;
		}
		idle[nidle++] = i;
	}
	t0 = client_now_us();
	while (next < a->requests || running > 0) {
		while (nidle > 0 && next < a->requests) {
			struct rush_slot *s = &slots[idle[nidle - 1]];

			if (slot_start(s, multi, a, tokens[next % ntok]) < 0) {
				fprintf(stderr,
				    "rush: cannot start a transfer\n");
				goto out;
			}
			nidle--;
			next++;
			running++;
		}
		if (curl_multi_perform(multi, &still) != CURLM_OK) {
			fprintf(stderr, "rush: curl_multi_perform failed\n");
			goto out;
		}
		while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
			struct rush_slot *s;

			if (msg->msg != CURLMSG_DONE)
				continue;
			s = (struct rush_slot *)(void *)client_transfer_of(msg);
			slot_finish(s, msg->data.result, client_now_us() - t0,
			    &st);
			client_transfer_end(&s->t, multi);
			idle[nidle++] = (size_t)(s - slots);
			running--;
		}
		if (running > 0 && (nidle == 0 || next == a->requests) &&
		    curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK) {
			fprintf(stderr, "rush: curl_multi_poll failed\n");
			goto out;
		}
	}
	report(a, &st, client_now_us() - t0);
	rc = 0;
out:
	for (i = 0; slots != NULL && i < nslots; i++)
		client_transfer_free(&slots[i].t, multi);
	if (multi != NULL)
		curl_multi_cleanup(multi);
	free(idle);
	free(slots);
	free(st.latency_us);
	return rc;
}

/* base64url without padding (RFC 7515 section 2) of src into dst. */
static size_t b64url(char *dst, const unsigned char *src, size_t n)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0;

	for (i = 0; i < n; i++) {
		acc = acc << 8 | src[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			dst[o++] = abc[acc >> bits & 63];
		}
	}
	if (bits > 0)
		dst[o++] = abc[acc << (6 - bits) & 63];
	dst[o] = '\0';
	return o;
}

/*
 * rush mint: prints COUNT tokens for users FIRST_USER.. with ROLE (user)
 * valid for TTL_SECONDS (86400), exactly as `stockade token` mints them:
 * header {"alg":"HS256","typ":"JWT"}, claims sub (a string), role, iat,
 * exp, HMAC-SHA-256 under the secret file's bytes less one trailing
 * newline (src/auth.c, src/config.c).  Returns the exit status.
 */
static int mint(int argc, char **argv)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char *secret, payload[256], token[512];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len;
	long first, count, ttl = 86400, i;
	size_t slen, hlen, n;
	const char *role = "user";
	time_t now = time(NULL);
	int r, rc = 1;

	if (argc < 5 || argc > 7 ||
	    client_parse_long(argv[3], 1, LONG_MAX / 2, &first) < 0 ||
	    client_parse_long(argv[4], 1, 10000000, &count) < 0 ||
	    (argc > 5 && strcmp(argv[5], "user") != 0 &&
	        strcmp(argv[5], "admin") != 0) ||
	    (argc > 6 && client_parse_long(argv[6], 1, 315360000, &ttl) < 0)) {
		usage();
		return 2;
	}
	if (argc > 5)
		role = argv[5];
	if ((secret = client_read_file(argv[2], RUSH_SECRET_MAX + 2, &slen)) ==
	    NULL)
		return 1;
	if (slen > 0 && secret[slen - 1] == '\n')
		slen--;
	if (slen > 0 && secret[slen - 1] == '\r')
		slen--;
	if (slen < RUSH_SECRET_MIN || slen > RUSH_SECRET_MAX) {
		fprintf(stderr, "rush: %s: the secret must be %d to %d bytes\n",
		    argv[2], RUSH_SECRET_MIN, RUSH_SECRET_MAX);
		goto out;
	}
	hlen = b64url(token, (const unsigned char *)header, sizeof(header) - 1);
	token[hlen++] = '.';
	for (i = 0; i < count; i++) {
		r = snprintf(payload, sizeof(payload),
		    "{\"sub\":\"%ld\",\"role\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
		    first + i, role, (long long)now, (long long)now + ttl);
		if (r < 0 || (size_t)r >= sizeof(payload))
			goto out;
		n = hlen +
		    b64url(token + hlen, (unsigned char *)payload, (size_t)r);
		if (HMAC(EVP_sha256(), secret, (int)slen,
		        (unsigned char *)token, n, mac, &mac_len) == NULL) {
			fprintf(stderr, "rush: HMAC failed\n");
			goto out;
		}
		token[n++] = '.';
		n += b64url(token + n, mac, mac_len);
		if (puts(token) == EOF) {
			fprintf(stderr, "rush: write: %s\n", strerror(errno));
			goto out;
		}
	}
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	memset(secret, 0, slen);
	free(secret);
	return rc;
}

int main(int argc, char **argv)
{
	struct rush_args a = { .concurrency = 64, .timeout_ms = 30000 };
	char *buf, **tokens = NULL;
	size_t len;
	long ntok;
	int c, rc;

	if (argc > 1 && strcmp(argv[1], "mint") == 0)
		return mint(argc, argv);
	while ((c = getopt(argc, argv, "c:n:t:d:H:")) != -1) {
		switch (c) {
		case 'c':
			if (client_parse_long(optarg, 1, RUSH_CONC_MAX,
			        &a.concurrency) < 0) {
				usage();
				return 2;
			}
			break;
		case 'n':
			if (client_parse_long(optarg, 1, RUSH_REQUESTS_MAX,
			        &a.requests) < 0) {
				usage();
				return 2;
			}
			break;
		case 't':
			if (client_parse_long(optarg, 1, 3600000,
			        &a.timeout_ms) < 0) {
				usage();
				return 2;
			}
			break;
		case 'd':
			a.body = optarg;
			break;
		case 'H':
			if (a.nheaders == RUSH_HEADERS_MAX ||
			    strpbrk(optarg, "\r\n") != NULL) {
				usage();
				return 2;
			}
			a.headers[a.nheaders++] = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage();
		return 2;
	}
	a.tokens_path = argv[optind];
	a.url = argv[optind + 1];
	if ((buf = client_read_file(a.tokens_path, RUSH_TOKENS_FILE_MAX,
	         &len)) == NULL)
		return 1;
	if ((ntok = client_split_lines(buf, len, client_token_chars,
	         CLIENT_TOKEN_MAX, "tokens", &tokens)) <= 0) {
		if (ntok == 0)
			fprintf(stderr, "rush: %s: no tokens\n", a.tokens_path);
		free(buf);
		return 1;
	}
	if (a.requests == 0)
		a.requests = ntok;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "rush: curl_global_init failed\n");
		rc = 1;
	} else {
		rc = rush(&a, tokens, ntok) == 0 ? 0 : 1;
		curl_global_cleanup();
	}
	free(tokens);
	free(buf);
	return rc;
}
