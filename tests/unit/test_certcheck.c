/*
 * Unit tests of the tls-alpn-01 certificate check (worker/certcheck.c): every broken
 * certificate the tlsfix fixture serves, built with tests/fixtures/testcerts.h, checked for
 * the verdict and the exact reason text; the reverse names of RFC 8738 §6; a
 * pebble-challtestsrv style certificate; garbage and oversized DER.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/sha.h>

#include "../fixtures/testcerts.h"
#include "certcheck.h"
#include "check.h"

static EVP_PKEY *key, *other_key;
static uint8_t digest[32];
static char digest_hex[65];

static const char *kDns = "foo.example";
static uint8_t ip4[4], ip6[16];

enum ident { ID_DNS, ID_IP4, ID_IP6 };

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* A spec for a good certificate for |id|: SAN with the identifier, right acmeIdentifier. */
static void good_spec(struct tc_spec *s, enum ident id)
{
    tc_spec_init(s, key, digest);
    if (id == ID_DNS)
        tc_spec_add_dns(s, kDns);
    else if (id == ID_IP4)
        tc_spec_add_ip(s, ip4, 4);
    else
        tc_spec_add_ip(s, ip6, 16);
}

/* check builds |s|, runs the check for |id| and returns its code; the reason goes to |reason|. */
static int check(const struct tc_spec *s, enum ident id, char *reason, size_t reason_len)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (tc_cert_der(s, &der, &der_len) != 0) {
        fprintf(stderr, "building a test certificate failed\n");
        snprintf(reason, reason_len, "(no certificate)");
        return 99;
    }
    int rc = acmeva_tlsalpn01_check_cert(der, der_len, id != ID_DNS, kDns, id == ID_IP4 ? ip4 : ip6,
                                         id == ID_IP4 ? 4 : 16, digest, reason, reason_len);
    OPENSSL_free(der);
    return rc;
}

#define EXPECT(spec, id, want_rc, want_reason)                                                     \
    do {                                                                                           \
        char r_[1024];                                                                             \
        memset(r_, 'X', sizeof(r_));                                                               \
        CHECK_INT(check((spec), (id), r_, sizeof(r_)), (want_rc));                                 \
        CHECK_STR(r_, (want_reason));                                                              \
    } while (0)

static void test_digest_vector(void)
{
    /* challtestsrv.md test vector: SHA-256("token.thumb"). */
    CHECK_STR(digest_hex, "94275fb692425daa5a64790118865b72e6de296f11980d23486fda64dd35cdb5");
}

static void test_valid(void)
{
    struct tc_spec s;
    good_spec(&s, ID_DNS);
    EXPECT(&s, ID_DNS, ACMEVA_CERT_OK, "");
    good_spec(&s, ID_IP4);
    EXPECT(&s, ID_IP4, ACMEVA_CERT_OK, "");
    good_spec(&s, ID_IP6);
    EXPECT(&s, ID_IP6, ACMEVA_CERT_OK, "");

    /* A subject (and equal issuer), a dozen unrelated extensions: still fine (RFC 8737 §3
     * allows other extensions). */
    good_spec(&s, ID_DNS);
    s.subject_cn = "foo.example";
    s.extra_ext = 12;
    EXPECT(&s, ID_DNS, ACMEVA_CERT_OK, "");

    /* As many extensions as allowed. */
    good_spec(&s, ID_DNS);
    s.extra_ext = ACMEVA_CERT_MAX_EXTENSIONS - 2;
    EXPECT(&s, ID_DNS, ACMEVA_CERT_OK, "");
}

static void test_challtestsrv_style(void)
{
    /* Empty subject and issuer, critical SAN, year-0001 validity (challtestsrv.md). */
    struct tc_spec s;
    good_spec(&s, ID_DNS);
    s.zero_time = 1;
    EXPECT(&s, ID_DNS, ACMEVA_CERT_OK, "");

    /* The exact bytes of the acmeIdentifier extnValue of the doc's test vector. */
    uint8_t *der = NULL;
    size_t der_len = 0;
    CHECK(tc_cert_der(&s, &der, &der_len) == 0);
    static const uint8_t want_prefix[] = {0x04, 0x20, 0x94, 0x27, 0x5f, 0xb6};
    int found = 0;
    for (size_t i = 0; der != NULL && i + sizeof(want_prefix) <= der_len; i++)
        if (memcmp(der + i, want_prefix, sizeof(want_prefix)) == 0)
            found = 1;
    CHECK(found);
    OPENSSL_free(der);
}

