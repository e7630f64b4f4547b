/*
 * Names and values of the DNS challenges that hash account or key data: the dns-01 TXT value
 * (RFC 8555 §8.4, shared by dns-account-01) and the dns-account-01 validation domain name
 * (draft-ietf-acme-dns-account-label, BR 3.2.2.4.21). Pure functions, no I/O, no allocation.
 */
#ifndef ACMEVA_DNSACCOUNT_H
#define ACMEVA_DNSACCOUNT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACMEVA_DNS_ACCOUNT_LABEL_LEN 16 /* base32 of 10 bytes, no padding */
#define ACMEVA_DNS01_VALUE_LEN 43       /* base64url of 32 bytes, no padding */

/* Errors returned by this module (all negative). */
enum {
    ACMEVA_DNSACCT_EINVAL = -1, /* NULL or empty argument */
    ACMEVA_DNSACCT_ENOSPC = -2, /* the output buffer is too small */
};

/*
 * acmeva_dns_account_label writes the dns-account-01 account label of |account_uri| to |out|:
 * the lowercase base32 (RFC 4648 §6 alphabet, no padding) of the first 10 bytes of
 * SHA-256(account URI), 16 characters and a NUL (draft-ietf-acme-dns-account-label, validation
 * domain name: "_" || base32(SHA-256(<ACCOUNT_URL>)[0:10]) || "._acme-challenge"). The URI is
 * hashed as given, byte for byte. Returns 0, or ACMEVA_DNSACCT_EINVAL when |account_uri| is
 * NULL or empty or |out| is NULL.
 */
int acmeva_dns_account_label(const char *account_uri, char out[17]);

/*
 * acmeva_dns_account_name writes the dns-account-01 validation domain name
 * "_<label>._acme-challenge.<domain>" to |out| (|outlen| bytes with the NUL), where <domain>
 * is |domain| without a leading "*." (RFC 8555 §8.4 strips the wildcard the same way).
 * Returns 0, ACMEVA_DNSACCT_EINVAL for a NULL or empty argument (or a bare "*."), or
 * ACMEVA_DNSACCT_ENOSPC when the name does not fit (|out| then holds "").
 */
int acmeva_dns_account_name(const char *account_uri, const char *domain, char *out, size_t outlen);

/*
 * acmeva_dns01_value writes the expected dns-01 (and dns-account-01) TXT value for
 * |key_authorization| to |out|: the base64url encoding without padding of
 * SHA-256(keyAuthorization), 43 characters and a NUL (RFC 8555 §8.4). Returns 0, or
 * ACMEVA_DNSACCT_EINVAL when an argument is NULL.
 */
int acmeva_dns01_value(const char *key_authorization, char out[44]);

#ifdef __cplusplus
}
#endif

#endif
