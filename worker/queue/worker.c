/*
 * acmeva-worker: the validation daemon, composed of the shared parts of worker/queue:
 * daemon.c (threads, signals, grace) and consumer.c (the jobs stream, consumer group "acmeva":
 * reads, resumes, claims, held entries, results posted with their acknowledgements). What is
 * left here is the worker's own business: turning a delivered entry into a validation and a
 * validation into a result.
 *
 * Each thread has its own loop, engine, reader connection (through the stream reader) and
 * writer connection (results, heartbeats): a blocked XREADGROUP holds its connection for up to
 * a second, and a result must not wait behind it. Configuration and the SSL_CTX are shared
 * read-only (STYLE.md "Shared-nothing threads").
 *
 * A "task" is an entry this thread holds: delivered and not yet acknowledged (running, or done
 * with its result in the outbox). The stream reader never asks for more entries than the free
 * capacity, so a thread holds at most --max-inflight entries and the outbox of results waiting
 * for Redis is bounded by the same number.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acmeva/version.h"
#include "brrules.h"
#include "consumer.h"
#include "daemon.h"
#include "ops.h"
#include "queue.h"
#include "redisconn.h"
#include "resultsig.h"

#define REASON_MAX 512
/* Descriptors a validation holds at once in the common case (a connection and the A and AAAA
 * sockets), and a margin for Redis, logs and the engine's own handles. */
#define FDS_PER_VALIDATION 3
#define FDS_BASE 64
/* After a validation failed for want of this machine's resources, reading pauses: 100 ms
 * doubling to this cap while it goes on. */
#define LOCAL_PAUSE_MAX_MS 5000
/* --require-dnssec-resolver: the resolvers are checked at start and every minute while one
 * validates; while none does, every few seconds, so that a resolver that starts after the
 * worker (systemd ordering, a pod's sidecar) is found soon. The failure is logged when it
 * begins and then about once a minute. */
#define DNSSEC_CHECK_MS 60000
#define DNSSEC_RETRY_MS 5000
#define DNSSEC_LOG_EVERY (DNSSEC_CHECK_MS / DNSSEC_RETRY_MS)

typedef struct worker worker;
typedef struct wthread wthread;

/* One job this thread holds: from its delivery to the EXEC that acknowledges it. */
typedef struct task {
    acmeva_held h;
    wthread *t;
    acmeva_validation *v;   /* while the engine validates it */
    int64_t policy_version; /* the operator's policy it was taken under */
} task;

struct wthread {
    worker *w;
    acmeva_dthread *d;
    acmeva_engine *engine;
    acmeva_consumer c;
    unsigned local_failures; /* consecutive: the pause exponent */
    uint64_t n_local;
    /* --require-dnssec-resolver, or dnssec-at-primary in force at a --primary worker */
    uv_timer_t dnssec_timer;
    int dnssec_timer_open;
    acmeva_dnssec_check *dnssec;
    int dnssec_on;            /* a validating resolver is required now */
    const char *dnssec_why;   /* by what (for the log lines) */
    int dnssec_ok;            /* the last check found a validating resolver */
    unsigned dnssec_failures; /* consecutive failed checks */
};

struct worker {
    const acmeva_worker_options *o;
    const acmeva_engine_config *cfg;
    acmeva_daemon d;
    acmeva_rconn_settings rs;
    char stream[sizeof(ACMEVA_JOBS_STREAM_PREFIX) + ACMEVA_PERSPECTIVE_MAX];
    char redis_masked[512];
    int64_t claim_idle_ms;
    void *ssl_ctx;
    wthread *threads;
    acmeva_ops ops; /* metrics, endpoints, audit log */
};

static void release(acmeva_held *h, int posted)
{
    task *k = (task *)h;
    if (k->v != NULL)
        acmeva_validation_cancel(k->v); /* at close: the job stays pending */
    free(k);
}

/* local_failure leaves a job that failed for want of this machine's resources pending for
 * another delivery (DESIGN.md "Hardening": never the subscriber's fault), and pauses reading so
 * that a machine out of descriptors or memory stops taking work it cannot do. */
