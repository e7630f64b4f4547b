/*
 * acmeva wire contract, schema major 1: the job a CA core enqueues and the result a worker
 * posts back. Parsing validates every rule of proto/job.schema.json; writing produces
 * documents that match proto/result.schema.json. No I/O, no event loop: a plain codec that
 * every binary links.
 */
#ifndef ACMEVA_PROTO_H
#define ACMEVA_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACMEVA_SCHEMA_MAJOR 1
#define ACMEVA_JOB_MAX_BYTES (64 * 1024) /* a job larger than this is malformed */
#define ACMEVA_ID_MAX 200
#define ACMEVA_TOKEN_MIN 16
#define ACMEVA_TOKEN_MAX 256
#define ACMEVA_DEFAULT_REPLY_TO "acmeva:v1:results"
#define ACMEVA_THUMBPRINT_MAX 128                 /* keyAuthorization: the part after "<token>." */
#define ACMEVA_ACCOUNT_URI_MAX 1024               /* accountUri */
#define ACMEVA_REPLY_TO_MAX 256                   /* replyTo */
#define ACMEVA_JOB_ISSUER_DOMAINS_MAX 16          /* caa.issuerDomains */
#define ACMEVA_DEADLINE_MS_MAX 9007199254740992LL /* 2^53: deadlineMs */
#define ACMEVA_RESULT_MAX_BYTES (4 * 1024 * 1024) /* acmeva_result_check_json refuses more */
#define ACMEVA_RESULT_MAX_RECORDS 256             /* acmeva_result_add_record refuses more */
#define ACMEVA_MAX_ADDRESS_CHECKS 32              /* acmeva_result_add_address_check refuses more */

/* Error codes of the codec. */
#define ACMEVA_PROTO_EINVAL (-1) /* the document breaks a rule (the error says which) */
#define ACMEVA_PROTO_ENOMEM (-2) /* out of memory */

typedef enum {
    ACMEVA_IDENT_UNKNOWN = 0,
    ACMEVA_IDENT_DNS,
    ACMEVA_IDENT_IP,
} acmeva_ident_type;

typedef enum {
    ACMEVA_CHALL_NONE = 0, /* no challenge in the job (a CAA-only job) */
    ACMEVA_CHALL_HTTP01,
    ACMEVA_CHALL_DNS01,
    ACMEVA_CHALL_TLSALPN01,
    ACMEVA_CHALL_DNSACCOUNT01,
    ACMEVA_CHALL_DNSPERSIST01,
    ACMEVA_CHALL_UNKNOWN,
} acmeva_chall_type;

/* The ACME problem types acmeva emits (RFC 8555 §6.7). */
typedef enum {
    ACMEVA_PROB_NONE = 0,
    ACMEVA_PROB_UNAUTHORIZED,        /* 403 */
    ACMEVA_PROB_CONNECTION,          /* 400 */
    ACMEVA_PROB_DNS,                 /* 400 */
    ACMEVA_PROB_TLS,                 /* 400 */
    ACMEVA_PROB_CAA,                 /* 403 */
    ACMEVA_PROB_MALFORMED,           /* 400 */
    ACMEVA_PROB_SERVER_INTERNAL,     /* 500 */
    ACMEVA_PROB_REJECTED_IDENTIFIER, /* 400 */
} acmeva_problem_type;

/* acmeva_chall_type_name returns the wire name ("http-01", ...) or NULL for NONE/UNKNOWN. */
const char *acmeva_chall_type_name(acmeva_chall_type t);
/* acmeva_chall_type_from_name maps a wire name to its enum, ACMEVA_CHALL_UNKNOWN if unknown. */
acmeva_chall_type acmeva_chall_type_from_name(const char *name);
/* acmeva_problem_urn returns "urn:ietf:params:acme:error:<name>" for |t|, NULL for NONE. */
const char *acmeva_problem_urn(acmeva_problem_type t);
/* acmeva_problem_http_status returns the HTTP status of |t| (403, 400, 500), 0 for NONE. */
int acmeva_problem_http_status(acmeva_problem_type t);

