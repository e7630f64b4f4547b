/*
 * One thread's consumption of one stream (see consumer.h).
 */
#include "consumer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "queue.h"
#include "resultsig.h"

#define REASON_MAX 512
#define TOUCH_BATCH 256
/* How often a thread copies the counters kept elsewhere (reader, outbox, connections, the
 * service's) into its metrics shard. */
#define STATS_SYNC_MS 500

/* ---- held entries ----------------------------------------------------------------------- */

#define INDEX_MIN 64

/* FNV-1a of an entry id: ids are "<ms>-<seq>" decimals, every byte counts. */
static size_t id_hash(const char *id)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 32));
}

/* index_grow doubles the index (or makes the first one) once it holds as many entries as it
 * has buckets. Returns 0, or -1 when there is no index and no memory for one; a larger one
 * that cannot be had only leaves the chains longer. */
static int index_grow(acmeva_consumer *c)
{
    if (c->index != NULL && c->held < c->index_size)
        return 0;
    size_t size = c->index_size ? 2 * c->index_size : INDEX_MIN;
    acmeva_held **index = calloc(size, sizeof(*index));
    if (index == NULL)
        return c->index != NULL ? 0 : -1;
    for (size_t i = 0; i < c->index_size; i++) {
        acmeva_held *h = c->index[i];
        while (h != NULL) {
            acmeva_held *next = h->hnext;
            size_t b = id_hash(h->entry_id) & (size - 1);
            h->hnext = index[b];
            index[b] = h;
            h = next;
        }
    }
    free(c->index);
    c->index = index;
    c->index_size = size;
    return 0;
}

static void index_remove(acmeva_held *h)
{
    acmeva_consumer *c = h->c;
    acmeva_held **p = &c->index[id_hash(h->entry_id) & (c->index_size - 1)];
    while (*p != NULL && *p != h)
        p = &(*p)->hnext;
    if (*p == h)
        *p = h->hnext;
    h->hnext = NULL;
}

int acmeva_consumer_hold(acmeva_consumer *c, acmeva_held *h, const acmeva_sentry *e)
{
    if (index_grow(c) < 0)
        return -1;
    if (e->raw != NULL) {
        h->raw = malloc(e->raw_len + 1);
        if (h->raw == NULL)
            return -1;
        memcpy(h->raw, e->raw, e->raw_len);
        h->raw[e->raw_len] = '\0';
        h->raw_len = e->raw_len;
    }
    h->c = c;
    snprintf(h->entry_id, sizeof(h->entry_id), "%s", e->id);
    h->touched = uv_now(&c->d->loop);
    h->attempt = e->attempt;
    h->m_seconds = -1;
    h->m_dead = -1;
    if (e->attempt > 1)
        acmeva_mshard_add(c->shard, ACMEVA_M_JOBS_REDELIVERED, NULL, 1);
    h->prev = NULL;
    h->next = c->head;
    if (c->head != NULL)
        c->head->prev = h;
    c->head = h;
    size_t b = id_hash(h->entry_id) & (c->index_size - 1);
    h->hnext = c->index[b];
    c->index[b] = h;
    c->held++;
    return 0;
}

acmeva_held *acmeva_consumer_find(acmeva_consumer *c, const char *id)
{
    if (c->index == NULL)
        return NULL;
    for (acmeva_held *h = c->index[id_hash(id) & (c->index_size - 1)]; h != NULL; h = h->hnext)
        if (strcmp(h->entry_id, id) == 0)
            return h;
    return NULL;
}

/* unhold takes |h| off the list and hands it back to the service. */
static void unhold(acmeva_held *h, int posted)
{
    acmeva_consumer *c = h->c;
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        c->head = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    index_remove(h);
    c->held--;
    acmeva_outbox_item_clear(&h->item);
    free(h->raw);
    h->raw = NULL;
    c->ops->release(h, posted);
}

/* count_posted counts a result that is now in Redis: the counters equal what results say. */
static void count_posted(acmeva_held *h)
{
    acmeva_mshard *s = h->c->shard;
    if (h->item.result != NULL && h->m_labelled) {
        acmeva_mshard_add(s, ACMEVA_M_VALIDATIONS, h->m_labels, 1);
        if (h->m_seconds >= 0)
            acmeva_mshard_observe(s, ACMEVA_M_VALIDATION_DURATION, h->m_labels, h->m_seconds);
    }
    if (h->item.rerouted)
        acmeva_mshard_add(s, ACMEVA_M_DEAD_LETTERS,
                          (const unsigned[]){ACMEVA_MV_DEAD_RESULT_REFUSED}, 1);
    else if (h->m_dead >= 0)
        acmeva_mshard_add(s, ACMEVA_M_DEAD_LETTERS, (const unsigned[]){(unsigned)h->m_dead}, 1);
}

