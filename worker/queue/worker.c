/*
 * acmeva-worker: the validation daemon, composed of the shared parts of worker/queue:
 * daemon.c (threads, signals, grace), streamreader.c (the jobs stream, consumer group
 * "acmeva": reads, resumes, claims), redisconn.c (the connections) and outbox.c (results posted
 * with their acknowledgements). What is left here is the worker's own business: turning a
 * delivered entry into a validation and a validation into a result.
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
#include <sys/random.h>
#include <unistd.h>

#include "acmeva/version.h"
#include "daemon.h"
#include "ops.h"
#include "outbox.h"
#include "queue.h"
#include "redisconn.h"
#include "streamreader.h"

#define CONNECT_TIMEOUT_MS 5000
#define CONSUMER_MAX 160
#define REASON_MAX 512
#define MAX_THREADS 256
/* Descriptors a validation holds at once in the common case (a connection and the A and AAAA
 * sockets), and a margin for Redis, logs and the engine's own handles. */
#define FDS_PER_VALIDATION 3
#define FDS_BASE 64
/* After a validation failed for want of this machine's resources, reading pauses: 100 ms
 * doubling to this cap while it goes on. */
#define LOCAL_PAUSE_MAX_MS 5000

typedef struct worker worker;
typedef struct wthread wthread;
typedef struct task task;

typedef enum {
    TASK_RUNNING,  /* the engine is validating it */
    TASK_AUDITING, /* its audit line is being written; the result waits for it */
    TASK_POSTING,  /* its result is in the outbox */
} task_state;

/* How often a thread copies the counters kept elsewhere (engine, reader, outbox, connections)
 * into its metrics shard. */
#define STATS_SYNC_MS 500

struct task {
    wthread *t;
    task *prev, *next; /* the thread's held list */
    task_state state;
    char entry_id[ACMEVA_ENTRY_ID_MAX];
    char *raw; /* the job field as received (for a dead letter); NULL when none */
    size_t raw_len;
    acmeva_outbox_item item;
    acmeva_validation *v;
    uint64_t touched; /* uv_now of the delivery or of the last heartbeat */
    int attempt;
    /* What the metrics count once the result is posted (ops.h). */
    unsigned m_labels[4]; /* type, result, problem, perspective */
    double m_seconds;     /* validation time; < 0 for a job answered without validating */
    int m_dead;           /* ACMEVA_MV_DEAD_*, or -1 */
};

struct wthread {
    worker *w;
    acmeva_dthread *d;
    int index;
    acmeva_engine *engine;
    char consumer[CONSUMER_MAX]; /* host:pid:thread */
    acmeva_sreader reader;
    acmeva_rconn writer;
    acmeva_outbox outbox;
    uv_timer_t pause_timer; /* reading paused after a local failure */
    uint64_t paused_until;
    unsigned local_failures; /* consecutive: the pause exponent */
    task *held_head;
    size_t held;
    int goodbye; /* 0: not yet, 1: XPENDING sent, 2: DELCONSUMER sent, 3: done */
    uint64_t n_done, n_local;
    acmeva_mshard *shard; /* this thread's metrics */
    uv_timer_t stats_timer;
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
    acmeva_ops ops;
};

static void maybe_finish(wthread *t);

/* ---- tasks ------------------------------------------------------------------------------- */

static task *task_find(wthread *t, const char *id)
{
    for (task *k = t->held_head; k != NULL; k = k->next)
        if (strcmp(k->entry_id, id) == 0)
            return k;
    return NULL;
}

static task *task_new(wthread *t, const char *id, const char *raw, size_t raw_len)
{
    task *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return NULL;
    if (raw != NULL) {
        k->raw = malloc(raw_len + 1);
        if (k->raw == NULL) {
            free(k);
            return NULL;
        }
        memcpy(k->raw, raw, raw_len);
        k->raw[raw_len] = '\0';
        k->raw_len = raw_len;
    }
    k->t = t;
    snprintf(k->entry_id, sizeof(k->entry_id), "%s", id);
    k->touched = uv_now(&t->d->loop);
    k->attempt = 1;
    k->m_seconds = -1;
    k->m_dead = -1;
    k->next = t->held_head;
    if (t->held_head != NULL)
        t->held_head->prev = k;
    t->held_head = k;
    t->held++;
    return k;
}

/* task_free forgets a held job. Unless its EXEC succeeded, the job stays pending in Redis
 * and is delivered again (to this consumer on reconnect, or to anyone by XAUTOCLAIM). */
