/*
 * Unit tests of the wire codec (proto/): every job rule accepted and refused with the field
 * named, the result writer read back with jansson, the result checker, and every document in
 * proto/examples/ (found through ACMEVA_SOURCE_DIR).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "acmeva/proto.h"
#include "acmeva/version.h"
#include "check.h"

#define TOK "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
#define THUMB "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define KA TOK "." THUMB
#define ACCT "https://ca.example/acme/acct/1"
#define DNS_IDENT "{\"type\":\"dns\",\"value\":\"example.com\"}"
#define HTTP01                                                                                     \
    ",\"challenge\":{\"type\":\"http-01\",\"token\":\"" TOK "\"},\"keyAuthorization\":\"" KA "\""

/* job builds {"v":1,"id":"job-1","identifier":<ident><rest>} into a static buffer. */
static const char *job(const char *ident, const char *rest)
{
    static char buf[8192];
    snprintf(buf, sizeof(buf), "{\"v\":1,\"id\":\"job-1\",\"identifier\":%s%s}", ident, rest);
    return buf;
}

static const char *ident_dns(const char *value)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf), "{\"type\":\"dns\",\"value\":\"%s\"}", value);
    return buf;
}

static const char *ident_ip(const char *value)
{
    static char buf[256];
    snprintf(buf, sizeof(buf), "{\"type\":\"ip\",\"value\":\"%s\"}", value);
    return buf;
}

/* parse_ok parses |s| and returns the job, recording a failure (with the detail) if refused. */
static acmeva_job *parse_ok(const char *s)
{
    acmeva_job *j = NULL;
    acmeva_job_error err;
    int rc = acmeva_job_parse(s, strlen(s), &j, &err);
    CHECK_MSG(rc == 0 && j != NULL, "refused (%s): %s\n  job: %s", err.field, err.detail, s);
    CHECK(err.id == NULL); /* success leaves the error empty */
    acmeva_job_error_clear(&err);
    return j;
}

/* refuse checks that |s| is refused with |field| and a detail that starts with "<field>: " (or
 * "job: ") and contains |words|. */
static void refuse(const char *s, const char *field, const char *words)
{
    acmeva_job *j = (acmeva_job *)1;
    acmeva_job_error err;
    int rc = acmeva_job_parse(s, strlen(s), &j, &err);
    CHECK_MSG(rc == ACMEVA_PROTO_EINVAL && j == NULL, "accepted, want refusal on %s: %s", field, s);
    CHECK_MSG(strcmp(err.field, field) == 0, "field \"%s\" (%s), want \"%s\"\n  job: %s", err.field,
              err.detail, field, s);
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s: ", field[0] ? field : "job");
    CHECK_MSG(strncmp(err.detail, prefix, strlen(prefix)) == 0 && strstr(err.detail, words),
              "detail \"%s\" does not name \"%s\" and \"%s\"", err.detail, prefix, words);
    acmeva_job_error_clear(&err);
}

static void test_names(void)
{
    /* acmeva_hex_digit: every byte value, against the digits of "0123456789abcdef". */
    for (int c = 0; c < 256; c++) {
        const char *lower = "0123456789abcdef", *upper = "0123456789ABCDEF";
        const char *at = c ? strchr(lower, c) : NULL;
        if (at == NULL && c)
            at = strchr(upper, c) ? lower + (strchr(upper, c) - upper) : NULL;
        CHECK_INT(acmeva_hex_digit((unsigned char)c), at ? (int)(at - lower) : -1);
    }
    static const char *const names[] = {"http-01", "dns-01", "tls-alpn-01", "dns-account-01",
                                        "dns-persist-01"};
    for (size_t i = 0; i < 5; i++)
        CHECK_STR(acmeva_chall_type_name(acmeva_chall_type_from_name(names[i])), names[i]);
    CHECK_INT(acmeva_chall_type_from_name("http-02"), ACMEVA_CHALL_UNKNOWN);
    CHECK_INT(acmeva_chall_type_from_name("HTTP-01"), ACMEVA_CHALL_UNKNOWN);
    CHECK_INT(acmeva_chall_type_from_name(NULL), ACMEVA_CHALL_UNKNOWN);
    CHECK(acmeva_chall_type_name(ACMEVA_CHALL_NONE) == NULL);
    CHECK(acmeva_chall_type_name(ACMEVA_CHALL_UNKNOWN) == NULL);

    CHECK_STR(acmeva_problem_urn(ACMEVA_PROB_UNAUTHORIZED),
              "urn:ietf:params:acme:error:unauthorized");
    CHECK_STR(acmeva_problem_urn(ACMEVA_PROB_SERVER_INTERNAL),
              "urn:ietf:params:acme:error:serverInternal");
    CHECK_STR(acmeva_problem_urn(ACMEVA_PROB_REJECTED_IDENTIFIER),
              "urn:ietf:params:acme:error:rejectedIdentifier");
    CHECK(acmeva_problem_urn(ACMEVA_PROB_NONE) == NULL);
    CHECK_INT(acmeva_problem_http_status(ACMEVA_PROB_UNAUTHORIZED), 403);
    CHECK_INT(acmeva_problem_http_status(ACMEVA_PROB_CAA), 403);
    CHECK_INT(acmeva_problem_http_status(ACMEVA_PROB_CONNECTION), 400);
    CHECK_INT(acmeva_problem_http_status(ACMEVA_PROB_DNS), 400);
    CHECK_INT(acmeva_problem_http_status(ACMEVA_PROB_TLS), 400);
    CHECK_INT(acmeva_problem_http_status(ACMEVA_PROB_MALFORMED), 400);
    CHECK_INT(acmeva_problem_http_status(ACMEVA_PROB_SERVER_INTERNAL), 500);
    CHECK_INT(acmeva_problem_http_status(ACMEVA_PROB_NONE), 0);
}

static void test_dns_names(void)
{
    char long_label[80], long_name[320], max_name[300];
    memset(long_label, 'a', 64);
    snprintf(long_label + 64, sizeof(long_label) - 64, ".example");
    /* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 bytes: the longest name */
    snprintf(max_name, sizeof(max_name), "%.63s.%.63s.%.63s.%.61s", long_label, long_label,
             long_label, long_label);
    snprintf(long_name, sizeof(long_name), "a%s", max_name);

    CHECK(acmeva_is_dns_name("example.com", 0));
    CHECK(acmeva_is_dns_name("a-b.c0.example", 0));
    CHECK(acmeva_is_dns_name("xn--bcher-kva.example", 0));
    CHECK(acmeva_is_dns_name("123.example", 0));
    CHECK(acmeva_is_dns_name(max_name, 0));
    CHECK_INT(strlen(max_name), 253);
    CHECK(!acmeva_is_dns_name(long_name, 0));      /* 254 bytes */
    CHECK(!acmeva_is_dns_name(long_label, 0));     /* a 64-byte label */
    CHECK(!acmeva_is_dns_name("com", 0));          /* one label */
    CHECK(!acmeva_is_dns_name("example.com.", 0)); /* trailing dot */
    CHECK(!acmeva_is_dns_name(".example.com", 0));
    CHECK(!acmeva_is_dns_name("a..example.com", 0));
    CHECK(!acmeva_is_dns_name("Example.com", 0));
    CHECK(!acmeva_is_dns_name("-a.example", 0));
    CHECK(!acmeva_is_dns_name("a-.example", 0));
    CHECK(!acmeva_is_dns_name("a_b.example", 0));
    CHECK(!acmeva_is_dns_name("ab--c.example", 0)); /* reserved R-LDH label */
    CHECK(!acmeva_is_dns_name("192.0.2.1", 0));     /* all-digit TLD */
    CHECK(!acmeva_is_dns_name("", 0));
    CHECK(!acmeva_is_dns_name(NULL, 0));
    CHECK(!acmeva_is_dns_name("*.example.com", 0));
    CHECK(acmeva_is_dns_name("*.example.com", 1));
    CHECK(!acmeva_is_dns_name("*.com", 1));
    CHECK(!acmeva_is_dns_name("*", 1));
    CHECK(!acmeva_is_dns_name("*.", 1));
    CHECK(!acmeva_is_dns_name("a.*.example.com", 1));
    CHECK(!acmeva_is_dns_name("**.example.com", 1));
    CHECK(!acmeva_is_dns_name("*example.com", 1));
}

