/* Unit tests of the operations server's request reader: methods, paths, keep-alive, the caps
 * (head 8 KiB, path), bodies refused, versions, garbage, and the same outcome however the
 * bytes are split; and of --metrics-listen values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "httpd.h"

/* feed_split reads |s| in pieces of |piece| bytes (0: whole); returns the state and sets
 * |*consumed|. */
static acmeva_httpreq_state feed_split(acmeva_httpreq *r, const char *s, size_t len, size_t piece,
                                       size_t *consumed)
{
    acmeva_httpreq_init(r);
    size_t off = 0;
    acmeva_httpreq_state st = ACMEVA_HTTPREQ_MORE;
    while (off < len && st == ACMEVA_HTTPREQ_MORE) {
        size_t n = piece == 0 || piece > len - off ? len - off : piece;
        size_t used;
        st = acmeva_httpreq_feed(r, s + off, n, &used);
        off += used;
    }
    *consumed = off;
    return st;
}

static void expect(const char *req, acmeva_httpreq_state want, int status, const char *path)
{
    size_t len = strlen(req);
    for (size_t piece = 0; piece <= 7; piece++) {
        acmeva_httpreq r;
        size_t used;
        acmeva_httpreq_state st = feed_split(&r, req, len, piece, &used);
        CHECK_MSG(st == want, "\"%.60s\" split %zu: state %d, want %d", req, piece, st, want);
        if (st == ACMEVA_HTTPREQ_ERROR)
            CHECK_MSG(r.status == status, "\"%.60s\": status %d, want %d", req, r.status, status);
        if (st == ACMEVA_HTTPREQ_DONE && path != NULL)
            CHECK_MSG(strcmp(r.path, path) == 0, "\"%.60s\": path %s, want %s", req, r.path, path);
    }
}

static void test_requests(void)
{
    expect("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", ACMEVA_HTTPREQ_DONE, 0, "/metrics");
    expect("GET /readyz?verbose=1#f HTTP/1.1\r\n\r\n", ACMEVA_HTTPREQ_DONE, 0, "/readyz");
    expect("GET http://127.0.0.1:9100/healthz HTTP/1.1\r\n\r\n", ACMEVA_HTTPREQ_DONE, 0,
           "/healthz");
    expect("GET http://127.0.0.1:9100 HTTP/1.1\r\n\r\n", ACMEVA_HTTPREQ_DONE, 0, "/");
    expect("HEAD /metrics HTTP/1.0\r\n\r\n", ACMEVA_HTTPREQ_DONE, 0, "/metrics");
    expect("GET /metrics HTTP/1.1\r\nHost: x\r\n", ACMEVA_HTTPREQ_MORE, 0, NULL);
    /* A body is refused, announced by length or chunked. */
    expect("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", ACMEVA_HTTPREQ_ERROR, 413,
           NULL);
    expect("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ACMEVA_HTTPREQ_ERROR,
           413, NULL);
    expect("GET / HTTP/2.0\r\n\r\n", ACMEVA_HTTPREQ_ERROR, 505, NULL);
    expect("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", ACMEVA_HTTPREQ_ERROR, 400, NULL);
    expect("garbage\r\n\r\n", ACMEVA_HTTPREQ_ERROR, 400, NULL);
    expect("GET * HTTP/1.1\r\n\r\n", ACMEVA_HTTPREQ_ERROR, 400, NULL);

    /* Methods and keep-alive. */
    acmeva_httpreq r;
    size_t used;
    const char *req = "DELETE /metrics HTTP/1.1\r\n\r\n";
    CHECK(feed_split(&r, req, strlen(req), 0, &used) == ACMEVA_HTTPREQ_DONE);
    CHECK_INT(r.method, HTTP_DELETE);
    CHECK_INT(r.keep_alive, 1);
    req = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
    CHECK(feed_split(&r, req, strlen(req), 0, &used) == ACMEVA_HTTPREQ_DONE);
    CHECK_INT(r.keep_alive, 0);
    req = "GET / HTTP/1.0\r\n\r\n";
    CHECK(feed_split(&r, req, strlen(req), 0, &used) == ACMEVA_HTTPREQ_DONE);
    CHECK_INT(r.keep_alive, 0);
    CHECK_INT(r.method, HTTP_GET);
    /* It stops at the end of the request: the next one is left unread. */
    req = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    CHECK(feed_split(&r, req, strlen(req), 0, &used) == ACMEVA_HTTPREQ_DONE);
    CHECK_INT(used, strlen("GET /a HTTP/1.1\r\n\r\n"));
    CHECK_STR(r.path, "/a");
}

