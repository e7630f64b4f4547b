/*
 * The CAA decision (RFC 8659, RFC 8657, BR 3.2.2.8): pure functions, no I/O, no allocation.
 * The engine looks up CAA at the name and its parents, picks the relevant record set (the
 * closest non-empty one, RFC 8659 §3) and asks acmeva_caa_permits whether it lets this CA
 * issue. Where Boulder (va/caa.go) is stricter than the RFCs, this module follows Boulder.
 *
 * Decision rules (acmeva_caa_permits):
 * - An empty set permits: the name has no CAA policy (RFC 8659 §3).
 * - Property tags match case-insensitively (RFC 8659 §4.1). iodef (§4.4), issuemail
 *   (RFC 9495), issuevmc (Mark Certificate requirements), contactemail and contactphone (BR
 *   Appendix A) are understood and ignored. Any other tag is unknown: ignored unless flagged
 *   critical, and a critical unknown tag forbids issuance (RFC 8659 §4.1). The critical flag
 *   is bit 128; like Boulder, bit 1 is taken as an alias, since many zone operators set it
 *   meaning "critical".
 * - For a wildcard identifier the issuewild records are used if there is at least one, else
 *   the issue records; for other identifiers only issue records (RFC 8659 §4.3). No relevant
 *   record: issuance is permitted.
 * - Issuance is permitted when ANY relevant record permits (RFC 8659 §4.2: authorizations
 *   are additive). A record permits when all of these hold:
 *   - its value parses (RFC 8659 §4.2 grammar; a value that does not parse is treated like an
 *     empty issuer-domain-name, i.e. it permits no one);
 *   - its issuer-domain-name equals one of the CA's issuer domains without regard to ASCII
 *     case: it is a DNS name (RFC 8659 §4.2), and DNS names compare case-insensitively
 *     (RFC 4343 §3), so "CA.Example" names "ca.example" whichever side has the capitals, as
 *     dns-persist-01 issuer names do. An empty issuer-domain-name (";") permits no one;
 *   - no parameter tag appears twice (compared case-insensitively). RFC 8657 §3 makes a
 *     record with two accounturi parameters unsatisfiable and Boulder fails repeated
 *     validationmethods too; acmeva fails the record on any repeated parameter;
 *   - accounturi (RFC 8657 §3), when present, equals the job's account URI exactly (simple
 *     string comparison, no normalization). With no account URI in the job it cannot match;
 *   - validationmethods (RFC 8657 §4), when present, is a well-formed comma list of labels
 *     1*(ALPHA / DIGIT / "-") (an empty or malformed list fails the record, as in Boulder)
 *     that contains the request's method exactly: the job's challenge type, or for a CAA-only
 *     job the method that validated the authorization it rechecks (the job's caa.method).
 *     Without a method (NULL) no validationmethods list can be satisfied (RFC 8657 §4: an
 *     unknown method is not a listed one), which is what Boulder did when it ran CAA without
 *     a method (the record is skipped) and the only reading that never lets a restricted
 *     method through; acmeva_caa_decide then notes ACMEVA_CAA_WANTS_METHOD.
 *   Parameter tags are matched case-insensitively: RFC 8659 leaves parameter semantics to the
 *   issuer, and honouring "AccountURI=" as a restriction is the safe reading (Boulder only
 *   sees lowercase tags and would ignore it). Unknown parameters are ignored.
 */
#ifndef ACMEVA_CAAPOLICY_H
#define ACMEVA_CAAPOLICY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACMEVA_CAA_FLAG_CRITICAL 0x80       /* RFC 8659 §4.1, "Issuer Critical Flag" */
#define ACMEVA_CAA_FLAG_CRITICAL_ALIAS 0x01 /* bit 1, taken as critical too (Boulder) */
#define ACMEVA_CAA_MAX_ISSUER 255           /* characters of an issuer-domain-name */
#define ACMEVA_CAA_MAX_PARAMS 16            /* parameters of one value; more is a parse error */
#define ACMEVA_CAA_MAX_PARAM_TAG 63         /* characters of a parameter tag */
#define ACMEVA_CAA_MAX_PARAM_VALUE 1023     /* characters of a parameter value */

/* Errors returned by this module (all negative). */
enum {
    ACMEVA_CAA_EINVAL = -1,  /* bad argument (NULL pointer) */
    ACMEVA_CAA_ESYNTAX = -2, /* the value does not match the RFC 8659 §4.2 grammar */
    ACMEVA_CAA_ELIMIT = -3,  /* the value is longer or has more parameters than the caps above */
};

/* One CAA record of the relevant set, as read from the wire (RFC 8659 §4.1). Borrowed. */
typedef struct acmeva_caa_record {
    uint8_t flags;
    const char *tag; /* tag_len bytes, not necessarily NUL-terminated */
    size_t tag_len;
    const uint8_t *value; /* value_len bytes */
    size_t value_len;
} acmeva_caa_record;

/* What the decision needs to know about the job. Borrowed. */
typedef struct acmeva_caa_request {
    const char *const *issuer_domains; /* the CA's issuer domain names (NULL entries skipped) */
    size_t n_issuer_domains;
    int wildcard;            /* the identifier was "*.name" */
    const char *account_uri; /* the job's account URI, NULL when absent */
    const char *method; /* the validation method ("http-01", ...); NULL when the job names none */
} acmeva_caa_request;