static void task_free(task *k)
{
    wthread *t = k->t;
    if (k->prev != NULL)
        k->prev->next = k->next;
    else
        t->held_head = k->next;
    if (k->next != NULL)
        k->next->prev = k->prev;
    t->held--;
    acmeva_outbox_item_clear(&k->item);
    free(k->raw);
    free(k);
}

/* ---- metrics ----------------------------------------------------------------------------- */

/* label_result records the labels of |r| for the count made once it is posted. */
static void label_result(task *k, const acmeva_result *r)
{
    acmeva_chall_type ct = r->chall_type ? acmeva_chall_type_from_name(r->chall_type)
                                         : ACMEVA_CHALL_NONE;
    unsigned type = 6; /* unknown: a malformed job */
    if (ct != ACMEVA_CHALL_NONE && ct != ACMEVA_CHALL_UNKNOWN)
        type = (unsigned)ct - 1; /* the label values follow acmeva_chall_type */
    else if (r->chall_type == NULL && r->has_caa)
        type = 5; /* caa */
    k->m_labels[0] = type;
    k->m_labels[1] = r->valid ? ACMEVA_MV_VALID : ACMEVA_MV_INVALID;
    k->m_labels[2] = r->valid ? ACMEVA_PROB_NONE : (unsigned)r->problem.type;
    k->m_labels[3] = 0; /* the worker's one perspective */
}

/* count_posted counts a result that is now in Redis: the counters equal what results say. */
static void count_posted(task *k)
{
    acmeva_mshard *s = k->t->shard;
    if (k->item.result != NULL) {
        acmeva_mshard_add(s, ACMEVA_M_VALIDATIONS, k->m_labels, 1);
        if (k->m_seconds >= 0)
            acmeva_mshard_observe(s, ACMEVA_M_VALIDATION_DURATION, k->m_labels, k->m_seconds);
    }
    if (k->item.rerouted)
        acmeva_mshard_add(s, ACMEVA_M_DEAD_LETTERS,
                          (const unsigned[]){ACMEVA_MV_DEAD_RESULT_REFUSED}, 1);
    else if (k->m_dead >= 0)
        acmeva_mshard_add(s, ACMEVA_M_DEAD_LETTERS, (const unsigned[]){(unsigned)k->m_dead}, 1);
}

/* sync_stats copies what other parts count in plain counters of this thread into its shard:
 * they are read here, on the thread that writes them. */
static void sync_stats(wthread *t)
{
    acmeva_mshard *s = t->shard;
    int up = t->reader.conn.state == ACMEVA_RCONN_READY && t->writer.state == ACMEVA_RCONN_READY;
    acmeva_mshard_set(s, ACMEVA_M_REDIS_CONNECTED, NULL, up);
    acmeva_mshard_set(s, ACMEVA_M_STREAM_READING, NULL,
                      up && t->reader.group_ready && !t->d->stopping);
    acmeva_mshard_set(s, ACMEVA_M_REDIS_RECONNECTS, (const unsigned[]){ACMEVA_MV_READER},
                      (int64_t)t->reader.conn.n_lost);
    acmeva_mshard_set(s, ACMEVA_M_REDIS_RECONNECTS, (const unsigned[]){ACMEVA_MV_WRITER},
                      (int64_t)t->writer.n_lost);
    acmeva_mshard_set(s, ACMEVA_M_JOBS_RECEIVED, NULL, (int64_t)t->reader.n_received);
    acmeva_mshard_set(s, ACMEVA_M_JOBS_CLAIMED, NULL, (int64_t)t->reader.n_claimed);
    acmeva_mshard_set(s, ACMEVA_M_RESULTS_POSTED, NULL, (int64_t)t->outbox.n_posted);
    acmeva_mshard_set(s, ACMEVA_M_RESULTS_REROUTED, NULL, (int64_t)t->outbox.n_rerouted);
    acmeva_mshard_set(s, ACMEVA_M_RESULTS_GIVEN_UP, NULL, (int64_t)t->outbox.n_given_up);
    acmeva_mshard_set(s, ACMEVA_M_RESULTS_WAITING, NULL,
                      (int64_t)(t->outbox.queued + t->outbox.sending));
    if (t->engine != NULL) {
        const acmeva_engine_stats *es = acmeva_engine_stats_get0(t->engine);
        acmeva_mshard_set(s, ACMEVA_M_INFLIGHT, NULL, (int64_t)acmeva_engine_inflight(t->engine));
        acmeva_mshard_set(s, ACMEVA_M_HTTP_REDIRECTS, NULL, (int64_t)es->http_redirects);
        for (unsigned i = 0; i < ACMEVA_TLS_FAIL_REASONS; i++)
            acmeva_mshard_set(s, ACMEVA_M_TLS_HANDSHAKE_FAILURES, (const unsigned[]){i},
                              (int64_t)es->tls_failures[i]);
    } else {
        acmeva_mshard_set(s, ACMEVA_M_INFLIGHT, NULL, 0);
    }
}