static void test_caps(void)
{
    /* A head of exactly the cap passes; one byte more is 431, whatever the split. */
    size_t cap = ACMEVA_HTTPREQ_HEAD_MAX;
    char *buf = malloc(cap + 64);
    if (buf == NULL)
        return;
    const char *start = "GET / HTTP/1.1\r\nX: ";
    size_t fill = cap - strlen(start) - 4;
    memcpy(buf, start, strlen(start));
    memset(buf + strlen(start), 'a', fill);
    memcpy(buf + strlen(start) + fill, "\r\n\r\n", 5);
    CHECK_INT(strlen(buf), cap);
    expect(buf, ACMEVA_HTTPREQ_DONE, 0, "/");
    memcpy(buf + strlen(start), "b", 1);
    memmove(buf + strlen(start) + 1, buf + strlen(start), fill + 5);
    CHECK_INT(strlen(buf), cap + 1);
    expect(buf, ACMEVA_HTTPREQ_ERROR, 431, NULL);
    /* Endless header bytes are refused at the cap, not read on. */
    memset(buf, 'a', cap + 63);
    memcpy(buf, "GET / HTTP/1.1\r\nX: ", 19);
    acmeva_httpreq r;
    size_t used;
    CHECK(feed_split(&r, buf, cap + 63, 100, &used) == ACMEVA_HTTPREQ_ERROR);
    CHECK_INT(r.status, 431);
    CHECK(used <= cap + 1);
    free(buf);

    char path[ACMEVA_HTTPREQ_PATH_MAX + 64];
    snprintf(path, sizeof(path), "GET /%0*d HTTP/1.1\r\n\r\n", ACMEVA_HTTPREQ_PATH_MAX, 0);
    expect(path, ACMEVA_HTTPREQ_ERROR, 414, NULL);
    snprintf(path, sizeof(path), "GET /%0*d HTTP/1.1\r\n\r\n", ACMEVA_HTTPREQ_PATH_MAX - 1, 0);
    expect(path, ACMEVA_HTTPREQ_DONE, 0, NULL);
}

static void test_listen(void)
{
    struct sockaddr_storage ss;
    char err[256];
    CHECK_INT(acmeva_httpd_listen_parse("127.0.0.1:9100", &ss, err, sizeof(err)), 0);
    CHECK_INT(ss.ss_family, AF_INET);
    CHECK_INT(acmeva_httpd_listen_parse("[::1]:9100", &ss, err, sizeof(err)), 0);
    CHECK_INT(ss.ss_family, AF_INET6);
    CHECK_INT(acmeva_httpd_listen_parse("0.0.0.0:1", &ss, err, sizeof(err)), 0);
    const char *bad[] = {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", ":9100", "::1:9100",
                         "localhost:9100", "[127.0.0.1]:9100", "127.0.0.1:9x", "", "[::1]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(acmeva_httpd_listen_parse(bad[i], &ss, err, sizeof(err)) == -1,
                  "accepted \"%s\"", bad[i]);
    CHECK_STR(acmeva_http_reason(431), "Request Header Fields Too Large");
}

int main(void)
{
    test_requests();
    test_caps();
    test_listen();
    return CHECK_DONE();
}
