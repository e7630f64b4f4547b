/*
 * The outbox of one thread (see outbox.h).
 */
#include "outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TXN_MAX_TRIES 3
#define REASON_MAX 512

static void send_pending(acmeva_rconn *c);

void acmeva_outbox_init(acmeva_outbox *o, acmeva_rconn *writer, const char *ack_stream,
                        const char *group, const char *fallback_stream, const char *dead_stream,
                        int64_t maxlen, int thread)
{
    memset(o, 0, sizeof(*o));
    o->conn = writer;
    o->ack_stream = ack_stream;
    o->group = group;
    o->fallback_stream = fallback_stream;
    o->dead_stream = dead_stream;
    o->thread = thread;
    snprintf(o->maxlen, sizeof(o->maxlen), "%lld", (long long)maxlen);
    writer->before_flush = send_pending;
    writer->flush_arg = o;
}

void acmeva_outbox_item_clear(acmeva_outbox_item *it)
{
    free(it->reply_to);
    free(it->result);
    free(it->sig);
    free(it->dead_reason);
    it->reply_to = it->result = it->sig = it->dead_reason = NULL;
}

static void enqueue(acmeva_outbox *o, acmeva_outbox_item *it, int front)
{
    it->next = NULL;
    if (o->head == NULL) {
        o->head = o->tail = it;
    } else if (front) {
        it->next = o->head;
        o->head = it;
    } else {
        o->tail->next = it;
        o->tail = it;
    }
    o->queued++;
}

static acmeva_outbox_item *dequeue(acmeva_outbox *o)
{
    acmeva_outbox_item *it = o->head;
    if (it != NULL) {
        o->head = it->next;
        if (o->head == NULL)
            o->tail = NULL;
        it->next = NULL;
        o->queued--;
    }
    return it;
}

/* reroute sends a refused result to the fallback stream with a dead letter that says why.
 * Returns 0, or -1 when it cannot (already re-routed, or no memory). */
static int reroute(acmeva_outbox *o, acmeva_outbox_item *it, const char *why)
{
    if (it->rerouted || it->reply_to == NULL || strcmp(it->reply_to, o->fallback_stream) == 0)
        return -1;
    char reason[REASON_MAX];
    snprintf(reason, sizeof(reason), "the result could not be posted to %s: %s", it->reply_to,
             why);
    /* A dead letter the item already carries keeps its reason; the new one is added to it. */
    if (it->dead_reason != NULL) {
        char both[2 * REASON_MAX];
        snprintf(both, sizeof(both), "%s; %s", it->dead_reason, reason);
        if (acmeva_str_set(&it->dead_reason, both) < 0)
            return -1;
    } else if (acmeva_str_set(&it->dead_reason, reason) < 0) {
        return -1;
    }
    ACMEVA_LOG("error", "result refused on its replyTo; posting it to the fallback stream",
               ACMEVA_LS("replyTo", it->reply_to), ACMEVA_LS("fallback", o->fallback_stream),
               ACMEVA_LS("error", why), ACMEVA_LS("entry", it->ack_id),
               ACMEVA_LI("thread", o->thread));
    if (acmeva_str_set(&it->reply_to, o->fallback_stream) < 0)
        return -1;
    it->rerouted = 1;
    it->tries = 0;
    o->n_rerouted++;
    return 0;
}

static void finish(acmeva_outbox *o, acmeva_outbox_item *it, int posted)
{
    if (posted)
        o->n_posted++;
    else
        o->n_given_up++;
    it->done(it, posted);
}

static void queued_reply_cb(acmeva_rconn *c, redisReply *r, void *priv)
{
    acmeva_outbox_item *it = priv;
    if (r != NULL && r->type == REDIS_REPLY_ERROR && r->str != NULL)
        snprintf(it->reply_error, sizeof(it->reply_error), "%s", r->str);
}

/* One EXEC on the wire: the items it posts, in order. */
typedef struct txn {
    acmeva_outbox *o;
    size_t n;
    acmeva_outbox_item *items[];
} txn;

static void txn_cb(acmeva_rconn *c, redisReply *r, void *priv);

static int permanent(const char *err)
{
    /* Errors a retry on the same stream cannot cure. */
    return strncmp(err, "NOPERM", 6) == 0 || strncmp(err, "WRONGTYPE", 9) == 0 ||
           strncmp(err, "ERR", 3) == 0;
}

