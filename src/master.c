/*
 * master: see master.h.
 *
 * Signals are handled synchronously: the master blocks them all before the
 * first fork and collects them with sigtimedwait(), whose timeout doubles as
 * the timer for throttled respawns and stop deadlines.  No handler runs, so
 * no state is shared with one (the race-free equivalent of nginx's flags plus
 * sigsuspend).  Children inherit the blocked mask and unblock after
 * installing their own handlers (signals_child_init).
 *
 * Upgrade (SIGUSR2), as in nginx: the master forks and execs argv again,
 * passing the listening socket's number in LISTENER_FD_ENV.  The new master
 * starts its own workers on that socket, so both generations accept from one
 * listen queue.  SIGQUIT to the old master then stops its children accepting
 * (SIGTERM: they finish the request in hand) without removing the socket's
 * path, and whatever is queued is the new workers' to serve: no connection
 * is refused or reset.  Each master knows whether the socket is shared (it
 * has a live successor, or it was started by a predecessor that still
 * runs), and only a master that holds the socket alone removes its path.
 */
#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "clock.h"
#include "config.h"
#include "listener.h"
#include "log.h"
#include "osstat.h"
#include "scoreboard.h"
#include "reaper.h"
#include "signals.h"
#include "worker.h"
#include "xmalloc.h"

#define MASTER_KILL_GRACE_MS 1000
#define MASTER_QUICK_DEATH_MS 1000
#define MASTER_BACKOFF_MAX_MS 10000
#define MASTER_TICK_MS 1000

enum master_phase { MASTER_RUNNING, MASTER_STOPPING };

struct master_slot {
	pid_t pid;
	int64_t spawned_ms;
	int64_t respawn_at_ms; /* when empty: earliest respawn */
	unsigned quick_deaths; /* consecutive deaths within a second */
};

struct master {
	const struct config *cfg;
	const unsigned char *secret;
	size_t secret_len;
	char *const *argv; /* to exec on SIGUSR2 */
	int listen_fd;
	pid_t successor; /* the master SIGUSR2 started, while it lives */
	pid_t predecessor; /* the master that passed us the socket, or 0 */
	struct scoreboard *sb;
	struct master_slot *slots;
	enum master_phase phase;
	int64_t stop_started_ms;
	int64_t stop_timeout_ms; /* before SIGTERM; 0 for a fast stop */
	int stop_sent; /* the strongest stop signal sent so far */
	sigset_t signals;
};

/* Slots 0 .. workers-1 are workers; slot `workers` is the reaper. */
static int master_nslots(const struct master *m)
{
	return m->cfg->workers + 1;
}

/* "worker 3" or "reaper", for log lines (a static buffer: one at a time). */
static const char *master_slot_name(const struct master *m, int i)
{
	static char name[32];

	if (i == m->cfg->workers)
		return "reaper";
	snprintf(name, sizeof(name), "worker %d", i);
	return name;
}

static void master_spawn(struct master *m, int i)
{
	struct worker_params params = {
		.cfg = m->cfg,
		.secret = m->secret,
		.secret_len = m->secret_len,
		.scoreboard = m->sb,
		.slot = i,
		.listen_fd = m->listen_fd,
	};
	struct master_slot *s = &m->slots[i];
	pid_t self = getpid(), pid;

	pid = fork();
	if (pid == 0)
		signals_die_with_parent(self);
	if (pid == 0 && i == m->cfg->workers)
		reaper_run(m->cfg, &m->sb->slots[i]);
	if (pid == 0)
		worker_run(&params);
	if (pid < 0) {
		log_error("fork for worker %d failed: %s; retrying in 1s", i,
		    strerror(errno));
		s->respawn_at_ms = clock_ms() + 1000;
		return;
	}
	if (s->spawned_ms != 0)
		m->sb->slots[i].restarts++;
	s->pid = pid;
	s->spawned_ms = clock_ms();
	m->sb->slots[i].pid = pid;
	log_debug("%s started as pid %ld", master_slot_name(m, i), (long)pid);
}

static int master_slot_of(const struct master *m, pid_t pid)
{
	for (int i = 0; i < master_nslots(m); i++) {
		if (m->slots[i].pid == pid)
			return i;
	}
	return -1;
}

static void master_describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "stopped (status %#x)", status);
}

