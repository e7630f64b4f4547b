/*
 * dns-persist-01 record judgement (draft-ietf-acme-dns-persist-02, BR 3.2.2.4.22): pure
 * functions, no I/O. The engine looks up TXT at _validation-persist.<domain>, joins the
 * strings of each record and judges each value here; any MATCH validates.
 *
 * The record is an RFC 8659 §4.2 issue-value (draft §4.1 item 1):
 *   <issuer-domain-name> ; accounturi=<uri> [; policy=wildcard] [; persistUntil=<seconds>]
 * with WSP (space, tab) allowed around ';' and '='. Rules, in the order they are applied:
 * - Issuer (draft §4.2, §4.3.2): the text before the first ';', WSP trimmed, one trailing dot
 *   removed and ASCII case folded (draft §9.2 normalization; no IDNA: a U-label never equals
 *   the CA's A-label names), is compared with the CA's issuer domain names, also without case
 *   or trailing dot. Records naming any other issuer are skipped (OTHER_ISSUER), whatever
 *   else they contain.
 * - Syntax, for records naming our issuer (MALFORMED, draft §9.3.1): the parameters must
 *   follow the RFC 8659 grammar (no ';' after the last one), tags are matched without case
 *   (RFC 8659 §4.1), a known tag (accounturi, policy, persistUntil) given twice is an error
 *   (draft §9.3.1 "duplicate parameters"), accounturi must be present, non-empty and at most
 *   ACMEVA_ACCOUNT_URI_MAX bytes (the longest account URI a job can carry), persistUntil must
 *   be a base-10 integer ([+-]digits, within int64; draft §4.1 item 5). Unknown tags are
 *   ignored (§4.1 item 1) however many there are, repeated or not, and whatever their length:
 *   they are skipped as they are read, so they cost their bytes (which DNS bounds) and
 *   nothing else, and a record that a later draft extends stays readable.
 * - Authorization (MISMATCH, unauthorized in draft §9.3.1): accounturi must equal the
 *   expected account URI byte for byte (draft §4.1: simple string comparison, no case
 *   folding); a wildcard identifier needs policy=wildcard, whose value is compared without
 *   case, any other policy value counting as absent (draft §4.1 item 4, §5); persistUntil T
 *   expires the record once now > T (draft §4.1 item 5; Boulder: validatedAt.After(T)).
 *
 * Account URI. draft-ietf-acme-dns-persist-02 replaced the plain account URL of -00/-01 with
 * a hashed URI, <accountHashPrefix>sha-256/<base64url(SHA-256(len(domain) || domain ||
 * thumbprint || account URL))>, computed by acmeva_persist_hashed_account_uri. The judge
 * compares with whatever expected URI it is given: the job's accountUri (as Boulder and
 * acmeva's validation rules do today), or a hashed URI the caller computed (the draft asks
 * for one with the FQDN and one with "*", per retained key; call the judge for each).
 */
#ifndef ACMEVA_DNSPERSIST_H
#define ACMEVA_DNSPERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "acmeva/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ACMEVA_PERSIST_MAX_ISSUER 253 /* draft §3.1: issuer domain names are <= 253 octets */

/* Errors returned by this module (all negative). */
enum {
    ACMEVA_PERSIST_EINVAL = -1,  /* bad argument (NULL pointer) */
    ACMEVA_PERSIST_ESYNTAX = -2, /* the record breaks the syntax rules at the top */
    ACMEVA_PERSIST_ENOSPC = -3,  /* the output buffer is too small */
};

/* A parsed record. Strings are NUL-terminated; |issuer| is normalized (lowercase, no
 * trailing dot); |account_uri| is as given. */
typedef struct acmeva_persist_value {
    char issuer[256];
    char account_uri[ACMEVA_ACCOUNT_URI_MAX + 1];
    int has_account_uri;
    int policy_wildcard; /* policy=wildcard (any case) was given */
    int has_persist_until;
    int64_t persist_until; /* unix seconds, valid when has_persist_until */
} acmeva_persist_value;

/*
 * acmeva_persist_parse parses the TXT value |txt| of |len| bytes (strings already joined; NUL
 * bytes are just invalid) into |out| under the syntax rules at the top of this file; the
 * issuer-domain-name must also be a valid LDH name of at most 253 characters. Returns 0, or
 * ACMEVA_PERSIST_ESYNTAX with a short NUL-terminated reason in |err| (|errlen| bytes, may be
 * NULL; record bytes in it are escaped), or ACMEVA_PERSIST_EINVAL. Nothing is retained.
 */
int acmeva_persist_parse(const char *txt, size_t len, acmeva_persist_value *out, char *err,
                         size_t errlen);

typedef enum {
    ACMEVA_PERSIST_MATCH,        /* the record validates this request */
    ACMEVA_PERSIST_OTHER_ISSUER, /* the record names another issuer (or none): skip it */
    ACMEVA_PERSIST_MALFORMED,    /* a record for our issuer with a syntax error */
    ACMEVA_PERSIST_MISMATCH,     /* ours, well-formed, but wrong account, no wildcard policy or
                                    expired */
} acmeva_persist_verdict;

/*
 * acmeva_persist_judge judges one TXT value |txt| (|len| bytes) for a request by the CA with
 * issuer domain names |issuers| (|n_issuers|, NULL entries skipped), for the account URI
 * |account_uri| (NULL: no record can match), for a wildcard identifier when |wildcard|, at
 * time |now_s| (unix seconds), under the rules at the top of this file. When |why| is not
 * NULL a short NUL-terminated text saying which rule decided is written to it (|why_len|
 * bytes, cut if longer; record bytes escaped). |txt| NULL with |len| > 0 is no record at all
 * and gives OTHER_ISSUER. Everything is borrowed.
 */
acmeva_persist_verdict acmeva_persist_judge(const char *txt, size_t len, const char *const *issuers,
                                            size_t n_issuers, const char *account_uri, int wildcard,
                                            int64_t now_s, char *why, size_t why_len);

/*
 * acmeva_persist_hashed_account_uri writes the draft-02 hashed account URI (draft §4.1 item 3)
 * to |out| (|outlen| bytes with the NUL): |prefix| (the CA's accountHashPrefix) + "sha-256/" +
 * base64url without padding of SHA-256(len || domain || thumbprint || account_url), where
 * |domain| is the FQDN being validated (lowercase A-label, no trailing dot) or "*" for the
 * domain-omitted form, len its length in one octet, and |thumbprint| the 43-character
 * base64url SHA-256 JWK thumbprint of an account key (RFC 7638). Returns 0,
 * ACMEVA_PERSIST_EINVAL (NULL argument, domain empty or longer than 255, thumbprint not 43
 * characters) or ACMEVA_PERSIST_ENOSPC (|out| then holds "").
 */
int acmeva_persist_hashed_account_uri(const char *prefix, const char *domain,
                                      const char *thumbprint, const char *account_url, char *out,
                                      size_t outlen);

#ifdef __cplusplus
}
#endif

#endif
