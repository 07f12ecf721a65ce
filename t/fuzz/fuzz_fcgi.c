/*
 * fuzz_fcgi: a FastCGI record stream, read as a worker reads it.  The
 * input is the bytes a web server would send on one connection.  They go
 * into a connection on a listening unix socket (abstract, so nothing is
 * left on disk); libfcgi's FCGX_Accept_r accepts it and reads the
 * BEGIN_REQUEST and PARAMS records, and the worker's own reader
 * (worker_read_params, worker_read_body) reads the parameters and the
 * STDIN body through FCGX_GetParam and FCGX_GetStr; the answer is written
 * back and the request finished, as worker_serve does.
 *
 * The listening socket is non-blocking, as a draining worker's is: when
 * libfcgi drops a malformed connection and goes back to accept(), it gets
 * EAGAIN instead of waiting for a connection that never comes.
 *
 * Known defects of libfcgi, which stockade cannot patch and which the
 * fuzzer would otherwise report forever, are kept out of its reports:
 *  - libfcgi mallocs the name and value lengths a PARAMS pair announces
 *    before it reads them (in an int sum, which can wrap), and asserts the
 *    malloc succeeded, so a pair announcing gigabytes (a name length of
 *    0x7ffffffe) aborts the process inside libfcgi (issue 13 item 4; the
 *    master respawns the worker at once).  The pairs of a GET_VALUES
 *    management record are read the same way.  Inputs with a pair
 *    announcing more than FUZZ_FCGI_PAIR_MAX bytes are not run
 *    (fuzz_fcgi_known_defect); every length up to that, far above what any
 *    input holds, is.
 *  - libfcgi 2.4.2 (Debian 12) leaks 48 bytes for each management record
 *    (request id 0) of a type other than GET_VALUES.  Inputs with such a
 *    record are not run either: LeakSanitizer would report them, and
 *    libFuzzer's leak check, which runs after every input that leaves
 *    memory allocated, would slow the target down fifty-fold.  Should the
 *    walk miss one, LeakSanitizer ignores memory that libfcgi allocates
 *    (__lsan_default_suppressions); what stockade's reader allocates is
 *    still checked.
 * docs/testing.md says the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "http.h"
#include "log.h"
#include "worker.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longer inputs are cut here: the socket buffer takes it in one write. */
#define FUZZ_FCGI_INPUT_MAX 65536
/* A PARAMS pair announcing more is libfcgi's known abort (see the top). */
#define FUZZ_FCGI_PAIR_MAX (1024 * 1024)
#define FUZZ_FCGI_MAX_BODY 65536
/* FastCGI 1.0: the record header and the record types we look at. */
#define FCGI_HEADER_LEN_ 8
#define FCGI_BEGIN_REQUEST_ 1
#define FCGI_PARAMS_ 4
#define FCGI_GET_VALUES_ 9

static struct sockaddr_un fuzz_fcgi_addr;
static socklen_t fuzz_fcgi_addrlen;
static FCGX_Request fuzz_fcgi_request;

/*
 * Reads one name or value length of a PARAMS pair (one byte, or four with
 * the high bit set) at *off of p; -1 when the pairs end first.
 */
static long fuzz_fcgi_pair_len(const uint8_t *p, size_t len, size_t *off)
{
	long v;

	if (*off >= len)
		return -1;
	if ((p[*off] & 0x80) == 0)
		return p[(*off)++];
	if (len - *off < 4)
		return -1;
	v = (long)(p[*off] & 0x7f) << 24 | (long)p[*off + 1] << 16 |
	    (long)p[*off + 2] << 8 | (long)p[*off + 3];
	*off += 4;
	return v;
}

/* 1 when a PARAMS pair in p (len bytes) announces too much (see the top). */
static int fuzz_fcgi_pairs_too_long(const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		long name = fuzz_fcgi_pair_len(p, len, &off);
		long value = fuzz_fcgi_pair_len(p, len, &off);

		if (name < 0 || value < 0)
			return 0;
		if (name + value > FUZZ_FCGI_PAIR_MAX)
			return 1;
		if ((size_t)(name + value) >= len - off)
			return 0;
		off += (size_t)(name + value);
	}
	return 0;
}

/*
 * Walks the records as libfcgi reads them and returns 1 for a management
 * record libfcgi leaks, or when a record it would read as name-value
 * pairs announces too much: a GET_VALUES record's
 * content, or the PARAMS records' content joined, in two ways to be safe:
 * every PARAMS record, and only those of the request id of the first
 * BEGIN_REQUEST (libfcgi skips the others).  libfcgi does not skip the
 * padding of the BEGIN_REQUEST that starts a request (SetReaderType
 * forgets it): begin_padding says whether this walk does.
 */