int64_t master_respawn_delay_ms(unsigned quick_deaths, uint64_t requests)
{
	unsigned shift;
	int64_t delay;

	if (requests > 0 || quick_deaths <= 1)
		return 0;
	shift = quick_deaths - 2 < 7 ? quick_deaths - 2 : 7;
	delay = (int64_t)100 << shift;
	return delay < MASTER_BACKOFF_MAX_MS ? delay : MASTER_BACKOFF_MAX_MS;
}

/*
 * Decides when a dead slot is refilled (master_respawn_delay_ms): a death
 * within a second of the start, before any request was served, counts as
 * quick; any other resets the count.  A worker that served and then died
 * (libfcgi aborts on one malformed record) is replaced at once: a client
 * repeating such a record must not empty the pool behind the back-off.
 */
static void master_schedule_respawn(struct master *m, int i, uint64_t requests,
    int64_t now)
{
	struct master_slot *s = &m->slots[i];
	int64_t delay;

	if (requests == 0 && now - s->spawned_ms < MASTER_QUICK_DEATH_MS)
		s->quick_deaths++;
	else
		s->quick_deaths = 0;
	delay = master_respawn_delay_ms(s->quick_deaths, requests);
	if (delay > 0)
		log_warn("%s keeps dying; next start in %lld ms",
		    master_slot_name(m, i), (long long)delay);
	s->respawn_at_ms = now + delay;
}

/*
 * The new master a SIGUSR2 started has exited: it failed to start (a bad
 * binary or configuration; its log lines say why), or it was stopped
 * before this one.  Either way this master keeps serving alone.
 */
static void master_successor_died(struct master *m, int status)
{
	char how[96];

	master_describe_exit(status, how, sizeof(how));
	log_error("the new master (pid %ld) %s; this master goes on serving",
	    (long)m->successor, how);
	m->successor = 0;
}

/* Forgets a successor that has exited but whose SIGCHLD is still pending. */
static void master_successor_check(struct master *m)
{
	int status;

	if (m->successor > 0 &&
	    waitpid(m->successor, &status, WNOHANG) == m->successor)
		master_successor_died(m, status);
}

static void master_reap(struct master *m)
{
	int64_t now = clock_ms();
	uint64_t requests;
	char how[96];
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == m->successor)
			master_successor_died(m, status);
		if ((i = master_slot_of(m, pid)) < 0)
			continue;
		master_describe_exit(status, how, sizeof(how));
		/* Zeroed here, not only by the next worker: one that dies
		 * before it starts must not inherit its predecessor's count. */
		requests = m->sb->slots[i].requests;
		m->sb->slots[i].requests = 0;
		m->slots[i].pid = 0;
		m->sb->slots[i].pid = 0;
		m->sb->slots[i].state = WORKER_EMPTY;
		if (m->phase != MASTER_RUNNING) {
			log_debug("%s (pid %ld) %s", master_slot_name(m, i),
			    (long)pid, how);
			continue;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			log_info("%s (pid %ld) %s; replacing it",
			    master_slot_name(m, i), (long)pid, how);
		else
			log_error("%s (pid %ld) %s; replacing it",
			    master_slot_name(m, i), (long)pid, how);
		master_schedule_respawn(m, i, requests, now);
	}
}

static void master_signal_all(struct master *m, int signo)
{
	for (int i = 0; i < master_nslots(m); i++) {
		if (m->slots[i].pid > 0 && kill(m->slots[i].pid, signo) < 0 &&
		    errno != ESRCH)
			log_warn("kill %ld: %s", (long)m->slots[i].pid,
			    strerror(errno));
	}
}

static int master_live_workers(const struct master *m)
{
	int n = 0;

	for (int i = 0; i < master_nslots(m); i++)
		n += m->slots[i].pid > 0;
	return n;
}

/*
 * 1 when another master accepts on our socket: a successor we started, or
 * the predecessor that started us (a rollback stops the new one first).
 * getppid() is the predecessor's pid only while it lives.
 */
static int master_socket_shared(const struct master *m)
{
	return m->successor > 0 ||
	    (m->predecessor > 1 && getppid() == m->predecessor);
}

int master_stop_signal(int64_t elapsed_ms, int64_t timeout_ms)
{
	if (elapsed_ms < timeout_ms)
		return SIGQUIT;
	if (elapsed_ms - timeout_ms < MASTER_KILL_GRACE_MS)
		return SIGTERM;
	return SIGKILL;
}

/* Orders stop signals by force: QUIT drains, TERM ends, KILL kills. */
static int master_stop_rank(int signo)
{
	return signo == SIGKILL ? 3 : signo == SIGTERM ? 2 : signo == SIGQUIT;
}

