/*
 * The result document, schema major 1 (DESIGN.md "Result", proto/result.schema.json): building
 * it in memory and writing it as one line of compact JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmeva/proto.h"
#include "acmeva/version.h"
#include "proto_int.h"

acmeva_result *acmeva_result_new(void)
{
    acmeva_result *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->attempt = 1;
    return r;
}

static void vrecord_clear(acmeva_vrecord *rec)
{
    free(rec->url);
    free(rec->hostname);
    free(rec->port);
    acmeva_strlist_clear(&rec->addresses_resolved);
    free(rec->address_used);
    acmeva_strlist_clear(&rec->addresses_tried);
    acmeva_strlist_clear(&rec->resolver_addrs);
    free(rec->dnssec);
    free(rec->rcode);
    acmeva_strlist_clear(&rec->records);
    free(rec->matched_record);
    free(rec->body);
    acmeva_strlist_clear(&rec->tried_errors);
    acmeva_strlist_clear(&rec->cnames);
    acmeva_strlist_clear(&rec->cert_names);
    free(rec->alpn);
    free(rec->expected);
}

void acmeva_result_free(acmeva_result *r)
{
    if (r == NULL)
        return;
    free(r->id);
    free(r->ident_type);
    free(r->ident_value);
    free(r->chall_type);
    free(r->token);
    for (size_t i = 0; i < r->n_records; i++)
        vrecord_clear(&r->records[i]);
    free(r->records);
    free(r->problem.detail);
    free(r->caa_found_at);
    acmeva_strlist_clear(&r->caa_records);
    acmeva_strlist_clear(&r->caa_resolver_addrs);
    free(r->caa_dnssec);
    free(r->caa_note);
    free(r->caa_problem.detail);
    acmeva_strlist_clear(&r->caa_issuer_domains);
    free(r->caa_decision);
    for (size_t i = 0; i < r->n_address_checks; i++) {
        free(r->address_checks[i].address);
        acmeva_result_free(r->address_checks[i].result);
    }
    free(r->address_checks);
    free(r->perspective);
    free(r->rir);
    free(r->worker);
    free(r->worker_version);
    free(r);
}

acmeva_vrecord *acmeva_result_add_record(acmeva_result *r)
{
    /* A cap, so that a long redirect chain or a deep CAA walk cannot grow a result without
     * bound; the engine's own limits stay far below it. */
    if (r == NULL || r->n_records >= ACMEVA_RESULT_MAX_RECORDS)
        return NULL;
    if (r->n_records == r->cap_records) {
        size_t cap = r->cap_records ? r->cap_records * 2 : 1;
        if (cap > ACMEVA_RESULT_MAX_RECORDS)
            cap = ACMEVA_RESULT_MAX_RECORDS;
        acmeva_vrecord *v = realloc(r->records, cap * sizeof(*v));
        if (v == NULL)
            return NULL;
        r->records = v;
        r->cap_records = cap;
    }
    acmeva_vrecord *rec = &r->records[r->n_records++];
    memset(rec, 0, sizeof(*rec));
    return rec;
}

int acmeva_result_add_address_check(acmeva_result *r, const char *address, acmeva_result *check)
{
    if (r == NULL || address == NULL || check == NULL ||
        r->n_address_checks >= ACMEVA_MAX_ADDRESS_CHECKS)
        return ACMEVA_PROTO_EINVAL;
    char *copy = acmeva_strdup_n(address, strlen(address));
    acmeva_address_check *v =
        copy ? realloc(r->address_checks, (r->n_address_checks + 1) * sizeof(*v)) : NULL;
    if (v == NULL) {
        free(copy);
        return ACMEVA_PROTO_ENOMEM;
    }
    r->address_checks = v;
    v[r->n_address_checks].address = copy;
    v[r->n_address_checks].result = check;
    r->n_address_checks++;
    return 0;
}

int acmeva_result_set_problem(acmeva_result *r, acmeva_problem_type type, const char *detail)
{
    if (r == NULL || acmeva_problem_urn(type) == NULL)
        return ACMEVA_PROTO_EINVAL;
    char *copy = acmeva_strdup_n(detail ? detail : "", detail ? strlen(detail) : 0);
    if (copy == NULL)
        return ACMEVA_PROTO_ENOMEM;
    free(r->problem.detail);
    r->problem.type = type;
    r->problem.detail = copy;
    r->valid = 0;
    return 0;
}