static void test_extensions(void)
{
    struct tc_spec s;
    char want[256];

    good_spec(&s, ID_DNS);
    s.acme = TC_ACME_ABSENT;
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected extensions: "
           "\"Required extension OID 1.3.6.1.5.5.7.1.31 is not present\"");

    good_spec(&s, ID_DNS);
    s.no_san = 1;
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected extensions: "
           "\"Required extension OID 2.5.29.17 is not present\"");

    good_spec(&s, ID_DNS);
    s.acme = TC_ACME_TWICE;
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected extensions: "
           "\"Extension OID 1.3.6.1.5.5.7.1.31 seen twice\"");

    good_spec(&s, ID_DNS);
    s.san_twice = 1;
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected extensions: "
           "\"Extension OID 2.5.29.17 seen twice\"");

    good_spec(&s, ID_DNS);
    s.acme = TC_ACME_NONCRITICAL;
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED,
           "Received certificate with acmeValidationV1 extension that is not Critical.");

    good_spec(&s, ID_DNS);
    s.acme = TC_ACME_WRONG_HASH;
    uint8_t wrong[32];
    char wrong_hex[65];
    memcpy(wrong, digest, 32);
    wrong[0] ^= 0xff;
    hex(wrong, 32, wrong_hex);
    snprintf(want, sizeof(want),
             "Received certificate with acmeValidationV1 extension value %s but expected %s.",
             wrong_hex, digest_hex);
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED, want);

    static const enum tc_acme malformed[] = {TC_ACME_TRAILING, TC_ACME_SHORT, TC_ACME_NOT_OCTET};
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        good_spec(&s, ID_DNS);
        s.acme = malformed[i];
        EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED,
               "Received certificate with malformed acmeValidationV1 extension value.");
    }

    /* The same failures for an IP identifier. */
    good_spec(&s, ID_IP6);
    s.acme = TC_ACME_TRAILING;
    EXPECT(&s, ID_IP6, ACMEVA_CERT_EREJECTED,
           "Received certificate with malformed acmeValidationV1 extension value.");
    good_spec(&s, ID_IP4);
    s.acme = TC_ACME_ABSENT;
    EXPECT(&s, ID_IP4, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected extensions: "
           "\"Required extension OID 1.3.6.1.5.5.7.1.31 is not present\"");

    /* One extension more than the cap: refused unparsed. */
    good_spec(&s, ID_DNS);
    s.extra_ext = ACMEVA_CERT_MAX_EXTENSIONS - 1;
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EMALFORMED,
           "Received certificate that could not be parsed (too many extensions).");
}

