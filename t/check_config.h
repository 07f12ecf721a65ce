/*
 * check_config: what the Check tests of the config modules share
 * (check_config_keys.c, check_config_addr.c, check_config_file.c and
 * check_config_dump.c): a config's dump as text, assertions on a whole
 * config, and the case shapes of the value tables.
 */
#ifndef STOCKADE_CHECK_CONFIG_H
#define STOCKADE_CHECK_CONFIG_H

#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * By path: autoconf's generated config.h in the build directory comes first
 * on the include path and would shadow src/config.h.  (The config_*.h
 * headers find src/config.h beside themselves.)
 */
#include "../src/config.h"
#include "config_dump.h"
#include "config_file.h"
#include "config_keys.h"

#define ERR_MAX 1024
#define NCASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A value that config_set accepts, and how config_dump writes it back. */
struct good_case {
	const char *key;
	const char *value;
	const char *dumped;
};

/* A value that config_set refuses, and the message it must give. */
struct bad_case {
	const char *key;
	const char *value;
	const char *why;
};

/* Returns everything config_dump writes (malloc'd; the caller frees it). */
static inline char *dump_text(const struct config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	config_dump(cfg, f);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

/* Asserts that the dump of cfg has the line "key = value". */
static inline void assert_dumps(const struct config *cfg, const char *key,
    const char *value)
{
	char line[2048];
	char *text = dump_text(cfg);

	snprintf(line, sizeof(line), "\n%s = %s\n", key, value);
	ck_assert_msg(strstr(text, line) != NULL ||
	        (strncmp(text, line + 1, strlen(line + 1)) == 0),
	    "no line \"%s = %s\" in:\n%s", key, value, text);
	free(text);
}

/* Asserts that cfg is byte for byte a fresh default config. */
static inline void assert_defaults(const struct config *cfg)
{
	struct config *fresh = config_create();

	ck_assert_mem_eq(cfg, fresh, sizeof(*cfg));
	config_free(fresh);
}

/* Asserts that text loads into cfg. */
/* config_set refuses c with exactly c->why and leaves every default. */
static inline void assert_set_refused(const struct bad_case *c)
{
	struct config *cfg = config_create();
	char err[ERR_MAX] = "";

	ck_assert_int_eq(config_set(cfg, c->key, c->value, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, c->why);
	assert_defaults(cfg);
	config_free(cfg);
}

static inline void load_ok(struct config *cfg, const char *text)
{
	char err[ERR_MAX] = "";

	ck_assert_msg(config_load_string(cfg, "test.conf", text, strlen(text),
	                  err, sizeof(err)) == 0,
	    "load failed: %s", err);
}

/* Asserts that text fails to load with exactly the message want. */
static inline void load_fails(const char *text, size_t len, const char *want)
{
	struct config *cfg = config_create();
	char err[ERR_MAX] = "";

	ck_assert_int_eq(config_load_string(cfg, "test.conf", text, len, err,
	                     sizeof(err)),
	    -1);
	ck_assert_str_eq(err, want);
	assert_defaults(cfg);
	config_free(cfg);
}

/* Writes a file of len bytes with mode in dir; returns its path (static). */
static inline const char *write_file(const char *dir, const char *name,
    const char *data, size_t len, mode_t mode)
{
	static char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
	return path;
}

/*
 * Reads a whole file of the source tree (malloc'd, NUL-terminated), found
 * through $STOCKADE_SRCDIR (set by Makefile.am), else $srcdir (set by
 * automake's test driver), else ".".
 */
static inline char *read_srcdir_file(const char *rel, size_t *len)
{
	const char *srcdir = getenv("STOCKADE_SRCDIR");
	char path[1024];
	char *buf;
	long n;
	FILE *f;

	if (srcdir == NULL)
		srcdir = getenv("srcdir");
	snprintf(path, sizeof(path), "%s/%s", srcdir ? srcdir : ".", rel);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

#endif