static void test_ips_and_base64url(void)
{
    CHECK_INT(acmeva_is_canonical_ip("192.0.2.1"), 4);
    CHECK_INT(acmeva_is_canonical_ip("0.0.0.0"), 4);
    CHECK_INT(acmeva_is_canonical_ip("2001:db8::1"), 6);
    CHECK_INT(acmeva_is_canonical_ip("::1"), 6);
    CHECK_INT(acmeva_is_canonical_ip("::ffff:192.0.2.1"), 6); /* as inet_ntop prints it */
    CHECK_INT(acmeva_is_canonical_ip("192.0.2.01"), 0);
    CHECK_INT(acmeva_is_canonical_ip("192.0.2"), 0);
    CHECK_INT(acmeva_is_canonical_ip("2001:DB8::1"), 0);
    CHECK_INT(acmeva_is_canonical_ip("2001:db8:0:0:0:0:0:1"), 0);
    CHECK_INT(acmeva_is_canonical_ip("2001:0db8::1"), 0);
    CHECK_INT(acmeva_is_canonical_ip("fe80::1%eth0"), 0);
    CHECK_INT(acmeva_is_canonical_ip("[::1]"), 0);
    CHECK_INT(acmeva_is_canonical_ip(" 192.0.2.1"), 0);
    CHECK_INT(acmeva_is_canonical_ip(""), 0);

    CHECK(acmeva_is_base64url(TOK, strlen(TOK)));
    CHECK(acmeva_is_base64url("ab", 2));
    CHECK(acmeva_is_base64url("a-_9", 4));
    CHECK(!acmeva_is_base64url("abcde", 5)); /* 4k+1 characters encode nothing */
    CHECK(!acmeva_is_base64url("ab==", 4));
    CHECK(!acmeva_is_base64url("a+/b", 4));
    CHECK(!acmeva_is_base64url("", 0));
    CHECK(!acmeva_is_base64url("ab\0c", 4));
}

/* range_ok: whether some code point in [lo, hi] is a Unicode scalar value of at least |min|
 * (the least that needs that many bytes): not above U+10FFFF, not a surrogate. */
static int range_ok(uint32_t lo, uint32_t hi, uint32_t min)
{
    if (lo < min)
        lo = min;
    if (hi > 0x10ffff)
        hi = 0x10ffff;
    return lo <= hi && !(lo >= 0xd800 && hi <= 0xdfff);
}

/* utf8_oracle: acmeva_utf8_decode's answer worked out another way, from the bit patterns of
 * RFC 3629 §3 and the code points each prefix can still reach, rather than from the table of
 * byte ranges the codec uses. */
static size_t utf8_oracle(const unsigned char *s, size_t n, uint32_t *cp)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    *cp = ACMEVA_UTF8_INVALID;
    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len = (s[0] & 0xe0) == 0xc0   ? 2
                 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (len == 0)
        return 1;
    uint32_t v = s[0] & (0x7fu >> len);
    unsigned rest = 6 * (unsigned)(len - 1);
    if (!range_ok(v << rest, v << rest | ((1u << rest) - 1), min_cp[len]))
        return 1;
    size_t k = 1;
    for (; k < len && k < n; k++) {
        if ((s[k] & 0xc0) != 0x80)
            break;
        uint32_t nv = v << 6 | (s[k] & 0x3fu);
        rest = 6 * (unsigned)(len - k - 1);
        if (!range_ok(nv << rest, nv << rest | ((1u << rest) - 1), min_cp[len]))
            break;
        v = nv;
    }
    if (k < len)
        return k;
    *cp = v;
    return len;
}

/* The project's one UTF-8 decoder against the oracle on every sequence of up to three bytes
 * and on every four-byte one that matters (each lead byte with every second and third byte,
 * and fourth bytes at and around the continuation range). */
static void test_utf8_decode(void)
{
    unsigned char b[4];
    long bad = 0;
    uint32_t cp, want_cp;
    for (unsigned x = 0; x < 256; x++) {
        b[0] = (unsigned char)x;
        for (size_t n = 1; n <= 1; n++) {
            size_t got = acmeva_utf8_decode(b, n, &cp), want = utf8_oracle(b, n, &want_cp);
            bad += got != want || cp != want_cp;
        }
        for (unsigned y = 0; y < 256; y++) {
            b[1] = (unsigned char)y;
            size_t got = acmeva_utf8_decode(b, 2, &cp), want = utf8_oracle(b, 2, &want_cp);
            bad += got != want || cp != want_cp;
            if (x < 0xc0)
                continue; /* decided by the first byte alone */
            for (unsigned z = 0; z < 256; z++) {
                b[2] = (unsigned char)z;
                got = acmeva_utf8_decode(b, 3, &cp);
                want = utf8_oracle(b, 3, &want_cp);
                bad += got != want || cp != want_cp;
                if (x < 0xf0 || x > 0xf7)
                    continue;
                static const unsigned char last[] = {0x00, 0x7f, 0x80, 0x8f,
                                                     0x90, 0xbf, 0xc0, 0xff};
                for (size_t w = 0; w < sizeof(last); w++) {
                    b[3] = last[w];
                    got = acmeva_utf8_decode(b, 4, &cp);
                    want = utf8_oracle(b, 4, &want_cp);
                    bad += got != want || cp != want_cp;
                }
            }
        }
    }
    CHECK_MSG(bad == 0, "%ld sequences decoded unlike the oracle", bad);

    /* a few by hand, so that the oracle is not the only judge */
    CHECK_INT(acmeva_utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp), 4);
    CHECK_INT(cp, 0x1f600);
    CHECK_INT(acmeva_utf8_decode((const unsigned char *)"\xe2\x82\xac", 3, &cp), 3);
    CHECK_INT(cp, 0x20ac);
    CHECK_INT(acmeva_utf8_decode((const unsigned char *)"\xf4\x8f\xbf\xbf", 4, &cp), 4);
    CHECK_INT(cp, 0x10ffff);
    CHECK_INT(acmeva_utf8_decode((const unsigned char *)"\xef\xbf\xbf", 3, &cp), 3);
    CHECK_INT(cp, 0xffff);
    CHECK_INT(acmeva_utf8_decode((const unsigned char *)"", 1, &cp), 1); /* NUL is a character */
    CHECK_INT(cp, 0);
    CHECK_INT(acmeva_utf8_decode((const unsigned char *)"\xf0\x9f\x98", 3, &cp), 3);
    CHECK(cp == ACMEVA_UTF8_INVALID);
    CHECK_INT(acmeva_utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp), 1);
    CHECK(cp == ACMEVA_UTF8_INVALID);
    CHECK_INT(acmeva_utf8_decode((const unsigned char *)"\xe0\x80\x80", 3, &cp), 1);
    CHECK_INT(acmeva_utf8_decode((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp), 1);
    CHECK_INT(acmeva_utf8_decode((const unsigned char *)"\xe2\x28\xa1", 3, &cp), 1);
    CHECK_INT(acmeva_utf8_decode((const unsigned char *)"x", 0, &cp), 0);
}

