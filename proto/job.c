/*
 * Parsing and validation of a job, schema major 1 (DESIGN.md "Job", proto/job.schema.json).
 *
 * A job comes from the queue and is hostile until every rule below has passed: the size is
 * capped before parsing, duplicate keys are refused (two parsers that keep different copies of
 * a key are a classic smuggling vector), every string is checked against a closed character
 * set and a length, and each refusal names the field and the rule it broke.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmeva/proto.h"
#include "proto_int.h"

/* job_fail fills |err| with |field| and "<field>: <message>" and returns
 * ACMEVA_PROTO_EINVAL. The whole document is named "job" in the detail, "" in the field. */
static int job_fail(acmeva_job_error *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int job_fail(acmeva_job_error *err, const char *field, const char *fmt, ...)
{
    if (err == NULL)
        return ACMEVA_PROTO_EINVAL;
    snprintf(err->field, sizeof(err->field), "%s", field);
    int n = snprintf(err->detail, sizeof(err->detail), "%s: ", field[0] ? err->field : "job");
    if (n < 0 || (size_t)n >= sizeof(err->detail))
        return ACMEVA_PROTO_EINVAL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->detail + n, sizeof(err->detail) - (size_t)n, fmt, ap);
    va_end(ap);
    return ACMEVA_PROTO_EINVAL;
}

static int job_nomem(acmeva_job_error *err)
{
    if (err != NULL) {
        err->field[0] = '\0';
        snprintf(err->detail, sizeof(err->detail), "job: out of memory");
    }
    return ACMEVA_PROTO_ENOMEM;
}

/* is_id_char: the character set of "id" and "replyTo", safe in Redis keys, logs and paths. */
static int is_id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '/' || c == '-';
}

static int is_id_text(const char *s, size_t len, size_t max)
{
    if (len == 0 || len > max)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_id_char(s[i]))
            return 0;
    return 1;
}

/*
 * get_string reads member |m| of |doc|. Returns 1 and sets |*s|, |*len| when it is a string,
 * 0 when it is absent, and ACMEVA_PROTO_EINVAL (with |err| filled) when it has another type.
 * The reader refuses \u0000, so every string is also a C string.
 */
static int get_string(const acmeva_jobdoc *doc, acmeva_jd_member m, const char *field,
                      const char **s, size_t *len, acmeva_job_error *err)
{
    const acmeva_jv *v = &doc->m[m];
    if (v->type == ACMEVA_JV_ABSENT)
        return 0;
    if (v->type != ACMEVA_JV_STRING)
        return job_fail(err, field, "must be a string");
    *s = v->s;
    *len = v->len;
    return 1;
}

/* get_object: as get_string, for an object member; its own members are in |doc| too. */
static int get_object(const acmeva_jobdoc *doc, acmeva_jd_member m, const char *field,
                      acmeva_job_error *err)
{
    acmeva_jv_type t = doc->m[m].type;
    if (t == ACMEVA_JV_ABSENT)
        return 0;
    if (t != ACMEVA_JV_OBJECT)
        return job_fail(err, field, "must be an object");
    return 1;
}

static const char *json_error_reason(acmeva_json_error e)
{
    /* Fixed words only: the input is not ours to echo. */
    switch (e) {
    case ACMEVA_JSON_DUPLICATE_KEY:
        return "duplicate object key (refused: duplicate keys are ambiguous)";
    case ACMEVA_JSON_INVALID_UTF8:
        return "invalid UTF-8";
    case ACMEVA_JSON_PREMATURE_END:
        return "premature end of input";
    case ACMEVA_JSON_END_EXPECTED:
        return "data after the end of the document";
    case ACMEVA_JSON_NUL:
        return "NUL character";
    case ACMEVA_JSON_NUMERIC_OVERFLOW:
        return "number out of range";
    case ACMEVA_JSON_TOO_DEEP:
        return "nesting too deep";
    case ACMEVA_JSON_NOMEM:
        return "out of memory";
    default:
        return "syntax error";
    }
}

/* parse_v: RFC-style version negotiation, DESIGN.md "Job": a worker refuses a major it does
 * not speak, and ignores unknown fields within the major it speaks. */
