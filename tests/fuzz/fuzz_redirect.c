/*
 * Fuzz target for the http-01 redirect policy: the input is a Location header value,
 * resolved against two fixed bases (an http DNS base with the production ports, an https
 * IPv6 base with test ports). Besides memory errors and leaks, it checks the promises of
 * redirect.h: an accepted target is printable ASCII with an absolute path, a lowercase host,
 * IP bytes matching the IP text and a path of at most ACMEVA_REDIRECT_MAX_PATH decoded bytes;
 * formatting it and resolving the text again gives the same URL; a refusal has a detail.
 * The same bytes go through acmeva_escape, whose output must be safe at any buffer size.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "redirect.h"

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static int printable_ascii(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    }
    return 1;
}

static size_t decoded_path_length(const char *path)
{
    size_t n = 0;
    for (const char *p = path; *p != '\0' && *p != '?'; p++, n++) {
        if (*p == '%') {
            REQUIRE(p[1] != '\0' && p[2] != '\0');
            p += 2;
        }
    }
    return n;
}

static void check_accepted(const acmeva_url *u)
{
    REQUIRE(u->path != NULL && u->path[0] == '/');
    REQUIRE(printable_ascii(u->path) && strchr(u->path, '#') == NULL);
    REQUIRE(u->host[0] != '\0' && printable_ascii(u->host));
    for (const char *h = u->host; *h != '\0'; h++)
        REQUIRE(!(*h >= 'A' && *h <= 'Z'));
    REQUIRE(decoded_path_length(u->path) <= ACMEVA_REDIRECT_MAX_PATH);
    uint8_t ip[16];
    if (u->host_is_ip == 4) {
        REQUIRE(inet_pton(AF_INET, u->host, ip) == 1 && memcmp(ip, u->ip, 4) == 0);
    } else if (u->host_is_ip == 6) {
        REQUIRE(inet_pton(AF_INET6, u->host, ip) == 1 && memcmp(ip, u->ip, 16) == 0);
    } else {
        REQUIRE(u->host_is_ip == 0);
        REQUIRE(inet_pton(AF_INET, u->host, ip) != 1);
    }
}

static void run(const acmeva_url *base, const acmeva_redirect_policy *pol, const char *loc,
                size_t len)
{
    static char text[4 * ACMEVA_REDIRECT_MAX_LOCATION + 4096];
    static char again_text[sizeof(text)];
    char detail[512];
    acmeva_url out;
    int rc = acmeva_redirect_resolve(base, loc, len, pol, &out, detail, sizeof(detail));
    if (rc == 0) {
        REQUIRE(detail[0] == '\0');
        check_accepted(&out);
        REQUIRE(acmeva_url_format(&out, text, sizeof(text)) == 0);
        /* The formatted target is a fixed point (when short enough to be a Location: escaping
         * can make it longer than the value it came from). */
        if (strlen(text) > ACMEVA_REDIRECT_MAX_LOCATION) {
            acmeva_url_clear(&out);
            return;
        }
        acmeva_url again;
        int rc2 =
            acmeva_redirect_resolve(base, text, strlen(text), pol, &again, detail, sizeof(detail));
        REQUIRE(rc2 == 0);
        REQUIRE(acmeva_url_format(&again, again_text, sizeof(again_text)) == 0);
        REQUIRE(strcmp(text, again_text) == 0);
        REQUIRE(again.https == out.https && again.port == out.port &&
                again.host_is_ip == out.host_is_ip);
        acmeva_url_clear(&again);
    } else {
        REQUIRE(rc == ACMEVA_REDIRECT_EBADLOCATION || rc == ACMEVA_REDIRECT_EREFUSED);
        REQUIRE(detail[0] != '\0');
        if (out.path != NULL) {
            REQUIRE(out.path[0] == '/' && printable_ascii(out.path));
            REQUIRE(out.host[0] == '\0' || printable_ascii(out.host));
            REQUIRE(acmeva_url_format(&out, text, sizeof(text)) == 0);
        }
    }
    acmeva_url_clear(&out);
}

static void check_escape(const uint8_t *data, size_t size)
{
    static char buf[4 * 8192 + 1];
    size_t caps[] = {1, 2, 7, 64, sizeof(buf)};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        int rc = acmeva_escape(data, size, buf, caps[i], 0);
        REQUIRE(rc >= 0 && (size_t)rc <= size);
        size_t n = strlen(buf);
        REQUIRE(n < caps[i]);
        for (size_t k = 0; k < n; k++)
            REQUIRE((unsigned char)buf[k] >= 0x20 && (unsigned char)buf[k] != 0x7f);
        if (caps[i] == sizeof(buf) && size <= 8192)
            REQUIRE((size_t)rc == size);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static acmeva_url base_http, base_https6;
    static int ready;
    if (!ready) {
        if (acmeva_url_build(&base_http, 0, "example.com", 80,
                             "/.well-known/acme-challenge/LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjx") !=
                0 ||
            acmeva_url_build(&base_https6, 1, "2001:db8::1", 5001, "/a/b/c?d=e") != 0)
            abort();
        ready = 1;
    }
    static const acmeva_redirect_policy prod = {80, 443};
    static const acmeva_redirect_policy test = {5002, 5001};
    run(&base_http, &prod, (const char *)data, size);
    run(&base_https6, &test, (const char *)data, size);
    check_escape(data, size);
    return 0;
}
