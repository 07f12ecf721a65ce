/*
 * main: parses the command line, loads the configuration, starts logging,
 * and hands over to the subcommand: serve (master and workers), migrate
 * (apply sql/ migrations), token (mint a bearer token for operators and
 * tests), config-check (validate a config file and print what it sets) or
 * audit (check the invariants in the database).  Each command is one row of
 * main_commands: its options, its help, and the function that runs it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "auth.h"
#include "config.h"
#include "config_dump.h"
#include "config_file.h"
#include "config_keys.h"
#include "db.h"
#include "log.h"
#include "master.h"
#include "migrate.h"
#include "num.h"

#define MAIN_DEFAULT_CONFIG "/etc/stockade/stockade.conf"
#define MAIN_TOKEN_TTL_DEFAULT 3600
#define MAIN_TOKEN_TTL_MAX (10LL * 365 * 24 * 3600)
#define MAIN_SINCE_MAX (100LL * 365 * 24 * 3600) /* seconds */

#define MAIN_CONFIG_HELP \
	"  -c, --config FILE  configuration file (default " MAIN_DEFAULT_CONFIG \
	")\n"

struct main_args {
	const char *command;
	const char *config_path;
	int help;
	char given[8]; /* the options given, by short name: "cu" */
	int64_t user_id;
	enum auth_role role;
	int64_t ttl;
	const char *since;
};

static int main_parse_option(struct main_args *a, int opt)
{
	switch (opt) {
	case 'c':
		a->config_path = optarg;
		return 0;
	case 'u':
		if (num_parse(optarg, 1, INT64_MAX, &a->user_id) == 0)
			return 0;
		fprintf(stderr,
		    "stockade: --user must be a positive integer\n");
		return -1;
	case 'r':
		if (auth_role_parse(optarg, &a->role) == 0)
			return 0;
		fprintf(stderr, "stockade: --role must be user or admin\n");
		return -1;
	case 't':
		if (num_parse(optarg, 1, MAIN_TOKEN_TTL_MAX, &a->ttl) == 0)
			return 0;
		fprintf(stderr, "stockade: --ttl must be 1 to %lld seconds\n",
		    MAIN_TOKEN_TTL_MAX);
		return -1;
	case 's':
		a->since = optarg;
		return 0;
	default:
		return -1;
	}
}

/* Notes that option opt was given, once.  Returns 0, or -1 if again. */
static int main_note_option(struct main_args *a, int opt)
{
	size_t n = strlen(a->given);

	if (strchr(a->given, opt) != NULL) {
		fprintf(stderr, "stockade: an option is given twice\n");
		return -1;
	}
	if (n + 1 < sizeof(a->given))
		a->given[n] = (char)opt;
	return 0;
}

/*
 * Returns 0 to go on, 1 when done (--version), -1 on a usage error.
 * --help only sets a->help: which help depends on the command, which may
 * come before or after it.
 */
static int main_parse_args(int argc, char **argv, struct main_args *a)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "user", required_argument, NULL, 'u' },
		{ "role", required_argument, NULL, 'r' },
		{ "ttl", required_argument, NULL, 't' },
		{ "since", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	a->config_path = MAIN_DEFAULT_CONFIG;
	a->role = AUTH_ROLE_USER;
	a->ttl = MAIN_TOKEN_TTL_DEFAULT;
	while ((opt = getopt_long(argc, argv, "+c:hVu:r:t:s:", longopts,
	            NULL)) != -1 ||
	    (optind < argc && a->command == NULL)) {
		if (opt == -1) { /* the subcommand; options may follow */
			a->command = argv[optind++];
			continue;
		}
		if (opt == 'V') {
			printf("stockade %s\n", PACKAGE_VERSION);
			return 1;
		}
		if (opt == 'h')
			a->help = 1;
		else if (main_note_option(a, opt) < 0 ||
		    main_parse_option(a, opt) < 0)
			return -1;
	}
	if (optind != argc || (a->command == NULL && !a->help))
		return -1;
	return 0;
}

/*
 * Loads the config file at path and starts logging at its log_level.  A
 * refusal goes to stderr as "stockade: path:line: key: why", or for
 * config-check (bare) as "path:line: key: why" alone, the compiler's form
 * that editors jump to.  Returns the config (config_free it) or NULL.
 */
