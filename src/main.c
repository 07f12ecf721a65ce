/*
 * main: parses the command line, loads the configuration, starts logging,
 * and hands over to the subcommand: serve (master and workers), migrate
 * (apply sql/ migrations), token (mint a bearer token for operators and
 * tests) or config-check (validate a config file and print what it sets).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static const char main_usage[] =
    "usage: stockade serve        [-c FILE]\n"
    "       stockade migrate      [-c FILE]\n"
    "       stockade token        [-c FILE] --user ID [--role user|admin] "
    "[--ttl SECONDS]\n"
    "       stockade config-check [-c FILE]\n"
    "       stockade --version | --help\n"
    "\n"
    "  serve         run the FastCGI master and its workers in the\n"
    "                foreground, logging to stderr or log_file (SIGTERM/\n"
    "                SIGINT: fast stop, SIGQUIT: graceful stop, SIGHUP:\n"
    "                reload FILE, SIGUSR1: reopen log_file, SIGUSR2: start\n"
    "                a new master from the same command on the same\n"
    "                socket; see docs/operations.md)\n"
    "  migrate       apply the SQL migrations the database has not seen "
    "yet\n"
    "  token         print a signed bearer token (HS256) for a user\n"
    "  config-check  check FILE and the secret file it names, and print\n"
    "                every key with the value the daemon would use\n"
    "                (passwords masked); exit status 0 when valid, 1 when\n"
    "                not (\"FILE:LINE: KEY: WHY\" on stderr)\n"
    "\n"
    "  -c, --config FILE  configuration file (default " MAIN_DEFAULT_CONFIG
    ")\n"
    "\n"
    "Exit status: 0 on success, 1 on failure, 2 on a usage error.\n";

struct main_args {
	const char *command;
	const char *config_path;
	int64_t user_id;
	enum auth_role role;
	int64_t ttl;
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
	default:
		return -1;
	}
}

/* Returns 0 to go on, 1 when done (help, version), -1 on a usage error. */
static int main_parse_args(int argc, char **argv, struct main_args *a)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "user", required_argument, NULL, 'u' },
		{ "role", required_argument, NULL, 'r' },
		{ "ttl", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	a->config_path = MAIN_DEFAULT_CONFIG;
	a->role = AUTH_ROLE_USER;
	a->ttl = MAIN_TOKEN_TTL_DEFAULT;
	while ((opt = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1 ||
	    (optind < argc && a->command == NULL)) {
		if (opt == -1) { /* the subcommand; options may follow */
			a->command = argv[optind++];
			continue;
		}
		if (opt == 'h' || opt == 'V') {
			if (opt == 'h')
				fputs(main_usage, stdout);
			else
				printf("stockade %s\n", PACKAGE_VERSION);
			return 1;
		}
		if (main_parse_option(a, opt) < 0)
			return -1;
	}
	if (a->command == NULL || optind != argc) {
		fputs(main_usage, stderr);
		return -1;
	}
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

/* Says whether name is a subcommand.  Returns 1 or 0. */
static int main_is_command(const char *name)
{
	static const char *const commands[] = { "serve", "migrate", "token",
		"config-check" };

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(name, commands[i]) == 0)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct main_args args = { 0 };
	struct config *cfg;
	int rc;

	if ((rc = main_parse_args(argc, argv, &args)) != 0)
		return rc > 0 ? 0 : 2;
	if (!main_is_command(args.command)) {
		fprintf(stderr, "stockade: unknown command '%s'\n%s",
		    args.command, main_usage);
		return 2;
	}
	if ((cfg = main_load_config(args.config_path,
	         strcmp(args.command, "config-check") == 0)) == NULL)
		return 1;
	if (strcmp(args.command, "config-check") == 0)
		rc = main_config_check(cfg, args.config_path);
	else if (strcmp(args.command, "serve") == 0)
		rc = main_serve(cfg, args.config_path, argv);
	else if (strcmp(args.command, "migrate") == 0)
		rc = main_migrate(cfg);
	else
		rc = main_token(cfg, &args);
	config_free(cfg);
	return rc;
}
