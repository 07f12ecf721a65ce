/*
 * check_config_addr: the address values: listen (unix path, IPv4 or
 * bracketed IPv6 literal and port), redis_url (redis://HOST[:PORT] or
 * unix:/PATH) and redis_sentinels (a list of HOST[:PORT]), the fields
 * derived from them, and the message for each malformed one.
 */
#include "check_config.h"
#include "check_run.h"

START_TEST(test_listen_tcp)
{
	struct config *cfg = config_create();
	char err[ERR_MAX] = "";

	ck_assert_int_eq(config_set(cfg, "listen", "127.0.0.1:9000", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->listen_kind, LISTEN_TCP);
	ck_assert_str_eq(cfg->listen_host, "127.0.0.1");
	ck_assert_int_eq(cfg->listen_port, 9000);
	ck_assert_int_eq(config_set(cfg, "listen", "[::1]:8080", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->listen_kind, LISTEN_TCP);
	ck_assert_str_eq(cfg->listen_host, "::1");
	ck_assert_int_eq(cfg->listen_port, 8080);
	ck_assert_int_eq(config_set(cfg, "listen", "/tmp/s:1.sock", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->listen_kind, LISTEN_UNIX);
	ck_assert_str_eq(cfg->listen_host, "");
	ck_assert_int_eq(cfg->listen_port, 0);
	ck_assert_str_eq(listen_kind_names[LISTEN_TCP], "tcp");
	config_free(cfg);
}
END_TEST

START_TEST(test_listen_unix_length)
{
	struct config *cfg = config_create();
	char path[128], err[ERR_MAX] = "";

	/* 107 bytes and the NUL fill sun_path exactly. */
	memset(path, 'x', sizeof(path));
	path[0] = '/';
	path[107] = '\0';
	ck_assert_msg(config_set(cfg, "listen", path, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_str_eq(cfg->listen, path);
	path[107] = 'x';
	path[108] = '\0';
	ck_assert_int_eq(config_set(cfg, "listen", path, err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	    "listen: a unix socket path must be at most 107 "
	    "bytes (sockaddr_un), got 108");
	config_free(cfg);
}
END_TEST

#define LISTEN_PORT_MUST \
	"listen: must end in :PORT, PORT an integer from " \
	"1 to 65535"
#define LISTEN_HOST_MUST \
	"listen: the host must be an IPv4 address such as " \
	"127.0.0.1 or an IPv6 address in brackets such as " \
	"[::1] (host names are not accepted), got "

static const struct bad_case bad_listens[] = {
	{ "listen", "127.0.0.1:0", LISTEN_PORT_MUST },
	{ "listen", "127.0.0.1:70000", LISTEN_PORT_MUST },
	{ "listen", "127.0.0.1:", LISTEN_PORT_MUST },
	{ "listen", "127.0.0.1:80x", LISTEN_PORT_MUST },
	{ "listen", "[::1]", LISTEN_PORT_MUST },
	{ "listen", "[::1]x:80", LISTEN_PORT_MUST },
	{ "listen", "localhost:80", LISTEN_HOST_MUST "\"localhost:80\"" },
	{ "listen", "256.0.0.1:80", LISTEN_HOST_MUST "\"256.0.0.1:80\"" },
	{ "listen", "127.1:80", LISTEN_HOST_MUST "\"127.1:80\"" },
	{ "listen", "[127.0.0.1]:80", LISTEN_HOST_MUST "\"[127.0.0.1]:80\"" },
	{ "listen", "::1:80",
	    "listen: an IPv6 address must be in brackets, "
	    "as in [::1]:9000" },
	{ "listen", "[::1:80",
	    "listen: missing \"]\" after the IPv6 "
	    "address" },
	{ "listen", ":80", "listen: the host must be 1 to 63 bytes" },
	{ "listen", "stockade.sock",
	    "listen: must be an absolute unix socket "
	    "path, IPV4:PORT or [IPV6]:PORT, got \"stockade.sock\"" },
	{ "listen", "127.0.0.1",
	    "listen: must be an absolute unix socket "
	    "path, IPV4:PORT or [IPV6]:PORT, got \"127.0.0.1\"" },
};

START_TEST(test_listen_bad)
{
	assert_set_refused(&bad_listens[_i]);
}
END_TEST

/* A good redis_url and what it must be split into. */
struct redis_case {
	const char *url;
	const char *host;
	int port;
	const char *path;
};

static const struct redis_case good_redis[] = {
	{ "redis://127.0.0.1:6379", "127.0.0.1", 6379, "" },
	{ "redis://10.0.0.5:6380/", "10.0.0.5", 6380, "" },
	{ "redis://redis.internal:7000", "redis.internal", 7000, "" },
	{ "redis://cache", "cache", 6379, "" },
	{ "redis://[::1]:6379", "::1", 6379, "" },
	{ "redis://[fe80::1]", "fe80::1", 6379, "" },
	{ "unix:/run/redis/redis.sock", "", 0, "/run/redis/redis.sock" },
};

START_TEST(test_redis_good)
{
	const struct redis_case *c = &good_redis[_i];
	struct config *cfg = config_create();
	char err[ERR_MAX] = "";

	/* Start from the other form so that stale derived fields show. */
	ck_assert_int_eq(config_set(cfg, "redis_url",
	                     c->path[0] ? "redis://old:1" : "unix:/old.sock",
	                     err, sizeof(err)),
	    0);
	ck_assert_msg(config_set(cfg, "redis_url", c->url, err, sizeof(err)) ==
	        0,
	    "%s: %s", c->url, err);
	ck_assert_str_eq(cfg->redis_url, c->url);
	ck_assert_str_eq(cfg->redis_host, c->host);
	ck_assert_int_eq(cfg->redis_port, c->port);
	ck_assert_str_eq(cfg->redis_unix_path, c->path);
	config_free(cfg);
}
END_TEST

#define REDIS_EXTRA \
	"redis_url: a user, password, database number or " \
	"query is not supported yet: use redis://HOST:PORT"
#define REDIS_SCHEME \
	"redis_url: must be redis://HOST:PORT or unix:/PATH " \
	"(rediss:// is not supported)"
#define REDIS_PORT_MUST \
	"redis_url: must end in :PORT, PORT an integer " \
	"from 1 to 65535"

static const struct bad_case bad_redis[] = {
	{ "redis_url", "redis://h:6379/0", REDIS_EXTRA },
	{ "redis_url", "redis://user:pw@h:6379", REDIS_EXTRA },
	{ "redis_url", "redis://h:6379?timeout=1", REDIS_EXTRA },
	{ "redis_url", "redis://h:6379//", REDIS_EXTRA },
	{ "redis_url", "rediss://h:6379", REDIS_SCHEME },
	{ "redis_url", "http://h:6379", REDIS_SCHEME },
	{ "redis_url", "127.0.0.1:6379", REDIS_SCHEME },
	{ "redis_url", "redis://h:0", REDIS_PORT_MUST },
	{ "redis_url", "redis://h:65536", REDIS_PORT_MUST },
	{ "redis_url", "redis://h:", REDIS_PORT_MUST },
	{ "redis_url", "redis://:6379",
	    "redis_url: the host must be 1 to 255 "
	    "bytes" },
	{ "redis_url", "redis://",
	    "redis_url: the host must be 1 to 255 "
	    "bytes" },
	{ "redis_url", "redis://bad_host:6379",
	    "redis_url: the host is not a "
	    "valid host name" },
	{ "redis_url", "redis://-h:6379",
	    "redis_url: the host is not a valid "
	    "host name" },
	{ "redis_url", "redis://h-.example:6379",
	    "redis_url: the host is not "
	    "a valid host name" },
	{ "redis_url", "redis://a..b:6379",
	    "redis_url: the host is not a "
	    "valid host name" },
	{ "redis_url", "redis://999.1.1.1:6379",
	    "redis_url: the host is not "
	    "a valid IPv4 address" },
	{ "redis_url", "redis://[::g]:6379",
	    "redis_url: the host is not a "
	    "valid IPv6 address" },
	{ "redis_url", "unix:relative.sock",
	    "redis_url: a unix socket path "
	    "must be absolute" },
	{ "redis_url", "unix:",
	    "redis_url: a unix socket path must be "
	    "absolute" },
};

START_TEST(test_redis_bad)
{
	assert_set_refused(&bad_redis[_i]);
}
END_TEST

START_TEST(test_redis_long_names)
{
	struct config *cfg = config_create();
	char url[600], label[65], err[ERR_MAX] = "";

	/* A label may have 63 bytes, not 64 (RFC 1035). */
	memset(label, 'a', sizeof(label) - 1);
	label[64] = '\0';
	snprintf(url, sizeof(url), "redis://%s.example:1", label);
	ck_assert_int_eq(config_set(cfg, "redis_url", url, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "redis_url: the host is not a valid host name");
	snprintf(url, sizeof(url), "redis://%s.example:1", label + 1);
	ck_assert_msg(config_set(cfg, "redis_url", url, err, sizeof(err)) == 0,
	    "%s", err);
	/* And so is a 109-byte unix path. */
	memset(url, 'r', sizeof(url));
	memcpy(url, "unix:/", 6);
	url[5 + 108] = '\0';
	ck_assert_int_eq(config_set(cfg, "redis_url", url, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err,
	    "redis_url: a unix socket path must be at most "
	    "107 bytes (sockaddr_un), got 108");
	config_free(cfg);
}
END_TEST

/* A good redis_sentinels and the list it must be split into. */
static const struct {
	const char *value;
	int n;
	const char *hosts[3];
	int ports[3];
} good_sentinels[] = {
	{ "", 0, { NULL }, { 0 } },
	{ "   ", 0, { NULL }, { 0 } },
	{ "10.0.0.1:26379", 1, { "10.0.0.1" }, { 26379 } },
	{ "s1", 1, { "s1" }, { 26379 } },
	{ "s1:5000,s2:5001,s3", 3, { "s1", "s2", "s3" },
	    { 5000, 5001, 26379 } },
	{ "  10.0.0.1:1 ,  [::1]:2,  sentinel-3.example ", 3,
	    { "10.0.0.1", "::1", "sentinel-3.example" }, { 1, 2, 26379 } },
};

START_TEST(test_sentinels_good)
{
	struct config *cfg = config_create();
	char err[ERR_MAX] = "";

	/* A longer list first: a shorter one must leave none of it. */
	ck_assert_int_eq(config_set(cfg, "redis_sentinels", "a,b,c,d", err,
	                     sizeof(err)),
	    0);
	ck_assert_msg(config_set(cfg, "redis_sentinels",
	                  good_sentinels[_i].value, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(cfg->redis_nsentinels, good_sentinels[_i].n);
	for (int i = 0; i < CONFIG_SENTINELS_MAX; i++) {
		if (i < good_sentinels[_i].n) {
			ck_assert_str_eq(cfg->redis_sentinel_host[i],
			    good_sentinels[_i].hosts[i]);
			ck_assert_int_eq(cfg->redis_sentinel_port[i],
			    good_sentinels[_i].ports[i]);
		} else {
			ck_assert_str_eq(cfg->redis_sentinel_host[i], "");
			ck_assert_int_eq(cfg->redis_sentinel_port[i], 0);
		}
	}
	config_free(cfg);
}
END_TEST

static const struct bad_case bad_sentinels[] = {
	{ "redis_sentinels", "a,,b",
	    "redis_sentinels: an empty address in the list (write "
	    "HOST:PORT, HOST:PORT)" },
	{ "redis_sentinels", ",a",
	    "redis_sentinels: an empty address in the list (write "
	    "HOST:PORT, HOST:PORT)" },
	{ "redis_sentinels", "a, ", "redis_sentinels: a comma ends the list" },
	{ "redis_sentinels", "a:0",
	    "redis_sentinels: Sentinel 1: must end in :PORT, PORT an integer "
	    "from 1 to 65535" },
	{ "redis_sentinels", "a:1,b:x",
	    "redis_sentinels: Sentinel 2: must end in :PORT, PORT an integer "
	    "from 1 to 65535" },
	{ "redis_sentinels", "a b",
	    "redis_sentinels: Sentinel 1: the host is not a valid host name" },
	{ "redis_sentinels", "a;b",
	    "redis_sentinels: Sentinel 1: the host is not a valid host name" },
	{ "redis_sentinels", "redis://a:26379",
	    "redis_sentinels: Sentinel 1: HOST:PORT, not a URL" },
	{ "redis_sentinels", "::1:26379",
	    "redis_sentinels: Sentinel 1: an IPv6 address must be in "
	    "brackets, as in [::1]:9000" },
	{ "redis_sentinels", "1.2.3.999",
	    "redis_sentinels: Sentinel 1: the host is not a valid IPv4 "
	    "address" },
	{ "redis_sentinels", "a,b,c,d,e,f,g,h,i",
	    "redis_sentinels: at most 8 Sentinels" },
	{ "redis_master_name", "",
	    "redis_master_name: must not be "
	    "empty" },
	{ "redis_master_name", "my master",
	    "redis_master_name: may hold only letters, digits, '.', '-' and "
	    "'_', got \"my master\"" },
};

START_TEST(test_sentinels_bad)
{
	assert_set_refused(&bad_sentinels[_i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config_addr");
	TCase *listen = tcase_create("listen");
	TCase *redis = tcase_create("redis");

	tcase_add_test(listen, test_listen_tcp);
	tcase_add_test(listen, test_listen_unix_length);
	tcase_add_loop_test(listen, test_listen_bad, 0, NCASES(bad_listens));
	suite_add_tcase(s, listen);
	tcase_add_loop_test(redis, test_redis_good, 0, NCASES(good_redis));
	tcase_add_loop_test(redis, test_redis_bad, 0, NCASES(bad_redis));
	tcase_add_test(redis, test_redis_long_names);
	tcase_add_loop_test(redis, test_sentinels_good, 0,
	    NCASES(good_sentinels));
	tcase_add_loop_test(redis, test_sentinels_bad, 0,
	    NCASES(bad_sentinels));
	suite_add_tcase(s, redis);
	return check_run(s);
}