static void test_utf8_and_strings(void)
{
    char *s = acmeva_utf8_sanitize("ok \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14);
    CHECK_STR(s, "ok \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"); /* valid text unchanged */
    free(s);
    static const char bad[] = "a\xff"
                              "b\xc0\xaf"
                              "c\xed\xa0\x80"
                              "d\xe2\x82";
    s = acmeva_utf8_sanitize(bad, sizeof(bad) - 1);
    /* bad byte, overlong '/', surrogate, truncated sequence: one U+FFFD per maximal subpart
     * (C0 and the ED A0 pair start no sequence, so each of their bytes is one; E2 82 is the
     * start of one, cut short) */
    CHECK_STR(s, "a\xef\xbf\xbd"
                 "b\xef\xbf\xbd\xef\xbf\xbd"
                 "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                 "d\xef\xbf\xbd");
    free(s);
    s = acmeva_utf8_sanitize("a\0b", 3);
    CHECK_STR(s, "a\xef\xbf\xbd"
                 "b");
    free(s);
    s = acmeva_utf8_sanitize("\xf4\x90\x80\x80", 4); /* above U+10FFFF */
    CHECK_STR(s, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    free(s);

    s = acmeva_strdup_n("abcdef", 3);
    CHECK_STR(s, "abc");
    free(s);
    acmeva_strlist l = {0};
    for (int i = 0; i < 10; i++)
        CHECK_INT(acmeva_strlist_add(&l, "xyz", (size_t)(i % 4)), 0);
    CHECK_INT(l.n, 10);
    CHECK_STR(l.v[3], "xyz");
    CHECK_STR(l.v[4], "");
    acmeva_strlist_clear(&l);
    CHECK(l.n == 0 && l.v == NULL);
}

static void test_job_valid(void)
{
    /* The DESIGN.md example, every field set. */
    acmeva_job *j = parse_ok(
        "{\"v\":1,\"id\":\"authz-123/chall-456\",\"identifier\":" DNS_IDENT HTTP01
        ",\"accountUri\":\"" ACCT "\",\"caa\":{\"issuerDomains\":[\"ca.example\",\"ca2.example\"]},"
        "\"deadlineMs\":1764435600000,\"replyTo\":\"acmeva:v1:results:core-2\"}");
    if (j != NULL) {
        CHECK_INT(j->v, 1);
        CHECK_STR(j->id, "authz-123/chall-456");
        CHECK_INT(j->ident_type, ACMEVA_IDENT_DNS);
        CHECK_STR(j->ident_value, "example.com");
        CHECK_INT(j->wildcard, 0);
        CHECK_INT(j->chall_type, ACMEVA_CHALL_HTTP01);
        CHECK_STR(j->token, TOK);
        CHECK_STR(j->key_authorization, KA);
        CHECK_STR(j->account_uri, ACCT);
        CHECK_INT(j->has_caa, 1);
        CHECK_INT(j->n_issuer_domains, 2);
        CHECK_STR(j->n_issuer_domains == 2 ? j->issuer_domains[1] : NULL, "ca2.example");
        CHECK_INT(j->has_deadline, 1);
        CHECK_INT(j->deadline_ms, 1764435600000LL);
        CHECK_STR(j->reply_to, "acmeva:v1:results:core-2");
    }
    acmeva_job_free(j);

    /* Only the required fields: the defaults. */
    j = parse_ok(job(DNS_IDENT, HTTP01));
    if (j != NULL) {
        CHECK_STR(j->reply_to, ACMEVA_DEFAULT_REPLY_TO);
        CHECK_INT(j->has_deadline, 0);
        CHECK_INT(j->has_caa, 0);
        CHECK(j->account_uri == NULL && j->issuer_domains == NULL);
    }
    acmeva_job_free(j);

    /* Each challenge type. */
    j = parse_ok(job(ident_ip("192.0.2.1"), HTTP01));
    CHECK(j && j->ident_type == ACMEVA_IDENT_IP && strcmp(j->ident_value, "192.0.2.1") == 0);
    acmeva_job_free(j);
    j = parse_ok(job(ident_ip("2001:db8::1"),
                     ",\"challenge\":{\"type\":\"tls-alpn-01\",\"token\":\"" TOK
                     "\"},\"keyAuthorization\":\"" KA "\""));
    CHECK(j && j->chall_type == ACMEVA_CHALL_TLSALPN01);
    acmeva_job_free(j);
    j = parse_ok(job(ident_dns("*.example.com"),
                     ",\"challenge\":{\"type\":\"dns-01\",\"token\":\"" TOK
                     "\"},\"keyAuthorization\":\"" KA "\""));
    CHECK(j && j->chall_type == ACMEVA_CHALL_DNS01 && j->wildcard == 1 &&
          strcmp(j->ident_value, "*.example.com") == 0);
    acmeva_job_free(j);
    j = parse_ok(job(ident_dns("*.example.com"),
                     ",\"challenge\":{\"type\":\"dns-account-01\",\"token\":\"" TOK
                     "\"},\"keyAuthorization\":\"" KA "\",\"accountUri\":\"" ACCT "\""));
    CHECK(j && j->chall_type == ACMEVA_CHALL_DNSACCOUNT01 && j->wildcard == 1);
    acmeva_job_free(j);
    j = parse_ok(job(ident_dns("*.example.com"), ",\"challenge\":{\"type\":\"dns-persist-01\"},"
                                                 "\"accountUri\":\"" ACCT "\""));
    CHECK(j && j->chall_type == ACMEVA_CHALL_DNSPERSIST01 && j->token == NULL &&
          j->key_authorization == NULL && j->wildcard == 1);
    acmeva_job_free(j);

    /* CAA-only, with a wildcard, and with the worker's issuer domains. */
    j = parse_ok(job(ident_dns("*.example.com"), ",\"caa\":{\"issuerDomains\":[\"ca.example\"]}"));
    CHECK(j && j->chall_type == ACMEVA_CHALL_NONE && j->has_caa && j->wildcard &&
          j->token == NULL && j->n_issuer_domains == 1);
    acmeva_job_free(j);
    j = parse_ok(job(DNS_IDENT, ",\"caa\":{}"));
    CHECK(j && j->has_caa && j->issuer_domains == NULL && j->n_issuer_domains == 0 &&
          j->caa_method == ACMEVA_CHALL_NONE);
    acmeva_job_free(j);

    /* caa.method: the method a CAA-only job's authorization was validated with (RFC 8657 §4);
     * with a challenge, the challenge's type, which caa.method may repeat. */
    static const struct {
        const char *name;
        acmeva_chall_type type;
    } methods[] = {{"http-01", ACMEVA_CHALL_HTTP01},
                   {"dns-01", ACMEVA_CHALL_DNS01},
                   {"tls-alpn-01", ACMEVA_CHALL_TLSALPN01},
                   {"dns-account-01", ACMEVA_CHALL_DNSACCOUNT01},
                   {"dns-persist-01", ACMEVA_CHALL_DNSPERSIST01}};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        char rest[128];
        snprintf(rest, sizeof(rest), ",\"caa\":{\"method\":\"%s\"}", methods[i].name);
        j = parse_ok(job(DNS_IDENT, rest));
        CHECK_MSG(j && j->chall_type == ACMEVA_CHALL_NONE && j->caa_method == methods[i].type,
                  "caa.method %s", methods[i].name);
        acmeva_job_free(j);
    }
    j = parse_ok(job(ident_dns("*.example.com"), ",\"caa\":{\"method\":\"dns-01\"}"));
    CHECK(j && j->wildcard && j->caa_method == ACMEVA_CHALL_DNS01);
    acmeva_job_free(j);
    j = parse_ok(job(ident_ip("192.0.2.1"), ",\"caa\":{\"method\":\"http-01\"}"));
    CHECK(j && j->caa_method == ACMEVA_CHALL_HTTP01);
    acmeva_job_free(j);
    j = parse_ok(job(DNS_IDENT, HTTP01 ",\"caa\":{}"));
    CHECK(j && j->caa_method == ACMEVA_CHALL_HTTP01);
    acmeva_job_free(j);
    j = parse_ok(job(DNS_IDENT, HTTP01 ",\"caa\":{\"method\":\"http-01\"}"));
    CHECK(j && j->caa_method == ACMEVA_CHALL_HTTP01);
    acmeva_job_free(j);
    j = parse_ok(job(DNS_IDENT, HTTP01));
    CHECK(j && !j->has_caa && j->caa_method == ACMEVA_CHALL_NONE);
    acmeva_job_free(j);

    /* Unknown fields are ignored, at the top and inside objects. */
    j = parse_ok("{\"v\":1,\"id\":\"j\",\"identifier\":{\"type\":\"dns\",\"value\":\"example.com\","
                 "\"extra\":[1]},\"challenge\":{\"type\":\"http-01\",\"token\":\"" TOK
                 "\",\"url\":\"x\"},\"keyAuthorization\":\"" KA "\",\"future\":{\"a\":null}}");
    CHECK(j != NULL);
    acmeva_job_free(j);

    /* Boundaries: id of 200 bytes, token of 16 and 256 characters, deadline of 2^53, a
     * thumbprint of 128 characters, an accountUri of 1024 bytes. */
    char big[2048], id[201], tok[257], uri[1025];
    memset(id, 'i', 200);
    id[200] = '\0';
    snprintf(big, sizeof(big),
             "{\"v\":1,\"id\":\"%s\",\"identifier\":" DNS_IDENT ",\"caa\":{},"
             "\"deadlineMs\":9007199254740992}",
             id);
    j = parse_ok(big);
    CHECK(j && strlen(j->id) == 200 && j->deadline_ms == 9007199254740992LL);
    acmeva_job_free(j);
    memset(tok, 'T', 256);
    tok[256] = '\0';
    snprintf(big, sizeof(big),
             ",\"challenge\":{\"type\":\"http-01\",\"token\":\"%s\"},"
             "\"keyAuthorization\":\"%s.%.128s\"",
             tok, tok, tok);
    j = parse_ok(job(DNS_IDENT, big));
    CHECK(j && strlen(j->token) == 256 && strlen(j->key_authorization) == 256 + 1 + 128);
    acmeva_job_free(j);
    snprintf(big, sizeof(big),
             ",\"challenge\":{\"type\":\"http-01\",\"token\":\"%.16s\"},"
             "\"keyAuthorization\":\"%.16s.ab\"",
             tok, tok);
    j = parse_ok(job(DNS_IDENT, big));
    CHECK(j && strlen(j->token) == 16);
    acmeva_job_free(j);
    memset(uri, 'u', 1024);
    memcpy(uri, "https://", 8);
    uri[1024] = '\0';
    snprintf(big, sizeof(big), ",\"caa\":{},\"accountUri\":\"%s\"", uri);
    j = parse_ok(job(DNS_IDENT, big));
    CHECK(j && strlen(j->account_uri) == 1024);
    acmeva_job_free(j);

    /* Exactly ACMEVA_JOB_MAX_BYTES (padded with whitespace) is accepted. */
    char *pad = malloc(ACMEVA_JOB_MAX_BYTES + 1);
    if (pad != NULL) {
        const char *base = job(DNS_IDENT, HTTP01);
        size_t n = strlen(base);
        memcpy(pad, base, n);
        memset(pad + n, ' ', ACMEVA_JOB_MAX_BYTES - n);
        acmeva_job *jj = NULL;
        acmeva_job_error err;
        CHECK_INT(acmeva_job_parse(pad, ACMEVA_JOB_MAX_BYTES, &jj, &err), 0);
        acmeva_job_free(jj);
        acmeva_job_error_clear(&err);
        /* One byte more is refused for its size, before parsing. */
        pad[ACMEVA_JOB_MAX_BYTES] = ' ';
        jj = NULL;
        CHECK_INT(acmeva_job_parse(pad, ACMEVA_JOB_MAX_BYTES + 1, &jj, &err), ACMEVA_PROTO_EINVAL);
        CHECK(jj == NULL);
        CHECK_STR(err.field, "");
        CHECK_MSG(strstr(err.detail, "65537 bytes") && strstr(err.detail, "65536"), "%s",
                  err.detail);
        CHECK(err.id == NULL);
        acmeva_job_error_clear(&err);
        free(pad);
    }
}

static void test_job_refused(void)
{
    /* The document. */
    refuse("", "", "not valid JSON");
    refuse("{\"v\":1,", "", "not valid JSON");
    refuse("{\"v\":1} x", "", "not valid JSON");
    refuse("[1,2]", "", "not a JSON object");
    refuse("\"job\"", "", "not a JSON object");
    refuse("{\"v\":1,\"v\":1,\"id\":\"j\",\"identifier\":" DNS_IDENT ",\"caa\":{}}", "",
           "duplicate object key");
    refuse("{\"v\":1,\"id\":\"j\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\","
           "\"value\":\"b.example\"},\"caa\":{}}",
           "", "duplicate object key");
    refuse(
        "{\"v\":1,\"id\":\"j\",\"identifier\":{\"type\":\"dns\",\"value\":\"ex\\u0000ample.com\"},"
        "\"caa\":{}}",
        "", "not valid JSON");
    refuse("{\"v\":1,\"id\":\"j\xff\"}", "", "invalid UTF-8");
    {
        /* A raw NUL byte after a number: jansson would lose it and read {"v":1,...}; the job
         * is refused, so that what the CA core stored and what the worker read never differ. */
        static const char nul_job[] =
            "{\"v\":1\0,\"id\":\"j\",\"identifier\":" DNS_IDENT ",\"caa\":{}}";
        acmeva_job *j = NULL;
        acmeva_job_error err;
        int rc = acmeva_job_parse(nul_job, sizeof(nul_job) - 1, &j, &err);
        CHECK(rc == ACMEVA_PROTO_EINVAL && j == NULL);
        CHECK_STR(err.field, "");
        CHECK(strstr(err.detail, "not valid JSON") != NULL);
        acmeva_job_error_clear(&err);
    }

    /* v */
    refuse("{\"id\":\"j\",\"identifier\":" DNS_IDENT ",\"caa\":{}}", "v", "missing");
    refuse("{\"v\":\"1\",\"id\":\"j\",\"identifier\":" DNS_IDENT ",\"caa\":{}}", "v", "integer");
    refuse("{\"v\":1.0,\"id\":\"j\",\"identifier\":" DNS_IDENT ",\"caa\":{}}", "v", "integer");
    refuse("{\"v\":2,\"id\":\"j\",\"identifier\":" DNS_IDENT ",\"caa\":{}}", "v",
           "v: unsupported schema major 2, this worker speaks 1");
    refuse("{\"v\":0,\"id\":\"j\",\"identifier\":" DNS_IDENT ",\"caa\":{}}", "v",
           "unsupported schema major 0");

    /* id */
    refuse("{\"v\":1,\"identifier\":" DNS_IDENT ",\"caa\":{}}", "id", "missing");
    refuse("{\"v\":1,\"id\":7,\"identifier\":" DNS_IDENT ",\"caa\":{}}", "id", "string");
    refuse("{\"v\":1,\"id\":\"\",\"identifier\":" DNS_IDENT ",\"caa\":{}}", "id", "1..200");
    refuse("{\"v\":1,\"id\":\"a b\",\"identifier\":" DNS_IDENT ",\"caa\":{}}", "id", "1..200");
    refuse("{\"v\":1,\"id\":\"a\\nb\",\"identifier\":" DNS_IDENT ",\"caa\":{}}", "id", "1..200");
    char big[2048], id[202];
    memset(id, 'i', 201);
    id[201] = '\0';
    snprintf(big, sizeof(big), "{\"v\":1,\"id\":\"%s\",\"identifier\":" DNS_IDENT ",\"caa\":{}}",
             id);
    refuse(big, "id", "1..200");

    /* identifier */
    refuse(job("\"example.com\"", HTTP01), "identifier", "object");
    refuse("{\"v\":1,\"id\":\"j\",\"caa\":{}}", "identifier", "missing");
    refuse(job("{\"value\":\"example.com\"}", HTTP01), "identifier.type", "missing");
    refuse(job("{\"type\":\"email\",\"value\":\"example.com\"}", HTTP01), "identifier.type",
           "\"dns\" or \"ip\"");
    refuse(job("{\"type\":\"DNS\",\"value\":\"example.com\"}", HTTP01), "identifier.type", "dns");
    refuse(job("{\"type\":\"dns\"}", HTTP01), "identifier.value", "missing");
    refuse(job("{\"type\":\"dns\",\"value\":[\"example.com\"]}", HTTP01), "identifier.value",
           "string");
    refuse(job(ident_dns("Example.com"), HTTP01), "identifier.value",
           "identifier.value: not a lowercase A-label DNS name (RFC 1035 label rules, no "
           "trailing dot)");
    refuse(job(ident_dns("example.com."), HTTP01), "identifier.value", "A-label");
    refuse(job(ident_dns("localhost"), HTTP01), "identifier.value", "A-label");
    refuse(job(ident_dns("a..example.com"), HTTP01), "identifier.value", "A-label");
    refuse(job(ident_dns("-a.example.com"), HTTP01), "identifier.value", "A-label");
    refuse(job(ident_dns("b\xc3\xbc"
                         "cher.example"),
               HTTP01),
           "identifier.value", "A-label");
    refuse(job(ident_dns("192.0.2.1"), HTTP01), "identifier.value", "A-label");
    refuse(job(ident_dns("*.example.com"), HTTP01), "identifier.value", "http-01");
    refuse(job(ident_dns("*.example.com"),
               ",\"challenge\":{\"type\":\"tls-alpn-01\",\"token\":\"" TOK
               "\"},\"keyAuthorization\":\"" KA "\""),
           "identifier.value", "tls-alpn-01");
    refuse(job(ident_ip("192.0.2.01"), HTTP01), "identifier.value", "canonical");
    refuse(job(ident_ip("2001:DB8::1"), HTTP01), "identifier.value", "canonical");
    refuse(job(ident_ip("example.com"), HTTP01), "identifier.value", "canonical");
    refuse(job(ident_ip("*.example.com"), ",\"caa\":{}"), "identifier.value", "canonical");

    /* challenge */
    refuse(job(DNS_IDENT, ",\"challenge\":\"http-01\""), "challenge", "object");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"token\":\"" TOK "\"}"), "challenge.type", "missing");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"http-02\",\"token\":\"" TOK "\"}"),
           "challenge.type", "unknown challenge type");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":1}"), "challenge.type", "string");
    refuse(job(ident_ip("192.0.2.1"), ",\"challenge\":{\"type\":\"dns-01\",\"token\":\"" TOK
                                      "\"},\"keyAuthorization\":\"" KA "\""),
           "challenge.type",
           "challenge.type: dns-01 cannot validate an IP identifier (RFC 8738 §7)");
    refuse(job(ident_ip("::1"), ",\"challenge\":{\"type\":\"dns-account-01\",\"token\":\"" TOK
                                "\"},\"keyAuthorization\":\"" KA "\",\"accountUri\":\"" ACCT "\""),
           "challenge.type", "dns-account-01 cannot validate an IP identifier");
    refuse(job(ident_ip("::1"),
               ",\"challenge\":{\"type\":\"dns-persist-01\"},\"accountUri\":\"" ACCT "\""),
           "challenge.type", "dns-persist-01 cannot validate an IP identifier");
    refuse(job(DNS_IDENT, ",\"keyAuthorization\":\"" KA "\""), "challenge",
           "a challenge, a caa check or both");

    /* challenge.token */
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"http-01\"},\"keyAuthorization\":\"" KA "\""),
           "challenge.token", "missing (required for http-01)");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"dns-01\",\"token\":5}"), "challenge.token",
           "string");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"http-01\",\"token\":\"abcdefghijklmno\"},"
                          "\"keyAuthorization\":\"abcdefghijklmno.ab\""),
           "challenge.token", "16..256"); /* 15 characters */
    memset(big, 'T', 257);
    big[257] = '\0';
    char rest[4096];
    snprintf(rest, sizeof(rest), ",\"challenge\":{\"type\":\"http-01\",\"token\":\"%s\"}", big);
    refuse(job(DNS_IDENT, rest), "challenge.token", "16..256");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"http-01\",\"token\":\"" TOK "=\"},"
                          "\"keyAuthorization\":\"" TOK "=." THUMB "\""),
           "challenge.token", "base64url");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"http-01\",\"token\":\"abc/defghijklmnopq\"}"),
           "challenge.token", "base64url");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"http-01\",\"token\":\"abcdefghijklmnopq\"}"),
           "challenge.token", "base64url"); /* 17 characters: 4k+1 */
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"dns-persist-01\",\"token\":\"" TOK "\"},"
                          "\"accountUri\":\"" ACCT "\""),
           "challenge.token", "dns-persist-01 has no token");

    /* keyAuthorization */
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"http-01\",\"token\":\"" TOK "\"}"),
           "keyAuthorization", "missing (required for http-01)");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"http-01\",\"token\":\"" TOK "\"},"
                          "\"keyAuthorization\":1"),
           "keyAuthorization", "string");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"http-01\",\"token\":\"" TOK "\"},"
                          "\"keyAuthorization\":\"" THUMB "." THUMB "\""),
           "keyAuthorization", "<challenge.token>.<thumbprint>");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"http-01\",\"token\":\"" TOK "\"},"
                          "\"keyAuthorization\":\"" TOK "\""),
           "keyAuthorization", "<challenge.token>.<thumbprint>");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"http-01\",\"token\":\"" TOK "\"},"
                          "\"keyAuthorization\":\"" TOK ".\""),
           "keyAuthorization", "<challenge.token>.<thumbprint>");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"http-01\",\"token\":\"" TOK "\"},"
                          "\"keyAuthorization\":\"" TOK "x." THUMB "\""),
           "keyAuthorization", "<challenge.token>.<thumbprint>");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"http-01\",\"token\":\"" TOK "\"},"
                          "\"keyAuthorization\":\"" TOK "." THUMB ".x\""),
           "keyAuthorization", "thumbprint");
    snprintf(rest, sizeof(rest),
             ",\"challenge\":{\"type\":\"http-01\",\"token\":\"" TOK "\"},"
             "\"keyAuthorization\":\"" TOK ".%.132s\"",
             big);
    refuse(job(DNS_IDENT, rest), "keyAuthorization", "1..128");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"dns-persist-01\"},\"keyAuthorization\":\"" KA
                          "\",\"accountUri\":\"" ACCT "\""),
           "keyAuthorization", "dns-persist-01 has no key authorization");
    refuse(job(DNS_IDENT, ",\"caa\":{},\"keyAuthorization\":\"" KA "\""), "keyAuthorization",
           "only a job with a challenge");

    /* accountUri */
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"dns-account-01\",\"token\":\"" TOK
                          "\"},\"keyAuthorization\":\"" KA "\""),
           "accountUri", "missing (required for dns-account-01)");
    refuse(job(DNS_IDENT, ",\"challenge\":{\"type\":\"dns-persist-01\"}"), "accountUri",
           "missing (required for dns-persist-01)");
    refuse(job(DNS_IDENT, HTTP01 ",\"accountUri\":\"ftp://ca.example/1\""), "accountUri",
           "https://");
    refuse(job(DNS_IDENT, HTTP01 ",\"accountUri\":\"https://\""), "accountUri", "https://");
    refuse(job(DNS_IDENT, HTTP01 ",\"accountUri\":\"https://ca.example/a b\""), "accountUri",
           "printable ASCII");
    refuse(job(DNS_IDENT, HTTP01 ",\"accountUri\":\"https://ca.example/\\u0007\""), "accountUri",
           "printable ASCII");
    refuse(job(DNS_IDENT, HTTP01 ",\"accountUri\":\"https://ca.example/\xc3\xa9\""), "accountUri",
           "printable ASCII");
    refuse(job(DNS_IDENT, HTTP01 ",\"accountUri\":null"), "accountUri", "string");
    char uri[1026];
    memset(uri, 'u', 1025);
    memcpy(uri, "https://", 8);
    uri[1025] = '\0';
    snprintf(rest, sizeof(rest), HTTP01 ",\"accountUri\":\"%s\"", uri);
    refuse(job(DNS_IDENT, rest), "accountUri", "1024");

    /* caa */
    refuse(job(DNS_IDENT, ",\"caa\":true"), "caa", "object");
    refuse(job(DNS_IDENT, ",\"caa\":{\"method\":\"email-reply-00\"}"), "caa.method",
           "unknown challenge type");
    refuse(job(DNS_IDENT, ",\"caa\":{\"method\":\"HTTP-01\"}"), "caa.method", "unknown");
    refuse(job(DNS_IDENT, ",\"caa\":{\"method\":\"\"}"), "caa.method", "unknown");
    refuse(job(DNS_IDENT, ",\"caa\":{\"method\":null}"), "caa.method", "must be a string");
    refuse(job(DNS_IDENT, ",\"caa\":{\"method\":[\"dns-01\"]}"), "caa.method", "string");
    refuse(job(DNS_IDENT, HTTP01 ",\"caa\":{\"method\":\"dns-01\"}"), "caa.method",
           "dns-01 differs from challenge.type http-01");
    refuse(job(ident_dns("*.example.com"), ",\"caa\":{\"method\":\"http-01\"}"), "caa.method",
           "a wildcard name cannot be validated with http-01");
    refuse(job(ident_dns("*.example.com"), ",\"caa\":{\"method\":\"tls-alpn-01\"}"), "caa.method",
           "wildcard");
    refuse(job(ident_ip("192.0.2.1"), ",\"caa\":{\"method\":\"dns-persist-01\"}"), "caa.method",
           "cannot validate an IP identifier (RFC 8738 §7)");
    refuse(job(DNS_IDENT, ",\"caa\":{\"issuerDomains\":[]}"), "caa.issuerDomains", "1..16");
    refuse(job(DNS_IDENT, ",\"caa\":{\"issuerDomains\":\"ca.example\"}"), "caa.issuerDomains",
           "array");
    refuse(job(DNS_IDENT, ",\"caa\":{\"issuerDomains\":[\"a.example\",\"b.example\",\"c.example\","
                          "\"d.example\",\"e.example\",\"f.example\",\"g.example\",\"h.example\","
                          "\"i.example\",\"j.example\",\"k.example\",\"l.example\",\"m.example\","
                          "\"n.example\",\"o.example\",\"p.example\",\"q.example\"]}"),
           "caa.issuerDomains", "1..16");
    refuse(job(DNS_IDENT, ",\"caa\":{\"issuerDomains\":[\"ca.example\",\"*.ca.example\"]}"),
           "caa.issuerDomains[1]", "without a wildcard");
    refuse(job(DNS_IDENT, ",\"caa\":{\"issuerDomains\":[\"CA.example\"]}"), "caa.issuerDomains[0]",
           "lowercase");
    refuse(job(DNS_IDENT, ",\"caa\":{\"issuerDomains\":[null]}"), "caa.issuerDomains[0]",
           "DNS name");

    /* deadlineMs */
    refuse(job(DNS_IDENT, HTTP01 ",\"deadlineMs\":0"), "deadlineMs", "2^53");
    refuse(job(DNS_IDENT, HTTP01 ",\"deadlineMs\":-5"), "deadlineMs", "2^53");
    refuse(job(DNS_IDENT, HTTP01 ",\"deadlineMs\":9007199254740993"), "deadlineMs", "2^53");
    refuse(job(DNS_IDENT, HTTP01 ",\"deadlineMs\":1.5e12"), "deadlineMs", "integer");
    refuse(job(DNS_IDENT, HTTP01 ",\"deadlineMs\":\"1764435600000\""), "deadlineMs", "integer");

    /* replyTo */
    refuse(job(DNS_IDENT, HTTP01 ",\"replyTo\":\"\""), "replyTo", "1..256");
    refuse(job(DNS_IDENT, HTTP01 ",\"replyTo\":\"results stream\""), "replyTo", "[A-Za-z0-9._:/-]");
    refuse(job(DNS_IDENT, HTTP01 ",\"replyTo\":[]"), "replyTo", "string");
    memset(big, 'r', 257);
    big[257] = '\0';
    snprintf(rest, sizeof(rest), HTTP01 ",\"replyTo\":\"%s\"", big);
    refuse(job(DNS_IDENT, rest), "replyTo", "1..256");
}

