/*
 * The process shell shared by acmeva-worker and acmeva-coordinator: N event-loop threads
 * (STYLE.md "Shared-nothing threads"), signals, and the grace period (DESIGN.md "Commands":
 * on SIGTERM/SIGINT stop reading, finish or abandon in-flight work within the grace period,
 * exit 0; a second signal cuts the grace short).
 *
 * The service (the worker or the coordinator) owns what runs on each thread; the daemon owns
 * the threads, their loops and the stop signalling:
 * - thread_init sets up the service's part of a thread on its loop (it runs later);
 * - thread_stop runs on the thread at the first signal: stop taking work, let what runs
 *   finish, and call acmeva_dthread_finish once nothing is left;
 * - thread_finish runs once per thread, from acmeva_dthread_finish or when the grace period
 *   ends: drop whatever is left and close every handle of the service on that loop.
 */
#ifndef ACMEVA_DAEMON_H
#define ACMEVA_DAEMON_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

typedef struct acmeva_daemon acmeva_daemon;
typedef struct acmeva_dthread acmeva_dthread;

typedef struct acmeva_daemon_ops {
    int (*thread_init)(acmeva_dthread *t, char *err, size_t errlen);
    void (*thread_stop)(acmeva_dthread *t);
    void (*thread_finish)(acmeva_dthread *t);
} acmeva_daemon_ops;

struct acmeva_dthread {
    acmeva_daemon *d;
    int index;
    uv_loop_t loop;
    uv_thread_t tid;
    uv_async_t stop_async;
    uv_timer_t grace_timer;
    uv_timer_t beat_timer; /* proves the loop turns (acmeva_daemon_loops_alive) */
    _Atomic uint64_t beat_ms;
    int stopping, finished;
    int async_closed; /* under the daemon's lock */
    void *svc;        /* the service's state for this thread */
};

struct acmeva_daemon {
    const char *name; /* "acmeva-worker", for logs */
    const acmeva_daemon_ops *ops;
    void *svc; /* the service */
    int nthreads;
    int64_t grace_ms;
    acmeva_dthread *threads;
    uv_loop_t main_loop;
    uv_signal_t sigterm, sigint, sighup;
    uv_async_t exited_async;
    atomic_int exited;
    uv_mutex_t lock; /* orders uv_async_send to a thread against that thread closing it */
    _Atomic uint64_t grace_deadline;
    /* Threads whose service holds reading back because a check fails (the worker's
     * --require-dnssec-resolver; acmeva_consumer_hold_back): the process is not ready while
     * this is above 0 (/readyz answers 503). Readable from any thread. */
    atomic_int held_back;
    int signals;
    /* Optional: runs on the main loop at SIGHUP (reopen the audit log). */
    void (*on_hup)(acmeva_daemon *d);
    /* Optional: runs on the main loop before the threads start, and after they exited. */
    int (*main_init)(acmeva_daemon *d, char *err, size_t errlen);
    void (*main_close)(acmeva_daemon *d);
    void *hooks_data; /* the hooks' own state (ops.c) */
};

/*
 * acmeva_daemon_run starts |d->nthreads| threads (thread_init on each, then their loops),
 * handles signals on the calling thread until every thread has finished, and returns the
 * process exit status: 0 after an orderly stop, 1 when it could not start.
 */
int acmeva_daemon_run(acmeva_daemon *d);

/* acmeva_dthread_finish ends thread |t|: thread_finish, then the daemon's own handles close
 * and the thread's loop returns. Idempotent; call it on |t|'s thread. */
void acmeva_dthread_finish(acmeva_dthread *t);

/* acmeva_daemon_loops_alive returns 1 when every thread's loop turned within |max_ms|. */
int acmeva_daemon_loops_alive(acmeva_daemon *d, uint64_t max_ms);

/*
 * acmeva_nofile_raise raises RLIMIT_NOFILE to its hard limit and checks that |need|
 * descriptors fit. Returns 0, or -1 with a sentence in |err| giving the numbers.
 */
int acmeva_nofile_raise(uint64_t need, uint64_t *have, char *err, size_t errlen);

/* acmeva_consumer_name writes "<host>:<pid>:<index>" (the host made safe for a Redis key). */
void acmeva_consumer_name(char *buf, size_t len, int index);

/* acmeva_mono_ms returns a monotonic clock in milliseconds. */
uint64_t acmeva_mono_ms(void);

/* acmeva_wall_ms returns the unix time in milliseconds. */
int64_t acmeva_wall_ms(void);

#endif
