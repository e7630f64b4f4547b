/*
 * Fuzz target of the tls-alpn-01 certificate check (worker/certcheck.c): DER in, verdict out.
 *
 * Each input is used twice:
 *  1. as the certificate a server presented, checked for a DNS and an IP identifier;
 *  2. as a TBSCertificate, which this target signs with a fixed ECDSA P-256 key before the
 *     check, so that mutations get past the self-signed rule and reach the extension, SAN and
 *     acmeIdentifier rules (a mutated certificate almost never keeps a valid signature).
 * The check must never crash, leak or read out of bounds, must return one of its documented
 * codes, and must leave a NUL-terminated reason inside the buffer (empty exactly on success);
 * acmeva_cert_names must list the names of exactly the certificates that parse, escaped.
 *
 * Seeds (tests/fuzz/corpus/certcheck/): cert-* are whole certificates, tbs-* are TBSCertificates
 * whose public key is the fixed key (tc_key_from_seed(1)), for "example.com", 192.0.2.1 and
 * 2001:db8::1 with SHA-256("token.thumb"), valid and in every broken variant. They are made by
 * this file itself, compiled with -DCERTCHECK_SEEDGEN (see the main at the end):
 *   cc -DCERTCHECK_SEEDGEN -I worker tests/fuzz/fuzz_certcheck.c worker/certcheck.c <BoringSSL>
 *   ./a.out tests/fuzz/corpus/certcheck
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "../fixtures/testcerts.h"
#include "certcheck.h"

static const char kDns[] = "example.com";
static const uint8_t kIp4[4] = {192, 0, 2, 1};
static const uint8_t kIp6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const char kKeyAuthorization[] = "token.thumb";

static EVP_PKEY *fixed_key(void)
{
    static EVP_PKEY *key;
    if (key == NULL)
        key = tc_key_from_seed(1);
    return key;
}

static const uint8_t *fixed_digest(void)
{
    static uint8_t digest[32];
    static int done;
    if (!done) {
        SHA256((const uint8_t *)kKeyAuthorization, strlen(kKeyAuthorization), digest);
        done = 1;
    }
    return digest;
}

/* run_one checks |der| (with a large reason buffer, then with a tiny one when |tiny_too|) and
 * aborts when the contract is broken. Returns the verdict. */