static void posted_cb(acmeva_outbox_item *it, int ok)
{
    acmeva_held *h = (acmeva_held *)((char *)it - offsetof(acmeva_held, item));
    acmeva_consumer *c = h->c;
    if (ok) {
        c->n_done++;
        count_posted(h);
    }
    unhold(h, ok);
    acmeva_sreader_kick(&c->reader);
    acmeva_consumer_maybe_finish(c);
}

void acmeva_consumer_post(acmeva_held *h)
{
    acmeva_consumer *c = h->c;
    if (c->signing_key != NULL && h->item.result != NULL && h->item.sig == NULL) {
        /* Over the exact bytes that go into the field "result" (docs/signed-results.md). */
        h->item.sig = malloc(ACMEVA_SIG_LEN + 1);
        if (h->item.sig == NULL || acmeva_sig_sign(c->signing_key, h->item.result,
                                                   strlen(h->item.result), h->item.sig) < 0) {
            ACMEVA_LOG("error", "cannot sign a result; the entry stays pending",
                       ACMEVA_LS("entry", h->entry_id), ACMEVA_LI("thread", c->d->index));
            acmeva_consumer_drop(h);
            return;
        }
    }
    h->posting = 1;
    h->item.ack_id = h->entry_id;
    h->item.raw = h->raw;
    h->item.raw_len = h->raw_len;
    h->item.done = posted_cb;
    acmeva_outbox_push(&h->c->outbox, &h->item);
}

void acmeva_consumer_drop(acmeva_held *h)
{
    acmeva_consumer *c = h->c;
    unhold(h, 0);
    acmeva_consumer_maybe_finish(c);
}

/* audit_failed leaves an entry whose audit line could not be written pending: without its
 * record the result must not be posted (the writer logged the error and counted it). */
static void audit_failed(acmeva_held *h)
{
    acmeva_consumer *c = h->c;
    acmeva_mshard_add(c->shard, ACMEVA_M_LOCAL_FAILURES, NULL, 1);
    acmeva_consumer_pause(c, 1000);
    acmeva_consumer_drop(h);
}

static void audited(void *arg, int ok)
{
    acmeva_held *h = arg;
    if (!ok) {
        audit_failed(h);
        return;
    }
    acmeva_consumer_post(h);
}

void acmeva_consumer_post_audited(acmeva_held *h, const acmeva_audit_record *rec)
{
    acmeva_consumer *c = h->c;
    if (c->audit == NULL) {
        acmeva_consumer_post(h);
        return;
    }
    size_t len = 0;
    char *line = acmeva_audit_line_new(rec, &len);
    h->posting = 1; /* the line is written before the result is posted: it waits here */
    if (line == NULL ||
        acmeva_audit_submit(c->audit, (size_t)c->d->index, line, len, audited, h) < 0)
        audit_failed(h);
}

void acmeva_consumer_label(acmeva_held *h, const acmeva_result *r, unsigned perspective,
                           double seconds)
{
    acmeva_chall_type ct = r->chall_type ? acmeva_chall_type_from_name(r->chall_type)
                                         : ACMEVA_CHALL_NONE;
    unsigned type = 6; /* unknown: a malformed job */
    if (ct != ACMEVA_CHALL_NONE && ct != ACMEVA_CHALL_UNKNOWN)
        type = (unsigned)ct - 1; /* the label values follow acmeva_chall_type */
    else if (r->chall_type == NULL && r->has_caa)
        type = 5; /* caa */
    h->m_labels[0] = type;
    h->m_labels[1] = r->valid ? ACMEVA_MV_VALID : ACMEVA_MV_INVALID;
    h->m_labels[2] = r->valid ? ACMEVA_PROB_NONE : (unsigned)r->problem.type;
    h->m_labels[3] = perspective;
    h->m_seconds = seconds;
    h->m_labelled = 1;
}

/* ---- answers ------------------------------------------------------------------------------ */