static void stats_cb(uv_timer_t *h)
{
    sync_stats(h->data);
}

static void posted(acmeva_outbox_item *it, int ok)
{
    task *k = (task *)((char *)it - offsetof(task, item));
    wthread *t = k->t;
    if (ok) {
        t->n_done++;
        count_posted(k);
    }
    task_free(k);
    acmeva_sreader_kick(&t->reader);
    maybe_finish(t);
}

/* ---- results ----------------------------------------------------------------------------- */

static void log_result(const task *k, const acmeva_result *r, const char *reason)
{
    const char *type = r->chall_type ? r->chall_type : (r->has_caa ? "caa" : NULL);
    ACMEVA_LOG("info", "validation", ACMEVA_LS("id", r->id), ACMEVA_LS("type", type),
               ACMEVA_LS("identifier", r->ident_value),
               ACMEVA_LS("status", r->valid ? "valid" : "invalid"),
               ACMEVA_LS("error", r->valid ? NULL : acmeva_problem_urn(r->problem.type)),
               ACMEVA_LD("duration_ms", r->duration_ms), ACMEVA_LI("attempt", k->attempt),
               ACMEVA_LS("entry", k->entry_id), ACMEVA_LI("thread", k->t->index),
               ACMEVA_LS(reason ? "reason" : NULL, reason));
}

static int replace_str(char **dst, const char *src)
{
    char *s = src ? strdup(src) : NULL;
    if (src != NULL && s == NULL)
        return -1;
    free(*dst);
    *dst = s;
    return 0;
}

static void pause_reading(wthread *t);

/* audit_failed leaves a job whose audit line could not be written pending: without its line
 * the result must not be posted (the writer logged the error and counted it). */
static void audit_failed(task *k)
{
    wthread *t = k->t;
    t->n_local++;
    acmeva_mshard_add(t->shard, ACMEVA_M_LOCAL_FAILURES, NULL, 1);
    task_free(k);
    pause_reading(t);
    maybe_finish(t);
}

static void audited(void *arg, int ok)
{
    task *k = arg;
    if (!ok) {
        audit_failed(k);
        return;
    }
    k->state = TASK_POSTING;
    acmeva_outbox_push(&k->t->outbox, &k->item);
}

/* task_result takes |r|, writes it as the task's result and queues it for posting. */
static void task_result(task *k, acmeva_result *r, const char *reason)
{
    wthread *t = k->t;
    const acmeva_engine_config *cfg = t->w->cfg;
    r->attempt = k->attempt;
    if (replace_str(&r->worker, t->consumer) < 0 ||
        (r->perspective == NULL && replace_str(&r->perspective, cfg->perspective) < 0) ||
        (r->rir == NULL && replace_str(&r->rir, cfg->rir ? cfg->rir : "") < 0) ||
        (k->item.result = acmeva_result_to_json(r)) == NULL) {
        ACMEVA_LOG("error", "no memory for a result", ACMEVA_LS("entry", k->entry_id));
        acmeva_result_free(r);
        task_free(k); /* stays pending: delivered again later */
        return;
    }
    log_result(k, r, reason);
    label_result(k, r);
    acmeva_audit *audit = t->w->ops.audit;
    char *line = NULL;
    size_t line_len = 0;
    if (audit != NULL) {
        /* BR 5.4.1: the record of the validation, with the result exactly as posted. */
        acmeva_audit_record rec = {
            "validation", r->id, r->ident_type, r->ident_value, r->chall_type, r->has_caa,
            r->perspective, r->rir, r->valid ? "valid" : "invalid",
            r->valid ? NULL : acmeva_problem_urn(r->problem.type), k->entry_id, k->attempt,
            r->worker, k->item.result, NULL, NULL};
        line = acmeva_audit_line_new(&rec, &line_len);
    }
    acmeva_result_free(r);
    k->item.ack_id = k->entry_id;
    k->item.raw = k->raw;
    k->item.raw_len = k->raw_len;
    k->item.done = posted;
    if (audit == NULL) {
        k->state = TASK_POSTING;
        acmeva_outbox_push(&t->outbox, &k->item);
        return;
    }
    /* The line is written before the result is posted: the result waits in this state. */
    k->state = TASK_AUDITING;
    if (line == NULL || acmeva_audit_submit(audit, (size_t)t->index, line, line_len, audited, k) < 0)
        audit_failed(k);
}

