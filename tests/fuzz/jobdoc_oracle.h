/*
 * The reference side of the JSON reader's tests (tests/fuzz/fuzz_jobdoc.c, fuzz_resultdoc.c,
 * fuzz_mpicjob.c, tests/unit/test_jobdoc.c): whether the reader and jansson agree on accepting
 * a document, the members the job schema knows, looked up in a jansson tree, and whether the
 * reader's value of one agrees with jansson's.
 */
#ifndef ACMEVA_TEST_JOBDOC_ORACLE_H
#define ACMEVA_TEST_JOBDOC_ORACLE_H

#include <stdint.h>
#include <stdlib.h>
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

/* oracle_copy copies the fuzzer's input, cut at |max| bytes (|*size| is updated), into a buffer
 * of its exact size, so that a read past its end is caught by AddressSanitizer in the replay
 * build too (libFuzzer hands over exact-size buffers, the replay driver does not). Returns it
 * (oracle_free), or NULL on no memory. */
static inline char *oracle_copy(const uint8_t *data, size_t *size, size_t max)
{
    static char empty[1];
    if (*size > max)
        *size = max;
    char *buf = *size ? malloc(*size) : empty;
    if (buf != NULL && *size)
        memcpy(buf, data, *size);
    return buf;
}

static inline void oracle_free(char *buf, size_t size)
{
    if (size)
        free(buf);
}

/* Both accepted, both refused, or no memory on one side (which says nothing). */
enum { ORACLE_ACCEPTED = 1, ORACLE_REFUSED, ORACLE_NOMEM };

/*
 * oracle_verdict compares the reader's answer on |size| bytes at |buf| (|rc|, its |error|, and
 * for a refusal its |line| and |column|) with jansson's (|root|, |jerr|) and aborts when they
 * disagree. An input with a raw NUL byte must be refused by the reader, whatever jansson says
 * (jansson loses a NUL read ahead after a number or a literal: the one meant difference).
 */
static inline int oracle_verdict(const char *buf, size_t size, int rc, int error, size_t line,
                                 size_t column, const json_t *root, const json_error_t *jerr)
{
    if (memchr(buf, '\0', size) != NULL) {
        if (rc >= 0 || error == ACMEVA_JSON_OK)
            abort();
        return ORACLE_REFUSED;
    }
    if (error == ACMEVA_JSON_NOMEM ||
        (root == NULL && json_error_code(jerr) == json_error_out_of_memory))
        return ORACLE_NOMEM;
    if (root != NULL) {
        if (rc != 0 || error != ACMEVA_JSON_OK)
            abort();
        return ORACLE_ACCEPTED;
    }
    if (rc >= 0 || error == ACMEVA_JSON_OK || error > ACMEVA_JSON_NOMEM || line < 1 || column < 1)
        abort();
    return ORACLE_REFUSED;
}

#endif
