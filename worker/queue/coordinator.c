/*
 * acmeva-coordinator: multi-perspective issuance corroboration (DESIGN.md "Multi-perspective
 * corroboration (MPIC)", CA/B Forum BR 3.2.2.9). It reads MPIC jobs from acmeva:v1:mpic
 * (group acmeva-coordinator), fans each out as sub-jobs to the primary perspective and to the
 * remote perspectives (ordinary acmeva-worker processes reading acmeva:v1:jobs:<name>),
 * collects their results from a reply stream of its own, decides by the BR rule (mpic.c) and
 * posts one result on the job's replyTo.
 *
 * Built from the same parts as acmeva-worker: daemon.c (threads, signals, grace),
 * streamreader.c (the MPIC stream), redisconn.c (connections), outbox.c (the final result with
 * the acknowledgement). Each thread has three connections: the stream reader's, a writer
 * (sub-jobs, results, upkeep of the reply stream) and one that blocks on the reply stream.
 *
 * Stateless like the workers: everything about a job in flight lives in memory and in its
 * pending entry. A coordinator that dies leaves its MPIC jobs pending; another claims them and
 * fans them out anew, with a fresh nonce in every sub-job id, so that a corroboration from an
 * earlier attempt is never reused (BR 3.2.2.9: retries may not reuse corroborations). Results
 * that come for sub-jobs nobody waits for (late, duplicated, or from a dead coordinator's
 * fan-out) are counted and dropped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/mem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "acmeva/proto.h"
#include "brrules.h"
#include "daemon.h"
#include "mpic.h"
#include "outbox.h"
#include "queue.h"
#include "redisconn.h"
#include "streamreader.h"

#define CONNECT_TIMEOUT_MS 5000
#define CONSUMER_MAX 160
#define REASON_MAX 512
#define MAX_THREADS 256
#define MAX_SUBS (1 + ACMEVA_COORD_MAX_REMOTES)
#define RESULTS_COUNT "1000"
#define UPKEEP_MS 5000
#define REPLY_TTL_S "600" /* a dead coordinator's reply stream goes away after this */
#define DETAIL_MAX 1024
#define DISAGREEMENT_MAX 400
#define FDS_PER_JOB 1
#define FDS_BASE 64

typedef struct coord coord;
typedef struct cthread cthread;
typedef struct mjob mjob;
typedef struct sub sub;

/* One perspective asked (or to be asked) for one MPIC job. */
struct sub {
    mjob *m;
    int slot;         /* 0: the primary; 1..n: the remotes in the order chosen */
    const char *name; /* the perspective */
    acmeva_rir rir;
    char id[ACMEVA_ID_MAX + 1];
    acmeva_mpic_vote vote;
    int asked;     /* its sub-job was handed to Redis (or is on its way) */
    int enqueued;  /* Redis took the XADD */
    int answered;  /* a result came */
    int fail_seq;  /* the order in which remotes failed, from 1 */
    const char *status; /* "valid", "invalid", "timeout" */
    json_t *result;     /* the perspective's result, when one came */
    char *problem_type; /* the problem this perspective counts with (URN) */
    char *problem_detail;
    double duration_ms;
    sub *hnext; /* the thread's id table */
};

typedef enum {
    MJOB_RUNNING, /* sub-jobs out, waiting for answers */
    MJOB_POSTING, /* the final result is in the outbox */
} mjob_state;

struct mjob {
    cthread *t;
    mjob *prev, *next; /* the thread's held list */
    mjob_state state;
    char entry_id[ACMEVA_ENTRY_ID_MAX];
    char *raw;
    size_t raw_len;
    int attempt;
    uint64_t touched;
    json_t *doc; /* the job as received */
    acmeva_job *job;
    int64_t started_ms;
    uint64_t start_hr;
    int64_t sub_deadline_ms; /* deadlineMs of the sub-jobs */
    int n;                   /* remotes asked */
    int required;
    sub subs[MAX_SUBS];
    int remotes_out; /* the remotes' sub-jobs have been sent */
    int xadds;       /* sub-job XADDs whose replies are outstanding */
    int fails;       /* remotes failed so far */
    int decided;
    acmeva_mpic_outcome outcome;
    const char *why;
    uv_timer_t *timer; /* the decision deadline, then the stragglers' grace */
    int dead;          /* posted or dropped: freed once the last XADD reply is in */
    acmeva_outbox_item item;
};

struct cthread {
    coord *c;
    acmeva_dthread *d;
    int index;
    char consumer[CONSUMER_MAX];
    acmeva_sreader reader;
    acmeva_rconn writer, results;
    acmeva_outbox outbox;
    char reply_stream[ACMEVA_REPLY_TO_MAX + 1];
    char cursor[ACMEVA_ENTRY_ID_MAX];
    int results_reading;
    uv_timer_t upkeep;
    sub **table;
    size_t table_size;
    mjob *held_head;
    size_t held;
    int goodbye;
    uint64_t n_done, n_late, n_dup, n_foreign;
};

struct coord {
    const acmeva_coordinator_options *o;
    acmeva_daemon d;
    acmeva_rconn_settings rs;
    char redis_masked[512];
    int64_t claim_idle_ms;
    acmeva_rir rirs[ACMEVA_COORD_MAX_REMOTES];
    const char *names[ACMEVA_COORD_MAX_REMOTES];
    int per_job;     /* remotes asked per job by default */
    int min_remotes; /* in force */
    cthread *threads;
};

static void maybe_finish(cthread *t);
static void evaluate(mjob *m);
static void results_kick(cthread *t);

/* ---- small helpers ------------------------------------------------------------------------ */

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int replace_str(char **dst, const char *src)
{
    char *s = xstrdup(src);
    if (src != NULL && s == NULL)
        return -1;
    free(*dst);
    *dst = s;
    return 0;
}

static void timer_free_cb(uv_handle_t *h)
{
    free(h);
}

static uv_timer_t *timer_new(uv_loop_t *loop, void *data)
{
    uv_timer_t *t = malloc(sizeof(*t));
    if (t == NULL)
        return NULL;
    uv_timer_init(loop, t);
    t->data = data;
    return t;
}

