/*
 * Unit tests of the HTTP/1.1 response reader: a table of responses, each fed in one piece,
 * one byte at a time, and split into two pieces at every split point; every way must give
 * the same outcome, and the one-piece outcome must be the expected one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "httpreader.h"

/* The outcome of reading one response. */
typedef struct outcome {
    int after_feeds; /* the last feed's result (MORE, DONE or negative) */
    int final;       /* after eof when the feeds ended with MORE, else after_feeds */
    int status;
    int has_location;
    char location[ACMEVA_HTTP_MAX_LOCATION + 1];
    size_t location_len;
    int location_too_long;
    int redirect;
    uint8_t body[ACMEVA_HTTP_BODY_CAP + 1];
    size_t body_len;
    int over_cap;
    acmeva_http_error error;
    char error_text[96];
} outcome;

typedef struct tcase {
    const char *name;
    char *data; /* owned */
    size_t len;
    int stop; /* stop_after_headers_for_redirects */
    int want_after_feeds;
    int want_final;
    int want_status;
    const char *want_location; /* NULL: none */
    size_t want_location_len;  /* used when want_location is set */
    int want_location_too_long;
    int want_redirect;
    const char *want_body;
    size_t want_body_len;
    int want_over_cap;
    acmeva_http_error want_error;
} tcase;

#define MAX_CASES 96
static tcase cases[MAX_CASES];
static size_t n_cases;

#define MORE ACMEVA_HTTP_MORE
#define DONE ACMEVA_HTTP_DONE
#define ERR(e) (-(int)(e))

static tcase *add_bytes(const char *name, const char *data, size_t len, int stop)
{
    if (n_cases == MAX_CASES) {
        fprintf(stderr, "too many cases\n");
        exit(2);
    }
    tcase *c = &cases[n_cases++];
    memset(c, 0, sizeof(*c));
    c->name = name;
    c->data = malloc(len ? len : 1);
    if (c->data == NULL)
        exit(2);
    memcpy(c->data, data, len);
    c->len = len;
    c->stop = stop;
    c->want_body = "";
    return c;
}

static tcase *add(const char *name, const char *data, int stop)
{
    return add_bytes(name, data, strlen(data), stop);
}

/* Expect a successful read with |body| (a C string). */
static void ok(tcase *c, int after_feeds, int status, const char *body)
{
    c->want_after_feeds = after_feeds;
    c->want_final = DONE;
    c->want_status = status;
    c->want_body = body;
    c->want_body_len = strlen(body);
}

static void bad(tcase *c, int after_feeds, acmeva_http_error err, int status)
{
    c->want_after_feeds = after_feeds;
    c->want_final = ERR(err);
    c->want_status = status;
    c->want_error = err;
}

static void want_loc(tcase *c, const char *loc)
{
    c->want_location = loc;
    c->want_location_len = strlen(loc);
}

/* A growing string for the large responses. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            exit(2);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_rep(sbuf *b, char ch, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sb_add(b, &ch, 1);
}

static tcase *add_sb(const char *name, sbuf *b, int stop)
{
    tcase *c = add_bytes(name, b->p, b->len, stop);
    free(b->p);
    memset(b, 0, sizeof(*b));
    return c;
}

/*
 * A 200 response whose head (status line through the blank line) is exactly |head| bytes,
 * padded with one X-Pad header, and whose body is "ok".
 */
