/*
 * The metric families and their shards (see metrics.h).
 */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmeva/version.h"
#include "brrules.h"
#include "strbuf.h"

#define MAX_LABELS 4

typedef enum { MT_COUNTER, MT_GAUGE, MT_HISTOGRAM } mtype;

typedef struct label_def {
    const char *name;
    const char *const *values; /* NULL: set at start (perspective, version) */
    size_t n;
} label_def;

typedef struct family_def {
    const char *name; /* as rendered: counters end in _total, units are base units */
    const char *help;
    mtype type;
    int min; /* gauge: the smallest value of the loop threads' shards, not the sum */
    size_t n_labels;
    acmeva_mlabel labels[MAX_LABELS];
    const double *bounds; /* histogram bucket upper bounds, increasing */
    size_t n_bounds;
} family_def;

/* ---- the label value sets ------------------------------------------------------------------ */

static const char *const v_type[] = {"http-01",        "dns-01",  "tls-alpn-01", "dns-account-01",
                                     "dns-persist-01", "caa",     "unknown"};
static const char *const v_result[] = {"valid", "invalid"};
/* Indexed by acmeva_problem_type; test_metrics holds it to acmeva_problem_urn. */
static const char *const v_problem[] = {"none",      "unauthorized",     "connection",
                                        "dns",       "tls",              "caa",
                                        "malformed", "serverInternal",   "rejectedIdentifier"};
static const char *const v_rir[] = {"", "ARIN", "RIPE", "APNIC", "LACNIC", "AFRINIC"};
/* The DNS sets follow the slots of the engine's DNS statistics, so that copying them is a
 * loop over indexes (acmeva_mshard_dns_stats). */
static const char *const v_qtype[] = {"A", "AAAA", "TXT", "CAA", "other"};
static const char *const v_rcode[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
                                      "REFUSED", "other",   "timeout",  "network",  "local"};
static const char *const v_dns_drop[] = {"wrong_id",     "wrong_source", "wrong_question",
                                         "wrong_case",   "not_response", "malformed",
                                         "tcp_mismatch"};
/* Indexed by acmeva_tls_failure (acmeva/engine.h). */
static const char *const v_tls_reason[] = {"timeout", "handshake", "not_tls", "alpn"};
static const char *const v_dead[] = {"malformed", "max_deliveries", "result_refused"};
static const char *const v_conn[] = {"reader", "writer"};
static const char *const v_presult[] = {"valid", "invalid", "timeout"};
/* The challenge types alone: the first five values of v_type (acmeva_chall_type order). */
#define N_METHODS 5

#define SET(a) a, sizeof(a) / sizeof(a[0])
static const label_def label_defs[ACMEVA_ML_COUNT] = {
    [ACMEVA_ML_TYPE] = {"type", SET(v_type)},
    [ACMEVA_ML_RESULT] = {"result", SET(v_result)},
    [ACMEVA_ML_PROBLEM] = {"problem", SET(v_problem)},
    [ACMEVA_ML_PERSPECTIVE] = {"perspective", NULL, 0},
    [ACMEVA_ML_RIR] = {"rir", SET(v_rir)},
    [ACMEVA_ML_QTYPE] = {"qtype", SET(v_qtype)},
    [ACMEVA_ML_RCODE] = {"rcode", SET(v_rcode)},
    [ACMEVA_ML_DNS_DROP] = {"reason", SET(v_dns_drop)},
    [ACMEVA_ML_TLS_REASON] = {"reason", SET(v_tls_reason)},
    [ACMEVA_ML_DEAD_REASON] = {"reason", SET(v_dead)},
    [ACMEVA_ML_CONN] = {"conn", SET(v_conn)},
    [ACMEVA_ML_VERSION] = {"version", NULL, 0},
    [ACMEVA_ML_MPIC_RESULT] = {"result", SET(v_result)},
    [ACMEVA_ML_PERSPECTIVE_RESULT] = {"result", SET(v_presult)},
    [ACMEVA_ML_METHOD] = {"type", v_type, N_METHODS},
    [ACMEVA_ML_RULE] = {"rule", NULL, 0},
};

/* ---- the families ---------------------------------------------------------------------------- */

/* Seconds, from a cache-warm loopback validation (a few ms) to the 30 s default deadline. */
static const double b_validation[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                      1,     2.5,  5,     10,   20,  30,  60};
/* The engine's DNS duration buckets (its statistics are copied bucket by bucket). */
static const double b_dns[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                               0.25,  0.5,    1,     2.5,  5,     10};