/* Sends signo to every child unless a stronger stop signal went first. */
static void master_stop_send(struct master *m, int signo)
{
	if (master_stop_rank(signo) <= master_stop_rank(m->stop_sent))
		return;
	if (m->stop_sent != 0)
		log_warn("%d children still running after %lld ms; sending "
		         "SIG%s",
		    master_live_workers(m),
		    (long long)(clock_ms() - m->stop_started_ms),
		    signo == SIGKILL ? "KILL" : "TERM");
	m->stop_sent = signo;
	master_signal_all(m, signo);
}

static void master_begin_stop(struct master *m, int graceful)
{
	int64_t timeout = graceful ? m->cfg->shutdown_timeout_ms : 0;
	int shared = master_socket_shared(m);

	if (m->phase == MASTER_STOPPING && !graceful) {
		master_stop_send(m, SIGKILL); /* a second TERM: stop waiting */
		return;
	}
	if (m->phase == MASTER_STOPPING)
		return;
	log_info("%s stop%s: waiting up to %lld ms for %d children (then "
	         "SIGTERM, and SIGKILL %d ms later)",
	    graceful ? "graceful" : "fast",
	    shared ? " (the other master keeps the socket)" : "",
	    (long long)timeout, master_live_workers(m), MASTER_KILL_GRACE_MS);
	m->phase = MASTER_STOPPING;
	m->stop_started_ms = clock_ms();
	m->stop_timeout_ms = timeout;
	/* The queue belongs to the socket: while another master's workers
	 * accept on it, ours only finish the request in hand (SIGTERM) and
	 * the path stays. */
	if (graceful && shared) {
		master_stop_send(m, SIGTERM);
		return;
	}
	/* No new connection may queue behind the workers' drain: without the
	 * path, nginx's connect() fails at once (and it answers 502 itself),
	 * while what is already queued gets served (see worker.c). */
	if (graceful)
		listener_unlink(m->cfg);
	master_stop_send(m, graceful ? SIGQUIT : SIGTERM);
}

/* While stopping: escalates as due, and returns how long the loop may sleep. */
static int64_t master_stop_tick(struct master *m, int64_t now)
{
	int64_t elapsed = now - m->stop_started_ms;
	int64_t term_at = m->stop_timeout_ms;
	int64_t kill_at = term_at + MASTER_KILL_GRACE_MS;

	master_stop_send(m, master_stop_signal(elapsed, m->stop_timeout_ms));
	if (elapsed < term_at)
		return term_at - elapsed;
	if (elapsed < kill_at)
		return kill_at - elapsed;
	return MASTER_TICK_MS;
}

/* In the child of master_upgrade: exec argv with the socket inherited. */
static noreturn void master_exec_successor(const struct master *m)
{
	char fd[16];
	int flags;

	snprintf(fd, sizeof(fd), "%d", m->listen_fd);
	flags = fcntl(m->listen_fd, F_GETFD);
	if (flags < 0 ||
	    fcntl(m->listen_fd, F_SETFD, flags & ~FD_CLOEXEC) < 0 ||
	    setenv(LISTENER_FD_ENV, fd, 1) < 0) {
		log_error("cannot pass the socket on: %s", strerror(errno));
		_exit(127);
	}
	/* The blocked signal mask survives exec: the new master blocks the
	 * same set first thing, so no signal meets a default action. */
	execvp(m->argv[0], m->argv);
	log_error("exec %s: %s", m->argv[0], strerror(errno));
	_exit(127);
}

/*
 * SIGUSR2: starts a new master from argv[0] (a replaced binary upgrades),
 * which re-reads the configuration and serves the same socket beside us.
 * The operator then sends us SIGQUIT (see the file comment).
 */
static void master_upgrade(struct master *m)
{
	pid_t pid;

	if (m->phase != MASTER_RUNNING || m->successor > 0) {
		log_warn("SIGUSR2 ignored: %s",
		    m->successor > 0 ? "a new master is already running"
		                     : "stopping");
		return;
	}
	if ((pid = fork()) == 0)
		master_exec_successor(m);
	if (pid < 0) {
		log_error("SIGUSR2: fork failed: %s", strerror(errno));
		return;
	}
	m->successor = pid;
	log_info("SIGUSR2: new master started as pid %ld; send SIGQUIT to "
	         "pid %ld once its workers serve",
	    (long)pid, (long)getpid());
}

