/*
 * bench/client.h: what the load clients of bench/run (rush.c, shop.c)
 * share: the clock, option parsing, reading token files, percentiles and
 * the tally of HTTP statuses and problem codes, and the libcurl transfers
 * they keep in flight with the multi interface.  Not part of the autotools
 * build: bench/run compiles it beside each client.
 */
#ifndef BENCH_CLIENT_H
#define BENCH_CLIENT_H

#include <curl/curl.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLIENT_TOKEN_MAX 4096 /* stockade's AUTH_TOKEN_MAX */
#define CLIENT_CODE_MAX 48 /* longest problem code recorded */
#define CLIENT_CODES 32 /* distinct (status, code) pairs recorded */
#define CLIENT_STATUS_MAX 600 /* HTTP statuses are 100..599 */
#define CLIENT_ANSWER_KEEP 1024 /* bytes of each answer kept, for its code */
#define CLIENT_ERRMSG_MAX 5 /* transport errors described on stderr */

/* Answers by status, and error answers by their problem+json code. */
struct client_code {
	long status;
	char name[CLIENT_CODE_MAX];
	unsigned long count;
};

struct client_tally {
	unsigned long status[CLIENT_STATUS_MAX];
	struct client_code codes[CLIENT_CODES];
	size_t ncodes;
	unsigned long
	    codes_dropped; /* codes past CLIENT_CODES, or unreadable */
};

/* Microseconds of CLOCK_MONOTONIC. */
uint64_t client_now_us(void);

/* Parses a decimal in [min, max] into *out.  0, or -1 if it is not one. */
int client_parse_long(const char *s, long min, long max, long *out);

/*
 * The file at path, at most max bytes, NUL-terminated, for the caller to
 * free; its length in *len.  NULL (with a message on stderr) on failure.
 */
char *client_read_file(const char *path, long max, size_t *len);

/*
 * Splits buf (modified) into its non-empty lines, a trailing CR dropped;
 * each must be made of the characters of allowed and be at most max_len
 * long, so that no line can smuggle a header or a path.  *lines points
 * into buf; the caller frees the array.  Returns the count, or -1 (with a
 * message naming what, the file's role).
 */
long client_split_lines(char *buf, size_t len, const char *allowed,
    size_t max_len, const char *what, char ***lines);

/* The characters of a bearer token (base64url and dots) and of an id. */
extern const char client_token_chars[];
extern const char client_digits[];

/* Sorts v and returns its p-th percentile (nearest rank); 0 when n is 0. */
uint64_t client_percentile_sorted(const uint64_t *v, size_t n, unsigned p);
void client_sort_u64(uint64_t *v, size_t n);

/*
 * Counts an answer of status; for one of 400 or more also the "code" of
 * its problem+json body (the answer's first bytes, NUL-terminated).  The
 * body is not parsed as JSON: stockade writes `"code":"name"` with no
 * blanks, and a code is made of [a-z0-9_] only.
 */
void client_tally_answer(struct client_tally *t, long status, const char *body);

/* Prints " status_N=COUNT ... code_N_NAME=COUNT ..." of t to f. */
void client_tally_print(FILE *f, const struct client_tally *t);

/*
 * A multi handle that keeps up to conns connections open for reuse (one
 * per transfer in flight, as wrk keeps its own).  NULL on failure.
 */
CURLM *client_multi_create(size_t conns);

/*
 * One request in flight at a time: an easy handle reused for each, and
 * the first bytes of its answer.  A client's own slot begins with one, so
 * that client_transfer_of's pointer is the slot's too.
 */
struct client_transfer {
	CURL *easy;
	struct curl_slist *headers; /* of the request in flight, or NULL */
	char answer[CLIENT_ANSWER_KEEP]; /* NUL-terminated */
	size_t answer_len;
	char errbuf[CURL_ERROR_SIZE];
};

/*
 * Sets up t's easy handle once: no signals, the per-request timeout, the
 * answer's buffer, t as its CURLOPT_PRIVATE.  0, or -1.
 */
int client_transfer_init(struct client_transfer *t, long timeout_ms);

/* Appends line to the header list *h.  0, or -1 (*h is left as it was). */
int client_header_add(struct curl_slist **h, const char *line);

/*
 * Starts t's next request (its URL and method already set) with headers h,
 * which t owns from then on: clears the answer and adds t to multi.  0, or
 * -1 (h is not freed).
 */
int client_transfer_start(struct client_transfer *t, CURLM *multi,
    struct curl_slist *h);

/*
 * What a finished transfer (which ended with rc) got: its HTTP status,
 * 100..599, or 0 when it got no answer; then *timed_out says whether it
 * timed out, and the first CLIENT_ERRMSG_MAX such transfers of the process
 * are described on stderr.  *latency_us is libcurl's total time.
 */
long client_transfer_result(struct client_transfer *t, CURLcode rc,
    uint64_t *latency_us, int *timed_out);

/* The transfer a finished message of the multi handle belongs to. */
struct client_transfer *client_transfer_of(CURLMsg *msg);

/* Ends a finished transfer: out of multi, its headers freed. */
void client_transfer_end(struct client_transfer *t, CURLM *multi);

/* Frees t's handle (accepts one never set up), ending it if in flight. */
void client_transfer_free(struct client_transfer *t, CURLM *multi);

#endif
