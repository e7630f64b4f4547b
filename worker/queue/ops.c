/*
 * The operations side of a daemon (see ops.h).
 */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void text(acmeva_httpd_response *r, int status, const char *body)
{
    r->status = status;
    r->content_type = "text/plain; charset=utf-8";
    r->body = strdup(body);
    r->body_len = r->body ? strlen(r->body) : 0;
    if (r->body == NULL)
        r->status = 0; /* the server answers 500 */
}

/* ready says whether this process should get work: the operator's policy read (no job is
 * taken before), every thread connected to Redis and reading, the audit log writing (a result
 * is never posted before its line), and no thread held back (no validating resolver found for
 * --require-dnssec-resolver, or for dnssec-at-primary at a --primary worker). */
static const char *not_ready(const acmeva_ops *o)
{
    const char *why;
    if (o->d != NULL && atomic_load(&o->d->held_back) > 0)
        return "not ready: no resolver validates DNSSEC (--require-dnssec-resolver, or "
               "dnssec-at-primary in force at a --primary worker)\n";
    if ((why = acmeva_policy_watch_not_ready(o->policy)) != NULL)
        return why;
    if (acmeva_metrics_get(o->metrics, ACMEVA_M_REDIS_CONNECTED, NULL) != 1)
        return "not ready: a Redis connection is down\n";
    if (acmeva_metrics_get(o->metrics, ACMEVA_M_STREAM_READING, NULL) != 1)
        return "not ready: a thread is not reading its jobs stream\n";
    if (o->audit != NULL && acmeva_audit_failing(o->audit))
        return "not ready: the audit log cannot be written\n";
    return NULL;
}

static void handle(void *arg, const char *path, acmeva_httpd_response *r)
{
    acmeva_ops *o = arg;
    if (strcmp(path, "/metrics") == 0) {
        r->body = acmeva_metrics_render(o->metrics, &r->body_len);
        r->status = r->body ? 200 : 0;
        r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (strcmp(path, "/healthz") == 0) {
        if (acmeva_daemon_loops_alive(o->d, ACMEVA_OPS_LOOP_STALL_MS))
            text(r, 200, "ok\n");
        else
            text(r, 503, "an event loop has not turned for 5 s\n");
    } else if (strcmp(path, "/readyz") == 0) {
        const char *why = not_ready(o);
        text(r, why ? 503 : 200, why ? why : "ready\n");
    } else {
        text(r, 404, "not found: /metrics, /healthz, /readyz\n");
    }
}

static int main_init(acmeva_daemon *d, char *err, size_t errlen)
{
    acmeva_ops *o = d->hooks_data;
    int rc;
    if (o->policy != NULL && (rc = acmeva_policy_watch_start(o->policy, &d->main_loop)) != 0) {
        snprintf(err, errlen, "cannot set up the policy reader: %s", uv_strerror(rc));
        return -1;
    }
    if (!o->listen ||
        acmeva_httpd_start(&d->main_loop, (const struct sockaddr *)&o->listen_addr,
                           ACMEVA_OPS_MAX_CONNS, handle, o, &o->httpd, err, errlen) == 0)
        return 0;
    /* main_close does not run after a main_init that failed. */
    acmeva_policy_watch_stop(o->policy);
    return -1;
}

static void main_close(acmeva_daemon *d)
{
    acmeva_ops *o = d->hooks_data;
    acmeva_httpd_close(o->httpd);
    o->httpd = NULL;
    acmeva_policy_watch_stop(o->policy);
}

static void on_hup(acmeva_daemon *d)
{
    acmeva_ops *o = d->hooks_data;
    /* Log rotation: the writer reopens the file by its name before its next batch. */
    if (o->audit != NULL)
        acmeva_audit_reopen(o->audit);
}

int acmeva_ops_init(acmeva_ops *o, acmeva_daemon *d, const acmeva_daemon_options *opt,
                    const char *const *perspectives, size_t n_perspectives, size_t loop_threads,
                    size_t audit_capacity, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->d = d;
    acmeva_metrics_config mc = {perspectives, n_perspectives};
    if (acmeva_metrics_new(&mc, loop_threads, &o->metrics) < 0) {
        snprintf(err, errlen, "cannot create the metrics");
        return -1;
    }
    if (opt->metrics_listen != NULL) {
        if (acmeva_httpd_listen_parse(opt->metrics_listen, &o->listen_addr, err, errlen) < 0)
            goto fail;
        o->listen = 1;
    }
    if (opt->audit_log != NULL &&
        acmeva_audit_new(opt->audit_log, opt->audit_sync, audit_capacity, loop_threads,
                         acmeva_metrics_extra_shard(o->metrics, ACMEVA_MSHARD_AUDIT), &o->audit,
                         err, errlen) < 0)
        goto fail;
    d->hooks_data = o;
    d->main_init = main_init;
    d->main_close = main_close;
    d->on_hup = on_hup;
    return 0;
fail:
    acmeva_ops_clear(o);
    return -1;
}

int acmeva_ops_watch_policy(acmeva_ops *o, const char *program, const acmeva_rconn_settings *rs,
                            size_t loop_threads, char *err, size_t errlen)
{
    if (acmeva_policy_watch_new(program, rs, loop_threads,
                                acmeva_metrics_extra_shard(o->metrics, ACMEVA_MSHARD_MAIN),
                                o->audit, &o->policy) < 0) {
        snprintf(err, errlen, "no memory for the policy reader");
        return -1;
    }
    return 0;
}

acmeva_mshard *acmeva_ops_thread_shard(acmeva_ops *o, size_t i)
{
    return acmeva_metrics_thread_shard(o->metrics, i);
}

void acmeva_ops_clear(acmeva_ops *o)
{
    acmeva_policy_watch_free(o->policy);
    o->policy = NULL;
    acmeva_audit_free(o->audit);
    o->audit = NULL;
    acmeva_metrics_free(o->metrics);
    o->metrics = NULL;
}
