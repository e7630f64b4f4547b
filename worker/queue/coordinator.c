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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/mem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "acmeva/proto.h"
#include "acmeva/resultdiff.h"
#include "acmeva/version.h"
#include "brrules.h"
#include "consumer.h"
#include "daemon.h"
#include "mpic.h"
#include "ops.h"
#include "outbox.h"
#include "queue.h"
#include "redisconn.h"
#include "resultsig.h"
#include "streamreader.h"

#define REASON_MAX 512
#define MAX_SUBS (1 + ACMEVA_COORD_MAX_REMOTES)
#define RESULTS_COUNT "1000"
#define UPKEEP_MS 5000
#define REPLY_TTL_S "600" /* a dead coordinator's reply stream goes away after this */
#define DETAIL_MAX 1024
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
    const void *key;  /* --perspective-key: its results must be signed by it; NULL: not */
    acmeva_rir rir;
    char id[ACMEVA_ID_MAX + 1];
    acmeva_mpic_vote vote;
    int asked;     /* its sub-job was handed to Redis (or is on its way) */
    int enqueued;  /* Redis took the XADD */
    int answered;  /* a result came */
    int fail_seq;  /* the order in which remotes failed, from 1 */
    const char *status; /* "valid", "invalid", "timeout" */
    /* The perspective's result, when one came and could be used: what corroboration reads
     * of it, and for the primary its bytes, which become the job's result (final_result). */
    acmeva_resultdoc *doc;
    char *raw;         /* the primary's document; NULL for the remotes */
    char dur_text[32]; /* its durationMs as written, when a number that short */
    size_t dur_len;
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
    acmeva_held h; /* first: the consumer's part (entry id, raw, attempt, outbox item) */
    cthread *t;
    mjob_state state;
    acmeva_mpicjob *doc; /* the job as received: its "mpic" object and members' bytes */
    char *sub_body; /* the sub-jobs without their "id": the job with the coordinator's replyTo
                       and deadlineMs and without "mpic", as one JSON object */
    size_t sub_body_len;
    acmeva_job *job;
    int64_t started_ms;
    uint64_t start_hr;
    int64_t policy_version;  /* the operator's policy it was taken under */
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
    int dead;          /* released by the consumer: freed once the last XADD reply is in */
    int counted;       /* a decision was posted for it: count it once posted */
};

struct cthread {
    coord *c;
    acmeva_dthread *d;
    int index;
    acmeva_consumer cons;
    acmeva_rconn results;
    char reply_stream[ACMEVA_REPLY_TO_MAX + 1];
    char cursor[ACMEVA_ENTRY_ID_MAX];
    int results_reading;
    uv_timer_t upkeep;
    sub **table;
    size_t table_size;
    uint64_t n_late, n_dup, n_foreign;
    uint64_t n_bad_sig; /* results of a perspective with a key, unsigned or badly signed (for
                           the metric acmeva_mpic_bad_signatures_total) */
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
    acmeva_ops ops; /* metrics, endpoints, audit log */
    const char *label_names[1 + ACMEVA_COORD_MAX_REMOTES]; /* the perspective label values */
};

static void evaluate(mjob *m);
static void results_kick(cthread *t);
static void count_decision(mjob *m);

/* ---- small helpers ------------------------------------------------------------------------ */

static char *strdup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
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

/* mjob_release frees |m| once no XADD reply can still reach it. */
static void mjob_release(mjob *m)
{
    if (m->xadds > 0)
        return;
    for (int i = 0; i <= m->n; i++) {
        acmeva_resultdoc_clear(m->subs[i].doc);
        free(m->subs[i].doc);
        free(m->subs[i].raw);
        free(m->subs[i].problem_type);
        free(m->subs[i].problem_detail);
    }
    acmeva_mpicjob_clear(m->doc);
    free(m->doc);
    free(m->sub_body);
    acmeva_job_free(m->job);
    free(m);
}

/* release: the consumer is done with an MPIC job (posted, given up, dropped or at close). */
static void release(acmeva_held *h, int posted)
{
    mjob *m = (mjob *)h;
    cthread *t = m->t;
    if (posted && m->counted)
        count_decision(m);
    for (int i = 0; i <= m->n; i++)
        if (m->subs[i].id[0] != '\0')
            table_del(t, &m->subs[i]);
    timer_free(m->timer);
    m->timer = NULL;
    m->dead = 1;
    mjob_release(m);
}

static void log_decision(const mjob *m, const char *status, const char *error,
                         const char *quorum)
{
    ACMEVA_LOG("info", "mpic decision", ACMEVA_LS("id", m->job->id), ACMEVA_LS("status", status),
               ACMEVA_LS("error", error), ACMEVA_LS("quorum", quorum),
               ACMEVA_LI("attempt", m->h.attempt), ACMEVA_LS("entry", m->h.entry_id),
               ACMEVA_LI("thread", m->t->index),
               ACMEVA_LD("duration_ms", (double)(uv_hrtime() - m->start_hr) / 1e6));
}

/* ---- the final result --------------------------------------------------------------------- */

/*
 * The job's result is the primary's document with the decision's members spliced in
 * (acmeva_resultdoc_splice), and the "mpic" object written straight into a buffer: no tree of
 * any result is built (bench/README.md, "MPIC: what corroboration costs"). What is compared
 * and listed comes from what acmeva_resultdoc_read kept of each perspective's result: strings
 * only, at most ACMEVA_RESULTDOC_LIST_MAX per list.
 */

/* add_line writes one disagreement as a JSON string of the array being written. */
typedef struct lines_out {
    acmeva_jbuf *b;
    int first;
} lines_out;

static void add_line(const char *line, void *arg)
{
    lines_out *o = arg;
    if (!o->first)
        acmeva_jbuf_put(o->b, ",", 1);
    o->first = 0;
    acmeva_jbuf_put_str(o->b, line);
}