static void local_failure(task *k, acmeva_result *r)
{
    wthread *t = k->t;
    uint64_t pause = 100u << (t->local_failures < 6 ? t->local_failures : 6);
    if (pause > LOCAL_PAUSE_MAX_MS)
        pause = LOCAL_PAUSE_MAX_MS;
    t->local_failures++;
    t->n_local++;
    acmeva_mshard_add(t->c.shard, ACMEVA_M_LOCAL_FAILURES, NULL, 1);
    ACMEVA_LOG("warn", "validation failed on this machine; the job stays pending for another delivery",
               ACMEVA_LS("id", r->id), ACMEVA_LS("entry", k->h.entry_id),
               ACMEVA_LS("detail", r->problem.detail), ACMEVA_LI("thread", t->d->index),
               ACMEVA_LI("pause_ms", pause));
    acmeva_result_free(r);
    acmeva_consumer_pause(&t->c, pause);
    acmeva_consumer_drop(&k->h);
}

static void on_result(acmeva_result *result, void *arg)
{
    task *k = arg;
    wthread *t = k->t;
    const acmeva_engine_config *cfg = t->w->cfg;
    k->v = NULL;
    if (result->local_failure) {
        local_failure(k, result);
        return;
    }
    t->local_failures = 0;
    /* It ran under the policy it was taken under, whatever changed since (DESIGN.md "Live
     * kill switch per method": a job already running finishes). */
    result->policy_version = k->policy_version;
    result->has_policy_version = 1;
    acmeva_consumer_label(&k->h, result, 0, result->duration_ms / 1000.0);
    acmeva_consumer_answer(&k->h, result, k->h.item.reply_to, cfg->perspective, cfg->rir,
                           NULL); /* may free k */
    acmeva_consumer_kick(&t->c);
}

/* deliver starts one delivered entry. Every path ends in a result, except when memory runs
 * out (the entry then stays pending). */
static void deliver(acmeva_consumer *c, const acmeva_sentry *e)
{
    wthread *t = c->svc;
    const acmeva_worker_options *o = t->w->o;
    const acmeva_engine_config *cfg = t->w->cfg;
    task *k = calloc(1, sizeof(*k));
    if (k == NULL || acmeva_consumer_hold(c, &k->h, e) < 0) {
        free(k);
        ACMEVA_LOG("error", "no memory for a job", ACMEVA_LS("entry", e->id));
        return;
    }
    k->t = t;
    if (e->deleted) {
        /* Pending, but trimmed from the stream: nothing to run, only acknowledge it. */
        acmeva_consumer_post(&k->h);
        return;
    }
    if (e->raw == NULL) {
        acmeva_consumer_malformed(&k->h, NULL, "job",
                                  "job: missing: the stream entry has no \"job\" field",
                                  cfg->perspective);
        return;
    }
    if (e->raw_len > ACMEVA_JOB_MAX_BYTES) {
        char d[128];
        snprintf(d, sizeof(d), "job: %zu bytes is more than the limit of %d bytes", e->raw_len,
                 ACMEVA_JOB_MAX_BYTES);
        acmeva_consumer_malformed(&k->h, NULL, "job", d, cfg->perspective);
        return;
    }
    acmeva_job *job = NULL;
    acmeva_job_error err;
    if (acmeva_job_parse(e->raw, e->raw_len, &job, &err) < 0) {
        acmeva_consumer_malformed(&k->h, err.id, err.field, err.detail, cfg->perspective);
        acmeva_job_error_clear(&err);
        return;
    }
    if (!acmeva_reply_to_allowed(o->d.reply_prefix, job->reply_to)) {
        /* DESIGN.md "Channel": a replyTo outside the prefix could be another perspective's
         * jobs stream; the job is malformed and its result goes to the default stream. */
        char d[256];
        snprintf(d, sizeof(d), "replyTo: must start with \"%.200s\" (--reply-prefix)",
                 o->d.reply_prefix);
        acmeva_consumer_malformed(&k->h, job->id, "replyTo", d, cfg->perspective);
        acmeva_job_free(job);
        return;
    }
    if ((int64_t)e->attempt > o->d.max_deliveries) {
        char d[REASON_MAX];
        snprintf(d, sizeof(d),
                 "delivered %d times without a result, more than --max-deliveries %lld",
                 e->attempt, (long long)o->d.max_deliveries);
        acmeva_consumer_unvalidated(&k->h, job, d, d, cfg->perspective, cfg->rir);
        acmeva_job_free(job);
        return;
    }
    /* DESIGN.md "Live kill switch per method": a disabled method is not validated. */
    if (acmeva_consumer_policy_refuses(&k->h, job, cfg->perspective, cfg->rir)) {
        acmeva_job_free(job);
        return;
    }
    /* DESIGN.md "Job": a job picked up after its deadline is not validated. */
    if (job->has_deadline && job->deadline_ms <= acmeva_wall_ms()) {
        acmeva_consumer_unvalidated(&k->h, job, "deadline passed before the job was picked up",
                                    NULL, cfg->perspective, cfg->rir);
        acmeva_job_free(job);
        return;
    }
    const acmeva_policy *pol = acmeva_consumer_policy(c);
    k->policy_version = pol != NULL ? pol->version : 0;
    /* The result goes to the job's replyTo: kept in the item until the result is written. */
    k->h.item.reply_to = strdup(job->reply_to);
    if (k->h.item.reply_to == NULL) {
        acmeva_job_free(job);
        acmeva_consumer_drop(&k->h);
        return;
    }
    if (acmeva_engine_validate(t->engine, job, e->attempt, on_result, k, &k->v) < 0) {
        ACMEVA_LOG("error", "could not start a validation", ACMEVA_LS("entry", e->id));
        acmeva_consumer_drop(&k->h); /* the engine freed the job; the entry stays pending */
    }
}