static void pause_cb(uv_timer_t *h)
{
    wthread *t = h->data;
    acmeva_sreader_kick(&t->reader);
}

/* local_failure leaves a job that failed for want of this machine's resources pending for
 * another delivery (DESIGN.md "Hardening": never the subscriber's fault), and pauses reading so
 * that a machine out of descriptors or memory stops taking work it cannot do. */
/* pause_reading pauses this thread's reading after a failure of this machine: 100 ms doubling
 * to LOCAL_PAUSE_MAX_MS while they go on. Returns the pause. */
static uint64_t pause_for(wthread *t)
{
    uint64_t pause = 100u << (t->local_failures < 6 ? t->local_failures : 6);
    return pause > LOCAL_PAUSE_MAX_MS ? LOCAL_PAUSE_MAX_MS : pause;
}

static void pause_reading(wthread *t)
{
    uint64_t pause = pause_for(t);
    t->local_failures++;
    t->paused_until = uv_now(&t->d->loop) + pause;
    uv_timer_start(&t->pause_timer, pause_cb, pause, 0);
}

static void local_failure(task *k, acmeva_result *r)
{
    wthread *t = k->t;
    t->n_local++;
    acmeva_mshard_add(t->shard, ACMEVA_M_LOCAL_FAILURES, NULL, 1);
    ACMEVA_LOG("warn", "validation failed on this machine; the job stays pending for another delivery",
               ACMEVA_LS("id", r->id), ACMEVA_LS("entry", k->entry_id),
               ACMEVA_LS("detail", r->problem.detail), ACMEVA_LI("thread", t->index),
               ACMEVA_LI("pause_ms", pause_for(t)));
    acmeva_result_free(r);
    task_free(k);
    pause_reading(t);
}

static void on_result(acmeva_result *result, void *arg)
{
    task *k = arg;
    wthread *t = k->t;
    k->v = NULL;
    if (result->local_failure) {
        local_failure(k, result);
        maybe_finish(t);
        return;
    }
    t->local_failures = 0;
    k->m_seconds = result->duration_ms / 1000.0;
    task_result(k, result, NULL); /* may free k */
    acmeva_sreader_kick(&t->reader);
}

/* reject_malformed answers a job that cannot be trusted: a malformed result on the default
 * results stream (never the job's own replyTo: a broken job's fields mean nothing) and a dead
 * letter with the reason (DESIGN.md "Job": malformed jobs go to the dead-letter stream). */
static void reject_malformed(task *k, const acmeva_job_error *perr, const char *detail)
{
    acmeva_job_error err;
    memset(&err, 0, sizeof(err));
    if (perr == NULL) {
        snprintf(err.detail, sizeof(err.detail), "%s", detail);
        perr = &err;
    }
    char reason[REASON_MAX];
    snprintf(reason, sizeof(reason), "malformed: %s", perr->detail); /* it names the field */
    k->m_dead = ACMEVA_MV_DEAD_MALFORMED;
    acmeva_result *r = acmeva_result_new_malformed(perr);
    if (r == NULL || replace_str(&k->item.reply_to, ACMEVA_DEFAULT_REPLY_TO) < 0 ||
        replace_str(&k->item.dead_reason, reason) < 0) {
        acmeva_result_free(r);
        task_free(k);
        return;
    }
    r->started_ms = acmeva_wall_ms();
    task_result(k, r, reason);
}

/* answer_unvalidated answers a parsed job without validating it (deadline passed, too many
 * deliveries): a serverInternal result on its replyTo, and a dead letter when |dead|. */