static int run_one(const uint8_t *der, size_t len, int is_ip, const uint8_t *ip, size_t ip_len,
                   int tiny_too)
{
    char reason[2048];
    char tiny[7];
    memset(reason, 'X', sizeof(reason));
    int rc = acmeva_tlsalpn01_check_cert(der, len, is_ip, kDns, ip, ip_len, fixed_digest(), reason,
                                         sizeof(reason));
    if (rc != ACMEVA_CERT_OK && rc != ACMEVA_CERT_EREJECTED && rc != ACMEVA_CERT_EMALFORMED)
        abort();
    if (memchr(reason, '\0', sizeof(reason)) == NULL)
        abort();
    if ((rc == ACMEVA_CERT_OK) != (reason[0] == '\0'))
        abort();
    /* Problem details carry no raw control bytes from the certificate. */
    for (const char *p = reason; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            abort();
    /* The names a validation record lists: parsed from the same bytes, never a raw control
     * byte, listed exactly when the certificate parses. */
    acmeva_strlist names = {0};
    int nrc = acmeva_cert_names(der, len, &names);
    if (nrc != ACMEVA_CERT_OK && nrc != ACMEVA_CERT_EMALFORMED)
        abort();
    if ((nrc == ACMEVA_CERT_EMALFORMED) != (rc == ACMEVA_CERT_EMALFORMED) ||
        (nrc != ACMEVA_CERT_OK && names.n > 0))
        abort();
    for (size_t i = 0; i < names.n; i++)
        for (const char *p = names.v[i]; *p != '\0'; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
                abort();
    acmeva_strlist_clear(&names);
    if (!tiny_too)
        return rc;
    memset(tiny, 'X', sizeof(tiny));
    int rc2 = acmeva_tlsalpn01_check_cert(der, len, is_ip, kDns, ip, ip_len, fixed_digest(), tiny,
                                          sizeof(tiny));
    if (rc2 != rc || memchr(tiny, '\0', sizeof(tiny)) == NULL ||
        strncmp(tiny, reason, sizeof(tiny) - 1) != 0)
        abort();
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 1. The input as the presented certificate. */
    run_one(data, size, 0, NULL, 0, 1);
    run_one(data, size, 1, kIp4, sizeof(kIp4), 0);

    /* 2. The input as a TBSCertificate, signed here. */
    if (size > ACMEVA_CERT_MAX_DER || fixed_key() == NULL)
        return 0;
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    if (tc_sign_tbs(data, size, fixed_key(), &cert, &cert_len) != 0)
        return 0;
    run_one(cert, cert_len, 0, NULL, 0, 1);
    run_one(cert, cert_len, 1, kIp4, sizeof(kIp4), 0);
    run_one(cert, cert_len, 1, kIp6, sizeof(kIp6), 0);
    OPENSSL_free(cert);
    return 0;
}

#ifdef CERTCHECK_SEEDGEN
/* The seed generator: writes cert-<case> and tbs-<case> files into the directory argv[1]. */
#include <openssl/err.h>

static int write_file(const char *dir, const char *prefix, const char *name, const uint8_t *p,
                      size_t n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s-%s", dir, prefix, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    EVP_PKEY *other = tc_key_from_seed(2);
    struct {
        const char *name;
        int ident; /* 0 dns, 1 ipv4, 2 ipv6 */
        enum tc_acme acme;
        int variant;
    } cases[] = {
        {"valid-dns", 0, TC_ACME_GOOD, 0},        {"valid-ip4", 1, TC_ACME_GOOD, 0},
        {"valid-ip6", 2, TC_ACME_GOOD, 0},        {"challtestsrv", 0, TC_ACME_GOOD, 1},
        {"no-ext", 0, TC_ACME_ABSENT, 0},         {"noncritical", 0, TC_ACME_NONCRITICAL, 0},
        {"wrong-hash", 0, TC_ACME_WRONG_HASH, 0}, {"hash-trailing", 0, TC_ACME_TRAILING, 0},
        {"hash-short", 2, TC_ACME_SHORT, 0},      {"hash-not-octet", 1, TC_ACME_NOT_OCTET, 0},
        {"ext-twice", 0, TC_ACME_TWICE, 0},       {"san-twice", 0, TC_ACME_GOOD, 2},
        {"two-sans", 0, TC_ACME_GOOD, 3},         {"wrong-san", 0, TC_ACME_GOOD, 4},
        {"ip-san-for-dns", 0, TC_ACME_GOOD, 5},   {"other-issuer", 1, TC_ACME_GOOD, 6},
        {"subject-cn", 2, TC_ACME_GOOD, 7},       {"no-san", 0, TC_ACME_GOOD, 8},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tc_spec s;
        tc_spec_init(&s, fixed_key(), fixed_digest());
        s.acme = cases[i].acme;
        if (cases[i].ident == 0)
            tc_spec_add_dns(&s, kDns);
        else if (cases[i].ident == 1)
            tc_spec_add_ip(&s, kIp4, 4);
        else
            tc_spec_add_ip(&s, kIp6, 16);
        switch (cases[i].variant) {
        case 1:
            s.zero_time = 1;
            break;
        case 2:
            s.san_twice = 1;
            break;
        case 3:
            tc_spec_add_dns(&s, "extra.example");
            break;
        case 4:
            s.n_san = 0;
            tc_spec_add_dns(&s, "wrong.example");
            break;
        case 5:
            s.n_san = 0;
            tc_spec_add_ip(&s, kIp4, 4);
            break;
        case 6:
            s.signer = other;
            break;
        case 7:
            s.subject_cn = "Example.COM";
            s.extra_ext = 2;
            break;
        case 8:
            s.no_san = 1;
            break;
        default:
            break;
        }
        uint8_t *tbs = NULL, *cert = NULL;
        size_t tbs_len = 0, cert_len = 0;
        if (tc_tbs_der(&s, &tbs, &tbs_len) != 0 || tc_cert_der(&s, &cert, &cert_len) != 0 ||
            write_file(argv[1], "tbs", cases[i].name, tbs, tbs_len) != 0 ||
            write_file(argv[1], "cert", cases[i].name, cert, cert_len) != 0) {
            fprintf(stderr, "%s: failed\n", cases[i].name);
            return 1;
        }
        OPENSSL_free(tbs);
        OPENSSL_free(cert);
    }
    EVP_PKEY_free(other);
    EVP_PKEY_free(fixed_key());
    return 0;
}
#endif