static void test_san(void)
{
    struct tc_spec s;

    /* two-sans */
    good_spec(&s, ID_DNS);
    tc_spec_add_dns(&s, "extra.example");
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected identifiers (\"extra.example, foo.example\"): "
           "\"wrong number of identifiers\"");

    /* wrong-san */
    tc_spec_init(&s, key, digest);
    tc_spec_add_dns(&s, "bar.example");
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected identifiers (\"bar.example\"): "
           "\"identifier does not match expected identifier\"");

    /* Case: Boulder compares case-insensitively first, then the extension's exact bytes. */
    tc_spec_init(&s, key, digest);
    tc_spec_add_dns(&s, "FOO.Example");
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected identifiers (\"foo.example\"): "
           "\"SAN extension does not match expected bytes\"");

    /* ip-san-for-dns */
    tc_spec_init(&s, key, digest);
    tc_spec_add_ip(&s, ip4, 4);
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected identifiers (\"192.0.2.1\"): "
           "\"wrong number of identifiers\"");

    /* A dNSName (the reverse name, as challtestsrv would serve it) for an IP identifier. */
    tc_spec_init(&s, key, digest);
    tc_spec_add_dns(&s, "1.2.0.192.in-addr.arpa");
    EXPECT(&s, ID_IP4, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected identifiers (\"1.2.0.192.in-addr.arpa\"): "
           "\"wrong number of identifiers\"");

    /* Both the IP and a DNS name for an IP identifier. */
    good_spec(&s, ID_IP6);
    tc_spec_add_dns(&s, "foo.example");
    EXPECT(&s, ID_IP6, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected identifiers (\"2001:db8::1, foo.example\"): "
           "\"wrong number of identifiers\"");

    /* Two IPs. */
    good_spec(&s, ID_IP4);
    tc_spec_add_ip_text(&s, "198.51.100.7");
    EXPECT(&s, ID_IP4, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected identifiers (\"192.0.2.1, 198.51.100.7\"): "
           "\"wrong number of identifiers\"");

    /* Wrong IP. */
    tc_spec_init(&s, key, digest);
    tc_spec_add_ip_text(&s, "192.0.2.2");
    EXPECT(&s, ID_IP4, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected identifiers (\"192.0.2.2\"): "
           "\"identifier does not match expected identifier\"");
    tc_spec_init(&s, key, digest);
    tc_spec_add_ip_text(&s, "2001:db8:0:0:1::2");
    EXPECT(&s, ID_IP6, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected identifiers (\"2001:db8::1:0:0:2\"): "
           "\"identifier does not match expected identifier\"");

    /* The IPv4-mapped form of the IPv4 identifier: equal as an address, not as bytes. */
    tc_spec_init(&s, key, digest);
    tc_spec_add_ip_text(&s, "::ffff:192.0.2.1");
    EXPECT(&s, ID_IP4, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected identifiers (\"192.0.2.1\"): "
           "\"SAN extension does not match expected bytes\"");

    /* The IPv4 SAN for the IPv6 identifier. */
    good_spec(&s, ID_IP4);
    EXPECT(&s, ID_IP6, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected identifiers (\"192.0.2.1\"): "
           "\"identifier does not match expected identifier\"");

    /* An empty SAN. */
    tc_spec_init(&s, key, digest);
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected identifiers (\"\"): "
           "\"wrong number of identifiers\"");

    /* The subject's CN is listed too; names are lowercased, unique and sorted. */
    tc_spec_init(&s, key, digest);
    s.subject_cn = "Zed.Example";
    tc_spec_add_dns(&s, "b.example");
    tc_spec_add_dns(&s, "A.example");
    tc_spec_add_dns(&s, "a.example");
    tc_spec_add_dns(&s, "zed.example");
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected identifiers "
           "(\"a.example, b.example, zed.example\"): \"wrong number of identifiers\"");

    /* Server-chosen bytes are escaped (acmeva_escape: printable UTF-8 kept, controls not). */
    tc_spec_init(&s, key, digest);
    tc_spec_add_dns(&s, "x\"y\\z\n\x01\xc3\xa9.example");
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected identifiers "
           "(\"x\\\"y\\\\z\\n\\x01\xc3\xa9.example\"): "
           "\"identifier does not match expected identifier\"");

    /* A malformed iPAddress entry (5 bytes): not a certificate Go or we parse. */
    tc_spec_init(&s, key, digest);
    uint8_t five[5] = {192, 0, 2, 1, 0};
    tc_spec_add_ip(&s, five, 5);
    EXPECT(&s, ID_IP4, ACMEVA_CERT_EMALFORMED,
           "Received certificate that could not be parsed "
           "(subjectAltName iPAddress is neither 4 nor 16 bytes).");
}

/* acmeva_cert_names: what a validation record shows of the certificate a server presented. */
static void test_cert_names(void)
{
    struct tc_spec s;
    tc_spec_init(&s, key, digest);
    s.subject_cn = "Zed.Example";
    tc_spec_add_dns(&s, "b.example");
    tc_spec_add_dns(&s, "A.example");
    tc_spec_add_dns(&s, "a.example");
    tc_spec_add_dns(&s, "x\"y\n.example");
    tc_spec_add_ip(&s, ip4, 4);
    uint8_t *der = NULL;
    size_t der_len = 0;
    CHECK(tc_cert_der(&s, &der, &der_len) == 0);
    acmeva_strlist names = {0};
    CHECK_INT(acmeva_cert_names(der, der_len, &names), ACMEVA_CERT_OK);
    CHECK_INT(names.n, 5);
    if (names.n == 5) {
        CHECK_STR(names.v[0], "192.0.2.1");
        CHECK_STR(names.v[1], "a.example");
        CHECK_STR(names.v[2], "b.example");
        CHECK_STR(names.v[3], "x\\\"y\\n.example"); /* escaped */
        CHECK_STR(names.v[4], "zed.example");
    }
    acmeva_strlist_clear(&names);
    /* Not a certificate: nothing listed. */
    CHECK_INT(acmeva_cert_names(der, der_len - 1, &names), ACMEVA_CERT_EMALFORMED);
    CHECK_INT(names.n, 0);
    CHECK_INT(acmeva_cert_names(der, ACMEVA_CERT_MAX_DER + 1, &names), ACMEVA_CERT_EMALFORMED);
    CHECK_INT(acmeva_cert_names(NULL, 1, &names), ACMEVA_CERT_EINVAL);
    CHECK_INT(acmeva_cert_names(der, der_len, NULL), ACMEVA_CERT_EINVAL);
    OPENSSL_free(der);
}

static void test_names_cap(void)
{
    /* Many long SAN names: the reason stays bounded and the list ends with "...". */
    static char names[TC_MAX_SAN][200];
    struct tc_spec s;
    tc_spec_init(&s, key, digest);
    for (int i = 0; i < TC_MAX_SAN; i++) {
        memset(names[i], '\x7f', sizeof(names[i]) - 1);
        names[i][0] = (char)('a' + i);
        names[i][sizeof(names[i]) - 1] = '\0';
        tc_spec_add_dns(&s, names[i]);
    }
    char r[4096];
    CHECK_INT(check(&s, ID_DNS, r, sizeof(r)), ACMEVA_CERT_EREJECTED);
    CHECK(strlen(r) < ACMEVA_CERT_REASON_MAX);
    CHECK(strstr(r, "...\"): \"wrong number of identifiers\"") != NULL);
}

static void test_self_signed(void)
{
    struct tc_spec s;
    /* other-issuer: a certificate a CA issued (issuer name not the subject name), whether the
     * CA's key or the certificate's own signed it. */
    good_spec(&s, ID_DNS);
    s.subject_cn = "foo.example";
    s.issuer_cn = "Some CA";
    s.signer = other_key;
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED, "Received certificate which is not self-signed.");
    good_spec(&s, ID_IP4);
    s.issuer_cn = "Some CA";
    s.signer = other_key;
    EXPECT(&s, ID_IP4, ACMEVA_CERT_EREJECTED, "Received certificate which is not self-signed.");
    good_spec(&s, ID_DNS);
    s.subject_cn = "foo.example";
    s.issuer_cn = "Some CA";
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED, "Received certificate which is not self-signed.");

    /* Self-signed comes first, as in Boulder: a broken certificate a CA issued. */
    good_spec(&s, ID_DNS);
    s.issuer_cn = "Some CA";
    s.acme = TC_ACME_ABSENT;
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED, "Received certificate which is not self-signed.");

    /* Issuer equals subject but another key signed it: the signature is not verified (RFC
     * 8737 §3 does not ask for it; the handshake proves the server holds the certificate's
     * key, certcheck.c self_signed), so every other rule decides. */
    good_spec(&s, ID_DNS);
    s.signer = other_key;
    EXPECT(&s, ID_DNS, ACMEVA_CERT_OK, "");
    good_spec(&s, ID_DNS);
    s.signer = other_key;
    s.acme = TC_ACME_NONCRITICAL;
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED,
           "Received certificate with acmeValidationV1 extension that is not Critical.");
    good_spec(&s, ID_DNS);
    s.signer = other_key;
    s.acme = TC_ACME_ABSENT;
    EXPECT(&s, ID_DNS, ACMEVA_CERT_EREJECTED,
           "Received certificate with unexpected extensions: "
           "\"Required extension OID 1.3.6.1.5.5.7.1.31 is not present\"");
}

static void test_malformed(void)
{
    char r[512];
    static const uint8_t garbage[] = "hello, this is not a certificate";
    CHECK_INT(acmeva_tlsalpn01_check_cert(garbage, sizeof(garbage), 0, kDns, NULL, 0, digest, r,
                                          sizeof(r)),
              ACMEVA_CERT_EMALFORMED);
    CHECK_STR(r, "Received certificate that could not be parsed (not a DER SEQUENCE).");

    CHECK_INT(acmeva_tlsalpn01_check_cert(garbage, 0, 0, kDns, NULL, 0, digest, r, sizeof(r)),
              ACMEVA_CERT_EMALFORMED);

    /* Over the cap: refused before any parsing. */
    uint8_t *big = calloc(1, ACMEVA_CERT_MAX_DER + 1);
    CHECK(big != NULL);
    CHECK_INT(acmeva_tlsalpn01_check_cert(big, ACMEVA_CERT_MAX_DER + 1, 0, kDns, NULL, 0, digest, r,
                                          sizeof(r)),
              ACMEVA_CERT_EMALFORMED);
    CHECK_STR(r, "Received certificate of 16385 bytes, more than the 16384 allowed.");
    free(big);

    /* A real, valid-looking certificate just over the cap is refused the same way; one just
     * under it is checked normally. */
    struct tc_spec s;
    good_spec(&s, ID_DNS);
    s.pad_len = ACMEVA_CERT_MAX_DER;
    CHECK_INT(check(&s, ID_DNS, r, sizeof(r)), ACMEVA_CERT_EMALFORMED);
    good_spec(&s, ID_DNS);
    s.pad_len = ACMEVA_CERT_MAX_DER - 1024;
    CHECK_INT(check(&s, ID_DNS, r, sizeof(r)), ACMEVA_CERT_OK);

    /* Every truncation of a good certificate is malformed; trailing bytes too. */
    uint8_t *der = NULL;
    size_t der_len = 0;
    good_spec(&s, ID_DNS);
    CHECK(tc_cert_der(&s, &der, &der_len) == 0);
    int all_malformed = 1;
    for (size_t n = 0; n < der_len; n++) {
        uint8_t *copy = malloc(n + 1); /* exact-size copies let ASan catch any over-read */
        memcpy(copy, der, n);
        if (acmeva_tlsalpn01_check_cert(copy, n, 0, kDns, NULL, 0, digest, r, sizeof(r)) !=
            ACMEVA_CERT_EMALFORMED)
            all_malformed = 0;
        free(copy);
    }
    CHECK(all_malformed);
    uint8_t *longer = malloc(der_len + 1);
    memcpy(longer, der, der_len);
    longer[der_len] = 0;
    CHECK_INT(
        acmeva_tlsalpn01_check_cert(longer, der_len + 1, 0, kDns, NULL, 0, digest, r, sizeof(r)),
        ACMEVA_CERT_EMALFORMED);
    CHECK_STR(r, "Received certificate that could not be parsed (not a DER SEQUENCE).");
    free(longer);

    /* No single flipped bit in the bytes the rules read passes: from the first of the two
     * extensions (subjectAltName, acmeIdentifier: OIDs, critical flag, lengths, values) to the
     * end of the last. Bits elsewhere (serial, validity, key, signature) are not checked by
     * the rules (RFC 8737 §3), and a changed key or signature fails the handshake instead. */
    static const uint8_t san_oid[] = {0x06, 0x03, 0x55, 0x1d, 0x11};
    static const uint8_t acme_oid[] = {0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f};
    const uint8_t *p_san = memmem(der, der_len, san_oid, sizeof(san_oid));
    const uint8_t *p_acme = memmem(der, der_len, acme_oid, sizeof(acme_oid));
    const uint8_t *p_digest = memmem(der, der_len, digest, 32);
    const uint8_t *p_name = memmem(der, der_len, kDns, strlen(kDns));
    CHECK(p_san != NULL && p_acme != NULL && p_digest != NULL && p_name != NULL);
    size_t from = 0, to = 0;
    if (p_san != NULL && p_acme != NULL && p_digest != NULL && p_name != NULL) {
        /* From the SEQUENCE header of the first extension (2 bytes: short lengths here). */
        from = (size_t)((p_san < p_acme ? p_san : p_acme) - der) - 2;
        const uint8_t *end_digest = p_digest + 32, *end_name = p_name + strlen(kDns);
        to = (size_t)((end_digest > end_name ? end_digest : end_name) - der);
    }
    CHECK(to > from + 40);
    int any_ok = 0;
    for (size_t i = from; i < to; i++) {
        for (int bit = 0; bit < 8; bit++) {
            der[i] ^= (uint8_t)(1u << bit);
            if (acmeva_tlsalpn01_check_cert(der, der_len, 0, kDns, NULL, 0, digest, r, sizeof(r)) ==
                ACMEVA_CERT_OK)
                any_ok = 1;
            der[i] ^= (uint8_t)(1u << bit);
        }
    }
    CHECK(!any_ok);
    CHECK_INT(acmeva_tlsalpn01_check_cert(der, der_len, 0, kDns, NULL, 0, digest, r, sizeof(r)),
              ACMEVA_CERT_OK);
    OPENSSL_free(der);
}

static void test_arguments_and_buffers(void)
{
    struct tc_spec s;
    uint8_t *der = NULL;
    size_t der_len = 0;
    char r[16];
    good_spec(&s, ID_DNS);
    s.acme = TC_ACME_NONCRITICAL;
    CHECK(tc_cert_der(&s, &der, &der_len) == 0);

    /* A short reason buffer: cut, NUL-terminated, no overflow (ASan watches). */
    char *tiny = malloc(10);
    CHECK_INT(acmeva_tlsalpn01_check_cert(der, der_len, 0, kDns, NULL, 0, digest, tiny, 10),
              ACMEVA_CERT_EREJECTED);
    CHECK_STR(tiny, "Received ");
    free(tiny);
    /* No reason buffer at all. */
    CHECK_INT(acmeva_tlsalpn01_check_cert(der, der_len, 0, kDns, NULL, 0, digest, NULL, 0),
              ACMEVA_CERT_EREJECTED);
    /* Bad arguments. */
    CHECK_INT(acmeva_tlsalpn01_check_cert(der, der_len, 1, NULL, ip4, 5, digest, r, sizeof(r)),
              ACMEVA_CERT_EINVAL);
    CHECK_INT(acmeva_tlsalpn01_check_cert(der, der_len, 0, NULL, NULL, 0, digest, r, sizeof(r)),
              ACMEVA_CERT_EINVAL);
    CHECK_INT(acmeva_tlsalpn01_check_cert(der, der_len, 0, kDns, NULL, 0, NULL, r, sizeof(r)),
              ACMEVA_CERT_EINVAL);
    CHECK_INT(acmeva_tlsalpn01_check_cert(NULL, 3, 0, kDns, NULL, 0, digest, r, sizeof(r)),
              ACMEVA_CERT_EINVAL);
    OPENSSL_free(der);

    /* The check leaves nothing on the BoringSSL error queue, where a later TLS call on the
     * same thread would find it. */
    good_spec(&s, ID_DNS);
    s.issuer_cn = "Some CA";
    CHECK_INT(check(&s, ID_DNS, r, sizeof(r)), ACMEVA_CERT_EREJECTED);
    CHECK_INT(ERR_peek_error(), 0);
}

static void test_reverse_names(void)
{
    char out[ACMEVA_REVERSE_NAME_MAX];
    uint8_t a[16];

    inet_pton(AF_INET, "1.2.3.4", a);
    CHECK_INT(acmeva_tlsalpn01_reverse_name(AF_INET, a, out, sizeof(out)), 0);
    CHECK_STR(out, "4.3.2.1.in-addr.arpa");
    inet_pton(AF_INET, "192.0.2.254", a);
    CHECK_INT(acmeva_tlsalpn01_reverse_name(AF_INET, a, out, sizeof(out)), 0);
    CHECK_STR(out, "254.2.0.192.in-addr.arpa");

    inet_pton(AF_INET6, "2001:db8::1", a);
    CHECK_INT(acmeva_tlsalpn01_reverse_name(AF_INET6, a, out, sizeof(out)), 0);
    CHECK_STR(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    CHECK_INT(strlen(out), ACMEVA_REVERSE_NAME_MAX - 1);

    /* Too small buffers and unknown families fail cleanly. */
    CHECK_INT(acmeva_tlsalpn01_reverse_name(AF_INET6, a, out, ACMEVA_REVERSE_NAME_MAX - 1), -1);
    inet_pton(AF_INET, "255.255.255.255", a);
    CHECK_INT(acmeva_tlsalpn01_reverse_name(AF_INET, a, out, 29), 0);
    CHECK_STR(out, "255.255.255.255.in-addr.arpa");
    CHECK_INT(acmeva_tlsalpn01_reverse_name(AF_INET, a, out, 28), -1);
    CHECK_STR(out, "");
    CHECK_INT(acmeva_tlsalpn01_reverse_name(AF_UNIX, a, out, sizeof(out)), -1);
    CHECK_INT(acmeva_tlsalpn01_reverse_name(AF_INET, NULL, out, sizeof(out)), -1);
}

int main(void)
{
    static const char ka[] = "token.thumb";
    SHA256((const uint8_t *)ka, strlen(ka), digest);
    hex(digest, 32, digest_hex);
    inet_pton(AF_INET, "192.0.2.1", ip4);
    inet_pton(AF_INET6, "2001:db8::1", ip6);
    key = tc_key_from_seed(1);
    other_key = tc_key_from_seed(2);
    CHECK(key != NULL && other_key != NULL);
    if (key == NULL || other_key == NULL)
        return CHECK_DONE();

    test_digest_vector();
    test_valid();
    test_challtestsrv_style();
    test_extensions();
    test_san();
    test_names_cap();
    test_cert_names();
    test_self_signed();
    test_malformed();
    test_arguments_and_buffers();
    test_reverse_names();

    EVP_PKEY_free(key);
    EVP_PKEY_free(other_key);
    return CHECK_DONE();
}
