/*
 * The operations HTTP server (see httpd.h).
 */
#include "httpd.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmeva/engine.h"

/* ---- the request reader ------------------------------------------------------------------ */

static int on_url(http_parser *p, const char *at, size_t len)
{
    acmeva_httpreq *r = p->data;
    if (r->url_over || r->url_len + len > ACMEVA_HTTPREQ_PATH_MAX) {
        r->url_over = 1; /* judged at the end of the head, where the split cannot matter */
        return 0;
    }
    memcpy(r->url + r->url_len, at, len);
    r->url_len += len;
    r->url[r->url_len] = '\0';
    return 0;
}

static int refuse(acmeva_httpreq *r, int status)
{
    r->state = ACMEVA_HTTPREQ_ERROR;
    r->status = status;
    return -1;
}

static int on_headers_complete(http_parser *p)
{
    acmeva_httpreq *r = p->data;
    if (p->http_major != 1)
        return refuse(r, 505);
    if (r->url_over)
        return refuse(r, 414);
    /* Nothing here takes a body (RFC 9110 §9.3.1: a GET body has no meaning). */
    if ((p->flags & F_CHUNKED) || (p->content_length > 0 && p->content_length != ULLONG_MAX))
        return refuse(r, 413);
    struct http_parser_url u;
    http_parser_url_init(&u);
    /* origin-form or absolute-form (RFC 9112 §3.2); '*' and authority-form serve nothing. */
    if (r->url_len == 0 || http_parser_parse_url(r->url, r->url_len, 0, &u) != 0 ||
        (r->url[0] != '/' && !(u.field_set & (1 << UF_SCHEMA))))
        return refuse(r, 400);
    if (u.field_set & (1 << UF_PATH)) {
        size_t off = u.field_data[UF_PATH].off, n = u.field_data[UF_PATH].len;
        memcpy(r->path, r->url + off, n); /* n <= url_len <= ACMEVA_HTTPREQ_PATH_MAX */
        r->path[n] = '\0';
    } else {
        snprintf(r->path, sizeof(r->path), "/"); /* absolute form without a path */
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    acmeva_httpreq *r = p->data;
    r->state = ACMEVA_HTTPREQ_DONE;
    r->method = (int)p->method;
    r->keep_alive = http_should_keep_alive(p);
    /* Stop at this byte: whatever follows is the next request's. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings req_settings = {
    .on_url = on_url,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

void acmeva_httpreq_init(acmeva_httpreq *r)
{
    memset(r, 0, sizeof(*r));
    http_parser_init(&r->parser, HTTP_REQUEST);
    r->parser.data = r;
    r->state = ACMEVA_HTTPREQ_MORE;
}

acmeva_httpreq_state acmeva_httpreq_feed(acmeva_httpreq *r, const char *buf, size_t len,
                                         size_t *consumed)
{
    *consumed = 0;
    if (r->state != ACMEVA_HTTPREQ_MORE || len == 0)
        return r->state;
    /* Never hand http-parser more than the cap has left plus one byte: the byte that crosses
     * the cap ends this call, wherever the buffers were split. */
    size_t room = ACMEVA_HTTPREQ_HEAD_MAX - r->head_bytes;
    size_t n = len < room + 1 ? len : room + 1;
    size_t got = http_parser_execute(&r->parser, &req_settings, buf, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (got > n)
        got = n;
    r->head_bytes += got;
    *consumed = got;
    if (r->state == ACMEVA_HTTPREQ_DONE && r->head_bytes > ACMEVA_HTTPREQ_HEAD_MAX)
        refuse(r, 431); /* completed by the byte past the cap */
    if (r->state == ACMEVA_HTTPREQ_DONE || r->state == ACMEVA_HTTPREQ_ERROR)
        return r->state;
    if (e != HPE_OK) {
        refuse(r, e == HPE_INVALID_VERSION ? 505 : 400);
        return r->state;
    }
    if (r->head_bytes > ACMEVA_HTTPREQ_HEAD_MAX) {
        refuse(r, 431);
        return r->state;
    }
    return ACMEVA_HTTPREQ_MORE;
}

const char *acmeva_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/* ---- the listen address ------------------------------------------------------------------- */

int acmeva_httpd_listen_parse(const char *hostport, struct sockaddr_storage *addr, char *err,
                              size_t errlen)
{
    memset(addr, 0, sizeof(*addr));
    const char *colon = hostport ? strrchr(hostport, ':') : NULL;
    int64_t port;
    if (colon == NULL || acmeva_parse_int(colon + 1, 1, 65535, &port) < 0) {
        snprintf(err, errlen, "'%s' is not HOST:PORT (an IPv4 address or [IPv6], port 1 to 65535)",
                 hostport ? hostport : "");
        return -1;
    }
    char host[64];
    size_t hl = (size_t)(colon - hostport);
    int bracketed = hl >= 2 && hostport[0] == '[' && hostport[hl - 1] == ']';
    if (bracketed) {
        hostport++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(host)) {
        snprintf(err, errlen, "'%s' has no usable host", hostport);
        return -1;
    }
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    if (!bracketed && strchr(host, ':') == NULL &&
        uv_ip4_addr(host, (int)port, (struct sockaddr_in *)addr) == 0)
        return 0;
    if (bracketed && strchr(host, ':') != NULL &&
        uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)addr) == 0)
        return 0;
    snprintf(err, errlen, "'%s' is not an IPv4 address or a bracketed IPv6 address", host);
    return -1;
}