#define L(...) (sizeof((acmeva_mlabel[]){__VA_ARGS__}) / sizeof(acmeva_mlabel)), {__VA_ARGS__}
#define L0 0, {0}
static const family_def family_defs[ACMEVA_M_COUNT] = {
    [ACMEVA_M_BUILD_INFO] = {"acmeva_build_info",
                             "Always 1; the version label names this build (git describe).",
                             MT_GAUGE, 0, L(ACMEVA_ML_VERSION), NULL, 0},
    [ACMEVA_M_VALIDATIONS] =
        {"acmeva_validations_total",
         "Results answered, by challenge type (caa: a CAA-only job; unknown: a malformed job), "
         "result, ACME problem type (none when valid) and perspective.",
         MT_COUNTER, 0,
         L(ACMEVA_ML_TYPE, ACMEVA_ML_RESULT, ACMEVA_ML_PROBLEM, ACMEVA_ML_PERSPECTIVE), NULL, 0},
    [ACMEVA_M_VALIDATION_DURATION] = {"acmeva_validation_duration_seconds",
                                      "Time from the start of a validation to its result.",
                                      MT_HISTOGRAM, 0, L(ACMEVA_ML_TYPE, ACMEVA_ML_RESULT),
                                      SET(b_validation)},
    [ACMEVA_M_INFLIGHT] = {"acmeva_inflight", "Validations running now.", MT_GAUGE, 0, L0, NULL,
                           0},
    [ACMEVA_M_LOCAL_FAILURES] =
        {"acmeva_local_failures_total",
         "Validations that failed because of this machine (descriptors, memory, sockets, the "
         "audit log); their jobs stay pending for another delivery.",
         MT_COUNTER, 0, L0, NULL, 0},
    [ACMEVA_M_HTTP_REDIRECTS] = {"acmeva_http_redirects_total",
                                 "HTTP redirects followed by http-01 validations.", MT_COUNTER,
                                 0, L0, NULL, 0},
    [ACMEVA_M_TLS_HANDSHAKE_FAILURES] =
        {"acmeva_tls_handshake_failures_total",
         "TLS handshakes of validations that failed: timeout, handshake (an alert or a protocol "
         "error), not_tls (the server answered in plain HTTP), alpn (tls-alpn-01: acme-tls/1 "
         "not negotiated).",
         MT_COUNTER, 0, L(ACMEVA_ML_TLS_REASON), NULL, 0},
    [ACMEVA_M_DNS_QUERIES] =
        {"acmeva_dns_queries_total",
         "DNS queries ended, by query type and outcome (the response code taken, or timeout, "
         "network, local).",
         MT_COUNTER, 0, L(ACMEVA_ML_QTYPE, ACMEVA_ML_RCODE), NULL, 0},
    [ACMEVA_M_DNS_QUERY_DURATION] = {"acmeva_dns_query_duration_seconds",
                                     "Time from a DNS query's first send to its outcome, "
                                     "retries included.",
                                     MT_HISTOGRAM, 0, L0, SET(b_dns)},
    [ACMEVA_M_DNS_REPLIES_DROPPED] =
        {"acmeva_dns_replies_dropped_total",
         "DNS replies dropped by the anti-spoofing checks (id, source, question, 0x20 case), "
         "by reason.",
         MT_COUNTER, 0, L(ACMEVA_ML_DNS_DROP), NULL, 0},
    [ACMEVA_M_REDIS_CONNECTED] = {"acmeva_redis_connected",
                                  "1 when every Redis connection of the process is up, else 0.",
                                  MT_GAUGE, 1, L0, NULL, 0},
    [ACMEVA_M_REDIS_RECONNECTS] = {"acmeva_redis_connection_losses_total",
                                   "Redis connections lost after they were up (each is opened "
                                   "again), by role.",
                                   MT_COUNTER, 0, L(ACMEVA_ML_CONN), NULL, 0},
    [ACMEVA_M_STREAM_READING] =
        {"acmeva_stream_reading",
         "1 when every thread reads its jobs stream (its consumer group is joined and it is not "
         "stopping), else 0.",
         MT_GAUGE, 1, L0, NULL, 0},
    [ACMEVA_M_JOBS_RECEIVED] = {"acmeva_jobs_received_total",
                                "Stream entries delivered to this process: new, resumed after "
                                "a reconnect, or claimed.",
                                MT_COUNTER, 0, L0, NULL, 0},
    [ACMEVA_M_JOBS_CLAIMED] = {"acmeva_jobs_claimed_total",
                               "Entries claimed (XAUTOCLAIM) from consumers that held them "
                               "longer than --claim-idle-ms.",
                               MT_COUNTER, 0, L0, NULL, 0},
    [ACMEVA_M_JOBS_REDELIVERED] = {"acmeva_jobs_redelivered_total",
                                   "Entries delivered with a delivery count above 1.",
                                   MT_COUNTER, 0, L0, NULL, 0},
    [ACMEVA_M_RESULTS_POSTED] = {"acmeva_results_posted_total",
                                 "Results posted with the acknowledgement of their entry.",
                                 MT_COUNTER, 0, L0, NULL, 0},
    [ACMEVA_M_RESULTS_REROUTED] = {"acmeva_results_rerouted_total",
                                   "Results refused on their replyTo and posted to the "
                                   "default results stream with a dead letter.",
                                   MT_COUNTER, 0, L0, NULL, 0},
    [ACMEVA_M_RESULTS_GIVEN_UP] = {"acmeva_results_given_up_total",
                                   "Results whose transaction Redis kept refusing; their "
                                   "entries stay pending.",
                                   MT_COUNTER, 0, L0, NULL, 0},
    [ACMEVA_M_RESULTS_WAITING] = {"acmeva_results_waiting",
                                  "Results waiting to be posted (the outboxes).", MT_GAUGE, 0,
                                  L0, NULL, 0},
    [ACMEVA_M_DEAD_LETTERS] = {"acmeva_dead_letters_total",
                               "Dead letters written, by reason.", MT_COUNTER, 0,
                               L(ACMEVA_ML_DEAD_REASON), NULL, 0},
    [ACMEVA_M_AUDIT_LINES] = {"acmeva_audit_log_lines_total",
                              "Lines written to the audit log.", MT_COUNTER, 0, L0, NULL, 0},
    [ACMEVA_M_AUDIT_WRITE_ERRORS] =
        {"acmeva_audit_log_write_errors_total",
         "Failed writes (or syncs) of the audit log; their results were not posted.",
         MT_COUNTER, 0, L0, NULL, 0},
    [ACMEVA_M_AUDIT_WAITING] = {"acmeva_audit_log_waiting",
                                "Audit lines queued and not yet written.", MT_GAUGE, 0, L0,
                                NULL, 0},
    [ACMEVA_M_MPIC_DECISIONS] = {"acmeva_mpic_decisions_total",
                                 "Multi-perspective decisions posted, by result.", MT_COUNTER,
                                 0, L(ACMEVA_ML_MPIC_RESULT), NULL, 0},
    [ACMEVA_M_MPIC_PERSPECTIVE_RESULTS] =
        {"acmeva_mpic_perspective_results_total",
         "Remote perspective outcomes counted in decisions, by perspective, RIR and result.",
         MT_COUNTER, 0, L(ACMEVA_ML_PERSPECTIVE, ACMEVA_ML_RIR, ACMEVA_ML_PERSPECTIVE_RESULT),
         NULL, 0},
    [ACMEVA_M_MPIC_BAD_SIGNATURES] =
        {"acmeva_mpic_bad_signatures_total",
         "Perspective results refused for a missing or bad signature (--perspective-key); "
         "each counts as a failed perspective.",
         MT_COUNTER, 0, L0, NULL, 0},
    [ACMEVA_M_POLICY_VERSION] =
        {"acmeva_policy_version",
         "The version of the operator's policy (acmeva:v1:policy) in force on every thread of "
         "this process (the lowest of its threads'); 0 before the first read.",
         MT_GAUGE, 1, L0, NULL, 0},
    [ACMEVA_M_POLICY_REFUSALS] = {"acmeva_policy_refusals_total",
                                  "Jobs not validated because the operator's policy disables "
                                  "their method, by challenge type.",
                                  MT_COUNTER, 0, L(ACMEVA_ML_TYPE), NULL, 0},
    [ACMEVA_M_POLICY_METHOD_DISABLED] = {"acmeva_policy_method_disabled",
                                         "1 when the operator's policy disables the method, "
                                         "else 0.",
                                         MT_GAUGE, 0, L(ACMEVA_ML_METHOD), NULL, 0},
    [ACMEVA_M_POLICY_RULE_VALUE] = {"acmeva_policy_rule_value",
                                    "The value in force of each dated BR rule (by date, or its "
                                    "next step brought in early by the policy).",
                                    MT_GAUGE, 0, L(ACMEVA_ML_RULE), NULL, 0},
    [ACMEVA_M_POLICY_RULE_EARLY] = {"acmeva_policy_rule_early",
                                    "1 when the value in force of the dated rule is a step "
                                    "brought in before its date (enforce:<rule>), else 0.",
                                    MT_GAUGE, 0, L(ACMEVA_ML_RULE), NULL, 0},
};
#undef L
#undef L0

