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
 *
 * Reload (SIGHUP), by generations as in nginx: the master reads the file
 * again; if it is refused, the log says why (file:line: key) and nothing
 * changes.  Otherwise a new generation (its config, secret, scoreboard and
 * slots) starts its workers and reaper on the same socket, with the keys
 * that need a restart (config_reload.h) kept as they run.  Once each of its
 * workers waits in accept() or serves (or after MASTER_READY_WAIT_MS,
 * whatever they do), the older generations get SIGTERM: each of their
 * workers finishes the request in hand and exits (worker.c), and whatever
 * waits in the listen queue is the new workers' to serve, so no request
 * fails.  A retiring process still running shutdown_timeout later is
 * killed.  A generation whose processes are all gone is freed.
 */
#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "clock.h"
#include "config.h"
#include "coupon_issue.h"
#include "config_file.h"
#include "config_keys.h"
#include "config_reload.h"
#include "listener.h"
#include "log.h"
#include "osstat.h"
#include "notify.h"
#include "privs.h"
#include "scoreboard.h"
#include "queue_consumer.h"
#include "reaper.h"
#include "signals.h"
#include "watchdog.h"
#include "worker.h"
#include "xmalloc.h"

#define MASTER_KILL_GRACE_MS 1000
#define MASTER_QUICK_DEATH_MS 1000
#define MASTER_BACKOFF_MAX_MS 10000
#define MASTER_TICK_MS 1000
/* How long a new generation may take to serve before the old retires. */
#define MASTER_READY_WAIT_MS 10000
/* How often the master looks whether a new generation serves yet. */
#define MASTER_READY_POLL_MS 20
/* A child's exit status when it could not drop privileges (EX_CONFIG). */
#define MASTER_EXIT_PRIVS 78

enum master_phase { MASTER_RUNNING, MASTER_STOPPING };

struct master_slot {
	pid_t pid;
	int64_t spawned_ms;
	int64_t respawn_at_ms; /* when empty: earliest respawn */
	unsigned quick_deaths; /* consecutive deaths within a second */
};

/*
 * A generation: the workers and reaper started with one configuration.
 * The first comes with the master; each accepted reload starts another.
 */
struct master_gen {
	struct config *cfg;
	unsigned char *secret; /* config_secret_free */
	size_t secret_len;
	struct scoreboard *sb; /* its own: its workers' /status reads it */
	struct master_slot *slots; /* master_nslots */
	unsigned number; /* 1 for the first, for log lines */
	int64_t started_ms;
	int retired; /* told to stop (SIGTERM) */
	int64_t retired_ms;
	int killed; /* SIGKILL sent after shutdown_timeout */
	/* Its totals when a newer generation took them over (master_adopt);
	 * what it counts after that follows when it exits (master_collect). */
	struct scoreboard_totals handed;
	struct master_gen *older;
};

struct master {
	const char *config_path; /* read again on SIGHUP */
	char *const *argv; /* to exec on SIGUSR2 */
	int listen_fd;
	pid_t successor; /* the master SIGUSR2 started, while it lives */
	pid_t predecessor; /* the master that passed us the socket, or 0 */
	struct master_gen *gen; /* the newest; older ones follow ->older */
	unsigned generations; /* started so far */
	enum master_phase phase;
	int64_t stop_started_ms;
	int64_t stop_timeout_ms; /* before SIGTERM; 0 for a fast stop */
	int stop_sent; /* the strongest stop signal sent so far */
	int failed; /* a child refused to run: exit 1 once stopped */
	struct privs privs; /* what the children drop to */
	sigset_t signals;
};

static void master_begin_stop(struct master *m, int graceful);

/* The queue consumers a generation runs: coupon_strategy = queue only. */
static int master_consumers(const struct config *cfg)
{
	return cfg->coupon_strategy == COUPON_QUEUE ? cfg->queue_consumers : 0;
}

/*
 * Slots 0 .. workers-1 are workers; slot `workers` is the reaper; the
 * queue consumers, if any, follow it.
 */
static int master_nslots(const struct master_gen *g)
{
	return g->cfg->workers + 1 + master_consumers(g->cfg);
}

/*
 * "worker 3", "reaper", or "generation 2 worker 3" for one of an older
 * generation, for log lines (a static buffer: one at a time).
 */
