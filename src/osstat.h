/*
 * osstat: what the kernel says about our socket and processes, for /status
 * and the master's sampling: how many connections wait in the listen queue,
 * and how much memory a worker really uses.  Linux only; each call either
 * answers from the kernel or fails, never guesses.
 */
#ifndef STOCKADE_OSSTAT_H
#define STOCKADE_OSSTAT_H

#include <stdint.h>
#include <sys/types.h>

/*
 * The listen queue of the listening socket fd: *queued, the connections
 * accepted by the kernel that no worker has taken yet, and *backlog, the
 * most it holds (listen_backlog, capped by net.core.somaxconn).  For a unix
 * socket it asks sock_diag over netlink (UNIX_DIAG with UDIAG_SHOW_RQLEN,
 * the socket found by its inode): udiag_rqueue and udiag_wqueue are these
 * two for a listener, as `ss -xl` shows them.  For TCP, getsockopt
 * TCP_INFO: tcpi_unacked and tcpi_sacked are the same two on a listener.
 * Returns 0, or -1 (errno set) when fd is not a listening socket or the
 * kernel will not say.
 */
int osstat_listen_queue(int fd, uint32_t *queued, uint32_t *backlog);

/*
 * The proportional set size of process pid in KiB (the "Pss:" line of
 * /proc/PID/smaps_rollup): its private pages plus its share of the pages
 * it shares with the master and the other workers, so that the sum over
 * the pool is what the pool costs.  Returns -1 when it cannot be read (the
 * process is gone, another user's, or the kernel is older than 4.14).
 */
int64_t osstat_pss_kb(pid_t pid);

#endif
