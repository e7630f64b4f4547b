/*
 * The members of a job document (proto/job.schema.json), read in one bounded pass by
 * jsonread.c: the schema below names them, and the sink keeps their values for job.c.
 * tests/fuzz/fuzz_jobdoc.c holds what is kept to jansson's tree of the same document.
 */
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

/* The contexts of the objects whose members the job schema knows. */
enum { CTX_ROOT = 1, CTX_IDENTIFIER, CTX_CHALLENGE, CTX_CAA };

/* clang-format off */
#define KEY(in, name, member, obj, flags) {in, name, sizeof(name) - 1, member, obj, ACMEVA_JR_NONE, flags}
/* clang-format on */
#define S ACMEVA_JR_STRING

static const acmeva_jr_key job_keys[] = {
    KEY(CTX_ROOT, "v", ACMEVA_JD_V, ACMEVA_JR_NONE, S),
    KEY(CTX_ROOT, "id", ACMEVA_JD_ID, ACMEVA_JR_NONE, S),
    KEY(CTX_ROOT, "identifier", ACMEVA_JD_IDENTIFIER, CTX_IDENTIFIER, S),
    KEY(CTX_ROOT, "challenge", ACMEVA_JD_CHALLENGE, CTX_CHALLENGE, S),
    KEY(CTX_ROOT, "keyAuthorization", ACMEVA_JD_KEY_AUTHORIZATION, ACMEVA_JR_NONE, S),
    KEY(CTX_ROOT, "accountUri", ACMEVA_JD_ACCOUNT_URI, ACMEVA_JR_NONE, S),
    KEY(CTX_ROOT, "caa", ACMEVA_JD_CAA, CTX_CAA, S),
    KEY(CTX_ROOT, "deadlineMs", ACMEVA_JD_DEADLINE_MS, ACMEVA_JR_NONE, S),
    KEY(CTX_ROOT, "replyTo", ACMEVA_JD_REPLY_TO, ACMEVA_JR_NONE, S),
    KEY(CTX_IDENTIFIER, "type", ACMEVA_JD_IDENTIFIER_TYPE, ACMEVA_JR_NONE, S),
    KEY(CTX_IDENTIFIER, "value", ACMEVA_JD_IDENTIFIER_VALUE, ACMEVA_JR_NONE, S),
    KEY(CTX_CHALLENGE, "type", ACMEVA_JD_CHALLENGE_TYPE, ACMEVA_JR_NONE, S),
    KEY(CTX_CHALLENGE, "token", ACMEVA_JD_CHALLENGE_TOKEN, ACMEVA_JR_NONE, S),
    KEY(CTX_CAA, "issuerDomains", ACMEVA_JD_CAA_ISSUER_DOMAINS, ACMEVA_JR_NONE,
        S | ACMEVA_JR_ELEMENTS),
    KEY(CTX_CAA, "method", ACMEVA_JD_CAA_METHOD, ACMEVA_JR_NONE, S),
};
#undef S
#undef KEY

/* job_sink keeps each known member's value, and the first ACMEVA_JOB_ISSUER_DOMAINS_MAX
 * elements of caa.issuerDomains (all of them counted). */
static int job_sink(void *arg, const acmeva_jr_key *k, int element, const acmeva_jv *v,
                    size_t key_at)
{
    acmeva_jobdoc *doc = arg;
    (void)key_at;
    if (!element) {
        doc->m[k->member] = *v;
        return 0;
    }
    if (doc->n_issuer_domains < ACMEVA_JOB_ISSUER_DOMAINS_MAX)
        doc->issuer_domains[doc->n_issuer_domains] = *v;
    doc->n_issuer_domains++;
    return 0;
}

static const acmeva_jr_schema job_schema = {job_keys, sizeof(job_keys) / sizeof(job_keys[0]),
                                            CTX_ROOT, job_sink};

int acmeva_jobdoc_read(acmeva_jobdoc *doc, const char *buf, size_t len)
{
    memset(doc, 0, sizeof(*doc));
    acmeva_jr_out out;
    int rc = acmeva_json_read(&job_schema, doc, buf, len, &out);
    doc->root = out.root;
    doc->error = out.error;
    doc->line = out.line;
    doc->column = out.column;
    doc->strings = out.strings;
    return rc;
}

void acmeva_jobdoc_clear(acmeva_jobdoc *doc)
{
    if (doc == NULL)
        return;
    free(doc->strings);
    doc->strings = NULL;
}