/* The id is echoed when it is valid, whatever else fails (DESIGN.md "Job"). */
static void test_job_error_id(void)
{
    struct {
        const char *json;
        const char *id;
    } cases[] = {
        {"{\"v\":2,\"id\":\"authz-9\",\"identifier\":" DNS_IDENT ",\"caa\":{}}", "authz-9"},
        {"{\"id\":\"authz-9\"}", "authz-9"},
        {"{\"v\":1,\"id\":\"authz-9\",\"identifier\":{\"type\":\"dns\",\"value\":\"x\"},\"caa\":{}"
         "}",
         "authz-9"},
        {"{\"v\":1,\"id\":\"authz-9\",\"identifier\":" DNS_IDENT ",\"replyTo\":\"a b\",\"caa\":{}}",
         "authz-9"},
        {"{\"v\":1,\"id\":\"bad id\",\"identifier\":" DNS_IDENT ",\"caa\":{}}", NULL},
        {"{\"v\":1,\"id\":17}", NULL},
        {"{\"v\":1,\"id\":\"authz-9\"", NULL}, /* not JSON: nothing can be read */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        acmeva_job *j = NULL;
        acmeva_job_error err;
        CHECK(acmeva_job_parse(cases[i].json, strlen(cases[i].json), &j, &err) < 0);
        CHECK_STR(err.id, cases[i].id);

        /* ...and the malformed result carries it, with the detail. */
        acmeva_result *r = acmeva_result_new_malformed(&err);
        CHECK(r != NULL);
        if (r != NULL) {
            CHECK_STR(r->id, cases[i].id);
            CHECK_INT(r->valid, 0);
            CHECK_INT(r->problem.type, ACMEVA_PROB_MALFORMED);
            CHECK_STR(r->problem.detail, err.detail);
            char *s = acmeva_result_to_json(r);
            char cerr[200];
            CHECK(s != NULL && acmeva_result_check_json(s, strlen(s), cerr, sizeof(cerr)) == 0);
            free(s);
        }
        acmeva_result_free(r);
        acmeva_job_error_clear(&err);
        CHECK(err.id == NULL);
    }
    /* A NULL error is allowed. */
    acmeva_job *j = NULL;
    CHECK(acmeva_job_parse("{}", 2, &j, NULL) == ACMEVA_PROTO_EINVAL && j == NULL);
}