acmeva_result *acmeva_result_new_malformed(const acmeva_job_error *err)
{
    acmeva_result *r = acmeva_result_new();
    if (r == NULL)
        return NULL;
    const char *detail = err && err->detail[0] ? err->detail : "job: refused";
    if (err && err->id) {
        r->id = acmeva_strdup_n(err->id, strlen(err->id));
        if (r->id == NULL)
            goto fail;
    }
    /* DESIGN.md "Job": a job that breaks the rules gets a malformed problem (RFC 8555 §6.7). */
    if (acmeva_result_set_problem(r, ACMEVA_PROB_MALFORMED, detail) < 0)
        goto fail;
    return r;
fail:
    acmeva_result_free(r);
    return NULL;
}

int acmeva_str_set(char **dst, const char *src)
{
    char *copy = NULL;
    if (src != NULL && (copy = acmeva_strdup_n(src, strlen(src))) == NULL)
        return ACMEVA_PROTO_ENOMEM;
    free(*dst);
    *dst = copy;
    return 0;
}

int acmeva_result_set_job(acmeva_result *r, const acmeva_job *job)
{
    if (r == NULL || job == NULL)
        return ACMEVA_PROTO_EINVAL;
    const char *ident_type = job->ident_type == ACMEVA_IDENT_DNS  ? "dns"
                             : job->ident_type == ACMEVA_IDENT_IP ? "ip"
                                                                  : NULL;
    if (acmeva_str_set(&r->id, job->id) < 0 || acmeva_str_set(&r->ident_type, ident_type) < 0 ||
        acmeva_str_set(&r->ident_value, ident_type ? job->ident_value : NULL) < 0 ||
        acmeva_str_set(&r->chall_type, acmeva_chall_type_name(job->chall_type)) < 0 ||
        acmeva_str_set(&r->token, job->chall_type != ACMEVA_CHALL_NONE ? job->token : NULL) < 0)
        return ACMEVA_PROTO_ENOMEM;
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* The result is written with acmeva_jbuf (jbuf.c), straight into one buffer. */
static void field_str_opt(acmeva_jbuf *b, int *first, const char *name, const char *s)
{
    if (s == NULL)
        return;
    acmeva_jbuf_key(b, first, name);
    acmeva_jbuf_put_str(b, s);
}

static void field_list_opt(acmeva_jbuf *b, int *first, const char *name, const acmeva_strlist *l)
{
    if (l->n == 0)
        return;
    acmeva_jbuf_key(b, first, name);
    acmeva_jbuf_put(b, "[", 1);
    for (size_t i = 0; i < l->n; i++) {
        if (i > 0)
            acmeva_jbuf_put(b, ",", 1);
        acmeva_jbuf_put_str(b, l->v[i]);
    }
    acmeva_jbuf_put(b, "]", 1);
}

/* put_problem writes an RFC 7807 problem document as ACME uses it (RFC 8555 §6.7). A problem
 * with no type on an invalid outcome is an internal error: the document still says why. */
static void put_problem(acmeva_jbuf *b, const acmeva_problem *p)
{
    acmeva_problem_type type = p->type;
    const char *detail = p->detail;
    int first = 1;
    if (acmeva_problem_urn(type) == NULL) {
        type = ACMEVA_PROB_SERVER_INTERNAL;
        detail = "validation failed without a recorded problem";
    }
    acmeva_jbuf_put(b, "{", 1);
    acmeva_jbuf_key(b, &first, "type");
    acmeva_jbuf_put_str(b, acmeva_problem_urn(type));
    acmeva_jbuf_key(b, &first, "detail");
    acmeva_jbuf_put_str(b, detail);
    acmeva_jbuf_key(b, &first, "status");
    acmeva_jbuf_put_int(b, acmeva_problem_http_status(type));
    acmeva_jbuf_put(b, "}", 1);
}

static void put_record(acmeva_jbuf *b, const acmeva_vrecord *rec)
{
    int first = 1;
    /* Field names as ACME CAs put them in challenge objects (RFC 8555 §8.3 validationRecord,
     * Boulder's core.ValidationRecord); absent values are left out. */
    acmeva_jbuf_put(b, "{", 1);
    field_str_opt(b, &first, "url", rec->url);
    field_str_opt(b, &first, "hostname", rec->hostname);
    field_str_opt(b, &first, "port", rec->port);
    field_list_opt(b, &first, "addressesResolved", &rec->addresses_resolved);
    field_str_opt(b, &first, "addressUsed", rec->address_used);
    field_list_opt(b, &first, "addressesTried", &rec->addresses_tried);
    field_list_opt(b, &first, "resolverAddrs", &rec->resolver_addrs);
    field_str_opt(b, &first, "dnssec", rec->dnssec);
    field_str_opt(b, &first, "rcode", rec->rcode);
    field_list_opt(b, &first, "records", &rec->records);
    field_str_opt(b, &first, "matchedRecord", rec->matched_record);
    /* Added within major 1, after every older field: a reader that drops what it does not know
     * sees the bytes of before. */
    if (rec->http_status > 0) {
        acmeva_jbuf_key(b, &first, "httpStatus");
        acmeva_jbuf_put_int(b, rec->http_status);
    }
    field_str_opt(b, &first, "body", rec->body);
    field_list_opt(b, &first, "triedErrors", &rec->tried_errors);
    field_list_opt(b, &first, "cnames", &rec->cnames);
    field_list_opt(b, &first, "certNames", &rec->cert_names);
    field_str_opt(b, &first, "alpn", rec->alpn);
    field_str_opt(b, &first, "expected", rec->expected);
    acmeva_jbuf_put(b, "}", 1);
}

static void put_records(acmeva_jbuf *b, const acmeva_result *r)
{
    acmeva_jbuf_put(b, "[", 1);
    for (size_t i = 0; i < r->n_records; i++) {
        if (i > 0)
            acmeva_jbuf_put(b, ",", 1);
        put_record(b, &r->records[i]);
    }
    acmeva_jbuf_put(b, "]", 1);
}

/* put_address_checks writes acmeva check --all-addresses' runs: per address, its outcome. */
static void put_address_checks(acmeva_jbuf *b, const acmeva_result *r)
{
    acmeva_jbuf_put(b, "[", 1);
    for (size_t i = 0; i < r->n_address_checks; i++) {
        const acmeva_result *c = r->address_checks[i].result;
        int first = 1;
        if (i > 0)
            acmeva_jbuf_put(b, ",", 1);
        acmeva_jbuf_put(b, "{", 1);
        acmeva_jbuf_key(b, &first, "address");
        acmeva_jbuf_put_str(b, r->address_checks[i].address);
        acmeva_jbuf_key(b, &first, "status");
        acmeva_jbuf_puts(b, c->valid ? "\"valid\"" : "\"invalid\"");
        acmeva_jbuf_key(b, &first, "validationRecord");
        put_records(b, c);
        if (!c->valid) {
            acmeva_jbuf_key(b, &first, "error");
            put_problem(b, &c->problem);
        }
        acmeva_jbuf_put(b, "}", 1);
    }
    acmeva_jbuf_put(b, "]", 1);
}

static void put_caa(acmeva_jbuf *b, const acmeva_result *r)
{
    int first = 1;
    acmeva_jbuf_put(b, "{", 1);
    acmeva_jbuf_key(b, &first, "status");
    acmeva_jbuf_puts(b, r->caa_valid ? "\"valid\"" : "\"invalid\"");
    acmeva_jbuf_key(b, &first, "foundAt");
    if (r->caa_found_at != NULL)
        acmeva_jbuf_put_str(b, r->caa_found_at);
    else
        acmeva_jbuf_puts(b, "null");
    field_list_opt(b, &first, "records", &r->caa_records);
    field_list_opt(b, &first, "resolverAddrs", &r->caa_resolver_addrs);
    field_str_opt(b, &first, "dnssec", r->caa_dnssec);
    field_str_opt(b, &first, "note", r->caa_note);
    acmeva_jbuf_key(b, &first, "error");
    if (r->caa_valid)
        acmeva_jbuf_puts(b, "null");
    else
        put_problem(b, &r->caa_problem);
    field_list_opt(b, &first, "issuerDomains", &r->caa_issuer_domains);
    field_str_opt(b, &first, "decision", r->caa_decision);
    acmeva_jbuf_put(b, "}", 1);
}

char *acmeva_result_to_json(const acmeva_result *r)
{
    if (r == NULL)
        return NULL;
    acmeva_jbuf b = {0};
    int first = 1;
    acmeva_jbuf_put(&b, "{", 1);
    acmeva_jbuf_key(&b, &first, "v");
    acmeva_jbuf_put_int(&b, ACMEVA_SCHEMA_MAJOR);
    acmeva_jbuf_key(&b, &first, "id");
    if (r->id != NULL)
        acmeva_jbuf_put_str(&b, r->id);
    else
        acmeva_jbuf_puts(&b, "null");
    acmeva_jbuf_key(&b, &first, "status");
    acmeva_jbuf_puts(&b, r->valid ? "\"valid\"" : "\"invalid\"");
    if (r->ident_type != NULL) {
        int f = 1;
        acmeva_jbuf_key(&b, &first, "identifier");
        acmeva_jbuf_put(&b, "{", 1);
        acmeva_jbuf_key(&b, &f, "type");
        acmeva_jbuf_put_str(&b, r->ident_type);
        acmeva_jbuf_key(&b, &f, "value");
        acmeva_jbuf_put_str(&b, r->ident_value);
        acmeva_jbuf_put(&b, "}", 1);
    }
    if (r->chall_type != NULL) {
        int f = 1;
        acmeva_jbuf_key(&b, &first, "challenge");
        acmeva_jbuf_put(&b, "{", 1);
        acmeva_jbuf_key(&b, &f, "type");
        acmeva_jbuf_put_str(&b, r->chall_type);
        field_str_opt(&b, &f, "token", r->token);
        acmeva_jbuf_put(&b, "}", 1);
    }
    acmeva_jbuf_key(&b, &first, "validationRecord");
    put_records(&b, r);
    /* DESIGN.md "Result": "error" is present exactly when "status" is "invalid". */
    if (!r->valid) {
        acmeva_jbuf_key(&b, &first, "error");
        put_problem(&b, &r->problem);
    }
    if (r->has_caa) {
        acmeva_jbuf_key(&b, &first, "caa");
        put_caa(&b, r);
    }
    acmeva_jbuf_key(&b, &first, "perspective");
    acmeva_jbuf_put_str(&b, r->perspective);
    acmeva_jbuf_key(&b, &first, "rir");
    acmeva_jbuf_put_str(&b, r->rir);
    acmeva_jbuf_key(&b, &first, "worker");
    acmeva_jbuf_put_str(&b, r->worker);
    /* Which build answered: the CA can tell results of a fleet in the middle of an upgrade. */
    acmeva_jbuf_key(&b, &first, "workerVersion");
    acmeva_jbuf_put_str(&b, r->worker_version ? r->worker_version : acmeva_version());
    /* Which operator policy it ran under (DESIGN.md "Live kill switch per method"): the CA
     * core tells results from before and after a switch. */
    if (r->has_policy_version) {
        acmeva_jbuf_key(&b, &first, "policyVersion");
        acmeva_jbuf_put_int(&b, (long long)(r->policy_version > 0 ? r->policy_version : 0));
    }
    acmeva_jbuf_key(&b, &first, "attempt");
    acmeva_jbuf_put_int(&b, r->attempt);
    acmeva_jbuf_key(&b, &first, "startedMs");
    acmeva_jbuf_put_int(&b, (long long)r->started_ms);
    acmeva_jbuf_key(&b, &first, "durationMs");
    acmeva_jbuf_put_ms(&b, r->duration_ms);
    if (r->n_address_checks > 0) {
        acmeva_jbuf_key(&b, &first, "addressChecks");
        put_address_checks(&b, r);
    }
    acmeva_jbuf_put(&b, "}", 1);
    return acmeva_jbuf_finish(&b);
}