static void answer_unvalidated(task *k, acmeva_job *job, const char *detail, const char *dead)
{
    acmeva_result *r = acmeva_result_new();
    if (r == NULL || acmeva_result_set_job(r, job) < 0 ||
        acmeva_result_set_problem(r, ACMEVA_PROB_SERVER_INTERNAL, detail) < 0 ||
        (dead != NULL && replace_str(&k->item.dead_reason, dead) < 0)) {
        acmeva_result_free(r);
        acmeva_job_free(job);
        task_free(k);
        return;
    }
    acmeva_job_free(job);
    r->started_ms = acmeva_wall_ms();
    task_result(k, r, dead ? dead : detail);
}

/* deliver starts one delivered entry. Every path ends in a result, except when memory runs
 * out (the entry then stays pending). */
static void deliver(void *owner, const acmeva_sentry *e)
{
    wthread *t = owner;
    const acmeva_worker_options *o = t->w->o;
    task *k = task_new(t, e->id, e->raw, e->raw_len);
    if (k == NULL) {
        ACMEVA_LOG("error", "no memory for a job", ACMEVA_LS("entry", e->id));
        return;
    }
    k->attempt = e->attempt;
    if (e->attempt > 1)
        acmeva_mshard_add(t->shard, ACMEVA_M_JOBS_REDELIVERED, NULL, 1);
    if (e->deleted) {
        /* Pending, but trimmed from the stream: nothing to run, only acknowledge it. */
        k->state = TASK_POSTING;
        k->item.ack_id = k->entry_id;
        k->item.done = posted;
        acmeva_outbox_push(&t->outbox, &k->item);
        return;
    }
    if (e->raw == NULL) {
        reject_malformed(k, NULL, "job: missing: the stream entry has no \"job\" field");
        return;
    }
    if (e->raw_len > ACMEVA_JOB_MAX_BYTES) {
        char d[128];
        snprintf(d, sizeof(d), "job: %zu bytes is more than the limit of %d bytes", e->raw_len,
                 ACMEVA_JOB_MAX_BYTES);
        reject_malformed(k, NULL, d);
        return;
    }
    acmeva_job *job = NULL;
    acmeva_job_error err;
    if (acmeva_job_parse(e->raw, e->raw_len, &job, &err) < 0) {
        reject_malformed(k, &err, NULL);
        acmeva_job_error_clear(&err);
        return;
    }
    if (!acmeva_reply_to_allowed(o->d.reply_prefix, job->reply_to)) {
        /* DESIGN.md "Channel": a replyTo outside the prefix could be another perspective's
         * jobs stream; the job is malformed and its result goes to the default stream. */
        acmeva_job_error jerr;
        memset(&jerr, 0, sizeof(jerr));
        jerr.id = job->id;
        snprintf(jerr.field, sizeof(jerr.field), "replyTo");
        snprintf(jerr.detail, sizeof(jerr.detail), "replyTo: must start with \"%.200s\" (--reply-prefix)",
                 o->d.reply_prefix);
        reject_malformed(k, &jerr, NULL);
        acmeva_job_free(job);
        return;
    }
    if (replace_str(&k->item.reply_to, job->reply_to) < 0) {
        acmeva_job_free(job);
        task_free(k);
        return;
    }
    if ((int64_t)e->attempt > o->d.max_deliveries) {
        char d[REASON_MAX];
        snprintf(d, sizeof(d),
                 "delivered %d times without a result, more than --max-deliveries %lld",
                 e->attempt, (long long)o->d.max_deliveries);
        k->m_dead = ACMEVA_MV_DEAD_MAX_DELIVERIES;
        answer_unvalidated(k, job, d, d);
        return;
    }
    /* DESIGN.md "Job": a job picked up after its deadline is not validated. */
    if (job->has_deadline && job->deadline_ms <= acmeva_wall_ms()) {
        answer_unvalidated(k, job, "deadline passed before the job was picked up", NULL);
        return;
    }
    k->state = TASK_RUNNING;
    if (acmeva_engine_validate(t->engine, job, e->attempt, on_result, k, &k->v) < 0) {
        ACMEVA_LOG("error", "could not start a validation", ACMEVA_LS("entry", e->id));
        task_free(k); /* the engine freed the job; the entry stays pending */
    }
}

/* ---- the stream reader's view of this thread ------------------------------------------- */

static size_t capacity(void *owner)
{
    wthread *t = owner;
    size_t max = (size_t)t->w->o->d.max_inflight;
    if (t->d->stopping || uv_now(&t->d->loop) < t->paused_until)
        return 0;
    return t->held >= max ? 0 : max - t->held;
}

static int holds(void *owner, const char *id)
{
    return task_find(owner, id) != NULL;
}

