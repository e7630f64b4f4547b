/*
 * Prometheus metrics of the daemons (DESIGN.md "Operations"): every family is defined once, in
 * one table (metrics.c: name, help, type, fixed label names, each with a bounded set of values),
 * and counted in shards.
 *
 * A shard belongs to one thread, the only one that writes it: every event-loop thread has one,
 * and so do the main loop and the audit writer. Writes are single-writer relaxed atomics (a
 * load and a store, no lock, no read-modify-write instruction), so the main loop can read every
 * shard at scrape time without a race and without slowing a writer down. A scrape sums the
 * shards (gauges marked "min" take the smallest value of the loop threads' shards instead) and
 * renders the Prometheus text exposition format 0.0.4.
 *
 * Series of a labelled counter or histogram appear once they have counted something, as the
 * Prometheus client libraries do for their vectors; gauges and unlabelled families always
 * appear.
 */
#ifndef ACMEVA_METRICS_H
#define ACMEVA_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "acmeva/proto.h"

/* The label names; each has a bounded set of values (metrics.c). */
typedef enum acmeva_mlabel {
    ACMEVA_ML_TYPE,        /* a challenge type, "caa" (a CAA-only job), "unknown" */
    ACMEVA_ML_RESULT,      /* "valid", "invalid" */
    ACMEVA_ML_PROBLEM,     /* "none", then the ACME problem names, in acmeva_problem_type order */
    ACMEVA_ML_PERSPECTIVE, /* given at start (acmeva_metrics_config) */
    ACMEVA_ML_RIR,         /* "", ARIN, RIPE, APNIC, LACNIC, AFRINIC */
    ACMEVA_ML_QTYPE,       /* DNS: A AAAA TXT CAA other, in the engine's DNS stats order */
    ACMEVA_ML_RCODE,       /* DNS: NOERROR ... REFUSED other timeout network local, likewise */
    ACMEVA_ML_DNS_DROP,    /* why a DNS reply was dropped, likewise */
    ACMEVA_ML_TLS_REASON,  /* acmeva_tls_failure order (acmeva/engine.h) */
    ACMEVA_ML_DEAD_REASON, /* "malformed", "max_deliveries", "result_refused" */
    ACMEVA_ML_CONN,        /* a Redis connection's role: "reader", "writer" */
    ACMEVA_ML_VERSION,     /* this build's version (acmeva_version) */
    ACMEVA_ML_MPIC_RESULT, /* "valid", "invalid" */
    ACMEVA_ML_PERSPECTIVE_RESULT, /* "valid", "invalid", "timeout" */
    ACMEVA_ML_METHOD,             /* the challenge types, in acmeva_chall_type order from 1 */
    ACMEVA_ML_RULE,               /* the dated rules, in acmeva_rule_all order (brrules.h) */
    ACMEVA_ML_COUNT
} acmeva_mlabel;

/* The metric families (metrics.c holds their names, help and labels). */
typedef enum acmeva_metric {
    ACMEVA_M_BUILD_INFO,
    ACMEVA_M_VALIDATIONS,
    ACMEVA_M_VALIDATION_DURATION,
    ACMEVA_M_INFLIGHT,
    ACMEVA_M_LOCAL_FAILURES,
    ACMEVA_M_HTTP_REDIRECTS,
    ACMEVA_M_TLS_HANDSHAKE_FAILURES,
    ACMEVA_M_DNS_QUERIES,
    ACMEVA_M_DNS_QUERY_DURATION,
    ACMEVA_M_DNS_REPLIES_DROPPED,
    ACMEVA_M_REDIS_CONNECTED,
    ACMEVA_M_REDIS_RECONNECTS,
    ACMEVA_M_STREAM_READING,
    ACMEVA_M_JOBS_RECEIVED,
    ACMEVA_M_JOBS_CLAIMED,
    ACMEVA_M_JOBS_REDELIVERED,
    ACMEVA_M_RESULTS_POSTED,
    ACMEVA_M_RESULTS_REROUTED,
    ACMEVA_M_RESULTS_GIVEN_UP,
    ACMEVA_M_RESULTS_WAITING,
    ACMEVA_M_DEAD_LETTERS,
    ACMEVA_M_AUDIT_LINES,
    ACMEVA_M_AUDIT_WRITE_ERRORS,
    ACMEVA_M_AUDIT_WAITING,
    ACMEVA_M_MPIC_DECISIONS,
    ACMEVA_M_MPIC_PERSPECTIVE_RESULTS,
    ACMEVA_M_MPIC_BAD_SIGNATURES,
    ACMEVA_M_POLICY_VERSION,
    ACMEVA_M_POLICY_REFUSALS,
    ACMEVA_M_POLICY_METHOD_DISABLED,
    ACMEVA_M_POLICY_RULE_VALUE,
    ACMEVA_M_POLICY_RULE_EARLY,
    ACMEVA_M_COUNT
} acmeva_metric;

/* Values of the fixed label sets that callers index by name. */
enum { ACMEVA_MV_VALID = 0, ACMEVA_MV_INVALID = 1, ACMEVA_MV_TIMEOUT = 2 };
enum { ACMEVA_MV_READER = 0, ACMEVA_MV_WRITER = 1 };
enum { ACMEVA_MV_DEAD_MALFORMED = 0, ACMEVA_MV_DEAD_MAX_DELIVERIES, ACMEVA_MV_DEAD_RESULT_REFUSED };