/* ---- the registry ---------------------------------------------------------------------------- */

struct acmeva_metrics {
    const char **label_values[ACMEVA_ML_COUNT]; /* per label; dynamic sets are owned */
    const char *rule_names[16];
    size_t label_n[ACMEVA_ML_COUNT];
    char **perspectives; /* owned copies */
    size_t n_perspectives;
    const char *version_value[1];
    size_t offset[ACMEVA_M_COUNT]; /* first slot of each family */
    size_t series[ACMEVA_M_COUNT]; /* label combinations */
    size_t per_series[ACMEVA_M_COUNT];
    size_t n_slots;
    size_t loop_threads, n_shards;
    acmeva_mshard *shards; /* loop threads first, then the extra ones */
};

const char *acmeva_metric_name(acmeva_metric f)
{
    return f < ACMEVA_M_COUNT ? family_defs[f].name : NULL;
}

static void free_shards(acmeva_metrics *m)
{
    for (size_t i = 0; m->shards != NULL && i < m->n_shards; i++)
        free(m->shards[i].v);
    free(m->shards);
}

void acmeva_metrics_free(acmeva_metrics *m)
{
    if (m == NULL)
        return;
    free_shards(m);
    for (size_t i = 0; i < m->n_perspectives; i++)
        free(m->perspectives[i]);
    free(m->perspectives);
    free(m);
}

