/*
 * The consumer side of a Redis stream (see streamreader.h).
 */
#include "streamreader.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOUCH_MAX_IDS 256

/* Entries whose delivery counts are being looked up before they are handed over. */
typedef struct batch batch;
typedef struct bentry {
    batch *b;
    char id[ACMEVA_ENTRY_ID_MAX];
    char *raw;
    size_t raw_len;
    int deleted;
    int ours; /* XPENDING shows it pending for this consumer */
    int attempt;
} bentry;

struct batch {
    acmeva_sreader *r;
    size_t n, waiting;
    int lost; /* a look-up came back without a reply: drop the batch */
    bentry e[];
};

static int is_entry_id(const redisReply *x)
{
    if (x == NULL || x->type != REDIS_REPLY_STRING || x->len == 0 ||
        x->len >= ACMEVA_ENTRY_ID_MAX)
        return 0;
    for (size_t i = 0; i < x->len; i++)
        if (!((x->str[i] >= '0' && x->str[i] <= '9') || x->str[i] == '-'))
            return 0;
    return 1;
}

/* entry_ok checks the shape [id, fields-or-nil] of one stream entry in a reply. */
static int entry_ok(const redisReply *e)
{
    return e != NULL && e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
           is_entry_id(e->element[0]) &&
           (e->element[1]->type == REDIS_REPLY_ARRAY || e->element[1]->type == REDIS_REPLY_NIL);
}

/* find_field returns the value of the payload field among an entry's field/value pairs. */
static int find_field(const acmeva_sreader *r, const redisReply *fields, const char **raw,
                      size_t *len)
{
    size_t flen = strlen(r->cfg.field);
    if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *f = fields->element[i], *v = fields->element[i + 1];
        if (f->type == REDIS_REPLY_STRING && f->len == flen &&
            memcmp(f->str, r->cfg.field, flen) == 0 && v->type == REDIS_REPLY_STRING) {
            *raw = v->str;
            *len = v->len;
            return 1;
        }
    }
    return 0;
}

static size_t free_slots(const acmeva_sreader *r)
{
    size_t cap = r->ops->capacity(r->owner);
    return cap > r->reserved ? cap - r->reserved : 0;
}

static void deliver(acmeva_sreader *r, const char *id, const char *raw, size_t len, int deleted,
                    int attempt)
{
    if (r->ops->holds(r->owner, id))
        return; /* already running here (a resumed or reclaimed entry) */
    acmeva_sentry e = {id, raw, len, deleted, attempt};
    r->n_received++;
    r->ops->deliver(r->owner, &e);
}

static void settled(acmeva_sreader *r)
{
    acmeva_sreader_kick(r);
    if (r->ops->settled != NULL)
        r->ops->settled(r->owner);
}

static void batch_done(batch *b)
{
    acmeva_sreader *r = b->r;
    r->reserved -= b->n;
    r->batches--;
    for (size_t i = 0; i < b->n; i++) {
        bentry *e = &b->e[i];
        if (!b->lost && e->ours)
            deliver(r, e->id, e->raw, e->raw_len, e->deleted, e->attempt);
        free(e->raw);
    }
    int lost = b->lost;
    free(b);
    if (!lost)
        settled(r);
}

static void pending_cb(acmeva_rconn *c, redisReply *x, void *priv)
{
    bentry *e = priv;
    batch *b = e->b;
    if (x == NULL) {
        b->lost = 1;
    } else if (x->type == REDIS_REPLY_ARRAY && x->elements == 1) {
        /* XPENDING extended form: [[id, consumer, idle ms, delivery count]] */
        redisReply *p = x->element[0];
        if (p->type == REDIS_REPLY_ARRAY && p->elements == 4 &&
            p->element[1]->type == REDIS_REPLY_STRING &&
            strcmp(p->element[1]->str, b->r->cfg.consumer) == 0 &&
            p->element[3]->type == REDIS_REPLY_INTEGER) {
            long long n = p->element[3]->integer;
            e->ours = 1;
            e->attempt = n < 1 ? 1 : (n > INT_MAX ? INT_MAX : (int)n);
        }
    }
    if (--b->waiting == 0)
        batch_done(b);
}

/* start_batch looks up the delivery counts of entries delivered again (this consumer's own
 * pending entries, or claimed ones) before handing them over: the count is the result's
 * attempt and decides the dead letter after --max-deliveries. Returns the entries taken. */
