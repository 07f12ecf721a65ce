/*
 * conf_keys_man: writes stockade.conf(5) from its template and the key
 * table itself (src/config_keys.c), so that the manual lists every key with
 * the type, default and range the daemon checks, and cannot drift from
 * them.  Built and run by make (man/stockade.conf.5), never installed.
 *
 * Usage: conf_keys_man < TEMPLATE > PAGE.  Every line of the template is
 * copied, except the comment line ".\" @KEYS@", which becomes one .TP
 * entry per key, in the table's order.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "config_keys.h"

#define MARKER ".\\\" @KEYS@"

#define WRAP 64 /* mandoc -Tlint asks for input lines of 80 bytes at most */

static int man_col; /* bytes on the current output line */

/* Writes s to f, tracking the column; s holds no newline. */
static void man_raw(const char *s, FILE *f)
{
	fputs(s, f);
	man_col += (int)strlen(s);
}

static void man_newline(FILE *f)
{
	fputc('\n', f);
	man_col = 0;
}

/*
 * Writes s as roff text: backslashes escaped, dashes as minus signs, and
 * lines broken at a blank past WRAP columns (a control character that
 * would then start a line is escaped with \&).
 */
static void man_text(const char *s, FILE *f)
{
	for (; *s != '\0'; s++) {
		char c[2] = { *s, '\0' };

		if (*s == ' ' && man_col >= WRAP) {
			man_newline(f);
			continue;
		}
		if (man_col == 0 && (*s == '.' || *s == '\''))
			man_raw("\\&", f);
		if (*s == '\\')
			man_raw("\\e", f);
		else if (*s == '-')
			man_raw("\\-", f);
		else
			man_raw(c, f);
	}
}

/* The help text as a sentence: a capital first, a full stop last. */
static void man_sentence(const char *s, FILE *f)
{
	char first[2] = { (char)toupper((unsigned char)s[0]), '\0' };

	man_text(first, f);
	man_text(s + 1, f);
	if (s[strlen(s) - 1] != '.')
		man_raw(".", f);
	man_newline(f);
}

static void man_key(const struct config_key *k, FILE *f)
{
	char what[CONFIG_WHY_MAX];

	config_key_describe(k, what, sizeof(what));
	man_raw(".TP", f);
	man_newline(f);
	man_raw("\\fB", f);
	man_text(k->name, f);
	man_raw(k->type == CONFIG_STRING ? "\\fR = \\fI\"" : "\\fR = \\fI", f);
	man_text(k->dflt, f);
	man_raw(k->type == CONFIG_STRING ? "\"\\fR" : "\\fR", f);
	man_newline(f);
	man_sentence(k->help, f);
	man_raw(".br", f);
	man_newline(f);
	man_raw("Value: ", f);
	man_text(what, f);
	man_raw(".", f);
	man_newline(f);
	if (k->restart) {
		man_raw("Read at start: a reload (SIGHUP) keeps the running "
		        "value.",
		    f);
		man_newline(f);
	}
}

int main(void)
{
	char line[4096];
	int found = 0;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (strncmp(line, MARKER, strlen(MARKER)) != 0) {
			fputs(line, stdout);
			continue;
		}
		for (size_t i = 0; i < config_nkeys; i++)
			man_key(&config_keys[i], stdout);
		found = 1;
	}
	if (!found) {
		fprintf(stderr, "conf_keys_man: no %s line in the template\n",
		    MARKER);
		return 1;
	}
	if (ferror(stdin) || fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "conf_keys_man: read or write failed\n");
		return 1;
	}
	return 0;
}