/* put_problem writes an RFC 8555 §6.7 problem document of |type| (serverInternal when NULL). */
static void put_problem(acmeva_jbuf *b, const char *type, const char *detail)
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
    int first = 1;
    acmeva_jbuf_put(b, "{", 1);
    acmeva_jbuf_key(b, &first, "type");
    acmeva_jbuf_put_str(b, type ? type : acmeva_problem_urn(ACMEVA_PROB_SERVER_INTERNAL));
    acmeva_jbuf_key(b, &first, "detail");
    acmeva_jbuf_put_str(b, detail ? detail : "");
    acmeva_jbuf_key(b, &first, "status");
    acmeva_jbuf_put_int(b, status);
    acmeva_jbuf_put(b, "}", 1);
}

/* put_perspective writes the entry of remote |s| in mpic.perspectives. */
static void put_perspective(acmeva_jbuf *b, const sub *s)
{
    int first = 1;
    acmeva_jbuf_put(b, "{", 1);
    acmeva_jbuf_key(b, &first, "perspective");
    acmeva_jbuf_put_str(b, s->name);
    acmeva_jbuf_key(b, &first, "rir");
    acmeva_jbuf_put_str(b, acmeva_rir_name(s->rir));
    acmeva_jbuf_key(b, &first, "status");
    acmeva_jbuf_put_str(b, s->status ? s->status : "timeout");
    /* The number as the perspective wrote it (result.schema.json: >= 0), else 0. */
    acmeva_jbuf_key(b, &first, "durationMs");
    if (s->dur_len > 0 && s->duration_ms >= 0)
        acmeva_jbuf_put(b, s->dur_text, s->dur_len);
    else
        acmeva_jbuf_puts(b, "0.0");
    acmeva_jbuf_key(b, &first, "error");
    if (s->vote != ACMEVA_MPIC_PASS && s->problem_type != NULL)
        put_problem(b, s->problem_type, s->problem_detail);
    else
        acmeva_jbuf_puts(b, "null");
    acmeva_jbuf_key(b, &first, "addressesResolved");
    acmeva_jbuf_put(b, "[", 1);
    for (size_t i = 0; s->doc != NULL && i < s->doc->addresses.n; i++) {
        if (i > 0)
            acmeva_jbuf_put(b, ",", 1);
        acmeva_jbuf_put_str(b, s->doc->addresses.v[i].s);
    }
    acmeva_jbuf_put(b, "]", 1);
    acmeva_jbuf_put(b, "}", 1);
}

/* mpic_new writes the "mpic" object: the quorum (also into |quorum|), each remote asked, the
 * disagreements. Returns it (free()), or NULL on no memory. */
static char *mpic_new(const mjob *m, size_t *len, char *quorum, size_t qlen)
{
    const sub *p = &m->subs[0];
    acmeva_jbuf b = {0}, lines = {0};
    int pass = 0, first = 1;
    lines_out out = {&lines, 1};
    acmeva_mpic_vote votes[ACMEVA_COORD_MAX_REMOTES];
    acmeva_rir all[ACMEVA_COORD_MAX_REMOTES];
    acmeva_jbuf_put(&lines, "[", 1);
    acmeva_jbuf perspectives = {0};
    acmeva_jbuf_put(&perspectives, "[", 1);
    for (int i = 1; i <= m->n; i++) {
        const sub *s = &m->subs[i];
        votes[i - 1] = s->vote;
        all[i - 1] = s->rir;
        if (!s->asked)
            continue;
        pass += s->vote == ACMEVA_MPIC_PASS;
        if (perspectives.len > 1)
            acmeva_jbuf_put(&perspectives, ",", 1);
        put_perspective(&perspectives, s);
        /* What remote |s| saw differently from the primary: how a BGP hijack or DNS
         * poisoning seen from some perspectives shows itself. */
        if (p->doc != NULL && s->doc != NULL)
            acmeva_result_disagreements(p->doc, "the primary", s->doc, s->name, add_line, &out);
    }
    acmeva_jbuf_put(&perspectives, "]", 1);
    acmeva_jbuf_put(&lines, "]", 1);
    snprintf(quorum, qlen, "%d/%d", pass, m->n);
    acmeva_jbuf_put(&b, "{", 1);
    acmeva_jbuf_key(&b, &first, "quorum");
    acmeva_jbuf_put_str(&b, quorum);
    acmeva_jbuf_key(&b, &first, "required");
    acmeva_jbuf_put_int(&b, m->required);
    acmeva_jbuf_key(&b, &first, "primary");
    acmeva_jbuf_put_str(&b, p->status ? p->status : (p->answered ? "invalid" : "timeout"));
    acmeva_jbuf_key(&b, &first, "passedRirs");
    acmeva_jbuf_put(&b, "[", 1);
    acmeva_rir passed[5];
    size_t k = acmeva_mpic_passed_rirs(m->n, votes, all, passed);
    for (size_t i = 0; i < k; i++) {
        if (i > 0)
            acmeva_jbuf_put(&b, ",", 1);
        acmeva_jbuf_put_str(&b, acmeva_rir_name(passed[i]));
    }
    acmeva_jbuf_put(&b, "]", 1);
    acmeva_jbuf_key(&b, &first, "perspectives");
    acmeva_jbuf_put(&b, perspectives.p, perspectives.failed ? 0 : perspectives.len);
    acmeva_jbuf_key(&b, &first, "disagreements");
    acmeva_jbuf_put(&b, lines.p, lines.failed ? 0 : lines.len);
    acmeva_jbuf_put(&b, "}", 1);
    int failed = perspectives.failed || lines.failed;
    acmeva_jbuf_clear(&perspectives);
    acmeva_jbuf_clear(&lines);
    *len = b.len;
    if (failed) {
        acmeva_jbuf_clear(&b);
        return NULL;
    }
    return acmeva_jbuf_finish(&b);
}

/* The primary's document that the job's result is made of: its result, or, when it never
 * answered, one made from the job (acmeva_result_to_json). */
typedef struct primary_doc {
    const acmeva_resultdoc *doc;
    const char *raw;
    acmeva_resultdoc own;
    char *own_raw;
} primary_doc;