static void timer_free(uv_timer_t *t)
{
    if (t != NULL)
        uv_close((uv_handle_t *)t, timer_free_cb);
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void table_add(cthread *t, sub *s)
{
    size_t b = fnv(s->id) & (t->table_size - 1);
    s->hnext = t->table[b];
    t->table[b] = s;
}

static void table_del(cthread *t, sub *s)
{
    size_t b = fnv(s->id) & (t->table_size - 1);
    for (sub **pp = &t->table[b]; *pp != NULL; pp = &(*pp)->hnext)
        if (*pp == s) {
            *pp = s->hnext;
            return;
        }
}

static sub *table_find(cthread *t, const char *id)
{
    size_t b = fnv(id) & (t->table_size - 1);
    for (sub *s = t->table[b]; s != NULL; s = s->hnext)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

/* ---- MPIC jobs ---------------------------------------------------------------------------- */

static mjob *mjob_find(cthread *t, const char *id)
{
    for (mjob *m = t->held_head; m != NULL; m = m->next)
        if (strcmp(m->entry_id, id) == 0)
            return m;
    return NULL;
}

static mjob *mjob_new(cthread *t, const acmeva_sentry *e)
{
    mjob *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    if (e->raw != NULL) {
        m->raw = malloc(e->raw_len + 1);
        if (m->raw == NULL) {
            free(m);
            return NULL;
        }
        memcpy(m->raw, e->raw, e->raw_len);
        m->raw[e->raw_len] = '\0';
        m->raw_len = e->raw_len;
    }
    m->t = t;
    snprintf(m->entry_id, sizeof(m->entry_id), "%s", e->id);
    m->touched = uv_now(&t->d->loop);
    m->attempt = e->attempt;
    m->started_ms = acmeva_wall_ms();
    m->start_hr = uv_hrtime();
    m->next = t->held_head;
    if (t->held_head != NULL)
        t->held_head->prev = m;
    t->held_head = m;
    t->held++;
    return m;
}

/* mjob_release frees |m| once no XADD reply can still reach it. */
static void mjob_release(mjob *m)
{
    if (m->xadds > 0)
        return;
    for (int i = 0; i <= m->n; i++) {
        json_decref(m->subs[i].result);
        free(m->subs[i].problem_type);
        free(m->subs[i].problem_detail);
    }
    json_decref(m->doc);
    acmeva_job_free(m->job);
    acmeva_outbox_item_clear(&m->item);
    free(m->raw);
    free(m);
}

/* mjob_free forgets a held MPIC job (it stays pending unless its EXEC went through). */
static void mjob_free(mjob *m)
{
    cthread *t = m->t;
    if (m->prev != NULL)
        m->prev->next = m->next;
    else
        t->held_head = m->next;
    if (m->next != NULL)
        m->next->prev = m->prev;
    t->held--;
    for (int i = 0; i <= m->n; i++)
        if (m->subs[i].id[0] != '\0')
            table_del(t, &m->subs[i]);
    timer_free(m->timer);
    m->timer = NULL;
    m->dead = 1;
    mjob_release(m);
}

static void posted(acmeva_outbox_item *it, int ok)
{
    mjob *m = (mjob *)((char *)it - offsetof(mjob, item));
    cthread *t = m->t;
    if (ok)
        t->n_done++;
    mjob_free(m);
    acmeva_sreader_kick(&t->reader);
    maybe_finish(t);
}

static void log_result(const mjob *m, const char *id, const char *status, const char *error,
                       const char *quorum, const char *reason)
{
    ACMEVA_LOG("info", "mpic decision", ACMEVA_LS("id", id), ACMEVA_LS("status", status),
               ACMEVA_LS("error", error), ACMEVA_LS("quorum", quorum),
               ACMEVA_LI("attempt", m->attempt), ACMEVA_LS("entry", m->entry_id),
               ACMEVA_LI("thread", m->t->index),
               ACMEVA_LD("duration_ms", (double)(uv_hrtime() - m->start_hr) / 1e6),
               ACMEVA_LS(reason ? "reason" : NULL, reason));
}

/* post_json queues |json| (taken) as the job's result. */
static void post_json(mjob *m, char *json)
{
    m->state = MJOB_POSTING;
    m->item.result = json;
    m->item.ack_id = m->entry_id;
    m->item.raw = m->raw;
    m->item.raw_len = m->raw_len;
    m->item.done = posted;
    timer_free(m->timer);
    m->timer = NULL;
    acmeva_outbox_push(&m->t->outbox, &m->item);
}

/* post_result writes a result built without any perspective (malformed, late, too many
 * deliveries) and queues it. Takes |r|. */
static void post_result(mjob *m, acmeva_result *r, const char *reason)
{
    cthread *t = m->t;
    r->attempt = m->attempt;
    r->started_ms = m->started_ms;
    char *json = NULL;
    if (replace_str(&r->worker, t->consumer) < 0 ||
        replace_str(&r->perspective, t->c->o->primary) < 0 || replace_str(&r->rir, "") < 0 ||
        (json = acmeva_result_to_json(r)) == NULL) {
        ACMEVA_LOG("error", "no memory for a result", ACMEVA_LS("entry", m->entry_id));
        acmeva_result_free(r);
        mjob_free(m);
        return;
    }
    log_result(m, r->id, r->valid ? "valid" : "invalid",
               r->valid ? NULL : acmeva_problem_urn(r->problem.type), NULL, reason);
    acmeva_result_free(r);
    post_json(m, json);
}

/* reject_malformed: a malformed result on the default results stream and a dead letter
 * (DESIGN.md "Job"), never on the job's own replyTo. */
static void reject_malformed(mjob *m, const char *id, const char *field, const char *detail)
{
    acmeva_job_error err;
    memset(&err, 0, sizeof(err));
    err.id = (char *)id; /* borrowed: not cleared below */
    snprintf(err.field, sizeof(err.field), "%s", field);
    snprintf(err.detail, sizeof(err.detail), "%s", detail);
    char reason[REASON_MAX];
    snprintf(reason, sizeof(reason), "malformed: %s", err.detail);
    acmeva_result *r = acmeva_result_new_malformed(&err);
    if (r == NULL || replace_str(&m->item.reply_to, ACMEVA_DEFAULT_REPLY_TO) < 0 ||
        replace_str(&m->item.dead_reason, reason) < 0) {
        acmeva_result_free(r);
        mjob_free(m);
        return;
    }
    post_result(m, r, reason);
}

static void answer_unvalidated(mjob *m, const char *detail, const char *dead)
{
    acmeva_result *r = acmeva_result_new();
    if (r == NULL || acmeva_result_set_job(r, m->job) < 0 ||
        acmeva_result_set_problem(r, ACMEVA_PROB_SERVER_INTERNAL, detail) < 0 ||
        (dead != NULL && replace_str(&m->item.dead_reason, dead) < 0)) {
        acmeva_result_free(r);
        mjob_free(m);
        return;
    }
    post_result(m, r, dead ? dead : detail);
}

/* ---- the final result --------------------------------------------------------------------- */

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* collect appends the strings of |key| in every validation record of |result| to |out|. */
static void collect(json_t *result, const char *key, json_t *out)
{
    json_t *recs = json_object_get(result, "validationRecord"), *rec, *v;
    size_t i, j;
    json_array_foreach(recs, i, rec)
    {
        json_array_foreach(json_object_get(rec, key), j, v)
        {
            int seen = 0;
            json_t *w;
            size_t k;
            json_array_foreach(out, k, w) seen |= json_equal(v, w);
            if (!seen && json_is_string(v))
                json_array_append(out, v);
        }
    }
}

/* join_strings writes the strings of |a| as "x, y" (quoted when |quote|) into |buf|. */
static void join_strings(json_t *a, int quote, char *buf, size_t len)
{
    size_t off = 0, i;
    json_t *v;
    buf[0] = '\0';
    if (json_array_size(a) == 0) {
        snprintf(buf, len, "nothing");
        return;
    }
    json_array_foreach(a, i, v)
    {
        if (off + 1 >= len)
            break;
        int k = snprintf(buf + off, len - off, quote ? "%s\"%s\"" : "%s%s", i ? ", " : "",
                         json_string_value(v));
        if (k < 0)
            break;
        off += (size_t)k;
    }
}

static int same_set(json_t *a, json_t *b)
{
    if (json_array_size(a) != json_array_size(b))
        return 0;
    size_t i, j;
    json_t *v, *w;
    json_array_foreach(a, i, v)
    {
        int found = 0;
        json_array_foreach(b, j, w) found |= json_equal(v, w);
        if (!found)
            return 0;
    }
    return 1;
}

static void add_line(json_t *lines, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_line(json_t *lines, const char *fmt, ...)
{
    char buf[DISAGREEMENT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    json_array_append_new(lines, json_string(buf));
}

/* disagree adds what remote |s| saw differently from the primary, one line each: addresses,
 * TXT values, the CAA set, the outcome. This is how a BGP hijack or DNS poisoning seen from
 * some perspectives shows itself. */
static void disagree(const sub *p, const sub *s, json_t *lines)
{
    if (s->result == NULL || p->result == NULL)
        return;
    char a[160], b[160];
    static const char *const keys[] = {"addressesResolved", "records"};
    static const char *const what[][2] = {{"resolved", "resolved"}, {"saw TXT", "saw"}};
    for (int k = 0; k < 2; k++) {
        json_t *pa = json_array(), *sa = json_array();
        collect(p->result, keys[k], pa);
        collect(s->result, keys[k], sa);
        if (pa != NULL && sa != NULL && !same_set(pa, sa) &&
            (json_array_size(pa) > 0 || json_array_size(sa) > 0)) {
            join_strings(sa, k == 1, a, sizeof(a));
            join_strings(pa, k == 1, b, sizeof(b));
            add_line(lines, "%s: %s %s where the primary %s %s", s->name, what[k][0], a,
                     what[k][1], b);
        }
        json_decref(pa);
        json_decref(sa);
    }
    json_t *pc = json_object_get(p->result, "caa"), *sc = json_object_get(s->result, "caa");
    if (pc != NULL && sc != NULL) {
        const char *pf = jstr(pc, "foundAt"), *sf = jstr(sc, "foundAt");
        json_t *pr = json_object_get(pc, "records"), *sr = json_object_get(sc, "records");
        int differ = (pf == NULL) != (sf == NULL) || (pf != NULL && strcmp(pf, sf) != 0) ||
                     !(pr == NULL ? sr == NULL || json_array_size(sr) == 0
                                  : sr != NULL && same_set(pr, sr));
        if (differ) {
            join_strings(sr, 1, a, sizeof(a));
            join_strings(pr, 1, b, sizeof(b));
            add_line(lines, "%s: found CAA at %s (%s) where the primary found it at %s (%s)",
                     s->name, sf ? sf : "no name", sr ? a : "none", pf ? pf : "no name",
                     pr ? b : "none");
        }
    }
    const char *ps = jstr(p->result, "status"), *ss = jstr(s->result, "status");
    const char *pt = jstr(json_object_get(p->result, "error"), "type");
    const char *st = jstr(json_object_get(s->result, "error"), "type");
    if (ps != NULL && ss != NULL &&
        (strcmp(ps, ss) != 0 || (pt != NULL && st != NULL && strcmp(pt, st) != 0))) {
        const char *sd = jstr(json_object_get(s->result, "error"), "detail");
        char mine[DISAGREEMENT_MAX / 2] = "", theirs[96] = "";
        if (st != NULL)
            snprintf(mine, sizeof(mine), " (%s: %s)", st, sd ? sd : "");
        if (pt != NULL)
            snprintf(theirs, sizeof(theirs), " (%s)", pt);
        add_line(lines, "%s: %s%s where the primary was %s%s", s->name, ss, mine, ps, theirs);
    }
}

static json_t *problem_json(const char *type, const char *detail)
{
    int status = 500;
    static const struct {
        const char *suffix;
        int status;
    } st[] = {{"unauthorized", 403}, {"caa", 403},       {"connection", 400},
              {"dns", 400},          {"tls", 400},       {"malformed", 400},
              {"rejectedIdentifier", 400}, {"serverInternal", 500}};
    const char *name = type ? strrchr(type, ':') : NULL;
    for (size_t i = 0; name != NULL && i < sizeof(st) / sizeof(st[0]); i++)
        if (strcmp(name + 1, st[i].suffix) == 0)
            status = st[i].status;
    return json_pack("{s:s, s:s, s:i}", "type",
                     type ? type : acmeva_problem_urn(ACMEVA_PROB_SERVER_INTERNAL), "detail",
                     detail ? detail : "", "status", status);
}

/* final_result builds the job's result: the primary's result with the decision's status and
 * error, and the "mpic" object. Returns the compact JSON, or NULL on no memory. */
static char *final_result(mjob *m)
{
    cthread *t = m->t;
    sub *p = &m->subs[0];
    json_t *doc = NULL;
    if (p->result != NULL) {
        doc = json_deep_copy(p->result);
    } else {
        /* The primary never answered: a result from the job itself. */
        acmeva_result *r = acmeva_result_new();
        char *js = NULL;
        if (r != NULL && acmeva_result_set_job(r, m->job) == 0 &&
            replace_str(&r->perspective, p->name) == 0 && replace_str(&r->rir, "") == 0 &&
            replace_str(&r->worker, t->consumer) == 0 &&
            acmeva_result_set_problem(r, ACMEVA_PROB_SERVER_INTERNAL, "placeholder") == 0)
            js = acmeva_result_to_json(r);
        acmeva_result_free(r);
        if (js != NULL)
            doc = json_loads(js, 0, NULL);
        free(js);
    }
    if (doc == NULL)
        return NULL;
    json_object_set_new(doc, "id", json_string(m->job->id));
    json_object_set_new(doc, "attempt", json_integer(m->attempt));
    json_object_set_new(doc, "startedMs", json_integer(m->started_ms));
    json_object_set_new(doc, "durationMs",
                        json_real((double)((uv_hrtime() - m->start_hr) / 100000) / 10.0));

    /* The decision's status and problem. */
    int valid = m->outcome == ACMEVA_MPIC_VALID;
    json_object_set_new(doc, "status", json_string(valid ? "valid" : "invalid"));
    if (valid) {
        json_object_del(doc, "error");
    } else if (m->why != NULL && strcmp(m->why, "primary") == 0) {
        if (p->result == NULL || json_object_get(doc, "error") == NULL)
            json_object_set_new(doc, "error", problem_json(p->problem_type, p->problem_detail));
    } else {
        /* Boulder's wording: the first remote that failed, "During secondary validation: ". */
        const sub *first = NULL;
        for (int i = 1; i <= m->n; i++)
            if (m->subs[i].fail_seq > 0 && (first == NULL || m->subs[i].fail_seq < first->fail_seq))
                first = &m->subs[i];
        char detail[DETAIL_MAX];
        const char *type;
        if (first != NULL) {
            type = first->problem_type;
            snprintf(detail, sizeof(detail), "During secondary validation: %s",
                     first->problem_detail ? first->problem_detail : "");
        } else {
            acmeva_rir rirs[5];
            acmeva_mpic_vote votes[ACMEVA_COORD_MAX_REMOTES];
            acmeva_rir all[ACMEVA_COORD_MAX_REMOTES];
            for (int i = 1; i <= m->n; i++) {
                votes[i - 1] = m->subs[i].vote;
                all[i - 1] = m->subs[i].rir;
            }
            size_t k = acmeva_mpic_passed_rirs(m->n, votes, all, rirs);
            type = acmeva_problem_urn(ACMEVA_PROB_SERVER_INTERNAL);
            snprintf(detail, sizeof(detail),
                     "During secondary validation: the corroborating perspectives span %zu "
                     "RIR%s, fewer than the 2 BR 3.2.2.9 requires",
                     k, k == 1 ? "" : "s");
        }
        json_object_set_new(doc, "error", problem_json(type, detail));
    }

    /* The mpic object. */
    json_t *mp = json_object(), *persp = json_array(), *lines = json_array(), *rirs = json_array();
    int pass = 0;
    acmeva_mpic_vote votes[ACMEVA_COORD_MAX_REMOTES];
    acmeva_rir all[ACMEVA_COORD_MAX_REMOTES];
    for (int i = 1; i <= m->n; i++) {
        sub *s = &m->subs[i];
        votes[i - 1] = s->vote;
        all[i - 1] = s->rir;
        if (!s->asked)
            continue;
        pass += s->vote == ACMEVA_MPIC_PASS;
        json_t *addrs = json_array();
        if (s->result != NULL)
            collect(s->result, "addressesResolved", addrs);
        json_t *err = json_null();
        if (s->vote != ACMEVA_MPIC_PASS && s->problem_type != NULL)
            err = problem_json(s->problem_type, s->problem_detail);
        json_array_append_new(
            persp, json_pack("{s:s, s:s, s:s, s:f, s:o, s:o}", "perspective", s->name, "rir",
                             acmeva_rir_name(s->rir), "status", s->status ? s->status : "timeout",
                             "durationMs", s->duration_ms, "error", err, "addressesResolved",
                             addrs));
        disagree(p, s, lines);
    }
    acmeva_rir passed[5];
    size_t k = acmeva_mpic_passed_rirs(m->n, votes, all, passed);
    for (size_t i = 0; i < k; i++)
        json_array_append_new(rirs, json_string(acmeva_rir_name(passed[i])));
    char quorum[32];
    snprintf(quorum, sizeof(quorum), "%d/%d", pass, m->n);
    json_object_set_new(mp, "quorum", json_string(quorum));
    json_object_set_new(mp, "required", json_integer(m->required));
    json_object_set_new(mp, "primary",
                        json_string(p->status ? p->status : (p->answered ? "invalid" : "timeout")));
    json_object_set_new(mp, "passedRirs", rirs);
    json_object_set_new(mp, "perspectives", persp);
    json_object_set_new(mp, "disagreements", lines);
    json_object_set_new(doc, "mpic", mp);
    char *out = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    log_result(m, m->job->id, valid ? "valid" : "invalid",
               valid ? NULL : jstr(json_object_get(doc, "error"), "type"), quorum, NULL);
    json_decref(doc);
    return out;
}

static void post_decision(mjob *m)
{
    for (int i = 0; i <= m->n; i++) {
        sub *s = &m->subs[i];
        if (s->asked && !s->answered && s->status == NULL)
            s->status = "timeout"; /* a straggler cut off after the decision */
    }
    char *json = final_result(m);
    if (json == NULL) {
        ACMEVA_LOG("error", "no memory for a result", ACMEVA_LS("entry", m->entry_id));
        mjob_free(m); /* stays pending */
        return;
    }
    post_json(m, json);
}

/* ---- fan-out --------------------------------------------------------------------------- */

static void set_problem(sub *s, const char *type, const char *detail)
{
    free(s->problem_type);
    free(s->problem_detail);
    s->problem_type = xstrdup(type);
    s->problem_detail = xstrdup(detail);
}

/* sub_fail counts |s| as failed with a problem of this machine's making (not answered, not
 * enqueued, a result that does not belong). */
static void sub_fail(sub *s, const char *status, const char *detail)
{
    mjob *m = s->m;
    if (s->vote != ACMEVA_MPIC_WAITING)
        return;
    s->vote = ACMEVA_MPIC_FAIL;
    s->status = status;
    if (s->slot > 0)
        s->fail_seq = ++m->fails;
    set_problem(s, acmeva_problem_urn(ACMEVA_PROB_SERVER_INTERNAL), detail);
}

static void xadd_cb(acmeva_rconn *c, redisReply *r, void *priv)
{
    sub *s = priv;
    mjob *m = s->m;
    m->xadds--;
    if (m->dead) {
        mjob_release(m);
        return;
    }
    if (r == NULL) {
        s->asked = 0; /* the connection went: sent again when it is back */
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        char detail[DETAIL_MAX];
        snprintf(detail, sizeof(detail), "the sub-job for perspective %s could not be enqueued: %s",
                 s->name, r->str ? r->str : "error");
        ACMEVA_LOG("error", "could not enqueue a sub-job", ACMEVA_LS("perspective", s->name),
                   ACMEVA_LS("error", r->str), ACMEVA_LS("entry", m->entry_id));
        sub_fail(s, "invalid", detail);
        evaluate(m);
        return;
    }
    s->enqueued = 1;
}

/* send_sub enqueues the sub-job of |s| on its perspective's jobs stream: the job as received,
 * with its own id, the coordinator's reply stream and the sub-job deadline. */
static void send_sub(sub *s)
{
    mjob *m = s->m;
    cthread *t = m->t;
    if (s->asked || s->vote != ACMEVA_MPIC_WAITING || !acmeva_rconn_ready(&t->writer))
        return;
    json_t *doc = json_copy(m->doc); /* shallow: only top-level members are replaced */
    char *body = NULL;
    if (doc != NULL && json_object_set_new(doc, "id", json_string(s->id)) == 0 &&
        json_object_set_new(doc, "replyTo", json_string(t->reply_stream)) == 0 &&
        json_object_set_new(doc, "deadlineMs", json_integer(m->sub_deadline_ms)) == 0) {
        json_object_del(doc, "mpic");
        body = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    json_decref(doc);
    if (body == NULL)
        return; /* no memory: retried from the writer's next ready, or times out */
    char stream[sizeof(ACMEVA_JOBS_STREAM_PREFIX) + ACMEVA_PERSPECTIVE_MAX];
    char maxlen[24];
    snprintf(stream, sizeof(stream), "%s%s", ACMEVA_JOBS_STREAM_PREFIX, s->name);
    snprintf(maxlen, sizeof(maxlen), "%lld", (long long)t->c->o->d.results_maxlen);
    const char *argv[] = {"XADD", stream, "MAXLEN", "~", maxlen, "*", "job", body};
    if (acmeva_rconn_command(&t->writer, xadd_cb, s, 8, argv, NULL) == 0) {
        s->asked = 1;
        m->xadds++;
    }
    free(body);
}

static void send_remotes(mjob *m)
{
    m->remotes_out = 1;
    for (int i = 1; i <= m->n; i++)
        send_sub(&m->subs[i]);
}

static void timer_cb(uv_timer_t *h);

static void arm(mjob *m, uint64_t ms)
{
    if (m->timer == NULL)
        m->timer = timer_new(&m->t->d->loop, m);
    if (m->timer != NULL)
        uv_timer_start(m->timer, timer_cb, ms, 0);
}

/* evaluate applies the rule to the votes known now: sends the remotes once the primary passed
 * (unless --parallel sent them already), and posts once the outcome is fixed and every
 * perspective asked has answered, or once the stragglers' grace is over. */
static void evaluate(mjob *m)
{
    if (m->state != MJOB_RUNNING)
        return;
    const acmeva_coordinator_options *o = m->t->c->o;
    sub *p = &m->subs[0];
    if (!m->remotes_out && p->vote == ACMEVA_MPIC_PASS)
        send_remotes(m);
    acmeva_mpic_vote votes[ACMEVA_COORD_MAX_REMOTES];
    acmeva_rir rirs[ACMEVA_COORD_MAX_REMOTES];
    int waiting = p->vote == ACMEVA_MPIC_WAITING && p->asked;
    for (int i = 1; i <= m->n; i++) {
        votes[i - 1] = m->subs[i].vote;
        rirs[i - 1] = m->subs[i].rir;
        waiting |= m->subs[i].vote == ACMEVA_MPIC_WAITING && m->subs[i].asked;
    }
    if (!m->decided) {
        acmeva_mpic_outcome out = acmeva_mpic_decide(p->vote, m->n, m->required, votes, rirs,
                                                     &m->why);
        if (out == ACMEVA_MPIC_UNDECIDED)
            return;
        m->decided = 1;
        m->outcome = out;
        if (waiting) {
            /* Decided: the stragglers get --slow-remote-ms to answer (for the record), never
             * beyond the decision deadline. */
            uint64_t left = m->timer != NULL ? uv_timer_get_due_in(m->timer) : 0;
            uint64_t grace = (uint64_t)o->slow_remote_ms;
            arm(m, m->timer != NULL && left < grace ? left : grace);
            return;
        }
    }
    if (!waiting)
        post_decision(m);
}

static void timer_cb(uv_timer_t *h)
{
    mjob *m = h->data;
    if (m->state != MJOB_RUNNING)
        return;
    if (!m->decided) {
        /* The decision deadline: whoever has not answered has failed (BR 3.2.2.9). */
        for (int i = 0; i <= m->n; i++) {
            sub *s = &m->subs[i];
            if (s->vote != ACMEVA_MPIC_WAITING)
                continue;
            if (i > 0 && !m->remotes_out)
                continue; /* never asked: the primary did not pass in time */
            char detail[DETAIL_MAX];
            snprintf(detail, sizeof(detail), "perspective %s did not answer by the deadline",
                     s->name);
            sub_fail(s, "timeout", detail);
        }
        acmeva_mpic_vote votes[ACMEVA_COORD_MAX_REMOTES];
        acmeva_rir rirs[ACMEVA_COORD_MAX_REMOTES];
        for (int i = 1; i <= m->n; i++) {
            votes[i - 1] = m->subs[i].vote == ACMEVA_MPIC_WAITING ? ACMEVA_MPIC_FAIL
                                                                  : m->subs[i].vote;
            rirs[i - 1] = m->subs[i].rir;
        }
        m->outcome = acmeva_mpic_decide(m->subs[0].vote, m->n, m->required, votes, rirs, &m->why);
        if (m->outcome == ACMEVA_MPIC_UNDECIDED) { /* cannot happen: nothing is waiting */
            m->outcome = ACMEVA_MPIC_INVALID;
            m->why = "quorum";
        }
        m->decided = 1;
    }
    post_decision(m);
}

/* ---- results from the perspectives -------------------------------------------------------- */

static void on_sub_result(cthread *t, const char *doc, size_t len)
{
    json_error_t je;
    json_t *r = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &je);
    const char *id = jstr(r, "id");
    sub *s = id ? table_find(t, id) : NULL;
    if (s == NULL) {
        t->n_foreign++; /* late (already decided), from a dead coordinator, or not a result */
        json_decref(r);
        return;
    }
    mjob *m = s->m;
    if (s->answered || m->state != MJOB_RUNNING) {
        t->n_dup++;
        json_decref(r);
        return;
    }
    if (m->decided && s->vote != ACMEVA_MPIC_WAITING) {
        t->n_late++;
        json_decref(r);
        return;
    }
    s->answered = 1;
    s->result = r;
    const char *status = jstr(r, "status"), *persp = jstr(r, "perspective");
    json_t *dur = json_object_get(r, "durationMs");
    s->duration_ms = json_is_number(dur) ? json_number_value(dur) : 0;
    json_t *err = json_object_get(r, "error");
    if (persp == NULL || strcmp(persp, s->name) != 0) {
        /* The sub-job id is unpredictable, so only a worker that read this perspective's stream
         * can answer it; a result naming another perspective is not a corroboration. */
        char detail[DETAIL_MAX];
        snprintf(detail, sizeof(detail),
                 "perspective %s was asked, but the result came from perspective %.64s", s->name,
                 persp ? persp : "(none)");
        sub_fail(s, "invalid", detail);
    } else if (status != NULL && strcmp(status, "valid") == 0) {
        s->vote = ACMEVA_MPIC_PASS;
        s->status = "valid";
    } else {
        s->vote = ACMEVA_MPIC_FAIL;
        s->status = "invalid";
        if (s->slot > 0)
            s->fail_seq = ++m->fails;
        const char *type = jstr(err, "type"), *detail = jstr(err, "detail");
        set_problem(s, type ? type : acmeva_problem_urn(ACMEVA_PROB_SERVER_INTERNAL),
                    detail ? detail : "the perspective's result has no problem document");
    }
    evaluate(m);
}

static void results_cb(acmeva_rconn *c, redisReply *r, void *priv)
{
    cthread *t = priv;
    t->results_reading = 0;
    if (r == NULL)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        ACMEVA_LOG("warn", "XREAD of the reply stream failed", ACMEVA_LS("error", r->str),
                   ACMEVA_LI("thread", t->index));
        acmeva_rconn_retry_ready(c);
        return;
    }
    /* nil: BLOCK timed out; else [[stream, [[id, [field, value, ...]], ...]]] */
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
        r->element[0]->element[1]->type == REDIS_REPLY_ARRAY) {
        redisReply *entries = r->element[0]->element[1];
        for (size_t i = 0; i < entries->elements; i++) {
            redisReply *e = entries->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
                e->element[0]->type != REDIS_REPLY_STRING ||
                e->element[0]->len >= sizeof(t->cursor))
                continue;
            memcpy(t->cursor, e->element[0]->str, e->element[0]->len);
            t->cursor[e->element[0]->len] = '\0';
            redisReply *f = e->element[1];
            for (size_t j = 0; f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements; j += 2)
                if (f->element[j]->type == REDIS_REPLY_STRING &&
                    strcmp(f->element[j]->str, "result") == 0 &&
                    f->element[j + 1]->type == REDIS_REPLY_STRING)
                    on_sub_result(t, f->element[j + 1]->str, f->element[j + 1]->len);
        }
    }
    c->errors = 0;
    results_kick(t);
}

static void results_kick(cthread *t)
{
    if (t->results_reading || !acmeva_rconn_ready(&t->results) || t->d->finished)
        return;
    char block[24];
    snprintf(block, sizeof(block), "%lld", (long long)t->c->o->d.block_ms);
    const char *argv[] = {"XREAD",   "COUNT", RESULTS_COUNT,   "BLOCK",
                          block,     "STREAMS", t->reply_stream, t->cursor};
    if (acmeva_rconn_command(&t->results, results_cb, t, 8, argv, NULL) == 0)
        t->results_reading = 1;
}

static void results_ready(acmeva_rconn *c)
{
    results_kick(c->data);
}

/* upkeep trims what was read from the reply stream and refreshes its time to live, so that
 * the stream of a coordinator that died goes away by itself. */
static void upkeep_cb(uv_timer_t *h)
{
    cthread *t = h->data;
    if (!acmeva_rconn_ready(&t->writer))
        return;
    const char *expire[] = {"EXPIRE", t->reply_stream, REPLY_TTL_S};
    acmeva_rconn_command(&t->writer, NULL, NULL, 3, expire, NULL);
    if (strcmp(t->cursor, "0") != 0) {
        const char *trim[] = {"XTRIM", t->reply_stream, "MINID", t->cursor};
        acmeva_rconn_command(&t->writer, NULL, NULL, 4, trim, NULL);
    }
}

/* ---- taking MPIC jobs --------------------------------------------------------------------- */

/* sub_id derives the id of a sub-job from the job's id, a nonce of this fan-out and the
 * perspective, within the id rules (DESIGN.md "Job": 1..200 bytes of [A-Za-z0-9._:/-]): the
 * job id itself when it fits, else a digest of it. */
static void sub_id(char *out, size_t len, const char *job_id, const char *nonce, const char *name)
{
    size_t need = strlen(job_id) + strlen(nonce) + strlen(name) + 8;
    if (need <= ACMEVA_ID_MAX) {
        snprintf(out, len, "%s/mpic:%s:%s", job_id, nonce, name);
        return;
    }
    uint8_t d[SHA256_DIGEST_LENGTH];
    SHA256((const uint8_t *)job_id, strlen(job_id), d);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    snprintf(out, len, "sha256:%s/mpic:%s:%s", hex, nonce, name);
}

/* read_mpic reads the job's optional "mpic" object (open-mpic's orchestration parameters).
 * Returns 0, or -1 with the field and the rule in |field|, |detail|. */
static int read_mpic(const json_t *doc, int *count, int *quorum, char *field, size_t flen,
                     char *detail, size_t dlen)
{
    json_t *mp = json_object_get(doc, "mpic");
    *count = *quorum = 0;
    if (mp == NULL)
        return 0;
    if (!json_is_object(mp)) {
        snprintf(field, flen, "mpic");
        snprintf(detail, dlen, "mpic: must be an object");
        return -1;
    }
    static const char *const keys[] = {"perspectiveCount", "quorumCount"};
    int *dst[] = {count, quorum};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(mp, keys[i]);
        if (v == NULL)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > ACMEVA_COORD_MAX_REMOTES) {
            snprintf(field, flen, "mpic.%s", keys[i]);
            snprintf(detail, dlen, "mpic.%s: must be an integer from 1 to %d", keys[i],
                     ACMEVA_COORD_MAX_REMOTES);
            return -1;
        }
        *dst[i] = (int)json_integer_value(v);
    }
    return 0;
}