/* A parsed and validated job. All strings are NUL-terminated and owned by the job. */
typedef struct acmeva_job {
    int v;
    char *id;
    acmeva_ident_type ident_type;
    char *ident_value; /* as given: lowercase A-label, maybe "*.", or canonical IP text */
    int wildcard;      /* ident_value starts with "*." */
    acmeva_chall_type chall_type; /* ACMEVA_CHALL_NONE when the job has no challenge */
    char *token;                  /* NULL for dns-persist-01 and CAA-only jobs */
    char *key_authorization;      /* NULL for dns-persist-01 and CAA-only jobs */
    char *account_uri;            /* NULL when absent */
    int has_caa;                  /* the job asks for a CAA check */
    char **issuer_domains;        /* caa.issuerDomains, NULL when absent */
    /* The validation method CAA validationmethods (RFC 8657 §4) is checked against: the
     * challenge's type when the job has one, else caa.method (the method that validated the
     * authorization a CAA-only job rechecks), else ACMEVA_CHALL_NONE. */
    acmeva_chall_type caa_method;
    size_t n_issuer_domains;
    int has_deadline;
    int64_t deadline_ms; /* unix ms, valid when has_deadline */
    char *reply_to;      /* never NULL: defaults to ACMEVA_DEFAULT_REPLY_TO */
} acmeva_job;

/* Why a job was refused: the field (a JSON path such as "identifier.value") and the rule. */
typedef struct acmeva_job_error {
    char *id; /* the job's id when it could be read and is itself valid, else NULL; owned */
    char field[64];
    char detail[256]; /* human-readable, names the field and the rule broken */
} acmeva_job_error;

/*
 * acmeva_job_parse parses |len| bytes of JSON as a job and checks every rule of schema
 * major 1. On success returns 0 and sets |*out| to a new job the caller frees with
 * acmeva_job_free. On failure returns a negative value, leaves |*out| NULL and fills |err|
 * (whose |id| the caller frees with acmeva_job_error_clear). Input larger than
 * ACMEVA_JOB_MAX_BYTES is refused. |err| may be NULL; it is overwritten on entry (clear a
 * reused one first) and left empty on success. The negative value is ACMEVA_PROTO_EINVAL for a
 * job that breaks a rule (duplicate object keys included) and ACMEVA_PROTO_ENOMEM on no memory.
 */
int acmeva_job_parse(const char *buf, size_t len, acmeva_job **out, acmeva_job_error *err);
/* acmeva_job_free frees |job| and everything it owns. acmeva_job_free(NULL) is a no-op. */
void acmeva_job_free(acmeva_job *job);
/* acmeva_job_error_clear frees what |err| owns (its id). */
void acmeva_job_error_clear(acmeva_job_error *err);

/* acmeva_is_dns_name returns 1 when |s| is a lowercase A-label name within DNS limits
 * (253 bytes, labels 1..63 of [a-z0-9-] not starting or ending with '-', at least two labels,
 * no trailing dot). A leading "*." is accepted only when |allow_wildcard| is set.
 * Also refused: a last label of digits only (so an IP address never passes as a name,
 * RFC 3696 §2) and labels of the reserved form "??--" other than "xn--" (RFC 5890 §2.3.1). */
int acmeva_is_dns_name(const char *s, int allow_wildcard);
/* acmeva_is_canonical_ip returns 4 or 6 when |s| is canonical IPv4 or IPv6 text (what
 * inet_ntop prints for it), else 0. */
int acmeva_is_canonical_ip(const char *s);
/* acmeva_is_base64url returns 1 when |s| (length |len|) is unpadded base64url: at least one
 * character, only [A-Za-z0-9_-], and a length that an encoding can have (not 4k+1), RFC 4648
 * §5. */
int acmeva_is_base64url(const char *s, size_t len);
/* acmeva_hex_digit returns the value (0..15) of the hex digit |c|, either case, else -1. */
int acmeva_hex_digit(unsigned char c);

/* A growable list of owned strings. */
typedef struct acmeva_strlist {
    char **v;
    size_t n, cap;
} acmeva_strlist;

/* acmeva_strlist_add appends a copy of |s| (|len| bytes). Returns 0 or -1 on no memory (or
 * when the list already holds 65536 strings). */
int acmeva_strlist_add(acmeva_strlist *l, const char *s, size_t len);
/* acmeva_strlist_move appends the strings of |src| to |dst| without copying them and leaves
 * |src| empty. Returns 0, or -1 on no memory (then both lists are unchanged). */