static int primary_doc_get(mjob *m, primary_doc *pd)
{
    sub *p = &m->subs[0];
    memset(pd, 0, sizeof(*pd));
    if (p->doc != NULL) {
        pd->doc = p->doc;
        pd->raw = p->raw;
        return 0;
    }
    acmeva_result *r = acmeva_result_new();
    if (r != NULL && acmeva_result_set_job(r, m->job) == 0 &&
        acmeva_str_set(&r->perspective, p->name) == 0 && acmeva_str_set(&r->rir, "") == 0 &&
        acmeva_str_set(&r->worker, m->t->cons.name) == 0 &&
        acmeva_result_set_problem(r, ACMEVA_PROB_SERVER_INTERNAL, "placeholder") == 0)
        pd->own_raw = acmeva_result_to_json(r);
    acmeva_result_free(r);
    if (pd->own_raw == NULL ||
        acmeva_resultdoc_read(&pd->own, pd->own_raw, strlen(pd->own_raw)) < 0)
        return -1;
    pd->doc = &pd->own;
    pd->raw = pd->own_raw;
    return 0;
}

static void primary_doc_clear(primary_doc *pd)
{
    acmeva_resultdoc_clear(&pd->own);
    free(pd->own_raw);
}

static int has_member(const acmeva_resultdoc *doc, acmeva_rd_member member)
{
    for (size_t i = 0; i < doc->n_members; i++)
        if (doc->members[i].member == member)
            return 1;
    return 0;
}

/* The job's result as final_result makes it, and what the log and the audit log say of it. */
typedef struct final_doc {
    char *json;          /* the result document */
    char *mpic;          /* its "mpic" object */
    const char *problem; /* its error.type, NULL when valid */
    const char *ident_type, *ident_value, *perspective, *rir;
    char quorum[32];
    char problem_buf[160];
} final_doc;

/* final_result makes the job's result: the primary's result with the decision's status and
 * error, the job's id and attempt, and the "mpic" object. Returns 0, or -1 on no memory. */
static int final_result(mjob *m, final_doc *out)
{
    sub *p = &m->subs[0];
    primary_doc pd;
    acmeva_jbuf doc = {0}, error = {0}, num = {0};
    size_t mpic_len = 0;
    int rc = -1;
    memset(out, 0, sizeof(*out));
    if (primary_doc_get(m, &pd) < 0 ||
        (out->mpic = mpic_new(m, &mpic_len, out->quorum, sizeof(out->quorum))) == NULL)
        goto out;

    /* The decision's status and problem. */
    int valid = m->outcome == ACMEVA_MPIC_VALID;
    acmeva_rd_edit edit_error = {ACMEVA_RD_ERROR, "error", NULL, 0};
    if (valid) {
        /* no "error" (DESIGN.md "Result": present exactly when invalid) */
    } else if (m->why != NULL && strcmp(m->why, "primary") == 0) {
        if (pd.doc == p->doc && has_member(pd.doc, ACMEVA_RD_ERROR)) {
            edit_error.member = ACMEVA_RD_OTHER; /* the primary's own problem, as it is */
            out->problem = pd.doc->error_type;
        } else {
            put_problem(&error, p->problem_type, p->problem_detail);
            out->problem = p->problem_type;
        }
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
        put_problem(&error, type, detail);
        out->problem = type;
    }
    if (!valid && out->problem == NULL)
        out->problem = acmeva_problem_urn(ACMEVA_PROB_SERVER_INTERNAL);
    if (error.len > 0) {
        edit_error.value = error.p;
        edit_error.len = error.len;
    }

    /* The job's own members, in the order a tree of the primary's result would have them. */
    acmeva_jbuf_put_str(&num, m->job->id);
    size_t id_end = num.len;
    acmeva_jbuf_put_int(&num, m->h.attempt);
    size_t attempt_end = num.len;
    acmeva_jbuf_put_int(&num, m->started_ms);
    size_t started_end = num.len;
    acmeva_jbuf_put_int(&num, m->policy_version); /* the decision's (the perspectives stamp
                                                     their own) */
    size_t policy_end = num.len;
    acmeva_jbuf_put_ms(&num, (double)((uv_hrtime() - m->start_hr) / 100000) / 10.0);
    size_t dur_end = num.len;
    const char *status = valid ? "\"valid\"" : "\"invalid\"";
    if (error.failed || num.failed)
        goto out;
    const acmeva_rd_edit edits[] = {
        {ACMEVA_RD_ID, "id", num.p, id_end},
        {ACMEVA_RD_ATTEMPT, "attempt", num.p + id_end, attempt_end - id_end},
        {ACMEVA_RD_STARTED_MS, "startedMs", num.p + attempt_end, started_end - attempt_end},
        {ACMEVA_RD_POLICY_VERSION, "policyVersion", num.p + started_end,
         policy_end - started_end},
        {ACMEVA_RD_DURATION_MS, "durationMs", num.p + policy_end, dur_end - policy_end},
        {ACMEVA_RD_STATUS, "status", status, strlen(status)},
        edit_error,
        {ACMEVA_RD_MPIC, "mpic", out->mpic, mpic_len},
    };
    if (acmeva_resultdoc_splice(pd.doc, pd.raw, edits, sizeof(edits) / sizeof(edits[0]), &doc) <
            0 ||
        (out->json = acmeva_jbuf_finish(&doc)) == NULL)
        goto out;
    /* What the log and the audit say of it: from the primary's document, and problems that
     * live in |pd| or in a sub copied out, since |pd| goes below. */
    if (out->problem != NULL) {
        snprintf(out->problem_buf, sizeof(out->problem_buf), "%s", out->problem);
        out->problem = out->problem_buf;
    }
    if (pd.doc == p->doc) {
        out->ident_type = p->doc->ident_type;
        out->ident_value = p->doc->ident_value;
        out->perspective = p->doc->perspective;
        out->rir = p->doc->rir;
    } else {
        out->ident_type = m->job->ident_type == ACMEVA_IDENT_IP ? "ip" : "dns";
        out->ident_value = m->job->ident_value;
        out->perspective = p->name;
        out->rir = "";
    }
    rc = 0;
out:
    acmeva_jbuf_clear(&doc);
    acmeva_jbuf_clear(&error);
    acmeva_jbuf_clear(&num);
    primary_doc_clear(&pd);
    if (rc < 0) {
        free(out->json);
        free(out->mpic);
        out->json = out->mpic = NULL;
    }
    return rc;
}

