/*
 * Unit tests of the readable diagnosis (worker/cmd/diagnose.c): for each entry of the
 * catalogue, a result document as the engine writes it, the entry picked, and the text checked
 * where it matters (the verdict line, the cause, the fix), not byte for byte; the notes on
 * valid results; colour only when asked; document bytes never reaching the terminal raw.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "diagnose.h"

#define URN "urn:ietf:params:acme:error:"
#define TAIL                                                                                       \
    ",\"perspective\":\"default\",\"rir\":\"\",\"worker\":\"h:1:0\",\"attempt\":1,"                \
    "\"startedMs\":1,\"durationMs\":2.5}"
#define TOK "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
#define KA TOK ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define URL "http://www.example.com/.well-known/acme-challenge/" TOK

/* A result document: |status|, the challenge, the records and the rest (error, caa, ...). */
static char *doc(const char *status, const char *ctype, const char *ident, const char *records,
                 const char *rest)
{
    static char buf[16384];
    snprintf(buf, sizeof(buf),
             "{\"v\":1,\"id\":\"t\",\"status\":\"%s\",\"identifier\":{\"type\":\"dns\","
             "\"value\":\"%s\"}%s%s%s,\"validationRecord\":[%s]%s" TAIL,
             status, ident, ctype ? ",\"challenge\":{\"type\":\"" : "", ctype ? ctype : "",
             ctype ? "\",\"token\":\"" TOK "\"}" : "", records, rest);
    return buf;
}

static char *err(const char *type, int st, const char *detail)
{
    static char buf[8192];
    snprintf(buf, sizeof(buf),
             ",\"error\":{\"type\":\"" URN "%s\",\"detail\":\"%s\",\"status\":%d}", type, detail,
             st);
    return buf;
}

/* paragraph returns the text of the paragraph that starts with |label| (its wrapped lines
 * joined with single spaces), in a static buffer; "" when there is none. */
static const char *paragraph(const char *text, const char *label)
{
    static char buf[8192];
    buf[0] = '\0';
    const char *p = text;
    while (p != NULL && *p != '\0') {
        if (strncmp(p, label, strlen(label)) == 0)
            break;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    if (p == NULL || *p == '\0')
        return buf;
    size_t n = 0;
    p += strlen(label);
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        if (n > 0 && n + 1 < sizeof(buf))
            buf[n++] = ' ';
        if (n + len >= sizeof(buf))
            len = sizeof(buf) - n - 1;
        memcpy(buf + n, p, len);
        n += len;
        buf[n] = '\0';
        /* The paragraph goes on while the next line is indented (a wrapped line). */
        if (nl == NULL || nl[1] != ' ' || (nl[1] == ' ' && nl[2] == ' ' && nl[3] != ' '))
            break;
        if (strncmp(nl + 1, "    ", 4) != 0)
            break;
        p = nl + 1;
    }
    return buf;
}

static const char *first_line(const char *text)
{
    static char buf[2048];
    size_t n = strcspn(text, "\n");
    snprintf(buf, sizeof(buf), "%.*s", (int)(n < sizeof(buf) - 1 ? n : sizeof(buf) - 1), text);
    return buf;
}

typedef struct expect {
    const char *cause_name;
    const char *verdict;  /* the start of the first line */
    const char *headline; /* in the first line */
    const char *cause;    /* in "Likely cause:" */
    const char *fix;      /* in "What to change:" */
} expect;

