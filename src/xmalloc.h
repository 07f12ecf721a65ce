/*
 * xmalloc: allocation that cannot fail.  The daemon has no sensible way to
 * answer a request when the heap is exhausted, so these functions log and
 * exit instead of returning NULL (as tmux's xmalloc.c does).  Parsers that
 * must report failure to tests and fuzzers use plain malloc and return NULL.
 */
#ifndef STOCKADE_XMALLOC_H
#define STOCKADE_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
