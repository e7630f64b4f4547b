/*
 * Tests of dns-persist-01 record judgement (worker/dnspersist.c): the verdict table, the
 * parser's fields and limits, and the draft-02 hashed account URI with the draft's vectors.
 */
#include <stdint.h>
#include <string.h>

#include "acmeva/proto.h"
#include "check.h"
#include "dnspersist.h"

#define ACCT "https://ca.example/acct/123"
#define ISS "authority.example"
#define NOW INT64_C(1700000000)

static const char *const issuers[] = {"authority.example", "ca.example.net"};

typedef struct {
    const char *name;
    const char *txt;
    int wildcard;
    const char *account;
    acmeva_persist_verdict want;
    const char *why_has; /* a piece of text |why| must contain, or NULL */
} judge_case;

/* clang-format off: one case per entry reads better than one field per line */
static const judge_case cases[] = {
    /* matches */
    {"basic record", ISS "; accounturi=" ACCT, 0, ACCT, ACMEVA_PERSIST_MATCH,
     "record for issuer authority.example matches"},
    {"no whitespace", ISS ";accounturi=" ACCT, 0, ACCT, ACMEVA_PERSIST_MATCH, NULL},
    {"whitespace around ';' and '='", " \t" ISS " \t;\t accounturi \t= " ACCT " \t", 0, ACCT,
     ACMEVA_PERSIST_MATCH, NULL},
    {"issuer compared without case", "AUTHORITY.Example; accounturi=" ACCT, 0, ACCT,
     ACMEVA_PERSIST_MATCH, NULL},
    {"issuer with a trailing dot", ISS ".; accounturi=" ACCT, 0, ACCT, ACMEVA_PERSIST_MATCH, NULL},
    {"second issuer domain", "ca.example.net; accounturi=" ACCT, 0, ACCT, ACMEVA_PERSIST_MATCH,
     NULL},
    {"tag matched without case", ISS "; AccountURI=" ACCT, 0, ACCT, ACMEVA_PERSIST_MATCH, NULL},
    {"unknown parameter ignored", ISS "; foo=bar; accounturi=" ACCT "; x-y=", 0, ACCT,
     ACMEVA_PERSIST_MATCH, NULL},
    {"unknown parameter twice is ignored too", ISS "; accounturi=" ACCT "; foo=1; FOO=2", 0, ACCT,
     ACMEVA_PERSIST_MATCH, NULL},
    {"wildcard with policy=wildcard", ISS "; accounturi=" ACCT "; policy=wildcard", 1, ACCT,
     ACMEVA_PERSIST_MATCH, NULL},
    {"policy value without case", ISS "; accounturi=" ACCT "; Policy=WildCard", 1, ACCT,
     ACMEVA_PERSIST_MATCH, NULL},
    {"other policy ignored for a plain name", ISS "; accounturi=" ACCT "; policy=subdomains", 0,
     ACCT, ACMEVA_PERSIST_MATCH, NULL},
    {"persistUntil in the future", ISS "; accounturi=" ACCT "; persistUntil=1700000001", 0, ACCT,
     ACMEVA_PERSIST_MATCH, NULL},
    {"persistUntil equal to now", ISS "; accounturi=" ACCT "; persistUntil=1700000000", 0, ACCT,
     ACMEVA_PERSIST_MATCH, NULL},
    {"persistUntil with a '+' sign", ISS "; accounturi=" ACCT "; persistuntil=+1800000000", 0, ACCT,
     ACMEVA_PERSIST_MATCH, NULL},
    {"draft-02 hashed URI record (figure 2)",
     "authority.example; accounturi=https://ca.example/account-hash/"
     "sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw",
     0, "https://ca.example/account-hash/sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw",
     ACMEVA_PERSIST_MATCH, NULL},

    /* other issuers are skipped, whatever they contain */
    {"another issuer", "other.example; accounturi=" ACCT, 0, ACCT, ACMEVA_PERSIST_OTHER_ISSUER,
     "issuer-domain-name \"other.example\" is not this CA's"},
    {"another issuer with bad syntax", "other.example; garbage;;", 0, ACCT,
     ACMEVA_PERSIST_OTHER_ISSUER, NULL},
    {"issuer that is a suffix of ours", "example; accounturi=" ACCT, 0, ACCT,
     ACMEVA_PERSIST_OTHER_ISSUER, NULL},
    {"issuer that extends ours", "sub.authority.example; accounturi=" ACCT, 0, ACCT,
     ACMEVA_PERSIST_OTHER_ISSUER, NULL},
    {"issuer followed by other text", ISS " x; accounturi=" ACCT, 0, ACCT,
     ACMEVA_PERSIST_OTHER_ISSUER, NULL},
    {"no issuer", "; accounturi=" ACCT, 0, ACCT, ACMEVA_PERSIST_OTHER_ISSUER, NULL},
    {"empty record", "", 0, ACCT, ACMEVA_PERSIST_OTHER_ISSUER, NULL},
    {"dns-01 style value", "lCdftpJCXapaZHkBGIZbcubeKW8RmA0jSG_aZN01zbU", 0, ACCT,
     ACMEVA_PERSIST_OTHER_ISSUER, NULL},

    /* ours, malformed */
    {"issuer only", ISS, 0, ACCT, ACMEVA_PERSIST_MALFORMED,
     "missing mandatory accounturi parameter"},
    {"issuer and ';' only", ISS ";", 0, ACCT, ACMEVA_PERSIST_MALFORMED, "missing mandatory"},
    {"empty accounturi", ISS "; accounturi=", 0, ACCT, ACMEVA_PERSIST_MALFORMED,
     "empty accounturi"},
    {"accounturi twice", ISS "; accounturi=" ACCT "; accounturi=" ACCT, 0, ACCT,
     ACMEVA_PERSIST_MALFORMED, "parameter \"accounturi\" repeated"},
    {"accounturi twice, different case", ISS "; accounturi=" ACCT "; ACCOUNTURI=" ACCT, 0, ACCT,
     ACMEVA_PERSIST_MALFORMED, "repeated"},
    {"policy twice", ISS "; accounturi=" ACCT "; policy=wildcard; policy=wildcard", 1, ACCT,
     ACMEVA_PERSIST_MALFORMED, "repeated"},
    {"persistUntil twice", ISS "; accounturi=" ACCT "; persistUntil=1; PERSISTUNTIL=1", 0, ACCT,
     ACMEVA_PERSIST_MALFORMED, "parameter \"PERSISTUNTIL\" repeated"},
    {"';' after the last parameter", ISS "; accounturi=" ACCT ";", 0, ACCT,
     ACMEVA_PERSIST_MALFORMED, "';' after the last parameter"},
    {"parameter without '='", ISS "; accounturi=" ACCT "; policy", 0, ACCT,
     ACMEVA_PERSIST_MALFORMED, NULL},
    {"space inside a value", ISS "; accounturi=https://ca.example/acct/ 123", 0, ACCT,
     ACMEVA_PERSIST_MALFORMED, NULL},
    {"persistUntil not a number", ISS "; accounturi=" ACCT "; persistUntil=abc", 0, ACCT,
     ACMEVA_PERSIST_MALFORMED, "persistUntil \"abc\" is not a base-10 integer"},
    {"persistUntil empty", ISS "; accounturi=" ACCT "; persistUntil=", 0, ACCT,
     ACMEVA_PERSIST_MALFORMED, NULL},
    {"persistUntil as a date", ISS "; accounturi=" ACCT "; persistUntil=2026-01-01", 0, ACCT,
     ACMEVA_PERSIST_MALFORMED, NULL},
    {"persistUntil beyond int64", ISS "; accounturi=" ACCT "; persistUntil=9223372036854775808", 0,
     ACCT, ACMEVA_PERSIST_MALFORMED, NULL},
    {"persistUntil with a fraction", ISS "; accounturi=" ACCT "; persistUntil=1800000000.5", 0,
     ACCT, ACMEVA_PERSIST_MALFORMED, NULL},
    {"bad parameter tag", ISS "; accounturi=" ACCT "; foo_bar=1", 0, ACCT, ACMEVA_PERSIST_MALFORMED,
     NULL},
    {"byte outside ASCII in a value", ISS "; accounturi=" ACCT "\xc3\xa9", 0, ACCT,
     ACMEVA_PERSIST_MALFORMED, NULL},

    /* ours, well-formed, not authorizing */
    {"another account", ISS "; accounturi=https://ca.example/acct/124", 0, ACCT,
     ACMEVA_PERSIST_MISMATCH,
     "accounturi mismatch: expected \"" ACCT "\", got \"https://ca.example/acct/124\""},
    {"account URI compared with case", ISS "; accounturi=https://CA.example/acct/123", 0, ACCT,
     ACMEVA_PERSIST_MISMATCH, "accounturi mismatch"},
    {"account URI with a trailing slash", ISS "; accounturi=" ACCT "/", 0, ACCT,
     ACMEVA_PERSIST_MISMATCH, NULL},
    {"no account URI in the job", ISS "; accounturi=" ACCT, 0, NULL, ACMEVA_PERSIST_MISMATCH,
     "no account URI"},
    {"wildcard without policy", ISS "; accounturi=" ACCT, 1, ACCT, ACMEVA_PERSIST_MISMATCH,
     "needs policy=wildcard"},
    {"wildcard with another policy", ISS "; accounturi=" ACCT "; policy=wildcards", 1, ACCT,
     ACMEVA_PERSIST_MISMATCH, "needs policy=wildcard"},
    {"wildcard with policy under another tag", ISS "; accounturi=" ACCT "; policies=wildcard", 1,
     ACCT, ACMEVA_PERSIST_MISMATCH, NULL},
    {"persistUntil in the past", ISS "; accounturi=" ACCT "; persistUntil=1699999999", 0, ACCT,
     ACMEVA_PERSIST_MISMATCH, "persistUntil 1699999999 is in the past (now 1700000000)"},
    {"negative persistUntil", ISS "; accounturi=" ACCT "; persistUntil=-5", 0, ACCT,
     ACMEVA_PERSIST_MISMATCH, "in the past"},
    {"draft example 10.6 before it expires",
     ISS "; accounturi=" ACCT "; policy=wildcard; persistUntil=1721952000", 1, ACCT,
     ACMEVA_PERSIST_MATCH, NULL},
};
/* clang-format on */