/* heartbeat resets the idle time of long-running jobs, so that XAUTOCLAIM elsewhere never
 * takes a job that is still running here because its deadline lies beyond --claim-idle-ms. */
static void heartbeat(void *owner)
{
    wthread *t = owner;
    if (!acmeva_rconn_ready(&t->writer))
        return;
    uint64_t now = uv_now(&t->d->loop), limit = (uint64_t)t->w->claim_idle_ms / 2;
    const char *ids[256];
    size_t n = 0;
    for (task *k = t->held_head; k != NULL; k = k->next) {
        if (now - k->touched < limit)
            continue;
        k->touched = now;
        ids[n++] = k->entry_id;
        if (n == sizeof(ids) / sizeof(ids[0])) {
            acmeva_sreader_touch(&t->reader, &t->writer, ids, n);
            n = 0;
        }
    }
    acmeva_sreader_touch(&t->reader, &t->writer, ids, n);
}

static void settled(void *owner)
{
    maybe_finish(owner);
}

static const acmeva_sreader_ops reader_ops = {capacity, holds, deliver, heartbeat, settled};

/* ---- the writer connection ----------------------------------------------------------------- */

static void writer_ready(acmeva_rconn *c)
{
    wthread *t = c->data;
    acmeva_outbox_flush(&t->outbox);
    maybe_finish(t);
}

static void writer_lost(acmeva_rconn *c)
{
    maybe_finish(c->data);
}

/* ---- stopping -------------------------------------------------------------------------------- */

static void goodbye_cb(acmeva_rconn *c, redisReply *r, void *priv)
{
    wthread *t = priv;
    if (t->goodbye == 1 && r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 0 &&
        t->held == 0) {
        /* Nothing pending for this consumer: remove it, so that restarts do not pile up
         * consumers in XINFO CONSUMERS. With pending entries it stays, for XAUTOCLAIM. */
        const char *argv[] = {"XGROUP", "DELCONSUMER", t->w->stream, ACMEVA_GROUP, t->consumer};
        t->goodbye = 2;
        if (acmeva_rconn_command(&t->writer, goodbye_cb, t, 5, argv, NULL) == 0)
            return;
    }
    t->goodbye = 3;
    if (r != NULL)
        maybe_finish(t);
}

static void maybe_finish(wthread *t)
{
    if (!t->d->stopping || t->d->finished)
        return;
    if (acmeva_sreader_busy(&t->reader))
        return; /* entries delivered by the last read are run too */
    if (t->held > 0)
        return;
    if (t->goodbye == 0 && acmeva_rconn_ready(&t->writer)) {
        const char *argv[] = {"XPENDING", t->w->stream, ACMEVA_GROUP, "-", "+", "1", t->consumer};
        t->goodbye = 1;
        if (acmeva_rconn_command(&t->writer, goodbye_cb, t, 7, argv, NULL) == 0)
            return;
    }
    if ((t->goodbye == 1 || t->goodbye == 2) && t->writer.state == ACMEVA_RCONN_READY)
        return;
    acmeva_dthread_finish(t->d);
}

static void thread_stop(acmeva_dthread *d)
{
    wthread *t = d->svc;
    acmeva_sreader_stop(&t->reader);
    maybe_finish(t);
}

static void thread_finish(acmeva_dthread *d)
{
    wthread *t = d->svc;
    size_t running = 0, unposted = 0;
    for (task *k = t->held_head; k != NULL; k = k->next) {
        if (k->state == TASK_RUNNING)
            running++;
        else
            unposted++;
    }
    ACMEVA_LOG("info", "thread stopped", ACMEVA_LI("thread", t->index),
               ACMEVA_LI("done", t->n_done), ACMEVA_LI("claimed", t->reader.n_claimed),
               ACMEVA_LI("cancelled", running), ACMEVA_LI("unposted", unposted));
    /* Connections first: their outstanding callbacks (with NULL replies) put results back
     * in the outbox and end the reader's look-ups. What is still held then stays pending in
     * Redis for another worker (at least once). */
    sync_stats(t);
    acmeva_mshard_set(t->shard, ACMEVA_M_STREAM_READING, NULL, 0);
    uv_close((uv_handle_t *)&t->stats_timer, NULL);
    /* No audit completion reaches this thread from here on: the tasks below are freed. */
    if (t->w->ops.audit != NULL)
        acmeva_audit_loop_close(t->w->ops.audit, (size_t)t->index);
    acmeva_sreader_close(&t->reader);
    acmeva_rconn_close(&t->writer);
    acmeva_outbox_forget(&t->outbox);
    while (t->held_head != NULL) {
        task *k = t->held_head;
        if (k->state == TASK_RUNNING && k->v != NULL)
            acmeva_validation_cancel(k->v);
        task_free(k);
    }
    acmeva_engine_free(t->engine);
    t->engine = NULL;
    uv_close((uv_handle_t *)&t->pause_timer, NULL);
}