static void deliver(void *owner, const acmeva_sentry *e)
{
    cthread *t = owner;
    coord *c = t->c;
    const acmeva_coordinator_options *o = c->o;
    mjob *m = mjob_new(t, e);
    if (m == NULL) {
        ACMEVA_LOG("error", "no memory for a job", ACMEVA_LS("entry", e->id));
        return;
    }
    if (e->deleted) {
        m->state = MJOB_POSTING;
        m->item.ack_id = m->entry_id;
        m->item.done = posted;
        acmeva_outbox_push(&t->outbox, &m->item);
        return;
    }
    if (e->raw == NULL) {
        reject_malformed(m, NULL, "job", "job: missing: the stream entry has no \"job\" field");
        return;
    }
    if (e->raw_len > ACMEVA_JOB_MAX_BYTES) {
        char d[128];
        snprintf(d, sizeof(d), "job: %zu bytes is more than the limit of %d bytes", e->raw_len,
                 ACMEVA_JOB_MAX_BYTES);
        reject_malformed(m, NULL, "job", d);
        return;
    }
    acmeva_job_error err;
    if (acmeva_job_parse(e->raw, e->raw_len, &m->job, &err) < 0) {
        reject_malformed(m, err.id, err.field, err.detail);
        acmeva_job_error_clear(&err);
        return;
    }
    const acmeva_job *job = m->job;
    char field[64], detail[256];
    if (!acmeva_reply_to_allowed(o->d.reply_prefix, job->reply_to)) {
        snprintf(detail, sizeof(detail), "replyTo: must start with \"%.200s\" (--reply-prefix)",
                 o->d.reply_prefix);
        reject_malformed(m, job->id, "replyTo", detail);
        return;
    }
    /* The job's own members are already checked; the tree keeps them for the sub-jobs. */
    m->doc = json_loadb(e->raw, e->raw_len, JSON_REJECT_DUPLICATES, NULL);
    if (m->doc == NULL) {
        ACMEVA_LOG("error", "no memory for a job", ACMEVA_LS("entry", e->id));
        mjob_free(m);
        return;
    }
    int count = 0, quorum = 0;
    if (read_mpic(m->doc, &count, &quorum, field, sizeof(field), detail, sizeof(detail)) < 0) {
        reject_malformed(m, job->id, field, detail);
        return;
    }
    if (count == 0)
        count = c->per_job;
    if (count > o->n_remotes || count < c->min_remotes) {
        snprintf(detail, sizeof(detail),
                 "mpic.perspectiveCount: %d is not between the minimum of %d remote perspectives "
                 "(BR 3.2.2.9) and the %d configured",
                 count, c->min_remotes, o->n_remotes);
        reject_malformed(m, job->id, "mpic.perspectiveCount", detail);
        return;
    }
    if (quorum > count) {
        snprintf(detail, sizeof(detail),
                 "mpic.quorumCount: %d is more than the %d remote perspectives asked", quorum,
                 count);
        reject_malformed(m, job->id, "mpic.quorumCount", detail);
        return;
    }
    if (replace_str(&m->item.reply_to, job->reply_to) < 0) {
        mjob_free(m);
        return;
    }
    if ((int64_t)e->attempt > o->d.max_deliveries) {
        char d[REASON_MAX];
        snprintf(d, sizeof(d), "delivered %d times without a result, more than --max-deliveries %lld",
                 e->attempt, (long long)o->d.max_deliveries);
        answer_unvalidated(m, d, d);
        return;
    }
    int64_t now = acmeva_wall_ms();
    int64_t deadline = now + o->timeout_ms;
    if (job->has_deadline && job->deadline_ms < deadline)
        deadline = job->deadline_ms;
    if (deadline <= now) {
        answer_unvalidated(m, "deadline passed before the job was picked up", NULL);
        return;
    }
    /* The decision is due a margin before the job's deadline, and the perspectives must have
     * answered a margin before that, so that the result is posted within the deadline. */
    int64_t total = deadline - now, margin = total / 10;
    if (margin < 50)
        margin = 50;
    if (margin > 1000)
        margin = 1000;
    m->sub_deadline_ms = deadline - 2 * margin;
    if (m->sub_deadline_ms <= now) {
        answer_unvalidated(m, "too little time left before the deadline to corroborate", NULL);
        return;
    }

    /* The perspectives: the primary, then the remotes chosen for this identifier. */
    int chosen[ACMEVA_COORD_MAX_REMOTES];
    if (count == o->n_remotes) {
        for (int i = 0; i < count; i++)
            chosen[i] = i;
    } else if (acmeva_mpic_select(c->names, c->rirs, o->n_remotes, count, o->selection_key,
                                  o->selection_key_len, job->ident_value, chosen) < 0) {
        mjob_free(m);
        return;
    }
    uint8_t rnd[8];
    char nonce[17];
    RAND_bytes(rnd, sizeof(rnd));
    for (int i = 0; i < 8; i++)
        snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
    m->n = count;
    m->required = acmeva_mpic_required(count, quorum);
    for (int i = 0; i <= count; i++) {
        sub *s = &m->subs[i];
        s->m = m;
        s->slot = i;
        s->name = i == 0 ? o->primary : c->names[chosen[i - 1]];
        s->rir = i == 0 ? ACMEVA_RIR_UNKNOWN : c->rirs[chosen[i - 1]];
        sub_id(s->id, sizeof(s->id), job->id, nonce, s->name);
        table_add(t, s);
    }
    m->state = MJOB_RUNNING;
    arm(m, (uint64_t)(deadline - margin - now));
    send_sub(&m->subs[0]);
    if (o->parallel)
        send_remotes(m);
}