/* sync_stats copies the engine's counters (kept by this thread) into its metrics shard. */
static void sync_stats(acmeva_consumer *c)
{
    wthread *t = c->svc;
    acmeva_mshard *s = c->shard;
    if (t->engine == NULL) {
        acmeva_mshard_set(s, ACMEVA_M_INFLIGHT, NULL, 0);
        return;
    }
    const acmeva_engine_stats *es = acmeva_engine_stats_get0(t->engine);
    acmeva_mshard_set(s, ACMEVA_M_INFLIGHT, NULL, (int64_t)acmeva_engine_inflight(t->engine));
    acmeva_mshard_set(s, ACMEVA_M_HTTP_REDIRECTS, NULL, (int64_t)es->http_redirects);
    for (unsigned i = 0; i < ACMEVA_TLS_FAIL_REASONS; i++)
        acmeva_mshard_set(s, ACMEVA_M_TLS_HANDSHAKE_FAILURES, (const unsigned[]){i},
                          (int64_t)es->tls_failures[i]);
    const acmeva_dns_stats *ds = acmeva_engine_dns_stats(t->engine);
    acmeva_mshard_dns_stats(s, &ds->queries[0][0], ACMEVA_DNS_STAT_QTYPES,
                            ACMEVA_DNS_STAT_OUTCOMES, ds->dropped, ACMEVA_DNS_DROP_REASONS,
                            ds->duration_buckets, ACMEVA_DNS_DURATION_BUCKETS + 1,
                            ds->duration_seconds_sum);
}

/* ---- --require-dnssec-resolver, dnssec-at-primary ------------------------------------------ */

static void dnssec_check_start(wthread *t);

static void dnssec_timer_cb(uv_timer_t *h)
{
    dnssec_check_start(h->data);
}

/* dnssec_checked takes the outcome of one check: a thread takes jobs only while one of its
 * resolvers validates DNSSEC (DESIGN.md "DNSSEC"; BR ballot SC085). */
static void dnssec_checked(void *arg, const acmeva_dnssec_report *rep)
{
    wthread *t = arg;
    const acmeva_engine_config *cfg = t->w->cfg;
    const char *name = cfg->dnssec_probe_name ? cfg->dnssec_probe_name : ".";
    t->dnssec = NULL;
    if (!t->dnssec_on)
        return; /* no longer required (dnssec_update released the thread) */
    int ok = rep->validating > 0;
    if (ok) {
        /* Every resolver should validate: one that does not answers a share of the
         * queries, and those answers are recorded "insecure". */
        if (!t->dnssec_ok)
            ACMEVA_LOG(rep->validating < rep->resolvers ? "warn" : "info",
                       "DNSSEC resolver check passed: taking jobs",
                       ACMEVA_LI("validating", rep->validating),
                       ACMEVA_LI("resolvers", rep->resolvers), ACMEVA_LS("probe_name", name),
                       ACMEVA_LS("detail", rep->detail), ACMEVA_LI("thread", t->d->index));
        t->dnssec_failures = 0;
    } else {
        char msg[200];
        snprintf(msg, sizeof(msg), "no resolver validates DNSSEC (%s): not taking jobs",
                 t->dnssec_why);
        if (t->dnssec_ok || t->dnssec_failures % DNSSEC_LOG_EVERY == 0)
            ACMEVA_LOG("error", msg, ACMEVA_LI("resolvers", rep->resolvers),
                       ACMEVA_LS("probe_name", name), ACMEVA_LS("detail", rep->detail),
                       ACMEVA_LI("failures", t->dnssec_failures + 1),
                       ACMEVA_LI("thread", t->d->index));
        t->dnssec_failures++;
    }
    t->dnssec_ok = ok;
    acmeva_consumer_hold_back(&t->c, !ok);
    if (!t->d->stopping)
        uv_timer_start(&t->dnssec_timer, dnssec_timer_cb, ok ? DNSSEC_CHECK_MS : DNSSEC_RETRY_MS,
                       0);
}

