/*
 * listener: see listener.h.
 */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "num.h"

/* 1 if something accepts connections on path now. */
static int listener_unix_in_use(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int in_use;

	if (fd < 0)
		return 0;
	in_use = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return in_use;
}

/*
 * Gives the socket file socket_owner and socket_group, when set.  Nobody
 * can connect before listen(), so the socket is never reachable by the
 * wrong group.  lchown: the path is a socket we just bound, never a link
 * to follow.  Returns 0, or -1 with a logged reason.
 */
static int listener_chown(const struct config *cfg)
{
	if (cfg->socket_uid < 0 && cfg->socket_gid < 0)
		return 0;
	if (lchown(cfg->listen, (uid_t)cfg->socket_uid,
	        (gid_t)cfg->socket_gid) < 0) {
		log_error("chown %s to socket_owner \"%s\" socket_group "
		          "\"%s\": %s",
		    cfg->listen, cfg->socket_owner, cfg->socket_group,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int listener_open_unix(const struct config *cfg)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old_umask;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(cfg->listen) >= sizeof(sun.sun_path)) {
		log_error("listen %s: path too long for a unix socket",
		    cfg->listen);
		return -1;
	}
	memcpy(sun.sun_path, cfg->listen, strlen(cfg->listen) + 1);
	if (lstat(cfg->listen, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("listen %s: exists and is not a socket",
			    cfg->listen);
			return -1;
		}
		if (listener_unix_in_use(&sun)) {
			log_error("listen %s: another server is accepting "
			          "connections there",
			    cfg->listen);
			return -1;
		}
		if (unlink(cfg->listen) < 0) {
			log_error(
			    "listen %s: cannot remove the stale socket: %s",
			    cfg->listen, strerror(errno));
			return -1;
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		log_error("socket: %s", strerror(errno));
		return -1;
	}
	/* No window in which the socket exists with looser permissions. */
	old_umask = umask(0777 & ~cfg->socket_mode);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	if (rc < 0 || chmod(cfg->listen, cfg->socket_mode) < 0) {
		log_error("bind %s: %s", cfg->listen, strerror(errno));
		close(fd);
		return -1;
	}
	if (listener_chown(cfg) < 0) {
		close(fd);
		listener_unlink(cfg);
		return -1;
	}
	return fd;
}

static int listener_open_tcp(const struct config *cfg)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int one = 1, fd;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, cfg->listen_host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)cfg->listen_port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, cfg->listen_host, &sin6->sin6_addr) ==
	    1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)cfg->listen_port);
		len = sizeof(*sin6);
	} else {
		log_error("listen %s: not an IP address", cfg->listen_host);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		log_error("socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0) {
		log_error("bind %s: %s", cfg->listen, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Describes the peer of connection fd, as listener_accept promises. */
static void listener_describe_peer(int fd, const struct sockaddr_storage *ss,
    char *peer, size_t peerlen)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	char addr[INET6_ADDRSTRLEN] = "?";
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		snprintf(peer, peerlen, "%s:%u", addr, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
		snprintf(peer, peerlen, "[%s]:%u", addr,
		    ntohs(sin6->sin6_port));
	} else if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		snprintf(peer, peerlen, "pid %ld uid %ld", (long)cred.pid,
		    (long)cred.uid);
	} else {
		snprintf(peer, peerlen, "unknown");
	}
}

/* Sets the deadline of every read and write on fd.  Returns 0 or -1. */
static int listener_set_deadline(int fd, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	return 0;
}

int listener_accept(int listen_fd, int timeout_ms, char *peer, size_t peerlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, one = 1, saved_errno;

	memset(&ss, 0, sizeof(ss));
	fd = accept4(listen_fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (fd < 0)
		return -1;
	if (listener_set_deadline(fd, timeout_ms) < 0)
		goto fail;
	/* As libfcgi's own accept did: a response goes out in few writes,
	 * and nothing answers them, so Nagle only adds delay. */
	if ((ss.ss_family == AF_INET || ss.ss_family == AF_INET6) &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		goto fail;
	listener_describe_peer(fd, &ss, peer, peerlen);
	return fd;
fail:
	saved_errno = errno;
	close(fd);
	errno = saved_errno;
	return -1;
}

int listener_parse_fd(const char *s)
{
	int64_t fd;

	/* 0-2 are stdio: never a socket a master would pass on. */
	if (s == NULL || num_parse(s, 3, INT32_MAX, &fd) < 0)
		return -1;
	return (int)fd;
}

/* 1 when the bound address of fd is what cfg->listen names. */
static int listener_matches(int fd, const struct config *cfg)
{
	struct sockaddr_storage ss;
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&ss;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
	socklen_t len = sizeof(ss);
	struct in_addr in;
	struct in6_addr in6;

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (cfg->listen_kind == LISTEN_UNIX)
		return ss.ss_family == AF_UNIX &&
		    strncmp(sun->sun_path, cfg->listen,
		        sizeof(sun->sun_path)) == 0;
	if (ss.ss_family == AF_INET)
		return inet_pton(AF_INET, cfg->listen_host, &in) == 1 &&
		    memcmp(&in, &sin->sin_addr, sizeof(in)) == 0 &&
		    ntohs(sin->sin_port) == cfg->listen_port;
	return ss.ss_family == AF_INET6 &&
	    inet_pton(AF_INET6, cfg->listen_host, &in6) == 1 &&
	    memcmp(&in6, &sin6->sin6_addr, sizeof(in6)) == 0 &&
	    ntohs(sin6->sin6_port) == cfg->listen_port;
}

/*
 * Takes over the listening socket a predecessor passed in LISTENER_FD_ENV
 * (value), after checking that it is one and is bound where cfg->listen
 * says: a changed `listen` needs a full restart.  The variable is removed
 * so that nothing started later sees it.
 */
static int listener_inherit(const struct config *cfg, const char *value)
{
	int fd = listener_parse_fd(value), accepting = 0;
	socklen_t len = sizeof(accepting);

	unsetenv(LISTENER_FD_ENV);
	if (fd < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0 ||
	    !accepting) {
		log_error("%s=%s: not a listening socket", LISTENER_FD_ENV,
		    value);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!listener_matches(fd, cfg)) {
		log_error("the inherited socket is not bound to listen = %s; "
		          "a new address needs a full restart",
		    cfg->listen);
		close(fd);
		return -1;
	}
	/* Only the master's copy is closed on exec (see master.c). */
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		log_error("fcntl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int listener_open(const struct config *cfg, int *inherited)
{
	const char *passed = getenv(LISTENER_FD_ENV);
	int fd;

	*inherited = passed != NULL;
	if (passed != NULL)
		fd = listener_inherit(cfg, passed);
	else if (cfg->listen_kind == LISTEN_UNIX)
		fd = listener_open_unix(cfg);
	else
		fd = listener_open_tcp(cfg);
	if (fd < 0)
		return -1;
	/* On an inherited socket this applies a changed listen_backlog. */
	if (listen(fd, cfg->listen_backlog) < 0) {
		log_error("listen %s: %s", cfg->listen, strerror(errno));
		if (*inherited)
			close(fd);
		else
			listener_close(fd, cfg);
		return -1;
	}
	return fd;
}

void listener_unlink(const struct config *cfg)
{
	if (cfg->listen_kind == LISTEN_UNIX && unlink(cfg->listen) < 0 &&
	    errno != ENOENT)
		log_warn("unlink %s: %s", cfg->listen, strerror(errno));
}

void listener_close(int fd, const struct config *cfg)
{
	if (fd < 0)
		return;
	close(fd);
	listener_unlink(cfg);
}