/* ---- the server ----------------------------------------------------------------------------- */

typedef struct conn conn;

struct acmeva_httpd {
    uv_loop_t *loop;
    uv_tcp_t listener;
    acmeva_httpd_handler handler;
    void *arg;
    size_t max_conns, n_conns;
    conn *head, *tail; /* oldest first */
    int closing;
    int open_handles; /* the listener and every connection not yet freed */
};

typedef enum { C_READING, C_WRITING, C_CLOSING } conn_state;

struct conn {
    acmeva_httpd *h;
    conn *prev, *next;
    uv_tcp_t tcp;
    uv_timer_t timer;
    int handles; /* of tcp and timer still open */
    conn_state state;
    acmeva_httpreq req;
    int started; /* a byte of the current request arrived */
    int close_after;
    char rbuf[4096];
    uv_write_t wreq;
    char head[256];
    acmeva_httpd_response resp;
};

static void maybe_free(acmeva_httpd *h)
{
    if (h->closing && h->open_handles == 0)
        free(h);
}

static void conn_closed_cb(uv_handle_t *hd)
{
    conn *c = hd->data;
    if (--c->handles > 0)
        return;
    acmeva_httpd *h = c->h;
    free(c->resp.body);
    free(c);
    h->open_handles--;
    maybe_free(h);
}

static void conn_close(conn *c)
{
    if (c->state == C_CLOSING)
        return;
    c->state = C_CLOSING;
    acmeva_httpd *h = c->h;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        h->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        h->tail = c->prev;
    h->n_conns--;
    uv_timer_stop(&c->timer);
    /* A write still in flight is cancelled by the close; its callback sees UV_ECANCELED. */
    uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
    uv_close((uv_handle_t *)&c->timer, conn_closed_cb);
}

static void timeout_cb(uv_timer_t *t)
{
    conn_close(t->data); /* idle, slowloris, or a client that does not read its response */
}

static void alloc_cb(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    conn *c = hd->data;
    buf->base = c->rbuf;
    buf->len = sizeof(c->rbuf);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void wait_request(conn *c)
{
    acmeva_httpreq_init(&c->req);
    c->started = 0;
    c->state = C_READING;
    uv_timer_start(&c->timer, timeout_cb, ACMEVA_HTTPD_IDLE_MS, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
        conn_close(c);
}

static void write_cb(uv_write_t *w, int status)
{
    conn *c = w->data;
    if (status == UV_ECANCELED || c->state == C_CLOSING)
        return;
    free(c->resp.body);
    c->resp.body = NULL;
    if (status != 0 || c->close_after) {
        conn_close(c);
        return;
    }
    wait_request(c);
}

static void respond(conn *c, int head_only)
{
    acmeva_httpd_response *r = &c->resp;
    int allow = r->status == 405;
    int n = snprintf(c->head, sizeof(c->head),
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "%s"
                     "Connection: %s\r\n"
                     "\r\n",
                     r->status, acmeva_http_reason(r->status),
                     r->content_type ? r->content_type : "text/plain; charset=utf-8", r->body_len,
                     allow ? "Allow: GET, HEAD\r\n" : "", c->close_after ? "close" : "keep-alive");
    if (n < 0 || (size_t)n >= sizeof(c->head)) {
        conn_close(c);
        return;
    }
    uv_buf_t bufs[2] = {uv_buf_init(c->head, (unsigned)n),
                        uv_buf_init(r->body ? r->body : (char *)"", head_only ? 0 : (unsigned)r->body_len)};
    c->state = C_WRITING;
    c->wreq.data = c;
    uv_timer_start(&c->timer, timeout_cb, ACMEVA_HTTPD_WRITE_MS, 0);
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, bufs[1].len ? 2 : 1, write_cb) != 0)
        conn_close(c);
}

static void set_text(acmeva_httpd_response *r, int status, const char *text)
{
    r->status = status;
    r->content_type = "text/plain; charset=utf-8";
    r->body = strdup(text);
    r->body_len = r->body ? strlen(r->body) : 0;
}

