/*
 * The operator's policy in force in a daemon (DESIGN.md "Live kill switch per method"): one
 * reader per process, on the daemon's main loop, hands an immutable snapshot (policy.h) to
 * every event-loop thread.
 *
 * The reader reads the hash acmeva:v1:policy (HGETALL) when it connects, every
 * ACMEVA_POLICY_POLL_MS, and at once when a message comes on the channel acmeva:v1:policy,
 * which it watches on a connection of its own (a subscriber takes no other command). Pub/sub
 * makes a change quick; the periodic read makes it certain, since messages published while the
 * subscriber was away are lost: a change, published or not (a raw HSET), is in force within
 * ACMEVA_POLICY_POLL_MS plus a read, well under the 1 s of the contract. The dated rules are
 * evaluated at every read, so a rule step whose date passes is a change too.
 *
 * Each change is logged once per process ("policy changed", with one sentence per change),
 * written to the audit log (event "policy") and published in the metrics; then the snapshot
 * goes to each thread's slot through a uv_async. A thread swaps its current snapshot in its own
 * loop, between callbacks: a job taken afterwards runs under the new policy, a job already
 * running finishes under the one it started with. The hot path (acmeva_policy_slot_get0) is a
 * plain read of a pointer the thread alone writes: no lock, no atomic operation.
 *
 * When Redis cannot be read the last snapshot stays in force (a disabled method stays
 * disabled); a thread that has never received one has none (get0 returns NULL) and takes no
 * jobs, and the process is not ready (acmeva_policy_watch_not_ready).
 */
#ifndef ACMEVA_POLICYWATCH_H
#define ACMEVA_POLICYWATCH_H

#include <stddef.h>

#include <uv.h>

#include "auditlog.h"
#include "metrics.h"
#include "policy.h"
#include "redisconn.h"

/* How often the hash is read whatever the channel says. */
#define ACMEVA_POLICY_POLL_MS 500

typedef struct acmeva_policy_watch acmeva_policy_watch;

/* acmeva_policy_changed_cb runs on a slot's thread when it takes a new snapshot: |old| (NULL
 * the first time) is still valid during the call, |cur| is the one in force from now on. */
typedef void (*acmeva_policy_changed_cb)(void *arg, const acmeva_policy *old,
                                         const acmeva_policy *cur);

/* One event-loop thread's view of the policy. Its fields are the watcher's business. */
typedef struct acmeva_policy_slot {
    acmeva_policy_watch *w;
    uv_async_t async;
    int inited, closed;     /* under the watcher's lock */
    acmeva_policy *pending; /* under the watcher's lock: the newest snapshot not yet taken */
    acmeva_policy *cur;     /* the thread's own reference: NULL until the first snapshot */
    acmeva_policy_changed_cb cb;
    void *arg;
} acmeva_policy_slot;

/*
 * acmeva_policy_watch_new prepares a watcher for |n_loops| event-loop threads of |program|
 * ("acmeva-worker", for logs and the audit log). |rs| (the process's Redis settings, borrowed:
 * it must outlive the watcher; read when the watcher starts) gives the URL and TLS context;
 * |shard| (the main loop's metrics shard) and |audit| (may be NULL) are borrowed. Returns 0, or
 * -ENOMEM.
 */
int acmeva_policy_watch_new(const char *program, const acmeva_rconn_settings *rs, size_t n_loops,
                            acmeva_mshard *shard, acmeva_audit *audit, acmeva_policy_watch **out);

/* acmeva_policy_watch_start connects on |loop| (the daemon's main loop) and starts reading.
 * Returns 0 or a libuv error. */
int acmeva_policy_watch_start(acmeva_policy_watch *w, uv_loop_t *loop);

/* acmeva_policy_watch_stop closes the connections and the timer (run the loop afterwards).
 * Idempotent; a watcher never started is left alone. */
void acmeva_policy_watch_stop(acmeva_policy_watch *w);

/* acmeva_policy_watch_free frees |w| and every snapshot it or a slot still holds. Call it
 * after every event loop and the main loop have ended. NULL is a no-op. */
void acmeva_policy_watch_free(acmeva_policy_watch *w);

/*
 * acmeva_policy_watch_not_ready returns NULL once a policy has been read, else a sentence for
 * the readiness endpoint ("not ready: ..."), with the reason the read fails when there is
 * one. On the main loop only.
 */
const char *acmeva_policy_watch_not_ready(acmeva_policy_watch *w);

/*
 * acmeva_policy_slot_init registers event loop |i| on |loop|: |cb| (may be NULL) runs there
 * with |arg| each time it takes a snapshot. Call it before the loop runs, or on its thread.
 * Returns the slot, or NULL (|i| out of range, or the async could not be made).
 */
acmeva_policy_slot *acmeva_policy_slot_init(acmeva_policy_watch *w, size_t i, uv_loop_t *loop,
                                            acmeva_policy_changed_cb cb, void *arg);

/* acmeva_policy_slot_get0 returns the snapshot in force on the slot's thread (borrowed until
 * the thread's next loop turn), or NULL before the first. Call it on that thread. */
static inline const acmeva_policy *acmeva_policy_slot_get0(const acmeva_policy_slot *s)
{
    return s != NULL ? s->cur : NULL;
}

/* acmeva_policy_slot_close ends the slot on its thread: no callback runs afterwards, its
 * snapshots are dropped, its async closes (run the loop). NULL is a no-op. */
void acmeva_policy_slot_close(acmeva_policy_slot *s);

#endif