static const char *master_slot_name(const struct master *m,
    const struct master_gen *g, int i)
{
	static char name[48];
	char gen[24] = "";

	if (g != m->gen)
		snprintf(gen, sizeof(gen), "generation %u ", g->number);
	if (i == g->cfg->workers)
		snprintf(name, sizeof(name), "%sreaper", gen);
	else if (i > g->cfg->workers)
		snprintf(name, sizeof(name), "%squeue consumer %d", gen,
		    i - g->cfg->workers - 1);
	else
		snprintf(name, sizeof(name), "%sworker %d", gen, i);
	return name;
}

static void master_gen_free(struct master_gen *g)
{
	if (g == NULL)
		return;
	free(g->slots);
	scoreboard_free(g->sb);
	config_secret_free(g->secret);
	config_free(g->cfg);
	free(g);
}

/*
 * A new generation for cfg (which it takes over, even on failure): reads
 * the secret file and maps a scoreboard.  Starts no process.  Returns it,
 * or NULL with the reason logged.
 */
static struct master_gen *master_gen_create(struct master *m,
    struct config *cfg)
{
	struct master_gen *g = xcalloc(1, sizeof(*g));
	char err[512];

	g->cfg = cfg;
	if (config_read_secret(cfg, &g->secret, &g->secret_len, err,
	        sizeof(err)) < 0) {
		log_error("%s", err);
		goto fail;
	}
	if ((g->sb = scoreboard_create(master_nslots(g))) == NULL) {
		log_error("cannot map the scoreboard: %s", strerror(errno));
		goto fail;
	}
	g->sb->consumers = master_consumers(cfg);
	g->slots = xcalloc((size_t)master_nslots(g), sizeof(*g->slots));
	g->number = ++m->generations;
	g->started_ms = clock_ms();
	return g;
fail:
	master_gen_free(g);
	return NULL;
}

/*
 * First thing in a child: drops privileges, then asks for SIGTERM on the
 * master's death, in that order, since a change of user clears
 * PR_SET_PDEATHSIG (prctl(2)).  A child that cannot drop exits with
 * MASTER_EXIT_PRIVS, and the master stops (master_reap): it never runs
 * with the privileges it was told to give up.
 */
static void master_child_start(const struct master *m,
    const struct master_gen *g, int i, pid_t parent)
{
	char err[512];

	/* The generation's own logging: after a reload it may not be the
	 * master's yet (master_adopt runs once the generation serves). */
	log_set_level(g->cfg->log_level);
	log_set_format(g->cfg->log_format);
	if (privs_drop(&m->privs, err, sizeof(err)) < 0) {
		log_set_role(master_slot_name(m, g, i));
		log_error("%s; refusing to run", err);
		_exit(MASTER_EXIT_PRIVS);
	}
	signals_die_with_parent(parent);
}

static void master_spawn(struct master *m, struct master_gen *g, int i)
{
	struct worker_params params = {
		.cfg = g->cfg,
		.secret = g->secret,
		.secret_len = g->secret_len,
		.scoreboard = g->sb,
		.slot = i,
		.listen_fd = m->listen_fd,
	};
	struct master_slot *s = &g->slots[i];
	pid_t self = getpid(), pid;

	pid = fork();
	if (pid == 0)
		master_child_start(m, g, i, self);
	if (pid == 0 && i == g->cfg->workers)
		reaper_run(g->cfg, g->sb, i);
	if (pid == 0 && i > g->cfg->workers)
		queue_consumer_run(g->cfg, g->sb, i, i - g->cfg->workers - 1);
	if (pid == 0)
		worker_run(&params);
	if (pid < 0) {
		log_error("fork for %s failed: %s; retrying in 1s",
		    master_slot_name(m, g, i), strerror(errno));
		s->respawn_at_ms = clock_ms() + 1000;
		return;
	}
	if (s->spawned_ms != 0)
		g->sb->slots[i].restarts++;
	s->pid = pid;
	s->spawned_ms = clock_ms();
	g->sb->slots[i].pid = pid;
	log_debug("%s started as pid %ld", master_slot_name(m, g, i),
	    (long)pid);
}