int acmeva_strlist_move(acmeva_strlist *dst, acmeva_strlist *src);
/* acmeva_strlist_clear frees every string and the array and leaves |l| empty. */
void acmeva_strlist_clear(acmeva_strlist *l);

/* One validation record (RFC 8555 challenge objects as ACME CAs fill them). NULL members and
 * empty lists are left out of the JSON. One record per HTTP hop, per TLS connection, per DNS
 * name queried. */
typedef struct acmeva_vrecord {
    char *url;      /* http-01 */
    char *hostname; /* the name connected to or queried */
    char *port;     /* decimal text, as ACME CAs write it */
    acmeva_strlist addresses_resolved;
    char *address_used;
    acmeva_strlist addresses_tried;
    acmeva_strlist resolver_addrs;
    char *dnssec;           /* "secure" or "insecure" (DNS answers) */
    char *rcode;            /* "NOERROR", "NXDOMAIN", ... (DNS answers) */
    acmeva_strlist records; /* the TXT values seen (escaped), at most 100 */
    char *matched_record;   /* dns-persist-01: the record that matched */
    /* What a person needs to see why a validation failed (acmeva check --format text); added
     * within major 1, written after the fields above. Server bytes are escaped. */
    int http_status;             /* http-01: the status code of this hop's response (0: none) */
    char *body;                  /* http-01: the start of the response body that was judged,
                                  * escaped (at most ACMEVA_RECORD_BODY_MAX bytes read) */
    acmeva_strlist tried_errors; /* what happened at each of addresses_tried, in order */
    acmeva_strlist cnames;       /* the CNAME chain from hostname, each target in order */
    acmeva_strlist cert_names;   /* TLS: the names of the leaf certificate seen (escaped) */
    char *alpn;                  /* tls-alpn-01: the ALPN protocol the server selected */
    char *expected;              /* dns-01, dns-account-01: the TXT value looked for */
} acmeva_vrecord;

/* The most body bytes of one response a record shows (the http-01 reader reads no more). */
#define ACMEVA_RECORD_BODY_MAX 128

struct acmeva_result;

/* One address of the identifier validated on its own (acmeva check --all-addresses). */
typedef struct acmeva_address_check {
    char *address;
    struct acmeva_result *result; /* owned: its status, problem and records */
} acmeva_address_check;

typedef struct acmeva_problem {
    acmeva_problem_type type; /* ACMEVA_PROB_NONE: no problem */
    char *detail;             /* owned; already escaped, valid UTF-8 */
} acmeva_problem;

/* The outcome of one validation, which becomes one result document. Every string owned. */
typedef struct acmeva_result {
    char *id; /* NULL is written as "id": null */
    int valid;
    char *ident_type; /* "dns" / "ip", NULL when unknown (a malformed job) */
    char *ident_value;
    char *chall_type; /* NULL: no "challenge" member */
    char *token;
    acmeva_vrecord *records;
    size_t n_records, cap_records;
    acmeva_problem problem; /* present exactly when !valid */
    int has_caa;            /* write the "caa" object */
    int caa_valid;
    char *caa_found_at;
    acmeva_strlist caa_records; /* the relevant records, as "flags tag value" text */
    acmeva_strlist caa_resolver_addrs; /* the resolvers that answered the CAA lookups used */
    char *caa_dnssec; /* "secure" / "insecure": the CAA answers used, all authenticated? */
    char *caa_note;   /* e.g. "CAA is not checked for IP identifiers" */
    acmeva_problem caa_problem;
    acmeva_strlist caa_issuer_domains; /* the CA's issuer domains the records were held to */
    char *caa_decision; /* which record of the relevant set decided, and why (escaped) */
    char *perspective;
    char *rir;
    char *worker;
    char *worker_version; /* NULL: this build's (acmeva_version) */
    /* The version of the operator's policy (acmeva:v1:policy) the job ran under, written as
     * "policyVersion" when has_policy_version is set (the daemons; acmeva check has none). */
    int64_t policy_version;
    int has_policy_version;
    int attempt;
    int64_t started_ms;
    double duration_ms;
    /* Not written: the validation failed because of this machine (no descriptors, no memory,
     * no buffer space, a resolver socket that could not be opened), never the subscriber's
     * fault. The problem is then serverInternal; acmeva check reports it, the worker leaves
     * the job pending for another delivery instead of posting it (DESIGN.md "Hardening"). */
    int local_failure;
    /* acmeva check --all-addresses: the challenge checked against each address of the
     * identifier on its own, in the order they resolved. Never set by acmeva-worker. */
    acmeva_address_check *address_checks;
    size_t n_address_checks;
} acmeva_result;