static int fuzz_fcgi_walk(const uint8_t *data, size_t size, int begin_padding)
{
	uint8_t *all = xmalloc(size + 1), *mine = xmalloc(size + 1);
	size_t nall = 0, nmine = 0, off = 0;
	int id = -1, rc = 0;

	while (size - off >= FCGI_HEADER_LEN_ && data[off] == 1 && rc == 0) {
		int type = data[off + 1];
		int rid = data[off + 2] << 8 | data[off + 3];
		size_t clen = (size_t)(data[off + 4] << 8 | data[off + 5]);
		size_t pad = data[off + 6];
		size_t take;

		off += FCGI_HEADER_LEN_;
		take = clen < size - off ? clen : size - off;
		if (rid == 0 && type != FCGI_BEGIN_REQUEST_ &&
		    type != FCGI_GET_VALUES_)
			rc = 1;
		if (type == FCGI_GET_VALUES_ && rid == 0 &&
		    fuzz_fcgi_pairs_too_long(data + off, take))
			rc = 1;
		if (type == FCGI_BEGIN_REQUEST_ && id < 0) {
			id = rid;
			pad = begin_padding ? pad : 0;
		}
		if (type == FCGI_PARAMS_) {
			memcpy(all + nall, data + off, take);
			nall += take;
			if (rid == id) {
				memcpy(mine + nmine, data + off, take);
				nmine += take;
			}
		}
		if (clen + pad >= size - off)
			break;
		off += clen + pad;
	}
	rc = rc || fuzz_fcgi_pairs_too_long(all, nall) ||
	    fuzz_fcgi_pairs_too_long(mine, nmine);
	free(all);
	free(mine);
	return rc;
}

/* 1 when the input would only show libfcgi's known defects (the top). */
static int fuzz_fcgi_known_defect(const uint8_t *data, size_t size)
{
	return fuzz_fcgi_walk(data, size, 0) || fuzz_fcgi_walk(data, size, 1);
}

/* LeakSanitizer's built-in suppressions: libfcgi's own leaks (the top). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libfcgi.so\n";
}

/* Listens on an abstract unix socket; the worker's FCGX setup on it. */
static void fuzz_fcgi_init(void)
{
	int fd;

	log_init(LOG_LEVEL_ERROR, "fuzz");
	/* Answers to a peer that is gone fail with EPIPE, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	memset(&fuzz_fcgi_addr, 0, sizeof(fuzz_fcgi_addr));
	fuzz_fcgi_addr.sun_family = AF_UNIX;
	snprintf(fuzz_fcgi_addr.sun_path + 1,
	    sizeof(fuzz_fcgi_addr.sun_path) - 1, "stockade-fuzz-fcgi-%ld",
	    (long)getpid());
	fuzz_fcgi_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    1 + strlen(fuzz_fcgi_addr.sun_path + 1));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 ||
	    bind(fd, (struct sockaddr *)&fuzz_fcgi_addr, fuzz_fcgi_addrlen) <
	        0 ||
	    listen(fd, 16) < 0 || FCGX_Init() != 0 ||
	    FCGX_InitRequest(&fuzz_fcgi_request, fd, 0) != 0) {
		perror("fuzz_fcgi: listening socket");
		abort();
	}
}

/* Connects, sends the bytes and closes: the server reads them, then EOF. */
static int fuzz_fcgi_send(const uint8_t *data, size_t size)
{
	int fd, sndbuf = 4 * FUZZ_FCGI_INPUT_MAX;
	size_t sent = 0;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    connect(fd, (struct sockaddr *)&fuzz_fcgi_addr, fuzz_fcgi_addrlen) <
	        0) {
		perror("fuzz_fcgi: connect");
		abort();
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	while (sent < size) {
		ssize_t n = write(fd, data + sent, size - sent);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror("fuzz_fcgi: write");
			abort();
		}
		sent += (size_t)n;
	}
	return close(fd);
}

/* What worker_serve does with an accepted request, without the app. */
static void fuzz_fcgi_serve(FCGX_Request *fcgi)
{
	struct request req;
	struct response res;
	char *out = NULL;
	size_t len;

	request_init(&req);
	response_init(&res);
	if (worker_read_params(fcgi, &req, &res) == 0 &&
	    worker_read_body(fcgi, &req, FUZZ_FCGI_MAX_BODY, &res) == 0)
		problem_write(&res, 404, "not_found", "fuzzed");
	len = http_response_render(&req, &res, &out);
	(void)FCGX_PutStr(out, (int)len, fcgi->out);
	free(out);
	request_reset(&req);
	response_free(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FCGX_Request *fcgi = &fuzz_fcgi_request;

	if (fuzz_fcgi_addrlen == 0)
		fuzz_fcgi_init();
	if (size > FUZZ_FCGI_INPUT_MAX)
		size = FUZZ_FCGI_INPUT_MAX;
	if (fuzz_fcgi_known_defect(data, size))
		return 0;
	(void)fuzz_fcgi_send(data, size);
	if (FCGX_Accept_r(fcgi) == 0) {
		fuzz_fcgi_serve(fcgi);
		FCGX_Finish_r(fcgi);
	}
	/* A kept connection (FCGI_KEEP_CONN) is not carried to the next input.
	 */
	FCGX_Free(fcgi, 1);
	return 0;
}