static void check_doc(const char *what, const char *json, const expect *e)
{
    json_error_t je;
    json_t *r = json_loads(json, 0, &je);
    CHECK_MSG(r != NULL, "%s: the test document is not JSON: %s", what, je.text);
    if (r == NULL)
        return;
    CHECK_MSG(strcmp(acmeva_diagnose_cause(r), e->cause_name) == 0, "%s: cause %s, want %s", what,
              acmeva_diagnose_cause(r), e->cause_name);
    char *text = acmeva_diagnose_text(r, 0);
    CHECK(text != NULL);
    if (text != NULL) {
        const char *l1 = first_line(text);
        CHECK_MSG(strncmp(l1, e->verdict, strlen(e->verdict)) == 0, "%s: verdict \"%s\"", what, l1);
        if (e->headline)
            CHECK_MSG(strstr(l1, e->headline) != NULL, "%s: headline \"%s\" lacks \"%s\"", what, l1,
                      e->headline);
        if (e->cause)
            CHECK_MSG(strstr(paragraph(text, "Likely cause:"), e->cause) != NULL,
                      "%s: cause \"%s\" lacks \"%s\"", what, paragraph(text, "Likely cause:"),
                      e->cause);
        if (e->fix)
            CHECK_MSG(strstr(paragraph(text, "What to change:"), e->fix) != NULL,
                      "%s: fix \"%s\" lacks \"%s\"", what, paragraph(text, "What to change:"),
                      e->fix);
        CHECK_MSG(strchr(text, '\x1b') == NULL, "%s: escape sequences without colour", what);
        CHECK(text[strlen(text) - 1] == '\n');
        if (getenv("ACMEVA_TEST_SHOW"))
            printf("---- %s\n%s", what, text);
    }
    free(text);
    json_decref(r);
}

#define HOP(extra)                                                                                 \
    "{\"url\":\"" URL "\",\"hostname\":\"www.example.com\",\"port\":\"80\"," extra "}"
#define V46 "\"addressesResolved\":[\"2001:db8::1\",\"192.0.2.1\"]"

