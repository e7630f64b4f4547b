/*
 * Fuzz target for the job codec (proto/job.c) and the result writer (proto/result.c). The
 * input is parsed as a job. An accepted job must hold the invariants the engine relies on,
 * and the result written from it must pass acmeva_result_check_json; a refused job must name
 * its rule, and its malformed result must pass the same check. A broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acmeva/proto.h"

static void check_job(const acmeva_job *j)
{
    if (j->v != ACMEVA_SCHEMA_MAJOR || j->id == NULL || j->reply_to == NULL)
        abort();
    size_t id_len = strlen(j->id);
    if (id_len == 0 || id_len > ACMEVA_ID_MAX)
        abort();
    if (j->ident_type == ACMEVA_IDENT_DNS) {
        if (!acmeva_is_dns_name(j->ident_value, 1) || j->wildcard != (j->ident_value[0] == '*'))
            abort();
    } else if (j->ident_type == ACMEVA_IDENT_IP) {
        if (!acmeva_is_canonical_ip(j->ident_value) || j->wildcard)
            abort();
    } else {
        abort();
    }
    if (j->chall_type == ACMEVA_CHALL_UNKNOWN ||
        (j->chall_type == ACMEVA_CHALL_NONE && !j->has_caa))
        abort();
    int has_token =
        j->chall_type != ACMEVA_CHALL_NONE && j->chall_type != ACMEVA_CHALL_DNSPERSIST01;
    if (has_token != (j->token != NULL) || has_token != (j->key_authorization != NULL))
        abort();
    if (has_token) {
        size_t t = strlen(j->token);
        if (t < ACMEVA_TOKEN_MIN || t > ACMEVA_TOKEN_MAX || !acmeva_is_base64url(j->token, t) ||
            strncmp(j->key_authorization, j->token, t) != 0 || j->key_authorization[t] != '.')
            abort();
    }
    if ((j->chall_type == ACMEVA_CHALL_HTTP01 || j->chall_type == ACMEVA_CHALL_TLSALPN01) &&
        j->wildcard)
        abort();
    int needs_account =
        j->chall_type == ACMEVA_CHALL_DNSACCOUNT01 || j->chall_type == ACMEVA_CHALL_DNSPERSIST01;
    if ((needs_account || j->chall_type == ACMEVA_CHALL_DNS01) && j->ident_type != ACMEVA_IDENT_DNS)
        abort();
    if (needs_account && j->account_uri == NULL)
        abort();
    if (j->n_issuer_domains > ACMEVA_JOB_ISSUER_DOMAINS_MAX)
        abort();
    for (size_t i = 0; i < j->n_issuer_domains; i++)
        if (!acmeva_is_dns_name(j->issuer_domains[i], 0))
            abort();
    if (j->has_deadline && (j->deadline_ms < 1 || j->deadline_ms > ACMEVA_DEADLINE_MS_MAX))
        abort();
    /* The CAA method: the challenge's type when there is one, none without CAA, and a method
     * that could have validated this identifier. */
    if (!j->has_caa ? j->caa_method != ACMEVA_CHALL_NONE
                    : j->chall_type != ACMEVA_CHALL_NONE && j->caa_method != j->chall_type)
        abort();
    if (j->caa_method == ACMEVA_CHALL_UNKNOWN ||
        ((j->caa_method == ACMEVA_CHALL_HTTP01 || j->caa_method == ACMEVA_CHALL_TLSALPN01) &&
         j->wildcard) ||
        ((j->caa_method == ACMEVA_CHALL_DNS01 || j->caa_method == ACMEVA_CHALL_DNSACCOUNT01 ||
          j->caa_method == ACMEVA_CHALL_DNSPERSIST01) &&
         j->ident_type != ACMEVA_IDENT_DNS))
        abort();
}

/* write_and_check writes |r| and requires the document to pass the result check. */
static void write_and_check(const acmeva_result *r)
{
    char *s = acmeva_result_to_json(r);
    if (s == NULL)
        return; /* no memory */
    char err[256];
    if (acmeva_result_check_json(s, strlen(s), err, sizeof(err)) != 0)
        abort();
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    acmeva_job *job = NULL;
    acmeva_job_error err;
    int rc = acmeva_job_parse((const char *)data, size, &job, &err);
    if (rc == 0) {
        if (job == NULL || err.id != NULL)
            abort();
        check_job(job);
        acmeva_result *r = acmeva_result_new();
        if (r != NULL && acmeva_result_set_job(r, job) == 0) {
            r->valid = 1;
            r->has_caa = job->has_caa;
            r->caa_valid = 1;
            write_and_check(r);
            /* the same result, failed with a problem whose detail quotes the raw input */
            char *detail = acmeva_strdup_n((const char *)data, size);
            if (detail && acmeva_result_set_problem(r, ACMEVA_PROB_UNAUTHORIZED, detail) == 0)
                write_and_check(r);
            free(detail);
        }
        acmeva_result_free(r);
        acmeva_job_free(job);
    } else {
        if (job != NULL || rc != ACMEVA_PROTO_EINVAL || err.detail[0] == '\0')
            abort();
        /* the detail starts with the field it names ("job" for the whole document) */
        const char *name = err.field[0] ? err.field : "job";
        size_t n = strlen(name);
        if (strncmp(err.detail, name, n) != 0 || err.detail[n] != ':')
            abort();
        acmeva_result *r = acmeva_result_new_malformed(&err);
        if (r != NULL)
            write_and_check(r);
        acmeva_result_free(r);
        acmeva_job_error_clear(&err);
    }
    return 0;
}
