/*
 * A small HTTP/1.1 server for the operations endpoints of the daemons (DESIGN.md
 * "Operations": /metrics, /healthz, /readyz), on one libuv loop (the daemon's main loop), with
 * nothing blocking and everything bounded:
 * - a request head (request line and headers) of at most ACMEVA_HTTPREQ_HEAD_MAX bytes
 *   (431 beyond), a path of at most ACMEVA_HTTPREQ_PATH_MAX (414), no body (413), HTTP/1.x
 *   only (505), anything that does not parse 400; the connection is closed after an error;
 * - at most |max_conns| connections: one more evicts the oldest;
 * - a connection gets ACMEVA_HTTPD_IDLE_MS for the first byte of a request and
 *   ACMEVA_HTTPD_HEAD_MS from there for the whole head (slowloris), and ACMEVA_HTTPD_WRITE_MS
 *   to take a response;
 * - keep-alive as the client asks (HTTP/1.1 default on); pipelined requests are not served:
 *   bytes after a complete request close the connection once the response is sent.
 * GET and HEAD go to the handler; any other method gets 405.
 *
 * The request reader (acmeva_httpreq) is separate from the sockets so that tests and a fuzz
 * target drive it with bytes alone. It uses Debian's http-parser in request mode, as
 * httpreader.c does for responses.
 */
#ifndef ACMEVA_HTTPD_H
#define ACMEVA_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>
#include <uv.h>

#define ACMEVA_HTTPREQ_HEAD_MAX 8192
#define ACMEVA_HTTPREQ_PATH_MAX 256
#define ACMEVA_HTTPD_IDLE_MS 10000
#define ACMEVA_HTTPD_HEAD_MS 5000
#define ACMEVA_HTTPD_WRITE_MS 10000

typedef enum {
    ACMEVA_HTTPREQ_MORE = 0, /* give it more bytes */
    ACMEVA_HTTPREQ_DONE,     /* a complete request: method, path, keep_alive */
    ACMEVA_HTTPREQ_ERROR,    /* refused: status says how to answer */
} acmeva_httpreq_state;

/* One request being read. */
typedef struct acmeva_httpreq {
    http_parser parser;
    acmeva_httpreq_state state;
    size_t head_bytes; /* bytes of this request read so far */
    char url[ACMEVA_HTTPREQ_PATH_MAX + 1];
    size_t url_len;
    int url_over;
    /* Set when DONE: */
    int method; /* enum http_method */
    char path[ACMEVA_HTTPREQ_PATH_MAX + 1]; /* the URL's path, without query or fragment */
    int keep_alive;
    /* Set when ERROR: 400, 413, 414, 431 or 505. */
    int status;
} acmeva_httpreq;

/* acmeva_httpreq_init prepares |r| for a new request. */
void acmeva_httpreq_init(acmeva_httpreq *r);

/*
 * acmeva_httpreq_feed reads |len| bytes of a request. Returns the state: MORE after consuming
 * every byte; DONE or ERROR at the byte where the request ended or was refused, with
 * |*consumed| bytes taken (the rest belongs to whatever follows). The outcome does not depend
 * on how the bytes are split between calls. Once DONE or ERROR, it consumes nothing more.
 */
acmeva_httpreq_state acmeva_httpreq_feed(acmeva_httpreq *r, const char *buf, size_t len,
                                         size_t *consumed);

/* acmeva_http_reason returns the reason phrase of |status| ("OK", "Not Found", ...). */
const char *acmeva_http_reason(int status);

/* What a handler answers: |body| is owned (malloc'd; NULL for none) and freed by the server. */
typedef struct acmeva_httpd_response {
    int status;
    const char *content_type; /* static */
    char *body;
    size_t body_len;
} acmeva_httpd_response;

/* acmeva_httpd_handler answers one GET (or HEAD: the body is then not sent) for |path|. */
typedef void (*acmeva_httpd_handler)(void *arg, const char *path, acmeva_httpd_response *resp);

typedef struct acmeva_httpd acmeva_httpd;

/*
 * acmeva_httpd_listen_parse checks a --metrics-listen value, "IPv4:PORT" or "[IPv6]:PORT"
 * (PORT 1..65535), and fills |addr|. Returns 0, or -1 after writing why to |err|.
 */
int acmeva_httpd_listen_parse(const char *hostport, struct sockaddr_storage *addr, char *err,
                              size_t errlen);

/*
 * acmeva_httpd_start binds |addr| and listens on |loop|. Returns 0, or a libuv error after
 * writing a sentence to |err| (the address in use, no permission, ...): the caller refuses to
 * start. |handler| runs on |loop|.
 */
int acmeva_httpd_start(uv_loop_t *loop, const struct sockaddr *addr, size_t max_conns,
                       acmeva_httpd_handler handler, void *arg, acmeva_httpd **out, char *err,
                       size_t errlen);

/* acmeva_httpd_close closes the listener and every connection, and frees |h| once their
 * handles are closed (run the loop). NULL is a no-op. */
void acmeva_httpd_close(acmeva_httpd *h);

#endif
