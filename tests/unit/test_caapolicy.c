/*
 * Tests of the CAA decision (worker/caapolicy.c): a table of record sets and requests with
 * the expected decision, then the issue-value parser on its own.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "caapolicy.h"
#include "check.h"

#define ACCT "https://ca.example/acct/1"
#define MAX_RECS 4

static const char *const issuers[] = {"ca.example", "ca2.example"};

typedef struct {
    uint8_t flags;
    const char *tag; /* NULL ends the list */
    const char *value;
} rec_spec;

typedef struct {
    const char *name;
    rec_spec recs[MAX_RECS];
    int wildcard;
    const char *account;
    const char *method;
    int want;               /* 1 permitted, 0 forbidden */
    const char *reason_has; /* a piece of text the reason must contain, or NULL */
} caa_case;

/* clang-format off: one case per entry reads better than one field per line */
static const caa_case cases[] = {
    /* the set as a whole */
    {"empty set", {{0}}, 0, ACCT, "http-01", 1, "no CAA records"},
    {"only iodef",
     {{0, "iodef", "mailto:sec@example.com"}},
     0,
     ACCT,
     "http-01",
     1,
     "no issue records"},
    {"only iodef, wildcard",
     {{0, "iodef", "mailto:sec@example.com"}},
     1,
     ACCT,
     "dns-01",
     1,
     "no issue or issuewild records"},
    {"issue for this CA",
     {{0, "issue", "ca.example"}},
     0,
     ACCT,
     "http-01",
     1,
     "issue record \"ca.example\" permits issuance"},
    {"issue for the second issuer domain",
     {{0, "issue", "ca2.example"}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},
    {"issue for another CA",
     {{0, "issue", "other.example"}},
     0,
     ACCT,
     "http-01",
     0,
     "issuer-domain-name \"other.example\" is not this CA's"},
    {"issue \";\" forbids", {{0, "issue", ";"}}, 0, ACCT, "http-01", 0, "empty issuer-domain-name"},
    {"issue with empty value forbids", {{0, "issue", ""}}, 0, ACCT, "http-01", 0, NULL},
    {"issue with a ';' and no parameters",
     {{0, "issue", "ca.example;"}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},

    /* tags and flags */
    {"tag matched without case", {{0, "IsSuE", "ca.example"}}, 0, ACCT, "http-01", 1, NULL},
    {"critical unknown tag forbids",
     {{128, "tbs", "x"}, {0, "issue", "ca.example"}},
     0,
     ACCT,
     "http-01",
     0,
     "unknown critical property \"tbs\""},
    {"non-critical unknown tag is ignored",
     {{0, "tbs", "x"}, {0, "issue", "ca.example"}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},
    {"only a non-critical unknown tag",
     {{0, "future", "x"}},
     0,
     ACCT,
     "http-01",
     1,
     "no issue records"},
    {"flag bit 1 counts as critical (Boulder)",
     {{1, "tbs", "x"}, {0, "issue", "ca.example"}},
     0,
     ACCT,
     "http-01",
     0,
     "(flags 1)"},
    {"reserved flag bits alone are ignored",
     {{0x40, "tbs", "x"}, {0, "issue", "ca.example"}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},
    {"critical iodef is understood",
     {{128, "iodef", "mailto:a@b"}, {0, "issue", "ca.example"}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},
    {"critical issuemail is understood",
     {{128, "issuemail", "ca.example"}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},
    {"critical issuevmc is understood",
     {{128, "issuevmc", "other.example"}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},
    {"critical contactemail is understood",
     {{128, "contactemail", "a@example.com"}, {128, "CONTACTPHONE", "+1 555"}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},
    {"critical issue is understood", {{128, "issue", "ca.example"}}, 0, ACCT, "http-01", 1, NULL},
    {"critical unknown tag forbids a wildcard too",
     {{128, "tbs", ""}, {0, "issuewild", "ca.example"}},
     1,
     ACCT,
     "dns-01",
     0,
     NULL},
    {"unknown tag with bytes outside ASCII is escaped",
     {{128, "t\x01\xff", ""}},
     0,
     ACCT,
     "http-01",
     0,
     "\"t\\x01\\xff\""},

    /* issue and issuewild */
    {"non-wildcard ignores issuewild",
     {{0, "issuewild", "ca.example"}},
     0,
     ACCT,
     "http-01",
     1,
     "no issue records"},
    {"non-wildcard: issuewild cannot permit",
     {{0, "issue", "other.example"}, {0, "issuewild", "ca.example"}},
     0,
     ACCT,
     "http-01",
     0,
     NULL},
    {"non-wildcard: issuewild cannot forbid",
     {{0, "issue", "ca.example"}, {0, "issuewild", ";"}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},
    {"wildcard: issuewild takes precedence over issue",
     {{0, "issue", "ca.example"}, {0, "issuewild", "other.example"}},
     1,
     ACCT,
     "dns-01",
     0,
     "no issuewild record permits"},
    {"wildcard: issuewild permits over a foreign issue",
     {{0, "issue", "other.example"}, {0, "issuewild", "ca.example"}},
     1,
     ACCT,
     "dns-01",
     1,
     "issuewild record"},
    {"wildcard: issue used when no issuewild",
     {{0, "issue", "ca.example"}},
     1,
     ACCT,
     "dns-01",
     1,
     "issue record"},
    {"wildcard: foreign issue forbids when no issuewild",
     {{0, "issue", "other.example"}},
     1,
     ACCT,
     "dns-01",
     0,
     NULL},
    {"wildcard: issuewild \";\" forbids despite issue",
     {{0, "issue", "ca.example"}, {0, "issuewild", ";"}},
     1,
     ACCT,
     "dns-01",
     0,
     NULL},
    {"wildcard: malformed issuewild still takes precedence",
     {{0, "issue", "ca.example"}, {0, "ISSUEWILD", "%%%"}},
     1,
     ACCT,
     "dns-01",
     0,
     "malformed value"},

    /* issuer-domain-name */
    {"issuer compared without case (RFC 4343 §3)",
     {{0, "issue", "CA.Example"}},
     0,
     ACCT,
     "http-01",
     1,
     "issue record \"CA.Example\" permits issuance"},
    {"issuer in capitals for a wildcard",
     {{0, "issuewild", "CA2.EXAMPLE; accounturi=" ACCT}},
     1,
     ACCT,
     "dns-01",
     1,
     NULL},
    {"issuer that differs in more than case",
     {{0, "issue", "CA.Example.org"}},
     0,
     ACCT,
     "http-01",
     0,
     "is not this CA's"},
    {"issuer with a trailing dot is malformed",
     {{0, "issue", "ca.example."}},
     0,
     ACCT,
     "http-01",
     0,
     "malformed value"},
    {"issuer followed by garbage",
     {{0, "issue", "ca.example extra"}},
     0,
     ACCT,
     "http-01",
     0,
     "malformed value"},
    {"value that is not a domain", {{0, "issue", "%%%%%"}}, 0, ACCT, "http-01", 0, NULL},
    {"whitespace around issuer and ';'",
     {{0, "issue", " \tca.example \t; \t"}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},
    {"parameters without issuer",
     {{0, "issue", "; accounturi=" ACCT}},
     0,
     ACCT,
     "http-01",
     0,
     "empty issuer-domain-name"},

    /* accounturi (RFC 8657 §3) */
    {"accounturi matches",
     {{0, "issue", "ca.example; accounturi=" ACCT}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},
    {"accounturi with whitespace around '='",
     {{0, "issue", "ca.example ;\taccounturi \t=  " ACCT "  "}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},
    {"accounturi of another account",
     {{0, "issue", "ca.example; accounturi=https://ca.example/acct/2"}},
     0,
     ACCT,
     "http-01",
     0,
     "is not the job's account"},
    {"accounturi compared without normalization",
     {{0, "issue", "ca.example; accounturi=HTTPS://CA.EXAMPLE/acct/1"}},
     0,
     ACCT,
     "http-01",
     0,
     NULL},
    {"accounturi that is a prefix of the account",
     {{0, "issue", "ca.example; accounturi=https://ca.example/acct/"}},
     0,
     ACCT,
     "http-01",
     0,
     NULL},
    {"accounturi twice is unsatisfiable",
     {{0, "issue", "ca.example; accounturi=" ACCT "; accounturi=" ACCT}},
     0,
     ACCT,
     "http-01",
     0,
     "parameter \"accounturi\" repeated"},
    {"accounturi and the job has no account",
     {{0, "issue", "ca.example; accounturi=" ACCT}},
     0,
     NULL,
     "http-01",
     0,
     "no account URI"},
    {"parameter tag matched without case",
     {{0, "issue", "ca.example; AccountURI=https://ca.example/acct/2"}},
     0,
     ACCT,
     "http-01",
     0,
     NULL},
    {"accounturi repeated with different case",
     {{0, "issue", "ca.example; accounturi=" ACCT "; ACCOUNTURI=" ACCT}},
     0,
     ACCT,
     "http-01",
     0,
     "repeated"},

    /* validationmethods (RFC 8657 §4) */
    {"validationmethods contains the method",
     {{0, "issue", "ca.example; validationmethods=http-01"}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},
    {"validationmethods list contains the method",
     {{0, "issue", "ca.example; validationmethods=dns-01,http-01,tls-alpn-01"}},
     0,
     ACCT,
     "tls-alpn-01",
     1,
     NULL},
    {"validationmethods lacks the method",
     {{0, "issue", "ca.example; validationmethods=dns-01"}},
     0,
     ACCT,
     "http-01",
     0,
     "does not allow http-01"},
    {"validationmethods with an unknown label still matches",
     {{0, "issue", "ca.example; validationmethods=future-99,dns-account-01"}},
     0,
     ACCT,
     "dns-account-01",
     1,
     NULL},
    {"validationmethods with an empty label is malformed",
     {{0, "issue", "ca.example; validationmethods=dns-01,,http-01"}},
     0,
     ACCT,
     "http-01",
     0,
     "is malformed"},
    {"validationmethods with a trailing comma is malformed",
     {{0, "issue", "ca.example; validationmethods=http-01,"}},
     0,
     ACCT,
     "http-01",
     0,
     "is malformed"},
    {"empty validationmethods fails",
     {{0, "issue", "ca.example; validationmethods="}},
     0,
     ACCT,
     "http-01",
     0,
     "is malformed"},
    {"validationmethods with '_' is malformed",
     {{0, "issue", "ca.example; validationmethods=http_01,http-01"}},
     0,
     ACCT,
     "http-01",
     0,
     "is malformed"},
    {"validationmethods compared with case",
     {{0, "issue", "ca.example; validationmethods=HTTP-01"}},
     0,
     ACCT,
     "http-01",
     0,
     NULL},
    {"validationmethods and a CAA-only job",
     {{0, "issue", "ca.example; validationmethods=http-01"}},
     0,
     ACCT,
     NULL,
     0,
     "the job names no method"},
    {"validationmethods twice fails",
     {{0, "issue", "ca.example; validationmethods=http-01; validationmethods=http-01"}},
     0,
     ACCT,
     "http-01",
     0,
     "repeated"},
    {"accounturi and validationmethods both satisfied",
     {{0, "issue", "ca.example; accounturi=" ACCT "; validationmethods=dns-01"}},
     0,
     ACCT,
     "dns-01",
     1,
     NULL},
    {"accounturi satisfied, validationmethods not",
     {{0, "issue", "ca.example; accounturi=" ACCT "; validationmethods=dns-01"}},
     0,
     ACCT,
     "http-01",
     0,
     NULL},

    /* other parameters */
    {"unknown parameter is ignored",
     {{0, "issue", "ca.example; policy=ev; x-y=1"}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},
    {"duplicated unknown parameter fails",
     {{0, "issue", "ca.example; foo=1; foo=2"}},
     0,
     ACCT,
     "http-01",
     0,
     "parameter \"foo\" repeated"},
    {"parameter without '=' is malformed",
     {{0, "issue", "ca.example; accounturi"}},
     0,
     ACCT,
     "http-01",
     0,
     "malformed value"},
    {"';' after the last parameter is malformed",
     {{0, "issue", "ca.example; foo=1;"}},
     0,
     ACCT,
     "http-01",
     0,
     "malformed value"},
    {"byte outside ASCII in a value is malformed",
     {{0, "issue", "ca.example; foo=\xff"}},
     0,
     ACCT,
     "http-01",
     0,
     "malformed value"},
    {"whitespace inside a value is malformed",
     {{0, "issue", "ca.example; foo=a b"}},
     0,
     ACCT,
     "http-01",
     0,
     NULL},

    /* several records: any one that permits is enough (RFC 8659 §4.2, additive) */
    {"one of several records permits",
     {{0, "issue", "other.example"}, {0, "issue", "ca.example"}, {0, "issue", ";"}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},
    {"malformed record next to a good one",
     {{0, "issue", "ca.example; accounturi"}, {0, "issue", "ca.example; accounturi=" ACCT}},
     0,
     ACCT,
     "http-01",
     1,
     NULL},
    {"reason names the record closest to permitting",
     {{0, "issue", "other.example"},
      {0, "issue", "ca.example; accounturi=https://ca.example/acct/9"},
      {0, "issue", "third.example"}},
     0,
     ACCT,
     "http-01",
     0,
     "acct/9\": accounturi \"https://ca.example/acct/9\" is not"},
    {"none of several records permits",
     {{0, "issue", "other.example"}, {0, "issue", "ca.example; validationmethods=dns-01"}},
     0,
     ACCT,
     "http-01",
     0,
     NULL},
};
/* clang-format on */

static void run_case(const caa_case *c)
{
    acmeva_caa_record recs[MAX_RECS];
    size_t n = 0;
    while (n < MAX_RECS && c->recs[n].tag != NULL) {
        recs[n].flags = c->recs[n].flags;
        recs[n].tag = c->recs[n].tag;
        recs[n].tag_len = strlen(c->recs[n].tag);
        recs[n].value = (const uint8_t *)c->recs[n].value;
        recs[n].value_len = strlen(c->recs[n].value);
        n++;
    }
    acmeva_caa_request req = {issuers, 2, c->wildcard, c->account, c->method};
    char reason[512];
    int got = acmeva_caa_permits(n > 0 ? recs : NULL, n, &req, reason, sizeof(reason));
    CHECK_MSG(got == c->want, "%s: got %d, want %d (reason: %s)", c->name, got, c->want, reason);
    if (c->reason_has != NULL)
        CHECK_MSG(strstr(reason, c->reason_has) != NULL, "%s: reason \"%s\" lacks \"%s\"", c->name,
                  reason, c->reason_has);
}

static void test_permits_edges(void)
{
    acmeva_caa_request req = {issuers, 2, 0, ACCT, "http-01"};
    char reason[64];

    /* bad arguments forbid */
    CHECK_INT(acmeva_caa_permits(NULL, 0, NULL, reason, sizeof(reason)), 0);
    CHECK_INT(acmeva_caa_permits(NULL, 1, &req, reason, sizeof(reason)), 0);
    CHECK_STR(reason, "invalid arguments");

    /* no reason buffer at all */
    acmeva_caa_record r = {0, "issue", 5, (const uint8_t *)"ca.example", 10};
    CHECK_INT(acmeva_caa_permits(&r, 1, &req, NULL, 0), 1);
    CHECK_INT(acmeva_caa_permits(&r, 1, &req, reason, 0), 1);

    /* a short reason buffer is cut and stays terminated */
    char small[8];
    memset(small, 'x', sizeof(small));
    CHECK_INT(acmeva_caa_permits(&r, 1, &req, small, sizeof(small)), 1);
    CHECK_INT(strlen(small), 7);
    CHECK(memcmp(small, "issue r", 7) == 0);

    /* a tag with a NUL byte is not "issue" */
    acmeva_caa_record nul = {0, "issue\0", 6, (const uint8_t *)"other.example", 13};
    CHECK_INT(acmeva_caa_permits(&nul, 1, &req, reason, sizeof(reason)), 1);
    nul.flags = 128;
    CHECK_INT(acmeva_caa_permits(&nul, 1, &req, reason, sizeof(reason)), 0);

    /* a value with a NUL byte does not parse */
    acmeva_caa_record nulv = {0, "issue", 5, (const uint8_t *)"ca.example\0", 11};
    CHECK_INT(acmeva_caa_permits(&nulv, 1, &req, reason, sizeof(reason)), 0);

    /* no issuer domains configured: nothing permits, an empty set still does */
    acmeva_caa_request none = {NULL, 0, 0, ACCT, "http-01"};
    CHECK_INT(acmeva_caa_permits(&r, 1, &none, reason, sizeof(reason)), 0);
    CHECK_INT(acmeva_caa_permits(NULL, 0, &none, reason, sizeof(reason)), 1);

    /* the CA's own issuer domains are compared without case too (RFC 4343 §3) */
    const char *const upper[] = {"CA.EXAMPLE"};
    acmeva_caa_request up = {upper, 1, 0, ACCT, "http-01"};
    CHECK_INT(acmeva_caa_permits(&r, 1, &up, reason, sizeof(reason)), 1);
    acmeva_caa_record mixed = {0, "issue", 5, (const uint8_t *)"cA.eXaMpLe", 10};
    CHECK_INT(acmeva_caa_permits(&mixed, 1, &up, reason, sizeof(reason)), 1);
    const char *const longer[] = {"CA.EXAMPLEX"};
    acmeva_caa_request lg = {longer, 1, 0, ACCT, "http-01"};
    CHECK_INT(acmeva_caa_permits(&mixed, 1, &lg, reason, sizeof(reason)), 0);

    /* NULL entries in the issuer list are skipped */
    const char *const holes[] = {NULL, "ca.example"};
    acmeva_caa_request h = {holes, 2, 0, ACCT, "http-01"};
    CHECK_INT(acmeva_caa_permits(&r, 1, &h, reason, sizeof(reason)), 1);

    /* a long value is quoted cut in the reason */
    char longv[400];
    memset(longv, 'a', sizeof(longv));
    memcpy(longv, "other.example; x=", 17);
    acmeva_caa_record lr = {0, "issue", 5, (const uint8_t *)longv, sizeof(longv)};
    char big[1024];
    CHECK_INT(acmeva_caa_permits(&lr, 1, &req, big, sizeof(big)), 0);
    CHECK(strstr(big, "...\"") != NULL);
    CHECK(strlen(big) < 400);
}

/* ---- the issue-value parser -------------------------------------------------------------- */

typedef struct {
    const char *in;
    int rc;
    const char *issuer;
    size_t n_params;
    const char *tag0, *value0; /* first parameter, when n_params > 0 */
} parse_case;

/* clang-format off: one case per entry reads better than one field per line */
static const parse_case parse_cases[] = {
    {"", 0, "", 0, NULL, NULL},
    {";", 0, "", 0, NULL, NULL},
    {"  ;  ", 0, "", 0, NULL, NULL},
    {"ca.example", 0, "ca.example", 0, NULL, NULL},
    {"\tca.example\t", 0, "ca.example", 0, NULL, NULL},
    {"ca.example;", 0, "ca.example", 0, NULL, NULL},
    {"Ca-1.EXAMPLE", 0, "Ca-1.EXAMPLE", 0, NULL, NULL},
    {"a--b.example", 0, "a--b.example", 0, NULL, NULL},
    {"ca.example; a=b", 0, "ca.example", 1, "a", "b"},
    {"ca.example;a=b;c=d", 0, "ca.example", 2, "a", "b"},
    {"ca.example ; a = b ; c= d ", 0, "ca.example", 2, "a", "b"},
    {"ca.example; a=", 0, "ca.example", 1, "a", ""},
    {"ca.example; a= ; b=c", 0, "ca.example", 2, "a", ""},
    {"ca.example; a=b=c", 0, "ca.example", 1, "a", "b=c"},
    {"ca.example; a--b=c", 0, "ca.example", 1, "a--b", "c"},
    {"ca.example; Tag9=!\"#$%&'()*+,-./0123456789:<=>?@[\\]^_`{|}~", 0, "ca.example", 1, "Tag9",
     "!\"#$%&'()*+,-./0123456789:<=>?@[\\]^_`{|}~"},
    {"; accounturi=x", 0, "", 1, "accounturi", "x"},
    {"ca.example; a=b;", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example; ;", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example;;", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example a=b", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example; a", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example; =b", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example; -a=b", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example; a-=b", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example; a_b=c", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example; a=b c", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example; a=b c=d", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example; a=\x7f", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example; a=\x80", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example\r", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example\n; a=b", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca..example", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {".ca.example", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example.", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"-ca.example", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca-.example", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca_x.example", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"%%%%%", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
    {"ca.example,other.example", ACMEVA_CAA_ESYNTAX, NULL, 0, NULL, NULL},
};
/* clang-format on */

static void test_parse_table(void)
{
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const parse_case *c = &parse_cases[i];
        acmeva_caa_value v;
        int rc = acmeva_caa_value_parse((const uint8_t *)c->in, strlen(c->in), &v);
        CHECK_MSG(rc == c->rc, "parse \"%s\": rc %d, want %d", c->in, rc, c->rc);
        if (rc != 0 || c->rc != 0)
            continue;
        CHECK_MSG(strcmp(v.issuer, c->issuer) == 0, "parse \"%s\": issuer \"%s\", want \"%s\"",
                  c->in, v.issuer, c->issuer);
        CHECK_MSG(v.n_params == c->n_params, "parse \"%s\": %zu params, want %zu", c->in,
                  v.n_params, c->n_params);
        if (c->n_params > 0 && v.n_params > 0) {
            CHECK_STR(v.params[0].tag, c->tag0);
            CHECK_STR(v.params[0].value, c->value0);
        }
    }
}

static void test_parse_limits(void)
{
    acmeva_caa_value v;
    char buf[4096];

    /* ACMEVA_CAA_MAX_PARAMS parameters parse, one more is refused */
    size_t n = (size_t)snprintf(buf, sizeof(buf), "ca.example");
    for (int i = 0; i < ACMEVA_CAA_MAX_PARAMS; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "; p%d=%d", i, i);
    CHECK_INT(acmeva_caa_value_parse((const uint8_t *)buf, n, &v), 0);
    CHECK_INT(v.n_params, ACMEVA_CAA_MAX_PARAMS);
    CHECK_STR(v.params[ACMEVA_CAA_MAX_PARAMS - 1].tag, "p15");
    CHECK_STR(v.params[ACMEVA_CAA_MAX_PARAMS - 1].value, "15");
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "; extra=1");
    CHECK_INT(acmeva_caa_value_parse((const uint8_t *)buf, n, &v), ACMEVA_CAA_ELIMIT);

    /* tag of 63 characters parses, 64 is refused */
    memcpy(buf, "ca.example; ", 12);
    memset(buf + 12, 't', 63);
    memcpy(buf + 75, "=v", 2);
    CHECK_INT(acmeva_caa_value_parse((const uint8_t *)buf, 77, &v), 0);
    CHECK_INT(strlen(v.params[0].tag), 63);
    memset(buf + 12, 't', 64);
    memcpy(buf + 76, "=v", 2);
    CHECK_INT(acmeva_caa_value_parse((const uint8_t *)buf, 78, &v), ACMEVA_CAA_ELIMIT);

    /* value of 1023 characters parses, 1024 is refused */
    memcpy(buf, "ca.example; t=", 14);
    memset(buf + 14, 'v', 1023);
    CHECK_INT(acmeva_caa_value_parse((const uint8_t *)buf, 14 + 1023, &v), 0);
    CHECK_INT(strlen(v.params[0].value), 1023);
    memset(buf + 14, 'v', 1024);
    CHECK_INT(acmeva_caa_value_parse((const uint8_t *)buf, 14 + 1024, &v), ACMEVA_CAA_ELIMIT);

    /* issuer of 255 characters parses, 256 is refused */
    memset(buf, 'a', 256);
    for (int i = 63; i < 256; i += 64)
        buf[i] = '.';
    CHECK_INT(acmeva_caa_value_parse((const uint8_t *)buf, 255, &v), 0);
    CHECK_INT(strlen(v.issuer), 255);
    CHECK_INT(acmeva_caa_value_parse((const uint8_t *)buf, 256, &v), ACMEVA_CAA_ELIMIT);

    /* a NUL byte is just an invalid byte */
    CHECK_INT(acmeva_caa_value_parse((const uint8_t *)"ca.example\0", 11, &v), ACMEVA_CAA_ESYNTAX);
    CHECK_INT(acmeva_caa_value_parse((const uint8_t *)"ca.example; a=\0", 15, &v),
              ACMEVA_CAA_ESYNTAX);
    /* only |len| bytes are read */
    CHECK_INT(acmeva_caa_value_parse((const uint8_t *)"ca.example; a=b;", 15, &v), 0);
    CHECK_STR(v.params[0].value, "b");

    /* bad arguments */
    CHECK_INT(acmeva_caa_value_parse((const uint8_t *)"x", 1, NULL), ACMEVA_CAA_EINVAL);
    CHECK_INT(acmeva_caa_value_parse(NULL, 1, &v), ACMEVA_CAA_EINVAL);
    CHECK_INT(acmeva_caa_value_parse(NULL, 0, &v), 0);
    CHECK_STR(v.issuer, "");

    /* error texts say what and where */
    char err[128];
    CHECK_INT(
        acmeva_caa_value_parse_err((const uint8_t *)"ca.example; a=b;", 16, &v, err, sizeof(err)),
        ACMEVA_CAA_ESYNTAX);
    CHECK_STR(err, "';' after the last parameter");
    CHECK_INT(
        acmeva_caa_value_parse_err((const uint8_t *)"ca.example; a=b c", 17, &v, err, sizeof(err)),
        ACMEVA_CAA_ESYNTAX);
    CHECK_STR(err, "parameter 1 (\"a\"): unexpected byte 0x63 after the value");
    CHECK_INT(acmeva_caa_value_parse_err((const uint8_t *)"c_a", 3, &v, err, sizeof(err)),
              ACMEVA_CAA_ESYNTAX);
    CHECK_STR(err, "invalid issuer-domain-name");
    CHECK_INT(acmeva_caa_value_parse_err((const uint8_t *)"ca.example;x=1; bad", 19, &v, err,
                                         sizeof(err)),
              ACMEVA_CAA_ESYNTAX);
    CHECK_STR(err, "parameter 2 (\"bad\"): expected '='");
    CHECK_INT(acmeva_caa_value_parse_err((const uint8_t *)"ca.example x", 12, &v, err, sizeof(err)),
              ACMEVA_CAA_ESYNTAX);
    CHECK_STR(err, "expected ';' after the issuer-domain-name, got byte 0x78");
}

/* decide_notes returns the notes of deciding the one issue record |value| for |method|. */
static unsigned decide_notes(const char *value, const char *account, const char *method, int *got)
{
    acmeva_caa_record r = {0, "issue", 5, (const uint8_t *)value, strlen(value)};
    acmeva_caa_request req = {issuers, 2, 0, account, method};
    unsigned notes = 99;
    *got = acmeva_caa_decide(&r, 1, &req, NULL, 0, &notes);
    return notes;
}

/* RFC 8657 §4 with no method: the refusal is noted as one that naming the method could lift,
 * and only when it is. */
static void test_decide_notes(void)
{
    int got;
    CHECK_INT(decide_notes("ca.example; validationmethods=dns-01", ACCT, NULL, &got),
              ACMEVA_CAA_WANTS_METHOD);
    CHECK_INT(got, 0);
    /* the same record with the method named: decided by the list, no note */
    CHECK_INT(decide_notes("ca.example; validationmethods=dns-01", ACCT, "dns-01", &got), 0);
    CHECK_INT(got, 1);
    CHECK_INT(decide_notes("ca.example; validationmethods=dns-01", ACCT, "http-01", &got), 0);
    CHECK_INT(got, 0);
    /* a record that fails for another reason first: a method would not help */
    CHECK_INT(decide_notes("ca.example; accounturi=https://other/1; validationmethods=dns-01", ACCT,
                           NULL, &got),
              0);
    CHECK_INT(decide_notes("ca.example; validationmethods=dns_01", ACCT, NULL, &got), 0);
    CHECK_INT(decide_notes("other.example; validationmethods=dns-01", ACCT, NULL, &got), 0);
    CHECK_INT(got, 0);
    /* permitted, or no validationmethods at all: no note */
    CHECK_INT(decide_notes("ca.example", ACCT, NULL, &got), 0);
    CHECK_INT(got, 1);
    CHECK_INT(decide_notes("ca.example; accounturi=" ACCT, ACCT, NULL, &got), 0);
    CHECK_INT(got, 1);
    /* NULL |notes| is allowed; an empty set has no notes */
    acmeva_caa_request req = {issuers, 2, 0, ACCT, NULL};
    CHECK_INT(acmeva_caa_decide(NULL, 0, &req, NULL, 0, NULL), 1);
    unsigned notes = 99;
    CHECK_INT(acmeva_caa_decide(NULL, 0, &req, NULL, 0, &notes), 1);
    CHECK_INT(notes, 0);
    /* one record permitting beside one that wants the method: permitted, no note */
    acmeva_caa_record two[2] = {
        {0, "issue", 5, (const uint8_t *)"ca.example; validationmethods=dns-01", 36},
        {0, "issue", 5, (const uint8_t *)"ca2.example", 11}};
    notes = 99;
    CHECK_INT(acmeva_caa_decide(two, 2, &req, NULL, 0, &notes), 1);
    CHECK_INT(notes, 0);
}

/* The parameter reader has no caps of its own: the CAA value parser applies its caps on top. */
static void test_params_reader(void)
{
    static char buf[8192];
    size_t n = 0;
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sp%d = %d", i ? " ;\t" : " ", i, i);
    acmeva_caa_params it;
    acmeva_caa_param_span p;
    acmeva_caa_params_init(&it, (const uint8_t *)buf, n);
    int count = 0, rc;
    char err[128];
    while ((rc = acmeva_caa_params_next(&it, &p, err, sizeof(err))) == 1) {
        char want[16];
        int wl = snprintf(want, sizeof(want), "%d", count);
        CHECK_MSG(p.tag_len == (size_t)wl + 1 && p.tag[0] == 'p' &&
                      memcmp(p.tag + 1, want, (size_t)wl) == 0 && p.value_len == (size_t)wl &&
                      memcmp(p.value, want, (size_t)wl) == 0,
                  "parameter %d read as %.*s=%.*s", count, (int)p.tag_len, p.tag, (int)p.value_len,
                  p.value);
        count++;
    }
    CHECK_INT(rc, 0);
    CHECK_INT(count, 200);
    CHECK_INT(acmeva_caa_params_next(&it, &p, err, sizeof(err)), 0); /* stays at the end */

    /* long tags and values are spans, not copies */
    memset(buf, 't', 300);
    buf[300] = '=';
    memset(buf + 301, 'v', 3000);
    acmeva_caa_params_init(&it, (const uint8_t *)buf, 3301);
    CHECK_INT(acmeva_caa_params_next(&it, &p, err, sizeof(err)), 1);
    CHECK_INT(p.tag_len, 300);
    CHECK_INT(p.value_len, 3000);
    CHECK_INT(acmeva_caa_params_next(&it, &p, err, sizeof(err)), 0);
    /* ... and an error text quotes a long tag cut */
    acmeva_caa_params_init(&it, (const uint8_t *)buf, 300);
    CHECK_INT(acmeva_caa_params_next(&it, &p, err, sizeof(err)), ACMEVA_CAA_ESYNTAX);
    CHECK(strstr(err, "parameter 1 (\"tttt") != NULL && strstr(err, "...\"): expected '='"));

    /* nothing, white space only, a ';' after the last */
    acmeva_caa_params_init(&it, NULL, 0);
    CHECK_INT(acmeva_caa_params_next(&it, &p, err, sizeof(err)), 0);
    acmeva_caa_params_init(&it, (const uint8_t *)" \t", 2);
    CHECK_INT(acmeva_caa_params_next(&it, &p, err, sizeof(err)), 0);
    acmeva_caa_params_init(&it, (const uint8_t *)"a=b; c=d ;", 10);
    CHECK_INT(acmeva_caa_params_next(&it, &p, err, sizeof(err)), 1);
    CHECK_INT(acmeva_caa_params_next(&it, &p, err, sizeof(err)), ACMEVA_CAA_ESYNTAX);
    CHECK_STR(err, "';' after the last parameter");
}

int main(void)
{
    size_t n = sizeof(cases) / sizeof(cases[0]);
    CHECK(n >= 40);
    for (size_t i = 0; i < n; i++)
        run_case(&cases[i]);
    test_permits_edges();
    test_parse_table();
    test_parse_limits();
    test_params_reader();
    test_decide_notes();
    return CHECK_DONE();
}