int acmeva_metrics_new(const acmeva_metrics_config *cfg, size_t loop_threads,
                       acmeva_metrics **out)
{
    *out = NULL;
    if (cfg == NULL || cfg->n_perspectives == 0 ||
        cfg->n_perspectives > ACMEVA_METRICS_MAX_LABEL_VALUES)
        return -1;
    acmeva_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return -1;
    m->perspectives = calloc(cfg->n_perspectives, sizeof(char *));
    if (m->perspectives == NULL)
        goto fail;
    for (size_t i = 0; i < cfg->n_perspectives; i++) {
        const char *p = cfg->perspectives[i];
        if (p == NULL || *p == '\0')
            goto fail;
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->perspectives[j], p) == 0)
                goto fail;
        if ((m->perspectives[i] = strdup(p)) == NULL)
            goto fail;
        m->n_perspectives = i + 1;
    }
    for (int l = 0; l < ACMEVA_ML_COUNT; l++) {
        m->label_values[l] = (const char **)label_defs[l].values;
        m->label_n[l] = label_defs[l].n;
    }
    m->label_values[ACMEVA_ML_PERSPECTIVE] = (const char **)m->perspectives;
    m->label_n[ACMEVA_ML_PERSPECTIVE] = m->n_perspectives;
    m->version_value[0] = acmeva_version();
    m->label_values[ACMEVA_ML_VERSION] = m->version_value;
    m->label_n[ACMEVA_ML_VERSION] = 1;
    size_t n_rules = 0;
    const acmeva_dated_rule *rules = acmeva_rule_all(&n_rules);
    for (size_t i = 0; i < n_rules && i < sizeof(m->rule_names) / sizeof(m->rule_names[0]); i++)
        m->rule_names[m->label_n[ACMEVA_ML_RULE]++] = rules[i].name;
    m->label_values[ACMEVA_ML_RULE] = m->rule_names;

    for (int f = 0; f < ACMEVA_M_COUNT; f++) {
        const family_def *d = &family_defs[f];
        size_t n = 1;
        for (size_t k = 0; k < d->n_labels; k++)
            n *= m->label_n[d->labels[k]];
        m->series[f] = n;
        /* A histogram series: its buckets (the last one above every bound), sum, count. */
        m->per_series[f] = d->type == MT_HISTOGRAM ? d->n_bounds + 3 : 1;
        m->offset[f] = m->n_slots;
        m->n_slots += n * m->per_series[f];
    }
    m->loop_threads = loop_threads;
    m->n_shards = loop_threads + ACMEVA_MSHARD_EXTRA;
    m->shards = calloc(m->n_shards, sizeof(acmeva_mshard));
    if (m->shards == NULL)
        goto fail;
    /* Each shard on cache lines of its own: threads never share a line they write. */
    size_t bytes = (m->n_slots * sizeof(uint64_t) + 63) / 64 * 64;
    for (size_t i = 0; i < m->n_shards; i++) {
        m->shards[i].m = m;
        m->shards[i].v = aligned_alloc(64, bytes);
        if (m->shards[i].v == NULL)
            goto fail;
        for (size_t k = 0; k < m->n_slots; k++)
            atomic_init(&m->shards[i].v[k], 0);
    }
    acmeva_mshard_set(&m->shards[loop_threads + ACMEVA_MSHARD_MAIN], ACMEVA_M_BUILD_INFO,
                      (const unsigned[]){0}, 1);
    *out = m;
    return 0;
