/*
 * config_file: see config_file.h.
 */
#include "config_file.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_keys.h"
#include "log.h"
#include "xmalloc.h"

#define CONFIG_LINE_MAX 4096 /* bytes on a line, newline excluded */
#define CONFIG_FILE_MAX (1024 * 1024) /* a bigger config file is a mistake */
#define SECRET_MIN 32 /* 256 bits, the HS256 key size */
#define SECRET_MAX 4096
/* Room for the longest secret, "\r\n", and one byte to see excess. */
#define SECRET_BUF (SECRET_MAX + 3)

static int config_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Removes blanks and a \r (from a CRLF file) at the end of s. */
static void config_rtrim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (config_is_blank(s[n - 1]) || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/*
 * Unquotes, in place, the value whose opening quote is at s.  Only \" and \\
 * are escapes, so that a Windows path or a regex is not silently changed.
 * Returns 0, or -1 with why.
 */
static int config_unquote(char *s, const char *key, char **value, char *why,
    size_t whylen)
{
	char *r = s + 1, *w = s + 1;

	*value = w;
	while (*r != '"') {
		if (*r == '\0') {
			snprintf(why, whylen, "%s: missing closing quote", key);
			return -1;
		}
		if (*r == '\\' && r[1] != '"' && r[1] != '\\') {
			snprintf(why, whylen,
			    "%s: in a quoted value a backslash may only "
			    "escape \" or \\",
			    key);
			return -1;
		}
		if (*r == '\\')
			r++;
		*w++ = *r++;
	}
	*w = '\0';
	for (r++; config_is_blank(*r); r++)
		;
	if (*r != '\0' && *r != '#') {
		snprintf(why, whylen,
		    "%s: unexpected text after the closing quote", key);
		return -1;
	}
	return 0;
}

/*
 * Cuts an unquoted value at a comment: a '#' at its start or after a blank.
 * A '#' inside a word stays, so "a#b" needs no quotes.
 */
static void config_strip_comment(char *value)
{
	for (char *p = value; *p != '\0'; p++) {
		if (*p == '#' && (p == value || config_is_blank(p[-1]))) {
			*p = '\0';
			break;
		}
	}
	config_rtrim(value);
}

/*
 * Splits one line, in place, into key and value.  Returns 1 for a setting,
 * 0 for a blank or comment line, -1 with why for a malformed line.
 */
static int config_split(char *line, char **key, char **value, char *why,
    size_t whylen)
{
	char shown[CONFIG_SHOW_MAX];
	char *s = line, *end;

	config_rtrim(line);
	while (config_is_blank(*s))
		s++;
	if (*s == '\0' || *s == '#')
		return 0;
	for (*key = s; *s != '\0' && *s != '=' && !config_is_blank(*s); s++)
		;
	if (s == *key) {
		snprintf(why, whylen, "missing key before \"=\"");
		return -1;
	}
	for (end = s; config_is_blank(*s); s++)
		;
	if (*s != '=') {
		*end = '\0';
		snprintf(why, whylen, "%s: missing \"=\" after the key",
		    config_show(shown, sizeof(shown), *key));
		return -1;
	}
	*end = '\0';
	for (s++; config_is_blank(*s); s++)
		;
	if (*s == '"') {
		config_show(shown, sizeof(shown), *key);
		return config_unquote(s, shown, value, why, whylen) == 0 ? 1
		                                                         : -1;
	}
	*value = s;
	config_strip_comment(s);
	return 1;
}

/*
 * Applies one line of n bytes.  seen[i] holds the line that set key i, to
 * refuse a second setting: with two, the one that wins depends on reading
 * order, which a reader of the file should not have to know.
 */
static int config_line(struct config *cfg, unsigned *seen, const char *line,
    size_t n, unsigned lineno, char *why, size_t whylen)
{
	char buf[CONFIG_LINE_MAX + 1], shown[CONFIG_SHOW_MAX];
	char *key, *value;
	const struct config_key *k;
	int r;

	if (n > CONFIG_LINE_MAX) {
		snprintf(why, whylen, "line is longer than %d bytes",
		    CONFIG_LINE_MAX);
		return -1;
	}
	if (memchr(line, '\0', n) != NULL) {
		snprintf(why, whylen, "line contains a NUL byte");
		return -1;
	}
	memcpy(buf, line, n);
	buf[n] = '\0';
	if ((r = config_split(buf, &key, &value, why, whylen)) <= 0)
		return r;
	if ((k = config_key_find(key)) == NULL) {
		snprintf(why, whylen, "%s: unknown key",
		    config_show(shown, sizeof(shown), key));
		return -1;
	}
	if (seen[k - config_keys] != 0) {
		snprintf(why, whylen, "%s: given twice (first on line %u)",
		    k->name, seen[k - config_keys]);
		return -1;
	}
	seen[k - config_keys] = lineno;
	return config_key_set(cfg, k, value, why, whylen);
}

int config_load_string(struct config *cfg, const char *name, const char *text,
    size_t len, char *err, size_t errlen)
{
	unsigned *seen;
	char why[CONFIG_WHY_MAX];
	const char *p = text, *end = text + len;
	struct config *next;
	unsigned lineno = 0;
	int rc = 0;

	/*
	 * Work on a copy so that a bad line leaves cfg as it was; memcpy, not
	 * '=', so that padding is copied too and memcmp stays meaningful.
	 */
	next = xmalloc(sizeof(*next));
	memcpy(next, cfg, sizeof(*next));
	seen = xcalloc(config_nkeys, sizeof(*seen));
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl != NULL ? nl : end) - p);

		rc = config_line(next, seen, p, n, ++lineno, why, sizeof(why));
		p = nl != NULL ? nl + 1 : end;
	}
	if (rc == 0)
		memcpy(cfg, next, sizeof(*cfg));
	else
		snprintf(err, errlen, "%s:%u: %s", name, lineno, why);
	free(seen);
	free(next);
	return rc;
}