static struct config *main_load_config(const char *path, int bare)
{
	struct config *cfg = config_create();
	char err[512];

	if (config_load_file(cfg, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s%s\n", bare ? "" : "stockade: ", err);
		config_free(cfg);
		return NULL;
	}
	log_init(cfg->log_level, "main");
	log_set_format(cfg->log_format);
	return cfg;
}

static int main_token(const struct config *cfg, const struct main_args *a)
{
	unsigned char *secret = NULL;
	size_t secret_len = 0;
	char err[512], *token;
	int64_t now = (int64_t)time(NULL);

	if (a->user_id == 0) {
		fprintf(stderr, "stockade: token needs --user ID\n");
		return 2;
	}
	if (config_read_secret(cfg, &secret, &secret_len, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "stockade: %s\n", err);
		return 1;
	}
	token = auth_token_mint(secret, secret_len, a->user_id, a->role, now,
	    now + a->ttl);
	config_secret_free(secret);
	if (token == NULL) {
		fprintf(stderr, "stockade: cannot sign the token\n");
		return 1;
	}
	printf("%s\n", token);
	free(token);
	return 0;
}

static int main_migrate(const struct config *cfg)
{
	struct db *db;
	int rc;

	log_set_role("migrate");
	db = db_create(&(struct db_options){
	    .conninfo = cfg->database_url,
	    .application_name = "stockade migrate",
	    /* DDL may wait for locks held by running workers. */
	    .statement_timeout_ms = 0,
	    .lock_timeout_ms = 0,
	    .idle_in_transaction_timeout_ms = 0,
	    .retries = 0,
	});
	rc = migrate_run(db);
	db_free(db);
	return rc == 0 ? 0 : 1;
}

/*
 * serve: the log goes to log_file, when set, from here on (the master and
 * every child inherit it as their stderr); then the master runs.
 */
static int main_serve(const struct config *cfg, const char *path,
    char *const argv[])
{
	if (log_open_file(cfg->log_file) < 0) {
		log_error("log_file %s: %s", cfg->log_file, strerror(errno));
		return 1;
	}
	return master_run(cfg, path, argv);
}

/*
 * config-check: what serve would refuse, without starting anything.  The
 * file has loaded (main_load_config), so only the secret file is left to
 * check; then every key's effective value goes to stdout.  Returns 0, or 1
 * for a bad secret file or a failed write.
 */
static int main_config_check(const struct config *cfg, const char *path)
{
	unsigned char *secret = NULL;
	size_t secret_len;
	char err[512];

	if (cfg->auth_secret_file[0] == '\0')
		fprintf(stderr,
		    "stockade: %s: auth_secret_file is not set; serve and "
		    "token will refuse to start without it\n",
		    path);
	else if (config_read_secret(cfg, &secret, &secret_len, err,
	             sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", path, err);
		return 1;
	}
	config_secret_free(secret);
	config_dump(cfg, stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "stockade: cannot write to stdout\n");
		return 1;
	}
	return 0;
}

/*
 * Turns --since into text PostgreSQL reads as a timestamp: a duration (30s,
 * 15min, 2h, 7d) counts back from now, in UTC; anything else is passed on
 * as it is, for PostgreSQL to read (or refuse: audit_run says so).
 */
static void main_since(const char *arg, char *buf, size_t len)
{
	static const struct {
		const char *suffix;
		int64_t seconds;
	} units[] = { { "s", 1 }, { "min", 60 }, { "h", 3600 },
		{ "d", 86400 } };
	size_t ndigits = strspn(arg, "0123456789");
	time_t t;
	struct tm tm;
	int64_t n;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(arg + ndigits, units[i].suffix) != 0 ||
		    num_parse_n(arg, ndigits, 0,
		        MAIN_SINCE_MAX / units[i].seconds, &n) < 0)
			continue;
		t = time(NULL) - (time_t)(n * units[i].seconds);
		gmtime_r(&t, &tm);
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
		return;
	}
	snprintf(buf, len, "%s", arg);
}

