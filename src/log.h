/*
 * log: leveled logging to stderr, one line per event, in the spirit of
 * OpenBSD's log.c.  Each line carries a UTC timestamp, the level, the pid and
 * the process role ("master", "worker 3", "reaper") so that interleaved lines
 * from many processes can be told apart at 3 a.m.
 */
#ifndef STOCKADE_LOG_H
#define STOCKADE_LOG_H

#include <stddef.h>
#include <stdnoreturn.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL__MAX
};

extern const char *const log_level_names[LOG_LEVEL__MAX];

/*
 * text: "TIMESTAMP LEVEL [PID] ROLE: MESSAGE".  json: one object per line,
 * {"ts", "level", "pid", "role", "rid" (while a request is in hand),
 * "msg"}, for log shippers.
 */
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON, LOG_FORMAT__MAX };

extern const char *const log_format_names[LOG_FORMAT__MAX];

/* Parses "error", "warn", "info" or "debug".  Returns 0, or -1 if unknown. */
int log_level_parse(const char *name, enum log_level *out);

/*
 * Sends every line to the file at path from now on: opens it for appending
 * (created mode 0640 if missing) and puts it in place of stderr (dup2), so
 * that what libraries write to stderr goes there too and processes forked
 * later inherit it.  The path is kept for log_reopen.  Returns 0, or -1
 * with errno and stderr as it was.
 */
int log_open_file(const char *path);

/*
 * Opens the file log_open_file named again, in place of stderr: after
 * logrotate renamed it, lines go to a new file at the path.  Does nothing
 * when no file was named.  Calls only open, dup2 and close, which are
 * async-signal-safe, so that a child's SIGUSR1 handler may call it.
 * Returns 0, or -1 with errno and the old file kept.
 */
int log_reopen(void);

/* Sets the threshold and the role shown on every line (copied). */
void log_init(enum log_level level, const char *role);
void log_set_role(const char *role);
/* The threshold alone, for a child whose generation's config differs from
 * the master's (a reload): log_init would also make it the owner. */
void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
/* The request in hand (copied), or NULL once it is answered: json lines
 * name it as "rid" (text lines carry "rid=" in their messages). */
void log_set_request(const char *request_id);
enum log_level log_get_level(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Logs at error level and exits with status 1: exit() in the process that
 * called log_init, _exit() in a child forked from it (the parent's atexit
 * handlers and stdio buffers are not the child's to run).
 */
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Copies src into dst (of dstlen bytes, always NUL-terminated), escaping
 * control characters, quotes, backslashes and bytes >= 0x7f as \xNN, so that
 * client data can never forge or break a log line.  Truncates with "...".
 */
void log_escape(char *dst, size_t dstlen, const char *src, size_t srclen);

/*
 * Copies the C string src into dst (of dstlen bytes, NUL-terminated unless
 * dstlen is 0) as one line: trailing newlines dropped, inner ones and tabs
 * written as \n, \r, \t, other control bytes as \xNN; text (UTF-8 included)
 * is left alone.  Cut short, never mid-escape, when dst is full.  Every log
 * message goes through it.
 */
void log_escape_lines(char *dst, size_t dstlen, const char *src);

#endif
