/*
 * config_addr: see config_addr.h.
 */
#include "config_addr.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "num.h"

#define REDIS_PORT 6379 /* the port redis:// implies */
#define SENTINEL_PORT 26379 /* Redis Sentinel's own default port */

/* Longest unix socket path, NUL excluded: sockaddr_un has a fixed array. */
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/*
 * Splits "HOST:PORT" or "[IPV6]:PORT" into host (brackets removed) and port,
 * and sets *v6 for the bracketed form.  Without ":PORT" the port is
 * dflt_port, or an error when dflt_port is 0.  Returns 0, or -1 with why.
 */
static int config_split_hostport(const char *s, int dflt_port, char *host,
    size_t hostlen, int *port, int *v6, char *why, size_t whylen)
{
	const char *h = s, *rest;
	int64_t n;

	*v6 = s[0] == '[';
	if (*v6) {
		h = s + 1;
		if ((rest = strchr(h, ']')) == NULL) {
			snprintf(why, whylen,
			    "missing \"]\" after the IPv6 address");
			return -1;
		}
	} else if ((rest = strchr(s, ':')) == NULL) {
		rest = s + strlen(s);
	} else if (strchr(rest + 1, ':') != NULL) {
		snprintf(why, whylen,
		    "an IPv6 address must be in brackets, as in [::1]:9000");
		return -1;
	}
	if (rest == h || (size_t)(rest - h) >= hostlen) {
		snprintf(why, whylen, "the host must be 1 to %zu bytes",
		    hostlen - 1);
		return -1;
	}
	memcpy(host, h, (size_t)(rest - h));
	host[rest - h] = '\0';
	rest += *v6; /* past the ']' */
	if (*rest == '\0' && dflt_port != 0) {
		*port = dflt_port;
		return 0;
	}
	if (*rest != ':' || num_parse(rest + 1, 1, 65535, &n) == -1) {
		snprintf(why, whylen,
		    "must end in :PORT, PORT an integer from 1 to 65535");
		return -1;
	}
	*port = (int)n;
	return 0;
}

/* Checks a unix socket path: absolute, and short enough for sun_path. */
static int config_check_sun_path(const char *path, char *why, size_t whylen)
{
	if (path[0] != '/') {
		snprintf(why, whylen, "a unix socket path must be absolute");
		return -1;
	}
	if (strlen(path) > SUN_PATH_MAX) {
		snprintf(why, whylen,
		    "a unix socket path must be at most %zu "
		    "bytes (sockaddr_un), got %zu",
		    SUN_PATH_MAX, strlen(path));
		return -1;
	}
	return 0;
}

/*
 * listen: a unix path, or an address literal and port.  Host names are
 * refused: a socket bound to whatever a name resolved to at start-up would
 * change meaning silently when DNS or /etc/hosts does.
 */
int config_addr_listen(struct config *cfg, const char *value, char *why,
    size_t whylen)
{
	char host[sizeof(cfg->listen_host)], shown[CONFIG_SHOW_MAX];
	unsigned char addr[sizeof(struct in6_addr)];
	int port, v6;

	log_escape(shown, sizeof(shown), value, strlen(value));
	if (value[0] == '/') {
		if (config_check_sun_path(value, why, whylen) == -1)
			return -1;
		cfg->listen_kind = LISTEN_UNIX;
		config_copy_string(cfg->listen_host, sizeof(cfg->listen_host),
		    "");
		cfg->listen_port = 0;
		return 0;
	}
	if (value[0] != '[' && strchr(value, ':') == NULL) {
		snprintf(why, whylen,
		    "must be an absolute unix socket path, "
		    "IPV4:PORT or [IPV6]:PORT, got \"%s\"",
		    shown);
		return -1;
	}
	if (config_split_hostport(value, 0, host, sizeof(host), &port, &v6, why,
	        whylen) == -1)
		return -1;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1) {
		snprintf(why, whylen,
		    "the host must be an IPv4 address such "
		    "as 127.0.0.1 or an IPv6 address in brackets such as "
		    "[::1] (host names are not accepted), got \"%s\"",
		    shown);
		return -1;
	}
	cfg->listen_kind = LISTEN_TCP;
	config_copy_string(cfg->listen_host, sizeof(cfg->listen_host), host);
	cfg->listen_port = port;
	return 0;
}

/*
 * Checks a DNS host name (RFC 1123): dot-separated labels of 1 to 63
 * letters, digits and hyphens, not starting or ending with a hyphen.
 * Returns 1 or 0.
 */
static int config_is_hostname(const char *s)
{
	size_t label = 0;

	if (strlen(s) > 253)
		return 0;
	for (const char *p = s;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return 0;
			if (*p == '\0')
				return 1;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') || (*p == '-' && label > 0)))
			return 0;
		label++;
	}
}

/* Checks a redis:// host: a bracketed IPv6, a dotted IPv4 or a name. */
static int config_check_redis_host(const char *host, int v6, char *why,
    size_t whylen)
{
	unsigned char addr[sizeof(struct in6_addr)];
	int numeric = strspn(host, "0123456789.") == strlen(host);

	if (v6 || numeric) {
		if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1) {
			snprintf(why, whylen,
			    "the host is not a valid IPv%c address",
			    v6 ? '6' : '4');
			return -1;
		}
	} else if (!config_is_hostname(host)) {
		snprintf(why, whylen, "the host is not a valid host name");
		return -1;
	}
	return 0;
}