static json_t *get(json_t *o, const char *path)
{
    /* path of member names separated by '/', array indexes as digits */
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf, *next; o != NULL && p != NULL; p = next) {
        next = strchr(p, '/');
        if (next != NULL)
            *next++ = '\0';
        if (json_is_array(o))
            o = json_array_get(o, strtoul(p, NULL, 10));
        else
            o = json_object_get(o, p);
    }
    return o;
}

static const char *gets(json_t *o, const char *path)
{
    return json_string_value(get(o, path));
}

static void test_result_json(void)
{
    acmeva_job *jb = parse_ok(job(DNS_IDENT, HTTP01 ",\"caa\":{}"));
    acmeva_result *r = acmeva_result_new();
    CHECK(r != NULL && r->attempt == 1);
    if (jb == NULL || r == NULL) {
        acmeva_job_free(jb);
        acmeva_result_free(r);
        return;
    }
    CHECK_INT(acmeva_result_set_job(r, jb), 0);
    CHECK_INT(acmeva_result_set_job(r, jb), 0); /* twice: the old copies are freed */
    acmeva_vrecord *rec = acmeva_result_add_record(r);
    CHECK(rec != NULL);
    if (rec != NULL) {
        rec->url = acmeva_strdup_n("http://example.com/x", 20);
        rec->hostname = acmeva_strdup_n("example.com", 11);
        rec->port = acmeva_strdup_n("80", 2);
        acmeva_strlist_add(&rec->addresses_resolved, "2001:db8::1", 11);
        acmeva_strlist_add(&rec->addresses_resolved, "192.0.2.1", 9);
        rec->address_used = acmeva_strdup_n("192.0.2.1", 9);
        acmeva_strlist_add(&rec->addresses_tried, "2001:db8::1", 11);
        acmeva_strlist_add(&rec->resolver_addrs, "127.0.0.1:53", 12);
        /* the fields added within major 1 */
        rec->http_status = 404;
        rec->body = acmeva_strdup_n("<html>\\\"x", 10);
        acmeva_strlist_add(&rec->tried_errors, "Connection refused", 18);
        acmeva_strlist_add(&rec->cnames, "lb.example.net", 14);
        acmeva_strlist_add(&rec->cert_names, "example.com", 11);
        rec->alpn = acmeva_strdup_n("http/1.1", 8);
    }
    rec = acmeva_result_add_record(r);
    if (rec != NULL) {
        rec->hostname = acmeva_strdup_n("_acme-challenge.example.com", 27);
        rec->dnssec = acmeva_strdup_n("secure", 6);
        rec->rcode = acmeva_strdup_n("NOERROR", 7);
        acmeva_strlist_add(&rec->records, "v\xff", 2); /* invalid UTF-8 */
        /* ill-formed sequences: one U+FFFD per maximal subpart, as everywhere */
        acmeva_strlist_add(&rec->records, "d\xe2\x82x\xc0\xaf\xf0\x9f\x98", 9);
        rec->matched_record = acmeva_strdup_n("m", 1);
        rec->expected = acmeva_strdup_n("e", 1);
    }
    CHECK_INT(acmeva_result_set_problem(r, ACMEVA_PROB_UNAUTHORIZED,
                                        "Expected \"a\" (got \"b\xc3\x28\")"),
              0);
    CHECK_INT(acmeva_result_set_problem(r, ACMEVA_PROB_NONE, "x"), ACMEVA_PROTO_EINVAL);
    r->has_caa = 1;
    r->caa_valid = 0;
    r->caa_found_at = acmeva_strdup_n("example.com", 11);
    acmeva_strlist_add(&r->caa_records, "0 issue \"other.example\"", 23);
    acmeva_strlist_add(&r->caa_resolver_addrs, "[::1]:53", 8);
    r->caa_dnssec = acmeva_strdup_n("insecure", 8);
    r->caa_problem.type = ACMEVA_PROB_CAA;
    r->caa_problem.detail = acmeva_strdup_n("CAA record for example.com prevents issuance", 44);
    acmeva_strlist_add(&r->caa_issuer_domains, "ca.example", 10);
    r->caa_decision = acmeva_strdup_n("no issue record permits issuance by this CA", 43);
    r->perspective = acmeva_strdup_n("eu-west", 7);
    r->rir = acmeva_strdup_n("RIPE", 4);
    r->worker = acmeva_strdup_n("h:1:0", 5);
    r->attempt = 2;
    r->started_ms = 1764435590000LL;
    r->duration_ms = 12.3456;

    char *s = acmeva_result_to_json(r);
    CHECK(s != NULL);
    CHECK(s && strchr(s, '\n') == NULL && strstr(s, ": ") == NULL); /* one compact line */
    json_error_t je;
    json_t *o = s ? json_loads(s, JSON_REJECT_DUPLICATES, &je) : NULL;
    CHECK_MSG(o != NULL, "result is not JSON: %s", s ? s : "(null)");
    if (o != NULL) {
        CHECK_INT(json_integer_value(get(o, "v")), 1);
        CHECK_STR(gets(o, "id"), "job-1");
        CHECK_STR(gets(o, "status"), "invalid");
        CHECK_STR(gets(o, "identifier/type"), "dns");
        CHECK_STR(gets(o, "identifier/value"), "example.com");
        CHECK_STR(gets(o, "challenge/type"), "http-01");
        CHECK_STR(gets(o, "challenge/token"), TOK);
        CHECK_INT(json_array_size(get(o, "validationRecord")), 2);
        CHECK_STR(gets(o, "validationRecord/0/url"), "http://example.com/x");
        CHECK_STR(gets(o, "validationRecord/0/port"), "80");
        CHECK_STR(gets(o, "validationRecord/0/addressesResolved/1"), "192.0.2.1");
        CHECK_STR(gets(o, "validationRecord/0/addressUsed"), "192.0.2.1");
        CHECK_STR(gets(o, "validationRecord/0/addressesTried/0"), "2001:db8::1");
        CHECK_STR(gets(o, "validationRecord/0/resolverAddrs/0"), "127.0.0.1:53");
        CHECK(get(o, "validationRecord/0/dnssec") == NULL);  /* NULL members left out */
        CHECK(get(o, "validationRecord/0/records") == NULL); /* empty lists left out */
        CHECK(get(o, "validationRecord/1/url") == NULL);
        CHECK_STR(gets(o, "validationRecord/1/dnssec"), "secure");
        CHECK_STR(gets(o, "validationRecord/1/rcode"), "NOERROR");
        CHECK_STR(gets(o, "validationRecord/1/records/0"), "v\xef\xbf\xbd");
        CHECK_STR(gets(o, "validationRecord/1/records/1"), "d\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbd"
                                                           "\xef\xbf\xbd");
        CHECK_STR(gets(o, "validationRecord/1/matchedRecord"), "m");
        CHECK_INT(json_integer_value(get(o, "validationRecord/0/httpStatus")), 404);
        CHECK_STR(gets(o, "validationRecord/0/body"), "<html>\\\"x");
        CHECK_STR(gets(o, "validationRecord/0/triedErrors/0"), "Connection refused");
        CHECK_STR(gets(o, "validationRecord/0/cnames/0"), "lb.example.net");
        CHECK_STR(gets(o, "validationRecord/0/certNames/0"), "example.com");
        CHECK_STR(gets(o, "validationRecord/0/alpn"), "http/1.1");
        CHECK_STR(gets(o, "validationRecord/1/expected"), "e");
        CHECK(get(o, "validationRecord/1/httpStatus") == NULL); /* 0: none */
        CHECK_STR(gets(o, "caa/issuerDomains/0"), "ca.example");
        CHECK_STR(gets(o, "caa/decision"), "no issue record permits issuance by this CA");
        CHECK(get(o, "addressChecks") == NULL); /* only with acmeva check --all-addresses */
        /* The added fields come after the older ones, so that dropping them gives the bytes a
         * writer of before wrote. */
        CHECK(strstr(s, "\"matchedRecord\":\"m\",\"expected\":\"e\"}") != NULL);
        CHECK(strstr(s, "\"dnssec\":\"insecure\",\"error\":{") != NULL);
        CHECK_STR(gets(o, "error/type"), "urn:ietf:params:acme:error:unauthorized");
        CHECK_STR(gets(o, "error/detail"), "Expected \"a\" (got \"b\xef\xbf\xbd(\")");
        CHECK_INT(json_integer_value(get(o, "error/status")), 403);
        CHECK_STR(gets(o, "caa/status"), "invalid");
        CHECK_STR(gets(o, "caa/foundAt"), "example.com");
        CHECK_STR(gets(o, "caa/records/0"), "0 issue \"other.example\"");
        CHECK_STR(gets(o, "caa/resolverAddrs/0"), "[::1]:53");
        CHECK_STR(gets(o, "caa/dnssec"), "insecure");
        CHECK_STR(gets(o, "caa/error/type"), "urn:ietf:params:acme:error:caa");
        CHECK_INT(json_integer_value(get(o, "caa/error/status")), 403);
        CHECK(get(o, "caa/note") == NULL);
        CHECK_STR(gets(o, "perspective"), "eu-west");
        CHECK_STR(gets(o, "rir"), "RIPE");
        CHECK_STR(gets(o, "worker"), "h:1:0");
        /* No version given: this build's, the one --version prints. */
        CHECK_STR(gets(o, "workerVersion"), acmeva_version());
        CHECK(get(o, "policyVersion") == NULL); /* acmeva check: no policy, no member */
        CHECK(acmeva_version()[0] != '\0');
        CHECK_INT(json_integer_value(get(o, "attempt")), 2);
        CHECK_INT(json_integer_value(get(o, "startedMs")), 1764435590000LL);
        CHECK(json_is_real(get(o, "durationMs")));
        CHECK(strstr(s, "\"durationMs\":12.3}") != NULL); /* 0.1 ms, last member */
        json_decref(o);
    }
    char cerr[200];
    CHECK_MSG(s && acmeva_result_check_json(s, strlen(s), cerr, sizeof(cerr)) == 0, "%s", cerr);
    free(s);

    /* A valid result: no "error", caa error null, foundAt null, a note; no challenge. */
    acmeva_result *v = acmeva_result_new();
    if (v != NULL) {
        v->valid = 1;
        v->ident_type = acmeva_strdup_n("ip", 2);
        v->ident_value = acmeva_strdup_n("192.0.2.1", 9);
        v->has_caa = 1;
        v->caa_valid = 1;
        v->caa_note = acmeva_strdup_n("CAA is not checked for IP identifiers", 37);
        v->worker_version = acmeva_strdup_n("1.2.3-4-gabcdef0", 16);
        v->has_policy_version = 1;
        v->policy_version = 9007199254740993LL; /* above 2^53: written exactly */
        s = acmeva_result_to_json(v);
        o = s ? json_loads(s, 0, &je) : NULL;
        CHECK(o != NULL);
        if (o != NULL) {
            CHECK_STR(gets(o, "status"), "valid");
            CHECK(json_is_null(get(o, "id")));
            CHECK(get(o, "error") == NULL);
            CHECK(get(o, "challenge") == NULL);
            CHECK(json_is_array(get(o, "validationRecord")) &&
                  json_array_size(get(o, "validationRecord")) == 0);
            CHECK(json_is_null(get(o, "caa/foundAt")));
            CHECK_STR(gets(o, "workerVersion"), "1.2.3-4-gabcdef0");
            CHECK(json_integer_value(get(o, "policyVersion")) == 9007199254740993LL);
            CHECK(strstr(s, "\"policyVersion\":9007199254740993,\"attempt\"") != NULL);
            CHECK(json_is_null(get(o, "caa/error")));
            CHECK_STR(gets(o, "caa/note"), "CAA is not checked for IP identifiers");
            CHECK_STR(gets(o, "perspective"), "");
            CHECK(get(o, "caa/records") == NULL);
            CHECK(strstr(s, "\"durationMs\":0.0}") != NULL);
            json_decref(o);
        }
        CHECK(s && acmeva_result_check_json(s, strlen(s), cerr, sizeof(cerr)) == 0);
        free(s);
        /* invalid without a recorded problem still writes a problem (serverInternal) */
        v->valid = 0;
        v->duration_ms = -3;
        s = acmeva_result_to_json(v);
        o = s ? json_loads(s, 0, &je) : NULL;
        CHECK_STR(gets(o, "error/type"), "urn:ietf:params:acme:error:serverInternal");
        CHECK_INT(json_integer_value(get(o, "error/status")), 500);
        CHECK(json_real_value(get(o, "durationMs")) == 0.0);
        json_decref(o);
        CHECK(s && acmeva_result_check_json(s, strlen(s), cerr, sizeof(cerr)) == 0);
        free(s);
    }
    acmeva_result_free(v);

    /* dns-persist-01: a challenge without a token. */
    acmeva_job *pj = parse_ok(job(DNS_IDENT, ",\"challenge\":{\"type\":\"dns-persist-01\"},"
                                             "\"accountUri\":\"" ACCT "\""));
    acmeva_result *pr = acmeva_result_new();
    if (pj != NULL && pr != NULL && acmeva_result_set_job(pr, pj) == 0) {
        s = acmeva_result_to_json(pr);
        CHECK(s && strstr(s, "\"challenge\":{\"type\":\"dns-persist-01\"}") != NULL);
        free(s);
    }
    acmeva_result_free(pr);
    acmeva_job_free(pj);

    /* acmeva check --all-addresses: one outcome per address, each with its records. */
    acmeva_result *all = acmeva_result_new();
    acmeva_result *ok1 = acmeva_result_new(), *bad1 = acmeva_result_new();
    if (all != NULL && ok1 != NULL && bad1 != NULL) {
        all->valid = 0;
        acmeva_result_set_problem(all, ACMEVA_PROB_UNAUTHORIZED, "192.0.2.2: old file");
        ok1->valid = 1;
        acmeva_vrecord *ar = acmeva_result_add_record(ok1);
        if (ar != NULL)
            ar->address_used = acmeva_strdup_n("192.0.2.1", 9);
        acmeva_result_set_problem(bad1, ACMEVA_PROB_UNAUTHORIZED, "old file");
        CHECK_INT(acmeva_result_add_address_check(all, "192.0.2.1", ok1), 0);
        CHECK_INT(acmeva_result_add_address_check(all, "192.0.2.2", bad1), 0);
        CHECK_INT(acmeva_result_add_address_check(all, NULL, bad1), ACMEVA_PROTO_EINVAL);
        s = acmeva_result_to_json(all);
        o = s ? json_loads(s, 0, &je) : NULL;
        CHECK(o != NULL);
        CHECK_INT(json_array_size(get(o, "addressChecks")), 2);
        CHECK_STR(gets(o, "addressChecks/0/address"), "192.0.2.1");
        CHECK_STR(gets(o, "addressChecks/0/status"), "valid");
        CHECK(get(o, "addressChecks/0/error") == NULL);
        CHECK_STR(gets(o, "addressChecks/0/validationRecord/0/addressUsed"), "192.0.2.1");
        CHECK_STR(gets(o, "addressChecks/1/status"), "invalid");
        CHECK_STR(gets(o, "addressChecks/1/error/detail"), "old file");
        CHECK(json_array_size(get(o, "addressChecks/1/validationRecord")) == 0);
        json_decref(o);
        CHECK_MSG(s && acmeva_result_check_json(s, strlen(s), cerr, sizeof(cerr)) == 0, "%s", cerr);
        free(s);
        /* The cap: further checks are refused and stay the caller's. */
        while (all->n_address_checks < ACMEVA_MAX_ADDRESS_CHECKS) {
            acmeva_result *x = acmeva_result_new();
            if (x == NULL || acmeva_result_add_address_check(all, "192.0.2.9", x) != 0) {
                acmeva_result_free(x);
                break;
            }
        }
        acmeva_result *extra = acmeva_result_new();
        CHECK_INT(acmeva_result_add_address_check(all, "192.0.2.9", extra), ACMEVA_PROTO_EINVAL);
        acmeva_result_free(extra);
        CHECK_INT(all->n_address_checks, ACMEVA_MAX_ADDRESS_CHECKS);
    } else {
        acmeva_result_free(ok1);
        acmeva_result_free(bad1);
    }
    acmeva_result_free(all);

    /* The record cap. */
    acmeva_result *many = acmeva_result_new();
    int added = 0;
    while (many && acmeva_result_add_record(many) != NULL && added < 1000)
        added++;
    CHECK_INT(added, ACMEVA_RESULT_MAX_RECORDS);
    acmeva_result_free(many);

    acmeva_result_free(r);
    acmeva_job_free(jb);
}