static void dnssec_check_start(wthread *t)
{
    if (t->d->stopping || t->dnssec != NULL)
        return;
    int rc = acmeva_dnssec_check_start(t->engine, dnssec_checked, t, &t->dnssec);
    if (rc != 0) {
        /* No memory now: the thread keeps its last state and tries again soon. */
        ACMEVA_LOG("warn", "could not start the DNSSEC resolver check",
                   ACMEVA_LS("error", uv_strerror(rc)), ACMEVA_LI("thread", t->d->index));
        uv_timer_start(&t->dnssec_timer, dnssec_timer_cb, DNSSEC_RETRY_MS, 0);
    }
}

/* dnssec_stop ends the checks of a stopping thread (its timer is closed by thread_finish). */
static void dnssec_stop(wthread *t)
{
    acmeva_dnssec_check_cancel(t->dnssec);
    t->dnssec = NULL;
    if (t->dnssec_timer_open)
        uv_timer_stop(&t->dnssec_timer);
}

/* dnssec_wanted says whether this thread needs a validating resolver now, and by what: the
 * option, or the dated rule dnssec-at-primary in force (by date or early, brrules.c) at a worker
 * that is the primary perspective (BR 3.2.2.4, ballot SC085). */
static int dnssec_wanted(const wthread *t, const char **why)
{
    int early = 0;
    if (t->w->cfg->require_dnssec) {
        *why = "--require-dnssec-resolver";
        return 1;
    }
    if (t->w->o->primary &&
        acmeva_policy_rule(acmeva_consumer_policy(&t->c), ACMEVA_RULE_DNSSEC_PRIMARY, &early) > 0) {
        *why = early ? "dnssec-at-primary, brought in early by the operator's policy, at this "
                       "--primary worker"
                     : "dnssec-at-primary (BR 3.2.2.4, ballot SC085), in force at this --primary "
                       "worker";
        return 1;
    }
    *why = NULL;
    return 0;
}

/* dnssec_update starts or ends the resolver checks when what is required changed: at start, and
 * when a policy snapshot brings dnssec-at-primary in early or takes it back. */
static void dnssec_update(wthread *t)
{
    const char *why = NULL;
    int want = dnssec_wanted(t, &why);
    if (want == t->dnssec_on || t->d->stopping)
        return;
    t->dnssec_on = want;
    t->dnssec_why = why;
    if (t->d->index == 0 && (!want || !t->w->cfg->require_dnssec))
        ACMEVA_LOG("info",
                   want ? "a validating resolver is required from now: checking the resolvers"
                        : "a validating resolver is no longer required",
                   ACMEVA_LS("by", want ? why : "dnssec-at-primary no longer in force"),
                   ACMEVA_LI("primary", t->w->o->primary));
    if (want) {
        /* No job is read before a resolver was found to validate DNSSEC. */
        acmeva_consumer_hold_back(&t->c, 1);
        t->dnssec_ok = 0;
        t->dnssec_failures = 0;
        dnssec_check_start(t);
    } else {
        dnssec_stop(t);
        acmeva_consumer_hold_back(&t->c, 0);
    }
}

static void policy_changed(acmeva_consumer *c, const acmeva_policy *old, const acmeva_policy *cur)
{
    dnssec_update(c->svc);
    (void)old;
    (void)cur;
}

static const acmeva_consumer_ops consumer_ops = {.deliver = deliver,
                                                 .release = release,
                                                 .sync_stats = sync_stats,
                                                 .policy_changed = policy_changed};

/* ---- threads and the process ---------------------------------------------------------------- */

static void thread_stop(acmeva_dthread *d)
{
    wthread *t = d->svc;
    dnssec_stop(t);
    acmeva_consumer_stop(&t->c);
}

static void thread_finish(acmeva_dthread *d)
{
    wthread *t = d->svc;
    dnssec_stop(t);
    if (t->dnssec_timer_open)
        uv_close((uv_handle_t *)&t->dnssec_timer, NULL);
    t->dnssec_timer_open = 0;
    acmeva_consumer_close(&t->c);
    acmeva_engine_free(t->engine);
    t->engine = NULL;
}