/* acmeva_str_set sets |*dst| (owned) to a copy of |src| (NULL sets NULL), freeing what it held:
 * the one "replace an owned string" of every module. |src| may be |*dst| itself. Returns 0, or
 * ACMEVA_PROTO_ENOMEM with |*dst| unchanged. */
int acmeva_str_set(char **dst, const char *src);

/* acmeva_result_new returns a zeroed result with attempt 1, or NULL on no memory. */
acmeva_result *acmeva_result_new(void);
/* acmeva_result_free frees |r| and everything it owns. NULL is a no-op. */
void acmeva_result_free(acmeva_result *r);
/* acmeva_result_add_record appends an empty record and returns it (owned by |r|), or NULL on
 * no memory or when |r| already has ACMEVA_RESULT_MAX_RECORDS. The pointer is valid until the
 * next call. */
acmeva_vrecord *acmeva_result_add_record(acmeva_result *r);
/* acmeva_result_add_address_check appends the outcome |check| (taken: |r| frees it) of the
 * challenge checked against |address| alone (copied). Returns 0, or ACMEVA_PROTO_EINVAL (NULL
 * arguments, or |r| already holds ACMEVA_MAX_ADDRESS_CHECKS) or ACMEVA_PROTO_ENOMEM, and then
 * |check| stays the caller's. */
int acmeva_result_add_address_check(acmeva_result *r, const char *address, acmeva_result *check);
/* acmeva_result_set_problem sets r->problem to |type| with |detail| copied, and valid = 0.
 * Returns 0, ACMEVA_PROTO_EINVAL for ACMEVA_PROB_NONE (nothing changed) or ACMEVA_PROTO_ENOMEM. */
int acmeva_result_set_problem(acmeva_result *r, acmeva_problem_type type, const char *detail);
/* acmeva_result_new_malformed returns an invalid result with a malformed problem: |err|'s
 * id (or null) and its detail. Used for jobs that fail acmeva_job_parse. */
acmeva_result *acmeva_result_new_malformed(const acmeva_job_error *err);
/* acmeva_result_set_job copies the id, identifier and challenge of |job| into |r| (replacing
 * what |r| had). Returns 0, ACMEVA_PROTO_EINVAL for NULL arguments or ACMEVA_PROTO_ENOMEM. */
int acmeva_result_set_job(acmeva_result *r, const acmeva_job *job);

/*
 * acmeva_result_to_json writes |r| as one line of compact JSON (no newline) that matches
 * proto/result.schema.json. Returns a new NUL-terminated string the caller frees with free(),
 * or NULL on no memory. Invalid UTF-8 in any string is written as U+FFFD; NULL members and
 * empty lists of a record are left out; "error" is written exactly when !valid (as
 * serverInternal if no problem was set), "caa" when has_caa (its "error" null when caa_valid);
 * NULL perspective/rir/worker are written as ""; a NULL worker_version as this build's
 * version (acmeva_version); "policyVersion" only when has_policy_version (a negative version is
 * written as 0); durationMs is rounded to 0.1 ms.
 */
char *acmeva_result_to_json(const acmeva_result *r);

/* acmeva_strdup_n returns a NUL-terminated copy of |len| bytes of |s|, or NULL. */
char *acmeva_strdup_n(const char *s, size_t len);

/*
 * acmeva_result_check_json checks that |len| bytes of |buf| are one result document of schema
 * major 1 with every required field of proto/result.schema.json, each of the right type (and
 * "error" present exactly when "status" is "invalid"). Returns 0 when it is; otherwise returns
 * ACMEVA_PROTO_EINVAL (or ACMEVA_PROTO_ENOMEM) and writes "<field>: <what is wrong>" to |err|
 * (|errlen| bytes, always NUL-terminated when |errlen| > 0; |err| may be NULL). Unknown fields
 * are accepted, as readers of a major must accept additions. Used by `acmeva submit --wait`.
 */
