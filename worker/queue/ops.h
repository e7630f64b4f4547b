/*
 * The operations side of a daemon (DESIGN.md "Operations"), shared by acmeva-worker and
 * acmeva-coordinator: the metrics registry, the HTTP endpoints on the daemon's main loop, the
 * audit log, and the reader of the operator's policy (policywatch.h, on the main loop too),
 * wired to the daemon's hooks (main_init, main_close, on_hup).
 *
 *   GET /metrics  the registry in the Prometheus text format 0.0.4
 *   GET /healthz  200 while every event loop turned within ACMEVA_OPS_LOOP_STALL_MS, else 503
 *   GET /readyz   200 when the operator's policy has been read, every thread is connected to
 *                 Redis and reading its stream and the audit log is not failing, else 503
 *                 (the body says why)
 *   anything else 404; methods other than GET and HEAD 405 (httpd.h).
 */
#ifndef ACMEVA_OPS_H
#define ACMEVA_OPS_H

#include <stddef.h>

#include "auditlog.h"
#include "daemon.h"
#include "httpd.h"
#include "metrics.h"
#include "policywatch.h"
#include "queue.h"

#define ACMEVA_OPS_LOOP_STALL_MS 5000
#define ACMEVA_OPS_MAX_CONNS 32

typedef struct acmeva_ops {
    acmeva_metrics *metrics;
    acmeva_audit *audit; /* NULL without --audit-log */
    acmeva_httpd *httpd; /* NULL without --metrics-listen */
    acmeva_policy_watch *policy; /* acmeva_ops_watch_policy */
    struct sockaddr_storage listen_addr;
    int listen;
    acmeva_daemon *d;
} acmeva_ops;

/*
 * acmeva_ops_init creates the registry (with |perspectives| as the values of the perspective
 * label) and, when the options ask for it, opens the audit log (queue bounded by
 * |audit_capacity| lines) and checks the listen address. It also sets |d|'s main_init,
 * main_close and on_hup hooks (the daemon must have no others). Returns 0, or -1 after writing
 * a sentence to |err|.
 */
int acmeva_ops_init(acmeva_ops *o, acmeva_daemon *d, const acmeva_daemon_options *opt,
                    const char *const *perspectives, size_t n_perspectives, size_t loop_threads,
                    size_t audit_capacity, char *err, size_t errlen);

/*
 * acmeva_ops_watch_policy makes the reader of the operator's policy for |loop_threads| threads
 * of |program|, over |rs| (the process's Redis settings, borrowed: read when the daemon's main
 * loop starts, so the TLS context may be set after this call). It starts with the main loop and
 * stops with it. Returns 0, or -1 after writing a sentence to |err|.
 */
int acmeva_ops_watch_policy(acmeva_ops *o, const char *program, const acmeva_rconn_settings *rs,
                            size_t loop_threads, char *err, size_t errlen);

/* acmeva_ops_thread_shard returns the metrics shard of loop thread |i|. */
acmeva_mshard *acmeva_ops_thread_shard(acmeva_ops *o, size_t i);

/* acmeva_ops_clear frees what |o| holds; call it after acmeva_daemon_run returned. */
void acmeva_ops_clear(acmeva_ops *o);

#endif