/* ---- threads and the process ---------------------------------------------------------------- */

static int thread_init(acmeva_dthread *d, char *err, size_t errlen)
{
    worker *w = d->d->svc;
    wthread *t = &w->threads[d->index];
    t->w = w;
    t->d = d;
    t->index = d->index;
    d->svc = t;
    acmeva_consumer_name(t->consumer, sizeof(t->consumer), d->index);
    if (acmeva_engine_new(&d->loop, w->cfg, w->ssl_ctx, &t->engine, err, errlen) < 0)
        return -1;
    char rname[CONSUMER_MAX + 16], wname[CONSUMER_MAX + 16];
    snprintf(rname, sizeof(rname), "%s:reader", t->consumer);
    snprintf(wname, sizeof(wname), "%s:writer", t->consumer);
    acmeva_sreader_config rc = {w->stream, ACMEVA_GROUP, t->consumer, "job", w->claim_idle_ms,
                                w->o->d.block_ms};
    if (acmeva_sreader_init(&t->reader, &d->loop, &w->rs, &rc, &reader_ops, t, d->index, rname) !=
            0 ||
        acmeva_rconn_init(&t->writer, &d->loop, &w->rs, "writer", d->index, wname, writer_ready,
                          writer_lost, t) != 0) {
        snprintf(err, errlen, "cannot set up the Redis connections");
        acmeva_engine_free(t->engine);
        return -1;
    }
    acmeva_outbox_init(&t->outbox, &t->writer, w->stream, ACMEVA_GROUP, ACMEVA_DEFAULT_REPLY_TO,
                       ACMEVA_DEAD_STREAM, w->o->d.results_maxlen, d->index);
    uv_timer_init(&d->loop, &t->pause_timer);
    t->pause_timer.data = t;
    t->shard = acmeva_ops_thread_shard(&w->ops, (size_t)d->index);
    uv_timer_init(&d->loop, &t->stats_timer);
    t->stats_timer.data = t;
    uv_timer_start(&t->stats_timer, stats_cb, STATS_SYNC_MS, STATS_SYNC_MS);
    if (w->ops.audit != NULL && acmeva_audit_loop_init(w->ops.audit, (size_t)d->index, &d->loop) != 0) {
        snprintf(err, errlen, "cannot set up the audit log for this thread");
        /* What was set up closes with the thread's finish (acmeva_dthread_finish). */
        acmeva_sreader_close(&t->reader);
        acmeva_rconn_close(&t->writer);
        acmeva_engine_free(t->engine);
        t->engine = NULL;
        uv_close((uv_handle_t *)&t->pause_timer, NULL);
        uv_close((uv_handle_t *)&t->stats_timer, NULL);
        return -1;
    }
    unsigned jitter = 0;
    if (getrandom(&jitter, sizeof(jitter), 0) != sizeof(jitter))
        jitter = (unsigned)uv_hrtime();
    acmeva_sreader_start(&t->reader, jitter);
    acmeva_rconn_start(&t->writer);
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
               ACMEVA_LS("user_agent", cfg->user_agent),
               ACMEVA_LS("metrics_listen", o->d.metrics_listen),
               ACMEVA_LS("audit_log", o->d.audit_log), ACMEVA_LI("audit_sync", o->d.audit_sync),
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
    int n = o->d.threads;
    if (n <= 0)
        n = (int)uv_available_parallelism();
    if (n < 1)
        n = 1;
    if (n > MAX_THREADS)
        n = MAX_THREADS;
    w->rs.url = &o->d.redis;
    w->rs.masked = w->redis_masked;
    w->rs.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    w->rs.reply_timeout_ms = o->d.redis_timeout_ms;
    w->rs.probe_key = w->stream;
    w->rs.quiet = 1;
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
    acmeva_tls_ctx_free(w->ssl_ctx);
    free(w->threads);
    free(w);
    return status;
}
