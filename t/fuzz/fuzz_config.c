/*
 * fuzz_config: a whole config file, parsed from the fuzzer's bytes by
 * config_load_string (what config_load_file runs on the file's contents):
 * the line syntax, quoting, every key's value parser and the derived
 * fields (listen, redis_url).  A text that loads is then written back by
 * config_dump, which promises a text config_load_string reads back: the
 * target aborts if that text does not load into a fresh config, or loads
 * into one that dumps differently.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_dump.h"
#include "config_file.h"
#include "config_keys.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* config_dump's text of cfg, malloc'd; *len set. */
static char *fuzz_config_dump(const struct config *cfg, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (f == NULL)
		abort();
	config_dump(cfg, f);
	if (fclose(f) != 0)
		abort();
	return text;
}

/* The dump of cfg must load into a fresh config and dump the same. */
static void fuzz_config_round_trip(const struct config *cfg)
{
	struct config *again = config_create();
	char err[512];
	char *first, *second;
	size_t len1, len2;

	first = fuzz_config_dump(cfg, &len1);
	if (config_load_string(again, "dump", first, len1, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "config_dump wrote what does not load: %s\n%s",
		    err, first);
		abort();
	}
	second = fuzz_config_dump(again, &len2);
	if (len1 != len2 || memcmp(first, second, len1) != 0) {
		fprintf(stderr, "dump, load, dump differs:\n%s\n---\n%s", first,
		    second);
		abort();
	}
	free(first);
	free(second);
	config_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg;
	char err[512];
	static int ready;

	if (!ready) {
		log_init(LOG_LEVEL_ERROR, "fuzz");
		ready = 1;
	}
	cfg = config_create();
	if (config_load_string(cfg, "fuzz", (const char *)data, size, err,
	        sizeof(err)) == 0)
		fuzz_config_round_trip(cfg);
	config_free(cfg);
	return 0;
}
