/*
 * One thread's consumption of one stream, shared by acmeva-worker and acmeva-coordinator:
 * the stream reader, the writer connection, the outbox, and the entries the thread holds
 * (delivered and not yet acknowledged), with what every daemon does with them alike: the
 * capacity the reader may fill, the heartbeat that keeps long-running entries from being
 * claimed elsewhere, results posted with their acknowledgement (and malformed or
 * unvalidated jobs answered the same way everywhere), reading paused after a local failure,
 * and the orderly stop (finish what is held, remove the consumer from the group when it holds
 * nothing, then close).
 *
 * The service (the worker or the coordinator) embeds an acmeva_held in its own object for
 * each entry: deliver() creates one and calls acmeva_consumer_hold(), and the consumer calls
 * release() exactly once when it is done with it (posted, given up, dropped, or at close).
 *
 * The consumer also holds the thread's view of the operator's policy (policywatch.h): it takes
 * no entry before a policy was read, answers jobs of a disabled method without running them
 * (acmeva_consumer_policy_refuses), and stamps every result with the policy version it ran
 * under.
 */
#ifndef ACMEVA_CONSUMER_H
#define ACMEVA_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include "acmeva/proto.h"
#include "auditlog.h"
#include "daemon.h"
#include "metrics.h"
#include "outbox.h"
#include "policywatch.h"
#include "redisconn.h"
#include "streamreader.h"

typedef struct acmeva_consumer acmeva_consumer;
typedef struct acmeva_held acmeva_held;

struct acmeva_held {
    acmeva_consumer *c;
    acmeva_held *prev, *next;
    acmeva_held *hnext; /* in c's index bucket of its entry id */
    char entry_id[ACMEVA_ENTRY_ID_MAX];
    char *raw; /* the payload as received (for a dead letter); NULL when none */
    size_t raw_len;
    int attempt;      /* the delivery count */
    uint64_t touched; /* uv_now of the delivery or of the last heartbeat */
    int posting;      /* the result is in the audit log's queue or the outbox */
    acmeva_outbox_item item;
    /* What the metrics count once the result is posted (the counters equal what results in
     * Redis say): type, result, problem, perspective labels; the validation time (< 0: answered
     * without validating); the dead-letter reason (-1: none). Set by acmeva_consumer_label. */
    unsigned m_labels[4];
    double m_seconds;
    int m_dead;
    int m_labelled;
};

typedef struct acmeva_consumer_ops {
    /* An entry for the service: it creates its object, calls acmeva_consumer_hold, and ends it
     * by posting a result or dropping it. */
    void (*deliver)(acmeva_consumer *c, const acmeva_sentry *e);
    /* The consumer is done with |h|: free the service's object. |posted| 1 when its result and
     * acknowledgement went through. At close, running work must be cancelled here too. */
    void (*release)(acmeva_held *h, int posted);
    /* Optional: the writer connection is ready (after the outbox was flushed). */
    void (*writer_ready)(acmeva_consumer *c);
    /* Optional: the thread is stopping and holds nothing; called once, before the goodbye. */
    void (*idle)(acmeva_consumer *c);
    /* Optional: copy the service's own counters into |c->shard| (every 500 ms and at close). */
    void (*sync_stats)(acmeva_consumer *c);
    /* Optional: the thread took a new policy snapshot (|old| NULL the first time), in force
     * for the entries delivered from now on. */
    void (*policy_changed)(acmeva_consumer *c, const acmeva_policy *old, const acmeva_policy *cur);
} acmeva_consumer_ops;

struct acmeva_consumer {
    acmeva_dthread *d;
    const acmeva_consumer_ops *ops;
    void *svc; /* the service's per-thread state */
    char name[160]; /* the consumer name, <host>:<pid>:<thread> */
    const char *stream, *group;
    int64_t max_inflight, claim_idle_ms;
    const char *log_msg; /* the log line of an answered entry ("validation") */
    const void *signing_key;
    acmeva_sreader reader;
    acmeva_rconn writer;
    acmeva_outbox outbox;
    acmeva_held *head;
    size_t held;
    /* The held entries by id (chained buckets, a power of two of them): every entry a read
     * delivers is looked up, and a scan of a list of hundreds was a twentieth of a worker's
     * time end to end (bench/README.md "Round two"). */
    acmeva_held **index;
    size_t index_size;
    uv_timer_t pause_timer;
    uint64_t paused_until;
    int held_back; /* the service holds reading back (acmeva_consumer_hold_back) */
    int idled;
    int goodbye; /* 0: not yet, 1: XPENDING sent, 2: DELCONSUMER sent, 3: done */
    uint64_t n_done;
    acmeva_mshard *shard; /* this thread's metrics (never NULL once initialised) */
    acmeva_audit *audit;  /* NULL without --audit-log */
    const char *audit_event; /* "validation", "mpic" */
    uv_timer_t stats_timer;
    acmeva_policy_slot *policy; /* this thread's view of the operator's policy */
};

/* The settings of a consumer; strings are borrowed and must outlive it. */
typedef struct acmeva_consumer_config {
    const char *stream;
    const char *group;
    const char *field; /* the payload field ("job") */
    int64_t claim_idle_ms;
    int64_t block_ms;
    int64_t max_inflight;
    int64_t results_maxlen;
    const char *log_msg;
    acmeva_mshard *shard; /* the thread's metrics shard (ops.h) */
    acmeva_audit *audit;  /* the audit log, or NULL */
    const char *audit_event;
    const void *signing_key; /* NULL, or an Ed25519 key (resultsig.h): every result is signed */
    acmeva_policy_watch *policy; /* the process's policy reader (ops.h) */
} acmeva_consumer_config;