fail:
    acmeva_metrics_free(m);
    return -1;
}

acmeva_mshard *acmeva_metrics_thread_shard(acmeva_metrics *m, size_t i)
{
    return i < m->loop_threads ? &m->shards[i] : NULL;
}

acmeva_mshard *acmeva_metrics_extra_shard(acmeva_metrics *m, int which)
{
    return which >= 0 && which < ACMEVA_MSHARD_EXTRA ? &m->shards[m->loop_threads + which]
                                                      : NULL;
}

int acmeva_metrics_label_value(const acmeva_metrics *m, acmeva_mlabel l, const char *value)
{
    if (l >= ACMEVA_ML_COUNT || value == NULL)
        return -1;
    for (size_t i = 0; i < m->label_n[l]; i++)
        if (strcmp(m->label_values[l][i], value) == 0)
            return (int)i;
    return -1;
}

/* slot returns the first slot of the series of |f| with |labels|, or SIZE_MAX for an index out
 * of its set. */
static size_t slot(const acmeva_metrics *m, acmeva_metric f, const unsigned *labels)
{
    if (f >= ACMEVA_M_COUNT)
        return SIZE_MAX;
    const family_def *d = &family_defs[f];
    size_t idx = 0;
    for (size_t k = 0; k < d->n_labels; k++) {
        size_t n = m->label_n[d->labels[k]];
        if (labels == NULL || labels[k] >= n)
            return SIZE_MAX;
        idx = idx * n + labels[k];
    }
    return m->offset[f] + idx * m->per_series[f];
}

/* The single writer of a shard reads and stores: no atomic read-modify-write is needed, and a
 * relaxed store is a plain store on every machine we run on. */
