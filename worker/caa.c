/*
 * CAA (RFC 8659 §3, RFC 8657, BR 3.2.2.8): CAA is looked up at the name and at every parent
 * up to and including the TLD, all at once; the closest non-empty set is the relevant one,
 * decided by caapolicy.c. A lookup error at or below the first non-empty level fails the
 * check (an answer we could not get may have forbidden issuance); NXDOMAIN counts as empty
 * below the TLD, but a TLD that does not exist fails the check (no issuance under a TLD that
 * was removed or never delegated); a truncated answer is an error. IP identifiers are not
 * checked (no CAA tree for them; BR 3.2.2.8 applies CAA to domain names).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caapolicy.h"
#include "engine_int.h"
#include "escape.h"

#define CAA_MAX_LEVELS 127 /* labels of a 253-byte name */

typedef struct caa_level {
    struct caa_check *c;
    acmeva_dns_query *q;
    const char *name; /* points into c->name */
    int done;
    int failed;
    int local; /* failed for want of a socket or memory here (ACMEVA_DNS_LOCAL) */
    char error[ACMEVA_DNS_PROBLEM_MAX];
    size_t n_caa; /* CAA records in the answer */
    uint8_t *rrs; /* copies of the CAA rdata, each prefixed by a 2-byte length */
    size_t rrs_len;
    char resolver[64];
    int answered; /* a reply was taken (any rcode) */
    int secure;   /* ... and it had the AD bit */
} caa_level;

typedef struct caa_check {
    acmeva_validation *v;
    uv_timer_t *timer;
    char name[256];
    caa_level *levels; /* one per label of the name, sized when the check starts */
    size_t n_levels, pending;
} caa_check;

static void release(caa_check *c)
{
    for (size_t i = 0; i < c->n_levels; i++) {
        acmeva_dns_query_cancel(c->levels[i].q);
        c->levels[i].q = NULL;
        free(c->levels[i].rrs);
        c->levels[i].rrs = NULL;
    }
    acmeva_timer_free(c->timer);
    c->timer = NULL;
    free(c->levels);
    c->levels = NULL;
    c->n_levels = 0;
}

static void finish(caa_check *c, int ok, acmeva_problem_type type, const char *detail)
{
    acmeva_validation *v = c->v;
    acmeva_result *r = v->result;
    r->caa_valid = ok;
    if (!ok) {
        r->caa_problem.type = type;
        free(r->caa_problem.detail);
        r->caa_problem.detail = acmeva_validation_strdup(v, detail);
    }
    v->caa_ok = ok;
    release(c);
    free(c);
    acmeva_validation_check_done(v, ACMEVA_CHECK_CAA);
}

/* record_lookups writes which resolvers answered the lookups of levels 0..|last|, the ones
 * the outcome rests on (the closest non-empty set, or the failure, and every empty set below
 * it), and whether all of those answers were authenticated (DESIGN.md "DNSSEC"). */
static void record_lookups(caa_check *c, size_t last)
{
    acmeva_result *r = c->v->result;
    int answered = 0, secure = 1;
    for (size_t i = 0; i <= last && i < c->n_levels; i++) {
        const caa_level *l = &c->levels[i];
        secure &= l->answered && l->secure;
        if (!l->answered)
            continue;
        answered = 1;
        int seen = 0;
        for (size_t k = 0; k < r->caa_resolver_addrs.n && !seen; k++)
            seen = strcmp(r->caa_resolver_addrs.v[k], l->resolver) == 0;
        if (!seen)
            acmeva_strlist_add(&r->caa_resolver_addrs, l->resolver, strlen(l->resolver));
    }
    if (answered && r->caa_dnssec == NULL)
        r->caa_dnssec = strdup(secure ? "secure" : "insecure");
}

/* job_issuers returns the CA's issuer domains this job's CAA records are held to: the job's
 * caa.issuerDomains, else the engine's --issuer-domain values. */
static const char *const *job_issuers(const acmeva_validation *v, size_t *n)
{
    if (v->job->issuer_domains != NULL) {
        *n = v->job->n_issuer_domains;
        return (const char *const *)v->job->issuer_domains;
    }
    *n = v->e->cfg->n_issuer_domains;
    return (const char *const *)v->e->cfg->issuer_domains;
}