static void check_result_refused(const char *json, const char *field)
{
    char err[256];
    int rc = acmeva_result_check_json(json, strlen(json), err, sizeof(err));
    CHECK_MSG(rc == ACMEVA_PROTO_EINVAL, "accepted, want refusal on %s: %s", field, json);
    size_t n = strlen(field);
    CHECK_MSG(strncmp(err, field, n) == 0 && err[n] == ':', "error \"%s\", want field %s", err,
              field);
}

static void test_result_check(void)
{
#define RTAIL                                                                                      \
    ",\"perspective\":\"p\",\"rir\":\"\",\"worker\":\"w\",\"attempt\":1,\"startedMs\":5,"          \
    "\"durationMs\":1}"
    const char *ok = "{\"v\":1,\"id\":\"x\",\"status\":\"valid\",\"validationRecord\":[]" RTAIL;
    char err[128];
    CHECK_INT(acmeva_result_check_json(ok, strlen(ok), err, sizeof(err)), 0);
    check_result_refused(
        "{\"v\":1,\"id\":\"x\",\"status\":\"invalid\",\"validationRecord\":[]" RTAIL, "error");
    check_result_refused(
        "{\"v\":1,\"id\":\"x\",\"status\":\"invalid\",\"validationRecord\":[],"
        "\"error\":{\"type\":\"urn:ietf:params:acme:error:dns\",\"detail\":\"d\"}" RTAIL,
        "error.status");
    check_result_refused("{\"v\":1,\"status\":\"valid\",\"validationRecord\":[]" RTAIL, "id");
    check_result_refused("{\"v\":1,\"id\":\"x\",\"status\":\"valid\"" RTAIL, "validationRecord");
    check_result_refused(
        "{\"v\":1,\"id\":\"x\",\"status\":\"valid\",\"validationRecord\":[{\"port\":80}]" RTAIL,
        "validationRecord[0].port");
    check_result_refused("{\"v\":1,\"id\":\"x\",\"status\":\"valid\",\"validationRecord\":[],"
                         "\"caa\":{\"status\":\"valid\",\"error\":null}" RTAIL,
                         "caa.foundAt");
    check_result_refused("{\"v\":1,\"id\":\"x\",\"status\":\"valid\",\"validationRecord\":[],"
                         "\"caa\":{\"status\":\"valid\",\"foundAt\":null,\"error\":null,"
                         "\"resolverAddrs\":\"127.0.0.1:53\"}" RTAIL,
                         "caa.resolverAddrs");
    check_result_refused("{\"v\":1,\"id\":\"x\",\"status\":\"valid\",\"validationRecord\":[],"
                         "\"caa\":{\"status\":\"valid\",\"foundAt\":null,\"error\":null,"
                         "\"dnssec\":true}" RTAIL,
                         "caa.dnssec");
    check_result_refused("{\"v\":1,\"id\":\"x\",\"status\":\"valid\",\"validationRecord\":[],"
                         "\"perspective\":\"p\",\"rir\":\"\",\"worker\":\"w\",\"attempt\":1,"
                         "\"startedMs\":5}",
                         "durationMs");
    check_result_refused("{\"v\":1,\"id\":\"x\",\"status\":\"valid\",\"validationRecord\":[],"
                         "\"workerVersion\":5" RTAIL,
                         "workerVersion");
    check_result_refused("{\"v\":1,\"id\":\"x\",\"status\":\"valid\",\"validationRecord\":[],"
                         "\"policyVersion\":\"3\"" RTAIL,
                         "policyVersion");
    check_result_refused("{\"v\":1,\"id\":\"x\",\"status\":\"valid\",\"validationRecord\":[],"
                         "\"policyVersion\":-1" RTAIL,
                         "policyVersion");
    check_result_refused("{\"v\":1,\"v\":1,\"id\":\"x\"}", "result");
    check_result_refused("[]", "result");
    CHECK(acmeva_result_check_json("{}", 2, NULL, 0) == ACMEVA_PROTO_EINVAL);
#undef RTAIL
}

