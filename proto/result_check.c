/*
 * A reader's check of a result document (proto/result.schema.json): every required field
 * present with the right type. What a worker sends back is checked before a tool trusts it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "acmeva/proto.h"

typedef struct {
    char *buf;
    size_t len;
} check_err;

static int bad(check_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(check_err *e, const char *fmt, ...)
{
    if (e->buf != NULL && e->len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf, e->len, fmt, ap);
        va_end(ap);
    }
    return ACMEVA_PROTO_EINVAL;
}

static int is_int_ge(json_t *v, json_int_t min)
{
    return json_is_integer(v) && json_integer_value(v) >= min;
}

/* check_string_member: |key| of |obj| must be a string (when |required|, or when present). */
static int check_string_member(json_t *obj, const char *path, const char *key, int required,
                               check_err *e)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return required ? bad(e, "%s%s: missing (required string)", path, key) : 0;
    if (!json_is_string(v))
        return bad(e, "%s%s: must be a string", path, key);
    return 0;
}

static int check_string_array_member(json_t *obj, const char *path, const char *key, check_err *e)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return 0;
    if (!json_is_array(v))
        return bad(e, "%s%s: must be an array of strings", path, key);
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_string(json_array_get(v, i)))
            return bad(e, "%s%s[%zu]: must be a string", path, key, i);
    return 0;
}

/* check_problem: an RFC 8555 §6.7 problem document with an ACME error URN. */
static int check_problem(json_t *p, const char *path, check_err *e)
{
    static const char urn[] = "urn:ietf:params:acme:error:";
    if (!json_is_object(p))
        return bad(e, "%s: must be a problem object", path);
    json_t *type = json_object_get(p, "type");
    if (!json_is_string(type))
        return bad(e, "%s.type: missing or not a string", path);
    if (strncmp(json_string_value(type), urn, sizeof(urn) - 1) != 0 ||
        json_string_length(type) == sizeof(urn) - 1)
        return bad(e, "%s.type: not an ACME error URN (%s<name>)", path, urn);
    if (!json_is_string(json_object_get(p, "detail")))
        return bad(e, "%s.detail: missing or not a string", path);
    json_t *status = json_object_get(p, "status");
    if (!json_is_integer(status) || json_integer_value(status) < 100 ||
        json_integer_value(status) > 599)
        return bad(e, "%s.status: missing or not an HTTP status code", path);
    return 0;
}

static int check_status(json_t *obj, const char *path, check_err *e)
{
    const char *s = json_string_value(json_object_get(obj, "status"));
    if (s == NULL || (strcmp(s, "valid") != 0 && strcmp(s, "invalid") != 0))
        return bad(e, "%sstatus: missing, or not \"valid\" or \"invalid\"", path);
    return strcmp(s, "valid") == 0;
}

/* check_records: |records| (at |where|, e.g. "validationRecord") is an array of records. */
static int check_records(json_t *records, const char *where, check_err *e)
{
    static const char *const strings[] = {"url",    "hostname", "port",          "addressUsed",
                                          "dnssec", "rcode",    "matchedRecord", "body",
                                          "alpn",   "expected"};
    static const char *const lists[] = {"addressesResolved", "addressesTried", "resolverAddrs",
                                        "records",           "triedErrors",    "cnames",
                                        "certNames"};
    if (!json_is_array(records))
        return bad(e, "%s: missing or not an array", where);
    for (size_t i = 0; i < json_array_size(records); i++) {
        json_t *rec = json_array_get(records, i);
        char path[96];
        snprintf(path, sizeof(path), "%s[%zu].", where, i);
        if (!json_is_object(rec))
            return bad(e, "%s[%zu]: must be an object", where, i);
        for (size_t k = 0; k < sizeof(strings) / sizeof(strings[0]); k++)
            if (check_string_member(rec, path, strings[k], 0, e) < 0)
                return ACMEVA_PROTO_EINVAL;
        for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++)
            if (check_string_array_member(rec, path, lists[k], e) < 0)
                return ACMEVA_PROTO_EINVAL;
        json_t *st = json_object_get(rec, "httpStatus");
        if (st != NULL &&
            (!json_is_integer(st) || json_integer_value(st) < 100 || json_integer_value(st) > 999))
            return bad(e, "%shttpStatus: not an HTTP status code", path);
    }
    return 0;
}