static inline void bump(_Atomic uint64_t *p, uint64_t n)
{
    atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void store(_Atomic uint64_t *p, uint64_t v)
{
    atomic_store_explicit(p, v, memory_order_relaxed);
}

static inline uint64_t load(const _Atomic uint64_t *p)
{
    return atomic_load_explicit((_Atomic uint64_t *)p, memory_order_relaxed);
}

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

void acmeva_mshard_add(acmeva_mshard *s, acmeva_metric f, const unsigned *labels, uint64_t n)
{
    size_t i = slot(s->m, f, labels);
    if (i != SIZE_MAX && family_defs[f].type != MT_HISTOGRAM)
        bump(&s->v[i], n);
}

void acmeva_mshard_set(acmeva_mshard *s, acmeva_metric f, const unsigned *labels, int64_t v)
{
    size_t i = slot(s->m, f, labels);
    if (i != SIZE_MAX && family_defs[f].type != MT_HISTOGRAM)
        store(&s->v[i], (uint64_t)v);
}

void acmeva_mshard_observe(acmeva_mshard *s, acmeva_metric f, const unsigned *labels,
                           double value)
{
    size_t i = slot(s->m, f, labels);
    if (i == SIZE_MAX || family_defs[f].type != MT_HISTOGRAM || !(value >= 0))
        return;
    const family_def *d = &family_defs[f];
    size_t b = 0;
    while (b < d->n_bounds && value > d->bounds[b])
        b++;
    bump(&s->v[i + b], 1);
    _Atomic uint64_t *sum = &s->v[i + d->n_bounds + 1];
    store(sum, dbits(bitsd(load(sum)) + value));
    bump(&s->v[i + d->n_bounds + 2], 1);
}

void acmeva_mshard_set_histogram(acmeva_mshard *s, acmeva_metric f, const unsigned *labels,
                                 const uint64_t *buckets, size_t n_buckets, double sum)
{
    size_t i = slot(s->m, f, labels);
    const family_def *d = &family_defs[f];
    if (i == SIZE_MAX || d->type != MT_HISTOGRAM || n_buckets != d->n_bounds + 1)
        return;
    uint64_t count = 0;
    for (size_t b = 0; b < n_buckets; b++) {
        store(&s->v[i + b], buckets[b]);
        count += buckets[b];
    }
    store(&s->v[i + d->n_bounds + 1], dbits(sum));
    store(&s->v[i + d->n_bounds + 2], count);
}

int acmeva_mshard_dns_stats(acmeva_mshard *s, const uint64_t *queries, size_t n_qtypes,
                            size_t n_rcodes, const uint64_t *dropped, size_t n_dropped,
                            const uint64_t *buckets, size_t n_buckets, double sum)
{
    const acmeva_metrics *m = s->m;
    if (n_qtypes != m->label_n[ACMEVA_ML_QTYPE] || n_rcodes != m->label_n[ACMEVA_ML_RCODE] ||
        n_dropped != m->label_n[ACMEVA_ML_DNS_DROP] ||
        n_buckets != family_defs[ACMEVA_M_DNS_QUERY_DURATION].n_bounds + 1)
        return -1;
    for (unsigned q = 0; q < n_qtypes; q++)
        for (unsigned r = 0; r < n_rcodes; r++)
            acmeva_mshard_set(s, ACMEVA_M_DNS_QUERIES, (const unsigned[]){q, r},
                              (int64_t)queries[q * n_rcodes + r]);
    for (unsigned k = 0; k < n_dropped; k++)
        acmeva_mshard_set(s, ACMEVA_M_DNS_REPLIES_DROPPED, (const unsigned[]){k},
                          (int64_t)dropped[k]);
    acmeva_mshard_set_histogram(s, ACMEVA_M_DNS_QUERY_DURATION, NULL, buckets, n_buckets, sum);
    return 0;
}

/* ---- reading ----------------------------------------------------------------------------------- */

/* value_at sums slot |i| over the shards as an integer (or takes the loop threads' minimum). */
static int64_t value_at(const acmeva_metrics *m, acmeva_metric f, size_t i)
{
    if (family_defs[f].min) {
        int64_t v = 0;
        for (size_t k = 0; k < m->loop_threads; k++) {
            int64_t x = (int64_t)load(&m->shards[k].v[i]);
            if (k == 0 || x < v)
                v = x;
        }
        return v;
    }
    uint64_t v = 0;
    for (size_t k = 0; k < m->n_shards; k++)
        v += load(&m->shards[k].v[i]);
    return (int64_t)v;
}

static double sum_at(const acmeva_metrics *m, size_t i)
{
    double v = 0;
    for (size_t k = 0; k < m->n_shards; k++)
        v += bitsd(load(&m->shards[k].v[i]));
    return v;
}

int64_t acmeva_metrics_get(const acmeva_metrics *m, acmeva_metric f, const unsigned *labels)
{
    size_t i = slot(m, f, labels);
    if (i == SIZE_MAX || family_defs[f].type == MT_HISTOGRAM)
        return 0;
    return value_at(m, f, i);
}

/* ---- the text format ------------------------------------------------------------------------- */

typedef acmeva_strbuf obuf;
#define put acmeva_strbuf_put
#define puts_ acmeva_strbuf_puts

/* put_escaped writes |s| with '\\' and newline escaped, and '"' too inside a label value
 * (the text exposition format 0.0.4). */
static void put_escaped(obuf *b, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            puts_(b, "\\\\");
        else if (*s == '\n')
            puts_(b, "\\n");
        else if (*s == '"' && quote)
            puts_(b, "\\\"");
        else
            put(b, s, 1);
    }
}