static void log_answer(const acmeva_held *h, const acmeva_result *r, const char *reason)
{
    const char *type = r->chall_type ? r->chall_type : (r->has_caa ? "caa" : NULL);
    ACMEVA_LOG("info", h->c->log_msg, ACMEVA_LS("id", r->id), ACMEVA_LS("type", type),
               ACMEVA_LS("identifier", r->ident_value),
               ACMEVA_LS("status", r->valid ? "valid" : "invalid"),
               ACMEVA_LS("error", r->valid ? NULL : acmeva_problem_urn(r->problem.type)),
               ACMEVA_LD("duration_ms", r->duration_ms), ACMEVA_LI("attempt", h->attempt),
               ACMEVA_LS("entry", h->entry_id), ACMEVA_LI("thread", h->c->d->index),
               ACMEVA_LS(reason ? "reason" : NULL, reason));
}

void acmeva_consumer_answer(acmeva_held *h, acmeva_result *r, const char *reply_to,
                            const char *perspective, const char *rir, const char *reason)
{
    const acmeva_policy *pol = acmeva_consumer_policy(h->c);
    r->attempt = h->attempt;
    if (!r->has_policy_version && pol != NULL) {
        r->policy_version = pol->version;
        r->has_policy_version = 1;
    }
    if (acmeva_str_set(&r->worker, h->c->name) < 0 ||
        (r->perspective == NULL && acmeva_str_set(&r->perspective, perspective) < 0) ||
        (r->rir == NULL && acmeva_str_set(&r->rir, rir ? rir : "") < 0) ||
        acmeva_str_set(&h->item.reply_to, reply_to) < 0 ||
        (h->item.result = acmeva_result_to_json(r)) == NULL) {
        ACMEVA_LOG("error", "no memory for a result", ACMEVA_LS("entry", h->entry_id));
        acmeva_result_free(r);
        acmeva_consumer_drop(h); /* stays pending: delivered again later */
        return;
    }
    log_answer(h, r, reason);
    if (!h->m_labelled)
        acmeva_consumer_label(h, r, 0, -1);
    /* BR 5.4.1: the record of the validation, with the result exactly as posted. */
    acmeva_audit_record rec = {h->c->audit_event,
                               r->id,
                               r->ident_type,
                               r->ident_value,
                               r->chall_type,
                               r->has_caa,
                               r->perspective,
                               r->rir,
                               r->valid ? "valid" : "invalid",
                               r->valid ? NULL : acmeva_problem_urn(r->problem.type),
                               h->entry_id,
                               h->attempt,
                               r->worker,
                               h->item.result,
                               NULL,
                               NULL};
    acmeva_consumer_post_audited(h, &rec);
    acmeva_result_free(r);
}

void acmeva_consumer_malformed(acmeva_held *h, const char *id, const char *field,
                               const char *detail, const char *perspective)
{
    acmeva_job_error err;
    memset(&err, 0, sizeof(err));
    err.id = (char *)id; /* borrowed: never cleared here */
    snprintf(err.field, sizeof(err.field), "%s", field ? field : "");
    snprintf(err.detail, sizeof(err.detail), "%s", detail);
    char reason[REASON_MAX];
    snprintf(reason, sizeof(reason), "malformed: %s", err.detail); /* it names the field */
    h->m_dead = ACMEVA_MV_DEAD_MALFORMED;
    acmeva_result *r = acmeva_result_new_malformed(&err);
    if (r == NULL || acmeva_str_set(&h->item.dead_reason, reason) < 0) {
        acmeva_result_free(r);
        acmeva_consumer_drop(h);
        return;
    }
    r->started_ms = acmeva_wall_ms();
    acmeva_consumer_answer(h, r, ACMEVA_DEFAULT_REPLY_TO, perspective, "", reason);
}

void acmeva_consumer_unvalidated(acmeva_held *h, const acmeva_job *job, const char *detail,
                                 const char *dead, const char *perspective, const char *rir)
{
    acmeva_result *r = acmeva_result_new();
    if (r == NULL || acmeva_result_set_job(r, job) < 0 ||
        acmeva_result_set_problem(r, ACMEVA_PROB_SERVER_INTERNAL, detail) < 0 ||
        (dead != NULL && acmeva_str_set(&h->item.dead_reason, dead) < 0)) {
        acmeva_result_free(r);
        acmeva_consumer_drop(h);
        return;
    }
    r->started_ms = acmeva_wall_ms();
    if (dead != NULL)
        h->m_dead = ACMEVA_MV_DEAD_MAX_DELIVERIES;
    acmeva_consumer_answer(h, r, job->reply_to, perspective, rir, dead ? dead : detail);
}