static tcase *add_head_of(const char *name, size_t head)
{
    static const char start[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Pad: ";
    static const char end[] = "\r\n\r\n";
    sbuf b = {0};
    sb_str(&b, start);
    sb_rep(&b, 'a', head - (sizeof(start) - 1) - (sizeof(end) - 1));
    sb_str(&b, end);
    sb_str(&b, "ok");
    return add_sb(name, &b, 0);
}

static tcase *add_n_headers(const char *name, int n)
{
    sbuf b = {0};
    char line[64];
    sb_str(&b, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n");
    for (int i = 1; i < n; i++) {
        snprintf(line, sizeof(line), "X-H%d: v\r\n", i);
        sb_str(&b, line);
    }
    sb_str(&b, "\r\nok");
    return add_sb(name, &b, 0);
}

static tcase *add_body_cl(const char *name, size_t n)
{
    sbuf b = {0};
    char line[64];
    snprintf(line, sizeof(line), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
    sb_str(&b, line);
    sb_rep(&b, 'b', n);
    return add_sb(name, &b, 0);
}

static void build_cases(void)
{
    static char b127[128], b128[129];
    memset(b127, 'b', 127);
    memset(b128, 'b', 128);
    tcase *c;
    sbuf b = {0};

    /* plain bodies */
    c = add("200 plain",
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n"
            "hello world",
            0);
    ok(c, DONE, 200, "hello world");
    c = add("200 body with trailing newline",
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\ntok.thumb\n", 0);
    ok(c, DONE, 200, "tok.thumb\n");
    c = add(
        "200 chunked, several chunks with extensions",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;ext=1\r\nhello\r\n1;a;b=\"c d\"\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n",
        0);
    ok(c, DONE, 200, "hello 0123456789");
    c = add("200 close-delimited", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nkey.auth", 0);
    ok(c, MORE, 200, "key.auth");
    c = add("HTTP/1.0 close-delimited", "HTTP/1.0 200 OK\r\n\r\nabc", 0);
    ok(c, MORE, 200, "abc");
    c = add("200 empty close-delimited", "HTTP/1.1 200 OK\r\n\r\n", 0);
    ok(c, MORE, 200, "");
    c = add("bytes after a complete response are ignored",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE\0\r\n", 0);
    ok(c, DONE, 200, "ok");
    c = add("leading blank lines", "\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0);
    ok(c, DONE, 200, "ok");

    /* the body cap */
    c = add_body_cl("127-byte body", 127);
    ok(c, DONE, 200, b127);
    c = add_body_cl("128-byte body", 128);
    ok(c, DONE, 200, b128);
    c->want_over_cap = 1;
    c = add_body_cl("129-byte body", 129);
    ok(c, DONE, 200, b128);
    c->want_over_cap = 1;
    c = add_body_cl("300-byte body", 300);
    ok(c, DONE, 200, b128);
    c->want_over_cap = 1;
    sb_str(&b, "HTTP/1.1 200 OK\r\n\r\n");
    sb_rep(&b, 'b', 127);
    c = add_sb("127-byte close-delimited body", &b, 0);
    ok(c, MORE, 200, b127);
    sb_str(&b, "HTTP/1.1 200 OK\r\n\r\n");
    sb_rep(&b, 'b', 300);
    c = add_sb("300-byte close-delimited body", &b, 0);
    ok(c, DONE, 200, b128);
    c->want_over_cap = 1;
    sb_str(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n");
    sb_rep(&b, 'b', 100);
    sb_str(&b, "\r\n64\r\n");
    sb_rep(&b, 'b', 100);
    sb_str(&b, "\r\n0\r\n\r\n");
    c = add_sb("200-byte chunked body", &b, 0);
    ok(c, DONE, 200, b128);
    c->want_over_cap = 1;
    /* the 128th byte ends the reading before the broken chunk terminator is seen */
    sb_str(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n");
    sb_rep(&b, 'b', 128);
    sb_str(&b, "XX");
    c = add_sb("128-byte chunk with a bad terminator", &b, 0);
    ok(c, DONE, 200, b128);
    c->want_over_cap = 1;
    sb_str(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7f\r\n");
    sb_rep(&b, 'b', 127);
    sb_str(&b, "\r\n0\r\n\r\n");
    c = add_sb("127-byte chunked body", &b, 0);
    ok(c, DONE, 200, b127);

    /* redirects */
    c = add("301 absolute Location",
            "HTTP/1.1 301 Moved Permanently\r\n"
            "Location: https://example.com/.well-known/acme-challenge/tok\r\n"
            "Content-Length: 5\r\n\r\nmoved",
            1);
    ok(c, DONE, 301, "");
    want_loc(c, "https://example.com/.well-known/acme-challenge/tok");
    c->want_redirect = 1;
    c = add("302 relative Location",
            "HTTP/1.1 302 Found\r\nLocation: /.well-known/acme-challenge/other  \r\n\r\n", 1);
    ok(c, DONE, 302, "");
    want_loc(c, "/.well-known/acme-challenge/other");
    c->want_redirect = 1;
    c = add("307 Location",
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://a.example/x?q=1\r\n"
            "Transfer-Encoding: chunked\r\n\r\n",
            1);
    ok(c, DONE, 307, "");
    want_loc(c, "http://a.example/x?q=1");
    c->want_redirect = 1;
    c = add("308 Location", "HTTP/1.1 308 Permanent Redirect\r\nLOCATION: //b.example/y\r\n\r\n",
            1);
    ok(c, DONE, 308, "");
    want_loc(c, "//b.example/y");
    c->want_redirect = 1;
    c = add("303 Location", "HTTP/1.1 303 See Other\r\nLocation: /other\r\n\r\n", 1);
    ok(c, DONE, 303, "");
    want_loc(c, "/other");
    c->want_redirect = 1;
    c = add("301 read through when not stopping",
            "HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 5\r\n\r\nmoved", 0);
    ok(c, DONE, 301, "moved");
    want_loc(c, "/x");
    c = add("301 without Location is read through",
            "HTTP/1.1 301 Moved\r\nContent-Length: 2\r\n\r\nno", 1);
    ok(c, DONE, 301, "no");
    c = add("301 with an empty Location is read through",
            "HTTP/1.1 301 Moved\r\nLocation:\r\nContent-Length: 0\r\n\r\n", 1);
    ok(c, DONE, 301, "");
    want_loc(c, "");
    c = add("300 is no redirect",
            "HTTP/1.1 300 Choices\r\nLocation: /a\r\nContent-Length: 1\r\n\r\nz", 1);
    ok(c, DONE, 300, "z");
    want_loc(c, "/a");
    c = add("first of two Locations",
            "HTTP/1.1 302 Found\r\nLocation: /first\r\nX: y\r\nLocation: /second\r\n\r\n", 1);
    ok(c, DONE, 302, "");
    want_loc(c, "/first");
    c->want_redirect = 1;
    c = add("obs-fold in Location", "HTTP/1.1 302 Found\r\nLocation: /a\r\n /b\r\n\r\n", 1);
    ok(c, DONE, 302, "");
    want_loc(c, "/a /b");
    c->want_redirect = 1;
    sb_str(&b, "HTTP/1.1 301 Moved\r\nLocation: /");
    sb_rep(&b, 'l', 4999);
    sb_str(&b, "\r\n\r\n");
    c = add_sb("301 with a 5000-byte Location", &b, 1);
    ok(c, DONE, 301, "");
    c->want_location_too_long = 1;
    c->want_redirect = 1;
    sb_str(&b, "HTTP/1.1 200 OK\r\nLocation: /");
    sb_rep(&b, 'l', 4999);
    sb_str(&b, "\r\nContent-Length: 2\r\n\r\nok");
    c = add_sb("200 with a 5000-byte Location", &b, 1);
    ok(c, DONE, 200, "ok");
    c->want_location_too_long = 1;
    sb_str(&b, "HTTP/1.1 301 Moved\r\nLocation: /");
    sb_rep(&b, 'l', 4095);
    sb_str(&b, " \t  \r\n\r\n");
    c = add_sb("301 with a 4096-byte Location and trailing whitespace", &b, 1);
    ok(c, DONE, 301, "");
    c->want_location = "";
    c->want_location_len = 4096;
    c->want_redirect = 1;

    /* other statuses */
    c = add("404", "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", 1);
    ok(c, DONE, 404, "not found");
    c = add("500 empty", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", 1);
    ok(c, DONE, 500, "");
    c = add("204 ignores Content-Length",
            "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nabcde", 0);
    ok(c, DONE, 204, "");
    c = add("304", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 0);
    ok(c, DONE, 304, "");
    c = add("101 is final",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
            "Connection: Upgrade\r\n\r\nPRI",
            0);
    ok(c, DONE, 101, "");
    c = add("100 Continue then 200",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0);
    ok(c, DONE, 200, "ok");
    c = add("five 1xx then 200",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
            "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
            "HTTP/1.1 199 Whatever\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            0);
    ok(c, DONE, 200, "ok");
    c = add("six 1xx",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            0);
    bad(c, ERR(ACMEVA_HTTPERR_TOO_MANY_INTERIM), ACMEVA_HTTPERR_TOO_MANY_INTERIM, 100);
    c = add("Location of a 1xx is not the final one",
            "HTTP/1.1 103 Early Hints\r\nLocation: /hint\r\n\r\n"
            "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",
            1);
    ok(c, DONE, 302, "");
    c = add("1xx with Connection: close, then 200",
            "HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            0);
    ok(c, DONE, 200, "ok");
    c = add("100 Continue then EOF", "HTTP/1.1 100 Continue\r\n\r\n", 0);
    bad(c, MORE, ACMEVA_HTTPERR_TRUNCATED, 0);
    c = add("status 099", "HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 0);
    c = add("status 1000", "HTTP/1.1 1000 High\r\n\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 0);

    /* header caps */
    c = add_head_of("head of 16 KiB - 1", ACMEVA_HTTP_MAX_HEADER_BYTES - 1);
    ok(c, DONE, 200, "ok");
    c = add_head_of("head of 16 KiB", ACMEVA_HTTP_MAX_HEADER_BYTES);
    ok(c, DONE, 200, "ok");
    c = add_head_of("head of 16 KiB + 1", ACMEVA_HTTP_MAX_HEADER_BYTES + 1);
    bad(c, ERR(ACMEVA_HTTPERR_HEADERS_TOO_BIG), ACMEVA_HTTPERR_HEADERS_TOO_BIG, 200);
    c = add_n_headers("64 headers", 64);
    ok(c, DONE, 200, "ok");
    c = add_n_headers("65 headers", 65);
    bad(c, ERR(ACMEVA_HTTPERR_TOO_MANY_HEADERS), ACMEVA_HTTPERR_TOO_MANY_HEADERS, 200);
    sb_str(&b, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 2000; i++)
        sb_str(&b, "X-Many: 0123456789012345678901234567890123456789\r\n");
    sb_str(&b, "Content-Length: 2\r\n\r\nok");
    c = add_sb("100 KB header section", &b, 0);
    bad(c, ERR(ACMEVA_HTTPERR_HEADERS_TOO_BIG), ACMEVA_HTTPERR_HEADERS_TOO_BIG, 200);
    sb_str(&b, "HTTP/1.1 200 ");
    sb_rep(&b, 'r', 20000);
    sb_str(&b, "\r\n\r\n");
    c = add_sb("20 KB status line", &b, 0);
    bad(c, ERR(ACMEVA_HTTPERR_HEADERS_TOO_BIG), ACMEVA_HTTPERR_HEADERS_TOO_BIG, 0);
    sb_str(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=");
    sb_rep(&b, 'e', 20000);
    sb_str(&b, "\r\nok\r\n0\r\n\r\n");
    c = add_sb("20 KB chunk extension", &b, 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);

    /* HTTP/2 and other protocols */
    static const char settings[] = "\x00\x00\x12\x04\x00\x00\x00\x00\x00"
                                   "\x00\x03\x00\x00\x00\x64\x00\x04\x00\xa0\x00\x00"
                                   "\x00\x02\x00\x00\x00\x00"
                                   "\x00\x00\x08\x07\x00\x00\x00\x00\x00"
                                   "\x00\x00\x00\x00\x00\x00\x00\x01";
    c = add_bytes("HTTP/2 SETTINGS and GOAWAY", settings, sizeof(settings) - 1, 0);
    bad(c, ERR(ACMEVA_HTTPERR_HTTP2), ACMEVA_HTTPERR_HTTP2, 0);
    c = add_bytes("HTTP/2 empty SETTINGS only", "\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9, 0);
    bad(c, ERR(ACMEVA_HTTPERR_HTTP2), ACMEVA_HTTPERR_HTTP2, 0);
    c = add_bytes("HTTP/2 GOAWAY", settings + 27, sizeof(settings) - 1 - 27, 0);
    bad(c, ERR(ACMEVA_HTTPERR_HTTP2), ACMEVA_HTTPERR_HTTP2, 0);
    c = add("HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_HTTP2), ACMEVA_HTTPERR_HTTP2, 0);
    c = add_bytes("part of a frame header, then EOF", "\x00\x00\x12\x04", 4, 0);
    bad(c, MORE, ACMEVA_HTTPERR_MALFORMED, 0);
    c = add_bytes("NUL bytes that are no frame", "\x00\x00\x12\x05\x00\x00\x00\x00\x00\x00", 10, 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 0);
    c = add("PRI that is no preface", "PRI * HTTP/1.1\r\n\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 0);
    c = add("HTTP/0.9-style garbage", "<html><body>token.thumb</body></html>\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 0);
    c = add("Hello garbage", "Hello world\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 0);
    c = add("HTTP/2.0 status line", "HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 0);
    bad(c, ERR(ACMEVA_HTTPERR_VERSION), ACMEVA_HTTPERR_VERSION, 200);
    c = add("HTTP/2 status line", "HTTP/2 200\r\n\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_VERSION), ACMEVA_HTTPERR_VERSION, 0);
    c = add("HTTP/0.9 status line", "HTTP/0.9 200 OK\r\n\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_VERSION), ACMEVA_HTTPERR_VERSION, 200);
    static const char h20bad[] = "HTTP/2.0 200 OK\r\nA\0: b\r\n\r\n";
    c = add_bytes("HTTP/2.0 status line then bad header", h20bad, sizeof(h20bad) - 1, 0);
    bad(c, ERR(ACMEVA_HTTPERR_VERSION), ACMEVA_HTTPERR_VERSION, 200);

    /* truncation */
    c = add("empty response", "", 0);
    bad(c, MORE, ACMEVA_HTTPERR_TRUNCATED, 0);
    c = add("truncated status line", "HTTP/1.1 20", 0);
    bad(c, MORE, ACMEVA_HTTPERR_TRUNCATED, 0);
    c = add("truncated headers", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Fo", 0);
    bad(c, MORE, ACMEVA_HTTPERR_TRUNCATED, 200);
    c = add("truncated Content-Length body", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\npartial",
            0);
    bad(c, MORE, ACMEVA_HTTPERR_TRUNCATED, 200);
    c->want_body = "partial";
    c->want_body_len = 7;
    c = add("truncated chunked body",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n5\r\nde", 0);
    bad(c, MORE, ACMEVA_HTTPERR_TRUNCATED, 200);
    c->want_body = "abcde";
    c->want_body_len = 5;

    /* what strict http-parser refuses or accepts */
    c = add_bytes("NUL in a header value", "HTTP/1.1 200 OK\r\nX-A: b\0c\r\n\r\n", 29, 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c = add_bytes("NUL in a header name", "HTTP/1.1 200 OK\r\nX\0A: bc\r\n\r\n", 29, 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c = add_bytes("NUL first in a header value", "HTTP/1.1 200 OK\r\nX-A: \0bc\r\n\r\n", 29, 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c = add("DEL first in a Location", "HTTP/1.1 302 Found\r\nLocation: \x7f/x\r\n\r\n", 1);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 302);
    c = add("control byte first in a folded line",
            "HTTP/1.1 302 Found\r\nLocation: /a\r\n \x01b\r\n\r\n", 1);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 302);
    c = add("bare LF line endings are accepted",
            "HTTP/1.1 302 Found\nLocation: /lf\nContent-Length: 2\n\nok", 0);
    ok(c, DONE, 302, "ok");
    want_loc(c, "/lf");
    c = add("CR without LF", "HTTP/1.1 200 OK\r\nX-A: b\rX-B: c\r\n\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c = add("obs-fold is accepted",
            "HTTP/1.1 200 OK\r\nX-Folded: one\r\n\ttwo\r\nContent-Length: 2\r\n\r\nok", 0);
    ok(c, DONE, 200, "ok");
    c = add("two Content-Length",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c = add("Content-Length with chunked",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: "
            "chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c = add("negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c = add("Transfer-Encoding gzip is close-delimited",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw", 0);
    ok(c, MORE, 200, "raw");
    /* strict-mode checks missing from Debian's non-strict build, put back by the reader */
    c = add("HTTX instead of HTTP", "HTTX/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 0);
    c = add("HTTP without slash", "HTTP 1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 0);
    c = add("CR without LF ending the status line", "HTTP/1.1 200 OK\rX-A: b\r\n\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 0);
    c = add("CR without LF ending an empty value", "HTTP/1.1 200 OK\r\nX-A:\rX\r\n\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c = add("CR without LF ending the head", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\rXok", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c = add("space in a header name", "HTTP/1.1 200 OK\r\nX A: b\r\nContent-Length: 0\r\n\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c = add("space before the colon of Location", "HTTP/1.1 302 Found\r\nLocation : /x\r\n\r\n", 1);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 302);
    c = add("first header line folded", "HTTP/1.1 200 OK\r\n X: b\r\nContent-Length: 0\r\n\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c = add("chunk data not followed by CRLF",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXY0\r\n\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c->want_body = "hello";
    c->want_body_len = 5;
    c = add("chunk-size line ending in CR without LF",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\rXhello\r\n0\r\n\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c = add("space in a trailer name",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nT x: y\r\n\r\n",
            0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c->want_body = "ok";
    c->want_body_len = 2;
    c = add("bare LF after chunk data is refused",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\n0\r\n\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c->want_body = "ok";
    c->want_body_len = 2;
    c = add("chunked with bare LF line ends elsewhere",
            "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\r\nok\r\n0\r\nT: x\n\n", 0);
    ok(c, DONE, 200, "ok");
    c = add("bad chunk size after a chunk",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n", 0);
    bad(c, ERR(ACMEVA_HTTPERR_MALFORMED), ACMEVA_HTTPERR_MALFORMED, 200);
    c->want_body = "ok";
    c->want_body_len = 2;
}

/*
 * read_split reads |c| with a first piece of |first| bytes, then pieces of |step| bytes,
 * stopping at the first result other than MORE, then EOF when still MORE.
 */
static void read_split(const tcase *c, size_t first, size_t step, outcome *o)
{
    acmeva_httpreader r;
    acmeva_httpreader_init(&r, c->stop);
    int res = MORE;
    size_t off = 0;
    while (off < c->len && res == MORE) {
        size_t n = off == 0 ? first : step;
        if (n > c->len - off)
            n = c->len - off;
        res = acmeva_httpreader_feed(&r, c->data + off, n);
        off += n;
    }
    memset(o, 0, sizeof(*o));
    o->after_feeds = res;
    o->final = res == MORE ? acmeva_httpreader_eof(&r) : res;
    o->status = acmeva_httpreader_status(&r);
    size_t len;
    const char *loc = acmeva_httpreader_location(&r, &len);
    if (loc != NULL) {
        o->has_location = 1;
        memcpy(o->location, loc, len);
        o->location_len = len;
    }
    o->location_too_long = acmeva_httpreader_location_too_long(&r);
    o->redirect = acmeva_httpreader_is_redirect(&r);
    const uint8_t *body = acmeva_httpreader_body(&r, &len);
    memcpy(o->body, body, len);
    o->body_len = len;
    o->over_cap = acmeva_httpreader_body_over_cap(&r);
    o->error = acmeva_httpreader_error(&r);
    snprintf(o->error_text, sizeof(o->error_text), "%s", acmeva_httpreader_error_text(&r));
    acmeva_httpreader_clear(&r);
}

static int same(const outcome *a, const outcome *b)
{
    return a->after_feeds == b->after_feeds && a->final == b->final && a->status == b->status &&
           a->has_location == b->has_location && a->location_len == b->location_len &&
           memcmp(a->location, b->location, a->location_len) == 0 &&
           a->location_too_long == b->location_too_long && a->redirect == b->redirect &&
           a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0 &&
           a->over_cap == b->over_cap && a->error == b->error &&
           strcmp(a->error_text, b->error_text) == 0;
}

static void describe(const char *what, const outcome *o)
{
    fprintf(stderr,
            "  %s: feeds=%d final=%d status=%d loc=%s(%zu)%s redirect=%d body=%zu%s "
            "error=%d \"%s\"\n",
            what, o->after_feeds, o->final, o->status, o->has_location ? "yes" : "no",
            o->location_len, o->location_too_long ? " too long" : "", o->redirect, o->body_len,
            o->over_cap ? " over cap" : "", (int)o->error, o->error_text);
}

static void check_expected(const tcase *c, const outcome *o)
{
    CHECK_MSG(o->after_feeds == c->want_after_feeds, "%s: after feeds %d, want %d", c->name,
              o->after_feeds, c->want_after_feeds);
    CHECK_MSG(o->final == c->want_final, "%s: final %d, want %d (%s)", c->name, o->final,
              c->want_final, o->error_text);
    CHECK_MSG(o->status == c->want_status, "%s: status %d, want %d", c->name, o->status,
              c->want_status);
    CHECK_MSG(o->error == c->want_error, "%s: error %d, want %d", c->name, (int)o->error,
              (int)c->want_error);
    CHECK_MSG((o->error == ACMEVA_HTTPERR_NONE) == (o->error_text[0] == 0), "%s: error text \"%s\"",
              c->name, o->error_text);
    if (c->want_location == NULL) {
        CHECK_MSG(!o->has_location, "%s: unexpected Location", c->name);
    } else if (c->want_location_len == 4096) {
        int all_l = o->location_len == 4096 && o->location[0] == '/';
        for (size_t i = 1; all_l && i < 4096; i++)
            all_l = o->location[i] == 'l';
        CHECK_MSG(o->has_location && all_l, "%s: Location of %zu bytes", c->name, o->location_len);
    } else {
        CHECK_MSG(o->has_location && o->location_len == c->want_location_len &&
                      memcmp(o->location, c->want_location, o->location_len) == 0,
                  "%s: Location \"%.*s\", want \"%s\"", c->name, (int)o->location_len, o->location,
                  c->want_location);
    }
    CHECK_MSG(o->location_too_long == c->want_location_too_long, "%s: location too long %d",
              c->name, o->location_too_long);
    CHECK_MSG(o->redirect == c->want_redirect, "%s: redirect %d", c->name, o->redirect);
    CHECK_MSG(o->body_len == c->want_body_len && memcmp(o->body, c->want_body, o->body_len) == 0,
              "%s: body \"%.*s\" (%zu), want \"%s\"", c->name, (int)o->body_len, o->body,
              o->body_len, c->want_body);
    CHECK_MSG(o->over_cap == c->want_over_cap, "%s: over cap %d", c->name, o->over_cap);
}

static void test_case(const tcase *c)
{
    outcome one, other;
    read_split(c, c->len, c->len, &one);
    check_expected(c, &one);

    read_split(c, 1, 1, &other);
    CHECK_MSG(same(&one, &other), "%s: one byte at a time differs", c->name);
    if (!same(&one, &other)) {
        describe("one piece", &one);
        describe("bytes", &other);
    }

    size_t bad_at = 0, bad_count = 0;
    for (size_t k = 1; k < c->len; k++) {
        read_split(c, k, c->len, &other);
        if (!same(&one, &other)) {
            if (bad_count++ == 0) {
                bad_at = k;
                describe("one piece", &one);
                describe("split", &other);
            }
        }
    }
    CHECK_MSG(bad_count == 0, "%s: %zu split points differ, the first at %zu", c->name, bad_count,
              bad_at);
}

/* Feeding after the end, and eof after DONE, change nothing. */
static void test_sticky(void)
{
    acmeva_httpreader r;
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    acmeva_httpreader_init(&r, 1);
    CHECK_INT(acmeva_httpreader_status(&r), 0);
    CHECK_INT(acmeva_httpreader_feed(&r, resp, 20), MORE);
    CHECK_INT(acmeva_httpreader_status(&r), 200); /* the status line alone is enough */
    CHECK_INT(acmeva_httpreader_feed(&r, NULL, 0), MORE);
    CHECK_INT(acmeva_httpreader_feed(&r, resp + 20, sizeof(resp) - 1 - 20), DONE);
    CHECK_INT(acmeva_httpreader_feed(&r, "HTTP/1.1 500", 12), DONE);
    CHECK_INT(acmeva_httpreader_eof(&r), DONE);
    CHECK_INT(acmeva_httpreader_status(&r), 200);
    acmeva_httpreader_clear(&r);
    acmeva_httpreader_clear(&r); /* twice is harmless */

    acmeva_httpreader_init(&r, 0);
    CHECK_INT(acmeva_httpreader_feed(&r, "XTTP/1.1 200 OK\r\n", 17), ERR(ACMEVA_HTTPERR_MALFORMED));
    CHECK_INT(acmeva_httpreader_feed(&r, resp, sizeof(resp) - 1), ERR(ACMEVA_HTTPERR_MALFORMED));
    CHECK_INT(acmeva_httpreader_eof(&r), ERR(ACMEVA_HTTPERR_MALFORMED));
    CHECK_STR(acmeva_httpreader_error_text(&r),
              "malformed HTTP response: strict mode assertion failed");
    acmeva_httpreader_clear(&r);

    acmeva_httpreader_init(&r, 0);
    CHECK_INT(acmeva_httpreader_eof(&r), ERR(ACMEVA_HTTPERR_TRUNCATED));
    CHECK_STR(acmeva_httpreader_error_text(&r), "connection closed before any response");
    acmeva_httpreader_clear(&r);
}

/* The error texts the http-01 client passes on. */
static void test_texts(void)
{
    for (size_t i = 0; i < n_cases; i++) {
        outcome o;
        read_split(&cases[i], cases[i].len, cases[i].len, &o);
        if (strcmp(cases[i].name, "head of 16 KiB + 1") == 0)
            CHECK_STR(o.error_text, "response headers larger than 16384 bytes");
        if (strcmp(cases[i].name, "65 headers") == 0)
            CHECK_STR(o.error_text, "more than 64 response header fields");
        if (strcmp(cases[i].name, "HTTP/2 SETTINGS and GOAWAY") == 0)
            CHECK_STR(o.error_text, "Server is speaking HTTP/2 over HTTP");
        if (strcmp(cases[i].name, "truncated Content-Length body") == 0)
            CHECK_STR(o.error_text, "connection closed before the response body was complete");
        if (strcmp(cases[i].name, "truncated headers") == 0)
            CHECK_STR(o.error_text, "connection closed before the response headers were complete");
        if (strcmp(cases[i].name, "six 1xx") == 0)
            CHECK_STR(o.error_text, "more than 5 informational (1xx) responses");
        if (strcmp(cases[i].name, "HTTP/2.0 status line") == 0)
            CHECK_STR(o.error_text, "response is not HTTP/1.x");
    }
}

int main(void)
{
    build_cases();
    CHECK(n_cases >= 20);
    for (size_t i = 0; i < n_cases; i++)
        test_case(&cases[i]);
    test_sticky();
    test_texts();
    for (size_t i = 0; i < n_cases; i++)
        free(cases[i].data);
    return CHECK_DONE();
}