/* Every level answered (or the deadline hit): pick the relevant set and decide. */
static void decide(caa_check *c)
{
    acmeva_validation *v = c->v;
    acmeva_result *r = v->result;
    const acmeva_job *job = v->job;
    char detail[1024];
    for (size_t i = 0; i < c->n_levels; i++) {
        caa_level *l = &c->levels[i];
        if (l->failed) {
            record_lookups(c, i);
            snprintf(detail, sizeof(detail), "While processing CAA for %s: %s", job->ident_value,
                     l->error);
            finish(c, 0, acmeva_validation_dns_failure(v, l->local), detail);
            return;
        }
        if (l->n_caa == 0)
            continue;
        record_lookups(c, i);
        /* The relevant record set (RFC 8659 §3): the closest non-empty one, every record of
         * it (one left out could be the one that forbids issuance). The parsed records own
         * the tags that recs[] points to, so both live until the decision. */
        acmeva_caa_record *recs = calloc(l->n_caa, sizeof(*recs));
        acmeva_caa_rr *parsed = calloc(l->n_caa, sizeof(*parsed));
        size_t n = 0;
        if (recs == NULL || parsed == NULL) {
            free(recs);
            free(parsed);
            acmeva_validation_nomem(v);
            finish(c, 0, acmeva_validation_dns_failure(v, 1), "out of memory");
            return;
        }
        const uint8_t *p = l->rrs, *end = l->rrs + l->rrs_len;
        while (p + 2 <= end && n < l->n_caa) {
            size_t len = (size_t)p[0] << 8 | p[1];
            acmeva_caa_rr *rrp = &parsed[n];
            if (acmeva_dns_caa_parse(p + 2, len, rrp) == 0) {
                recs[n].flags = rrp->flags;
                recs[n].tag = rrp->tag;
                recs[n].tag_len = rrp->tag_len;
                recs[n].value = rrp->value;
                recs[n].value_len = rrp->value_len;
                /* Keep the record text for the result: "flags tag value", escaped. */
                char *val = acmeva_escape_dup(rrp->value, rrp->value_len, 0);
                char *tag = acmeva_escape_dup((const uint8_t *)rrp->tag, rrp->tag_len, 0);
                char text[1400];
                int tl = snprintf(text, sizeof(text), "%u %s \"%s\"", rrp->flags, tag ? tag : "",
                                  val ? val : "");
                if (val == NULL || tag == NULL)
                    acmeva_validation_nomem(v);
                if (tl > 0)
                    acmeva_validation_list_add(v, &r->caa_records, text,
                                               (size_t)tl < sizeof(text) ? (size_t)tl
                                                                         : sizeof(text) - 1);
                free(val);
                free(tag);
                n++;
            } else {
                /* A CAA record whose rdata does not parse cannot be honoured: treat it as a
                 * critical unknown record, which forbids issuance (fail closed). */
                static const char bad_tag[] = "malformed";
                recs[n].flags = 128;
                recs[n].tag = bad_tag;
                recs[n].tag_len = sizeof(bad_tag) - 1;
                recs[n].value = NULL;
                recs[n].value_len = 0;
                acmeva_validation_list_add(v, &r->caa_records, "malformed CAA record", 20);
                n++;
            }
            p += 2 + len;
        }
        r->caa_found_at = acmeva_validation_strdup(v, l->name);
        size_t n_issuers;
        const char *const *issuers = job_issuers(v, &n_issuers);
        /* RFC 8657 §4: validationmethods is checked against the challenge's type, or the
         * caa.method a CAA-only job names (the method that validated its authorization). */
        acmeva_caa_request req = {issuers, n_issuers, job->wildcard, job->account_uri,
                                  acmeva_chall_type_name(job->caa_method)};
        char reason[256];
        unsigned notes = 0;
        int permitted = acmeva_caa_decide(recs, n, &req, reason, sizeof(reason), &notes) == 1;
        /* Which record decided, in caapolicy.c's words (record bytes escaped there). */
        r->caa_decision = acmeva_validation_strdup(v, reason);
        free(recs);
        free(parsed);
        if (permitted) {
            finish(c, 1, ACMEVA_PROB_NONE, NULL);
            return;
        }
        snprintf(detail, sizeof(detail),
                 "While processing CAA for %s: CAA record for %s prevents issuance%s",
                 job->ident_value, l->name,
                 (notes & ACMEVA_CAA_WANTS_METHOD)
                     ? " (the record limits validationmethods, which a CAA-only job meets only "
                       "by naming the method that validated the authorization in caa.method)"
                     : "");
        finish(c, 0, ACMEVA_PROB_CAA, detail);
        return;
    }
    /* No CAA record anywhere up the tree: any CA may issue (RFC 8659 §3). */
    record_lookups(c, c->n_levels - 1);
    finish(c, 1, ACMEVA_PROB_NONE, NULL);
}