int acmeva_consumer_policy_refuses(acmeva_held *h, const acmeva_job *job, const char *perspective,
                                   const char *rir)
{
    const acmeva_policy *pol = acmeva_consumer_policy(h->c);
    const char *reason = acmeva_policy_disabled(pol, job->chall_type);
    if (reason == NULL)
        return 0;
    char detail[ACMEVA_POLICY_TEXT_MAX + 160];
    snprintf(detail, sizeof(detail),
             "The validation method %s is disabled by the operator's policy (%s version %lld): %s",
             acmeva_chall_type_name(job->chall_type), ACMEVA_POLICY_KEY, (long long)pol->version,
             reason);
    acmeva_mshard_add(h->c->shard, ACMEVA_M_POLICY_REFUSALS,
                      (const unsigned[]){(unsigned)job->chall_type - 1}, 1);
    acmeva_consumer_unvalidated(h, job, detail, NULL, perspective, rir);
    return 1;
}

/* ---- the reader's view -------------------------------------------------------------------- */

static size_t capacity(void *owner)
{
    acmeva_consumer *c = owner;
    size_t max = (size_t)c->max_inflight;
    /* No entry is taken under a policy this process has not read (fail closed). */
    if (c->d->stopping || c->held_back || uv_now(&c->d->loop) < c->paused_until ||
        acmeva_consumer_policy(c) == NULL)
        return 0;
    return c->held >= max ? 0 : max - c->held;
}

static int holds(void *owner, const char *id)
{
    return acmeva_consumer_find(owner, id) != NULL;
}

static void deliver(void *owner, const acmeva_sentry *e)
{
    acmeva_consumer *c = owner;
    c->ops->deliver(c, e);
}

/* heartbeat resets the idle time of long-running entries, so that XAUTOCLAIM elsewhere never
 * takes one that is still running here because its deadline lies beyond --claim-idle-ms. */
static void heartbeat(void *owner)
{
    acmeva_consumer *c = owner;
    if (!acmeva_rconn_ready(&c->writer))
        return;
    uint64_t now = uv_now(&c->d->loop), limit = (uint64_t)c->claim_idle_ms / 2;
    const char *ids[TOUCH_BATCH];
    size_t n = 0;
    for (acmeva_held *h = c->head; h != NULL; h = h->next) {
        if (now - h->touched < limit)
            continue;
        h->touched = now;
        ids[n++] = h->entry_id;
        if (n == TOUCH_BATCH) {
            acmeva_sreader_touch(&c->reader, &c->writer, ids, n);
            n = 0;
        }
    }
    acmeva_sreader_touch(&c->reader, &c->writer, ids, n);
}

static void settled(void *owner)
{
    acmeva_consumer_maybe_finish(owner);
}

static const acmeva_sreader_ops reader_ops = {capacity, holds, deliver, heartbeat, settled};

static void writer_ready(acmeva_rconn *w)
{
    acmeva_consumer *c = w->data;
    acmeva_outbox_flush(&c->outbox);
    if (c->ops->writer_ready != NULL)
        c->ops->writer_ready(c);
    acmeva_consumer_maybe_finish(c);
}

static void writer_lost(acmeva_rconn *w)
{
    acmeva_consumer_maybe_finish(w->data);
}

static void pause_cb(uv_timer_t *t)
{
    acmeva_consumer *c = t->data;
    acmeva_sreader_kick(&c->reader);
}

void acmeva_consumer_pause(acmeva_consumer *c, uint64_t ms)
{
    c->paused_until = uv_now(&c->d->loop) + ms;
    uv_timer_start(&c->pause_timer, pause_cb, ms, 0);
}

void acmeva_consumer_hold_back(acmeva_consumer *c, int on)
{
    on = on != 0;
    if (c->held_back == on)
        return;
    c->held_back = on;
    atomic_fetch_add(&c->d->d->held_back, on ? 1 : -1);
    if (!on)
        acmeva_sreader_kick(&c->reader);
}

void acmeva_consumer_kick(acmeva_consumer *c)
{
    acmeva_sreader_kick(&c->reader);
}

/* policy_changed: a new snapshot is in force on this thread for what is delivered from now. */
static void policy_changed(void *arg, const acmeva_policy *old, const acmeva_policy *cur)
{
    acmeva_consumer *c = arg;
    acmeva_mshard_set(c->shard, ACMEVA_M_POLICY_VERSION, NULL, cur->version);
    if (c->ops->policy_changed != NULL)
        c->ops->policy_changed(c, old, cur);
    acmeva_sreader_kick(&c->reader); /* the first snapshot opens the capacity */
}

/* ---- metrics ------------------------------------------------------------------------------- */