/* The examples: "job-*.json" parse, "result-*.json" pass the result check, and every file of
 * invalid/ ("<job|result>--<field>--<rule>.json", "document" standing for the whole document)
 * is refused with that field. */
static void test_examples(void)
{
    const char *src = getenv("ACMEVA_SOURCE_DIR");
    CHECK_MSG(src != NULL, "ACMEVA_SOURCE_DIR is not set (the source tree, for proto/examples)");
    if (src == NULL)
        return;
    int jobs_ok = 0, results_ok = 0, refused = 0;
    for (int pass = 0; pass < 2; pass++) {
        char dirpath[4096];
        snprintf(dirpath, sizeof(dirpath), "%s/proto/examples%s", src, pass ? "/invalid" : "");
        DIR *d = opendir(dirpath);
        CHECK_MSG(d != NULL, "cannot open %s", dirpath);
        if (d == NULL)
            continue;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            const char *name = de->d_name;
            size_t nlen = strlen(name);
            if (name[0] == '.' || nlen < 6 || strcmp(name + nlen - 5, ".json") != 0)
                continue;
            char path[8192];
            snprintf(path, sizeof(path), "%s/%s", dirpath, name);
            FILE *f = fopen(path, "rb");
            CHECK_MSG(f != NULL, "cannot open %s", path);
            if (f == NULL)
                continue;
            static char buf[ACMEVA_JOB_MAX_BYTES + 2];
            size_t len = fread(buf, 1, sizeof(buf), f);
            fclose(f);
            int is_job = strncmp(name, "job", 3) == 0;
            CHECK_MSG(is_job || strncmp(name, "result", 6) == 0, "%s: neither job nor result",
                      name);
            if (!pass) {
                if (is_job) {
                    acmeva_job *j = NULL;
                    acmeva_job_error err;
                    int rc = acmeva_job_parse(buf, len, &j, &err);
                    CHECK_MSG(rc == 0, "%s refused: %s", name, err.detail);
                    jobs_ok += rc == 0;
                    acmeva_job_free(j);
                    acmeva_job_error_clear(&err);
                } else {
                    char err[256];
                    int rc = acmeva_result_check_json(buf, len, err, sizeof(err));
                    CHECK_MSG(rc == 0, "%s refused: %s", name, err);
                    results_ok += rc == 0;
                }
                continue;
            }
            /* the field is between the first and the second "--" */
            const char *a = strstr(name, "--");
            const char *b = a ? strstr(a + 2, "--") : NULL;
            CHECK_MSG(a && b, "%s: not named <kind>--<field>--<rule>.json", name);
            if (!a || !b)
                continue;
            char field[128];
            snprintf(field, sizeof(field), "%.*s", (int)(b - a - 2), a + 2);
            if (strcmp(field, "document") == 0)
                field[0] = '\0';
            if (is_job) {
                acmeva_job *j = NULL;
                acmeva_job_error err;
                int rc = acmeva_job_parse(buf, len, &j, &err);
                CHECK_MSG(rc == ACMEVA_PROTO_EINVAL && strcmp(err.field, field) == 0,
                          "%s: rc %d field \"%s\" (%s), want \"%s\"", name, rc, err.field,
                          err.detail, field);
                refused += rc == ACMEVA_PROTO_EINVAL && strcmp(err.field, field) == 0;
                acmeva_job_free(j);
                acmeva_job_error_clear(&err);
            } else {
                char err[256];
                int rc = acmeva_result_check_json(buf, len, err, sizeof(err));
                size_t n = strlen(field);
                int ok = rc == ACMEVA_PROTO_EINVAL && strncmp(err, field, n) == 0 && err[n] == ':';
                CHECK_MSG(ok, "%s: rc %d \"%s\", want field %s", name, rc, err, field);
                refused += ok;
            }
        }
        closedir(d);
    }
    /* the examples the task names are all there */
    CHECK_MSG(jobs_ok >= 9, "%d valid job examples", jobs_ok);
    CHECK_MSG(results_ok >= 5, "%d valid result examples", results_ok);
    CHECK_MSG(refused >= 60, "%d invalid examples refused", refused);
}