static void test_catalogue(void)
{
    /* AAAA present, the server listens on IPv4 only: the CA falls back, with a note. */
    const char *json = doc(
        "valid", "http-01", "www.example.com",
        HOP(V46 ",\"addressUsed\":\"192.0.2.1\",\"addressesTried\":[\"2001:db8::1\"],"
                "\"resolverAddrs\":[\"127.0.0.1:53\"],\"dnssec\":\"insecure\",\"httpStatus\":200,"
                "\"body\":\"" KA "\",\"triedErrors\":[\"Connection refused\"]"),
        "");
    check_doc("ipv6 refused, fell back", json,
              &(expect){"valid", "VALID http-01 www.example.com", NULL, NULL, NULL});
    json_t *r = json_loads(json, 0, NULL);
    char *text = acmeva_diagnose_text(r, 0);
    CHECK(text && strstr(paragraph(text, "Note:"), "has an AAAA record (2001:db8::1)") != NULL);
    CHECK(text && strstr(paragraph(text, "Note:"), "listen on IPv6") != NULL);
    CHECK(text && strstr(text, "2001:db8::1: Connection refused, tried the next address") != NULL);
    CHECK(text && strstr(text, "192.0.2.1: HTTP 200 OK, body \"" KA "\"") != NULL);
    free(text);
    json_decref(r);

    /* A firewall dropping port 80: the connect times out. */
    check_doc(
        "firewall",
        doc("invalid", "http-01", "www.example.com",
            HOP("\"addressesResolved\":[\"192.0.2.1\"],\"addressUsed\":\"192.0.2.1\""),
            err("connection", 400,
                "192.0.2.1: Fetching " URL ": Timeout during connect (likely firewall problem)")),
        &(expect){"firewall", "INVALID http-01 www.example.com", "a firewall drops",
                  "dropped by a firewall", "Allow inbound TCP port 80 from anywhere"});

    /* A redirect to a port other than 80/443. */
    check_doc("redirect port",
              doc("invalid", "http-01", "www.example.com",
                  HOP("\"addressesResolved\":[\"192.0.2.1\"],\"addressUsed\":\"192.0.2.1\","
                      "\"httpStatus\":302"),
                  err("connection", 400,
                      "192.0.2.1: Fetching http://www.example.com:8080/x: Invalid port in "
                      "redirect target. Only ports 80 and 443 are supported, not 8080")),
              &(expect){"redirect-port", "INVALID http-01", "redirects to port 8080",
                        "redirected to http://www.example.com:8080/x",
                        "Redirect to a URL without a port"});

    /* An HTML page instead of the key authorization (a CDN, an error page served with 200). */
    check_doc(
        "html page",
        doc("invalid", "http-01", "www.example.com",
            HOP(V46 ",\"addressUsed\":\"192.0.2.1\",\"httpStatus\":200,"
                    "\"body\":\"<!DOCTYPE html><html><head><title>Welcome\""),
            err("unauthorized", 403,
                "192.0.2.1: Invalid response from " URL ": \\\"<!DOCTYPE html>\\\"")),
        &(expect){"html-page", "INVALID", "a web page", "a CDN or proxy", "ahead of any rewrite"});
    /* An HTML error page with a 404. */
    check_doc("404 page",
              doc("invalid", "http-01", "www.example.com",
                  HOP("\"addressUsed\":\"192.0.2.1\",\"httpStatus\":404,\"body\":\"<html>x\""),
                  err("unauthorized", 403, "192.0.2.1: Invalid response from " URL ": 404")),
              &(expect){"not-found", "INVALID", "answered 404", "HTML error page",
                        "webroot at this server's document root"});
    /* The key authorization followed by more. */
    check_doc("extra content",
              doc("invalid", "http-01", "www.example.com",
                  HOP("\"addressUsed\":\"192.0.2.1\",\"httpStatus\":200,"
                      "\"body\":\"" KA "\\\\n<script>\""),
                  err("unauthorized", 403,
                      "The key authorization file from the server did not match this "
                      "challenge. Expected \\\"" KA "\\\" (got \\\"" KA "\\\\n<script>\\\")")),
              &(expect){"body-extra", "INVALID", "and more", "only trailing white space",
                        "Serve exactly"});

    /* CAA for another CA. */
    check_doc("caa other ca",
              doc("invalid", NULL, "www.example.com", "",
                  ",\"error\":{\"type\":\"" URN "caa\",\"detail\":\"While processing CAA for "
                  "www.example.com: CAA record for example.com prevents issuance\",\"status\":403},"
                  "\"caa\":{\"status\":\"invalid\",\"foundAt\":\"example.com\",\"records\":"
                  "[\"0 issue \\\"letsencrypt.org\\\"\"],\"error\":{\"type\":\"" URN "caa\","
                  "\"detail\":\"x\",\"status\":403},\"issuerDomains\":[\"ca.example\"],"
                  "\"decision\":\"no issue record permits issuance by this CA\"}"),
              &(expect){"caa-other-ca", "INVALID CAA www.example.com",
                        "CAA at example.com does not allow this CA (ca.example)",
                        "names other CAs and not this one",
                        "example.com. CAA 0 issue \"ca.example\""});

    /* A CNAME to a name with no records: dns-01, then http-01. */
    check_doc(
        "cname no txt",
        doc("invalid", "dns-01", "www.example.com",
            "{\"hostname\":\"_acme-challenge.www.example.com\",\"rcode\":\"NOERROR\","
            "\"cnames\":[\"_acme-challenge.www.example.net\"],\"expected\":\"abc\"}",
            err("unauthorized", 403, "No TXT record found at _acme-challenge.www.example.com")),
        &(expect){"cname-no-txt", "INVALID dns-01",
                  "alias of _acme-challenge.www.example.net, which has no TXT record",
                  "looks for the TXT record there",
                  "_acme-challenge.www.example.net. TXT \"abc\""});
    check_doc("cname no address",
              doc("invalid", "http-01", "www.example.com",
                  HOP("\"cnames\":[\"gone.example.net\"],\"resolverAddrs\":[\"127.0.0.1:53\"]"),
                  err("dns", 400, "No valid IP addresses found for www.example.com")),
              &(expect){"cname-no-address", "INVALID http-01",
                        "alias of gone.example.net, which has no address", "no A or AAAA",
                        "Give gone.example.net an A"});
    check_doc("cname nxdomain",
              doc("invalid", "http-01", "www.example.com",
                  HOP("\"cnames\":[\"gone.example.net\"],\"resolverAddrs\":[\"127.0.0.1:53\"]"),
                  err("dns", 400,
                      "DNS problem: NXDOMAIN looking up A for www.example.com - check that a DNS "
                      "record exists for this domain")),
              &(expect){"cname-nxdomain", "INVALID", "which does not exist", "NXDOMAIN",
                        "Point the CNAME at a name that exists"});

    /* A stale TXT value beside the right one (fine), and alone (wrong: both shown). */
    json = doc("valid", "dns-01", "www.example.com",
               "{\"hostname\":\"_acme-challenge.www.example.com\",\"rcode\":\"NOERROR\","
               "\"records\":[\"stale\",\"good\"],\"expected\":\"good\"}",
               "");
    check_doc("stale beside", json, &(expect){"valid", "VALID dns-01", NULL, NULL, NULL});
    r = json_loads(json, 0, NULL);
    text = acmeva_diagnose_text(r, 0);
    CHECK(text && strstr(paragraph(text, "Note:"), "also holds 1 other value (\"stale\")") != NULL);
    CHECK(text && strstr(paragraph(text, "Note:"), "That is fine") != NULL);
    free(text);
    json_decref(r);
    check_doc("stale alone",
              doc("invalid", "dns-01", "www.example.com",
                  "{\"hostname\":\"_acme-challenge.www.example.com\",\"rcode\":\"NOERROR\","
                  "\"records\":[\"stale\"],\"expected\":\"good\"}",
                  err("unauthorized", 403,
                      "Incorrect TXT record \\\"stale\\\" found at "
                      "_acme-challenge.www.example.com")),
              &(expect){"txt-wrong", "INVALID dns-01", "holds another value",
                        "holds 1 value (\"stale\"), none of them the one this challenge asks for "
                        "(\"good\")",
                        "_acme-challenge.www.example.com. TXT \"good\""});
    check_doc("token as value",
              doc("invalid", "dns-01", "www.example.com",
                  "{\"hostname\":\"_acme-challenge.www.example.com\",\"records\":[\"" TOK "\"]}",
                  err("unauthorized", 403, "Incorrect TXT record")),
              &(expect){"txt-wrong", "INVALID", NULL, "not the token", NULL});

    /* DNSSEC bogus. */
    check_doc("dnssec bogus",
              doc("invalid", "dns-01", "x.badsig.test",
                  "{\"hostname\":\"_acme-challenge.x.badsig.test\",\"rcode\":\"SERVFAIL\"}",
                  err("dns", 400,
                      "DNS problem: SERVFAIL looking up TXT for _acme-challenge.x.badsig.test - "
                      "DNSSEC validation failed (Extended DNS Error 6: DNSSEC Bogus: sig fail)")),
              &(expect){"dnssec-bogus", "INVALID dns-01",
                        "DNSSEC validation failed for _acme-challenge.x.badsig.test",
                        "Extended DNS Error 6: DNSSEC Bogus: sig fail",
                        "remove the DS record at the registrar"});

    /* SERVFAIL from the authoritative servers (CAA adds a word on providers). */
    check_doc("servfail",
              doc("invalid", "http-01", "www.example.com", HOP("\"resolverAddrs\":[\"x\"]"),
                  err("dns", 400,
                      "DNS problem: SERVFAIL looking up A for www.example.com - the domain's "
                      "nameservers may be malfunctioning")),
              &(expect){"servfail", "INVALID", "answered SERVFAIL", "lame delegation",
                        "dig +norec @<nameserver> www.example.com A"});
    check_doc("caa servfail",
              doc("invalid", NULL, "www.example.com", "",
                  ",\"error\":{\"type\":\"" URN "dns\",\"detail\":\"While processing CAA for "
                  "www.example.com: DNS problem: SERVFAIL looking up CAA for example.com - the "
                  "domain's nameservers may be malfunctioning\",\"status\":400},\"caa\":{"
                  "\"status\":\"invalid\",\"foundAt\":null,\"error\":{\"type\":\"" URN "dns\","
                  "\"detail\":\"x\",\"status\":400}}"),
              &(expect){"servfail", "INVALID CAA", "example.com answered SERVFAIL",
                        "do not know the CAA type", "answer CAA queries"});

    /* tls-alpn-01 where the server does not offer acme-tls/1. */
    check_doc("no acme-tls/1",
              doc("invalid", "tls-alpn-01", "www.example.com",
                  "{\"hostname\":\"www.example.com\",\"port\":\"443\",\"addressUsed\":"
                  "\"192.0.2.1\",\"certNames\":[\"www.example.com\"]}",
                  err("unauthorized", 403,
                      "Cannot negotiate ALPN protocol \\\"acme-tls/1\\\" for tls-alpn-01 "
                      "challenge")),
              &(expect){"no-acme-tls", "INVALID tls-alpn-01",
                        "the server on port 443 does not answer tls-alpn-01",
                        "its certificate names www.example.com", "Or validate with http-01"});

    /* The rest of the catalogue, briefly. */
    check_doc("refused",
              doc("invalid", "http-01", "www.example.com", HOP("\"addressUsed\":\"192.0.2.1\""),
                  err("connection", 400, "192.0.2.1: Fetching " URL ": Connection refused")),
              &(expect){"refused", "INVALID", "refused the connection", "Nothing listens",
                        "Start the web server on port 80"});
    check_doc(
        "no txt",
        doc("invalid", "dns-01", "www.example.com",
            "{\"hostname\":\"_acme-challenge.www.example.com\",\"rcode\":\"NOERROR\"}",
            err("unauthorized", 403, "No TXT record found at _acme-challenge.www.example.com")),
        &(expect){"no-txt", "INVALID", "no TXT record", "another zone", "Publish the TXT"});
    check_doc("other account",
              doc("invalid", "http-01", "www.example.com",
                  HOP("\"addressUsed\":\"192.0.2.1\",\"httpStatus\":200,\"body\":\"" TOK ".xyz\""),
                  err("unauthorized", 403,
                      "The key authorization file from the server did not match this "
                      "challenge. Expected \\\"" KA "\\\" (got \\\"" TOK ".xyz\\\")")),
              &(expect){"other-account-key", "INVALID", "another account key", "thumbprint", NULL});
    check_doc("malformed",
              "{\"v\":1,\"id\":null,\"status\":\"invalid\",\"validationRecord\":[],\"error\":{"
              "\"type\":\"" URN "malformed\",\"detail\":\"v: missing\",\"status\":400}" TAIL,
              &(expect){"malformed", "INVALID", "the job is malformed", NULL, NULL});
    check_doc("local",
              doc("invalid", "http-01", "www.example.com", "",
                  err("serverInternal", 500,
                      "Local failure of the validation server, not of the subscriber: x")),
              &(expect){"local-failure", "INVALID", "this machine", NULL, "ulimit -n"});
    check_doc(
        "unknown problem",
        doc("invalid", "http-01", "www.example.com", "",
            err("rejectedIdentifier", 400, "something new")),
        &(expect){"other", "INVALID http-01 www.example.com: something new", NULL, NULL, NULL});
}