static int parse_v(const acmeva_jobdoc *doc, acmeva_job *job, acmeva_job_error *err)
{
    const acmeva_jv *v = &doc->m[ACMEVA_JD_V];
    if (v->type == ACMEVA_JV_ABSENT)
        return job_fail(err, "v", "missing (required integer: the schema major, %d)",
                        ACMEVA_SCHEMA_MAJOR);
    if (v->type != ACMEVA_JV_INTEGER)
        return job_fail(err, "v", "must be an integer (the schema major, %d)", ACMEVA_SCHEMA_MAJOR);
    int64_t major = v->i;
    if (major != ACMEVA_SCHEMA_MAJOR)
        return job_fail(err, "v", "unsupported schema major %lld, this worker speaks %d",
                        (long long)major, ACMEVA_SCHEMA_MAJOR);
    job->v = ACMEVA_SCHEMA_MAJOR;
    return 0;
}

static int parse_id(const acmeva_jobdoc *doc, acmeva_job *job, acmeva_job_error *err)
{
    const char *s = NULL;
    size_t len = 0;
    int rc = get_string(doc, ACMEVA_JD_ID, "id", &s, &len, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return job_fail(err, "id", "missing (required string)");
    if (!is_id_text(s, len, ACMEVA_ID_MAX))
        return job_fail(err, "id", "must be 1..%d bytes of [A-Za-z0-9._:/-]", ACMEVA_ID_MAX);
    job->id = acmeva_strdup_n(s, len);
    return job->id ? 0 : job_nomem(err);
}

/* parse_identifier reads identifier.type and the syntax of identifier.value (RFC 8555 §9.7.7
 * "dns", RFC 8738 §3 "ip"). Which challenge may validate it is checked later. */
static int parse_identifier(const acmeva_jobdoc *doc, acmeva_job *job, acmeva_job_error *err)
{
    int rc = get_object(doc, ACMEVA_JD_IDENTIFIER, "identifier", err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return job_fail(err, "identifier", "missing (required object with type and value)");

    const char *type = NULL, *value = NULL;
    size_t type_len = 0, value_len = 0;
    rc = get_string(doc, ACMEVA_JD_IDENTIFIER_TYPE, "identifier.type", &type, &type_len, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return job_fail(err, "identifier.type", "missing (required: \"dns\" or \"ip\")");
    if (strcmp(type, "dns") == 0)
        job->ident_type = ACMEVA_IDENT_DNS;
    else if (strcmp(type, "ip") == 0)
        job->ident_type = ACMEVA_IDENT_IP;
    else
        return job_fail(err, "identifier.type", "must be \"dns\" or \"ip\"");

    rc = get_string(doc, ACMEVA_JD_IDENTIFIER_VALUE, "identifier.value", &value, &value_len, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return job_fail(err, "identifier.value", "missing (required string)");
    if (job->ident_type == ACMEVA_IDENT_DNS) {
        if (!acmeva_is_dns_name(value, 1))
            return job_fail(err, "identifier.value",
                            "not a lowercase A-label DNS name (RFC 1035 label rules, no "
                            "trailing dot)");
        job->wildcard = value[0] == '*';
    } else if (!acmeva_is_canonical_ip(value)) {
        return job_fail(err, "identifier.value",
                        "not canonical IPv4 or IPv6 text (RFC 8738 §3, RFC 5952 §4)");
    }
    job->ident_value = acmeva_strdup_n(value, value_len);
    return job->ident_value ? 0 : job_nomem(err);
}

/* parse_challenge reads challenge.type and challenge.token. The token is the same random
 * value in every method that has one: unpadded base64url (RFC 8555 §8.3). */
static int parse_challenge(const acmeva_jobdoc *doc, acmeva_job *job, acmeva_job_error *err)
{
    int rc = get_object(doc, ACMEVA_JD_CHALLENGE, "challenge", err);
    if (rc <= 0)
        return rc; /* absent: a CAA-only job, if "caa" is there (checked later) */

    const char *type = NULL, *token = NULL;
    size_t type_len = 0, token_len = 0;
    rc = get_string(doc, ACMEVA_JD_CHALLENGE_TYPE, "challenge.type", &type, &type_len, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return job_fail(err, "challenge.type", "missing (required string)");
    job->chall_type = acmeva_chall_type_from_name(type);
    if (job->chall_type == ACMEVA_CHALL_UNKNOWN)
        return job_fail(err, "challenge.type",
                        "unknown challenge type (known: http-01, dns-01, tls-alpn-01, "
                        "dns-account-01, dns-persist-01)");

    rc = get_string(doc, ACMEVA_JD_CHALLENGE_TOKEN, "challenge.token", &token, &token_len, err);
    if (rc < 0)
        return rc;
    if (job->chall_type == ACMEVA_CHALL_DNSPERSIST01) {
        /* draft-ietf-acme-dns-persist: the record names the issuer and account, no token. */
        if (rc == 1)
            return job_fail(err, "challenge.token",
                            "dns-persist-01 has no token (its TXT record names the issuer and "
                            "account instead)");
        return 0;
    }
    if (rc == 0)
        return job_fail(err, "challenge.token", "missing (required for %s)", type);
    if (token_len < ACMEVA_TOKEN_MIN || token_len > ACMEVA_TOKEN_MAX ||
        !acmeva_is_base64url(token, token_len))
        return job_fail(err, "challenge.token",
                        "must be %d..%d characters of unpadded base64url (RFC 8555 §8.3)",
                        ACMEVA_TOKEN_MIN, ACMEVA_TOKEN_MAX);
    job->token = acmeva_strdup_n(token, token_len);
    return job->token ? 0 : job_nomem(err);
}

/* check_identifier_fits_method: which methods may validate which identifiers. |method| is
 * the challenge's type, or the caa.method of a CAA-only job (the method that validated the
 * authorization, which obeys the same rules); a refusal names |wildcard_field| for a wildcard
 * and |ip_field| for an IP identifier. */
static int check_identifier_fits_method(const acmeva_job *job, acmeva_chall_type method,
                                        const char *wildcard_field, const char *ip_field,
                                        acmeva_job_error *err)
{
    const char *name = acmeva_chall_type_name(method);
    switch (method) {
    case ACMEVA_CHALL_HTTP01:
    case ACMEVA_CHALL_TLSALPN01:
        /* Both prove control of one host, never of every name under a parent: a wildcard is
         * validated only by a DNS method (BR 3.2.2.4.19, 3.2.2.4.20; Boulder's policy). */
        if (job->wildcard)
            return job_fail(err, wildcard_field,
                            "a wildcard name cannot be validated with %s (DNS-based methods "
                            "only)",
                            name);
        return 0;
    case ACMEVA_CHALL_DNS01:
    case ACMEVA_CHALL_DNSACCOUNT01:
    case ACMEVA_CHALL_DNSPERSIST01:
        /* RFC 8738 §7: dns-01 (and the DNS methods derived from it) MUST NOT be used for IP
         * identifiers. */
        if (job->ident_type == ACMEVA_IDENT_IP)
            return job_fail(err, ip_field, "%s cannot validate an IP identifier (RFC 8738 §7)",
                            name);
        return 0;
    default:
        return 0;
    }
}

/* parse_key_authorization: RFC 8555 §8.1, keyAuthorization = token || '.' ||
 * base64url(JWK_Thumbprint(accountKey)) (RFC 7638: a SHA-256 thumbprint is 43 characters). */
static int parse_key_authorization(const acmeva_jobdoc *doc, acmeva_job *job, acmeva_job_error *err)
{
    const char *ka = NULL;
    size_t ka_len = 0;
    int rc = get_string(doc, ACMEVA_JD_KEY_AUTHORIZATION, "keyAuthorization", &ka, &ka_len, err);
    if (rc < 0)
        return rc;
    if (job->chall_type == ACMEVA_CHALL_NONE) {
        if (rc == 1)
            return job_fail(err, "keyAuthorization",
                            "only a job with a challenge has a key authorization");
        return 0;
    }
    if (job->chall_type == ACMEVA_CHALL_DNSPERSIST01) {
        if (rc == 1)
            return job_fail(err, "keyAuthorization",
                            "dns-persist-01 has no key authorization (its TXT record names the "
                            "issuer and account instead)");
        return 0;
    }
    if (rc == 0)
        return job_fail(err, "keyAuthorization", "missing (required for %s)",
                        acmeva_chall_type_name(job->chall_type));
    size_t tlen = strlen(job->token);
    if (ka_len <= tlen + 1 || memcmp(ka, job->token, tlen) != 0 || ka[tlen] != '.')
        return job_fail(err, "keyAuthorization",
                        "must be \"<challenge.token>.<thumbprint>\" (RFC 8555 §8.1)");
    const char *thumb = ka + tlen + 1;
    size_t thumb_len = ka_len - tlen - 1;
    if (thumb_len > ACMEVA_THUMBPRINT_MAX || !acmeva_is_base64url(thumb, thumb_len))
        return job_fail(err, "keyAuthorization",
                        "the thumbprint after \"<token>.\" must be 1..%d characters of unpadded "
                        "base64url (RFC 8555 §8.1, RFC 7638)",
                        ACMEVA_THUMBPRINT_MAX);
    job->key_authorization = acmeva_strdup_n(ka, ka_len);
    return job->key_authorization ? 0 : job_nomem(err);
}

/* parse_account_uri: an ACME account URL (RFC 8555 §7.3), compared byte for byte with CAA
 * accounturi (RFC 8657 §3) and dns-persist-01 records, so it must be plain printable ASCII. */
static int parse_account_uri(const acmeva_jobdoc *doc, acmeva_job *job, acmeva_job_error *err)
{
    const char *uri = NULL;
    size_t len = 0;
    int rc = get_string(doc, ACMEVA_JD_ACCOUNT_URI, "accountUri", &uri, &len, err);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        if (job->chall_type == ACMEVA_CHALL_DNSACCOUNT01 ||
            job->chall_type == ACMEVA_CHALL_DNSPERSIST01)
            return job_fail(err, "accountUri", "missing (required for %s)",
                            acmeva_chall_type_name(job->chall_type));
        return 0;
    }
    int ok = len <= ACMEVA_ACCOUNT_URI_MAX && ((len > 8 && memcmp(uri, "https://", 8) == 0) ||
                                               (len > 7 && memcmp(uri, "http://", 7) == 0));
    for (size_t i = 0; ok && i < len; i++)
        if ((unsigned char)uri[i] <= 0x20 || (unsigned char)uri[i] >= 0x7f)
            ok = 0; /* RFC 3986 §2: no controls, spaces or raw non-ASCII in a URI */
    if (!ok)
        return job_fail(err, "accountUri",
                        "must be an https:// or http:// URI of at most %d printable ASCII bytes "
                        "(RFC 3986)",
                        ACMEVA_ACCOUNT_URI_MAX);
    job->account_uri = acmeva_strdup_n(uri, len);
    return job->account_uri ? 0 : job_nomem(err);
}

/*
 * parse_caa_method reads caa.method, the method that validated the authorization a CAA-only
 * job rechecks, so that RFC 8657 §4 validationmethods can be applied to it. With a challenge
 * the challenge's type is the method: caa.method may repeat it, and a different one is refused
 * (two methods for one check is a CA core bug, and picking either could let a restricted
 * method through).
 */
static int parse_caa_method(const acmeva_jobdoc *doc, acmeva_job *job, acmeva_job_error *err)
{
    job->caa_method = job->chall_type;
    const char *name = NULL;
    size_t len = 0;
    int rc = get_string(doc, ACMEVA_JD_CAA_METHOD, "caa.method", &name, &len, err);
    if (rc <= 0)
        return rc;
    acmeva_chall_type m = acmeva_chall_type_from_name(name);
    if (m == ACMEVA_CHALL_UNKNOWN)
        return job_fail(err, "caa.method",
                        "unknown challenge type (known: http-01, dns-01, tls-alpn-01, "
                        "dns-account-01, dns-persist-01)");
    if (job->chall_type != ACMEVA_CHALL_NONE && m != job->chall_type)
        return job_fail(err, "caa.method",
                        "%s differs from challenge.type %s (with a challenge, CAA uses its type)",
                        acmeva_chall_type_name(m), acmeva_chall_type_name(job->chall_type));
    job->caa_method = m;
    return check_identifier_fits_method(job, m, "caa.method", "caa.method", err);
}

/* parse_caa: the CA's issuer domain names for this job (RFC 8659 §4.2 issuer-domain-name). */
static int parse_caa(const acmeva_jobdoc *doc, acmeva_job *job, acmeva_job_error *err)
{
    int rc = get_object(doc, ACMEVA_JD_CAA, "caa", err);
    if (rc <= 0)
        return rc;
    job->has_caa = 1;
    acmeva_jv_type list = doc->m[ACMEVA_JD_CAA_ISSUER_DOMAINS].type;
    if (list == ACMEVA_JV_ABSENT)
        return 0; /* the worker's --issuer-domain values apply */
    size_t n = list == ACMEVA_JV_ARRAY ? doc->n_issuer_domains : 0;
    if (n < 1 || n > ACMEVA_JOB_ISSUER_DOMAINS_MAX)
        return job_fail(err, "caa.issuerDomains", "must be an array of 1..%d issuer domain names",
                        ACMEVA_JOB_ISSUER_DOMAINS_MAX);
    job->issuer_domains = calloc(n, sizeof(char *));
    if (job->issuer_domains == NULL)
        return job_nomem(err);
    for (size_t i = 0; i < n; i++) {
        const acmeva_jv *v = &doc->issuer_domains[i];
        char field[40];
        snprintf(field, sizeof(field), "caa.issuerDomains[%zu]", i);
        const char *s = v->s;
        size_t len = v->len;
        if (v->type != ACMEVA_JV_STRING || !acmeva_is_dns_name(s, 0))
            return job_fail(err, field,
                            "not a lowercase A-label DNS name without a wildcard (RFC 8659 §4.2)");
        job->issuer_domains[i] = acmeva_strdup_n(s, len);
        if (job->issuer_domains[i] == NULL)
            return job_nomem(err);
        job->n_issuer_domains = i + 1;
    }
    return 0;
}

static int parse_deadline(const acmeva_jobdoc *doc, acmeva_job *job, acmeva_job_error *err)
{
    const acmeva_jv *v = &doc->m[ACMEVA_JD_DEADLINE_MS];
    if (v->type == ACMEVA_JV_ABSENT)
        return 0;
    /* 2^53: the largest integer that every JSON implementation carries exactly (RFC 8259 §6). */
    if (v->type != ACMEVA_JV_INTEGER || v->i < 1 || v->i > ACMEVA_DEADLINE_MS_MAX)
        return job_fail(err, "deadlineMs",
                        "must be an integer from 1 to 2^53 (unix time in milliseconds)");
    job->has_deadline = 1;
    job->deadline_ms = v->i;
    return 0;
}

static int parse_reply_to(const acmeva_jobdoc *doc, acmeva_job *job, acmeva_job_error *err)
{
    const char *s = ACMEVA_DEFAULT_REPLY_TO;
    size_t len = strlen(s);
    int rc = get_string(doc, ACMEVA_JD_REPLY_TO, "replyTo", &s, &len, err);
    if (rc < 0)
        return rc;
    if (rc == 1 && !is_id_text(s, len, ACMEVA_REPLY_TO_MAX))
        return job_fail(err, "replyTo", "must be 1..%d bytes of [A-Za-z0-9._:/-]",
                        ACMEVA_REPLY_TO_MAX);
    job->reply_to = acmeva_strdup_n(s, len);
    return job->reply_to ? 0 : job_nomem(err);
}

/* peek_id copies a valid "id" into err->id before any rule is checked, so that a refusal for
 * any later reason can still be matched to its job by the CA core (DESIGN.md "Job"). */
static int peek_id(const acmeva_jobdoc *doc, acmeva_job_error *err)
{
    if (err == NULL)
        return 0;
    const acmeva_jv *v = &doc->m[ACMEVA_JD_ID];
    const char *s = v->s;
    size_t len = v->len;
    if (v->type != ACMEVA_JV_STRING || !is_id_text(s, len, ACMEVA_ID_MAX))
        return 0;
    err->id = acmeva_strdup_n(s, len);
    return err->id ? 0 : job_nomem(err);
}

static int job_from_doc(const acmeva_jobdoc *doc, acmeva_job *job, acmeva_job_error *err)
{
    int rc;
    if ((rc = peek_id(doc, err)) < 0 || (rc = parse_v(doc, job, err)) < 0 ||
        (rc = parse_id(doc, job, err)) < 0 || (rc = parse_identifier(doc, job, err)) < 0 ||
        (rc = parse_challenge(doc, job, err)) < 0 || (rc = parse_caa(doc, job, err)) < 0)
        return rc;
    /* DESIGN.md "Job": challenge and caa are each optional, one of them is required. */
    if (job->chall_type == ACMEVA_CHALL_NONE && !job->has_caa)
        return job_fail(err, "challenge", "missing: a job needs a challenge, a caa check or both");
    if ((rc = check_identifier_fits_method(job, job->chall_type, "identifier.value",
                                           "challenge.type", err)) < 0 ||
        (job->has_caa && (rc = parse_caa_method(doc, job, err)) < 0) ||
        (rc = parse_key_authorization(doc, job, err)) < 0 ||
        (rc = parse_account_uri(doc, job, err)) < 0 || (rc = parse_deadline(doc, job, err)) < 0 ||
        (rc = parse_reply_to(doc, job, err)) < 0)
        return rc;
    return 0;
}

int acmeva_job_parse(const char *buf, size_t len, acmeva_job **out, acmeva_job_error *err)
{
    if (err != NULL)
        memset(err, 0, sizeof(*err));
    if (out == NULL)
        return job_fail(err, "", "no place to put the job");
    *out = NULL;
    if (len > ACMEVA_JOB_MAX_BYTES)
        return job_fail(err, "", "%zu bytes is more than the limit of %d bytes", len,
                        ACMEVA_JOB_MAX_BYTES);
    if (buf == NULL && len > 0)
        return job_fail(err, "", "no input");

    /* Duplicate keys are refused in every object (jobdoc.c): {"v":1,"v":2} means different
     * things to different parsers. */
    acmeva_jobdoc doc;
    if (acmeva_jobdoc_read(&doc, buf, len) < 0) {
        acmeva_jobdoc_clear(&doc);
        if (doc.error == ACMEVA_JSON_NOMEM)
            return job_nomem(err);
        return job_fail(err, "", "not valid JSON: %s at line %zu column %zu",
                        json_error_reason(doc.error), doc.line, doc.column);
    }
    if (doc.root != ACMEVA_JV_OBJECT) {
        acmeva_jobdoc_clear(&doc);
        return job_fail(err, "", "not a JSON object");
    }

    acmeva_job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        acmeva_jobdoc_clear(&doc);
        return job_nomem(err);
    }
    int rc = job_from_doc(&doc, job, err);
    acmeva_jobdoc_clear(&doc);
    if (rc < 0) {
        acmeva_job_free(job);
        return rc;
    }
    if (err != NULL) {
        /* Success leaves |err| empty, so that clearing it is always safe. */
        acmeva_job_error_clear(err);
    }
    *out = job;
    return 0;
}

void acmeva_job_free(acmeva_job *job)
{
    if (job == NULL)
        return;
    free(job->id);
    free(job->ident_value);
    free(job->token);
    free(job->key_authorization);
    free(job->account_uri);
    for (size_t i = 0; i < job->n_issuer_domains; i++)
        free(job->issuer_domains[i]);
    free(job->issuer_domains);
    free(job->reply_to);
    free(job);
}

void acmeva_job_error_clear(acmeva_job_error *err)
{
    if (err == NULL)
        return;
    free(err->id);
    err->id = NULL;
    err->field[0] = '\0';
    err->detail[0] = '\0';
}