int acmeva_result_check_json(const char *buf, size_t len, char *err, size_t errlen);

/* The code point acmeva_utf8_decode gives bytes that are not well-formed UTF-8. */
#define ACMEVA_UTF8_INVALID UINT32_C(0xFFFFFFFF)

/*
 * acmeva_utf8_decode reads one character of UTF-8 at |s| (|n| bytes left) and returns the
 * number of bytes it covers, 1 to 4 (0 only when |n| is 0). When they are a well-formed
 * sequence (RFC 3629 §4: no overlong forms, no surrogates, nothing above U+10FFFF, nothing cut
 * short) |*cp| is set to its code point (NUL is U+0000, a valid one); otherwise to
 * ACMEVA_UTF8_INVALID, and the count is the ill-formed sequence's maximal subpart (Unicode
 * §3.9): the longest start of a well-formed sequence, or the one byte that cannot start one,
 * which is what one U+FFFD replaces. The one UTF-8 decoder of the project: the job reader, the
 * result writer and the escaping of server bytes all use it. It is defined here, inline, since
 * the job reader calls it for every non-ASCII character of a job.
 */
static inline size_t acmeva_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    *cp = ACMEVA_UTF8_INVALID;
    if (n == 0)
        return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    /* RFC 3629 §4, the table of well-formed byte sequences: the range of the second byte
     * depends on the first, which excludes overlong forms (C0, C1, E0 80..9F, F0 80..8F),
     * surrogates (ED A0..BF) and code points above U+10FFFF (F4 90..BF, F5..FF); later bytes
     * are 80..BF. A byte out of its range ends the maximal subpart before it. */
    if (c < 0xc2 || c > 0xf4)
        return 1;
    if (c < 0xe0) {
        if (n < 2 || (s[1] ^ 0x80u) > 0x3f)
            return 1;
        *cp = (c & 0x1fu) << 6 | (s[1] & 0x3fu);
        return 2;
    }
    unsigned lo = 0x80, hi = 0xbf;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (n < 2 || s[1] < lo || s[1] > hi)
        return 1;
    if (n < 3 || (s[2] ^ 0x80u) > 0x3f)
        return 2;
    if (c < 0xf0) {
        *cp = (c & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu);
        return 3;
    }
    if (n < 4 || (s[3] ^ 0x80u) > 0x3f)
        return 3;
    *cp = (c & 0x07u) << 18 | (s[1] & 0x3fu) << 12 | (s[2] & 0x3fu) << 6 | (s[3] & 0x3fu);
    return 4;
}

/*
 * acmeva_utf8_sanitize returns a NUL-terminated copy of |len| bytes of |s| in which each
 * ill-formed UTF-8 sequence (one U+FFFD per maximal subpart, as acmeva_utf8_decode reads them)
 * and every NUL is replaced by U+FFFD. The caller frees the copy with free(). Returns NULL on
 * no memory.
 */
char *acmeva_utf8_sanitize(const char *s, size_t len);

/*
 * A growing buffer that JSON is written into, straight, without a tree (proto/jbuf.c): the
 * result writer and the coordinator's MPIC result use it. Start from {0}. Past
 * ACMEVA_RESULT_MAX_BYTES, or on no memory, the buffer fails: further writes do nothing, and
 * acmeva_jbuf_finish returns NULL.
 */
typedef struct acmeva_jbuf {
    char *p;
    size_t len, cap;
    int failed;
} acmeva_jbuf;

/* acmeva_jbuf_put_slow grows the buffer and writes |n| bytes: acmeva_jbuf_put's slow path. */
void acmeva_jbuf_put_slow(acmeva_jbuf *b, const char *s, size_t n);

/* acmeva_jbuf_put writes |n| bytes as they are, always leaving room for the final NUL. */
static inline void acmeva_jbuf_put(acmeva_jbuf *b, const char *s, size_t n)
{
    if (b->cap - b->len > n) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
        return;
    }
    acmeva_jbuf_put_slow(b, s, n);
}

/* acmeva_jbuf_puts writes the C string |s| as it is (JSON the caller vouches for). */
void acmeva_jbuf_puts(acmeva_jbuf *b, const char *s);
/* acmeva_jbuf_put_str writes |s| (NULL as "") as a JSON string: escaped as RFC 8259 §7
 * requires, with each ill-formed UTF-8 sequence replaced by U+FFFD. */
