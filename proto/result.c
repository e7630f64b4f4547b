/*
 * The result document, schema major 1 (DESIGN.md "Result", proto/result.schema.json): building
 * it in memory and writing it as one line of compact JSON.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "acmeva/proto.h"

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
    free(r->caa_note);
    free(r->caa_problem.detail);
    free(r->perspective);
    free(r->rir);
    free(r->worker);
    free(r);
}

acmeva_vrecord *acmeva_result_add_record(acmeva_result *r)
{
    /* A cap, so that a long redirect chain or a deep CAA walk cannot grow a result without
     * bound; the engine's own limits stay far below it. */
    if (r == NULL || r->n_records >= ACMEVA_RESULT_MAX_RECORDS)
        return NULL;
    if (r->n_records == r->cap_records) {
        size_t cap = r->cap_records ? r->cap_records * 2 : 4;
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

/* replace_str sets |*dst| to a copy of |src| (NULL stays NULL). Returns 0 or ENOMEM. */
static int replace_str(char **dst, const char *src)
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
    if (replace_str(&r->id, job->id) < 0 || replace_str(&r->ident_type, ident_type) < 0 ||
        replace_str(&r->ident_value, ident_type ? job->ident_value : NULL) < 0 ||
        replace_str(&r->chall_type, acmeva_chall_type_name(job->chall_type)) < 0 ||
        replace_str(&r->token, job->chall_type != ACMEVA_CHALL_NONE ? job->token : NULL) < 0)
        return ACMEVA_PROTO_ENOMEM;
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* jstr returns a JSON string of |s| with invalid UTF-8 replaced by U+FFFD (details carry
 * server-supplied bytes; a result must stay valid JSON whatever they were). */
static json_t *jstr(const char *s)
{
    if (s == NULL)
        s = "";
    size_t len = strlen(s);
    json_t *v = json_stringn(s, len);
    if (v != NULL)
        return v;
    char *clean = acmeva_utf8_sanitize(s, len);
    if (clean == NULL)
        return NULL;
    v = json_stringn(clean, strlen(clean));
    free(clean);
    return v;
}

/* set_new adds |value| to |obj| under |key|, taking |value| (NULL means no memory). */
static int set_new(json_t *obj, const char *key, json_t *value)
{
    if (value == NULL)
        return -1;
    return json_object_set_new(obj, key, value);
}

static int set_str_opt(json_t *obj, const char *key, const char *s)
{
    return s == NULL ? 0 : set_new(obj, key, jstr(s));
}

static json_t *jlist(const acmeva_strlist *l)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        if (json_array_append_new(a, jstr(l->v[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int set_list_opt(json_t *obj, const char *key, const acmeva_strlist *l)
{
    return l->n == 0 ? 0 : set_new(obj, key, jlist(l));
}

/* jproblem writes an RFC 7807 problem document as ACME uses it (RFC 8555 §6.7). A problem
 * with no type on an invalid outcome is an internal error: the document still says why. */
static json_t *jproblem(const acmeva_problem *p)
{
    acmeva_problem_type type = p->type;
    const char *detail = p->detail;
    if (acmeva_problem_urn(type) == NULL) {
        type = ACMEVA_PROB_SERVER_INTERNAL;
        detail = "validation failed without a recorded problem";
    }
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    if (set_new(o, "type", json_string(acmeva_problem_urn(type))) < 0 ||
        set_new(o, "detail", jstr(detail)) < 0 ||
        set_new(o, "status", json_integer(acmeva_problem_http_status(type))) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *jrecord(const acmeva_vrecord *rec)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    /* Field names as ACME CAs put them in challenge objects (RFC 8555 §8.3 validationRecord,
     * Boulder's core.ValidationRecord); absent values are left out. */
    if (set_str_opt(o, "url", rec->url) < 0 || set_str_opt(o, "hostname", rec->hostname) < 0 ||
        set_str_opt(o, "port", rec->port) < 0 ||
        set_list_opt(o, "addressesResolved", &rec->addresses_resolved) < 0 ||
        set_str_opt(o, "addressUsed", rec->address_used) < 0 ||
        set_list_opt(o, "addressesTried", &rec->addresses_tried) < 0 ||
        set_list_opt(o, "resolverAddrs", &rec->resolver_addrs) < 0 ||
        set_str_opt(o, "dnssec", rec->dnssec) < 0 || set_str_opt(o, "rcode", rec->rcode) < 0 ||
        set_list_opt(o, "records", &rec->records) < 0 ||
        set_str_opt(o, "matchedRecord", rec->matched_record) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *jcaa(const acmeva_result *r)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    if (set_new(o, "status", json_string(r->caa_valid ? "valid" : "invalid")) < 0 ||
        set_new(o, "foundAt", r->caa_found_at ? jstr(r->caa_found_at) : json_null()) < 0 ||
        set_list_opt(o, "records", &r->caa_records) < 0 ||
        set_str_opt(o, "note", r->caa_note) < 0 ||
        set_new(o, "error", r->caa_valid ? json_null() : jproblem(&r->caa_problem)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* build_result returns the JSON tree of |r| or NULL on no memory. */
static json_t *build_result(const acmeva_result *r)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    if (set_new(o, "v", json_integer(ACMEVA_SCHEMA_MAJOR)) < 0 ||
        set_new(o, "id", r->id ? jstr(r->id) : json_null()) < 0 ||
        set_new(o, "status", json_string(r->valid ? "valid" : "invalid")) < 0)
        goto fail;

    if (r->ident_type != NULL) {
        json_t *ident = json_object();
        if (set_new(o, "identifier", ident) < 0 ||
            set_new(ident, "type", jstr(r->ident_type)) < 0 ||
            set_new(ident, "value", jstr(r->ident_value)) < 0)
            goto fail;
    }
    if (r->chall_type != NULL) {
        json_t *chall = json_object();
        if (set_new(o, "challenge", chall) < 0 || set_new(chall, "type", jstr(r->chall_type)) < 0 ||
            set_str_opt(chall, "token", r->token) < 0)
            goto fail;
    }

    json_t *records = json_array();
    if (set_new(o, "validationRecord", records) < 0)
        goto fail;
    for (size_t i = 0; i < r->n_records; i++)
        if (json_array_append_new(records, jrecord(&r->records[i])) < 0)
            goto fail;

    /* DESIGN.md "Result": "error" is present exactly when "status" is "invalid". */
    if (!r->valid && set_new(o, "error", jproblem(&r->problem)) < 0)
        goto fail;
    if (r->has_caa && set_new(o, "caa", jcaa(r)) < 0)
        goto fail;

    /* durationMs to 0.1 ms: finer digits are noise, and a bounded value keeps the number short
     * (JSON_REAL_PRECISION(15) in the caller prints it without binary residue). */
    double d = r->duration_ms;
    if (!isfinite(d) || d < 0)
        d = 0;
    if (d > 1e12)
        d = 1e12;
    d = (double)(int64_t)(d * 10 + 0.5) / 10; /* no libm: d is in [0, 1e12] */
    if (set_new(o, "perspective", jstr(r->perspective)) < 0 ||
        set_new(o, "rir", jstr(r->rir)) < 0 || set_new(o, "worker", jstr(r->worker)) < 0 ||
        set_new(o, "attempt", json_integer(r->attempt)) < 0 ||
        set_new(o, "startedMs", json_integer((json_int_t)r->started_ms)) < 0 ||
        set_new(o, "durationMs", json_real(d)) < 0)
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

char *acmeva_result_to_json(const acmeva_result *r)
{
    if (r == NULL)
        return NULL;
    json_t *o = build_result(r);
    if (o == NULL)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(o);
    if (s == NULL)
        return NULL;
    /* json_dumps allocates with jansson's allocator, which may not be malloc: hand the caller
     * a malloc'd copy it can free(). */
    char *copy = acmeva_strdup_n(s, strlen(s));
    json_free_t free_fn;
    json_get_alloc_funcs(NULL, &free_fn);
    free_fn(s);
    return copy;
}