/* An https hop whose certificate names another host: not a failure, and the text says so. */
static void test_https_hop_note(void)
{
    const char *json = doc(
        "valid", "http-01", "www.example.com",
        HOP("\"addressUsed\":\"192.0.2.1\",\"httpStatus\":302") ",{\"url\":\"https://"
                                                                "www.example.com/"
                                                                "x\",\"hostname\":\"www.example."
                                                                "com\",\"port\":\"443\","
                                                                "\"addressUsed\":\"192.0.2.1\","
                                                                "\"httpStatus\":200,\"body\":"
                                                                "\"" KA "\",\"certNames\":[\"other"
                                                                ".example\"]}",
        "");
    json_t *r = json_loads(json, 0, NULL);
    CHECK(r != NULL);
    char *text = acmeva_diagnose_text(r, 0);
    CHECK(text != NULL && strncmp(text, "VALID http-01", 13) == 0);
    const char *note = text ? paragraph(text, "Note:") : "";
    CHECK_MSG(strstr(note, "certificate for other.example, not www.example.com") != NULL, "%s",
              note);
    CHECK(strstr(note, "not a problem for this validation") != NULL);
    CHECK(text && strstr(text, "HTTP 302 Found, redirected to the next URL") != NULL);
    CHECK(text && strstr(text, "DNS: the same answer as above") != NULL);
    free(text);
    json_decref(r);
}