/*
 * acmeva_caa_permits decides whether the relevant record set |recs| (|n| records, the closest
 * non-empty set, already chosen by the caller) lets this CA issue for the request |req|,
 * under the rules at the top of this file. Returns 1 when issuance is permitted, 0 when it is
 * forbidden; bad arguments (|req| NULL, |recs| NULL with |n| > 0) forbid. When |reason| is
 * not NULL, a short NUL-terminated text for logs is written to it (at most |reason_len|
 * bytes, cut if longer); record bytes in it are escaped. Everything is borrowed.
 */
int acmeva_caa_permits(const acmeva_caa_record *recs, size_t n, const acmeva_caa_request *req,
                       char *reason, size_t reason_len);

/* A note of acmeva_caa_decide: issuance was forbidden, and a relevant record naming this CA
 * failed only because the request has no method; with the method known, its validationmethods
 * would have decided (RFC 8657 §4). */
#define ACMEVA_CAA_WANTS_METHOD 1u

/*
 * acmeva_caa_decide is acmeva_caa_permits that also sets |*notes| (when not NULL) to the
 * ACMEVA_CAA_* notes that apply (0 when none), so that a problem detail can say what the job
 * could have given.
 */
int acmeva_caa_decide(const acmeva_caa_record *recs, size_t n, const acmeva_caa_request *req,
                      char *reason, size_t reason_len, unsigned *notes);

/* One parameter of an issue/issuewild value, NUL-terminated, case as given. */
typedef struct acmeva_caa_param {
    char tag[ACMEVA_CAA_MAX_PARAM_TAG + 1];
    char value[ACMEVA_CAA_MAX_PARAM_VALUE + 1];
} acmeva_caa_param;

/* A parsed issue/issuewild value. |issuer| is "" for an empty issuer-domain-name. */
typedef struct acmeva_caa_value {
    char issuer[ACMEVA_CAA_MAX_ISSUER + 1];
    acmeva_caa_param params[ACMEVA_CAA_MAX_PARAMS];
    size_t n_params;
} acmeva_caa_value;

/*
 * acmeva_caa_value_parse parses the issue/issuewild value |value| of |len| bytes into |out|
 * under the RFC 8659 §4.2 grammar (errata 7139):
 *
 *   issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]
 *   issuer-domain-name = label *("." label)
 *   label = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))
 *   parameters = (parameter *WSP ";" *WSP parameters) / parameter
 *   parameter = parameter-tag *WSP "=" *WSP parameter-value
 *   parameter-tag = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))
 *   parameter-value = *(%x21-3A / %x3C-7E)
 *
 * so "", ";" and "; accounturi=x" parse with an empty issuer, a ';' after the last parameter
 * does not parse, and parameters are kept in order, duplicates included (the decision judges
 * them). Returns 0, ACMEVA_CAA_ESYNTAX, ACMEVA_CAA_ELIMIT (a cap of this header exceeded) or
 * ACMEVA_CAA_EINVAL; |out| is unspecified after an error. Nothing is retained.
 */
int acmeva_caa_value_parse(const uint8_t *value, size_t len, acmeva_caa_value *out);

/*
 * acmeva_caa_value_parse_err is acmeva_caa_value_parse that also writes, on error, a short
 * NUL-terminated text saying what is wrong (and in which parameter) into |err| (|errlen| bytes,
 * may be NULL).
 */
int acmeva_caa_value_parse_err(const uint8_t *value, size_t len, acmeva_caa_value *out, char *err,
                               size_t errlen);

/* One parameter as it stands in a value: borrowed spans of the input, not NUL-terminated. */
typedef struct acmeva_caa_param_span {
    const char *tag;
    size_t tag_len;
    const char *value;
    size_t value_len;
} acmeva_caa_param_span;

/* A reader of the parameters of a value, one at a time, with no cap on their number or
 * length: the caller keeps what it needs. Fields are private. */
typedef struct acmeva_caa_params {
    const uint8_t *v;
    size_t len, pos;
    size_t n; /* parameters read so far */
    int done;
} acmeva_caa_params;

/*
 * acmeva_caa_params_init starts reading the parameters of the |len| bytes at |v|: what follows
 * the ';' after the issuer-domain-name (RFC 8659 §4.2 grammar above, "*WSP [parameters *WSP]").
 * Borrowed: |v| must outlive the reader.
 */
void acmeva_caa_params_init(acmeva_caa_params *it, const uint8_t *v, size_t len);

/*
 * acmeva_caa_params_next reads the next parameter into |p| (spans of the input). Returns 1 for
 * a parameter, 0 after the last one, or ACMEVA_CAA_ESYNTAX with a short NUL-terminated text in
 * |err| (|errlen| bytes, may be NULL) saying what is wrong and in which parameter; after an
 * error the reader is not to be called again. Each call costs the parameter's length.
 */
int acmeva_caa_params_next(acmeva_caa_params *it, acmeva_caa_param_span *p, char *err,
                           size_t errlen);

/* acmeva_caa_issuer_domain_ok returns 1 when |s| (|n| bytes) is an issuer-domain-name of
 * RFC 8659 §4.2 (LDH labels joined by single dots, no trailing dot), else 0. dns-persist-01
 * names issuers with the same grammar. */
int acmeva_caa_issuer_domain_ok(const uint8_t *s, size_t n);

#ifdef __cplusplus
}
#endif

#endif