static void serve(conn *c, size_t leftover)
{
    acmeva_httpreq *q = &c->req;
    uv_read_stop((uv_stream_t *)&c->tcp);
    memset(&c->resp, 0, sizeof(c->resp));
    int head_only = 0;
    if (q->state == ACMEVA_HTTPREQ_ERROR) {
        c->close_after = 1;
        set_text(&c->resp, q->status, acmeva_http_reason(q->status));
    } else {
        /* Pipelining is not served: bytes after the request close the connection once it
         * is answered. */
        c->close_after = !q->keep_alive || leftover > 0;
        if (q->method == HTTP_GET || q->method == HTTP_HEAD) {
            head_only = q->method == HTTP_HEAD;
            c->h->handler(c->h->arg, q->path, &c->resp);
            if (c->resp.body == NULL && c->resp.status == 0)
                set_text(&c->resp, 500, "no memory\n");
        } else {
            set_text(&c->resp, 405, "only GET and HEAD\n");
        }
    }
    respond(c, head_only);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn *c = s->data;
    if (c->state != C_READING)
        return;
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (n == 0)
        return;
    if (!c->started) {
        /* The head must now arrive whole within its own deadline (slowloris). */
        c->started = 1;
        uv_timer_start(&c->timer, timeout_cb, ACMEVA_HTTPD_HEAD_MS, 0);
    }
    size_t used = 0;
    acmeva_httpreq_state st = acmeva_httpreq_feed(&c->req, buf->base, (size_t)n, &used);
    if (st != ACMEVA_HTTPREQ_MORE)
        serve(c, (size_t)n - used);
}

static void evict_oldest(acmeva_httpd *h)
{
    if (h->head != NULL)
        conn_close(h->head);
}

static void accept_cb(uv_stream_t *ls, int status)
{
    acmeva_httpd *h = ls->data;
    if (status != 0 || h->closing)
        return;
    conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return; /* libuv holds the connection and accepts nothing more until memory allows */
    c->h = h;
    uv_tcp_init(h->loop, &c->tcp);
    uv_timer_init(h->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    h->open_handles++;
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0) {
        c->state = C_CLOSING;
        uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
        uv_close((uv_handle_t *)&c->timer, conn_closed_cb);
        return;
    }
    if (h->n_conns >= h->max_conns)
        evict_oldest(h);
    c->prev = h->tail;
    if (h->tail != NULL)
        h->tail->next = c;
    else
        h->head = c;
    h->tail = c;
    h->n_conns++;
    uv_tcp_nodelay(&c->tcp, 1);
    wait_request(c);
}

static void listener_closed_cb(uv_handle_t *hd)
{
    acmeva_httpd *h = hd->data;
    h->open_handles--;
    maybe_free(h);
}

int acmeva_httpd_start(uv_loop_t *loop, const struct sockaddr *addr, size_t max_conns,
                       acmeva_httpd_handler handler, void *arg, acmeva_httpd **out, char *err,
                       size_t errlen)
{
    *out = NULL;
    acmeva_httpd *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(err, errlen, "no memory");
        return UV_ENOMEM;
    }
    h->loop = loop;
    h->handler = handler;
    h->arg = arg;
    h->max_conns = max_conns > 0 ? max_conns : 1;
    int rc = uv_tcp_init(loop, &h->listener);
    if (rc != 0) {
        snprintf(err, errlen, "cannot create a socket: %s", uv_strerror(rc));
        free(h);
        return rc;
    }
    h->listener.data = h;
    h->open_handles = 1;
    const char *what = "bind";
    rc = uv_tcp_bind(&h->listener, addr, 0);
    if (rc == 0) {
        what = "listen";
        rc = uv_listen((uv_stream_t *)&h->listener, 64, accept_cb);
    }
    if (rc != 0) {
        char a[64] = "?";
        int port = 0;
        if (addr->sa_family == AF_INET6) {
            uv_ip6_name((const struct sockaddr_in6 *)addr, a, sizeof(a));
            port = ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
        } else {
            uv_ip4_name((const struct sockaddr_in *)addr, a, sizeof(a));
            port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
        }
        snprintf(err, errlen, "cannot %s the metrics address %s%s%s:%d: %s", what,
                 addr->sa_family == AF_INET6 ? "[" : "", a, addr->sa_family == AF_INET6 ? "]" : "",
                 port, uv_strerror(rc));
        h->closing = 1;
        uv_close((uv_handle_t *)&h->listener, listener_closed_cb);
        return rc;
    }
    *out = h;
    return 0;
}

void acmeva_httpd_close(acmeva_httpd *h)
{
    if (h == NULL || h->closing)
        return;
    h->closing = 1;
    while (h->head != NULL)
        conn_close(h->head);
    uv_close((uv_handle_t *)&h->listener, listener_closed_cb);
}