static void level_cb(void *arg, const acmeva_dns_answer *ans)
{
    caa_level *l = arg;
    caa_check *c = l->c;
    l->q = NULL;
    l->done = 1;
    snprintf(l->resolver, sizeof(l->resolver), "%s", ans->resolver ? ans->resolver : "");
    l->answered = ans->status == ACMEVA_DNS_OK;
    l->secure = l->answered && ans->msg->ad;
    if (acmeva_dns_problem(ans, "CAA", l->name, l->error, sizeof(l->error))) {
        /* NXDOMAIN is an empty set: the name does not exist, so it has no CAA records. Not at
         * the TLD: a name under a TLD that does not exist cannot be a public one. */
        int nxdomain = ans->status == ACMEVA_DNS_OK && ans->msg->rcode == ACMEVA_RCODE_NXDOMAIN;
        l->failed = !nxdomain || strchr(l->name, '.') == NULL;
        l->local = ans->status == ACMEVA_DNS_LOCAL;
    } else if (ans->msg->tc) {
        l->failed = 1;
        snprintf(l->error, sizeof(l->error), "DNS problem: truncated answer looking up CAA for %s",
                 l->name);
    } else {
        size_t need = 0;
        for (size_t i = 0; i < ans->msg->n_answers; i++)
            if (ans->msg->answers[i].type == ACMEVA_DNS_CAA)
                need += 2 + ans->msg->answers[i].rdlen;
        if (need > 0 && (l->rrs = malloc(need)) != NULL) {
            for (size_t i = 0; i < ans->msg->n_answers; i++) {
                const acmeva_dns_rr *rr = &ans->msg->answers[i];
                if (rr->type != ACMEVA_DNS_CAA)
                    continue;
                l->rrs[l->rrs_len] = (uint8_t)(rr->rdlen >> 8);
                l->rrs[l->rrs_len + 1] = (uint8_t)rr->rdlen;
                memcpy(l->rrs + l->rrs_len + 2, rr->rdata, rr->rdlen);
                l->rrs_len += 2 + rr->rdlen;
                l->n_caa++;
            }
        } else if (need > 0) {
            acmeva_validation_nomem(c->v);
            l->failed = 1;
            l->local = 1;
            snprintf(l->error, sizeof(l->error), "out of memory");
        }
    }
    if (--c->pending == 0)
        decide(c);
}

static void caa_timeout_cb(uv_timer_t *t)
{
    caa_check *c = t->data;
    for (size_t i = 0; i < c->n_levels; i++) {
        caa_level *l = &c->levels[i];
        if (!l->done) {
            acmeva_dns_query_cancel(l->q);
            l->q = NULL;
            l->done = 1;
            l->failed = 1;
            snprintf(l->error, sizeof(l->error),
                     "DNS problem: query timed out looking up CAA for %s", l->name);
        }
    }
    c->pending = 0;
    decide(c);
}

static int caa_start(acmeva_validation *v, void **state)
{
    const acmeva_job *job = v->job;
    acmeva_result *r = v->result;
    r->has_caa = 1;
    if (job->ident_type == ACMEVA_IDENT_IP) {
        r->caa_valid = 1;
        v->caa_ok = 1;
        r->caa_note = acmeva_validation_strdup(v, "CAA is not checked for IP identifiers");
        *state = NULL;
        acmeva_validation_check_done(v, ACMEVA_CHECK_CAA);
        return 0;
    }
    caa_check *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -1;
    c->v = v;
    size_t n_issuers;
    const char *const *issuers = job_issuers(v, &n_issuers);
    for (size_t i = 0; i < n_issuers; i++)
        if (issuers[i] != NULL)
            acmeva_validation_list_add(v, &r->caa_issuer_domains, issuers[i], strlen(issuers[i]));
    const char *name = job->ident_value;
    if (job->wildcard)
        name += 2; /* "*.example.com": CAA of example.com, issuewild first (RFC 8659 §4.3) */
    snprintf(c->name, sizeof(c->name), "%s", name);
    /* The name and each parent up to and including the TLD: one level per label. */
    size_t labels = 1;
    for (const char *d = c->name; *d != '\0'; d++)
        labels += *d == '.';
    if (labels > CAA_MAX_LEVELS)
        labels = CAA_MAX_LEVELS;
    c->levels = calloc(labels, sizeof(*c->levels));
    c->timer = c->levels ? acmeva_timer_new(v->e->loop, c) : NULL;
    if (c->timer == NULL) {
        free(c->levels);
        free(c);
        return -1;
    }
    const char *p = c->name;
    while (p != NULL && *p != '\0' && c->n_levels < labels) {
        caa_level *l = &c->levels[c->n_levels++];
        l->c = c;
        l->name = p;
        p = strchr(p, '.');
        if (p != NULL)
            p++;
    }
    *state = c;
    uv_timer_start(c->timer, caa_timeout_cb, acmeva_phase_ms(v, 0), 0);
    for (size_t i = 0; i < c->n_levels; i++) {
        caa_level *l = &c->levels[i];
        int rc =
            acmeva_dns_query_start(v->e->resolver, l->name, ACMEVA_DNS_CAA, level_cb, l, &l->q);
        if (rc != 0) {
            l->done = 1;
            l->failed = 1;
            l->local = rc == UV_ENOMEM;
            snprintf(l->error, sizeof(l->error), "cannot start a DNS query");
            continue;
        }
        c->pending++;
    }
    if (c->pending == 0)
        decide(c);
    return 0;
}

static void caa_cancel(void *state)
{
    caa_check *c = state;
    release(c);
    free(c);
}

const acmeva_check_ops acmeva_caa_ops = {caa_start, caa_cancel};