/* count_decision counts a decision that is now in Redis (DESIGN.md "Operations"). */
static void count_decision(mjob *m)
{
    acmeva_mshard *s = m->t->cons.shard;
    const acmeva_metrics *reg = m->t->c->ops.metrics;
    unsigned r = m->outcome == ACMEVA_MPIC_VALID ? ACMEVA_MV_VALID : ACMEVA_MV_INVALID;
    acmeva_mshard_add(s, ACMEVA_M_MPIC_DECISIONS, &r, 1);
    for (int i = 1; i <= m->n; i++) {
        sub *x = &m->subs[i];
        if (!x->asked)
            continue;
        int pi = acmeva_metrics_label_value(reg, ACMEVA_ML_PERSPECTIVE, x->name);
        unsigned res = x->vote == ACMEVA_MPIC_PASS ? ACMEVA_MV_VALID
                       : (x->status != NULL && strcmp(x->status, "timeout") == 0)
                           ? ACMEVA_MV_TIMEOUT
                           : ACMEVA_MV_INVALID;
        if (pi >= 0)
            acmeva_mshard_add(s, ACMEVA_M_MPIC_PERSPECTIVE_RESULTS,
                              (const unsigned[]){(unsigned)pi, (unsigned)x->rir, res}, 1);
    }
}

static void post_decision(mjob *m)
{
    for (int i = 0; i <= m->n; i++) {
        sub *s = &m->subs[i];
        if (s->asked && !s->answered && s->status == NULL)
            s->status = "timeout"; /* a straggler cut off after the decision */
    }
    final_doc fd;
    if (final_result(m, &fd) < 0) {
        ACMEVA_LOG("error", "no memory for a result", ACMEVA_LS("entry", m->h.entry_id));
        acmeva_consumer_drop(&m->h); /* stays pending */
        return;
    }
    int valid = m->outcome == ACMEVA_MPIC_VALID;
    log_decision(m, valid ? "valid" : "invalid", fd.problem, fd.quorum);
    m->state = MJOB_POSTING;
    timer_free(m->timer);
    m->timer = NULL;
    m->h.item.result = fd.json;
    m->counted = 1;
    /* BR 5.4.1: the decision, every perspective's result and the quorum, before it is posted. */
    acmeva_audit_record rec = {"mpic",
                               m->job->id,
                               fd.ident_type,
                               fd.ident_value,
                               m->job->chall_type != ACMEVA_CHALL_NONE
                                   ? acmeva_chall_type_name(m->job->chall_type)
                                   : NULL,
                               m->job->has_caa,
                               fd.perspective,
                               fd.rir,
                               valid ? "valid" : "invalid",
                               fd.problem,
                               m->h.entry_id,
                               m->h.attempt,
                               m->t->cons.name,
                               fd.json,
                               "mpic",
                               fd.mpic};
    acmeva_consumer_post_audited(&m->h, &rec);
    free(fd.mpic);
}

/* ---- fan-out --------------------------------------------------------------------------- */

