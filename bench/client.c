/*
 * bench/client.c: the helpers bench/rush.c and bench/shop.c share (see
 * client.h).  Links with libcurl.
 */
#define _POSIX_C_SOURCE 200809L

#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char client_token_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
const char client_digits[] = "0123456789";

uint64_t client_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int client_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

char *client_read_file(const char *path, long max, size_t *len)
{
	FILE *f;
	char *buf = NULL;
	long size;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "bench: %s: cannot size it\n", path);
		goto fail;
	}
	if (size > max) {
		fprintf(stderr, "bench: %s: larger than %ld bytes\n", path,
		    max);
		goto fail;
	}
	if ((buf = malloc((size_t)size + 1)) == NULL) {
		fprintf(stderr, "bench: out of memory\n");
		goto fail;
	}
	if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "bench: %s: short read\n", path);
		goto fail;
	}
	buf[size] = '\0';
	fclose(f);
	*len = (size_t)size;
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

/* Appends line to *lines (n of cap).  0, or -1 when out of memory. */
static int lines_push(char ***lines, long *n, long *cap, char *line)
{
	char **nl;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 1024;
		if ((nl = realloc(*lines, (size_t)*cap * sizeof(**lines))) ==
		    NULL)
			return -1;
		*lines = nl;
	}
	(*lines)[(*n)++] = line;
	return 0;
}

long client_split_lines(char *buf, size_t len, const char *allowed,
    size_t max_len, const char *what, char ***lines)
{
	char **t = NULL, *p = buf, *end = buf + len, *nl;
	long n = 0, cap = 0, lineno = 0;
	size_t l;

	while (p < end) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		*nl = '\0';
		l = (size_t)(nl - p);
		if (l > 0 && p[l - 1] == '\r')
			p[--l] = '\0';
		if (l > max_len || strspn(p, allowed) != l) {
			fprintf(stderr,
			    "bench: %s line %ld: not one (at most %zu of "
			    "\"%s\")\n",
			    what, lineno, max_len, allowed);
			goto fail;
		}
		if (l > 0 && lines_push(&t, &n, &cap, p) < 0) {
			fprintf(stderr, "bench: out of memory\n");
			goto fail;
		}
		p = nl + 1;
	}
	*lines = t;
	return n;
fail:
	free(t);
	return -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

void client_sort_u64(uint64_t *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_u64);
}

uint64_t client_percentile_sorted(const uint64_t *v, size_t n, unsigned p)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (n * p + 99) / 100;
	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

/* The code of a problem+json body into name; 0, or -1 if unreadable. */
static int problem_code(const char *body, char *name, size_t size)
{
	static const char key[] = "\"code\":\"";
	const char *p = strstr(body, key);
	size_t l;

	if (p == NULL) {
		snprintf(name, size, "none");
		return 0;
	}
	p += sizeof(key) - 1;
	l = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
	if (l == 0 || l >= size || p[l] != '"')
		return -1;
	memcpy(name, p, l);
	name[l] = '\0';
	return 0;
}

void client_tally_answer(struct client_tally *t, long status, const char *body)
{
	char name[CLIENT_CODE_MAX];
	size_t i;

	if (status < 0 || status >= CLIENT_STATUS_MAX)
		return;
	t->status[status]++;
	if (status < 400)
		return;
	if (problem_code(body, name, sizeof(name)) < 0) {
		t->codes_dropped++;
		return;
	}
	for (i = 0; i < t->ncodes; i++) {
		if (t->codes[i].status == status &&
		    strcmp(t->codes[i].name, name) == 0) {
			t->codes[i].count++;
			return;
		}
	}
	if (t->ncodes == CLIENT_CODES) {
		t->codes_dropped++;
		return;
	}
	t->codes[t->ncodes].status = status;
	memcpy(t->codes[t->ncodes].name, name, strlen(name) + 1);
	t->codes[t->ncodes++].count = 1;
}

void client_tally_print(FILE *f, const struct client_tally *t)
{
	size_t i;

	for (i = 0; i < CLIENT_STATUS_MAX; i++)
		if (t->status[i] > 0)
			fprintf(f, " status_%zu=%lu", i, t->status[i]);
	for (i = 0; i < t->ncodes; i++)
		fprintf(f, " code_%ld_%s=%lu", t->codes[i].status,
		    t->codes[i].name, t->codes[i].count);
}

/* libcurl's write callback: keeps the answer's first bytes. */
static size_t client_on_answer(char *data, size_t size, size_t nmemb, void *arg)
{
	struct client_transfer *t = arg;
	size_t n = size * nmemb, room = sizeof(t->answer) - 1 - t->answer_len;
	size_t take = n < room ? n : room;

	memcpy(t->answer + t->answer_len, data, take);
	t->answer_len += take;
	t->answer[t->answer_len] = '\0';
	return n;
}

CURLM *client_multi_create(size_t conns)
{
	CURLM *multi = curl_multi_init();

	if (multi != NULL &&
	    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)conns) !=
	        CURLM_OK) {
		curl_multi_cleanup(multi);
		return NULL;
	}
	return multi;
}

int client_transfer_init(struct client_transfer *t, long timeout_ms)
{
	if ((t->easy = curl_easy_init()) == NULL)
		return -1;
	if (curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, timeout_ms) !=
	        CURLE_OK ||
	    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION,
	        client_on_answer) != CURLE_OK ||
	    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t) != CURLE_OK ||
	    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t) != CURLE_OK ||
	    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf) !=
	        CURLE_OK)
		return -1;
	return 0;
}

int client_header_add(struct curl_slist **h, const char *line)
{
	struct curl_slist *nh = curl_slist_append(*h, line);

	if (nh == NULL)
		return -1;
	*h = nh;
	return 0;
}

int client_transfer_start(struct client_transfer *t, CURLM *multi,
    struct curl_slist *h)
{
	t->answer_len = 0;
	t->answer[0] = '\0';
	t->errbuf[0] = '\0';
	if (curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, h) != CURLE_OK ||
	    curl_multi_add_handle(multi, t->easy) != CURLM_OK)
		return -1;
	t->headers = h;
	return 0;
}

long client_transfer_result(struct client_transfer *t, CURLcode rc,
    uint64_t *latency_us, int *timed_out)
{
	static unsigned long described;
	curl_off_t total = 0;
	long status = 0;

	curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &total);
	*latency_us = total > 0 ? (uint64_t)total : 0;
	*timed_out = rc == CURLE_OPERATION_TIMEDOUT;
	if (rc == CURLE_OK &&
	    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status) ==
	        CURLE_OK &&
	    status >= 100 && status < CLIENT_STATUS_MAX)
		return status;
	if (described++ < CLIENT_ERRMSG_MAX)
		fprintf(stderr, "bench: transfer failed: %s\n",
		    t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(rc));
	return 0;
}

struct client_transfer *client_transfer_of(CURLMsg *msg)
{
	char *priv = NULL;

	curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
	return (struct client_transfer *)(void *)priv;
}

void client_transfer_end(struct client_transfer *t, CURLM *multi)
{
	curl_multi_remove_handle(multi, t->easy);
	curl_slist_free_all(t->headers);
	t->headers = NULL;
}

void client_transfer_free(struct client_transfer *t, CURLM *multi)
{
	if (t->easy == NULL)
		return;
	if (t->headers != NULL)
		client_transfer_end(t, multi);
	curl_easy_cleanup(t->easy);
	t->easy = NULL;
}
