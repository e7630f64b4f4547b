/*
 * The process shell of the daemons (see daemon.h).
 */
#include "daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"

#define BEAT_MS 250

uint64_t acmeva_mono_ms(void)
{
    return uv_hrtime() / 1000000;
}

int64_t acmeva_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void acmeva_consumer_name(char *buf, size_t len, int index)
{
    char host[256];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    host[64] = '\0';
    /* The name becomes part of a consumer name and a CLIENT SETNAME: printable, no ':' or
     * spaces inside the host part. */
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_'))
            *p = '_';
    snprintf(buf, len, "%.64s:%ld:%d", host, (long)getpid(), index);
}

int acmeva_nofile_raise(uint64_t need, uint64_t *have, char *err, size_t errlen)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        snprintf(err, errlen, "cannot read the descriptor limit");
        return -1;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl = want;
    }
    *have = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    if (need > *have) {
        snprintf(err, errlen,
                 "the descriptor limit is %llu (hard limit %llu), but this configuration "
                 "needs %llu",
                 (unsigned long long)*have,
                 (unsigned long long)(rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : rl.rlim_max),
                 (unsigned long long)need);
        return -1;
    }
    return 0;
}

/* ---- threads ------------------------------------------------------------------------------ */

void acmeva_dthread_finish(acmeva_dthread *t)
{
    if (t->finished)
        return;
    t->finished = 1;
    t->stopping = 1;
    t->d->ops->thread_finish(t);
    uv_close((uv_handle_t *)&t->grace_timer, NULL);
    uv_close((uv_handle_t *)&t->beat_timer, NULL);
    uv_mutex_lock(&t->d->lock);
    t->async_closed = 1;
    uv_close((uv_handle_t *)&t->stop_async, NULL);
    uv_mutex_unlock(&t->d->lock);
}

static void grace_cb(uv_timer_t *h)
{
    acmeva_dthread *t = h->data;
    ACMEVA_LOG("warn", "grace period over", ACMEVA_LI("thread", t->index));
    acmeva_dthread_finish(t);
}

static void stop_cb(uv_async_t *h)
{
    acmeva_dthread *t = h->data;
    if (t->finished)
        return;
    uint64_t deadline = atomic_load(&t->d->grace_deadline), now = acmeva_mono_ms();
    uv_timer_stop(&t->grace_timer);
    uv_timer_start(&t->grace_timer, grace_cb, deadline > now ? deadline - now : 0, 0);
    if (t->stopping)
        return;
    t->stopping = 1;
    t->d->ops->thread_stop(t);
}

static void beat_cb(uv_timer_t *h)
{
    acmeva_dthread *t = h->data;
    atomic_store(&t->beat_ms, acmeva_mono_ms());
}

int acmeva_daemon_loops_alive(acmeva_daemon *d, uint64_t max_ms)
{
    uint64_t now = acmeva_mono_ms();
    for (int i = 0; i < d->nthreads; i++) {
        uint64_t b = atomic_load(&d->threads[i].beat_ms);
        if (d->threads[i].finished)
            continue;
        if (now > b && now - b > max_ms)
            return 0;
    }
    return 1;
}

static void thread_main(void *arg)
{
    acmeva_dthread *t = arg;
    atomic_store(&t->beat_ms, acmeva_mono_ms());
    uv_run(&t->loop, UV_RUN_DEFAULT);
    atomic_fetch_add(&t->d->exited, 1);
    uv_async_send(&t->d->exited_async);
}

static int thread_init(acmeva_daemon *d, acmeva_dthread *t, int index, char *err, size_t errlen)
{
    t->d = d;
    t->index = index;
    if (uv_loop_init(&t->loop) != 0) {
        snprintf(err, errlen, "cannot create an event loop");
        return -1;
    }
    uv_timer_init(&t->loop, &t->grace_timer);
    uv_timer_init(&t->loop, &t->beat_timer);
    t->grace_timer.data = t->beat_timer.data = t;
    uv_async_init(&t->loop, &t->stop_async, stop_cb);
    t->stop_async.data = t;
    atomic_store(&t->beat_ms, acmeva_mono_ms());
    uv_timer_start(&t->beat_timer, beat_cb, BEAT_MS, BEAT_MS);
    if (d->ops->thread_init(t, err, errlen) < 0) {
        /* The service released what it had set up; close the daemon's handles. */
        t->finished = 1;
        uv_close((uv_handle_t *)&t->grace_timer, NULL);
        uv_close((uv_handle_t *)&t->beat_timer, NULL);
        uv_close((uv_handle_t *)&t->stop_async, NULL);
        uv_run(&t->loop, UV_RUN_DEFAULT);
        uv_loop_close(&t->loop);
        return -1;
    }
    return 0;
}