/* The shards every process has besides one per event-loop thread. */
enum { ACMEVA_MSHARD_MAIN = 0, ACMEVA_MSHARD_AUDIT = 1, ACMEVA_MSHARD_EXTRA = 2 };

typedef struct acmeva_metrics acmeva_metrics;

/* One thread's counters. Written only by its thread (acmeva_mshard_*), read by the scrape. */
typedef struct acmeva_mshard {
    const acmeva_metrics *m;
    _Atomic uint64_t *v;
} acmeva_mshard;

/* What varies between processes: the values of the perspective label (the worker's own
 * perspective; the coordinator's primary and remotes). Borrowed for acmeva_metrics_new only. */
typedef struct acmeva_metrics_config {
    const char *const *perspectives;
    size_t n_perspectives; /* 1..ACMEVA_METRICS_MAX_LABEL_VALUES */
} acmeva_metrics_config;

#define ACMEVA_METRICS_MAX_LABEL_VALUES 64

/*
 * acmeva_metrics_new creates the registry with |loop_threads| event-loop shards and the
 * ACMEVA_MSHARD_EXTRA others, all zero, and acmeva_build_info set. Returns 0, or -1 on no
 * memory or a bad |cfg| (no perspective, too many, an empty or duplicate name).
 */
int acmeva_metrics_new(const acmeva_metrics_config *cfg, size_t loop_threads,
                       acmeva_metrics **out);

/* acmeva_metrics_free frees |m| and its shards. NULL is a no-op. */
void acmeva_metrics_free(acmeva_metrics *m);

/* acmeva_metrics_thread_shard returns the shard of event-loop thread |i| (borrowed). */
acmeva_mshard *acmeva_metrics_thread_shard(acmeva_metrics *m, size_t i);

/* acmeva_metrics_extra_shard returns ACMEVA_MSHARD_MAIN or ACMEVA_MSHARD_AUDIT (borrowed). */
acmeva_mshard *acmeva_metrics_extra_shard(acmeva_metrics *m, int which);

/*
 * acmeva_metrics_label_value returns the index of |value| in the value set of |l|, or -1 when
 * it is not one of them. For the coordinator's perspective names, and for tests.
 */
int acmeva_metrics_label_value(const acmeva_metrics *m, acmeva_mlabel l, const char *value);

/*
 * The writers. |labels| holds one value index per label of the family, in the table's order
 * (NULL for a family without labels); an index out of its set is ignored (nothing counted),
 * so a bad index can never write outside the shard.
 *
 * acmeva_mshard_add adds |n| to a counter. acmeva_mshard_set sets a gauge, or a counter copied
 * from a plain counter kept elsewhere (it must only grow). acmeva_mshard_observe counts |value|
 * in a histogram. acmeva_mshard_set_histogram copies a histogram kept elsewhere: |buckets| holds
 * the family's bucket count + 1 values, not cumulative (the last one above every bound), and
 * |sum| the sum of the values.
 */
void acmeva_mshard_add(acmeva_mshard *s, acmeva_metric f, const unsigned *labels, uint64_t n);
void acmeva_mshard_set(acmeva_mshard *s, acmeva_metric f, const unsigned *labels, int64_t v);
void acmeva_mshard_observe(acmeva_mshard *s, acmeva_metric f, const unsigned *labels,
                           double value);
void acmeva_mshard_set_histogram(acmeva_mshard *s, acmeva_metric f, const unsigned *labels,
                                 const uint64_t *buckets, size_t n_buckets, double sum);

/*
 * acmeva_mshard_dns_stats copies an engine's DNS counters into |s|: |queries| holds
 * qtypes x rcodes values (row by qtype, in the order of ACMEVA_ML_QTYPE and ACMEVA_ML_RCODE),
 * |dropped| one value per ACMEVA_ML_DNS_DROP value, |buckets| the duration histogram (bucket
 * count + 1, not cumulative, with the bounds of acmeva_dns_query_duration_seconds) and |sum| the
 * sum of the durations in seconds. The sizes are checked against the label sets; a mismatch
 * copies nothing and returns -1 (the engine and this table disagree), else 0.
 */
int acmeva_mshard_dns_stats(acmeva_mshard *s, const uint64_t *queries, size_t n_qtypes,
                            size_t n_rcodes, const uint64_t *dropped, size_t n_dropped,
                            const uint64_t *buckets, size_t n_buckets, double sum);

/*
 * acmeva_metrics_get returns the value of one counter or gauge series, summed over the shards
 * (or their minimum for a "min" gauge), as the scrape would render it. For readiness and
 * tests.
 */
int64_t acmeva_metrics_get(const acmeva_metrics *m, acmeva_metric f, const unsigned *labels);

/*
 * acmeva_metrics_render writes every family in the Prometheus text exposition format 0.0.4
 * (# HELP, # TYPE, samples; histograms as _bucket{le} cumulative up to +Inf, _sum, _count;
 * label values escaped). Returns a new NUL-terminated buffer (|*len| bytes without the NUL)
 * the caller frees, or NULL on no memory.
 */
char *acmeva_metrics_render(const acmeva_metrics *m, size_t *len);

/* acmeva_metric_name returns the name of family |f| (for tests and docs). */
const char *acmeva_metric_name(acmeva_metric f);

#endif