static void test_judge_table(void)
{
    size_t n = sizeof(cases) / sizeof(cases[0]);
    CHECK(n >= 20);
    for (size_t i = 0; i < n; i++) {
        const judge_case *c = &cases[i];
        char why[512];
        acmeva_persist_verdict got = acmeva_persist_judge(
            c->txt, strlen(c->txt), issuers, 2, c->account, c->wildcard, NOW, why, sizeof(why));
        CHECK_MSG(got == c->want, "%s: verdict %d, want %d (why: %s)", c->name, (int)got,
                  (int)c->want, why);
        if (c->why_has != NULL)
            CHECK_MSG(strstr(why, c->why_has) != NULL, "%s: why \"%s\" lacks \"%s\"", c->name, why,
                      c->why_has);
    }
}

static void test_judge_edges(void)
{
    char why[256];
    /* the draft's 10.6 record is expired once now passes 2024-07-26 */
    const char *rec = ISS "; accounturi=" ACCT "; policy=wildcard; persistUntil=1721952000";
    CHECK_INT(acmeva_persist_judge(rec, strlen(rec), issuers, 2, ACCT, 1, INT64_C(1721952001), why,
                                   sizeof(why)),
              ACMEVA_PERSIST_MISMATCH);
    CHECK_INT(acmeva_persist_judge(rec, strlen(rec), issuers, 2, ACCT, 1, INT64_C(1721952000), why,
                                   sizeof(why)),
              ACMEVA_PERSIST_MATCH);

    /* NUL bytes are bytes: inside the issuer it is another issuer, after it malformed */
    static const char nul_issuer[] = "authority.example\0; accounturi=" ACCT;
    CHECK_INT(acmeva_persist_judge(nul_issuer, sizeof(nul_issuer) - 1, issuers, 2, ACCT, 0, NOW,
                                   why, sizeof(why)),
              ACMEVA_PERSIST_OTHER_ISSUER);
    CHECK(strstr(why, "\\x00") != NULL);
    static const char nul_value[] = "authority.example; accounturi=" ACCT "\0x";
    CHECK_INT(acmeva_persist_judge(nul_value, sizeof(nul_value) - 1, issuers, 2, ACCT, 0, NOW, why,
                                   sizeof(why)),
              ACMEVA_PERSIST_MALFORMED);

    /* only |len| bytes are read */
    const char *longer = ISS "; accounturi=" ACCT ";garbage";
    CHECK_INT(acmeva_persist_judge(longer, strlen(ISS "; accounturi=" ACCT), issuers, 2, ACCT, 0,
                                   NOW, why, sizeof(why)),
              ACMEVA_PERSIST_MATCH);

    /* configured issuers are normalized too; NULL entries are skipped */
    const char *const odd[] = {NULL, "Authority.Example."};
    const char *rec2 = ISS "; accounturi=" ACCT;
    CHECK_INT(acmeva_persist_judge(rec2, strlen(rec2), odd, 2, ACCT, 0, NOW, NULL, 0),
              ACMEVA_PERSIST_MATCH);
    CHECK_INT(acmeva_persist_judge(rec2, strlen(rec2), NULL, 0, ACCT, 0, NOW, why, sizeof(why)),
              ACMEVA_PERSIST_OTHER_ISSUER);
    CHECK_INT(acmeva_persist_judge(NULL, 5, issuers, 2, ACCT, 0, NOW, why, sizeof(why)),
              ACMEVA_PERSIST_OTHER_ISSUER);
    CHECK_INT(acmeva_persist_judge(NULL, 0, issuers, 2, ACCT, 0, NOW, why, sizeof(why)),
              ACMEVA_PERSIST_OTHER_ISSUER);

    /* a short |why| is cut and stays terminated */
    char small[6];
    CHECK_INT(
        acmeva_persist_judge(rec2, strlen(rec2), issuers, 2, ACCT, 0, NOW, small, sizeof(small)),
        ACMEVA_PERSIST_MATCH);
    CHECK_STR(small, "recor");

    /* quoted record bytes are escaped and cut */
    char junk[300];
    memset(junk, 'q', sizeof(junk));
    junk[0] = '"';
    junk[1] = '\x1b';
    char big[512];
    CHECK_INT(acmeva_persist_judge(junk, sizeof(junk), issuers, 2, ACCT, 0, NOW, big, sizeof(big)),
              ACMEVA_PERSIST_OTHER_ISSUER);
    CHECK(strstr(big, "\"\\x22\\x1bqq") != NULL);
    CHECK(strstr(big, "q...\" is not this CA's") != NULL);
}