/* Reads fd to its end, or until cap bytes.  Returns 0, or -1 with errno. */
static int config_read_all(int fd, void *buf, size_t cap, size_t *len)
{
	*len = 0;
	while (*len < cap) {
		ssize_t r = read(fd, (char *)buf + *len, cap - *len);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		*len += (size_t)r;
	}
	return 0;
}

/*
 * Reads a whole config file into *text (malloc'd; the caller frees it),
 * growing the buffer up to one byte more than allowed, to tell a file that
 * just fits from one that is too big.
 */
static int config_slurp(const char *path, char **text, size_t *len, char *err,
    size_t errlen)
{
	size_t cap = 16384, n;
	char *buf;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = xmalloc(cap);
	*len = 0;
	for (;;) {
		if (config_read_all(fd, buf + *len, cap - *len, &n) == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		*len += n;
		/* A buffer not filled means the end of the file. */
		if (*len < cap || cap > CONFIG_FILE_MAX)
			break;
		cap = cap * 2 > CONFIG_FILE_MAX ? CONFIG_FILE_MAX + 1 : cap * 2;
		buf = xrealloc(buf, cap, 1);
	}
	if (*len > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", path,
		    CONFIG_FILE_MAX);
		goto fail;
	}
	close(fd);
	*text = buf;
	return 0;
fail:
	close(fd);
	free(buf);
	return -1;
}

int config_load_file(struct config *cfg, const char *path, char *err,
    size_t errlen)
{
	char *text;
	size_t len;
	int rc;

	if (config_slurp(path, &text, &len, err, errlen) == -1)
		return -1;
	rc = config_load_string(cfg, path, text, len, err, errlen);
	free(text);
	return rc;
}

/*
 * Opens the secret file: a regular file (O_NONBLOCK so that a FIFO put there
 * by mistake cannot hang start-up), warning when others can read it, or a
 * group other than ours.
 * Returns the descriptor, or -1 with err.
 */
static int config_secret_open(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1 || fstat(fd, &st) == -1) {
		snprintf(err, errlen, "auth_secret_file: %s: %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen,
		    "auth_secret_file: %s: not a regular file", path);
		close(fd);
		return -1;
	}
	/* Group-readable is fine when the group is ours: the Debian
	 * package's secret is 0640 root:stockade, read by the daemon's own
	 * group and written by root only (debian/stockade.postinst). */
	if ((st.st_mode & S_IROTH) ||
	    ((st.st_mode & S_IRGRP) && st.st_gid != getegid()))
		log_warn("auth_secret_file: %s is readable by group or others "
		         "(mode %04o); anyone who reads it can mint tokens: "
		         "chmod 600 it",
		    path, (unsigned)(st.st_mode & 07777));
	return fd;
}

int config_read_secret(const struct config *cfg, unsigned char **secret,
    size_t *len, char *err, size_t errlen)
{
	const char *path = cfg->auth_secret_file;
	unsigned char *buf;
	size_t n;
	int fd, r, saved_errno;

	if (path[0] == '\0') {
		snprintf(err, errlen,
		    "auth_secret_file is not set; create "
		    "one with: head -c 32 /dev/urandom | base64 > FILE");
		return -1;
	}
	if ((fd = config_secret_open(path, err, errlen)) == -1)
		return -1;
	buf = xmalloc(SECRET_BUF);
	r = config_read_all(fd, buf, SECRET_BUF, &n);
	saved_errno = errno;
	close(fd);
	if (r == -1) {
		snprintf(err, errlen, "auth_secret_file: %s: %s", path,
		    strerror(saved_errno));
		goto fail;
	}
	/* Editors and "echo" add a newline nobody means as part of the key. */
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n < SECRET_MIN || n > SECRET_MAX) {
		snprintf(err, errlen,
		    "auth_secret_file: %s: the secret must be "
		    "%d to %d bytes, got %s%zu",
		    path, SECRET_MIN, SECRET_MAX,
		    n > SECRET_MAX ? "more than " : "",
		    n > SECRET_MAX ? (size_t)SECRET_MAX : n);
		goto fail;
	}
	*secret = buf;
	*len = n;
	return 0;
fail:
	config_secret_free(buf);
	return -1;
}

void config_secret_free(unsigned char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, SECRET_BUF);
	free(secret);
}