/* The slot of pid and, in *gen, its generation; or -1. */
static int master_slot_of(const struct master *m, pid_t pid,
    struct master_gen **gen)
{
	for (struct master_gen *g = m->gen; g != NULL; g = g->older) {
		for (int i = 0; i < master_nslots(g); i++) {
			if (g->slots[i].pid == pid) {
				*gen = g;
				return i;
			}
		}
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

int master_worker_started(int state, uint64_t requests)
{
	return requests > 0 || state == WORKER_IDLE || state == WORKER_BUSY ||
	    state == WORKER_STOPPING;
}

/*
 * Decides when a dead slot is refilled (master_respawn_delay_ms): a death
 * within a second of the start, before the worker got as far as accept
 * (master_worker_started), counts as quick; any other resets the count.  A
 * worker that started and then died (libfcgi aborts on one malformed
 * record, in its first request or a later one) is replaced at once: a client
 * repeating such a record must not empty the pool behind the back-off.
 */
static void master_schedule_respawn(struct master *m, int i, uint64_t requests,
    int started, int64_t now)
{
	struct master_slot *s = &m->gen->slots[i];
	int64_t delay;

	if (!started && now - s->spawned_ms < MASTER_QUICK_DEATH_MS)
		s->quick_deaths++;
	else
		s->quick_deaths = 0;
	delay = master_respawn_delay_ms(s->quick_deaths, requests);
	if (delay > 0)
		log_warn("%s keeps dying; next start in %lld ms",
		    master_slot_name(m, m->gen, i), (long long)delay);
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

static int master_gen_live(const struct master_gen *g)
{
	int n = 0;

	for (int i = 0; i < master_nslots(g); i++)
		n += g->slots[i].pid > 0;
	return n;
}

/*
 * Carries what the exited generation g counted since it handed its totals
 * over (master_adopt) into the newest generation's scoreboard: its last
 * requests, finished while it retired, are not lost.
 */
static void master_hand_over_rest(struct master *m, const struct master_gen *g)
{
	struct scoreboard_totals last;

	scoreboard_total(g->sb, &last);
	scoreboard_carry(m->gen->sb, &last, &g->handed);
}

/* Frees the older generations whose processes have all exited. */
static void master_collect(struct master *m)
{
	struct master_gen **p = &m->gen->older, *g;

	while ((g = *p) != NULL) {
		if (master_gen_live(g) > 0) {
			p = &g->older;
			continue;
		}
		*p = g->older;
		master_hand_over_rest(m, g);
		if (g->retired)
			log_info("generation %u has exited, %lld ms after it "
			         "was retired",
			    g->number, (long long)(clock_ms() - g->retired_ms));
		master_gen_free(g);
	}
}

/*
 * Empties the slot of a child that exited.  Returns the requests it served
 * (zeroed here, not only by the next worker: one that dies before it starts
 * must not inherit its predecessor's count).
 */
static uint64_t master_slot_clear(struct master_gen *g, int i)
{
	uint64_t requests = g->sb->slots[i].requests;

	g->sb->slots[i].requests = 0;
	g->slots[i].pid = 0;
	g->sb->slots[i].pid = 0;
	g->sb->slots[i].state = WORKER_EMPTY;
	return requests;
}

static void master_reap(struct master *m)
{
	int64_t now = clock_ms();
	struct master_gen *g;
	uint64_t requests;
	char how[96];
	int status, i, started;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == m->successor)
			master_successor_died(m, status);
		if ((i = master_slot_of(m, pid, &g)) < 0)
			continue;
		master_describe_exit(status, how, sizeof(how));
		/* Read before the slot is cleared: a worker that got as far
		 * as accept, or died in a request (request_timeout's SIGKILL,
		 * a crash on one request), is respawned at once
		 * (master_worker_started).  Not the reaper: it is busy from its
		 * start, so only its expiries say it got anywhere (a queue
		 * consumer only its claims). */
		started = i < g->cfg->workers
		    ? master_worker_started(g->sb->slots[i].state,
		          g->sb->slots[i].requests)
		    : g->sb->slots[i].requests > 0;
		requests = master_slot_clear(g, i);
		/* A retiring generation is not refilled, nor anything while
		 * stopping. */
		if (g != m->gen || m->phase != MASTER_RUNNING) {
			log_debug("%s (pid %ld) %s", master_slot_name(m, g, i),
			    (long)pid, how);
			continue;
		}
		if (WIFEXITED(status) &&
		    WEXITSTATUS(status) == MASTER_EXIT_PRIVS) {
			log_error("%s (pid %ld) could not drop privileges; "
			          "stopping",
			    master_slot_name(m, g, i), (long)pid);
			m->failed = 1;
			master_begin_stop(m, 0);
			continue;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			log_info("%s (pid %ld) %s; replacing it",
			    master_slot_name(m, g, i), (long)pid, how);
		else
			log_error("%s (pid %ld) %s; replacing it",
			    master_slot_name(m, g, i), (long)pid, how);
		master_schedule_respawn(m, i, requests, started, now);
	}
	master_collect(m);
}

static void master_signal_gen(struct master_gen *g, int signo)
{
	for (int i = 0; i < master_nslots(g); i++) {
		if (g->slots[i].pid > 0 && kill(g->slots[i].pid, signo) < 0 &&
		    errno != ESRCH)
			log_warn("kill %ld: %s", (long)g->slots[i].pid,
			    strerror(errno));
	}
}

/* Signals every child of every generation (not a successor master). */
static void master_signal_all(struct master *m, int signo)
{
	for (struct master_gen *g = m->gen; g != NULL; g = g->older)
		master_signal_gen(g, signo);
}

static int master_live_workers(const struct master *m)
{
	int n = 0;

	for (const struct master_gen *g = m->gen; g != NULL; g = g->older)
		n += master_gen_live(g);
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
	int64_t timeout = graceful ? m->gen->cfg->shutdown_timeout_ms : 0;
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
	notify_stopping();
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
		listener_unlink(m->gen->cfg);
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

/* 1 when every worker of g waits in accept() or serves. */
static int master_gen_ready(const struct master_gen *g)
{
	for (int i = 0; i < g->cfg->workers; i++) {
		int state = g->sb->slots[i].state;

		if (g->slots[i].pid <= 0 ||
		    (state != WORKER_IDLE && state != WORKER_BUSY))
			return 0;
	}
	return 1;
}

/*
 * Tells the older generation g to go: SIGTERM, on which each worker
 * finishes the request in hand and exits without accepting another (the
 * listen queue is the new generation's), and the reaper ends its round.
 */
static void master_retire(struct master *m, struct master_gen *g, int ready,
    int64_t now)
{
	if (!ready)
		log_warn("generation %u does not serve after %d ms; retiring "
		         "generation %u anyway",
		    m->gen->number, MASTER_READY_WAIT_MS, g->number);
	log_info("generation %u serves; generation %u retires: its %d "
	         "processes finish the request in hand and exit",
	    m->gen->number, g->number, master_gen_live(g));
	master_signal_gen(g, SIGTERM);
	g->retired = 1;
	g->retired_ms = now;
}

/*
 * Retires the older generations once the newest serves (or has had
 * MASTER_READY_WAIT_MS to), and kills what of them still runs
 * shutdown_timeout later.  Returns how long the loop may sleep.
 */
static int64_t master_retire_tick(struct master *m, int64_t now)
{
	int ready = master_gen_ready(m->gen);
	int64_t waited = now - m->gen->started_ms, wait = MASTER_TICK_MS;
	int64_t kill_after = m->gen->cfg->shutdown_timeout_ms;

	for (struct master_gen *g = m->gen->older; g != NULL; g = g->older) {
		if (!g->retired && (ready || waited >= MASTER_READY_WAIT_MS))
			master_retire(m, g, ready, now);
		if (!g->retired) {
			wait = MASTER_READY_POLL_MS;
		} else if (!g->killed && now - g->retired_ms >= kill_after) {
			log_warn("generation %u: %d processes still running "
			         "%lld ms after SIGTERM; sending SIGKILL",
			    g->number, master_gen_live(g),
			    (long long)(now - g->retired_ms));
			master_signal_gen(g, SIGKILL);
			g->killed = 1;
		} else if (!g->killed &&
		    g->retired_ms + kill_after - now < wait) {
			wait = g->retired_ms + kill_after - now;
		}
	}
	return wait;
}

/*
 * Makes g, accepted by a reload, the newest generation: what the master
 * itself applies of its configuration (log level, listen_backlog) takes
 * effect, and the older generations retire once it serves.
 */
static void master_adopt(struct master *m, struct master_gen *g)
{
	const struct config *old = m->gen->cfg;
	char why[256];

	/* /status keeps the pool's start, as php-fpm's "start time", and its
	 * maxima; /metrics's totals go on from the old generation's
	 * (scoreboard.h; the rest follows in master_hand_over_rest). */
	g->sb->started_ms = m->gen->sb->started_ms;
	if (g->sb->listen_queue_max < m->gen->sb->listen_queue_max)
		g->sb->listen_queue_max = m->gen->sb->listen_queue_max;
	scoreboard_raise_active_max(g->sb,
	    __atomic_load_n(&m->gen->sb->active_max, __ATOMIC_RELAXED));
	scoreboard_total(m->gen->sb, &m->gen->handed);
	scoreboard_carry(g->sb, &m->gen->handed, NULL);
	log_init(g->cfg->log_level, "master");
	log_set_format(g->cfg->log_format);
	if (watchdog_config_check(g->cfg, why, sizeof(why)) != NULL)
		log_warn("%s", why);
	/* listen() on a listening socket sets its backlog anew (Linux). */
	if (g->cfg->listen_backlog != old->listen_backlog &&
	    listen(m->listen_fd, g->cfg->listen_backlog) < 0)
		log_warn("listen_backlog %d: %s; the socket keeps %d",
		    g->cfg->listen_backlog, strerror(errno),
		    old->listen_backlog);
	if (g->secret_len != m->gen->secret_len ||
	    memcmp(g->secret, m->gen->secret, g->secret_len) != 0)
		log_info("SIGHUP: the token signing secret changed: tokens "
		         "signed with the old one are refused once generation "
		         "%u has retired",
		    m->gen->number);
	g->older = m->gen;
	m->gen = g;
}

/*
 * SIGHUP: reads the config file again and, if it is valid, starts a new
 * generation with it (see the file comment).  A refused file, or a secret
 * file that cannot be read, leaves everything as it runs.
 */
static void master_reload(struct master *m)
{
	char err[512], changed[2048], kept[256];
	struct master_gen *g;
	struct config *next;
	int n;

	if (m->phase != MASTER_RUNNING) {
		log_warn("SIGHUP ignored: stopping");
		return;
	}
	next = config_create();
	if (config_load_file(next, m->config_path, err, sizeof(err)) < 0) {
		log_error("SIGHUP: %s; the running configuration stays", err);
		config_free(next);
		return;
	}
	n = config_reload_merge(next, m->gen->cfg, changed, sizeof(changed),
	    kept, sizeof(kept));
	if (kept[0] != '\0')
		log_warn("SIGHUP: %s: %s changed, which needs a restart "
		         "(SIGUSR2, see docs/operations.md); kept as running",
		    m->config_path, kept);
	if ((g = master_gen_create(m, next)) == NULL ||
	    app_prepare(g->secret, g->secret_len) < 0) {
		log_error("SIGHUP: cannot start a new generation; the running "
		          "configuration stays");
		master_gen_free(g);
		return;
	}
	master_adopt(m, g);
	log_info("SIGHUP: reloaded %s (%s%s): generation %u starts %d "
	         "workers; generation %u retires once they serve",
	    m->config_path, n > 0 ? "" : "no key changed", changed, g->number,
	    g->cfg->workers, g->older->number);
}

/*
 * SIGUSR1 (logrotate's postrotate, as for nginx): opens log_file again,
 * then has every child do the same (signals_child_init), so that no
 * process goes on writing to the renamed file.
 */
static void master_reopen_log(struct master *m)
{
	const char *path = m->gen->cfg->log_file;

	if (path[0] == '\0') {
		log_info("SIGUSR1: the log goes to stderr; nothing to reopen");
		return;
	}
	if (log_reopen() < 0) {
		log_error("SIGUSR1: cannot open %s: %s; the log goes on to the "
		          "file that was open",
		    path, strerror(errno));
		return;
	}
	/* A file made anew belongs to root: the children could not open it. */
	if (privs_give(&m->privs, path) < 0)
		log_warn(
		    "SIGUSR1: chown %s to %s: %s; the workers keep the old "
		    "file",
		    path, m->privs.user, strerror(errno));
	master_signal_all(m, SIGUSR1);
	log_info("SIGUSR1: reopened %s; so do %d children", path,
	    master_live_workers(m));
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
		notify_reloading();
		master_reload(m);
		/* Ready again, with the new file or, refused, the old one. */
		if (m->phase == MASTER_RUNNING)
			notify_ready(0);
		break;
	case SIGUSR1:
		master_reopen_log(m);
		break;
	case SIGUSR2:
		master_upgrade(m);
		break;
	default:
		break;
	}
}

/*
 * request_timeout (watchdog.h): kills the workers stuck in a request, in
 * every generation (a retiring one's workers finish requests too), and
 * shortens the loop's sleep to when the next request can be due, so a
 * stuck worker dies within milliseconds of its limit.
 */
static int64_t master_watchdog(struct master *m, int64_t wait)
{
	for (struct master_gen *g = m->gen; g != NULL; g = g->older) {
		int64_t due;

		if (g->cfg->request_timeout_ms == 0)
			continue;
		due = watchdog_kill_stuck(g->sb, g->cfg->workers,
		    g->cfg->request_timeout_ms);
		if (due < wait)
			wait = due;
	}
	return wait;
}

/*
 * Samples the listen queue for /status's "max listen queue", as php-fpm's
 * master does once a second: the loop wakes at least that often.  The
 * newest generation's scoreboard keeps it (master_adopt carries it over).
 */
static void master_sample_queue(struct master *m)
{
	struct scoreboard *sb = m->gen->sb;
	uint32_t queued, backlog;

	if (osstat_listen_queue(m->listen_fd, &queued, &backlog) == 0 &&
	    queued > sb->listen_queue_max)
		sb->listen_queue_max = queued;
}

/*
 * Respawns due slots of the newest generation, retires older ones as due,
 * and returns how long the loop may sleep.
 */
static int64_t master_tick(struct master *m)
{
	int64_t now = clock_ms(), wait;

	if (m->phase == MASTER_STOPPING)
		return master_stop_tick(m, now);
	master_sample_queue(m);
	wait = master_retire_tick(m, now);
	for (int i = 0; i < master_nslots(m->gen); i++) {
		struct master_slot *s = &m->gen->slots[i];

		if (s->pid > 0)
			continue;
		if (s->respawn_at_ms <= now)
			master_spawn(m, m->gen, i);
		else if (s->respawn_at_ms - now < wait)
			wait = s->respawn_at_ms - now;
	}
	return master_watchdog(m, wait);
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

/*
 * Everything before the first fork: the privileges to drop, the first
 * generation (its secret read while still root), the signals blocked, the
 * socket bound or taken over, the files the children will need given to
 * their user, and libcrypto's work done once.  Returns 0, or -1 with the
 * reason logged.
 */
static int master_start(struct master *m, const struct config *cfg)
{
	struct config *first = config_create();
	char err[512];
	int inherited = 0;

	/* The generation owns its copy: a reload frees it with the rest. */
	memcpy(first, cfg, sizeof(*first));
	if (privs_init(&m->privs, cfg, err, sizeof(err)) < 0) {
		log_error("%s", err);
		config_free(first);
		return -1;
	}
	if ((m->gen = master_gen_create(m, first)) == NULL ||
	    master_block_signals(m) < 0 ||
	    (m->listen_fd = listener_open(cfg, &inherited)) < 0)
		return -1;
	if (inherited)
		m->predecessor = getppid();
	/* socket_group, when set, was applied at bind and wins. */
	if (!inherited && cfg->listen_kind == LISTEN_UNIX &&
	    cfg->socket_gid < 0 &&
	    privs_give_socket(&m->privs, cfg->listen) < 0) {
		log_error("listen %s: chgrp: %s", cfg->listen, strerror(errno));
		return -1;
	}
	if (cfg->log_file[0] != '\0' &&
	    privs_give(&m->privs, cfg->log_file) < 0) {
		log_error("log_file %s: chown: %s", cfg->log_file,
		    strerror(errno));
		return -1;
	}
	/* What every worker would otherwise do for itself, once here: the
	 * workers inherit it (see auth_crypto_preload). */
	if (app_prepare(m->gen->secret, m->gen->secret_len) < 0) {
		log_error("libcrypto cannot compute HMAC-SHA-256 or SHA-256");
		return -1;
	}
	if (watchdog_config_check(cfg, err, sizeof(err)) != NULL)
		log_warn("%s", err);
	log_info("stockade %s %s %s with %d workers%s%s", PACKAGE_VERSION,
	    inherited ? "took over the socket" : "listening on", cfg->listen,
	    cfg->workers, m->privs.drop ? " running as " : "",
	    m->privs.drop ? m->privs.user : "");
	notify_ready(inherited);
	return 0;
}

int master_run(const struct config *cfg, const char *config_path,
    char *const argv[])
{
	struct master m;
	int status = 1;

	memset(&m, 0, sizeof(m));
	m.config_path = config_path;
	m.argv = argv;
	m.listen_fd = -1;
	log_set_role("master");
	if (master_start(&m, cfg) == 0) {
		master_loop(&m);
		log_info("stopped");
		status = m.failed ? 1 : 0;
	}
	master_successor_check(&m);
	if (master_socket_shared(&m))
		close(m.listen_fd);
	else
		listener_close(m.listen_fd, cfg);
	while (m.gen != NULL) {
		struct master_gen *older = m.gen->older;

		master_gen_free(m.gen);
		m.gen = older;
	}
	return status;
}