void acmeva_jbuf_put_str(acmeva_jbuf *b, const char *s);
/* acmeva_jbuf_put_int writes |v| in decimal. */
void acmeva_jbuf_put_int(acmeva_jbuf *b, long long v);
/* acmeva_jbuf_put_ms writes a duration in milliseconds to 0.1 ms, as results carry
 * "durationMs" (negatives and NaN as 0.0). */
void acmeva_jbuf_put_ms(acmeva_jbuf *b, double ms);
/* acmeva_jbuf_key writes ,"name": (the comma unless |*first|, which it then clears). |name|
 * is a short ASCII literal that needs no escaping. */
void acmeva_jbuf_key(acmeva_jbuf *b, int *first, const char *name);
/* acmeva_jbuf_finish returns the written text NUL-terminated, owned by the caller (free()), or
 * NULL when the buffer failed (then freed). Either way |b| is empty afterwards. */
char *acmeva_jbuf_finish(acmeva_jbuf *b);
/* acmeva_jbuf_clear frees what |b| holds. */
void acmeva_jbuf_clear(acmeva_jbuf *b);

/*
 * A result document as the coordinator reads it from a perspective (proto/resultdoc.c): one
 * bounded pass, held to jansson's json_loadb(JSON_REJECT_DUPLICATES) by
 * tests/fuzz/fuzz_resultdoc.c, that keeps only what corroboration uses and the byte range of
 * every top-level member, so that the document can be written again with members replaced
 * (acmeva_resultdoc_splice) instead of through a tree.
 */
#define ACMEVA_RESULTDOC_LIST_MAX 64 /* strings kept per list; more are counted, not kept */

/* A string of a document: decoded UTF-8 with no NUL in it, NUL-terminated, owned by it. */
typedef struct acmeva_rstr {
    const char *s;
    size_t len;
} acmeva_rstr;

typedef struct acmeva_rlist {
    acmeva_rstr *v;
    size_t n, cap;
    size_t more; /* strings left out once ACMEVA_RESULTDOC_LIST_MAX were kept */
} acmeva_rlist;

/* The top-level members a splice may replace, and the others (ACMEVA_RD_OTHER). */
typedef enum acmeva_rd_member {
    ACMEVA_RD_OTHER = 0,
    ACMEVA_RD_ID,
    ACMEVA_RD_STATUS,
    ACMEVA_RD_ERROR,
    ACMEVA_RD_ATTEMPT,
    ACMEVA_RD_STARTED_MS,
    ACMEVA_RD_DURATION_MS,
    ACMEVA_RD_MPIC,
    ACMEVA_RD_REPLY_TO,    /* of a job (acmeva_mpicjob) */
    ACMEVA_RD_DEADLINE_MS, /* of a job */
    ACMEVA_RD_POLICY_VERSION,
} acmeva_rd_member;

/* One top-level member: its bytes [at, end), from its key's opening quote to its value's end. */
typedef struct acmeva_rd_span {
    acmeva_rd_member member;
    size_t at, end;
} acmeva_rd_span;

typedef struct acmeva_resultdoc {
    int is_object; /* the document is a JSON object; nothing below is set otherwise */
    /* Strings of the document, NULL when absent or not a string (through objects only). */
    const char *id, *status, *perspective, *rir;
    const char *ident_type, *ident_value;  /* identifier.type, identifier.value */
    const char *error_type, *error_detail; /* error.type, error.detail */
    const char *caa_found_at;              /* caa.foundAt */
    int has_duration;                      /* durationMs is a number: */
    double duration_ms;                    /* its value, as json_number_value */
    size_t duration_at, duration_end;      /* its text */
    int has_caa;                           /* "caa" is there, of any type */
    int has_caa_records;                   /* caa is an object with "records", of any type */
    acmeva_rlist addresses;   /* the distinct strings of validationRecord[].addressesResolved */
    acmeva_rlist txt;         /* the distinct strings of validationRecord[].records */
    acmeva_rlist caa_records; /* the strings of caa.records, in order */
    acmeva_rd_span *members;  /* every top-level member, in order */
    size_t n_members, cap_members;
    int error; /* why the read failed (jsonread.c's categories), 0 after a successful one */
    char *strings;
} acmeva_resultdoc;