/* send_txn writes one transaction for |n| items: their result and dead-letter XADDs, then one
 * XACK of every entry. Returns 0, or -1 when the connection cannot take it (part of a MULTI
 * may then sit in the output: only a new connection is clean); |t| is then still the
 * caller's. */
static int send_txn(acmeva_outbox *o, txn *t)
{
    int rc = 0;
    const char *multi[] = {"MULTI"};
    rc |= acmeva_rconn_command(o->conn, NULL, NULL, 1, multi, NULL);
    const char *ack[4 + ACMEVA_OUTBOX_BATCH];
    int nack = 0;
    ack[nack++] = "XACK";
    ack[nack++] = o->ack_stream;
    ack[nack++] = o->group;
    for (size_t k = 0; k < t->n && rc == 0; k++) {
        acmeva_outbox_item *it = t->items[k];
        it->reply_error[0] = '\0';
        if (it->reply_to != NULL) {
            const char *argv[] = {"XADD", it->reply_to, "MAXLEN",   "~",   o->maxlen,
                                  "*",    "result",     it->result, "sig", it->sig};
            rc |= acmeva_rconn_command(o->conn, queued_reply_cb, it, it->sig ? 10 : 8, argv,
                                       NULL);
        }
        if (it->dead_reason != NULL) {
            const char *argv[] = {"XADD",   o->dead_stream,         "MAXLEN", "~",
                                  o->maxlen, "*",                   "job",    it->raw ? it->raw : "",
                                  "reason", it->dead_reason};
            size_t lens[10];
            for (int i = 0; i < 10; i++)
                lens[i] = strlen(argv[i]);
            lens[7] = it->raw ? it->raw_len : 0; /* the raw bytes, NULs and all */
            rc |= acmeva_rconn_command(o->conn, NULL, NULL, 10, argv, lens);
        }
        if (it->ack_id != NULL)
            ack[nack++] = it->ack_id;
    }
    if (nack > 3) {
        size_t lens[4 + ACMEVA_OUTBOX_BATCH];
        for (int i = 0; i < nack; i++)
            lens[i] = strlen(ack[i]);
        rc |= acmeva_rconn_command(o->conn, NULL, NULL, nack, ack, lens);
    }
    const char *exec[] = {"EXEC"};
    if (rc != 0 || acmeva_rconn_command(o->conn, txn_cb, t, 1, exec, NULL) < 0)
        return -1;
    for (size_t k = 0; k < t->n; k++)
        t->items[k]->sending = 1;
    o->sending += t->n;
    return 0;
}

/* aborted handles one item of a transaction refused as a whole (EXECABORT: a command refused
 * while queued). A refusal of the item's own XADD is re-routed at once; an item refused
 * because another one was goes again as it is; anything else (OOM, LOADING, ...) is retried a
 * few times, then given up: the entry stays pending. */
static void aborted(acmeva_outbox *o, acmeva_outbox_item *it, int culprit_seen,
                    const redisReply *r)
{
    if (it->reply_error[0] != '\0' && permanent(it->reply_error) &&
        reroute(o, it, it->reply_error) == 0) {
        enqueue(o, it, 1);
        return;
    }
    if (it->reply_error[0] == '\0' && culprit_seen) {
        enqueue(o, it, 1); /* innocent: another item's command was refused */
        return;
    }
    it->tries++;
    ACMEVA_LOG("warn", "could not post a result", ACMEVA_LS("entry", it->ack_id),
               ACMEVA_LI("thread", o->thread), ACMEVA_LS("replyTo", it->reply_to),
               ACMEVA_LS("error", it->reply_error[0] ? it->reply_error : acmeva_reply_text(r)),
               ACMEVA_LI("tries", it->tries));
    if (it->tries < TXN_MAX_TRIES) {
        enqueue(o, it, 0);
        acmeva_rconn_retry_ready(o->conn);
    } else {
        ACMEVA_LOG("error", "gave up posting a result; the entry stays pending",
                   ACMEVA_LS("entry", it->ack_id), ACMEVA_LI("thread", o->thread),
                   ACMEVA_LS("replyTo", it->reply_to));
        finish(o, it, 0);
    }
}

/* executed handles one item of a transaction that ran: |r|'s elements from |*i| on are its
 * replies. One may have failed (Redis does not roll back), and the entry is acknowledged by
 * now: a refused result is posted again, without the ack, to the fallback stream with a dead
 * letter. */