static size_t start_batch(acmeva_sreader *r, const redisReply *entries)
{
    size_t n = 0;
    for (size_t i = 0; i < entries->elements; i++)
        if (entry_ok(entries->element[i]) &&
            !r->ops->holds(r->owner, entries->element[i]->element[0]->str))
            n++;
    if (n == 0)
        return 0;
    batch *b = calloc(1, sizeof(*b) + n * sizeof(bentry));
    if (b == NULL)
        return 0; /* they stay pending and come back later */
    b->r = r;
    for (size_t i = 0; i < entries->elements && b->n < n; i++) {
        const redisReply *x = entries->element[i];
        if (!entry_ok(x) || r->ops->holds(r->owner, x->element[0]->str))
            continue;
        bentry *e = &b->e[b->n];
        e->b = b;
        memcpy(e->id, x->element[0]->str, x->element[0]->len);
        e->id[x->element[0]->len] = '\0';
        const char *raw = NULL;
        size_t len = 0;
        e->deleted = x->element[1]->type == REDIS_REPLY_NIL;
        if (find_field(r, x->element[1], &raw, &len)) {
            e->raw = malloc(len + 1);
            if (e->raw == NULL)
                continue; /* stays pending: delivered again later */
            memcpy(e->raw, raw, len);
            e->raw[len] = '\0';
            e->raw_len = len;
        }
        b->n++;
    }
    r->reserved += b->n;
    r->batches++;
    b->waiting = 1; /* held until every look-up is sent */
    for (size_t i = 0; i < b->n; i++) {
        bentry *e = &b->e[i];
        const char *argv[] = {"XPENDING", r->cfg.stream, r->cfg.group,   e->id,
                              e->id,      "1",           r->cfg.consumer};
        b->waiting++;
        if (acmeva_rconn_command(&r->conn, pending_cb, e, 7, argv, NULL) < 0) {
            b->waiting--;
            b->lost = 1;
        }
    }
    size_t taken = b->n;
    if (--b->waiting == 0)
        batch_done(b);
    return taken;
}

static void group_cb(acmeva_rconn *c, redisReply *x, void *priv);

static void read_error(acmeva_sreader *r, const char *what, const redisReply *x)
{
    if (acmeva_reply_is_error(x, "NOGROUP")) {
        /* The stream or the group was deleted under us: create them again, at 0 (see
         * docs/worker.md "Group lost": what is still in the stream is delivered again). */
        ACMEVA_LOG("warn", "consumer group missing, creating it", ACMEVA_LS("stream", r->cfg.stream),
                   ACMEVA_LS("group", r->cfg.group), ACMEVA_LI("thread", r->conn.thread));
        r->group_ready = 0;
        acmeva_rconn_retry_ready(&r->conn);
        return;
    }
    ACMEVA_LOG("warn", what, ACMEVA_LS("stream", r->cfg.stream), ACMEVA_LI("thread", r->conn.thread),
               ACMEVA_LS("error", acmeva_reply_text(x)));
    acmeva_rconn_retry_ready(&r->conn);
}

/* read_reply_ours ends the read in flight, giving back the capacity it reserved, and says
 * whether |x| is a reply to handle (not NULL: the connection is still there). */
static int read_reply_ours(acmeva_sreader *r, const redisReply *x)
{
    r->reading = 0;
    r->reserved -= r->read_reserved;
    r->read_reserved = 0;
    return x != NULL;
}

static void read_cb(acmeva_rconn *c, redisReply *x, void *priv)
{
    acmeva_sreader *r = priv;
    if (!read_reply_ours(r, x)) {
        if (r->ops->settled != NULL)
            r->ops->settled(r->owner);
        return;
    }
    if (x->type == REDIS_REPLY_NIL) { /* BLOCK timed out */
        settled(r);
        return;
    }
    /* [[stream, [[id, [field, value, ...]], ...]]] */
    const redisReply *entries = NULL;
    if (x->type == REDIS_REPLY_ARRAY && x->elements == 1 &&
        x->element[0]->type == REDIS_REPLY_ARRAY && x->element[0]->elements == 2 &&
        x->element[0]->element[1]->type == REDIS_REPLY_ARRAY)
        entries = x->element[0]->element[1];
    if (entries == NULL) {
        read_error(r, "XREADGROUP failed", x);
        return;
    }
    r->conn.errors = 0;
    if (r->resuming) {
        if (entries->elements == 0) {
            r->resuming = 0;
            if (r->resumed > 0)
                ACMEVA_LOG("info", "resumed pending entries", ACMEVA_LI("count", r->resumed),
                           ACMEVA_LS("stream", r->cfg.stream),
                           ACMEVA_LS("consumer", r->cfg.consumer));
        } else {
            const redisReply *last = entries->element[entries->elements - 1];
            if (!entry_ok(last)) {
                r->resuming = 0; /* cannot go on from a broken cursor; XAUTOCLAIM will */
            } else {
                memcpy(r->resume_cursor, last->element[0]->str, last->element[0]->len);
                r->resume_cursor[last->element[0]->len] = '\0';
            }
            size_t taken = start_batch(r, entries);
            r->resumed += taken;
            r->n_resumed += taken;
        }
    } else {
        /* New entries (">"): this is their first delivery. */
        for (size_t i = 0; i < entries->elements; i++) {
            const redisReply *e = entries->element[i];
            if (!entry_ok(e))
                continue;
            const char *raw = NULL;
            size_t len = 0;
            find_field(r, e->element[1], &raw, &len);
            deliver(r, e->element[0]->str, raw, len, e->element[1]->type == REDIS_REPLY_NIL, 1);
        }
    }
    settled(r);
}