static void master_handle_signal(struct master *m, int signo)
{
	switch (signo) {
	case SIGCHLD:
		master_reap(m);
		break;
	case SIGTERM:
	case SIGINT:
		master_begin_stop(m, 0);
		break;
	case SIGQUIT:
		master_begin_stop(m, 1);
		break;
	case SIGHUP:
		log_warn("SIGHUP: configuration reload is not supported yet; "
		         "restart stockade to apply a new configuration");
		break;
	case SIGUSR1:
		log_info("SIGUSR1: logs go to stderr; nothing to reopen");
		break;
	case SIGUSR2:
		master_upgrade(m);
		break;
	default:
		break;
	}
}

/*
 * Samples the listen queue for /status's "max listen queue", as php-fpm's
 * master does once a second: the loop wakes at least that often.
 */
static void master_sample_queue(struct master *m)
{
	uint32_t queued, backlog;

	if (osstat_listen_queue(m->listen_fd, &queued, &backlog) == 0 &&
	    queued > m->sb->listen_queue_max)
		m->sb->listen_queue_max = queued;
}

/* Respawns due slots and returns how long the loop may sleep. */
static int64_t master_tick(struct master *m)
{
	int64_t now = clock_ms(), wait = MASTER_TICK_MS;

	if (m->phase == MASTER_STOPPING)
		return master_stop_tick(m, now);
	master_sample_queue(m);
	for (int i = 0; i < master_nslots(m); i++) {
		struct master_slot *s = &m->slots[i];

		if (s->pid > 0)
			continue;
		if (s->respawn_at_ms <= now)
			master_spawn(m, i);
		else if (s->respawn_at_ms - now < wait)
			wait = s->respawn_at_ms - now;
	}
	return wait;
}

static void master_loop(struct master *m)
{
	struct timespec ts;
	siginfo_t info;
	int64_t wait;
	int signo;

	for (;;) {
		wait = master_tick(m);
		if (m->phase == MASTER_STOPPING && master_live_workers(m) == 0)
			return;
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = (wait % 1000) * 1000000L;
		signo = sigtimedwait(&m->signals, &info, &ts);
		if (signo < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_error("sigtimedwait: %s", strerror(errno));
			continue;
		}
		master_handle_signal(m, signo);
	}
}

static int master_block_signals(struct master *m)
{
	static const int handled[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT,
		SIGHUP, SIGUSR1, SIGUSR2 };

	sigemptyset(&m->signals);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigaddset(&m->signals, handled[i]);
	if (sigprocmask(SIG_BLOCK, &m->signals, NULL) < 0) {
		log_error("sigprocmask: %s", strerror(errno));
		return -1;
	}
	/* A write to a closed pipe is an error to handle, not a death. */
	(void)signal(SIGPIPE, SIG_IGN);
	return 0;
}

int master_run(const struct config *cfg, const unsigned char *secret,
    size_t secret_len, char *const argv[])
{
	struct master m;
	int status = 1, inherited = 0;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.secret = secret;
	m.secret_len = secret_len;
	m.argv = argv;
	m.listen_fd = -1;
	log_set_role("master");
	if (master_block_signals(&m) < 0)
		goto out;
	if ((m.listen_fd = listener_open(cfg, &inherited)) < 0)
		goto out;
	if (inherited)
		m.predecessor = getppid();
	/*
	 * What every worker would otherwise do for itself, once here: the
	 * workers inherit it (see auth_crypto_preload).
	 */
	if (app_prepare(secret, secret_len) < 0) {
		log_error("libcrypto cannot compute HMAC-SHA-256 or SHA-256");
		goto out;
	}
	if ((m.sb = scoreboard_create(cfg->workers + 1)) == NULL) {
		log_error("cannot map the scoreboard: %s", strerror(errno));
		goto out;
	}
	m.slots = xcalloc((size_t)cfg->workers + 1, sizeof(*m.slots));
	log_info("stockade %s %s %s with %d workers", PACKAGE_VERSION,
	    inherited ? "took over the socket" : "listening on", cfg->listen,
	    cfg->workers);
	master_loop(&m);
	log_info("stopped");
	status = 0;
out:
	free(m.slots);
	scoreboard_free(m.sb);
	master_successor_check(&m);
	if (master_socket_shared(&m))
		close(m.listen_fd);
	else
		listener_close(m.listen_fd, cfg);
	return status;
}