/* sync_stats copies what other parts count in plain counters of this thread into its shard:
 * they are read here, on the thread that writes them. */
static void sync_stats(acmeva_consumer *c)
{
    acmeva_mshard *s = c->shard;
    int up = c->reader.conn.state == ACMEVA_RCONN_READY && c->writer.state == ACMEVA_RCONN_READY;
    acmeva_mshard_set(s, ACMEVA_M_REDIS_CONNECTED, NULL, up);
    acmeva_mshard_set(s, ACMEVA_M_STREAM_READING, NULL,
                      up && c->reader.group_ready && !c->d->stopping);
    acmeva_mshard_set(s, ACMEVA_M_REDIS_RECONNECTS, (const unsigned[]){ACMEVA_MV_READER},
                      (int64_t)c->reader.conn.n_lost);
    acmeva_mshard_set(s, ACMEVA_M_REDIS_RECONNECTS, (const unsigned[]){ACMEVA_MV_WRITER},
                      (int64_t)c->writer.n_lost);
    acmeva_mshard_set(s, ACMEVA_M_JOBS_RECEIVED, NULL, (int64_t)c->reader.n_received);
    acmeva_mshard_set(s, ACMEVA_M_JOBS_CLAIMED, NULL, (int64_t)c->reader.n_claimed);
    acmeva_mshard_set(s, ACMEVA_M_RESULTS_POSTED, NULL, (int64_t)c->outbox.n_posted);
    acmeva_mshard_set(s, ACMEVA_M_RESULTS_REROUTED, NULL, (int64_t)c->outbox.n_rerouted);
    acmeva_mshard_set(s, ACMEVA_M_RESULTS_GIVEN_UP, NULL, (int64_t)c->outbox.n_given_up);
    acmeva_mshard_set(s, ACMEVA_M_RESULTS_WAITING, NULL,
                      (int64_t)(c->outbox.queued + c->outbox.sending));
    if (c->ops->sync_stats != NULL)
        c->ops->sync_stats(c);
}

static void stats_cb(uv_timer_t *t)
{
    sync_stats(t->data);
}

/* ---- stopping ------------------------------------------------------------------------------- */

static void goodbye_cb(acmeva_rconn *w, redisReply *r, void *priv)
{
    acmeva_consumer *c = priv;
    if (c->goodbye == 1 && r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 0 &&
        c->held == 0) {
        /* Nothing pending for this consumer: remove it, so that restarts do not pile up
         * consumers in XINFO CONSUMERS. With pending entries it stays, for XAUTOCLAIM. */
        const char *argv[] = {"XGROUP", "DELCONSUMER", c->stream, c->group, c->name};
        c->goodbye = 2;
        if (acmeva_rconn_command(&c->writer, goodbye_cb, c, 5, argv, NULL) == 0)
            return;
    }
    c->goodbye = 3;
    if (r != NULL)
        acmeva_consumer_maybe_finish(c);
}

void acmeva_consumer_maybe_finish(acmeva_consumer *c)
{
    if (!c->d->stopping || c->d->finished)
        return;
    if (acmeva_sreader_busy(&c->reader))
        return; /* entries delivered by the last read are run too */
    if (c->held > 0)
        return;
    if (!c->idled) {
        c->idled = 1;
        if (c->ops->idle != NULL)
            c->ops->idle(c);
    }
    if (c->goodbye == 0 && acmeva_rconn_ready(&c->writer)) {
        const char *argv[] = {"XPENDING", c->stream, c->group, "-", "+", "1", c->name};
        c->goodbye = 1;
        if (acmeva_rconn_command(&c->writer, goodbye_cb, c, 7, argv, NULL) == 0)
            return;
    }
    if ((c->goodbye == 1 || c->goodbye == 2) && c->writer.state == ACMEVA_RCONN_READY)
        return;
    acmeva_dthread_finish(c->d);
}

void acmeva_consumer_stop(acmeva_consumer *c)
{
    acmeva_sreader_stop(&c->reader);
    acmeva_consumer_maybe_finish(c);
}