static int thread_init(acmeva_dthread *d, char *err, size_t errlen)
{
    worker *w = d->d->svc;
    wthread *t = &w->threads[d->index];
    t->w = w;
    t->d = d;
    d->svc = t;
    if (acmeva_engine_new(&d->loop, w->cfg, w->ssl_ctx, &t->engine, err, errlen) < 0)
        return -1;
    acmeva_consumer_config cc = {w->stream,
                                 ACMEVA_GROUP,
                                 "job",
                                 w->claim_idle_ms,
                                 w->o->d.block_ms,
                                 w->o->d.max_inflight,
                                 w->o->d.results_maxlen,
                                 "validation",
                                 acmeva_ops_thread_shard(&w->ops, (size_t)d->index),
                                 w->ops.audit,
                                 "validation",
                                 w->o->signing_key,
                                 w->ops.policy};
    if (acmeva_consumer_init(&t->c, d, &w->rs, &cc, &consumer_ops, t, err, errlen) < 0) {
        acmeva_engine_free(t->engine);
        return -1;
    }
    uv_timer_init(&d->loop, &t->dnssec_timer);
    t->dnssec_timer.data = t;
    t->dnssec_timer_open = 1;
    /* --require-dnssec-resolver holds from the start; dnssec-at-primary once the policy (which
     * evaluates the dated rules) is read, before which no job is taken anyway. */
    dnssec_update(t);
    acmeva_consumer_start(&t->c);
    return 0;
}

/* join writes the |n| strings of |v| comma-separated into |buf| (cut to fit), or |none|. */
static void join(char *buf, size_t len, char *const *v, size_t n, const char *none)
{
    size_t off = 0;
    snprintf(buf, len, "%s", n == 0 ? none : "");
    for (size_t i = 0; i < n && off + 1 < len; i++) {
        int k = snprintf(buf + off, len - off, "%s%s", i ? "," : "", v[i]);
        if (k < 0)
            break;
        off += (size_t)k;
    }
}

static void log_startup(const worker *w, uint64_t nofile)
{
    const acmeva_worker_options *o = w->o;
    const acmeva_engine_config *cfg = w->cfg;
    char resolvers[512], issuers[1024];
    join(resolvers, sizeof(resolvers), cfg->resolvers, cfg->n_resolvers, "system");
    join(issuers, sizeof(issuers), cfg->issuer_domains, cfg->n_issuer_domains, "");
    char key_id[ACMEVA_SIG_KEYID_LEN + 1] = "none"; /* the public half: nothing secret */
    if (o->signing_key != NULL && acmeva_sig_key_id(o->signing_key, key_id) < 0)
        snprintf(key_id, sizeof(key_id), "?");
    ACMEVA_LOG("info", "acmeva-worker starting", ACMEVA_LS("version", acmeva_version()),
               ACMEVA_LS("redis", w->redis_masked),
               ACMEVA_LS("stream", w->stream), ACMEVA_LS("group", ACMEVA_GROUP),
               ACMEVA_LS("perspective", cfg->perspective), ACMEVA_LS("rir", cfg->rir),
               ACMEVA_LI("threads", w->d.nthreads), ACMEVA_LI("max_inflight", o->d.max_inflight),
               ACMEVA_LI("claim_idle_ms", w->claim_idle_ms),
               ACMEVA_LI("max_deliveries", o->d.max_deliveries),
               ACMEVA_LI("grace_ms", o->d.grace_ms),
               ACMEVA_LI("results_maxlen", o->d.results_maxlen),
               ACMEVA_LI("redis_timeout_ms", o->d.redis_timeout_ms),
               ACMEVA_LS("reply_prefix", o->d.reply_prefix), ACMEVA_LS("resolvers", resolvers),
               ACMEVA_LI("http_port", cfg->http_port), ACMEVA_LI("https_port", cfg->https_port),
               ACMEVA_LI("tls_port", cfg->tls_port),
               ACMEVA_LI("allow_private_addresses", cfg->allow_private),
               ACMEVA_LI("timeout_ms", cfg->timeout_ms), ACMEVA_LS("issuer_domains", issuers),
               ACMEVA_LS("user_agent", cfg->user_agent), ACMEVA_LS("signing_key", key_id),
               ACMEVA_LI("max_per_destination", cfg->max_per_destination),
               ACMEVA_LS("metrics_listen", o->d.metrics_listen),
               ACMEVA_LS("audit_log", o->d.audit_log), ACMEVA_LI("audit_sync", o->d.audit_sync),
               ACMEVA_LI("require_dnssec_resolver", cfg->require_dnssec),
               ACMEVA_LI("primary", o->primary),
               ACMEVA_LS("dnssec_probe_name",
                         cfg->dnssec_probe_name ? cfg->dnssec_probe_name : "."),
               ACMEVA_LI("nofile", (int64_t)nofile),
               ACMEVA_LI("pid", (long)getpid()));
}