/* --all-addresses: one member of the pool serves an old file. */
static void test_address_checks(void)
{
    const char *json =
        doc("invalid", "http-01", "www.example.com",
            HOP("\"addressesResolved\":[\"192.0.2.1\",\"192.0.2.2\"],\"addressUsed\":\"192.0.2.1\","
                "\"httpStatus\":200,\"body\":\"" KA "\""),
            ",\"error\":{\"type\":\"" URN "unauthorized\",\"detail\":\"192.0.2.2: The key "
            "authorization file from the server did not match this challenge. Expected \\\"" KA
            "\\\" (got \\\"" TOK ".old\\\")\",\"status\":403},\"addressChecks\":[{\"address\":"
            "\"192.0.2.1\",\"status\":\"valid\",\"validationRecord\":[" HOP(
                "\"addressUsed\":\"192.0.2.1\",\"httpStatus\":200,\"body\":\"" KA
                "\"") "]},{\"address\":\"192.0.2.2\",\"status\":\"invalid\",\"validationRecord\":"
                      "[" HOP("\"addressUsed\":\"192.0.2.2\",\"httpStatus\":200,\"body\":\"" TOK
                              ".old\"") "],\"error\":{\"type\":\"" URN "unauthorized\",\"detail\":"
                                        "\"The key authorization file from the server did "
                                        "not match this challenge. Expected \\\"" KA
                                        "\\\" (got \\\"" TOK ".old\\\")\",\"status\":403}}]");
    json_t *r = json_loads(json, 0, NULL);
    CHECK(r != NULL);
    char *text = acmeva_diagnose_text(r, 0);
    CHECK(text != NULL && strncmp(text, "INVALID http-01", 15) == 0);
    /* The problem is one address's: the verdict names it, and its records explain it. */
    CHECK_MSG(text && strcmp(first_line(text), "INVALID http-01 www.example.com: at 192.0.2.2, "
                                               "the file holds a key authorization for another "
                                               "account key") == 0,
              "%s", text ? first_line(text) : "");
    CHECK(strcmp(acmeva_diagnose_cause(r), "other-account-key") == 0);
    CHECK(text && strstr(text, "Each address on its own (--all-addresses):") != NULL);
    CHECK_MSG(text && strstr(text, "  VALID   192.0.2.1: HTTP 200 OK, body \"" KA "\"") != NULL,
              "%s", text);
    CHECK(text && strstr(text, "  INVALID 192.0.2.2: HTTP 200 OK, body \"" TOK ".old\"") != NULL);
    CHECK(text &&
          strstr(paragraph(text, "Note:"), "1 of 2 addresses do not serve the challenge "
                                           "(first: 192.0.2.2), while 192.0.2.1 does") != NULL);
    free(text);
    json_decref(r);
}