static void claim_cb(acmeva_rconn *c, redisReply *x, void *priv)
{
    acmeva_sreader *r = priv;
    if (!read_reply_ours(r, x)) {
        if (r->ops->settled != NULL)
            r->ops->settled(r->owner);
        return;
    }
    /* XAUTOCLAIM: [next cursor, [[id, fields], ...], [deleted ids] (Redis 7)] */
    if (x->type != REDIS_REPLY_ARRAY || x->elements < 2 || !is_entry_id(x->element[0]) ||
        x->element[1]->type != REDIS_REPLY_ARRAY) {
        read_error(r, "XAUTOCLAIM failed", x);
        return;
    }
    memcpy(r->claim_cursor, x->element[0]->str, x->element[0]->len);
    r->claim_cursor[x->element[0]->len] = '\0';
    const redisReply *entries = x->element[1];
    if (entries->elements > 0) {
        size_t taken = start_batch(r, entries);
        if (taken > 0) {
            r->n_claimed += taken;
            ACMEVA_LOG("info", "claimed idle entries", ACMEVA_LI("count", taken),
                       ACMEVA_LI("min_idle_ms", r->cfg.claim_idle_ms),
                       ACMEVA_LS("stream", r->cfg.stream), ACMEVA_LS("consumer", r->cfg.consumer));
        }
        /* More may be waiting further on in the pending list: go on at once. */
        if (strcmp(r->claim_cursor, "0-0") != 0)
            r->claim_due = 1;
    }
    settled(r);
}

void acmeva_sreader_kick(acmeva_sreader *r)
{
    if (r->stopped || !acmeva_rconn_ready(&r->conn) || !r->group_ready || r->reading)
        return;
    size_t n = free_slots(r);
    if (n == 0)
        return;
    char count[24], block[24], idle[24];
    snprintf(count, sizeof(count), "%zu", n);
    int rc;
    if (r->resuming) {
        const char *argv[] = {"XREADGROUP", "GROUP",   r->cfg.group,  r->cfg.consumer, "COUNT",
                              count,        "STREAMS", r->cfg.stream, r->resume_cursor};
        rc = acmeva_rconn_command(&r->conn, read_cb, r, 9, argv, NULL);
    } else if (r->claim_due) {
        r->claim_due = 0;
        snprintf(idle, sizeof(idle), "%lld", (long long)r->cfg.claim_idle_ms);
        const char *argv[] = {"XAUTOCLAIM", r->cfg.stream,   r->cfg.group, r->cfg.consumer,
                              idle,         r->claim_cursor, "COUNT",      count};
        rc = acmeva_rconn_command(&r->conn, claim_cb, r, 8, argv, NULL);
    } else {
        snprintf(block, sizeof(block), "%lld", (long long)r->cfg.block_ms);
        const char *argv[] = {"XREADGROUP", "GROUP", r->cfg.group, r->cfg.consumer, "COUNT",
                              count,        "BLOCK", block,        "STREAMS",       r->cfg.stream,
                              ">"};
        rc = acmeva_rconn_command(&r->conn, read_cb, r, 11, argv, NULL);
    }
    if (rc < 0)
        return;
    r->reading = 1;
    r->read_reserved = n;
    r->reserved += n;
}

static void group_cb(acmeva_rconn *c, redisReply *x, void *priv)
{
    acmeva_sreader *r = priv;
    if (x == NULL)
        return;
    if (x->type == REDIS_REPLY_ERROR && !acmeva_reply_is_error(x, "BUSYGROUP")) {
        if (acmeva_reply_is_error(x, "NOPERM")) {
            /* A least-privilege user may read a group it may not create (deploy/redis/): go
             * on; if the group is missing, the read says NOGROUP and this is retried. */
            if (c->errors == 0)
                ACMEVA_LOG("info", "not allowed to create the consumer group; reading it as is",
                           ACMEVA_LS("stream", r->cfg.stream), ACMEVA_LS("group", r->cfg.group),
                           ACMEVA_LI("thread", c->thread));
        } else {
            read_error(r, "XGROUP CREATE failed", x);
            return;
        }
    }
    r->group_ready = 1;
    /* Resume what this consumer already holds (entries delivered before a lost connection)
     * before reading anything new. */
    r->resuming = 1;
    r->resumed = 0;
    snprintf(r->resume_cursor, sizeof(r->resume_cursor), "0");
    acmeva_sreader_kick(r);
}

