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
 * jsonread.c: a JSON document (RFC 8259), read in one bounded pass.
 *
 * The reader accepts exactly what jansson's json_loadb accepts with JSON_REJECT_DUPLICATES |
 * JSON_DECODE_ANY (the codec's reference; tests/fuzz/fuzz_jobdoc.c and fuzz_resultdoc.c hold
 * the two to that), except a raw NUL byte, which it always refuses. It hands the members a
 * schema names to the schema's sink; everything else is checked and skipped.
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
    const char *s;  /* ACMEVA_JV_STRING, when kept: the decoded UTF-8, NUL-terminated, owned by
                       the document (acmeva_jr_out.strings) */
    size_t len;     /* ACMEVA_JV_STRING: bytes in |s|, which holds no NUL */
    int64_t i;      /* ACMEVA_JV_INTEGER: the value */
    double d;       /* ACMEVA_JV_INTEGER, ACMEVA_JV_REAL: the value, as json_number_value */
    size_t at, end; /* the value's bytes in the input: [at, end) */
} acmeva_jv;

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

/* What a read leaves, whatever the schema. */
typedef struct acmeva_jr_out {
    acmeva_jv_type root;     /* the type of the document's value */
    acmeva_json_error error; /* ACMEVA_JSON_OK after a successful read */
    size_t line, column;     /* where reading stopped on an error, both from 1 (bytes) */
    char *strings;           /* owned: the decoded strings handed to the sink */
} acmeva_jr_out;

#define ACMEVA_JR_NONE 0    /* the context of objects whose members no schema entry names */
#define ACMEVA_JR_STRING 1u /* a string value is decoded (acmeva_jv.s) */
#define ACMEVA_JR_ELEMENTS                                                                         \
    2u /* each element of an array value goes to the sink as well,                                 \
          strings decoded */

/*
 * One member a schema knows: the member |name| of the objects of context |in| (contexts are
 * small positive numbers a schema chooses), or, with |name| NULL, every member of such an
 * object that no other entry names. When its value is an object, that object's members are
 * looked up in context |obj|; when it is an array, the members of its elements that are
 * objects are looked up in |elem_obj|. Values of the other objects are checked and skipped.
 */
typedef struct acmeva_jr_key {
    int in;
    const char *name;
    size_t len; /* of |name| */
    int member; /* the schema's own number for it, for the sink */
    int obj, elem_obj;
    unsigned flags; /* ACMEVA_JR_STRING, ACMEVA_JR_ELEMENTS */
} acmeva_jr_key;

/*
 * A sink takes each value of a member the schema knows once it is read (|element| 0, with
 * |key_at| the offset of its key's opening quote), and with ACMEVA_JR_ELEMENTS each element of
 * its array value (|element| 1, |key_at| the element's offset). A value that is an object or
 * an array comes after everything inside it. Returns 0, or -1 on no memory (the read fails
 * with ACMEVA_JSON_NOMEM).
 */
typedef int (*acmeva_jr_sink)(void *arg, const acmeva_jr_key *k, int element, const acmeva_jv *v,
                              size_t key_at);

typedef struct acmeva_jr_schema {
    const acmeva_jr_key *keys;
    size_t n_keys;
    int root; /* the context of the document's members when it is an object */
    acmeva_jr_sink sink;
} acmeva_jr_schema;

/*
 * acmeva_json_read reads |len| bytes at |buf| as one JSON document, handing what |schema|
 * names to its sink with |arg|. Returns 0 when the document is JSON, else a negative value
 * with |out->error|, |out->line| and |out->column| set; either way |out->strings| is the
 * caller's to free. Memory is linear in |len| and time O(|len| log |len|) (the caller caps
 * |len|).
 */
int acmeva_json_read(const acmeva_jr_schema *schema, void *arg, const char *buf, size_t len,
                     acmeva_jr_out *out);

/*
 * resultdoc.c: acmeva_span_add appends the span of a top-level member to a growing array;
 * acmeva_json_splice writes the object of |buf| whose members are |members| with |edits| (as
 * acmeva_resultdoc_splice, for any document read with its spans). Both return 0 or -1.
 */
int acmeva_span_add(acmeva_rd_span **spans, size_t *n, size_t *cap, int member, size_t at,
                    size_t end);
int acmeva_json_splice(const char *buf, const acmeva_rd_span *members, size_t n_members,
                       const acmeva_rd_edit *edits, size_t n, acmeva_jbuf *out);

/*
 * jobdoc.c: the members of a job document (proto/job.schema.json), through acmeva_json_read.
 */
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
