/*
 * listener: the FastCGI listening socket, bound by the master before any
 * worker exists so that every worker inherits it and the kernel spreads
 * connections among them.  A unix socket gets the configured mode (nginx's
 * workers need to reach it: 0660 and a shared group is the usual setup); a
 * stale socket file left by a crash is replaced, a live one is refused.
 * A new master started by SIGUSR2 inherits the socket instead of binding.
 * Workers accept on it with listener_accept, which puts the deadline of
 * fastcgi_timeout on every connection before anything reads from it.
 */
#ifndef STOCKADE_LISTENER_H
#define STOCKADE_LISTENER_H

#include <stddef.h>

struct config;

/*
 * The environment variable by which a master hands its listening socket to
 * the new master it execs on SIGUSR2: the descriptor's number, in decimal.
 */
#define LISTENER_FD_ENV "STOCKADE_LISTEN_FD"

/*
 * Binds and listens, or, when LISTENER_FD_ENV is set, takes over the
 * socket it names (which must be listening at cfg->listen) and sets
 * *inherited.  Returns the fd (close-on-exec), or -1 with a logged reason.
 */
int listener_open(const struct config *cfg, int *inherited);

/*
 * Accepts one connection on listen_fd and gives it a deadline: a read from
 * it or a write to it that waits more than timeout_ms fails with EAGAIN
 * (SO_RCVTIMEO, SO_SNDTIMEO).  They are set here, on the accepted socket,
 * because a unix socket does not inherit them from its listener (Linux;
 * t/check_listener shows it).  Writes who connected into peer, for log
 * lines: "pid 123 uid 33" for a unix socket, "ADDRESS:PORT" for TCP.
 * Returns the connection (close-on-exec), or -1 with errno from accept4
 * (EAGAIN on a non-blocking listener, EINVAL on one that is not listening)
 * or from setsockopt, the connection then closed.
 */
int listener_accept(int listen_fd, int timeout_ms, char *peer, size_t peerlen);

/* The descriptor number in a LISTENER_FD_ENV value, or -1 (pure). */
int listener_parse_fd(const char *value);
/* Closes fd and removes a unix socket file.  Accepts fd -1. */
void listener_close(int fd, const struct config *cfg);

/* Removes a unix socket's path (no-op for TCP), so nobody can connect. */
void listener_unlink(const struct config *cfg);

#endif
