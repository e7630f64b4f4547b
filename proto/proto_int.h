/* Codec internals shared by the files of proto/; not part of the API. */
#ifndef ACMEVA_PROTO_INT_H
#define ACMEVA_PROTO_INT_H

#include <stddef.h>
#include <stdint.h>

#include "acmeva/proto.h"

/* acmeva_json_plain[c] is 1 when byte |c| stands for itself inside a JSON string, both to read
 * and to write: printable ASCII other than '"' and '\\' (RFC 8259 §7). */
extern const unsigned char acmeva_json_plain[256];

/*
 * jobdoc.c: the JSON of a job document (RFC 8259), read in one bounded pass.
 *
 * The reader accepts exactly what jansson's json_loadb accepts with JSON_REJECT_DUPLICATES |
 * JSON_DECODE_ANY (the codec's reference; tests/fuzz/fuzz_jobdoc.c holds the two to that),
 * except a raw NUL byte, which it always refuses, and keeps only the members the job schema
 * knows: everything else is checked and skipped.
 */
#define ACMEVA_JSON_MAX_DEPTH 2048 /* nesting of arrays and objects, as jansson's parser */

typedef enum acmeva_jv_type {
    ACMEVA_JV_ABSENT = 0, /* the member is not in the document (or its parent is not an object) */
    ACMEVA_JV_NULL,
    ACMEVA_JV_FALSE,
    ACMEVA_JV_TRUE,
    ACMEVA_JV_INTEGER, /* a number without fraction or exponent that fits in int64_t */
    ACMEVA_JV_REAL,    /* any other number (finite as a double) */
    ACMEVA_JV_STRING,
    ACMEVA_JV_ARRAY,
    ACMEVA_JV_OBJECT,
} acmeva_jv_type;

/* One value of the document. */
typedef struct acmeva_jv {
    acmeva_jv_type type;
    const char *s; /* ACMEVA_JV_STRING: the decoded UTF-8, NUL-terminated, owned by the doc */
    size_t len;    /* ACMEVA_JV_STRING: bytes in |s|, which holds no NUL */
    int64_t i;     /* ACMEVA_JV_INTEGER: the value */
} acmeva_jv;

/* The members the job schema knows, by their path in the document. */
typedef enum acmeva_jd_member {
    ACMEVA_JD_V,
    ACMEVA_JD_ID,
    ACMEVA_JD_IDENTIFIER,
    ACMEVA_JD_IDENTIFIER_TYPE,
    ACMEVA_JD_IDENTIFIER_VALUE,
    ACMEVA_JD_CHALLENGE,
    ACMEVA_JD_CHALLENGE_TYPE,
    ACMEVA_JD_CHALLENGE_TOKEN,
    ACMEVA_JD_KEY_AUTHORIZATION,
    ACMEVA_JD_ACCOUNT_URI,
    ACMEVA_JD_CAA,
    ACMEVA_JD_CAA_ISSUER_DOMAINS,
    ACMEVA_JD_CAA_METHOD,
    ACMEVA_JD_DEADLINE_MS,
    ACMEVA_JD_REPLY_TO,
    ACMEVA_JD_N,
} acmeva_jd_member;

/* Why a document is not JSON, in the categories of jansson's json_error_code. */
typedef enum acmeva_json_error {
    ACMEVA_JSON_OK = 0,
    ACMEVA_JSON_SYNTAX,
    ACMEVA_JSON_PREMATURE_END,
    ACMEVA_JSON_END_EXPECTED, /* data after the document's value */
    ACMEVA_JSON_INVALID_UTF8,
    ACMEVA_JSON_NUL,           /* \u0000 in a string or key */
    ACMEVA_JSON_DUPLICATE_KEY, /* in any object of the document */
    ACMEVA_JSON_NUMERIC_OVERFLOW,
    ACMEVA_JSON_TOO_DEEP,
    ACMEVA_JSON_NOMEM,
} acmeva_json_error;

typedef struct acmeva_jobdoc {
    acmeva_jv_type root;      /* the type of the document's value */
    acmeva_jv m[ACMEVA_JD_N]; /* the known members, indexed by acmeva_jd_member */
    acmeva_jv issuer_domains[ACMEVA_JOB_ISSUER_DOMAINS_MAX]; /* caa.issuerDomains[0..] */
    size_t n_issuer_domains; /* elements of caa.issuerDomains, counted past the cap */
    acmeva_json_error error; /* ACMEVA_JSON_OK after a successful read */
    size_t line, column;     /* where reading stopped on an error, both from 1 (bytes) */
    char *strings;           /* owned: the decoded strings of the known members */
} acmeva_jobdoc;

/*
 * acmeva_jobdoc_read reads |len| bytes at |buf| as one JSON document into |doc|, which it
 * initialises. Returns 0 when the document is JSON, else a negative value with |doc->error|,
 * |doc->line| and |doc->column| set. Either way the caller calls acmeva_jobdoc_clear. Memory
 * is linear in |len| and time O(|len| log |len|) (the caller caps |len|).
 */
int acmeva_jobdoc_read(acmeva_jobdoc *doc, const char *buf, size_t len);
/* acmeva_jobdoc_clear frees what |doc| owns; the strings of its members go with it. */
void acmeva_jobdoc_clear(acmeva_jobdoc *doc);

#endif
