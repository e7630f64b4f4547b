/*
 * Unit tests of worker/redirect.c and the generated worker/tld_list.c: building and
 * formatting the first http-01 URL, RFC 3986 §5.4 reference resolution, and every redirect
 * policy rule with Boulder's detail texts (va/http.go newValidationRecordFromRedirect).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "redirect.h"

static const acmeva_redirect_policy prod = {80, 443};

/* resolve runs acmeva_redirect_resolve of |loc| against |base| and returns its code, with
 * the formatted target (or "" when out holds none) in |url| and the detail in |detail|. */
static int resolve(const acmeva_url *base, const char *loc, const acmeva_redirect_policy *pol,
                   acmeva_url *out, char *url, char *detail)
{
    int rc = acmeva_redirect_resolve(base, loc, strlen(loc), pol, out, detail, 512);
    url[0] = '\0';
    if (out->path != NULL)
        CHECK_INT(acmeva_url_format(out, url, 8192), 0);
    if (rc == 0)
        CHECK_STR(detail, "");
    return rc;
}

/* expect_ok checks that |loc| resolves against |base| to the URL |want|. */
static void expect_ok(const acmeva_url *base, const char *loc, const char *want)
{
    acmeva_url out;
    char url[8192], detail[512];
    int rc = resolve(base, loc, &prod, &out, url, detail);
    CHECK_MSG(rc == 0, "\"%s\": rc %d (%s)", loc, rc, detail);
    CHECK_MSG(strcmp(url, want) == 0, "\"%s\" -> \"%s\", want \"%s\"", loc, url, want);
    acmeva_url_clear(&out);
}

/* expect_refused checks that |loc| is refused with |code| and exactly |want_detail|, and
 * that |out| names |want_url| ("" when it names no target). */
static void expect_refused_pol(const acmeva_url *base, const char *loc,
                               const acmeva_redirect_policy *pol, int code, const char *want_detail,
                               const char *want_url)
{
    acmeva_url out;
    char url[8192], detail[512];
    int rc = resolve(base, loc, pol, &out, url, detail);
    CHECK_MSG(rc == code, "\"%.80s\": rc %d, want %d (%s)", loc, rc, code, detail);
    CHECK_MSG(strcmp(detail, want_detail) == 0, "\"%.80s\": detail \"%s\", want \"%s\"", loc,
              detail, want_detail);
    CHECK_MSG(strcmp(url, want_url) == 0, "\"%.80s\": target \"%s\", want \"%s\"", loc, url,
              want_url);
    acmeva_url_clear(&out);
}

static void expect_refused(const acmeva_url *base, const char *loc, int code,
                           const char *want_detail, const char *want_url)
{
    expect_refused_pol(base, loc, &prod, code, want_detail, want_url);
}

#define BAD_LOCATION "Invalid Location header in redirect"

static void expect_bad_location(const acmeva_url *base, const char *loc)
{
    expect_refused(base, loc, ACMEVA_REDIRECT_EBADLOCATION, BAD_LOCATION, "");
}

