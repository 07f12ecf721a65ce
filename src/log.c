/*
 * log: see log.h.  Lines are formatted into a bounded buffer and written with
 * a single write(2) so that lines from concurrent processes sharing stderr do
 * not interleave mid-line (writes up to PIPE_BUF are atomic on pipes).
 */
#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>

#include "log_json.h"

#define LOG_LINE_MAX 2048
#define LOG_PATH_MAX 1024 /* CONFIG_STRING_MAX: the log_file key's size */

const char *const log_level_names[LOG_LEVEL__MAX] = {
	"error",
	"warn",
	"info",
	"debug",
};

const char *const log_format_names[LOG_FORMAT__MAX] = {
	"text",
	"json",
};

static enum log_level log_threshold = LOG_LEVEL_INFO;
static enum log_format log_format = LOG_FORMAT_TEXT;
static char log_role[32] = "stockade";
static char log_request[64];
/* The process that called log_init: only it may run the atexit handlers. */
static pid_t log_owner_pid;

/* The file log_open_file named, for log_reopen; "" while on stderr. */
static char log_path[LOG_PATH_MAX];

int log_reopen(void)
{
	int fd;

	if (log_path[0] == '\0')
		return 0;
	fd = open(log_path,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0)
		return -1;
	/* dup2 clears close-on-exec on fd 2: a new master inherits it. */
	if (fd != STDERR_FILENO && dup2(fd, STDERR_FILENO) < 0) {
		int saved_errno = errno;

		close(fd);
		errno = saved_errno;
		return -1;
	}
	if (fd != STDERR_FILENO)
		close(fd);
	return 0;
}

int log_open_file(const char *path)
{
	char old[LOG_PATH_MAX];

	if (strlen(path) >= sizeof(log_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(old, log_path, sizeof(old));
	snprintf(log_path, sizeof(log_path), "%s", path);
	if (log_reopen() < 0) {
		int saved_errno = errno;

		memcpy(log_path, old, sizeof(log_path));
		errno = saved_errno;
		return -1;
	}
	return 0;
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (int i = 0; i < LOG_LEVEL__MAX; i++) {
		if (strcmp(name, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_init(enum log_level level, const char *role)
{
	log_threshold = level;
	log_owner_pid = getpid();
	log_set_role(role);
}

void log_set_role(const char *role)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
}

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

void log_set_format(enum log_format format)
{
	log_format = format;
}

void log_set_request(const char *request_id)
{
	snprintf(log_request, sizeof(log_request), "%s",
	    request_id != NULL ? request_id : "");
}

enum log_level log_get_level(void)
{
	return log_threshold;
}

/* Formats a json line (no newline) into line.  Returns its length. */
static size_t log_json_line(char *line, size_t size, const char *ts,
    enum log_level level, const char *msg)
{
	size_t n;
	int r;

	r = snprintf(line, size,
	    "{\"ts\":\"%s\",\"level\":\"%s\",\"pid\":%ld,"
	    "\"role\":",
	    ts, log_level_names[level], (long)getpid());
	n = r > 0 && (size_t)r < size ? (size_t)r : 0;
	n += log_json_string(line + n, size - n, log_role);
	if (log_request[0] != '\0') {
		n += (size_t)snprintf(line + n, size - n, ",\"rid\":");
		n += log_json_string(line + n, size - n, log_request);
	}
	n += (size_t)snprintf(line + n, size - n, ",\"msg\":");
	/* Room for the closing brace, the newline and the NUL. */
	n += log_json_string(line + n, size - n - 2, msg);
	line[n++] = '}';
	line[n] = '\0';
	return n;
}

static void log_vwrite(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX], msg[LOG_LINE_MAX], ts[32];
	struct timespec ts_now;
	struct tm tm;
	size_t n;
	int saved_errno = errno;
	int r;

	if (level > log_threshold)
		return;
	clock_gettime(CLOCK_REALTIME, &ts_now);
	gmtime_r(&ts_now.tv_sec, &tm);
	n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", ts_now.tv_nsec / 1000000);
	r = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (r < 0)
		msg[0] = '\0';
	n = strlen(msg); /* libpq's messages end in a newline: not ours */
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	if (log_format == LOG_FORMAT_JSON) {
		n = log_json_line(line, sizeof(line) - 1, ts, level, msg);
	} else {
		r = snprintf(line, sizeof(line), "%s %s [%ld] %s: ", ts,
		    log_level_names[level], (long)getpid(), log_role);
		n = r > 0 && (size_t)r < sizeof(line) ? (size_t)r : 0;
		/* One event, one line: a message's own newlines (libpq's
		 * errors and notices carry several) must not start lines
		 * without a prefix. */
		log_escape_lines(line + n, sizeof(line) - n, msg);
		n += strlen(line + n);
		if (n >= sizeof(line) - 1)
			n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	/* Nothing sensible to do if stderr is gone; the line is lost. */
	if (write(STDERR_FILENO, line, n) < 0)
		(void)0;
	errno = saved_errno;
}

#define LOG_DEFINE(name, level) \
	void name(const char *fmt, ...) \
	{ \
		va_list ap; \
		va_start(ap, fmt); \
		log_vwrite(level, fmt, ap); \
		va_end(ap); \
	}

LOG_DEFINE(log_error, LOG_LEVEL_ERROR)
LOG_DEFINE(log_warn, LOG_LEVEL_WARN)
LOG_DEFINE(log_info, LOG_LEVEL_INFO)
LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG)

noreturn void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	/* A forked child shares the master's atexit handlers and stdio
	 * buffers: running them would act for the master (and flush its
	 * output twice). */
	if (log_owner_pid != 0 && getpid() != log_owner_pid)
		_exit(1);
	exit(1);
}

void log_escape_lines(char *dst, size_t dstlen, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = strlen(src), o = 0;

	if (dstlen == 0)
		return;
	while (len > 0 && (src[len - 1] == '\n' || src[len - 1] == '\r'))
		len--;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		char esc[5] = { (char)c, '\0' };

		if (c == '\n' || c == '\r' || c == '\t')
			snprintf(esc, sizeof(esc), "\\%c",
			    c == '\n'       ? 'n'
			        : c == '\r' ? 'r'
			                    : 't');
		else if (c < 0x20 || c == 0x7f)
			snprintf(esc, sizeof(esc), "\\x%c%c", hex[c >> 4],
			    hex[c & 0xf]);
		if (o + strlen(esc) >= dstlen)
			break; /* cut, as vsnprintf would: never mid-escape */
		memcpy(dst + o, esc, strlen(esc));
		o += strlen(esc);
	}
	dst[o] = '\0';
}

void log_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (dstlen < 4) { /* no room for even "..." */
		if (dstlen > 0)
			dst[0] = '\0';
		return;
	}
	for (size_t i = 0; i < srclen; i++) {
		unsigned char c = (unsigned char)src[i];
		int plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
		size_t need = plain ? 1 : 4;

		if (o + need + 4 > dstlen) { /* room for "..." and NUL */
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (plain) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		}
	}
	dst[o] = '\0';
}