/* A body of 128 bytes or more is marked cut; a shorter one with many escapes is not. */
static void test_body_length(void)
{
    char body[600] = "", rec[900];
    for (int i = 0; i < 60; i++)
        strcat(body, "\\\\n"); /* 60 escaped newlines: 120 characters, 60 bytes */
    snprintf(rec, sizeof(rec),
             HOP("\"addressUsed\":\"192.0.2.1\",\"httpStatus\":200,\"body\":\"%s\""), body);
    json_t *r = json_loads(
        doc("invalid", "http-01", "www.example.com", rec, err("unauthorized", 403, "x")), 0, NULL);
    char *text = acmeva_diagnose_text(r, 0);
    CHECK(text && strstr(text, "there was more") == NULL);
    free(text);
    json_decref(r);
    memset(body, 'a', 128);
    body[128] = '\0';
    snprintf(rec, sizeof(rec),
             HOP("\"addressUsed\":\"192.0.2.1\",\"httpStatus\":200,\"body\":\"%s\""), body);
    r = json_loads(doc("invalid", "http-01", "www.example.com", rec, err("unauthorized", 403, "x")),
                   0, NULL);
    text = acmeva_diagnose_text(r, 0);
    CHECK(text && strstr(text, "(the first 128 bytes; there was more)") != NULL);
    free(text);
    json_decref(r);
}