/* with_unknown builds "<head>" followed by |n| unknown parameters "; u<i>=<i>" and then |tail|
 * into |buf|; returns the length. */
static size_t with_unknown(char *buf, size_t cap, const char *head, int n, const char *tail)
{
    size_t o = (size_t)snprintf(buf, cap, "%s", head);
    for (int i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "; u%d=%d", i, i);
    if (o < cap)
        o += (size_t)snprintf(buf + o, cap - o, "%s", tail);
    return o < cap ? o : cap - 1;
}

/* draft §4.1 item 1: unknown parameters are ignored, however many there are. The CAA value
 * parser stops at ACMEVA_CAA_MAX_PARAMS (16); a dns-persist-01 record must not. */
static void test_many_unknown_parameters(void)
{
    static char rec[70000];
    char why[256];
    acmeva_persist_value v;
    char err[256];
    const int counts[] = {17, 40, 1000, 5000};
    for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
        size_t n = with_unknown(rec, sizeof(rec), ISS "; accounturi=" ACCT, counts[k],
                                "; policy=wildcard");
        CHECK_MSG(acmeva_persist_judge(rec, n, issuers, 2, ACCT, 1, NOW, why, sizeof(why)) ==
                      ACMEVA_PERSIST_MATCH,
                  "%d unknown parameters: %s", counts[k], why);
        CHECK_INT(acmeva_persist_parse(rec, n, &v, err, sizeof(err)), 0);
        CHECK_STR(v.account_uri, ACCT);
        CHECK_INT(v.policy_wildcard, 1);
        /* the known parameters may come after the unknown ones too */
        n = with_unknown(rec, sizeof(rec), ISS, counts[k], "; accounturi=" ACCT);
        CHECK_INT(acmeva_persist_judge(rec, n, issuers, 2, ACCT, 0, NOW, why, sizeof(why)),
                  ACMEVA_PERSIST_MATCH);
        /* a known tag given twice, far apart, is still malformed */
        n = with_unknown(rec, sizeof(rec), ISS "; accounturi=" ACCT, counts[k],
                         "; AccountUri=" ACCT);
        CHECK_INT(acmeva_persist_judge(rec, n, issuers, 2, ACCT, 0, NOW, why, sizeof(why)),
                  ACMEVA_PERSIST_MALFORMED);
        CHECK(strstr(why, "\"AccountUri\" repeated") != NULL);
        /* and a syntax error after them is still found */
        n = with_unknown(rec, sizeof(rec), ISS "; accounturi=" ACCT, counts[k], ";");
        CHECK_INT(acmeva_persist_judge(rec, n, issuers, 2, ACCT, 0, NOW, why, sizeof(why)),
                  ACMEVA_PERSIST_MALFORMED);
    }

    /* unknown tags and values longer than the CAA caps (63, 1023) are ignored as well */
    size_t o = (size_t)snprintf(rec, sizeof(rec), ISS "; accounturi=" ACCT "; ");
    memset(rec + o, 't', 200);
    o += 200;
    rec[o++] = '=';
    memset(rec + o, 'v', 3000);
    o += 3000;
    CHECK_INT(acmeva_persist_judge(rec, o, issuers, 2, ACCT, 0, NOW, why, sizeof(why)),
              ACMEVA_PERSIST_MATCH);
}