static void set_problem(sub *s, const char *type, const char *detail)
{
    free(s->problem_type);
    free(s->problem_detail);
    s->problem_type = strdup_or_null(type);
    s->problem_detail = strdup_or_null(detail);
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
                   ACMEVA_LS("error", r->str), ACMEVA_LS("entry", m->h.entry_id));
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
    if (s->asked || s->vote != ACMEVA_MPIC_WAITING || !acmeva_rconn_ready(&t->cons.writer))
        return;
    /* The sub-job is the shared body with this perspective's "id" first. */
    size_t blen = 0;
    char *body = acmeva_mpicjob_subjob(m->sub_body, m->sub_body_len, s->id, &blen);
    if (body == NULL)
        return; /* no memory: retried from the writer's next ready, or times out */
    char stream[sizeof(ACMEVA_JOBS_STREAM_PREFIX) + ACMEVA_PERSPECTIVE_MAX];
    char maxlen[24];
    snprintf(stream, sizeof(stream), "%s%s", ACMEVA_JOBS_STREAM_PREFIX, s->name);
    snprintf(maxlen, sizeof(maxlen), "%lld", (long long)t->c->o->d.results_maxlen);
    const char *argv[] = {"XADD", stream, "MAXLEN", "~", maxlen, "*", "job", body};
    const size_t lens[] = {4, strlen(stream), 6, 1, strlen(maxlen), 1, 3, blen};
    if (acmeva_rconn_command(&t->cons.writer, xadd_cb, s, 8, argv, lens) == 0) {
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

/* sig_refused checks the signature of a result of |s| when its perspective has a key
 * (DESIGN.md "Channel": whoever can write the reply stream could otherwise forge a
 * corroboration, e.g. a compromised perspective answering for another one). Returns NULL when
 * it may count, else what is wrong with it. */
static const char *sig_refused(const sub *s, const char *doc, size_t len, const char *sig,
                               size_t siglen)
{
    if (s->key == NULL)
        return NULL;
    if (sig == NULL)
        return "is not signed";
    if (!acmeva_sig_verify(s->key, doc, len, sig, siglen))
        return "has a signature that does not verify";
    return NULL;
}

/* keep_doc keeps what corroboration uses of the result |rd| of |s| (and takes it over), and
 * for the primary its bytes, which the job's result is made of. Returns 0, or -1 on no
 * memory (then nothing is kept and |rd| is cleared). */
static int keep_doc(sub *s, acmeva_resultdoc *rd, const char *doc, size_t len)
{
    if ((s->doc = malloc(sizeof(*s->doc))) == NULL ||
        (s->slot == 0 && (s->raw = malloc(len + 1)) == NULL)) {
        free(s->doc);
        s->doc = NULL;
        acmeva_resultdoc_clear(rd);
        return -1;
    }
    if (s->raw != NULL) {
        memcpy(s->raw, doc, len);
        s->raw[len] = '\0';
    }
    *s->doc = *rd;
    s->duration_ms = rd->has_duration ? rd->duration_ms : 0;
    size_t n = rd->duration_end - rd->duration_at;
    if (rd->has_duration && n < sizeof(s->dur_text)) {
        memcpy(s->dur_text, doc + rd->duration_at, n);
        s->dur_len = n;
    }
    return 0;
}

static void on_sub_result(cthread *t, const char *doc, size_t len, const char *sig, size_t siglen)
{
    /* One bounded pass over the result (proto/resultdoc.c); nothing of a document that is not
     * JSON, or larger than a result may be, is used. */
    acmeva_resultdoc rd = {0};
    if (len <= ACMEVA_RESULT_MAX_BYTES)
        acmeva_resultdoc_read(&rd, doc, len); /* on failure |rd| is left empty */
    const char *id = rd.id;
    sub *s = id ? table_find(t, id) : NULL;
    if (s == NULL) {
        t->n_foreign++; /* late (already decided), from a dead coordinator, or not a result */
        acmeva_resultdoc_clear(&rd);
        return;
    }
    mjob *m = s->m;
    if (s->answered || m->state != MJOB_RUNNING) {
        t->n_dup++;
        acmeva_resultdoc_clear(&rd);
        return;
    }
    if (m->decided && s->vote != ACMEVA_MPIC_WAITING) {
        t->n_late++;
        acmeva_resultdoc_clear(&rd);
        return;
    }
    s->answered = 1;
    const char *refused = sig_refused(s, doc, len, sig, siglen);
    if (refused != NULL) {
        /* Failed, and nothing of the document is kept: it cannot be trusted. */
        char detail[DETAIL_MAX];
        snprintf(detail, sizeof(detail),
                 "the result of perspective %s %s with its key (--perspective-key): not counted "
                 "as a corroboration",
                 s->name, refused);
        t->n_bad_sig++;
        acmeva_mshard_add(t->cons.shard, ACMEVA_M_MPIC_BAD_SIGNATURES, NULL, 1);
        ACMEVA_LOG("warn", "mpic result refused: bad signature", ACMEVA_LS("perspective", s->name),
                   ACMEVA_LS("sub_id", s->id), ACMEVA_LS("error", refused),
                   ACMEVA_LS("entry", m->h.entry_id), ACMEVA_LI("thread", t->index),
                   ACMEVA_LI("bad_signatures", t->n_bad_sig));
        acmeva_resultdoc_clear(&rd);
        sub_fail(s, "invalid", detail);
        evaluate(m);
        return;
    }
    if (keep_doc(s, &rd, doc, len) < 0) {
        sub_fail(s, "invalid", "no memory to keep the perspective's result");
        evaluate(m);
        return;
    }
    const char *status = s->doc->status, *persp = s->doc->perspective;
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
        const char *type = s->doc->error_type, *detail = s->doc->error_detail;
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
            /* The fields "result" and, when signed, "sig" (outbox.h). */
            redisReply *f = e->element[1], *res = NULL, *sig = NULL;
            for (size_t j = 0; f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements; j += 2) {
                redisReply *k = f->element[j], *v = f->element[j + 1];
                if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
                    continue;
                if (strcmp(k->str, "result") == 0)
                    res = v;
                else if (strcmp(k->str, "sig") == 0)
                    sig = v;
            }
            if (res != NULL)
                on_sub_result(t, res->str, res->len, sig ? sig->str : NULL, sig ? sig->len : 0);
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
    acmeva_rconn *w = &t->cons.writer;
    if (!acmeva_rconn_ready(w))
        return;
    const char *expire[] = {"EXPIRE", t->reply_stream, REPLY_TTL_S};
    acmeva_rconn_command(w, NULL, NULL, 3, expire, NULL);
    if (strcmp(t->cursor, "0") != 0) {
        const char *trim[] = {"XTRIM", t->reply_stream, "MINID", t->cursor};
        acmeva_rconn_command(w, NULL, NULL, 4, trim, NULL);
    }
}

/* ---- taking MPIC jobs --------------------------------------------------------------------- */

/* hex_encode writes |n| bytes as 2n lowercase hex digits and a NUL (no snprintf per byte: a
 * job asks six perspectives). */
static void hex_encode(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

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
    hex_encode(hex, d, 16);
    snprintf(out, len, "sha256:%s/mpic:%s:%s", hex, nonce, name);
}

/* read_mpic reads the job's optional "mpic" object (open-mpic's orchestration parameters).
 * Returns 0, or -1 with the field and the rule in |field|, |detail|. */
static int read_mpic(const acmeva_mpicjob *doc, int *count, int *quorum, char *field, size_t flen,
                     char *detail, size_t dlen)
{
    *count = *quorum = 0;
    if (!doc->has_mpic)
        return 0;
    if (!doc->mpic_is_object) {
        snprintf(field, flen, "mpic");
        snprintf(detail, dlen, "mpic: must be an object");
        return -1;
    }
    static const char *const keys[] = {"perspectiveCount", "quorumCount"};
    int *dst[] = {count, quorum};
    const acmeva_mpic_param *v[] = {&doc->perspective_count, &doc->quorum_count};
    for (int i = 0; i < 2; i++) {
        if (!v[i]->present)
            continue;
        if (!v[i]->is_integer || v[i]->value < 1 || v[i]->value > ACMEVA_COORD_MAX_REMOTES) {
            snprintf(field, flen, "mpic.%s", keys[i]);
            snprintf(detail, dlen, "mpic.%s: must be an integer from 1 to %d", keys[i],
                     ACMEVA_COORD_MAX_REMOTES);
            return -1;
        }
        *dst[i] = (int)v[i]->value;
    }
    return 0;
}

/* perspective_key returns the --perspective-key of |name|, or NULL. */
static const void *perspective_key(const acmeva_coordinator_options *o, const char *name)
{
    for (int i = 0; i < o->n_keys; i++)
        if (strcmp(o->keys[i].name, name) == 0)
            return o->keys[i].key;
    return NULL;
}

/*
 * min_remotes returns the minimum of remote perspectives per job in force now: the dated rule
 * min-remote-perspectives (brrules.c, BR 3.2.2.9) as the policy snapshot evaluates it (by date,
 * or its next step when enforce:min-remote-perspectives brings it in early). An explicit
 * --min-remotes replaces the dated value, except that a step brought in early by the policy
 * raises it: the fleet's operator outranks a local test setting.
 */
static int min_remotes(const coord *c, const acmeva_policy *pol, int *early)
{
    int dated = acmeva_policy_rule(pol, ACMEVA_RULE_MIN_REMOTES, early);
    int min = dated;
    if (c->o->min_remotes >= 0)
        min = *early && dated > c->o->min_remotes ? dated : c->o->min_remotes;
    return min < 1 ? 1 : min;
}

static void deliver(acmeva_consumer *cons, const acmeva_sentry *e)
{
    cthread *t = cons->svc;
    coord *c = t->c;
    const acmeva_coordinator_options *o = c->o;
    const char *primary = o->primary;
    mjob *m = calloc(1, sizeof(*m));
    if (m == NULL || acmeva_consumer_hold(cons, &m->h, e) < 0) {
        free(m);
        ACMEVA_LOG("error", "no memory for a job", ACMEVA_LS("entry", e->id));
        return;
    }
    m->t = t;
    m->started_ms = acmeva_wall_ms();
    m->start_hr = uv_hrtime();
    if (e->deleted) {
        m->state = MJOB_POSTING;
        acmeva_consumer_post(&m->h);
        return;
    }
    if (e->raw == NULL) {
        acmeva_consumer_malformed(&m->h, NULL, "job", "job: missing: the stream entry has no \"job\" field", primary);
        return;
    }
    if (e->raw_len > ACMEVA_JOB_MAX_BYTES) {
        char d[128];
        snprintf(d, sizeof(d), "job: %zu bytes is more than the limit of %d bytes", e->raw_len,
                 ACMEVA_JOB_MAX_BYTES);
        acmeva_consumer_malformed(&m->h, NULL, "job", d, primary);
        return;
    }
    acmeva_job_error err;
    if (acmeva_job_parse(e->raw, e->raw_len, &m->job, &err) < 0) {
        acmeva_consumer_malformed(&m->h, err.id, err.field, err.detail, primary);
        acmeva_job_error_clear(&err);
        return;
    }
    const acmeva_job *job = m->job;
    char field[64], detail[256];
    if (!acmeva_reply_to_allowed(o->d.reply_prefix, job->reply_to)) {
        snprintf(detail, sizeof(detail), "replyTo: must start with \"%.200s\" (--reply-prefix)",
                 o->d.reply_prefix);
        acmeva_consumer_malformed(&m->h, job->id, "replyTo", detail, primary);
        return;
    }
    /* The job's own members are already checked; the sub-jobs are made from its bytes. */
    m->doc = malloc(sizeof(*m->doc));
    if (m->doc != NULL && acmeva_mpicjob_read(m->doc, e->raw, e->raw_len) < 0) {
        free(m->doc); /* cannot be: acmeva_job_parse read the same bytes; no memory */
        m->doc = NULL;
    }
    m->h.item.reply_to = strdup(job->reply_to);
    if (m->doc == NULL || m->h.item.reply_to == NULL) {
        ACMEVA_LOG("error", "no memory for a job", ACMEVA_LS("entry", e->id));
        acmeva_consumer_drop(&m->h);
        return;
    }
    int count = 0, quorum = 0;
    if (read_mpic(m->doc, &count, &quorum, field, sizeof(field), detail, sizeof(detail)) < 0) {
        acmeva_consumer_malformed(&m->h, job->id, field, detail, primary);
        return;
    }
    const acmeva_policy *pol = acmeva_consumer_policy(cons);
    m->policy_version = pol != NULL ? pol->version : 0;
    int early = 0, min = min_remotes(c, pol, &early);
    if (count != 0 && (count > o->n_remotes || count < min)) {
        /* The job asks for a count it may not have: the CA core's mistake. */
        snprintf(detail, sizeof(detail),
                 "mpic.perspectiveCount: %d is not between the minimum of %d remote perspectives "
                 "(BR 3.2.2.9) and the %d configured",
                 count, min, o->n_remotes);
        acmeva_consumer_malformed(&m->h, job->id, "mpic.perspectiveCount", detail, primary);
        return;
    }
    if (count == 0)
        count = c->per_job;
    if (quorum > count) {
        snprintf(detail, sizeof(detail),
                 "mpic.quorumCount: %d is more than the %d remote perspectives asked", quorum,
                 count);
        acmeva_consumer_malformed(&m->h, job->id, "mpic.quorumCount", detail, primary);
        return;
    }
    if ((int64_t)e->attempt > o->d.max_deliveries) {
        char d[REASON_MAX];
        snprintf(d, sizeof(d), "delivered %d times without a result, more than --max-deliveries %lld",
                 e->attempt, (long long)o->d.max_deliveries);
        acmeva_consumer_unvalidated(&m->h, job, d, d, primary, "");
        return;
    }
    /* DESIGN.md "Live kill switch per method": a disabled method is refused before any
     * sub-job is sent, so no perspective is asked to run it. */
    if (acmeva_consumer_policy_refuses(&m->h, job, primary, ""))
        return;
    if (count < min) {
        /* This coordinator's own remotes fall short of the minimum in force (a step of the
         * rule that came by date or early by policy): not the job's fault, so serverInternal,
         * and the job is not corroborated below the BR. */
        snprintf(detail, sizeof(detail),
                 "This coordinator asks %d remote perspectives per job, fewer than the %d that "
                 "BR 3.2.2.9 requires now (min-remote-perspectives%s): add --remote perspectives",
                 count, min, early ? ", brought in early by the operator's policy" : "");
        acmeva_consumer_unvalidated(&m->h, job, detail, NULL, primary, "");
        return;
    }
    int64_t now = acmeva_wall_ms();
    int64_t deadline = now + o->timeout_ms;
    if (job->has_deadline && job->deadline_ms < deadline)
        deadline = job->deadline_ms;
    if (deadline <= now) {
        acmeva_consumer_unvalidated(&m->h, job, "deadline passed before the job was picked up", NULL, primary, "");
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
        acmeva_consumer_unvalidated(&m->h, job,
                                    "too little time left before the deadline to corroborate",
                                    NULL, primary, "");
        return;
    }
    /* One body for every sub-job (send_sub puts each one's id in front). */
    m->sub_body = acmeva_mpicjob_subjob_body(m->doc, e->raw, t->reply_stream, m->sub_deadline_ms,
                                             &m->sub_body_len);
    if (m->sub_body == NULL) {
        ACMEVA_LOG("error", "no memory for a job", ACMEVA_LS("entry", e->id));
        acmeva_consumer_drop(&m->h);
        return;
    }
    acmeva_mpicjob_clear(m->doc);
    free(m->doc);
    m->doc = NULL;

    /* The perspectives: the primary, then the remotes chosen for this identifier. */
    int chosen[ACMEVA_COORD_MAX_REMOTES];
    if (count == o->n_remotes) {
        for (int i = 0; i < count; i++)
            chosen[i] = i;
    } else if (acmeva_mpic_select(c->names, c->rirs, o->n_remotes, count, o->selection_key,
                                  o->selection_key_len, job->ident_value, chosen) < 0) {
        acmeva_consumer_drop(&m->h);
        return;
    }
    m->n = count;
    m->required = acmeva_mpic_required(count, quorum);
    /* A nonce of its own per sub-job: a perspective that sees its sub-job id cannot derive
     * another perspective's from it and answer in its name. (One RAND_bytes for all of them.) */
    uint8_t rnd[MAX_SUBS][8];
    RAND_bytes(&rnd[0][0], (size_t)(count + 1) * sizeof(rnd[0]));
    for (int i = 0; i <= count; i++) {
        sub *s = &m->subs[i];
        char nonce[17];
        hex_encode(nonce, rnd[i], sizeof(rnd[i]));
        s->m = m;
        s->slot = i;
        s->name = i == 0 ? o->primary : c->names[chosen[i - 1]];
        s->key = perspective_key(o, s->name);
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

/* ---- the consumer's hooks ------------------------------------------------------------------ */

/* writer_ready sends again the sub-jobs whose XADD went with a lost connection. */
static void writer_ready(acmeva_consumer *cons)
{
    for (acmeva_held *h = cons->head; h != NULL; h = h->next) {
        mjob *m = (mjob *)h;
        if (m->state != MJOB_RUNNING || m->n == 0)
            continue;
        send_sub(&m->subs[0]);
        if (m->remotes_out)
            for (int i = 1; i <= m->n; i++)
                send_sub(&m->subs[i]);
    }
}

/* idle: stopping with nothing in flight, the reply stream can go. */
static void idle(acmeva_consumer *cons)
{
    cthread *t = cons->svc;
    const char *del[] = {"DEL", t->reply_stream};
    acmeva_rconn_command(&cons->writer, NULL, NULL, 2, del, NULL);
}

/* policy_changed shows at once what a new snapshot does to this coordinator: the minimum of
 * remote perspectives in force, and whether its remotes still meet it (once per process: the
 * first thread says it). */
static void policy_changed(acmeva_consumer *cons, const acmeva_policy *old,
                           const acmeva_policy *cur)
{
    cthread *t = cons->svc;
    coord *c = t->c;
    int e0 = 0, e1 = 0;
    int before = old != NULL ? min_remotes(c, old, &e0) : -1, now = min_remotes(c, cur, &e1);
    if (t->index != 0 || (before == now && e0 == e1))
        return;
    if (c->per_job < now)
        ACMEVA_LOG("error",
                   "too few remote perspectives for the minimum in force: MPIC jobs are refused",
                   ACMEVA_LI("min_remotes", now), ACMEVA_LI("early", e1),
                   ACMEVA_LI("perspective_count", c->per_job), ACMEVA_LS("rule", "BR 3.2.2.9"),
                   ACMEVA_LS("fix", "add --remote NAME:RIR perspectives"));
    else
        ACMEVA_LOG("info", "minimum of remote perspectives in force", ACMEVA_LI("min_remotes", now),
                   ACMEVA_LI("early", e1), ACMEVA_LI("perspective_count", c->per_job));
}

static const acmeva_consumer_ops consumer_ops = {.deliver = deliver,
                                                 .release = release,
                                                 .writer_ready = writer_ready,
                                                 .idle = idle,
                                                 .policy_changed = policy_changed};

static void thread_stop(acmeva_dthread *d)
{
    cthread *t = d->svc;
    acmeva_consumer_stop(&t->cons);
}

static void thread_finish(acmeva_dthread *d)
{
    cthread *t = d->svc;
    ACMEVA_LOG("info", "mpic results not used", ACMEVA_LI("thread", t->index),
               ACMEVA_LI("late_results", t->n_late + t->n_dup + t->n_foreign),
               ACMEVA_LI("late", t->n_late), ACMEVA_LI("duplicates", t->n_dup),
               ACMEVA_LI("unknown", t->n_foreign), ACMEVA_LI("bad_signatures", t->n_bad_sig));
    acmeva_rconn_close(&t->results);
    acmeva_consumer_close(&t->cons);
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
    snprintf(t->cursor, sizeof(t->cursor), "0");
    t->table_size = 4096;
    t->table = calloc(t->table_size, sizeof(*t->table));
    if (t->table == NULL) {
        snprintf(err, errlen, "no memory");
        return -1;
    }
    acmeva_consumer_config cc = {ACMEVA_MPIC_STREAM,
                                 ACMEVA_MPIC_GROUP,
                                 "job",
                                 c->claim_idle_ms,
                                 c->o->d.block_ms,
                                 c->o->d.max_inflight,
                                 c->o->d.results_maxlen,
                                 "mpic answer",
                                 acmeva_ops_thread_shard(&c->ops, (size_t)d->index),
                                 c->ops.audit,
                                 "mpic",
                                 NULL,
                                 c->ops.policy};
    if (acmeva_consumer_init(&t->cons, d, &c->rs, &cc, &consumer_ops, t, err, errlen) < 0) {
        free(t->table);
        return -1;
    }
    snprintf(t->reply_stream, sizeof(t->reply_stream), "%s:mpic:%s", c->o->d.reply_prefix,
             t->cons.name);
    char sname[sizeof(t->cons.name) + 16];
    snprintf(sname, sizeof(sname), "%s:results", t->cons.name);
    if (acmeva_rconn_init(&t->results, &d->loop, &c->rs, "results", d->index, sname,
                          results_ready, NULL, t) != 0) {
        snprintf(err, errlen, "cannot set up the Redis connections");
        free(t->table);
        return -1;
    }
    uv_timer_init(&d->loop, &t->upkeep);
    t->upkeep.data = t;
    uv_timer_start(&t->upkeep, upkeep_cb, UPKEEP_MS, UPKEEP_MS);
    acmeva_consumer_start(&t->cons);
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
    for (int i = 0; i < o->n_keys; i++) {
        int known = strcmp(o->keys[i].name, o->primary) == 0;
        for (int j = 0; j < o->n_remotes; j++)
            known |= strcmp(o->keys[i].name, o->remotes[j].name) == 0;
        if (!known) {
            ACMEVA_LOG("error",
                       "cannot start: --perspective-key names no perspective of "
                       "--primary or --remote",
                       ACMEVA_LS("perspective", o->keys[i].name));
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
    for (int i = 0; i < o->n_keys; i++) {
        free(o->keys[i].name);
        acmeva_sig_key_free(o->keys[i].key);
    }
    o->n_keys = 0;
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
    int n = acmeva_daemon_threads(&o->d);
    acmeva_rconn_settings_init(&c->rs, &o->d, c->redis_masked, ACMEVA_MPIC_STREAM);
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
    char remotes[1024] = "", signed_by[1024] = "";
    size_t off = 0;
    for (int i = 0; i < o->n_keys && off + 1 < sizeof(signed_by); i++) {
        char id[ACMEVA_SIG_KEYID_LEN + 1] = "?";
        acmeva_sig_key_id(o->keys[i].key, id);
        int k = snprintf(signed_by + off, sizeof(signed_by) - off, "%s%s=%s", i ? "," : "",
                         o->keys[i].name, id);
        if (k > 0)
            off += (size_t)k;
    }
    off = 0;
    for (int i = 0; i < o->n_remotes && off + 1 < sizeof(remotes); i++) {
        int k = snprintf(remotes + off, sizeof(remotes) - off, "%s%s:%s", i ? "," : "",
                         o->remotes[i].name, o->remotes[i].rir);
        if (k > 0)
            off += (size_t)k;
    }
    ACMEVA_LOG("info", "acmeva-coordinator starting", ACMEVA_LS("version", acmeva_version()),
               ACMEVA_LS("redis", c->redis_masked),
               ACMEVA_LS("stream", ACMEVA_MPIC_STREAM), ACMEVA_LS("group", ACMEVA_MPIC_GROUP),
               ACMEVA_LS("primary", o->primary), ACMEVA_LS("remotes", remotes),
               ACMEVA_LS("perspective_keys", o->n_keys ? signed_by : "none"),
               ACMEVA_LI("perspective_count", c->per_job), ACMEVA_LI("min_remotes", c->min_remotes),
               ACMEVA_LI("slow_remote_ms", o->slow_remote_ms),
               ACMEVA_LS("mode", o->parallel ? "parallel" : "primary first"),
               ACMEVA_LI("selection_key", o->selection_key_len > 0), ACMEVA_LI("threads", n),
               ACMEVA_LI("max_inflight", o->d.max_inflight), ACMEVA_LI("timeout_ms", o->timeout_ms),
               ACMEVA_LI("claim_idle_ms", c->claim_idle_ms),
               ACMEVA_LI("max_deliveries", o->d.max_deliveries),
               ACMEVA_LI("grace_ms", o->d.grace_ms),
               ACMEVA_LI("redis_timeout_ms", o->d.redis_timeout_ms),
               ACMEVA_LS("reply_prefix", o->d.reply_prefix),
               ACMEVA_LS("metrics_listen", o->d.metrics_listen),
               ACMEVA_LS("audit_log", o->d.audit_log), ACMEVA_LI("nofile", (int64_t)have),
               ACMEVA_LI("pid", (long)getpid()));
    /* Metrics, endpoints and audit log (ops.h): the perspective label takes the primary and
     * every remote. */
    c->label_names[0] = o->primary;
    for (int i = 0; i < o->n_remotes; i++)
        c->label_names[1 + i] = o->remotes[i].name;
    if (acmeva_ops_init(&c->ops, &c->d, &o->d, c->label_names, 1 + (size_t)o->n_remotes,
                        (size_t)n, (size_t)n * (size_t)o->d.max_inflight, err,
                        sizeof(err)) < 0) {
        ACMEVA_LOG("error", "cannot start", ACMEVA_LS("error", err));
        free(c);
        return 1;
    }
    /* DESIGN.md "Channel": the TLS context of the Redis connections (rediss://). */
    if (acmeva_redis_tls_ctx_new(&o->d.redis, &o->d.tls, &c->rs.ssl_ctx, err, sizeof(err)) < 0 ||
        acmeva_ops_watch_policy(&c->ops, c->d.name, &c->rs, (size_t)n, err, sizeof(err)) < 0) {
        ACMEVA_LOG("error", "cannot start", ACMEVA_LS("error", err));
        goto out;
    }
    acmeva_redis_channel_note(c->d.name, 0, &o->d.redis, &o->d.tls, c->rs.ssl_ctx);
    c->threads = calloc((size_t)n, sizeof(cthread));
    if (c->threads == NULL) {
        ACMEVA_LOG0("error", "cannot start: no memory");
        goto out;
    }
    status = acmeva_daemon_run(&c->d);
    if (status == 0)
        ACMEVA_LOG0("info", "acmeva-coordinator stopped");
out:
    acmeva_ops_clear(&c->ops);
    acmeva_redis_tls_ctx_free(c->rs.ssl_ctx);
    free(c->threads);
    free(c);
    return status;
}