static const acmeva_daemon_ops worker_ops = {thread_init, thread_stop, thread_finish};

int acmeva_worker_run(const acmeva_worker_options *o, const acmeva_engine_config *cfg)
{
    worker *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return 1;
    int status = 1;
    w->o = o;
    w->cfg = cfg;
    snprintf(w->stream, sizeof(w->stream), "%s%s", ACMEVA_JOBS_STREAM_PREFIX, o->perspective);
    acmeva_redis_url_masked(&o->d.redis, w->redis_masked, sizeof(w->redis_masked));
    /* Default: twice the longest job deadline a worker sets itself (the engine timeout). */
    w->claim_idle_ms = o->d.claim_idle_ms > 0 ? o->d.claim_idle_ms : 2 * cfg->timeout_ms;
    if (w->claim_idle_ms < 100)
        w->claim_idle_ms = 100;
    int n = acmeva_daemon_threads(&o->d);
    acmeva_rconn_settings_init(&w->rs, &o->d, w->redis_masked, w->stream);
    w->d.name = "acmeva-worker";
    w->d.ops = &worker_ops;
    w->d.svc = w;
    w->d.nthreads = n;
    w->d.grace_ms = o->d.grace_ms;

    /* DESIGN.md "Hardening": raise the descriptor limit and refuse a configuration that
     * cannot fit in it, rather than failing validations one by one later. */
    char err[256];
    uint64_t have = 0,
             need = FDS_BASE + (uint64_t)n * ((uint64_t)o->d.max_inflight * FDS_PER_VALIDATION + 8);
    if (acmeva_nofile_raise(need, &have, err, sizeof(err)) < 0) {
        ACMEVA_LOG("error", "cannot start: too few file descriptors", ACMEVA_LS("error", err),
                   ACMEVA_LI("threads", n), ACMEVA_LI("max_inflight", o->d.max_inflight),
                   ACMEVA_LI("per_validation", FDS_PER_VALIDATION),
                   ACMEVA_LS("fix", "raise the hard limit (LimitNOFILE=, ulimit -Hn) or lower "
                                    "--threads or --max-inflight"));
        free(w);
        return 1;
    }
    log_startup(w, have);
    /* Metrics, endpoints and audit log (ops.h). The audit queue holds at most a line per job
     * held, which --max-inflight bounds per thread. */
    const char *perspectives[] = {cfg->perspective};
    if (acmeva_ops_init(&w->ops, &w->d, &o->d, perspectives, 1, (size_t)n,
                        (size_t)n * (size_t)o->d.max_inflight, err, sizeof(err)) < 0) {
        ACMEVA_LOG("error", "cannot start", ACMEVA_LS("error", err));
        free(w);
        return 1;
    }
    /* DESIGN.md "Channel": the TLS context of the Redis connections (rediss://). */
    if (acmeva_redis_tls_ctx_new(&o->d.redis, &o->d.tls, &w->rs.ssl_ctx, err, sizeof(err)) < 0 ||
        acmeva_ops_watch_policy(&w->ops, w->d.name, &w->rs, (size_t)n, err, sizeof(err)) < 0) {
        ACMEVA_LOG("error", "cannot start", ACMEVA_LS("error", err));
        goto out;
    }
    acmeva_redis_channel_note(w->d.name, 0, &o->d.redis, &o->d.tls, w->rs.ssl_ctx);
    w->ssl_ctx = acmeva_tls_ctx_new();
    w->threads = calloc((size_t)n, sizeof(wthread));
    if (w->ssl_ctx == NULL || w->threads == NULL) {
        ACMEVA_LOG0("error", "cannot start: no memory");
        goto out;
    }
    status = acmeva_daemon_run(&w->d);
    if (status == 0)
        ACMEVA_LOG0("info", "acmeva-worker stopped");
out:
    acmeva_ops_clear(&w->ops);
    acmeva_redis_tls_ctx_free(w->rs.ssl_ctx);
    acmeva_tls_ctx_free(w->ssl_ctx);
    free(w->threads);
    free(w);
    return status;
}