/*
 * audit: the invariant audit, on stdout one line per broken invariant.
 * Returns 0 when every invariant holds, 1 when some do not, 2 when the
 * audit could not run (the database, or a --since that is no time), like
 * grep: a script tells "broken" from "did not look".
 */
static int main_audit(const struct config *cfg, const struct main_args *a)
{
	char since[128];
	struct db *db;
	long n;

	log_set_role("audit");
	if (a->since != NULL)
		main_since(a->since, since, sizeof(since));
	db = db_create(&(struct db_options){
	    .conninfo = cfg->database_url,
	    .application_name = "stockade audit",
	    .statement_timeout_ms = 0, /* it reads every table */
	    .lock_timeout_ms = 0,
	    .idle_in_transaction_timeout_ms = 0,
	    .retries = 0,
	});
	n = audit_run(db, a->since != NULL ? since : NULL, stdout);
	if (n < 0 && strncmp(db_sqlstate(db), "22", 2) == 0)
		fprintf(stderr,
		    "stockade: --since %s: neither a duration (30s, 15min, "
		    "2h, 7d) nor a timestamp\n",
		    a->since);
	else if (n < 0)
		log_error("cannot audit the database: %s", db_errmsg(db));
	else if (a->since != NULL)
		log_info("%ld broken invariants in what changed since %s", n,
		    since);
	else
		log_info("%ld broken invariants", n);
	db_free(db);
	if (fflush(stdout) != 0 || ferror(stdout))
		return 2;
	return n < 0 ? 2 : n > 0;
}

static int main_run_serve(const struct config *cfg, const struct main_args *a,
    char **argv)
{
	return main_serve(cfg, a->config_path, argv);
}

static int main_run_migrate(const struct config *cfg, const struct main_args *a,
    char **argv)
{
	(void)a;
	(void)argv;
	return main_migrate(cfg);
}

static int main_run_token(const struct config *cfg, const struct main_args *a,
    char **argv)
{
	(void)argv;
	return main_token(cfg, a);
}

static int main_run_config_check(const struct config *cfg,
    const struct main_args *a, char **argv)
{
	(void)argv;
	return main_config_check(cfg, a->config_path);
}

static int main_run_audit(const struct config *cfg, const struct main_args *a,
    char **argv)
{
	(void)argv;
	return main_audit(cfg, a);
}

/*
 * One subcommand: its usage line, a line for `stockade --help`, the text
 * of `stockade NAME --help`, the short names of the options it takes, and
 * the exit status when its configuration does not load.
 */
struct main_command {
	const char *name;
	const char *synopsis;
	const char *summary;
	const char *help;
	const char *options;
	int config_failed;
	int (*run)(const struct config *, const struct main_args *, char **);
};

static const struct main_command main_commands[] = {
	{ "serve", "[-c FILE]", "run the FastCGI master and its workers",
	    "Runs the FastCGI master and its workers in the foreground, logging\n"
	    "to stderr or log_file (SIGTERM/SIGINT: fast stop, SIGQUIT: graceful\n"
	    "stop, SIGHUP: reload FILE, SIGUSR1: reopen log_file, SIGUSR2: start\n"
	    "a new master from the same command on the same socket; see\n"
	    "docs/operations.md).\n\n" MAIN_CONFIG_HELP,
	    "c", 1, main_run_serve },
	{ "migrate", "[-c FILE]",
	    "apply the SQL migrations the database has not seen yet",
	    "Applies the SQL migrations compiled into stockade that the\n"
	    "database has not seen yet, each in its own transaction.\n\n"
	    "Exit status: 0 when the schema is up to date, 1 when not.\n\n" MAIN_CONFIG_HELP,
	    "c", 1, main_run_migrate },
	{ "token", "[-c FILE] --user ID [--role user|admin] [--ttl SECONDS]",
	    "print a signed bearer token (HS256) for a user",
	    "Prints a bearer token (HS256, signed with auth_secret_file) for a\n"
	    "user.\n\n" MAIN_CONFIG_HELP
	    "  -u, --user ID      the user, a positive integer (required)\n"
	    "  -r, --role ROLE    user (default) or admin\n"
	    "  -t, --ttl SECONDS  valid for this long (default 3600)\n",
	    "curt", 1, main_run_token },
	{ "config-check", "[-c FILE]",
	    "check a config file and print every effective value",
	    "Checks FILE and the secret file it names, and prints every key\n"
	    "with the value the daemon would use (passwords masked), in a form\n"
	    "it reads back.\n\n"
	    "Exit status: 0 when valid, 1 when not (\"FILE:LINE: KEY: WHY\" on\n"
	    "stderr).\n\n" MAIN_CONFIG_HELP,
	    "c", 1, main_run_config_check },
	{ "audit", "[-c FILE] [--since DURATION|TIMESTAMP]",
	    "check the invariants in the database",
	    "Checks the invariants of docs/architecture.md in the configured\n"
	    "database and prints each broken one on a line of its own:\n"
	    "\"PROBLEM SUBJECT: DETAIL\", e.g.\n"
	    "  order_total_differs order 17: total 300, 1 lines sum to 200\n\n"
	    "Exit status: 0 when every invariant holds (nothing printed), 1\n"
	    "when some do not, 2 when the audit could not run.\n\n" MAIN_CONFIG_HELP
	    "  -s, --since WHEN   audit only what changed since WHEN: a\n"
	    "                     duration back from now (30s, 15min, 2h, 7d)\n"
	    "                     or a timestamp (2026-12-01, 2026-12-01T08:00Z)\n",
	    "cs", 2, main_run_audit },
};

