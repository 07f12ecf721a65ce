/*
 * listener: see listener.h.
 */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

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
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) {
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
	if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) < 0) {
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

int listener_open(const struct config *cfg)
{
	int fd;

	fd = cfg->listen_kind == LISTEN_UNIX ? listener_open_unix(cfg)
	                                     : listener_open_tcp(cfg);
	if (fd < 0)
		return -1;
	if (listen(fd, cfg->listen_backlog) < 0) {
		log_error("listen %s: %s", cfg->listen, strerror(errno));
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
