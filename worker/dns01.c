/*
 * The TXT-record methods:
 * - dns-01 (RFC 8555 §8.4, BR 3.2.2.4.7): TXT at _acme-challenge.<domain> must hold
 *   base64url(SHA-256(keyAuthorization)).
 * - dns-account-01 (draft-ietf-acme-dns-account-label, BR 3.2.2.4.21): the same value at
 *   _<label>._acme-challenge.<domain>, label from the account URI (dnsaccount.c).
 * - dns-persist-01 (draft-ietf-acme-dns-persist, BR 3.2.2.4.22): a standing record at
 *   _validation-persist.<domain> naming our issuer domain and the account (dnspersist.c).
 * A leading "*." of a wildcard identifier is removed first. The strings of one TXT record are
 * joined; any record that matches wins. Every record of the answer is considered (the message
 * size is the only bound), and the first DNS01_RECORDED values are kept in the validation
 * record. The answer's AD bit is recorded as "dnssec" (RFC 6840 §5.7).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "dnsaccount.h"
#include "dnspersist.h"
#include "engine_int.h"
#include "escape.h"

#define TXT_MAX 4096       /* bytes of one joined TXT record considered */
#define DNS01_RECORDED 100 /* TXT values written into the validation record */

typedef struct txt_check {
    acmeva_validation *v;
    uv_timer_t *timer;
    acmeva_dns_query *q;
    char name[300];
    char expected[44]; /* dns-01 and dns-account-01 */
    size_t rec;
} txt_check;

static void release(txt_check *c)
{
    acmeva_dns_query_cancel(c->q);
    c->q = NULL;
    acmeva_timer_free(c->timer);
    c->timer = NULL;
}

static void finish(txt_check *c, int ok)
{
    acmeva_validation *v = c->v;
    release(c);
    v->challenge_ok = ok;
    free(c);
    acmeva_validation_check_done(v, ACMEVA_CHECK_CHALLENGE);
}

static void fail(txt_check *c, acmeva_problem_type type, const char *detail)
{
    acmeva_validation_set_problem(c->v, type, detail);
    finish(c, 0);
}

static int64_t now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec;
}

/* judge finishes the check on the TXT values of the answer: valid when one matches. */
static void judge(txt_check *c, const acmeva_dns_msg *m)
{
    acmeva_validation *v = c->v;
    const acmeva_job *job = v->job;
    acmeva_vrecord *rec = &v->result->records[c->rec];
    char txt[TXT_MAX + 1];
    char detail[1024];
    size_t n_txt = 0;
    const acmeva_dns_rr *first = NULL; /* quoted in the problem detail, built only on failure */
    int persist = job->chall_type == ACMEVA_CHALL_DNSPERSIST01;
    int persist_malformed = 0;
    char persist_why[256] = "";
    const char *const *issuers = (const char *const *)v->e->cfg->issuer_domains;
    size_t n_issuers = v->e->cfg->n_issuer_domains;
    if (job->issuer_domains != NULL) {
        issuers = (const char *const *)job->issuer_domains;
        n_issuers = job->n_issuer_domains;
    }
    for (size_t i = 0; i < m->n_answers; i++) {
        const acmeva_dns_rr *rr = &m->answers[i];
        if (rr->type != ACMEVA_DNS_TXT)
            continue;
        int len = acmeva_dns_txt_join(rr->rdata, rr->rdlen, txt, sizeof(txt));
        if (len < 0)
            continue; /* a malformed or oversized record cannot match */
        txt[len] = '\0';
        if (rec->records.n < DNS01_RECORDED) {
            char *esc = acmeva_escape_dup((const uint8_t *)txt, (size_t)len, 0);
            if (esc != NULL)
                acmeva_validation_list_add(v, &rec->records, esc, strlen(esc));
            else
                acmeva_validation_nomem(v);
            free(esc);
        }
        if (n_txt++ == 0)
            first = rr;
        if (!persist) {
            if ((size_t)len == strlen(c->expected) && memcmp(txt, c->expected, (size_t)len) == 0) {
                finish(c, 1);
                return;
            }
            continue;
        }
        char why[256];
        acmeva_persist_verdict verdict =
            acmeva_persist_judge(txt, (size_t)len, issuers, n_issuers, job->account_uri,
                                 job->wildcard, now_s(), why, sizeof(why));
        if (verdict == ACMEVA_PERSIST_MATCH) {
            rec->matched_record = acmeva_escape_dup((const uint8_t *)txt, (size_t)len, 0);
            if (rec->matched_record == NULL)
                acmeva_validation_nomem(v);
            finish(c, 1);
            return;
        }
        if (verdict == ACMEVA_PERSIST_MALFORMED && !persist_malformed) {
            persist_malformed = 1;
            snprintf(persist_why, sizeof(persist_why), "%s", why);
        } else if (verdict == ACMEVA_PERSIST_MISMATCH && persist_why[0] == '\0') {
            snprintf(persist_why, sizeof(persist_why), "%s", why);
        }
    }
    if (persist) {
        if (persist_malformed) {
            snprintf(detail, sizeof(detail), "Malformed dns-persist-01 record at %s: %s", c->name,
                     persist_why);
            fail(c, ACMEVA_PROB_MALFORMED, detail);
        } else {
            snprintf(detail, sizeof(detail), "No valid dns-persist-01 record found at %s%s%s",
                     c->name, persist_why[0] ? ": " : "", persist_why);
            fail(c, ACMEVA_PROB_UNAUTHORIZED, detail);
        }
        return;
    }
    if (n_txt == 0) {
        snprintf(detail, sizeof(detail), "No TXT record found at %s", c->name);
    } else {
        /* Boulder: the first record, cut to 100 characters with "..." after. */
        int len = acmeva_dns_txt_join(first->rdata, first->rdlen, txt, sizeof(txt));
        char *cut = acmeva_escape_dup((const uint8_t *)txt, len > 0 ? (size_t)len : 0, 100);
        if (cut == NULL)
            acmeva_validation_nomem(v);
        char more[48] = "";
        if (n_txt > 1)
            snprintf(more, sizeof(more), " (and %zu more)", n_txt - 1);
        snprintf(detail, sizeof(detail), "Incorrect TXT record \"%s%s\"%s found at %s",
                 cut ? cut : "", len > 100 ? "..." : "", more, c->name);
        free(cut);
    }
    fail(c, ACMEVA_PROB_UNAUTHORIZED, detail);
}