void acmeva_consumer_close(acmeva_consumer *c)
{
    size_t running = 0, unposted = 0;
    for (acmeva_held *h = c->head; h != NULL; h = h->next) {
        if (h->posting)
            unposted++;
        else
            running++;
    }
    ACMEVA_LOG("info", "thread stopped", ACMEVA_LI("thread", c->d->index),
               ACMEVA_LI("done", c->n_done), ACMEVA_LI("claimed", c->reader.n_claimed),
               ACMEVA_LI("cancelled", running), ACMEVA_LI("unposted", unposted));
    sync_stats(c);
    acmeva_mshard_set(c->shard, ACMEVA_M_STREAM_READING, NULL, 0);
    uv_close((uv_handle_t *)&c->stats_timer, NULL);
    /* No audit completion reaches this thread from here on: the entries below are freed. */
    if (c->audit != NULL)
        acmeva_audit_loop_close(c->audit, (size_t)c->d->index);
    /* Connections first: their outstanding callbacks (with NULL replies) put results back in
     * the outbox and end the reader's look-ups. What is still held then stays pending in
     * Redis for another consumer (at least once). */
    acmeva_sreader_close(&c->reader);
    acmeva_rconn_close(&c->writer);
    acmeva_outbox_forget(&c->outbox);
    while (c->head != NULL)
        unhold(c->head, 0);
    free(c->index);
    c->index = NULL;
    c->index_size = 0;
    if (c->held_back)
        atomic_fetch_sub(&c->d->d->held_back, 1);
    c->held_back = 0;
    uv_close((uv_handle_t *)&c->pause_timer, NULL);
    acmeva_policy_slot_close(c->policy);
    c->policy = NULL;
}

/* ---- setting up -------------------------------------------------------------------------- */

int acmeva_consumer_init(acmeva_consumer *c, acmeva_dthread *d, const acmeva_rconn_settings *rs,
                         const acmeva_consumer_config *cfg, const acmeva_consumer_ops *ops,
                         void *svc, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->d = d;
    c->ops = ops;
    c->svc = svc;
    c->stream = cfg->stream;
    c->group = cfg->group;
    c->max_inflight = cfg->max_inflight;
    c->claim_idle_ms = cfg->claim_idle_ms;
    c->log_msg = cfg->log_msg;
    c->shard = cfg->shard;
    c->audit = cfg->audit;
    c->audit_event = cfg->audit_event;
    c->signing_key = cfg->signing_key;
    acmeva_consumer_name(c->name, sizeof(c->name), d->index);
    char rname[sizeof(c->name) + 16], wname[sizeof(c->name) + 16];
    snprintf(rname, sizeof(rname), "%s:reader", c->name);
    snprintf(wname, sizeof(wname), "%s:writer", c->name);
    acmeva_sreader_config rc = {cfg->stream,        cfg->group,   c->name, cfg->field,
                                cfg->claim_idle_ms, cfg->block_ms};
    if (acmeva_sreader_init(&c->reader, &d->loop, rs, &rc, &reader_ops, c, d->index, rname) !=
            0 ||
        acmeva_rconn_init(&c->writer, &d->loop, rs, "writer", d->index, wname, writer_ready,
                          writer_lost, c) != 0) {
        snprintf(err, errlen, "cannot set up the Redis connections");
        return -1;
    }
    acmeva_outbox_init(&c->outbox, &c->writer, cfg->stream, cfg->group, ACMEVA_DEFAULT_REPLY_TO,
                       ACMEVA_DEAD_STREAM, cfg->results_maxlen, d->index);
    if (c->audit != NULL && acmeva_audit_loop_init(c->audit, (size_t)d->index, &d->loop) != 0) {
        snprintf(err, errlen, "cannot set up the audit log for this thread");
        acmeva_sreader_close(&c->reader);
        acmeva_rconn_close(&c->writer);
        return -1;
    }
    c->policy = acmeva_policy_slot_init(cfg->policy, (size_t)d->index, &d->loop, policy_changed, c);
    if (c->policy == NULL) {
        snprintf(err, errlen, "cannot set up the operator's policy for this thread");
        if (c->audit != NULL)
            acmeva_audit_loop_close(c->audit, (size_t)d->index);
        acmeva_sreader_close(&c->reader);
        acmeva_rconn_close(&c->writer);
        return -1;
    }
    uv_timer_init(&d->loop, &c->pause_timer);
    c->pause_timer.data = c;
    uv_timer_init(&d->loop, &c->stats_timer);
    c->stats_timer.data = c;
    uv_timer_start(&c->stats_timer, stats_cb, STATS_SYNC_MS, STATS_SYNC_MS);
    return 0;
}

void acmeva_consumer_start(acmeva_consumer *c)
{
    unsigned jitter = 0;
    RAND_bytes((uint8_t *)&jitter, sizeof(jitter));
    acmeva_sreader_start(&c->reader, jitter);
    acmeva_rconn_start(&c->writer);
}