static void reader_ready(acmeva_rconn *c)
{
    acmeva_sreader *r = c->data;
    if (r->stopped)
        return;
    if (r->group_ready) {
        acmeva_sreader_kick(r);
        return;
    }
    /* From the start of the stream ("0"): entries enqueued before any consumer ever ran are
     * delivered, not lost. Jobs past their deadline then get an error result unvalidated. */
    const char *argv[] = {"XGROUP", "CREATE", r->cfg.stream, r->cfg.group, "0", "MKSTREAM"};
    if (acmeva_rconn_command(c, group_cb, r, 6, argv, NULL) < 0)
        acmeva_rconn_fail(c, "cannot send");
}

static void reader_lost(acmeva_rconn *c)
{
    acmeva_sreader *r = c->data;
    r->group_ready = 0;
    if (r->ops->settled != NULL)
        r->ops->settled(r->owner);
}

static void claim_tick(uv_timer_t *h)
{
    acmeva_sreader *r = h->data;
    if (r->stopped)
        return;
    if (r->ops->heartbeat != NULL)
        r->ops->heartbeat(r->owner);
    r->claim_due = 1;
    acmeva_sreader_kick(r);
}

int acmeva_sreader_init(acmeva_sreader *r, uv_loop_t *loop, const acmeva_rconn_settings *s,
                        const acmeva_sreader_config *cfg, const acmeva_sreader_ops *ops,
                        void *owner, int thread, const char *client_name)
{
    memset(r, 0, sizeof(*r));
    r->cfg = *cfg;
    r->ops = ops;
    r->owner = owner;
    snprintf(r->claim_cursor, sizeof(r->claim_cursor), "0-0");
    /* Claim every quarter of the idle time, between 50 ms and 5 s. */
    r->claim_every_ms = cfg->claim_idle_ms / 4;
    if (r->claim_every_ms < 50)
        r->claim_every_ms = 50;
    if (r->claim_every_ms > 5000)
        r->claim_every_ms = 5000;
    int rc = uv_timer_init(loop, &r->claim_timer);
    if (rc != 0)
        return rc;
    r->claim_timer.data = r;
    return acmeva_rconn_init(&r->conn, loop, s, "reader", thread, client_name, reader_ready,
                             reader_lost, r);
}

void acmeva_sreader_start(acmeva_sreader *r, unsigned jitter)
{
    acmeva_rconn_start(&r->conn);
    /* Spread the claims of the threads over the period. */
    uint64_t every = (uint64_t)r->claim_every_ms;
    uv_timer_start(&r->claim_timer, claim_tick, every / 2 + jitter % (every / 2 + 1), every);
}

int acmeva_sreader_busy(const acmeva_sreader *r)
{
    return r->conn.state == ACMEVA_RCONN_READY && (r->reading || r->batches > 0);
}

void acmeva_sreader_stop(acmeva_sreader *r)
{
    r->stopped = 1;
    uv_timer_stop(&r->claim_timer);
}

void acmeva_sreader_close(acmeva_sreader *r)
{
    r->stopped = 1;
    acmeva_rconn_close(&r->conn);
    if (!uv_is_closing((uv_handle_t *)&r->claim_timer))
        uv_close((uv_handle_t *)&r->claim_timer, NULL);
}

void acmeva_sreader_touch(acmeva_sreader *r, acmeva_rconn *c, const char *const *ids, size_t n)
{
    while (n > 0) {
        const char *argv[6 + TOUCH_MAX_IDS];
        size_t lens[6 + TOUCH_MAX_IDS];
        int argc = 0;
        argv[argc++] = "XCLAIM";
        argv[argc++] = r->cfg.stream;
        argv[argc++] = r->cfg.group;
        argv[argc++] = r->cfg.consumer;
        argv[argc++] = "0";
        size_t k = n < TOUCH_MAX_IDS ? n : TOUCH_MAX_IDS;
        for (size_t i = 0; i < k; i++)
            argv[argc++] = ids[i];
        argv[argc++] = "JUSTID";
        for (int i = 0; i < argc; i++)
            lens[i] = strlen(argv[i]);
        if (acmeva_rconn_command(c, NULL, NULL, argc, argv, lens) < 0)
            return;
        ids += k;
        n -= k;
    }
}