/* ---- the stream reader's view ------------------------------------------------------------ */

static size_t capacity(void *owner)
{
    cthread *t = owner;
    size_t max = (size_t)t->c->o->d.max_inflight;
    if (t->d->stopping)
        return 0;
    return t->held >= max ? 0 : max - t->held;
}

static int holds(void *owner, const char *id)
{
    return mjob_find(owner, id) != NULL;
}

static void heartbeat(void *owner)
{
    cthread *t = owner;
    if (!acmeva_rconn_ready(&t->writer))
        return;
    uint64_t now = uv_now(&t->d->loop), limit = (uint64_t)t->c->claim_idle_ms / 2;
    const char *ids[256];
    size_t n = 0;
    for (mjob *m = t->held_head; m != NULL; m = m->next) {
        if (now - m->touched < limit)
            continue;
        m->touched = now;
        ids[n++] = m->entry_id;
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

static void writer_ready(acmeva_rconn *wc)
{
    cthread *t = wc->data;
    acmeva_outbox_flush(&t->outbox);
    /* Sub-jobs whose XADD went with a lost connection are sent again. */
    for (mjob *m = t->held_head; m != NULL; m = m->next) {
        if (m->state != MJOB_RUNNING)
            continue;
        send_sub(&m->subs[0]);
        if (m->remotes_out)
            for (int i = 1; i <= m->n; i++)
                send_sub(&m->subs[i]);
    }
    maybe_finish(t);
}

static void writer_lost(acmeva_rconn *wc)
{
    maybe_finish(wc->data);
}

/* ---- stopping ------------------------------------------------------------------------------ */

static void goodbye_cb(acmeva_rconn *wc, redisReply *r, void *priv)
{
    cthread *t = priv;
    if (t->goodbye == 1 && r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 0 &&
        t->held == 0) {
        const char *argv[] = {"XGROUP", "DELCONSUMER", ACMEVA_MPIC_STREAM, ACMEVA_MPIC_GROUP,
                              t->consumer};
        t->goodbye = 2;
        if (acmeva_rconn_command(&t->writer, goodbye_cb, t, 5, argv, NULL) == 0)
            return;
    }
    t->goodbye = 3;
    if (r != NULL)
        maybe_finish(t);
}

static void maybe_finish(cthread *t)
{
    if (!t->d->stopping || t->d->finished)
        return;
    if (acmeva_sreader_busy(&t->reader) || t->held > 0)
        return;
    if (t->goodbye == 0 && acmeva_rconn_ready(&t->writer)) {
        /* Nothing of ours is in flight: the reply stream can go. */
        const char *del[] = {"DEL", t->reply_stream};
        acmeva_rconn_command(&t->writer, NULL, NULL, 2, del, NULL);
        const char *argv[] = {"XPENDING", ACMEVA_MPIC_STREAM, ACMEVA_MPIC_GROUP, "-", "+", "1",
                              t->consumer};
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
    cthread *t = d->svc;
    acmeva_sreader_stop(&t->reader);
    maybe_finish(t);
}

static void thread_finish(acmeva_dthread *d)
{
    cthread *t = d->svc;
    size_t running = 0, unposted = 0;
    for (mjob *m = t->held_head; m != NULL; m = m->next) {
        if (m->state == MJOB_RUNNING)
            running++;
        else
            unposted++;
    }
    ACMEVA_LOG("info", "thread stopped", ACMEVA_LI("thread", t->index),
               ACMEVA_LI("done", t->n_done), ACMEVA_LI("claimed", t->reader.n_claimed),
               ACMEVA_LI("abandoned", running), ACMEVA_LI("unposted", unposted),
               ACMEVA_LI("late_results", t->n_late + t->n_dup + t->n_foreign));
    acmeva_sreader_close(&t->reader);
    acmeva_rconn_close(&t->writer);
    acmeva_rconn_close(&t->results);
    acmeva_outbox_forget(&t->outbox);
    while (t->held_head != NULL)
        mjob_free(t->held_head);
    free(t->table);
    t->table = NULL;
    uv_close((uv_handle_t *)&t->upkeep, NULL);
}

/* ---- threads and the process ------------------------------------------------------------- */

static int thread_init(acmeva_dthread *d, char *err, size_t errlen)
{
    coord *c = d->d->svc;
    cthread *t = &c->threads[d->index];
    t->c = c;
    t->d = d;
    t->index = d->index;
    d->svc = t;
    acmeva_consumer_name(t->consumer, sizeof(t->consumer), d->index);
    snprintf(t->reply_stream, sizeof(t->reply_stream), "%s:mpic:%s", c->o->d.reply_prefix,
             t->consumer);
    snprintf(t->cursor, sizeof(t->cursor), "0");
    t->table_size = 4096;
    t->table = calloc(t->table_size, sizeof(*t->table));
    if (t->table == NULL) {
        snprintf(err, errlen, "no memory");
        return -1;
    }
    char rname[CONSUMER_MAX + 16], wname[CONSUMER_MAX + 16], sname[CONSUMER_MAX + 16];
    snprintf(rname, sizeof(rname), "%s:reader", t->consumer);
    snprintf(wname, sizeof(wname), "%s:writer", t->consumer);
    snprintf(sname, sizeof(sname), "%s:results", t->consumer);
    acmeva_sreader_config rc = {ACMEVA_MPIC_STREAM, ACMEVA_MPIC_GROUP, t->consumer, "job",
                                c->claim_idle_ms, c->o->d.block_ms};
    if (acmeva_sreader_init(&t->reader, &d->loop, &c->rs, &rc, &reader_ops, t, d->index,
                            rname) != 0 ||
        acmeva_rconn_init(&t->writer, &d->loop, &c->rs, "writer", d->index, wname, writer_ready,
                          writer_lost, t) != 0 ||
        acmeva_rconn_init(&t->results, &d->loop, &c->rs, "results", d->index, sname,
                          results_ready, NULL, t) != 0) {
        snprintf(err, errlen, "cannot set up the Redis connections");
        free(t->table);
        return -1;
    }
    acmeva_outbox_init(&t->outbox, &t->writer, ACMEVA_MPIC_STREAM, ACMEVA_MPIC_GROUP,
                       ACMEVA_DEFAULT_REPLY_TO, ACMEVA_DEAD_STREAM, c->o->d.results_maxlen,
                       d->index);
    uv_timer_init(&d->loop, &t->upkeep);
    t->upkeep.data = t;
    uv_timer_start(&t->upkeep, upkeep_cb, UPKEEP_MS, UPKEEP_MS);
    unsigned jitter;
    RAND_bytes((uint8_t *)&jitter, sizeof(jitter));
    acmeva_sreader_start(&t->reader, jitter);
    acmeva_rconn_start(&t->writer);
    acmeva_rconn_start(&t->results);
    return 0;
}

static const acmeva_daemon_ops coord_ops = {thread_init, thread_stop, thread_finish};

static void format_day(int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, len, "%Y-%m-%d", &tm);
}

/* check_remotes applies the start-up rules: enough remotes for the BR minimum in force today
 * (unless lowered explicitly), 2 RIRs, distinct names. Returns 0, or -1 after a log line. */
static int check_remotes(coord *c)
{
    const acmeva_coordinator_options *o = c->o;
    const acmeva_dated_rule *rule = acmeva_rule_find(ACMEVA_RULE_MIN_REMOTES);
    const acmeva_dated_step *step = NULL;
    int64_t now = acmeva_wall_ms();
    int br_min = acmeva_rule_value(rule, now, 0, &step);
    char today[16], since[16] = "";
    format_day(now, today, sizeof(today));
    if (step != NULL)
        snprintf(since, sizeof(since), "%s", step->date);
    c->min_remotes = o->min_remotes >= 0 ? o->min_remotes : br_min;
    if (c->min_remotes < br_min)
        ACMEVA_LOG("warn", "--min-remotes is below the BR minimum: not for publicly trusted issuance",
                   ACMEVA_LI("min_remotes", c->min_remotes), ACMEVA_LI("br_minimum", br_min),
                   ACMEVA_LS("rule", rule->cite), ACMEVA_LS("since", since));
    if (c->min_remotes < 1)
        c->min_remotes = 1;
    if (o->n_remotes == 0) {
        ACMEVA_LOG0("error", "cannot start: no --remote NAME:RIR given");
        return -1;
    }
    c->per_job = o->perspective_count > 0 ? o->perspective_count : o->n_remotes;
    if (c->per_job > o->n_remotes) {
        ACMEVA_LOG("error", "cannot start: --perspective-count is more than the remotes given",
                   ACMEVA_LI("perspective_count", c->per_job), ACMEVA_LI("remotes", o->n_remotes));
        return -1;
    }
    if (c->per_job < c->min_remotes) {
        char why[256];
        snprintf(why, sizeof(why),
                 "%s requires at least %d remote perspectives per validation on %s (from %s); "
                 "%d configured",
                 rule->cite, c->min_remotes, today, since[0] ? since : "now", c->per_job);
        ACMEVA_LOG("error", "cannot start: too few remote perspectives", ACMEVA_LS("error", why),
                   ACMEVA_LS("fix", "add --remote NAME:RIR, or lower --min-remotes (tests only)"));
        return -1;
    }
    if (c->per_job < o->n_remotes && o->selection_key_len == 0) {
        ACMEVA_LOG0("error", "cannot start: --perspective-count below the remotes given needs "
                             "--selection-key-file (the secret that picks them)");
        return -1;
    }
    int distinct = 0, seen[ACMEVA_RIR_AFRINIC + 1] = {0};
    for (int i = 0; i < o->n_remotes; i++) {
        c->names[i] = o->remotes[i].name;
        c->rirs[i] = acmeva_rir_parse(o->remotes[i].rir);
        distinct += !seen[c->rirs[i]];
        seen[c->rirs[i]] = 1;
        if (strcmp(o->remotes[i].name, o->primary) == 0) {
            ACMEVA_LOG("error", "cannot start: a remote has the primary's name",
                       ACMEVA_LS("perspective", o->primary));
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(o->remotes[i].name, o->remotes[j].name) == 0) {
                ACMEVA_LOG("error", "cannot start: a remote is given twice",
                           ACMEVA_LS("perspective", o->remotes[i].name));
                return -1;
            }
    }
    if (distinct < 2 && acmeva_mpic_required(c->per_job, 0) >= 2) {
        ACMEVA_LOG0("error", "cannot start: the remotes span one RIR, and BR 3.2.2.9 requires "
                             "the corroborating perspectives to span at least 2");
        return -1;
    }
    return 0;
}

int acmeva_coordinator_options_init(acmeva_coordinator_options *o)
{
    memset(o, 0, sizeof(*o));
    if (acmeva_daemon_options_init(&o->d) < 0)
        return -1;
    o->primary = strdup("primary");
    if (o->primary == NULL) {
        acmeva_daemon_options_clear(&o->d);
        return -1;
    }
    o->min_remotes = -1;
    o->slow_remote_ms = 2000;
    o->timeout_ms = 30000;
    return 0;
}

void acmeva_coordinator_options_clear(acmeva_coordinator_options *o)
{
    acmeva_daemon_options_clear(&o->d);
    free(o->primary);
    o->primary = NULL;
    for (int i = 0; i < o->n_remotes; i++) {
        free(o->remotes[i].name);
        free(o->remotes[i].rir);
    }
    o->n_remotes = 0;
    OPENSSL_cleanse(o->selection_key, sizeof(o->selection_key));
    o->selection_key_len = 0;
}

int acmeva_coordinator_run(const acmeva_coordinator_options *o)
{
    coord *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return 1;
    int status = 1;
    c->o = o;
    acmeva_redis_url_masked(&o->d.redis, c->redis_masked, sizeof(c->redis_masked));
    c->claim_idle_ms = o->d.claim_idle_ms > 0 ? o->d.claim_idle_ms : 2 * o->timeout_ms;
    if (check_remotes(c) < 0) {
        free(c);
        return 1;
    }
    int n = o->d.threads;
    if (n <= 0)
        n = (int)uv_available_parallelism();
    if (n < 1)
        n = 1;
    if (n > MAX_THREADS)
        n = MAX_THREADS;
    c->rs.url = &o->d.redis;
    c->rs.masked = c->redis_masked;
    c->rs.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    c->rs.reply_timeout_ms = o->d.redis_timeout_ms;
    c->rs.probe_key = ACMEVA_MPIC_STREAM;
    c->rs.quiet = 1;
    c->d.name = "acmeva-coordinator";
    c->d.ops = &coord_ops;
    c->d.svc = c;
    c->d.nthreads = n;
    c->d.grace_ms = o->d.grace_ms;
    char err[256];
    uint64_t have = 0,
             need = FDS_BASE + (uint64_t)n * ((uint64_t)o->d.max_inflight * FDS_PER_JOB + 8);
    if (acmeva_nofile_raise(need, &have, err, sizeof(err)) < 0) {
        ACMEVA_LOG("error", "cannot start: too few file descriptors", ACMEVA_LS("error", err));
        free(c);
        return 1;
    }
    char remotes[1024] = "";
    size_t off = 0;
    for (int i = 0; i < o->n_remotes && off + 1 < sizeof(remotes); i++) {
        int k = snprintf(remotes + off, sizeof(remotes) - off, "%s%s:%s", i ? "," : "",
                         o->remotes[i].name, o->remotes[i].rir);
        if (k > 0)
            off += (size_t)k;
    }
    ACMEVA_LOG("info", "acmeva-coordinator starting", ACMEVA_LS("redis", c->redis_masked),
               ACMEVA_LS("stream", ACMEVA_MPIC_STREAM), ACMEVA_LS("group", ACMEVA_MPIC_GROUP),
               ACMEVA_LS("primary", o->primary), ACMEVA_LS("remotes", remotes),
               ACMEVA_LI("perspective_count", c->per_job),
               ACMEVA_LI("min_remotes", c->min_remotes),
               ACMEVA_LI("slow_remote_ms", o->slow_remote_ms),
               ACMEVA_LS("mode", o->parallel ? "parallel" : "primary first"),
               ACMEVA_LI("selection_key", o->selection_key_len > 0),
               ACMEVA_LI("threads", n), ACMEVA_LI("max_inflight", o->d.max_inflight),
               ACMEVA_LI("timeout_ms", o->timeout_ms), ACMEVA_LI("claim_idle_ms", c->claim_idle_ms),
               ACMEVA_LI("max_deliveries", o->d.max_deliveries),
               ACMEVA_LI("grace_ms", o->d.grace_ms),
               ACMEVA_LI("redis_timeout_ms", o->d.redis_timeout_ms),
               ACMEVA_LS("reply_prefix", o->d.reply_prefix), ACMEVA_LI("nofile", (int64_t)have),
               ACMEVA_LI("pid", (long)getpid()));
    c->threads = calloc((size_t)n, sizeof(cthread));
    if (c->threads == NULL) {
        ACMEVA_LOG0("error", "cannot start: no memory");
        goto out;
    }
    status = acmeva_daemon_run(&c->d);
    if (status == 0)
        ACMEVA_LOG0("info", "acmeva-coordinator stopped");
out:
    free(c->threads);
    free(c);
    return status;
}