static void test_strlist_move(void)
{
    acmeva_strlist a = {0}, b = {0};
    CHECK_INT(acmeva_strlist_move(&a, &b), 0); /* both empty */
    CHECK_INT(a.n, 0);
    acmeva_strlist_add(&b, "x", 1);
    acmeva_strlist_add(&b, "y", 1);
    CHECK_INT(acmeva_strlist_move(&a, &b), 0); /* into an empty list: the array moves */
    CHECK_INT(a.n, 2);
    CHECK_INT(b.n, 0);
    CHECK(b.v == NULL);
    acmeva_strlist_add(&b, "z", 1);
    CHECK_INT(acmeva_strlist_move(&a, &b), 0); /* appended */
    CHECK_INT(a.n, 3);
    CHECK_STR(a.v[0], "x");
    CHECK_STR(a.v[2], "z");
    CHECK_INT(b.n, 0);
    acmeva_strlist_clear(&a);
    acmeva_strlist_clear(&b);
}

int main(void)
{
    test_names();
    test_dns_names();
    test_ips_and_base64url();
    test_utf8_decode();
    test_utf8_and_strings();
    test_job_valid();
    test_job_refused();
    test_job_error_id();
    test_result_json();
    test_result_check();
    test_examples();
    test_strlist_move();
    return CHECK_DONE();
}
