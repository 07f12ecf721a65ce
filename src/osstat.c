/*
 * osstat: see osstat.h.
 */
#include "osstat.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* Sends one UNIX_DIAG request for the socket with inode ino. */
static int osstat_diag_send(int nl, ino_t ino)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} msg;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST;
	msg.req.sdiag_family = AF_UNIX;
	msg.req.udiag_states = ~0U;
	msg.req.udiag_ino = (unsigned)ino;
	msg.req.udiag_show = UDIAG_SHOW_RQLEN;
	/* No cookie: the inode alone names the socket. */
	msg.req.udiag_cookie[0] = msg.req.udiag_cookie[1] = ~0U;
	return sendto(nl, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel,
	           sizeof(kernel)) == (ssize_t)sizeof(msg)
	    ? 0
	    : -1;
}

/* Finds UNIX_DIAG_RQLEN in one answer; 0, or -1 with errno set. */
static int osstat_diag_parse(const char *buf, size_t len, uint32_t *queued,
    uint32_t *backlog)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	const struct unix_diag_msg *m;
	const struct rtattr *rta;
	int rtlen;

	if (!NLMSG_OK(nlh, len) || nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nlh);

		errno = NLMSG_OK(nlh, len) && e->error < 0 ? -e->error : EPROTO;
		return -1;
	}
	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m))) {
		errno = EPROTO;
		return -1;
	}
	m = NLMSG_DATA(nlh);
	rta = (const struct rtattr *)(m + 1);
	rtlen = (int)(nlh->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	for (; RTA_OK(rta, rtlen); rta = RTA_NEXT(rta, rtlen)) {
		const struct unix_diag_rqlen *rq = RTA_DATA(rta);

		if (rta->rta_type != UNIX_DIAG_RQLEN ||
		    RTA_PAYLOAD(rta) < (int)sizeof(*rq))
			continue;
		*queued = rq->udiag_rqueue;
		*backlog = rq->udiag_wqueue;
		return 0;
	}
	errno = ENOENT;
	return -1;
}

static int osstat_unix_queue(int fd, uint32_t *queued, uint32_t *backlog)
{
	/* nlmsg_len is 32-bit aligned; so is the buffer. */
	uint32_t buf[1024];
	struct timeval tv = { .tv_sec = 1 };
	struct stat st;
	ssize_t n;
	int nl, rc = -1, saved;

	if (fstat(fd, &st) < 0)
		return -1;
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return -1;
	/* The kernel answers at once; the timeout is only a backstop. */
	if (setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
	    osstat_diag_send(nl, st.st_ino) == 0) {
		while (
		    (n = recv(nl, buf, sizeof(buf), 0)) < 0 && errno == EINTR)
			;
		if (n > 0)
			rc = osstat_diag_parse((const char *)buf, (size_t)n,
			    queued, backlog);
	}
	saved = errno;
	close(nl);
	errno = saved;
	return rc;
}

static int osstat_tcp_queue(int fd, uint32_t *queued, uint32_t *backlog)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -1;
	if (ti.tcpi_state != TCP_LISTEN) {
		errno = EINVAL;
		return -1;
	}
	/* On a listener, Linux reports the accept queue's length and its
	 * limit in these two fields (tcp_get_info). */
	*queued = ti.tcpi_unacked;
	*backlog = ti.tcpi_sacked;
	return 0;
}

int osstat_listen_queue(int fd, uint32_t *queued, uint32_t *backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int accepting = 0;
	socklen_t alen = sizeof(accepting);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &alen) < 0)
		return -1;
	if (!accepting) {
		errno = EINVAL;
		return -1;
	}
	if (ss.ss_family == AF_UNIX)
		return osstat_unix_queue(fd, queued, backlog);
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
		return osstat_tcp_queue(fd, queued, backlog);
	errno = EAFNOSUPPORT;
	return -1;
}

int64_t osstat_pss_kb(pid_t pid)
{
	char path[64], line[256];
	int64_t kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "Pss: %" SCNd64 " kB", &kb) == 1)
			break;
		kb = -1;
	}
	fclose(f);
	return kb;
}