/* thread_abort undoes a thread_init whose loop never ran. */
static void thread_abort(acmeva_dthread *t)
{
    acmeva_dthread_finish(t);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    uv_loop_close(&t->loop);
}

/* ---- the process ------------------------------------------------------------------------- */

static void exited_cb(uv_async_t *h)
{
    acmeva_daemon *d = h->data;
    if (atomic_load(&d->exited) < d->nthreads)
        return;
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sighup, NULL);
    uv_close((uv_handle_t *)&d->exited_async, NULL);
    if (d->main_close != NULL)
        d->main_close(d);
}

static void signal_cb(uv_signal_t *h, int signum)
{
    acmeva_daemon *d = h->data;
    if (signum == SIGHUP) {
        if (d->on_hup != NULL)
            d->on_hup(d);
        return;
    }
    d->signals++;
    uint64_t now = acmeva_mono_ms();
    if (d->signals == 1) {
        atomic_store(&d->grace_deadline, now + (uint64_t)d->grace_ms);
        ACMEVA_LOG("info", "stopping", ACMEVA_LS("signal", signum == SIGTERM ? "SIGTERM" : "SIGINT"),
                   ACMEVA_LI("grace_ms", d->grace_ms));
    } else {
        atomic_store(&d->grace_deadline, now);
        ACMEVA_LOG0("warn", "second signal: stopping now");
    }
    uv_mutex_lock(&d->lock);
    for (int i = 0; i < d->nthreads; i++)
        if (!d->threads[i].async_closed)
            uv_async_send(&d->threads[i].stop_async);
    uv_mutex_unlock(&d->lock);
}

int acmeva_daemon_run(acmeva_daemon *d)
{
    int n = d->nthreads, status = 1;
    atomic_init(&d->exited, 0);
    atomic_init(&d->grace_deadline, 0);
    atomic_init(&d->held_back, 0);
    signal(SIGPIPE, SIG_IGN);
    d->threads = calloc((size_t)n, sizeof(acmeva_dthread));
    if (d->threads == NULL || uv_mutex_init(&d->lock) != 0) {
        ACMEVA_LOG0("error", "cannot start: no memory");
        free(d->threads);
        return 1;
    }
    if (uv_loop_init(&d->main_loop) != 0) {
        ACMEVA_LOG0("error", "cannot start: no event loop");
        uv_mutex_destroy(&d->lock);
        free(d->threads);
        return 1;
    }
    uv_signal_init(&d->main_loop, &d->sigterm);
    uv_signal_init(&d->main_loop, &d->sigint);
    uv_signal_init(&d->main_loop, &d->sighup);
    d->sigterm.data = d->sigint.data = d->sighup.data = d;
    uv_async_init(&d->main_loop, &d->exited_async, exited_cb);
    d->exited_async.data = d;

    int started = 0;
    char err[256] = "";
    if (d->main_init != NULL && d->main_init(d, err, sizeof(err)) < 0) {
        ACMEVA_LOG("error", "cannot start", ACMEVA_LS("error", err));
        n = 0;
    }
    for (int i = 0; i < n; i++) {
        if (thread_init(d, &d->threads[i], i, err, sizeof(err)) < 0) {
            ACMEVA_LOG("error", "cannot start", ACMEVA_LS("error", err), ACMEVA_LI("thread", i));
            break;
        }
        started++;
    }
    if (started < d->nthreads) {
        for (int i = 0; i < started; i++)
            thread_abort(&d->threads[i]);
        uv_close((uv_handle_t *)&d->sigterm, NULL);
        uv_close((uv_handle_t *)&d->sigint, NULL);
        uv_close((uv_handle_t *)&d->sighup, NULL);
        uv_close((uv_handle_t *)&d->exited_async, NULL);
        if (n > 0 && d->main_close != NULL)
            d->main_close(d);
        uv_run(&d->main_loop, UV_RUN_DEFAULT);
        goto out;
    }
    uv_signal_start(&d->sigterm, signal_cb, SIGTERM);
    uv_signal_start(&d->sigint, signal_cb, SIGINT);
    uv_signal_start(&d->sighup, signal_cb, SIGHUP);
    for (int i = 0; i < d->nthreads; i++) {
        if (uv_thread_create(&d->threads[i].tid, thread_main, &d->threads[i]) != 0) {
            ACMEVA_LOG0("error", "cannot create a thread");
            abort(); /* half a daemon with loops already wired to each other: no way back */
        }
    }
    uv_run(&d->main_loop, UV_RUN_DEFAULT);
    for (int i = 0; i < d->nthreads; i++) {
        uv_thread_join(&d->threads[i].tid);
        uv_loop_close(&d->threads[i].loop);
    }
    status = 0;
out:
    uv_loop_close(&d->main_loop);
    uv_mutex_destroy(&d->lock);
    free(d->threads);
    d->threads = NULL;
    return status;
}