#define MAIN_NCOMMANDS (sizeof(main_commands) / sizeof(main_commands[0]))

/* The command called name, or NULL. */
static const struct main_command *main_command_find(const char *name)
{
	for (size_t i = 0; i < MAIN_NCOMMANDS; i++) {
		if (strcmp(name, main_commands[i].name) == 0)
			return &main_commands[i];
	}
	return NULL;
}

/* `stockade --help` (to stdout) or the usage after a mistake (stderr). */
static void main_usage(FILE *f)
{
	for (size_t i = 0; i < MAIN_NCOMMANDS; i++)
		fprintf(f, "%s stockade %-12s %s\n",
		    i == 0 ? "usage:" : "      ", main_commands[i].name,
		    main_commands[i].synopsis);
	fputs("       stockade --version | --help\n"
	      "       stockade COMMAND --help\n\n",
	    f);
	for (size_t i = 0; i < MAIN_NCOMMANDS; i++)
		fprintf(f, "  %-12s  %s\n", main_commands[i].name,
		    main_commands[i].summary);
	fputs("\n" MAIN_CONFIG_HELP
	      "\nExit status: 0 on success, 1 on failure, 2 on a usage error\n"
	      "(audit: 1 when an invariant is broken, 2 when it could not "
	      "run).\n",
	    f);
}

/* `stockade NAME --help`: the command's usage and options, to stdout. */
static void main_command_help(const struct main_command *c)
{
	printf("usage: stockade %s %s\n\n%s", c->name, c->synopsis, c->help);
}

/* Says whether every option given is one c takes.  Returns 1 or 0. */
static int main_options_fit(const struct main_command *c,
    const struct main_args *a)
{
	for (const char *o = a->given; *o != '\0'; o++) {
		if (strchr(c->options, *o) == NULL) {
			fprintf(stderr,
			    "stockade: %s takes no such option (see stockade "
			    "%s --help)\n",
			    c->name, c->name);
			return 0;
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct main_args args = { 0 };
	const struct main_command *c = NULL;
	struct config *cfg;
	int rc;

	if ((rc = main_parse_args(argc, argv, &args)) != 0) {
		if (rc < 0)
			main_usage(stderr);
		return rc > 0 ? 0 : 2;
	}
	if (args.command != NULL &&
	    (c = main_command_find(args.command)) == NULL) {
		fprintf(stderr, "stockade: unknown command '%s'\n",
		    args.command);
		main_usage(stderr);
		return 2;
	}
	if (args.help) {
		if (c != NULL)
			main_command_help(c);
		else
			main_usage(stdout);
		return 0;
	}
	if (!main_options_fit(c, &args))
		return 2;
	if ((cfg = main_load_config(args.config_path,
	         strcmp(c->name, "config-check") == 0)) == NULL)
		return c->config_failed;
	rc = c->run(cfg, &args, argv);
	config_free(cfg);
	return rc;
}