static void test_parse(void)
{
    acmeva_persist_value v;
    char err[256];
    const char *rec = " Authority.EXAMPLE. ; accounturi=" ACCT "; POLICY=Wildcard; "
                      "persistUntil=1721952000; note=x";
    CHECK_INT(acmeva_persist_parse(rec, strlen(rec), &v, err, sizeof(err)), 0);
    CHECK_STR(v.issuer, "authority.example");
    CHECK_STR(v.account_uri, ACCT);
    CHECK_INT(v.has_account_uri, 1);
    CHECK_INT(v.policy_wildcard, 1);
    CHECK_INT(v.has_persist_until, 1);
    CHECK_INT(v.persist_until, 1721952000);

    const char *plain = ISS "; accounturi=" ACCT "; policy=other";
    CHECK_INT(acmeva_persist_parse(plain, strlen(plain), &v, err, sizeof(err)), 0);
    CHECK_INT(v.policy_wildcard, 0);
    CHECK_INT(v.has_persist_until, 0);

    /* int64 bounds */
    const char *max = ISS "; accounturi=x; persistUntil=9223372036854775807";
    CHECK_INT(acmeva_persist_parse(max, strlen(max), &v, err, sizeof(err)), 0);
    CHECK(v.persist_until == INT64_MAX);
    const char *min = ISS "; accounturi=x; persistUntil=-9223372036854775808";
    CHECK_INT(acmeva_persist_parse(min, strlen(min), &v, err, sizeof(err)), 0);
    CHECK(v.persist_until == INT64_MIN);
    const char *below = ISS "; accounturi=x; persistUntil=-9223372036854775809";
    CHECK_INT(acmeva_persist_parse(below, strlen(below), &v, err, sizeof(err)),
              ACMEVA_PERSIST_ESYNTAX);
    const char *sign = ISS "; accounturi=x; persistUntil=-";
    CHECK_INT(acmeva_persist_parse(sign, strlen(sign), &v, err, sizeof(err)),
              ACMEVA_PERSIST_ESYNTAX);

    /* issuer-domain-name syntax and length (draft §3.1: at most 253 octets) */
    const char *bad_issuer[] = {
        "; accounturi=x",           "auth_ority.example; accounturi=x", "-a.example; accounturi=x",
        "a..example; accounturi=x", "\xc3\xbc.example; accounturi=x",   ".; accounturi=x"};
    for (size_t i = 0; i < sizeof(bad_issuer) / sizeof(bad_issuer[0]); i++)
        CHECK_MSG(acmeva_persist_parse(bad_issuer[i], strlen(bad_issuer[i]), &v, err,
                                       sizeof(err)) == ACMEVA_PERSIST_ESYNTAX,
                  "issuer of \"%s\" accepted", bad_issuer[i]);
    char name[300];
    memset(name, 'a', sizeof(name));
    for (int i = 63; i < 300; i += 64)
        name[i] = '.';
    memcpy(name + 253, "; accounturi=x", 14);
    CHECK_INT(acmeva_persist_parse(name, 253 + 14, &v, err, sizeof(err)), 0);
    CHECK_INT(strlen(v.issuer), 253);
    name[253] = 'a';
    memcpy(name + 254, "; accounturi=x", 14);
    CHECK_INT(acmeva_persist_parse(name, 254 + 14, &v, err, sizeof(err)), ACMEVA_PERSIST_ESYNTAX);

    /* accounturi up to the longest account URI a job can carry is kept whole */
    char big[1100];
    memcpy(big, "a.example; accounturi=", 22);
    memset(big + 22, 'u', ACMEVA_ACCOUNT_URI_MAX);
    CHECK_INT(acmeva_persist_parse(big, 22 + ACMEVA_ACCOUNT_URI_MAX, &v, err, sizeof(err)), 0);
    CHECK_INT(strlen(v.account_uri), ACMEVA_ACCOUNT_URI_MAX);
    memset(big + 22, 'u', ACMEVA_ACCOUNT_URI_MAX + 1);
    CHECK_INT(acmeva_persist_parse(big, 22 + ACMEVA_ACCOUNT_URI_MAX + 1, &v, err, sizeof(err)),
              ACMEVA_PERSIST_ESYNTAX);
    CHECK_STR(err, "accounturi longer than 1024 bytes");

    /* error texts */
    const char *trail = ISS "; accounturi=x;";
    CHECK_INT(acmeva_persist_parse(trail, strlen(trail), &v, err, sizeof(err)),
              ACMEVA_PERSIST_ESYNTAX);
    CHECK_STR(err, "parameters: ';' after the last parameter");
    CHECK_INT(acmeva_persist_parse(ISS, strlen(ISS), NULL, err, sizeof(err)),
              ACMEVA_PERSIST_EINVAL);
    CHECK_INT(acmeva_persist_parse(NULL, 1, &v, err, sizeof(err)), ACMEVA_PERSIST_EINVAL);
    CHECK_INT(acmeva_persist_parse(NULL, 0, &v, NULL, 0), ACMEVA_PERSIST_ESYNTAX);
}