/*
 * acmeva_resultdoc_read reads |len| bytes at |buf| into |doc|, which it initialises. Lists keep
 * strings in the order they first come, the first ACMEVA_RESULTDOC_LIST_MAX; the distinct ones
 * are distinct byte strings. Returns 0 when the document is JSON (of any type: see
 * |doc->is_object|), else a negative value. Either way the caller calls acmeva_resultdoc_clear.
 * Memory is linear in |len|, time O(|len| log |len|); the caller caps |len|.
 */
int acmeva_resultdoc_read(acmeva_resultdoc *doc, const char *buf, size_t len);
/* acmeva_resultdoc_clear frees what |doc| owns; its strings go with it. */
void acmeva_resultdoc_clear(acmeva_resultdoc *doc);

/* One change to a top-level member: |member| becomes "|name|": |value| (|len| bytes of JSON
 * the caller vouches for), or, with |value| NULL, goes. */
typedef struct acmeva_rd_edit {
    acmeva_rd_member member;
    const char *name;
    const char *value;
    size_t len;
} acmeva_rd_edit;

/*
 * acmeva_resultdoc_splice writes the object |doc| was read from (|buf|) to |out| with |n|
 * edits: each member an edit names is replaced where it stands (or left out), every other
 * member is copied byte for byte, and the edits whose member was not there are added at the
 * end, in their order. The output is JSON whenever the edits' values are. Returns 0, or -1 when
 * |doc| is not an object.
 */
int acmeva_resultdoc_splice(const acmeva_resultdoc *doc, const char *buf,
                            const acmeva_rd_edit *edits, size_t n, acmeva_jbuf *out);

/*
 * An MPIC job as the coordinator reads it beside acmeva_job_parse (proto/mpicjob.c): the
 * "mpic" object's parameters, and the byte range of every top-level member, so that the
 * sub-jobs are written from the job's own bytes (acmeva_mpicjob_subjob_body) rather than
 * through a tree. Held to jansson by tests/fuzz/fuzz_mpicjob.c.
 */
typedef struct acmeva_mpic_param {
    int present;    /* the member is there (inside an "mpic" object) */
    int is_integer; /* and is an integer (no fraction, no exponent) */
    int64_t value;
} acmeva_mpic_param;

typedef struct acmeva_mpicjob {
    int is_object;
    int has_mpic; /* "mpic" is there, of any type */
    int mpic_is_object;
    acmeva_mpic_param perspective_count, quorum_count; /* mpic.perspectiveCount, quorumCount */
    acmeva_rd_span *members;
    size_t n_members, cap_members;
    int error;
    char *strings;
} acmeva_mpicjob;

/* acmeva_mpicjob_read reads |len| bytes at |buf| into |doc| (initialised here). Returns 0
 * when they are JSON, else a negative value; either way the caller calls acmeva_mpicjob_clear. */
int acmeva_mpicjob_read(acmeva_mpicjob *doc, const char *buf, size_t len);
void acmeva_mpicjob_clear(acmeva_mpicjob *doc);

/*
 * acmeva_mpicjob_subjob_body writes the body every sub-job of the job |doc| was read from
 * (|buf|) shares (DESIGN.md "Multi-perspective corroboration"): the job with "id" and "mpic"
 * left out, "replyTo" set to |reply_to| and "deadlineMs" to |deadline_ms| (where they stand, or
 * added at the end). The sub-job's own "id" goes in front (acmeva_mpicjob_subjob). Returns the
 * body (free()), or NULL on no memory or when |doc| is not an object.
 */
char *acmeva_mpicjob_subjob_body(const acmeva_mpicjob *doc, const char *buf, const char *reply_to,
                                 int64_t deadline_ms, size_t *len);

/* acmeva_mpicjob_subjob writes the sub-job of id |id| from |body| (|blen| bytes, as
 * acmeva_mpicjob_subjob_body made it) into a new buffer, NUL-terminated, |*len| bytes. The id
 * is of the job id alphabet ([A-Za-z0-9._:/-]), which needs no escaping. Returns NULL on no
 * memory. */
char *acmeva_mpicjob_subjob(const char *body, size_t blen, const char *id, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