/* check_address_checks: acmeva check --all-addresses' per-address outcomes, when present. */
static int check_address_checks(json_t *root, check_err *e)
{
    json_t *list = json_object_get(root, "addressChecks");
    if (list == NULL)
        return 0;
    if (!json_is_array(list) || json_array_size(list) > ACMEVA_MAX_ADDRESS_CHECKS)
        return bad(e, "addressChecks: not an array of at most %d", ACMEVA_MAX_ADDRESS_CHECKS);
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *x = json_array_get(list, i);
        char path[48];
        snprintf(path, sizeof(path), "addressChecks[%zu].", i);
        if (!json_is_object(x))
            return bad(e, "addressChecks[%zu]: must be an object", i);
        if (check_string_member(x, path, "address", 1, e) < 0)
            return ACMEVA_PROTO_EINVAL;
        int valid = check_status(x, path, e);
        if (valid < 0)
            return valid;
        char where[64];
        snprintf(where, sizeof(where), "%svalidationRecord", path);
        if (check_records(json_object_get(x, "validationRecord"), where, e) < 0)
            return ACMEVA_PROTO_EINVAL;
        json_t *err = json_object_get(x, "error");
        if (valid && err != NULL)
            return bad(e, "%serror: present although status is \"valid\"", path);
        if (!valid && (err == NULL || check_problem(err, "addressChecks[].error", e) < 0))
            return bad(e, "%serror: missing or not a problem object", path);
    }
    return 0;
}

static int check_caa(json_t *root, check_err *e)
{
    json_t *caa = json_object_get(root, "caa");
    if (caa == NULL)
        return 0;
    if (!json_is_object(caa))
        return bad(e, "caa: must be an object");
    int valid = check_status(caa, "caa.", e);
    if (valid < 0)
        return valid;
    json_t *found = json_object_get(caa, "foundAt");
    if (found == NULL || !(json_is_null(found) || json_is_string(found)))
        return bad(e, "caa.foundAt: missing, or not a string or null");
    if (check_string_array_member(caa, "caa.", "records", e) < 0 ||
        check_string_array_member(caa, "caa.", "resolverAddrs", e) < 0 ||
        check_string_member(caa, "caa.", "dnssec", 0, e) < 0 ||
        check_string_member(caa, "caa.", "note", 0, e) < 0 ||
        check_string_array_member(caa, "caa.", "issuerDomains", e) < 0 ||
        check_string_member(caa, "caa.", "decision", 0, e) < 0)
        return ACMEVA_PROTO_EINVAL;
    json_t *err = json_object_get(caa, "error");
    if (err == NULL)
        return bad(e, "caa.error: missing (null or a problem object)");
    if (valid && !json_is_null(err))
        return bad(e, "caa.error: must be null when caa.status is \"valid\"");
    if (!valid && check_problem(err, "caa.error", e) < 0)
        return ACMEVA_PROTO_EINVAL;
    return 0;
}

/* is_quorum: "<passed>/<asked>", two decimals of at most 3 digits with passed <= asked. */
static int is_quorum(const char *q)
{
    long n[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        int digits = 0;
        while (q != NULL && *q >= '0' && *q <= '9' && digits < 4) {
            n[k] = n[k] * 10 + (*q++ - '0');
            digits++;
        }
        if (q == NULL || digits == 0 || digits > 3 || *q != (k == 0 ? '/' : '\0'))
            return 0;
        q++;
    }
    return n[0] <= n[1];
}

/* check_mpic: the coordinator's "mpic" object (DESIGN.md "Multi-perspective corroboration"). */
static int check_mpic(json_t *root, check_err *e)
{
    json_t *mp = json_object_get(root, "mpic");
    if (mp == NULL)
        return 0;
    if (!json_is_object(mp))
        return bad(e, "mpic: must be an object");
    const char *q = json_string_value(json_object_get(mp, "quorum"));
    if (!is_quorum(q))
        return bad(e, "mpic.quorum: missing, or not \"<passed>/<asked>\"");
    if (!is_int_ge(json_object_get(mp, "required"), 0))
        return bad(e, "mpic.required: missing or not an integer >= 0");
    const char *p = json_string_value(json_object_get(mp, "primary"));
    if (p == NULL || (strcmp(p, "valid") != 0 && strcmp(p, "invalid") != 0 &&
                      strcmp(p, "timeout") != 0))
        return bad(e, "mpic.primary: missing, or not valid, invalid or timeout");
    if (!json_is_array(json_object_get(mp, "passedRirs")) ||
        check_string_array_member(mp, "mpic.", "passedRirs", e) < 0)
        return bad(e, "mpic.passedRirs: missing or not an array of strings");
    if (!json_is_array(json_object_get(mp, "disagreements")) ||
        check_string_array_member(mp, "mpic.", "disagreements", e) < 0)
        return bad(e, "mpic.disagreements: missing or not an array of strings");
    json_t *list = json_object_get(mp, "perspectives");
    if (!json_is_array(list))
        return bad(e, "mpic.perspectives: missing or not an array");
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *x = json_array_get(list, i);
        char path[48];
        snprintf(path, sizeof(path), "mpic.perspectives[%zu].", i);
        if (!json_is_object(x))
            return bad(e, "%s: must be an object", path);
        if (check_string_member(x, path, "perspective", 1, e) < 0 ||
            check_string_member(x, path, "rir", 1, e) < 0 ||
            check_string_array_member(x, path, "addressesResolved", e) < 0)
            return ACMEVA_PROTO_EINVAL;
        const char *s = json_string_value(json_object_get(x, "status"));
        if (s == NULL || (strcmp(s, "valid") != 0 && strcmp(s, "invalid") != 0 &&
                          strcmp(s, "timeout") != 0))
            return bad(e, "%sstatus: missing, or not valid, invalid or timeout", path);
        json_t *d = json_object_get(x, "durationMs");
        if (!json_is_number(d) || json_number_value(d) < 0)
            return bad(e, "%sdurationMs: missing or not a number >= 0", path);
        json_t *err = json_object_get(x, "error");
        if (err == NULL || (!json_is_null(err) && check_problem(err, "mpic.perspectives[].error",
                                                                e) < 0))
            return bad(e, "%serror: missing, or not null or a problem object", path);
    }
    return 0;
}