static void test_hashed_uri(void)
{
    /* draft-ietf-acme-dns-persist-02 §10.2 test vectors */
    const char *prefix = "https://ca.example/account-hash/";
    const char *thumb = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    const char *url = "https://ca.example/acct/123";
    char out[256];
    CHECK_INT(
        acmeva_persist_hashed_account_uri(prefix, "example.com", thumb, url, out, sizeof(out)), 0);
    CHECK_STR(out, "https://ca.example/account-hash/sha-256/"
                   "5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw");
    CHECK_INT(acmeva_persist_hashed_account_uri(prefix, "*", thumb, url, out, sizeof(out)), 0);
    CHECK_STR(out, "https://ca.example/account-hash/sha-256/"
                   "NpDnSwUthQK8zCgFdefYxAdAVPnygMLbs9US6oO-5ug");

    /* the result judges the draft's record */
    const char *rec = "authority.example; accounturi=https://ca.example/account-hash/"
                      "sha-256/NpDnSwUthQK8zCgFdefYxAdAVPnygMLbs9US6oO-5ug";
    CHECK_INT(acmeva_persist_judge(rec, strlen(rec), issuers, 2, out, 0, NOW, NULL, 0),
              ACMEVA_PERSIST_MATCH);

    /* exactly fitting, one byte short */
    size_t need = strlen(out) + 1;
    CHECK_INT(acmeva_persist_hashed_account_uri(prefix, "*", thumb, url, out, need), 0);
    CHECK_INT(acmeva_persist_hashed_account_uri(prefix, "*", thumb, url, out, need - 1),
              ACMEVA_PERSIST_ENOSPC);
    CHECK_STR(out, "");

    /* bad inputs */
    CHECK_INT(acmeva_persist_hashed_account_uri(prefix, "", thumb, url, out, sizeof(out)),
              ACMEVA_PERSIST_EINVAL);
    CHECK_INT(
        acmeva_persist_hashed_account_uri(prefix, "example.com", "short", url, out, sizeof(out)),
        ACMEVA_PERSIST_EINVAL);
    CHECK_INT(acmeva_persist_hashed_account_uri(prefix, "example.com",
                                                "NzbLsXh8uDCcd+6MNwXF4W/7noWXFZAfHkxZsRGC9Xs", url,
                                                out, sizeof(out)),
              ACMEVA_PERSIST_EINVAL);
    CHECK_INT(acmeva_persist_hashed_account_uri(NULL, "example.com", thumb, url, out, sizeof(out)),
              ACMEVA_PERSIST_EINVAL);
    char longdom[300];
    memset(longdom, 'a', 256);
    longdom[256] = '\0';
    CHECK_INT(acmeva_persist_hashed_account_uri(prefix, longdom, thumb, url, out, sizeof(out)),
              ACMEVA_PERSIST_EINVAL);
    longdom[255] = '\0';
    CHECK_INT(acmeva_persist_hashed_account_uri(prefix, longdom, thumb, url, out, sizeof(out)), 0);
}

int main(void)
{
    test_judge_table();
    test_judge_edges();
    test_many_unknown_parameters();
    test_parse();
    test_hashed_uri();
    return CHECK_DONE();
}