/*
 * acmeva_consumer_init sets up |c| on thread |d|'s loop: the reader and writer connections
 * (named <consumer>:reader and :writer) and the outbox. Returns 0, or -1 with |err|.
 */
int acmeva_consumer_init(acmeva_consumer *c, acmeva_dthread *d, const acmeva_rconn_settings *rs,
                         const acmeva_consumer_config *cfg, const acmeva_consumer_ops *ops,
                         void *svc, char *err, size_t errlen);

/* acmeva_consumer_start connects and starts reading. */
void acmeva_consumer_start(acmeva_consumer *c);

/* acmeva_consumer_hold adds |h| (zeroed by the caller) for entry |e|. Returns 0, or -1 on no
 * memory (|h| is then not held: free it; the entry stays pending). */
int acmeva_consumer_hold(acmeva_consumer *c, acmeva_held *h, const acmeva_sentry *e);

/* acmeva_consumer_policy returns the operator's policy in force on this thread (borrowed until
 * the thread's next loop turn), or NULL before the first read (no entry is taken then). */
static inline const acmeva_policy *acmeva_consumer_policy(const acmeva_consumer *c)
{
    return acmeva_policy_slot_get0(c->policy);
}

/*
 * acmeva_consumer_policy_refuses answers |job| without running it when the policy in force
 * disables its challenge type (DESIGN.md "Live kill switch per method"): serverInternal, the
 * detail naming the method, the policy version and the reason, with the log line, the audit
 * line and acmeva_policy_refusals_total of any answer. A CAA-only job is never refused: no
 * challenge type is validated for it. Returns 1 when it answered, 0 when the job may run.
 */
int acmeva_consumer_policy_refuses(acmeva_held *h, const acmeva_job *job, const char *perspective,
                                   const char *rir);

/* acmeva_consumer_find returns the held entry |id|, or NULL. */
acmeva_held *acmeva_consumer_find(acmeva_consumer *c, const char *id);

/*
 * acmeva_consumer_post queues the result already in |h->item| (result, reply_to and, when set,
 * dead_reason) with the acknowledgement of the entry, signed when the consumer has a signing
 * key (its field "sig", DESIGN.md "Channel"). An empty item (no reply_to) only
 * acknowledges (an entry trimmed from the stream).
 */
void acmeva_consumer_post(acmeva_held *h);

/*
 * acmeva_consumer_post_audited writes |rec| (the result as posted, in rec->result_json, which
 * must be |h->item.result|) to the audit log, and posts the result once the line is written
 * (DESIGN.md "Operations": the audit line comes before the result). Without an audit log it
 * posts at once. A line that cannot be written leaves the entry pending (never posted without
 * its record) and pauses reading.
 */
void acmeva_consumer_post_audited(acmeva_held *h, const acmeva_audit_record *rec);

/* acmeva_consumer_label records the metric labels of |r| on |h| (counted once posted):
 * |perspective| the index of its perspective label value, |seconds| its validation time (< 0
 * when it was answered without validating). */
void acmeva_consumer_label(acmeva_held *h, const acmeva_result *r, unsigned perspective,
                           double seconds);

/*
 * acmeva_consumer_answer writes |r| (taken) as the entry's result, with the attempt, this
 * consumer as "worker", |perspective| and |rir| where |r| has none, and the version of the
 * policy in force unless |r| has one (a job that ran says the policy it started under), logs it
 * (with |reason| when not NULL), and posts it on |reply_to|. On no memory the entry is
 * dropped.
 */
void acmeva_consumer_answer(acmeva_held *h, acmeva_result *r, const char *reply_to,
                            const char *perspective, const char *rir, const char *reason);

/* acmeva_consumer_malformed answers a job that cannot be trusted (DESIGN.md "Job"): a malformed
 * result on the default results stream, never the job's own replyTo, and a dead letter. */
void acmeva_consumer_malformed(acmeva_held *h, const char *id, const char *field,
                               const char *detail, const char *perspective);

/* acmeva_consumer_unvalidated answers a parsed job without running it (deadline passed, too
 * many deliveries): serverInternal with |detail| on its replyTo, a dead letter when |dead|. */
void acmeva_consumer_unvalidated(acmeva_held *h, const acmeva_job *job, const char *detail,
                                 const char *dead, const char *perspective, const char *rir);

/* acmeva_consumer_drop forgets |h| without a result: the entry stays pending and is delivered
 * again later (a failure of this machine, no memory). */
void acmeva_consumer_drop(acmeva_held *h);

/* acmeva_consumer_pause stops reading for |ms| (this machine is out of resources). */
void acmeva_consumer_pause(acmeva_consumer *c, uint64_t ms);

/*
 * acmeva_consumer_hold_back stops (|on| 1) or resumes (|on| 0) reading for as long as a check
 * of the service fails (the worker's --require-dnssec-resolver): the thread takes no new
 * entries (nor claims any), and the daemon counts it in held_back, which readiness reports.
 * Entries already held go on. Call it on the consumer's thread.
 */
void acmeva_consumer_hold_back(acmeva_consumer *c, int on);

/* acmeva_consumer_kick reads more when there is room (call it after work ends). */
void acmeva_consumer_kick(acmeva_consumer *c);

/* acmeva_consumer_stop stops reading (the first signal); the thread finishes once nothing is
 * held. */
void acmeva_consumer_stop(acmeva_consumer *c);

/* acmeva_consumer_maybe_finish finishes the thread when it is stopping and holds nothing. */
void acmeva_consumer_maybe_finish(acmeva_consumer *c);

/* acmeva_consumer_close ends everything (thread_finish): connections closed, every held entry
 * released (it stays pending in Redis), one "thread stopped" log line. */
void acmeva_consumer_close(acmeva_consumer *c);

#endif