static int check_result(json_t *root, check_err *e)
{
    if (!json_is_object(root))
        return bad(e, "result: not a JSON object");
    json_t *v = json_object_get(root, "v");
    if (!json_is_integer(v))
        return bad(e, "v: missing or not an integer");
    if (json_integer_value(v) != ACMEVA_SCHEMA_MAJOR)
        return bad(e, "v: schema major %lld, this reader speaks %d",
                   (long long)json_integer_value(v), ACMEVA_SCHEMA_MAJOR);
    json_t *id = json_object_get(root, "id");
    if (id == NULL || !(json_is_null(id) || json_is_string(id)))
        return bad(e, "id: missing, or not a string or null");
    int valid = check_status(root, "", e);
    if (valid < 0)
        return valid;

    json_t *ident = json_object_get(root, "identifier");
    if (ident != NULL) {
        if (!json_is_object(ident))
            return bad(e, "identifier: must be an object");
        const char *t = json_string_value(json_object_get(ident, "type"));
        if (t == NULL || (strcmp(t, "dns") != 0 && strcmp(t, "ip") != 0))
            return bad(e, "identifier.type: missing, or not \"dns\" or \"ip\"");
        if (check_string_member(ident, "identifier.", "value", 1, e) < 0)
            return ACMEVA_PROTO_EINVAL;
    }
    json_t *chall = json_object_get(root, "challenge");
    if (chall != NULL) {
        if (!json_is_object(chall))
            return bad(e, "challenge: must be an object");
        if (check_string_member(chall, "challenge.", "type", 1, e) < 0 ||
            check_string_member(chall, "challenge.", "token", 0, e) < 0)
            return ACMEVA_PROTO_EINVAL;
    }
    if (check_records(json_object_get(root, "validationRecord"), "validationRecord", e) < 0)
        return ACMEVA_PROTO_EINVAL;

    /* DESIGN.md "Result": error is present exactly when status is invalid. */
    json_t *err = json_object_get(root, "error");
    if (valid && err != NULL)
        return bad(e, "error: present although status is \"valid\"");
    if (!valid && err == NULL)
        return bad(e, "error: missing (required when status is \"invalid\")");
    if (!valid && check_problem(err, "error", e) < 0)
        return ACMEVA_PROTO_EINVAL;
    if (check_caa(root, e) < 0 || check_mpic(root, e) < 0 || check_address_checks(root, e) < 0)
        return ACMEVA_PROTO_EINVAL;

    if (check_string_member(root, "", "perspective", 1, e) < 0 ||
        check_string_member(root, "", "rir", 1, e) < 0 ||
        check_string_member(root, "", "worker", 1, e) < 0 ||
        check_string_member(root, "", "workerVersion", 0, e) < 0)
        return ACMEVA_PROTO_EINVAL;
    json_t *pv = json_object_get(root, "policyVersion");
    if (pv != NULL && !is_int_ge(pv, 0))
        return bad(e, "policyVersion: not an integer >= 0");
    if (!is_int_ge(json_object_get(root, "attempt"), 1))
        return bad(e, "attempt: missing or not an integer >= 1");
    if (!is_int_ge(json_object_get(root, "startedMs"), 0))
        return bad(e, "startedMs: missing or not an integer >= 0");
    json_t *dur = json_object_get(root, "durationMs");
    if (!json_is_number(dur) || json_number_value(dur) < 0)
        return bad(e, "durationMs: missing or not a number >= 0");
    return 0;
}

int acmeva_result_check_json(const char *buf, size_t len, char *err, size_t errlen)
{
    check_err e = {err, errlen};
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (len > ACMEVA_RESULT_MAX_BYTES)
        return bad(&e, "result: %zu bytes is more than the limit of %d bytes", len,
                   ACMEVA_RESULT_MAX_BYTES);
    if (buf == NULL && len > 0)
        return bad(&e, "result: no input");
    json_error_t je;
    json_t *root = json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (root == NULL) {
        if (json_error_code(&je) == json_error_out_of_memory) {
            bad(&e, "result: out of memory");
            return ACMEVA_PROTO_ENOMEM;
        }
        return bad(&e, "result: not valid JSON (line %d column %d)", je.line, je.column);
    }
    int rc = check_result(root, &e);
    json_decref(root);
    return rc;
}
