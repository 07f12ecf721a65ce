/*
 * listener: the FastCGI listening socket, bound by the master before any
 * worker exists so that every worker inherits it and the kernel spreads
 * connections among them.  A unix socket gets the configured mode (nginx's
 * workers need to reach it: 0660 and a shared group is the usual setup); a
 * stale socket file left by a crash is replaced, a live one is refused.
 */
#ifndef STOCKADE_LISTENER_H
#define STOCKADE_LISTENER_H

struct config;

/* Binds and listens.  Returns the fd, or -1 with a logged reason. */
int listener_open(const struct config *cfg);
/* Closes fd and removes a unix socket file.  Accepts fd -1. */
void listener_close(int fd, const struct config *cfg);

/* Removes a unix socket's path (no-op for TCP), so nobody can connect. */
void listener_unlink(const struct config *cfg);

#endif