static void executed(acmeva_outbox *o, acmeva_outbox_item *it, const redisReply *r, size_t *i)
{
    const char *refused = NULL;
    if (it->reply_to != NULL && *i < r->elements) {
        redisReply *x = r->element[(*i)++];
        if (x->type == REDIS_REPLY_ERROR)
            refused = x->str ? x->str : "error";
    }
    if (it->dead_reason != NULL && *i < r->elements) {
        redisReply *x = r->element[(*i)++];
        if (x->type == REDIS_REPLY_ERROR) {
            ACMEVA_LOG("error", "could not write a dead letter", ACMEVA_LS("entry", it->ack_id),
                       ACMEVA_LS("error", x->str), ACMEVA_LI("thread", o->thread));
        } else if (refused != NULL) {
            free(it->dead_reason); /* written: the re-routed item carries only the new one */
            it->dead_reason = NULL;
        }
    }
    if (refused != NULL) {
        char why[160];
        snprintf(why, sizeof(why), "%s", refused);
        if (reroute(o, it, why) == 0) {
            it->ack_id = NULL; /* acknowledged already */
            enqueue(o, it, 1);
            return;
        }
        ACMEVA_LOG("error", "could not post a result", ACMEVA_LS("entry", it->ack_id),
                   ACMEVA_LS("replyTo", it->reply_to), ACMEVA_LS("error", why),
                   ACMEVA_LI("thread", o->thread));
    }
    finish(o, it, 1);
}

static void txn_cb(acmeva_rconn *c, redisReply *r, void *priv)
{
    txn *t = priv;
    acmeva_outbox *o = t->o;
    for (size_t k = 0; k < t->n; k++)
        t->items[k]->sending = 0;
    o->sending -= t->n;
    if (r == NULL) {
        /* The connection is gone: keep the items, in order, for the next one. */
        for (size_t k = t->n; k-- > 0;)
            enqueue(o, t->items[k], 1);
    } else if (r->type != REDIS_REPLY_ARRAY) {
        int culprit = 0;
        for (size_t k = 0; k < t->n; k++)
            culprit |= t->items[k]->reply_error[0] != '\0';
        for (size_t k = t->n; k-- > 0;)
            aborted(o, t->items[k], culprit, r);
    } else {
        o->conn->errors = 0;
        size_t i = 0;
        for (size_t k = 0; k < t->n; k++)
            executed(o, t->items[k], r, &i);
    }
    free(t);
    if (r != NULL && o->queued > 0)
        acmeva_rconn_kick(o->conn); /* what was put back goes with the next write */
}

/* send_pending sends what waits, ACMEVA_OUTBOX_BATCH items per transaction: one MULTI/EXEC
 * and one XACK per batch instead of per result. Runs right before the writer's output is
 * written (redisconn's before_flush), so that every result of a loop turn goes in one write. */
static void send_pending(acmeva_rconn *c)
{
    acmeva_outbox *o = c->flush_arg;
    while (o->queued > 0 && acmeva_rconn_ready(o->conn)) {
        size_t n = o->queued < ACMEVA_OUTBOX_BATCH ? o->queued : ACMEVA_OUTBOX_BATCH;
        txn *t = malloc(sizeof(*t) + n * sizeof(t->items[0]));
        if (t == NULL)
            return; /* retried at the next write */
        t->o = o;
        t->n = 0;
        while (t->n < n)
            t->items[t->n++] = dequeue(o);
        if (send_txn(o, t) < 0) {
            for (size_t k = t->n; k-- > 0;)
                enqueue(o, t->items[k], 1);
            free(t);
            acmeva_rconn_fail(o->conn, "cannot send a command");
            return;
        }
    }
}

void acmeva_outbox_flush(acmeva_outbox *o)
{
    if (o->queued > 0 && acmeva_rconn_ready(o->conn))
        acmeva_rconn_kick(o->conn);
}

void acmeva_outbox_push(acmeva_outbox *o, acmeva_outbox_item *it)
{
    it->box = o;
    it->tries = 0;
    it->rerouted = 0;
    it->sending = 0;
    enqueue(o, it, 0);
    acmeva_outbox_flush(o);
}

void acmeva_outbox_forget(acmeva_outbox *o)
{
    while (dequeue(o) != NULL)
        ;
}
