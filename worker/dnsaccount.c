/*
 * dns-01 TXT values (RFC 8555 §8.4) and dns-account-01 validation domain names
 * (draft-ietf-acme-dns-account-label, BR 3.2.2.4.21).
 */
#include "dnsaccount.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/base64.h>
#include <openssl/sha.h>

int acmeva_dns_account_label(const char *account_uri, char out[17])
{
    if (account_uri == NULL || account_uri[0] == '\0' || out == NULL)
        return ACMEVA_DNSACCT_EINVAL;
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256((const uint8_t *)account_uri, strlen(account_uri), digest);

    /* RFC 4648 §6: 10 bytes are 80 bits, exactly 16 groups of 5 bits, so no padding. The
     * alphabet is lowercased, as Boulder does: DNS names compare case-insensitively, and one
     * spelling keeps names in records and logs comparable. */
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < 10; i++) {
        acc = (acc << 8) | digest[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = alphabet[(acc >> bits) & 0x1f];
        }
    }
    out[o] = '\0';
    return 0;
}

int acmeva_dns_account_name(const char *account_uri, const char *domain, char *out, size_t outlen)
{
    if (out != NULL && outlen > 0)
        out[0] = '\0';
    if (domain == NULL || out == NULL || outlen == 0)
        return ACMEVA_DNSACCT_EINVAL;
    if (domain[0] == '*' && domain[1] == '.')
        domain += 2;
    if (domain[0] == '\0')
        return ACMEVA_DNSACCT_EINVAL;
    char label[ACMEVA_DNS_ACCOUNT_LABEL_LEN + 1];
    int rc = acmeva_dns_account_label(account_uri, label);
    if (rc != 0)
        return rc;
    int n = snprintf(out, outlen, "_%s._acme-challenge.%s", label, domain);
    if (n < 0 || (size_t)n >= outlen) {
        out[0] = '\0';
        return ACMEVA_DNSACCT_ENOSPC;
    }
    return 0;
}

int acmeva_dns01_value(const char *key_authorization, char out[44])
{
    if (key_authorization == NULL || out == NULL)
        return ACMEVA_DNSACCT_EINVAL;
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256((const uint8_t *)key_authorization, strlen(key_authorization), digest);

    /* Standard base64 of 32 bytes is 44 characters ending in one '='; base64url (RFC 4648
     * §5) swaps two characters and RFC 8555 §8.4 drops the padding. */
    uint8_t b64[45];
    EVP_EncodeBlock(b64, digest, sizeof(digest));
    for (size_t i = 0; i < ACMEVA_DNS01_VALUE_LEN; i++) {
        char c = (char)b64[i];
        out[i] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out[ACMEVA_DNS01_VALUE_LEN] = '\0';
    return 0;
}