/* fmt_double writes the shortest decimal that reads back as |d| ("+Inf" for infinity). */
static void fmt_double(char *buf, size_t len, double d)
{
    if (isinf(d)) {
        snprintf(buf, len, d > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (isnan(d)) {
        snprintf(buf, len, "NaN");
        return;
    }
    /* 15 digits print every bucket bound and most sums plainly ("60", "0.005"); 17 always
     * read back exactly. */
    snprintf(buf, len, "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, len, "%.17g", d);
}

/* put_labels writes {a="x",b="y"[,le="..."]} for series |idx| of |f| (nothing when there are
 * no labels and no |le|). */
static void put_labels(obuf *b, const acmeva_metrics *m, const family_def *d, size_t idx,
                       const char *le)
{
    if (d->n_labels == 0 && le == NULL)
        return;
    size_t vals[MAX_LABELS];
    for (size_t k = d->n_labels; k-- > 0;) {
        size_t n = m->label_n[d->labels[k]];
        vals[k] = idx % n;
        idx /= n;
    }
    put(b, "{", 1);
    for (size_t k = 0; k < d->n_labels; k++) {
        if (k > 0)
            put(b, ",", 1);
        puts_(b, label_defs[d->labels[k]].name);
        puts_(b, "=\"");
        put_escaped(b, m->label_values[d->labels[k]][vals[k]], 1);
        put(b, "\"", 1);
    }
    if (le != NULL) {
        if (d->n_labels > 0)
            put(b, ",", 1);
        puts_(b, "le=\"");
        puts_(b, le);
        put(b, "\"", 1);
    }
    put(b, "}", 1);
}

static void put_int(obuf *b, int64_t v, int is_unsigned)
{
    char num[32];
    if (is_unsigned)
        snprintf(num, sizeof(num), " %llu\n", (unsigned long long)v);
    else
        snprintf(num, sizeof(num), " %lld\n", (long long)v);
    puts_(b, num);
}

static void render_family(obuf *b, const acmeva_metrics *m, acmeva_metric f)
{
    const family_def *d = &family_defs[f];
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    int header = 0;
    for (size_t s = 0; s < m->series[f]; s++) {
        size_t base = m->offset[f] + s * m->per_series[f];
        int64_t v = 0;
        if (d->type == MT_HISTOGRAM)
            v = value_at(m, f, base + d->n_bounds + 2); /* the count */
        else
            v = value_at(m, f, base);
        /* A labelled counter or histogram series appears once it counted something. */
        if (v == 0 && d->n_labels > 0 && d->type != MT_GAUGE)
            continue;
        if (!header) {
            puts_(b, "# HELP ");
            puts_(b, d->name);
            put(b, " ", 1);
            put_escaped(b, d->help, 0);
            puts_(b, "\n# TYPE ");
            puts_(b, d->name);
            put(b, " ", 1);
            puts_(b, type_names[d->type]);
            put(b, "\n", 1);
            header = 1;
        }
        if (d->type != MT_HISTOGRAM) {
            puts_(b, d->name);
            put_labels(b, m, d, s, NULL);
            put_int(b, v, d->type == MT_COUNTER);
            continue;
        }
        uint64_t cum = 0;
        char le[40];
        for (size_t k = 0; k <= d->n_bounds; k++) {
            cum += (uint64_t)value_at(m, f, base + k);
            if (k < d->n_bounds)
                fmt_double(le, sizeof(le), d->bounds[k]);
            else
                snprintf(le, sizeof(le), "+Inf");
            puts_(b, d->name);
            puts_(b, "_bucket");
            put_labels(b, m, d, s, le);
            put_int(b, (int64_t)cum, 1);
        }
        char num[48];
        fmt_double(num, sizeof(num), sum_at(m, base + d->n_bounds + 1));
        puts_(b, d->name);
        puts_(b, "_sum");
        put_labels(b, m, d, s, NULL);
        put(b, " ", 1);
        puts_(b, num);
        put(b, "\n", 1);
        puts_(b, d->name);
        puts_(b, "_count");
        put_labels(b, m, d, s, NULL);
        /* The count is the sum of the buckets read above, so that the two always agree even
         * while a writer is between its bucket and its count. */
        put_int(b, (int64_t)cum, 1);
    }
}

char *acmeva_metrics_render(const acmeva_metrics *m, size_t *len)
{
    obuf b = {NULL, 0, 0, 16384, 0};
    for (int f = 0; f < ACMEVA_M_COUNT; f++)
        render_family(&b, m, (acmeva_metric)f);
    return acmeva_strbuf_take(&b, len);
}