static void txt_cb(void *arg, const acmeva_dns_answer *ans)
{
    txt_check *c = arg;
    acmeva_vrecord *rec = &c->v->result->records[c->rec];
    char detail[ACMEVA_DNS_PROBLEM_MAX];
    c->q = NULL;
    if (ans->resolver != NULL)
        acmeva_validation_list_add(c->v, &rec->resolver_addrs, ans->resolver,
                                   strlen(ans->resolver));
    if (ans->status == ACMEVA_DNS_OK) {
        rec->rcode = acmeva_validation_strdup(c->v, acmeva_dns_rcode_name(ans->msg->rcode));
        rec->dnssec = acmeva_validation_strdup(c->v, ans->msg->ad ? "secure" : "insecure");
        acmeva_dns_answer_cnames(ans->msg, &rec->cnames);
    }
    /* Any rcode other than NOERROR is a dns problem; SERVFAIL is never success. */
    if (acmeva_dns_problem(ans, "TXT", c->name, detail, sizeof(detail))) {
        fail(c, acmeva_validation_dns_failure(c->v, ans->status == ACMEVA_DNS_LOCAL), detail);
        return;
    }
    judge(c, ans->msg);
}

static void txt_timeout_cb(uv_timer_t *t)
{
    txt_check *c = t->data;
    char detail[400];
    snprintf(detail, sizeof(detail), "DNS problem: query timed out looking up TXT for %s", c->name);
    fail(c, ACMEVA_PROB_DNS, detail);
}

static int txt_start(acmeva_validation *v, void **state)
{
    const acmeva_job *job = v->job;
    const char *domain = job->ident_value + (job->wildcard ? 2 : 0);
    txt_check *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -1;
    c->v = v;
    int rc = 0;
    switch (job->chall_type) {
    case ACMEVA_CHALL_DNS01:
        snprintf(c->name, sizeof(c->name), "_acme-challenge.%s", domain);
        rc = acmeva_dns01_value(job->key_authorization, c->expected);
        break;
    case ACMEVA_CHALL_DNSACCOUNT01:
        rc = acmeva_dns_account_name(job->account_uri, domain, c->name, sizeof(c->name));
        if (rc >= 0)
            rc = acmeva_dns01_value(job->key_authorization, c->expected);
        break;
    case ACMEVA_CHALL_DNSPERSIST01:
        snprintf(c->name, sizeof(c->name), "_validation-persist.%s", domain);
        break;
    default:
        rc = -1;
    }
    acmeva_vrecord *rec = rc < 0 ? NULL : acmeva_result_add_record(v->result);
    c->timer = rec ? acmeva_timer_new(v->e->loop, c) : NULL;
    if (c->timer == NULL) {
        free(c);
        return -1;
    }
    c->rec = v->result->n_records - 1;
    rec->hostname = acmeva_validation_strdup(v, c->name);
    if (c->expected[0] != '\0')
        rec->expected = acmeva_validation_strdup(v, c->expected);
    *state = c;
    uv_timer_start(c->timer, txt_timeout_cb, acmeva_phase_ms(v, 0), 0);
    rc = acmeva_dns_query_start(v->e->resolver, c->name, ACMEVA_DNS_TXT, txt_cb, c, &c->q);
    if (rc == UV_ENOMEM)
        fail(c, acmeva_validation_dns_failure(v, 1), "cannot start a DNS query: out of memory");
    else if (rc != 0)
        fail(c, ACMEVA_PROB_SERVER_INTERNAL, "cannot start a DNS query");
    return 0;
}

static void txt_cancel(void *state)
{
    txt_check *c = state;
    release(c);
    free(c);
}

const acmeva_check_ops acmeva_dns01_ops = {txt_start, txt_cancel};
const acmeva_check_ops acmeva_dnspersist01_ops = {txt_start, txt_cancel};
