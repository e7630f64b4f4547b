/*
 * The outbox of one thread: results waiting to be posted, each with the acknowledgement of
 * its entry, in one MULTI/EXEC on the thread's writer connection (DESIGN.md "Redis keys":
 * the result exists in Redis exactly when the entry is no longer pending). The results of one
 * loop turn go together, up to ACMEVA_OUTBOX_BATCH a transaction, in one write:
 *
 *   MULTI
 *   XADD <replyTo> MAXLEN ~ N * result <json> [sig <signature>]     (per result)
 *   [XADD acmeva:v1:dead MAXLEN ~ N * job <raw> reason <why>]        (per result)
 *   XACK <stream> <group> <entry id> <entry id> ...                    (once)
 *   EXEC
 *
 * A result that Redis refuses to take on its replyTo (NOPERM from an ACL, WRONGTYPE, any
 * other error reply to that XADD) is never retried there for good: the item is re-routed to
 * the fallback results stream with a dead letter saying why, so that no entry loops
 * forever between deliveries. Other refusals of the whole transaction (EXECABORT for OOM,
 * LOADING, ...) are retried a few times with backoff; then the item is given up and its entry
 * stays pending, to be delivered again later. A lost connection keeps every item for the next
 * one.
 */
#ifndef ACMEVA_OUTBOX_H
#define ACMEVA_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "redisconn.h"

/* Results posted in one transaction at most. */
#define ACMEVA_OUTBOX_BATCH 64

typedef struct acmeva_outbox acmeva_outbox;
typedef struct acmeva_outbox_item acmeva_outbox_item;

/* acmeva_outbox_done_cb: |posted| 1 when the transaction ran (the entry is acknowledged), 0
 * when the item was given up (the entry stays pending). The item is no longer the outbox's. */
typedef void (*acmeva_outbox_done_cb)(acmeva_outbox_item *it, int posted);

struct acmeva_outbox_item {
    acmeva_outbox_item *next;
    char *reply_to;    /* owned; NULL: no result (acknowledge only) */
    char *result;      /* owned: the result document */
    char *sig;         /* owned; NULL: no "sig" field */
    char *dead_reason; /* owned; NULL: no dead letter */
    const char *raw;   /* borrowed: the entry's payload as received, for the dead letter */
    size_t raw_len;
    const char *ack_id; /* borrowed: the entry to acknowledge; NULL: none */
    acmeva_outbox_done_cb done;
    /* Private to the outbox. */
    acmeva_outbox *box;
    int tries;
    int rerouted;
    int sending;
    char reply_error[160]; /* the queue-time error of the result's XADD, if any */
};

struct acmeva_outbox {
    acmeva_rconn *conn;          /* the writer connection (borrowed) */
    const char *ack_stream;      /* the stream the entries came from */
    const char *group;           /* its consumer group */
    const char *fallback_stream; /* where a refused result goes (acmeva:v1:results) */
    const char *dead_stream;     /* acmeva:v1:dead */
    char maxlen[24];             /* XADD MAXLEN ~ */
    int thread;                  /* for logs */
    acmeva_outbox_item *head, *tail;
    size_t queued;  /* waiting to be sent */
    size_t sending; /* transactions on the wire */
    uint64_t n_posted, n_rerouted, n_given_up;
};

/* acmeva_outbox_init sets up |o|; the strings are borrowed and must outlive it. */
void acmeva_outbox_init(acmeva_outbox *o, acmeva_rconn *writer, const char *ack_stream,
                        const char *group, const char *fallback_stream, const char *dead_stream,
                        int64_t maxlen, int thread);

/* acmeva_outbox_push queues |it| (whose fields the caller filled) and sends what it can. */
void acmeva_outbox_push(acmeva_outbox *o, acmeva_outbox_item *it);

/* acmeva_outbox_flush sends every queued item when the writer is ready: call it when the
 * writer connection becomes ready. */
void acmeva_outbox_flush(acmeva_outbox *o);

/* acmeva_outbox_item_clear frees what |it| owns (not |it| itself). */
void acmeva_outbox_item_clear(acmeva_outbox_item *it);

/* acmeva_outbox_forget removes every queued item without calling done (the thread is
 * finishing; their entries stay pending). Items on the wire get done(0) from the connection's
 * close. */
void acmeva_outbox_forget(acmeva_outbox *o);

#endif
