/*
 * The reference side of the job document reader's tests (tests/fuzz/fuzz_jobdoc.c,
 * tests/unit/test_jobdoc.c): the members the job schema knows, looked up in a jansson tree,
 * and whether the reader's value of one agrees with jansson's.
 */
#ifndef ACMEVA_TEST_JOBDOC_ORACLE_H
#define ACMEVA_TEST_JOBDOC_ORACLE_H

#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "proto_int.h"

static inline acmeva_jv_type jansson_type(const json_t *j)
{
    if (j == NULL)
        return ACMEVA_JV_ABSENT;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return ACMEVA_JV_OBJECT;
    case JSON_ARRAY:
        return ACMEVA_JV_ARRAY;
    case JSON_STRING:
        return ACMEVA_JV_STRING;
    case JSON_INTEGER:
        return ACMEVA_JV_INTEGER;
    case JSON_REAL:
        return ACMEVA_JV_REAL;
    case JSON_TRUE:
        return ACMEVA_JV_TRUE;
    case JSON_FALSE:
        return ACMEVA_JV_FALSE;
    case JSON_NULL:
        return ACMEVA_JV_NULL;
    }
    return ACMEVA_JV_ABSENT;
}

static const struct {
    acmeva_jd_member m;
    const char *parent; /* a top-level key, NULL for the top level */
    const char *key;
} known[] = {
    {ACMEVA_JD_V, NULL, "v"},
    {ACMEVA_JD_ID, NULL, "id"},
    {ACMEVA_JD_IDENTIFIER, NULL, "identifier"},
    {ACMEVA_JD_IDENTIFIER_TYPE, "identifier", "type"},
    {ACMEVA_JD_IDENTIFIER_VALUE, "identifier", "value"},
    {ACMEVA_JD_CHALLENGE, NULL, "challenge"},
    {ACMEVA_JD_CHALLENGE_TYPE, "challenge", "type"},
    {ACMEVA_JD_CHALLENGE_TOKEN, "challenge", "token"},
    {ACMEVA_JD_KEY_AUTHORIZATION, NULL, "keyAuthorization"},
    {ACMEVA_JD_ACCOUNT_URI, NULL, "accountUri"},
    {ACMEVA_JD_CAA, NULL, "caa"},
    {ACMEVA_JD_CAA_ISSUER_DOMAINS, "caa", "issuerDomains"},
    {ACMEVA_JD_CAA_METHOD, "caa", "method"},
    {ACMEVA_JD_DEADLINE_MS, NULL, "deadlineMs"},
    {ACMEVA_JD_REPLY_TO, NULL, "replyTo"},
};

static inline json_t *member_get0(json_t *root, const char *parent, const char *key)
{
    json_t *obj = root;
    if (parent != NULL)
        obj = json_is_object(obj) ? json_object_get(obj, parent) : NULL;
    return json_is_object(obj) ? json_object_get(obj, key) : NULL;
}

/* same_value returns whether the reader's |v| and jansson's |j| agree. */
static inline int same_value(const acmeva_jv *v, const json_t *j)
{
    if (v->type != jansson_type(j))
        return 0;
    if (v->type == ACMEVA_JV_STRING) {
        size_t n = json_string_length(j);
        return v->s != NULL && v->len == n && memcmp(v->s, json_string_value(j), n) == 0 &&
               v->s[n] == '\0';
    }
    if (v->type == ACMEVA_JV_INTEGER)
        return v->i == (int64_t)json_integer_value(j);
    return 1;
}

#endif