/* Fills the redis_* fields for "unix:/PATH". */
static int config_addr_redis_unix(struct config *cfg, const char *path,
    char *why, size_t whylen)
{
	if (config_check_sun_path(path, why, whylen) == -1)
		return -1;
	config_copy_string(cfg->redis_host, sizeof(cfg->redis_host), "");
	cfg->redis_port = 0;
	config_copy_string(cfg->redis_unix_path, sizeof(cfg->redis_unix_path),
	    path);
	return 0;
}

/*
 * redis_url: "redis://HOST[:PORT][/]" or "unix:/PATH".  The URL is never
 * quoted back: a later version may accept a password in it.
 */
int config_addr_redis(struct config *cfg, const char *value, char *why,
    size_t whylen)
{
	char authority[CONFIG_STRING_MAX], host[sizeof(cfg->redis_host)];
	const char *s, *end;
	int port, v6;

	if (strncmp(value, "unix:", 5) == 0)
		return config_addr_redis_unix(cfg, value + 5, why, whylen);
	if (strncmp(value, "redis://", 8) != 0) {
		snprintf(why, whylen,
		    "must be redis://HOST:PORT or "
		    "unix:/PATH (rediss:// is not supported)");
		return -1;
	}
	s = value + 8;
	end = s + strcspn(s, "/?#");
	if (memchr(s, '@', (size_t)(end - s)) != NULL ||
	    (*end != '\0' && strcmp(end, "/") != 0)) {
		snprintf(why, whylen,
		    "a user, password, database number or "
		    "query is not supported yet: use redis://HOST:PORT");
		return -1;
	}
	memcpy(authority, s, (size_t)(end - s));
	authority[end - s] = '\0';
	if (config_split_hostport(authority, REDIS_PORT, host, sizeof(host),
	        &port, &v6, why, whylen) == -1 ||
	    config_check_redis_host(host, v6, why, whylen) == -1)
		return -1;
	config_copy_string(cfg->redis_host, sizeof(cfg->redis_host), host);
	cfg->redis_port = port;
	config_copy_string(cfg->redis_unix_path, sizeof(cfg->redis_unix_path),
	    "");
	return 0;
}

/*
 * Reads one "HOST[:PORT]" of redis_sentinels, the n bytes at s with the
 * blanks around it already cut off, into host and *port.
 */
static int config_sentinel_one(const char *s, size_t n, char *host,
    size_t hostlen, int *port, char *why, size_t whylen)
{
	char item[CONFIG_STRING_MAX];
	int v6;

	memcpy(item, s, n);
	item[n] = '\0';
	if (strstr(item, "://") != NULL) {
		snprintf(why, whylen, "HOST:PORT, not a URL");
		return -1;
	}
	if (config_split_hostport(item, SENTINEL_PORT, host, hostlen, port, &v6,
	        why, whylen) == -1)
		return -1;
	return config_check_redis_host(host, v6, why, whylen);
}

/*
 * redis_sentinels: addresses separated by commas, each with optional spaces
 * around it (a string value holds no tab).  Parsed whole into locals first, so
 * that an error leaves cfg as it was.
 */
int config_addr_sentinels(struct config *cfg, const char *value, char *why,
    size_t whylen)
{
	char hosts[CONFIG_SENTINELS_MAX][sizeof(cfg->redis_sentinel_host[0])];
	int ports[CONFIG_SENTINELS_MAX], n = 0;
	const char *s = value, *end;
	char item_why[256];

	s += strspn(s, " ");
	while (*s != '\0') {
		size_t len = strcspn(s, ","), trimmed = len;

		while (trimmed > 0 && s[trimmed - 1] == ' ')
			trimmed--;
		if (n == CONFIG_SENTINELS_MAX) {
			snprintf(why, whylen, "at most %d Sentinels",
			    CONFIG_SENTINELS_MAX);
			return -1;
		}
		if (trimmed == 0) {
			snprintf(why, whylen,
			    "an empty address in the list (write "
			    "HOST:PORT, HOST:PORT)");
			return -1;
		}
		if (config_sentinel_one(s, trimmed, hosts[n], sizeof(hosts[n]),
		        &ports[n], item_why, sizeof(item_why)) == -1) {
			snprintf(why, whylen, "Sentinel %d: %s", n + 1,
			    item_why);
			return -1;
		}
		n++;
		end = s + len;
		if (*end == ',' && end[1 + strspn(end + 1, " ")] == '\0') {
			snprintf(why, whylen, "a comma ends the list");
			return -1;
		}
		s = *end == ',' ? end + 1 : end;
		s += strspn(s, " ");
	}
	memset(cfg->redis_sentinel_host, 0, sizeof(cfg->redis_sentinel_host));
	memset(cfg->redis_sentinel_port, 0, sizeof(cfg->redis_sentinel_port));
	for (int i = 0; i < n; i++) {
		config_copy_string(cfg->redis_sentinel_host[i],
		    sizeof(cfg->redis_sentinel_host[i]), hosts[i]);
		cfg->redis_sentinel_port[i] = ports[i];
	}
	cfg->redis_nsentinels = n;
	return 0;
}