static void test_build_and_format(void)
{
    acmeva_url u;
    char buf[512];
    CHECK_INT(acmeva_url_build(&u, 0, "Example.COM", 80, "/.well-known/acme-challenge/tok"), 0);
    CHECK_STR(u.host, "example.com");
    CHECK_INT(u.host_is_ip, 0);
    CHECK_INT(u.port, 80);
    CHECK_INT(u.port_explicit, 0);
    CHECK_INT(acmeva_url_format(&u, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "http://example.com/.well-known/acme-challenge/tok");
    /* Too small a buffer: refused, left empty. */
    CHECK_INT(acmeva_url_format(&u, buf, strlen("http://example.com/.well-known/")), -1);
    CHECK_STR(buf, "");
    acmeva_url_clear(&u);
    CHECK(u.path == NULL);

    CHECK_INT(acmeva_url_build(&u, 0, "192.0.2.7", 80, "/x"), 0);
    CHECK_INT(u.host_is_ip, 4);
    CHECK(memcmp(u.ip, "\xc0\x00\x02\x07", 4) == 0);
    CHECK_INT(acmeva_url_format(&u, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "http://192.0.2.7/x");
    acmeva_url_clear(&u);

    CHECK_INT(acmeva_url_build(&u, 0, "[2001:DB8:0:0::1]", 80, "/x"), 0);
    CHECK_INT(u.host_is_ip, 6);
    CHECK_STR(u.host, "2001:db8::1");
    CHECK_INT(acmeva_url_format(&u, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "http://[2001:db8::1]/x");
    acmeva_url_clear(&u);

    CHECK_INT(acmeva_url_build(&u, 0, "::1", 5002, "/x"), 0);
    CHECK_INT(u.port_explicit, 1);
    CHECK_INT(acmeva_url_format(&u, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "http://[::1]:5002/x");
    acmeva_url_clear(&u);

    CHECK_INT(acmeva_url_build(&u, 1, "example.com", 443, "/"), 0);
    CHECK_INT(acmeva_url_format(&u, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "https://example.com/");
    acmeva_url_clear(&u);
    CHECK_INT(acmeva_url_build(&u, 1, "example.com", 80, "/"), 0);
    CHECK_INT(acmeva_url_format(&u, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "https://example.com:80/");
    acmeva_url_clear(&u);

    CHECK_INT(acmeva_url_build(&u, 0, "example.com", 80, "x"), ACMEVA_REDIRECT_EINVAL);
    CHECK_INT(acmeva_url_build(&u, 0, "example.com", 80, "/a b"), ACMEVA_REDIRECT_EINVAL);
    CHECK_INT(acmeva_url_build(&u, 0, "example.com", 80, "/a#b"), ACMEVA_REDIRECT_EINVAL);
    CHECK_INT(acmeva_url_build(&u, 0, "exa/mple.com", 80, "/"), ACMEVA_REDIRECT_EINVAL);
    CHECK_INT(acmeva_url_build(&u, 0, "", 80, "/"), ACMEVA_REDIRECT_EINVAL);
    CHECK_INT(acmeva_url_build(&u, 0, NULL, 80, "/"), ACMEVA_REDIRECT_EINVAL);
    CHECK(u.path == NULL);
    CHECK_INT(acmeva_url_format(NULL, buf, sizeof(buf)), -1);
    acmeva_url_clear(NULL);
}

/* RFC 3986 §5.4: the reference resolution examples, with the base "http://a/b/c/d;p?q" on
 * a host with a public TLD (".example" is not one: see test_hosts). */
static void test_rfc3986_examples(void)
{
    acmeva_url base;
    CHECK_INT(acmeva_url_build(&base, 0, "a.example.net", 80, "/b/c/d;p?q"), 0);
    static const struct {
        const char *ref, *want;
    } cases[] = {
        /* §5.4.1 normal examples */
        {"g", "http://a.example.net/b/c/g"},
        {"./g", "http://a.example.net/b/c/g"},
        {"g/", "http://a.example.net/b/c/g/"},
        {"/g", "http://a.example.net/g"},
        {"//g.example.org", "http://g.example.org/"},
        {"?y", "http://a.example.net/b/c/d;p?y"},
        {"g?y", "http://a.example.net/b/c/g?y"},
        {"#s", "http://a.example.net/b/c/d;p?q"},
        {"g#s", "http://a.example.net/b/c/g"},
        {"g?y#s", "http://a.example.net/b/c/g?y"},
        {";x", "http://a.example.net/b/c/;x"},
        {"g;x", "http://a.example.net/b/c/g;x"},
        {"g;x?y#s", "http://a.example.net/b/c/g;x?y"},
        {".", "http://a.example.net/b/c/"},
        {"./", "http://a.example.net/b/c/"},
        {"..", "http://a.example.net/b/"},
        {"../", "http://a.example.net/b/"},
        {"../g", "http://a.example.net/b/g"},
        {"../..", "http://a.example.net/"},
        {"../../", "http://a.example.net/"},
        {"../../g", "http://a.example.net/g"},
        /* §5.4.2 abnormal examples */
        {"../../../g", "http://a.example.net/g"},
        {"../../../../g", "http://a.example.net/g"},
        {"/./g", "http://a.example.net/g"},
        {"/../g", "http://a.example.net/g"},
        {"g.", "http://a.example.net/b/c/g."},
        {".g", "http://a.example.net/b/c/.g"},
        {"g..", "http://a.example.net/b/c/g.."},
        {"..g", "http://a.example.net/b/c/..g"},
        {"./../g", "http://a.example.net/b/g"},
        {"./g/.", "http://a.example.net/b/c/g/"},
        {"g/./h", "http://a.example.net/b/c/g/h"},
        {"g/../h", "http://a.example.net/b/c/h"},
        {"g;x=1/./y", "http://a.example.net/b/c/g;x=1/y"},
        {"g;x=1/../y", "http://a.example.net/b/c/y"},
        {"g?y/./x", "http://a.example.net/b/c/g?y/./x"},
        {"g?y/../x", "http://a.example.net/b/c/g?y/../x"},
        {"g#s/./x", "http://a.example.net/b/c/g"},
        {"g#s/../x", "http://a.example.net/b/c/g"},
        /* absolute references get their dot segments removed too (§5.2.2) */
        {"http://a.example.net/b/c/./../g", "http://a.example.net/b/g"},
        {"http://a.example.net/x/..", "http://a.example.net/"},
        {"/a//../b", "http://a.example.net/a/b"},
        /* a colon after the first segment is a path, not a scheme (§4.2) */
        {"./a:b", "http://a.example.net/b/c/a:b"},
        {"a/b:c", "http://a.example.net/b/c/a/b:c"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_ok(&base, cases[i].ref, cases[i].want);
    /* "http:g": strict parsers (§5.2.2, Go) read a scheme and no authority: no host. */
    expect_refused(&base, "http:g", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid empty host in redirect target", "http:///g");
    /* "g:h" has the scheme "g". */
    expect_refused(&base, "g:h", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid protocol scheme in redirect target. Only \"http\" and \"https\" "
                   "protocol schemes are supported, not \"g\"",
                   "");
    acmeva_url_clear(&base);
}

static void test_absolute_targets(void)
{
    acmeva_url base, out;
    char url[8192], detail[512];
    CHECK_INT(acmeva_url_build(&base, 0, "example.com", 80, "/.well-known/acme-challenge/t"), 0);

    expect_ok(&base, "http://example.com/x", "http://example.com/x");
    expect_ok(&base, "https://example.com/x", "https://example.com/x");
    expect_ok(&base, "//other.example.org/p", "http://other.example.org/p");
    expect_ok(&base, "http://example.com", "http://example.com/");
    expect_ok(&base, "http://example.com?a=b", "http://example.com/?a=b");
    expect_ok(&base, "http://example.com/x?", "http://example.com/x?");
    expect_ok(&base, "http://example.com/x?a=1&b=/c?d", "http://example.com/x?a=1&b=/c?d");
    expect_ok(&base, "http://example.com/x#frag", "http://example.com/x");
    expect_ok(&base, "http://example.com/x?q#frag?x", "http://example.com/x?q");
    /* Optional whitespace around the field value. */
    expect_ok(&base, " \thttp://example.com/x\t ", "http://example.com/x");

    /* The scheme and the host are lowercased, the path is not. */
    expect_ok(&base, "HTTP://WWW.Example.COM/Path/To", "http://www.example.com/Path/To");
    CHECK_INT(resolve(&base, "HtTpS://EXAMPLE.com/", &prod, &out, url, detail), 0);
    CHECK_INT(out.https, 1);
    CHECK_STR(out.host, "example.com");
    CHECK_INT(out.port, 443);
    CHECK_INT(out.port_explicit, 0);
    acmeva_url_clear(&out);

    /* Percent-escapes are kept; what a URI may not hold is escaped, as Go sends it. */
    expect_ok(&base, "/a%41%2f", "http://example.com/a%41%2f");
    expect_ok(&base, "/a\"b<c>d\\e^f`g{h|i}[j]",
              "http://example.com/a%22b%3Cc%3Ed%5Ce%5Ef%60g%7Bh%7Ci%7D%5Bj%5D");
    expect_ok(&base, "/caf\xc3\xa9?q=\xc3\xa9|", "http://example.com/caf%C3%A9?q=%C3%A9%7C");
    expect_ok(&base, "/x?a='b'&c=(d)*!$,;:@/?", "http://example.com/x?a='b'&c=(d)*!$,;:@/?");
    /* Backslashes are path characters (not WHATWG's '/'). */
    expect_ok(&base, "\\\\evil.example\\x",
              "http://example.com/.well-known/acme-challenge/%5C%5Cevil.example%5Cx");

    /* Userinfo: accepted and dropped (Go parses it and Boulder follows the redirect; acmeva
     * never sends it). */
    expect_ok(&base, "http://user:pass@example.com/x", "http://example.com/x");
    expect_ok(&base, "http://user@example.com:443/x", "http://example.com:443/x");
    expect_ok(&base, "http://a@b@example.com/x", "http://example.com/x");
    CHECK_INT(resolve(&base, "http://user:pw@example.com/x", &prod, &out, url, detail), 0);
    CHECK(strstr(url, "user") == NULL && strstr(url, "pw") == NULL);
    acmeva_url_clear(&out);
    expect_bad_location(&base, "http://us\"er@example.com/x");
    acmeva_url_clear(&base);
}

static void test_schemes(void)
{
    acmeva_url base;
    CHECK_INT(acmeva_url_build(&base, 0, "example.com", 80, "/t"), 0);
    expect_refused(&base, "ftp://example.com/x", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid protocol scheme in redirect target. Only \"http\" and \"https\" "
                   "protocol schemes are supported, not \"ftp\"",
                   "");
    expect_refused(&base, "FTP://example.com/x", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid protocol scheme in redirect target. Only \"http\" and \"https\" "
                   "protocol schemes are supported, not \"ftp\"",
                   "");
    expect_refused(&base, "mailto:admin@example.com", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid protocol scheme in redirect target. Only \"http\" and \"https\" "
                   "protocol schemes are supported, not \"mailto\"",
                   "");
    expect_refused(&base, "javascript:alert(1)", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid protocol scheme in redirect target. Only \"http\" and \"https\" "
                   "protocol schemes are supported, not \"javascript\"",
                   "");
    expect_refused(&base, "httpx://example.com/", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid protocol scheme in redirect target. Only \"http\" and \"https\" "
                   "protocol schemes are supported, not \"httpx\"",
                   "");
    /* Not a scheme: a digit first, or an empty one; the first segment then holds ':'. */
    expect_bad_location(&base, "1http://example.com/");
    expect_bad_location(&base, "://example.com/");
    acmeva_url_clear(&base);
}

static void test_ports(void)
{
    acmeva_url base, out;
    char url[8192], detail[512];
    CHECK_INT(acmeva_url_build(&base, 0, "example.com", 80, "/t"), 0);
    expect_refused(&base, "http://example.com:8080/x", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid port in redirect target. Only ports 80 and 443 are supported, not "
                   "8080",
                   "http://example.com:8080/x");
    expect_refused(&base, "https://example.com:08443/", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid port in redirect target. Only ports 80 and 443 are supported, not "
                   "8443",
                   "https://example.com:8443/");
    expect_refused(&base, "http://example.com:0/", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid port in redirect target. Only ports 80 and 443 are supported, not 0",
                   "http://example.com:0/");
    expect_refused(&base, "http://example.com:99999/", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid port in redirect target. Only ports 80 and 443 are supported, not "
                   "99999",
                   "http://example.com:0/");
    expect_refused(&base, "http://[2001:db8::1]:22/", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid port in redirect target. Only ports 80 and 443 are supported, not 22",
                   "http://[2001:db8::1]:22/");
    /* Either configured port goes with either scheme (Boulder). */
    expect_ok(&base, "http://example.com:443/x", "http://example.com:443/x");
    expect_ok(&base, "https://example.com:80/x", "https://example.com:80/x");
    expect_ok(&base, "http://example.com:80/x", "http://example.com/x");
    expect_ok(&base, "http://example.com:0080/x", "http://example.com/x");
    /* An empty port is no port (RFC 3986 §6.2.3). */
    expect_ok(&base, "http://example.com:/x", "http://example.com/x");
    CHECK_INT(resolve(&base, "https://example.com:/x", &prod, &out, url, detail), 0);
    CHECK_INT(out.port, 443);
    CHECK_INT(out.port_explicit, 0);
    acmeva_url_clear(&out);
    CHECK_INT(resolve(&base, "http://example.com:443/x", &prod, &out, url, detail), 0);
    CHECK_INT(out.port, 443);
    CHECK_INT(out.port_explicit, 1);
    acmeva_url_clear(&out);
    expect_bad_location(&base, "http://example.com:8o/");
    expect_bad_location(&base, "http://example.com:-1/");
    expect_bad_location(&base, "http://example.com:80:80/");
    acmeva_url_clear(&base);

    /* Configured ports (tests run on loopback): the scheme's default comes from the policy,
     * and the detail names the configured ports. */
    const acmeva_redirect_policy test = {5002, 5001};
    CHECK_INT(acmeva_url_build(&base, 0, "example.com", 5002, "/a/b"), 0);
    CHECK_INT(resolve(&base, "http://example.com/x", &test, &out, url, detail), 0);
    CHECK_INT(out.port, 5002);
    CHECK_STR(url, "http://example.com:5002/x");
    acmeva_url_clear(&out);
    CHECK_INT(resolve(&base, "https://example.com/x", &test, &out, url, detail), 0);
    CHECK_INT(out.port, 5001);
    CHECK_STR(url, "https://example.com:5001/x");
    acmeva_url_clear(&out);
    CHECK_INT(resolve(&base, "https://example.com:5002/x", &test, &out, url, detail), 0);
    CHECK_INT(out.port, 5002);
    acmeva_url_clear(&out);
    /* A relative reference keeps the base's port. */
    CHECK_INT(resolve(&base, "c", &test, &out, url, detail), 0);
    CHECK_STR(url, "http://example.com:5002/a/c");
    acmeva_url_clear(&out);
    expect_refused_pol(&base, "http://example.com:80/x", &test, ACMEVA_REDIRECT_EREFUSED,
                       "Invalid port in redirect target. Only ports 5002 and 5001 are "
                       "supported, not 80",
                       "http://example.com/x");
    acmeva_url_clear(&base);

    /* An https base: relative references stay https. */
    CHECK_INT(acmeva_url_build(&base, 1, "example.com", 443, "/a/b"), 0);
    expect_ok(&base, "c?d", "https://example.com/a/c?d");
    expect_ok(&base, "//example.net/", "https://example.net/");
    expect_ok(&base, "http://example.net/", "http://example.net/");
    acmeva_url_clear(&base);
}

static void test_hosts(void)
{
    acmeva_url base, out;
    char url[8192], detail[512];
    CHECK_INT(acmeva_url_build(&base, 0, "example.com", 80, "/t"), 0);

    /* Empty host. */
    expect_refused(&base, "http:///x", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid empty host in redirect target", "http:///x");
    expect_refused(&base, "https://user:pw@/x", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid empty host in redirect target", "https:///x");
    expect_refused(&base, "//", ACMEVA_REDIRECT_EREFUSED, "Invalid empty host in redirect target",
                   "http:///");
    expect_refused(&base, "http::80/", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid empty host in redirect target", "http:///:80/");

    /* The missing '/' misconfiguration. */
    expect_refused(&base, "https://example.com.well-known/acme-challenge/t",
                   ACMEVA_REDIRECT_EREFUSED,
                   "Invalid host in redirect target \"example.com.well-known\". Check "
                   "webserver config for missing '/' in redirect target.",
                   "https://example.com.well-known/acme-challenge/t");
    expect_refused(&base, "http://Example.COM.Well-Known/x", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid host in redirect target \"example.com.well-known\". Check "
                   "webserver config for missing '/' in redirect target.",
                   "http://example.com.well-known/x");

    /* TLDs: IANA-registered only, and not a TLD alone. */
    static const char tld_text[] =
        "Invalid host in redirect target, must end in IANA registered TLD";
    expect_refused(&base, "http://example.notatld/x", ACMEVA_REDIRECT_EREFUSED, tld_text,
                   "http://example.notatld/x");
    expect_refused(&base, "http://localhost/x", ACMEVA_REDIRECT_EREFUSED, tld_text,
                   "http://localhost/x");
    expect_refused(&base, "http://com/x", ACMEVA_REDIRECT_EREFUSED, tld_text, "http://com/x");
    expect_refused(&base, "http://.com/x", ACMEVA_REDIRECT_EREFUSED, tld_text, "http://.com/x");
    expect_refused(&base, "http://example.com./x", ACMEVA_REDIRECT_EREFUSED, tld_text,
                   "http://example.com./x");
    expect_refused(&base, "http://printer.local/", ACMEVA_REDIRECT_EREFUSED, tld_text,
                   "http://printer.local/");
    expect_refused(&base, "http://www.example/", ACMEVA_REDIRECT_EREFUSED, tld_text,
                   "http://www.example/");
    expect_refused(&base, "http://127.000.000.001/", ACMEVA_REDIRECT_EREFUSED, tld_text,
                   "http://127.000.000.001/");
    expect_refused(&base, "http://0x7f.0.0.1/", ACMEVA_REDIRECT_EREFUSED, tld_text,
                   "http://0x7f.0.0.1/");
    expect_refused(&base, "http://2130706433/", ACMEVA_REDIRECT_EREFUSED, tld_text,
                   "http://2130706433/");
    /* A non-ASCII TLD written as UTF-8 is not on the (A-label) list. */
    expect_refused(&base,
                   "http://\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84/",
                   ACMEVA_REDIRECT_EREFUSED, tld_text,
                   "http://%D0%BF%D1%80%D0%B8%D0%BC%D0%B5%D1%80.%D1%80%D1%84/");
    expect_ok(&base, "http://example.co.uk/", "http://example.co.uk/");
    expect_ok(&base, "http://a.b.c.example.museum/", "http://a.b.c.example.museum/");
    expect_ok(&base, "http://www.example.xn--p1ai/", "http://www.example.xn--p1ai/");
    expect_ok(&base, "http://XN--E1AFMKFD.XN--P1AI/", "http://xn--e1afmkfd.xn--p1ai/");
    expect_ok(&base, "http://example.xn--fiqs8s/", "http://example.xn--fiqs8s/");

    /* Host name syntax. */
    static const char name_text[] = "Invalid host in redirect target: invalid domain name";
    expect_refused(&base, "http://exa$mple.com/", ACMEVA_REDIRECT_EREFUSED, name_text,
                   "http://exa$mple.com/");
    expect_refused(&base, "http://a..example.com/", ACMEVA_REDIRECT_EREFUSED, name_text,
                   "http://a..example.com/");
    expect_refused(&base,
                   "http://b\xc3\xbc"
                   "cher.de/",
                   ACMEVA_REDIRECT_EREFUSED, name_text, "http://b%C3%BCcher.de/");
    expect_refused(&base, "http://b%C3%BCcher.de/", ACMEVA_REDIRECT_EREFUSED, name_text,
                   "http://b%C3%BCcher.de/");
    expect_ok(&base, "http://under_score.example.com/", "http://under_score.example.com/");
    expect_ok(&base, "http://xn--bcher-kva.de/", "http://xn--bcher-kva.de/");
    char loc[600];
    char label63[64], label64[65];
    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'a', 64);
    label64[64] = '\0';
    snprintf(loc, sizeof(loc), "http://%s.com/", label63);
    CHECK_INT(resolve(&base, loc, &prod, &out, url, detail), 0);
    acmeva_url_clear(&out);
    snprintf(loc, sizeof(loc), "http://%s.com/", label64);
    CHECK_INT(resolve(&base, loc, &prod, &out, url, detail), ACMEVA_REDIRECT_EREFUSED);
    CHECK_STR(detail, name_text);
    acmeva_url_clear(&out);
    /* 253 bytes is the longest name: 62 * 4 + ".com" = 252 + 1. */
    char name[300];
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        memset(name + n, 'b', 61);
        n += 61;
        name[n++] = '.';
    }
    memcpy(name + n, "com", 4);                       /* 248 + 3 = 251 */
    snprintf(loc, sizeof(loc), "http://xy%s/", name); /* 253 */
    CHECK_INT(resolve(&base, loc, &prod, &out, url, detail), 0);
    acmeva_url_clear(&out);
    snprintf(loc, sizeof(loc), "http://xyz%s/", name); /* 254 */
    CHECK_INT(resolve(&base, loc, &prod, &out, url, detail), ACMEVA_REDIRECT_EREFUSED);
    CHECK_STR(detail, name_text);
    acmeva_url_clear(&out);

    /* Characters no URI host holds, and escapes of ASCII in a host (Go refuses both). */
    expect_bad_location(&base, "http://exa\"mple.com/");
    expect_bad_location(&base, "http://exa<mple.com/");
    expect_bad_location(&base, "http://exa^mple.com/");
    expect_bad_location(&base, "http://%65xample.com/");
    expect_bad_location(&base, "http://example.com%2f.evil.com/");
    acmeva_url_clear(&base);
}

static void test_ip_literals(void)
{
    acmeva_url base, out;
    char url[8192], detail[512];
    CHECK_INT(acmeva_url_build(&base, 0, "example.com", 80, "/t"), 0);

    CHECK_INT(resolve(&base, "http://192.0.2.1/x", &prod, &out, url, detail), 0);
    CHECK_INT(out.host_is_ip, 4);
    CHECK(memcmp(out.ip, "\xc0\x00\x02\x01", 4) == 0);
    CHECK_STR(out.host, "192.0.2.1");
    CHECK_STR(url, "http://192.0.2.1/x");
    acmeva_url_clear(&out);

    /* Reserved addresses pass here: the caller checks them at dial time. */
    CHECK_INT(resolve(&base, "http://127.0.0.1/x", &prod, &out, url, detail), 0);
    CHECK_INT(out.host_is_ip, 4);
    acmeva_url_clear(&out);

    uint8_t want6[16];
    inet_pton(AF_INET6, "2001:db8::1", want6);
    CHECK_INT(resolve(&base, "https://[2001:DB8:0::1]:443/x?y", &prod, &out, url, detail), 0);
    CHECK_INT(out.host_is_ip, 6);
    CHECK(memcmp(out.ip, want6, 16) == 0);
    CHECK_STR(out.host, "2001:db8::1");
    CHECK_STR(url, "https://[2001:db8::1]/x?y");
    acmeva_url_clear(&out);

    expect_ok(&base, "http://[::1]/", "http://[::1]/");
    expect_ok(&base, "http://[::1]:443/", "http://[::1]:443/");
    expect_ok(&base, "http://[::ffff:127.0.0.1]/", "http://[::ffff:127.0.0.1]/");
    /* Relative references keep an IPv6 base. */
    acmeva_url base6;
    CHECK_INT(acmeva_url_build(&base6, 0, "2001:db8::7", 80, "/a/b"), 0);
    expect_ok(&base6, "c", "http://[2001:db8::7]/a/c");
    acmeva_url_clear(&base6);

    expect_refused(&base, "http://[fe80::1%25eth0]/x", ACMEVA_REDIRECT_EREFUSED,
                   "Invalid host in redirect target: contains scope zone",
                   "http://[fe80::1%25eth0]/x");
    expect_bad_location(&base, "http://[fe80::1%eth0]/x");
    expect_bad_location(&base, "http://[1.2.3.4]/");
    expect_bad_location(&base, "http://[v1.fe]/");
    expect_bad_location(&base, "http://[::1/");
    expect_bad_location(&base, "http://[::1]x/");
    expect_bad_location(&base, "http://[::g]/");
    expect_bad_location(&base, "http://[]/");
    expect_bad_location(&base, "http://::1/");
    expect_bad_location(&base, "http://[::1]:8x/");
    acmeva_url_clear(&base);
}

static void test_lengths(void)
{
    acmeva_url base, out;
    char url[8192], detail[512];
    static char loc[8192];
    CHECK_INT(acmeva_url_build(&base, 0, "example.com", 80, "/t"), 0);

    /* A path of 2000 bytes is followed, 2001 is not (Boulder's maxPathSize). */
    size_t n = (size_t)snprintf(loc, sizeof(loc), "http://example.com/");
    memset(loc + n, 'a', 1999);
    loc[n + 1999] = '\0';
    CHECK_INT(resolve(&base, loc, &prod, &out, url, detail), 0);
    CHECK_INT(strlen(out.path), 2000);
    acmeva_url_clear(&out);
    loc[n + 1999] = 'a';
    loc[n + 2000] = '\0';
    CHECK_INT(resolve(&base, loc, &prod, &out, url, detail), ACMEVA_REDIRECT_EREFUSED);
    CHECK_STR(detail, "Redirect target too long");
    CHECK(out.path != NULL && strlen(out.path) == 2001);
    acmeva_url_clear(&out);

    /* The length is the decoded path's: "%41" counts one byte. */
    n = (size_t)snprintf(loc, sizeof(loc), "http://example.com/");
    for (int i = 0; i < 999; i++)
        n += (size_t)snprintf(loc + n, sizeof(loc) - n, "%%41");
    memset(loc + n, 'b', 1000);
    loc[n + 1000] = '\0';
    CHECK_INT(resolve(&base, loc, &prod, &out, url, detail), 0);
    acmeva_url_clear(&out);
    loc[n + 1000] = 'b';
    loc[n + 1001] = '\0';
    CHECK_INT(resolve(&base, loc, &prod, &out, url, detail), ACMEVA_REDIRECT_EREFUSED);
    CHECK_STR(detail, "Redirect target too long");
    acmeva_url_clear(&out);

    /* The query does not count. */
    n = (size_t)snprintf(loc, sizeof(loc), "http://example.com/");
    memset(loc + n, 'a', 1999);
    n += 1999;
    loc[n++] = '?';
    memset(loc + n, 'q', 1500);
    loc[n + 1500] = '\0';
    CHECK_INT(resolve(&base, loc, &prod, &out, url, detail), 0);
    acmeva_url_clear(&out);

    /* A relative reference that makes the path too long. */
    acmeva_url deep;
    static char deep_path[2100];
    deep_path[0] = '/';
    memset(deep_path + 1, 'd', 1990);
    memcpy(deep_path + 1991, "/x", 3);
    CHECK_INT(acmeva_url_build(&deep, 0, "example.com", 80, deep_path), 0);
    CHECK_INT(resolve(&deep, "12345678", &prod, &out, url, detail), 0); /* 1992 + 8 */
    acmeva_url_clear(&out);
    CHECK_INT(resolve(&deep, "123456789", &prod, &out, url, detail), ACMEVA_REDIRECT_EREFUSED);
    CHECK_STR(detail, "Redirect target too long");
    acmeva_url_clear(&out);
    acmeva_url_clear(&deep);

    /* The Location itself: 4096 bytes are read, 4097 are not. */
    n = (size_t)snprintf(loc, sizeof(loc), "http://example.com/?");
    memset(loc + n, 'q', 4096 - n);
    loc[4096] = '\0';
    CHECK_INT(resolve(&base, loc, &prod, &out, url, detail), 0);
    acmeva_url_clear(&out);
    loc[4096] = 'q';
    loc[4097] = '\0';
    expect_refused(&base, loc, ACMEVA_REDIRECT_EREFUSED, "Redirect target too long", "");
    acmeva_url_clear(&base);
}

static void test_bad_locations(void)
{
    acmeva_url base;
    CHECK_INT(acmeva_url_build(&base, 0, "example.com", 80, "/t"), 0);
    expect_bad_location(&base, "");
    expect_bad_location(&base, "   ");
    expect_bad_location(&base, "http://example.com/a b");
    expect_bad_location(&base, "http://example.com/a\tb");
    expect_bad_location(&base, "http://example.com/a\x01");
    expect_bad_location(&base, "http://example.com/a\x7f");
    expect_bad_location(&base, "http://example.com/\r\nSet-Cookie: x");
    expect_bad_location(&base, "http://example.com/a%zz");
    expect_bad_location(&base, "http://example.com/a%4");
    expect_bad_location(&base, "http://example.com/a%");
    expect_bad_location(&base, "http://example.com/a?b=%g0");
    expect_bad_location(&base, "http://example.com/a#%zz");
    acmeva_url_clear(&base);
}

static void test_arguments(void)
{
    acmeva_url base, out;
    char detail[64];
    CHECK_INT(acmeva_url_build(&base, 0, "example.com", 80, "/t"), 0);
    CHECK_INT(acmeva_redirect_resolve(&base, "/x", 2, &prod, &base, detail, sizeof(detail)),
              ACMEVA_REDIRECT_EINVAL);
    CHECK(base.path != NULL);
    CHECK_INT(acmeva_redirect_resolve(NULL, "/x", 2, &prod, &out, detail, sizeof(detail)),
              ACMEVA_REDIRECT_EINVAL);
    CHECK(out.path == NULL);
    CHECK_INT(acmeva_redirect_resolve(&base, "/x", 2, NULL, &out, detail, sizeof(detail)),
              ACMEVA_REDIRECT_EINVAL);
    CHECK_INT(acmeva_redirect_resolve(&base, NULL, 2, &prod, &out, detail, sizeof(detail)),
              ACMEVA_REDIRECT_EINVAL);
    CHECK_INT(acmeva_redirect_resolve(&base, "/x", 2, &prod, NULL, detail, sizeof(detail)),
              ACMEVA_REDIRECT_EINVAL);
    /* No detail buffer, and a small one: cut, NUL-terminated. */
    CHECK_INT(acmeva_redirect_resolve(&base, "ftp://x", 7, &prod, &out, NULL, 0),
              ACMEVA_REDIRECT_EREFUSED);
    acmeva_url_clear(&out);
    CHECK_INT(acmeva_redirect_resolve(&base, "ftp://x", 7, &prod, &out, detail, 8),
              ACMEVA_REDIRECT_EREFUSED);
    CHECK_STR(detail, "Invalid");
    acmeva_url_clear(&out);
    /* The Location is not NUL-terminated: only location_len bytes are read. */
    CHECK_INT(acmeva_redirect_resolve(&base, "/abc/def", 4, &prod, &out, detail, sizeof(detail)),
              0);
    CHECK_STR(out.path, "/abc");
    acmeva_url_clear(&out);
    acmeva_url_clear(&base);
}

static void test_tld_list(void)
{
    CHECK_INT(acmeva_tld_is_public("com", 3), 1);
    CHECK_INT(acmeva_tld_is_public("uk", 2), 1);
    CHECK_INT(acmeva_tld_is_public("co", 2), 1);
    CHECK_INT(acmeva_tld_is_public("xn--p1ai", 8), 1);
    CHECK_INT(acmeva_tld_is_public("aaa", 3), 1);  /* the first */
    CHECK_INT(acmeva_tld_is_public("zw", 2), 1);   /* the last */
    CHECK_INT(acmeva_tld_is_public("comx", 3), 1); /* only |len| bytes count */
    CHECK_INT(acmeva_tld_is_public("comx", 4), 0);
    CHECK_INT(acmeva_tld_is_public("co", 1), 0);
    CHECK_INT(acmeva_tld_is_public("COM", 3), 0); /* lowercase only */
    CHECK_INT(acmeva_tld_is_public("local", 5), 0);
    CHECK_INT(acmeva_tld_is_public("localhost", 9), 0);
    CHECK_INT(acmeva_tld_is_public("", 0), 0);
    CHECK_INT(acmeva_tld_is_public(NULL, 3), 0);
}

int main(void)
{
    test_build_and_format();
    test_rfc3986_examples();
    test_absolute_targets();
    test_schemes();
    test_ports();
    test_hosts();
    test_ip_literals();
    test_lengths();
    test_bad_locations();
    test_arguments();
    test_tld_list();
    return CHECK_DONE();
}