/* Colour only when asked; whatever the document holds, no byte of it drives the terminal. */
static void test_color_and_safety(void)
{
    const char *json = doc("invalid", "http-01", "www.example.com",
                           HOP("\"addressUsed\":\"192.0.2.1\",\"httpStatus\":200,"
                               "\"body\":\"\\u001b[2J\\u202eevil\\u0007\""),
                           err("unauthorized", 403, "bad \\u001b]0;title\\u0007 detail"));
    json_t *r = json_loads(json, 0, NULL);
    CHECK(r != NULL);
    char *plain = acmeva_diagnose_text(r, 0);
    char *color = acmeva_diagnose_text(r, ACMEVA_DIAG_COLOR);
    CHECK(plain != NULL && color != NULL);
    if (plain != NULL && color != NULL) {
        CHECK(strchr(plain, '\x1b') == NULL && strchr(plain, '\a') == NULL);
        CHECK(strstr(plain, "\\x1b[2J\\u202eevil\\x07") != NULL);
        CHECK(strstr(color, "\x1b[1;31mINVALID\x1b[0m") == color);
        /* the only escapes in colour mode are ours: ESC [ digits ; m */
        for (const char *p = strchr(color, '\x1b'); p != NULL; p = strchr(p + 1, '\x1b')) {
            size_t n = strspn(p + 2, "0123456789;");
            CHECK_MSG(p[1] == '[' && p[2 + n] == 'm', "a foreign escape at %.10s", p);
        }
        CHECK(strchr(color, '\a') == NULL);
    }
    free(plain);
    free(color);
    json_decref(r);
    /* Not a result at all: still text, no crash. */
    json_t *odd = json_loads("[1,{\"x\":null}]", 0, NULL);
    char *t = acmeva_diagnose_text(odd, 0);
    CHECK(t != NULL && strncmp(t, "INVALID", 7) == 0);
    free(t);
    CHECK(strcmp(acmeva_diagnose_cause(odd), "other") == 0);
    json_decref(odd);
}

static void test_perspectives(void)
{
    const char *a =
        doc("valid", "dns-01", "www.example.com",
            "{\"hostname\":\"_acme-challenge.www.example.com\",\"records\":[\"good\"]}", "");
    char ra[4096];
    snprintf(ra, sizeof(ra), "%s", a);
    const char *b = doc("invalid", "dns-01", "www.example.com",
                        "{\"hostname\":\"_acme-challenge.www.example.com\",\"records\":[\"old\"]}",
                        err("unauthorized", 403, "Incorrect TXT record \\\"old\\\" found at x"));
    char all[16384];
    snprintf(all, sizeof(all),
             "{\"id\":\"t\",\"status\":\"invalid\",\"perspectives\":[{\"name\":\"here\","
             "\"resolver\":\"127.0.0.1:53\",\"result\":%s},{\"name\":\"there\",\"resolver\":"
             "\"127.0.0.2:53\",\"result\":%s}],\"disagreements\":[\"there: saw TXT \\\"old\\\" "
             "where here saw \\\"good\\\"\"]}",
             ra, b);
    json_t *d = json_loads(all, 0, NULL);
    CHECK(d != NULL);
    char *text = acmeva_diagnose_perspectives_text(d, 0);
    CHECK(text != NULL);
    if (text != NULL) {
        CHECK_STR(first_line(text), "INVALID dns-01 www.example.com: 1 of 2 perspectives "
                                    "valid, and their views differ");
        CHECK(strstr(text, "VALID   here (resolver 127.0.0.1:53), the reference") != NULL);
        CHECK(strstr(text, "INVALID there (resolver 127.0.0.2:53): Incorrect TXT record") != NULL);
        CHECK(strstr(text, "- there: saw TXT \"old\" where here saw \"good\"") != NULL);
        CHECK(strstr(text, "== there (resolver 127.0.0.2:53) ==\nINVALID dns-01") != NULL);
    }
    free(text);
    json_decref(d);
}

int main(void)
{
    test_catalogue();
    test_https_hop_note();
    test_address_checks();
    test_body_length();
    test_color_and_safety();
    test_perspectives();
    return CHECK_DONE();
}
