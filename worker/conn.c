/* One outgoing TCP connection, optionally TLS over memory BIOs, and the dialer that opens
 * every one of them (see conn.h). */
#include "conn.h"

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

/* A TLS record is at most 16 KiB plus overhead; reads are done in chunks of this size. */
#define CONN_READ_CHUNK (16 * 1024 + 512)

struct acmeva_conn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    acmeva_conn_cbs cbs;
    void *arg; /* NULL after close: no more callbacks */
    int closed;
    int reading;
    SSL *ssl;
    BIO *rbio, *wbio; /* network side of the TLS engine */
    int handshaking;
    uint8_t peek[8]; /* the first bytes the peer sent, to tell HTTP from TLS */
    size_t peek_len;
};

/* Reads land in one buffer per thread: read_cb consumes every read before it returns, so no
 * connection needs a buffer of its own (that was 16 KiB per connection in flight). Each
 * loop runs on one thread (STYLE.md: shared-nothing threads). */
static _Thread_local char conn_readbuf[CONN_READ_CHUNK];

typedef struct conn_write {
    uv_write_t req;
    size_t len;
    char data[];
} conn_write;

static void conn_close_cb(uv_handle_t *h)
{
    acmeva_conn *c = h->data;
    SSL_free(c->ssl); /* frees both BIOs */
    free(c);
}

void acmeva_conn_close(acmeva_conn *c, int abort)
{
    if (c == NULL || c->closed)
        return;
    c->closed = 1;
    c->arg = NULL;
    /* A reset tells a server that holds a connection open (a tarpit) to let go now; it
     * fails on a socket that was never opened, which a plain close handles. */
    if (!abort || uv_tcp_close_reset(&c->tcp, conn_close_cb) != 0)
        uv_close((uv_handle_t *)&c->tcp, conn_close_cb);
}

static void write_cb(uv_write_t *req, int status)
{
    /* Write errors surface as read errors; the request only owns its buffer. */
    free(req->data);
}

static int raw_write(acmeva_conn *c, const char *buf, size_t len)
{
    conn_write *w = malloc(sizeof(*w) + len);
    if (w == NULL)
        return UV_ENOMEM;
    memcpy(w->data, buf, len);
    w->len = len;
    w->req.data = w;
    uv_buf_t b = uv_buf_init(w->data, (unsigned int)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
    if (rc != 0)
        free(w);
    return rc;
}

/* Send what the TLS engine has queued for the network. */
static int tls_flush(acmeva_conn *c)
{
    char buf[4096];
    int n;
    while ((n = BIO_read(c->wbio, buf, sizeof(buf))) > 0) {
        int rc = raw_write(c, buf, (size_t)n);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    buf->base = conn_readbuf;
    buf->len = sizeof(conn_readbuf);
}

static const char *tls_reason(int err)
{
    uint32_t e = ERR_peek_last_error();
    if (e != 0) {
        const char *r = ERR_reason_error_string(e);
        if (r != NULL)
            return r;
    }
    return err == SSL_ERROR_SYSCALL ? "connection closed during the handshake" : "TLS error";
}

static void tls_handshake_step(acmeva_conn *c)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(c->ssl);
    int flush_rc = tls_flush(c);
    if (rc == 1) {
        c->handshaking = 0;
        c->cbs.on_handshake(c->arg, 0, NULL);
        return;
    }
    int err = SSL_get_error(c->ssl, rc);
    if (err == SSL_ERROR_WANT_READ && flush_rc == 0)
        return;
    c->handshaking = 0;
    c->cbs.on_handshake(c->arg, -1, tls_reason(err));
}

/* Decrypt what the TLS engine can and hand it over; EOF and alerts become read errors. */
static void tls_read_step(acmeva_conn *c)
{
    char buf[4096];
    for (;;) {
        ERR_clear_error();
        int n = SSL_read(c->ssl, buf, sizeof(buf));
        if (n > 0) {
            c->cbs.on_read(c->arg, buf, n);
            if (c->arg == NULL)
                return;
            continue;
        }
        int err = SSL_get_error(c->ssl, n);
        tls_flush(c);
        if (err == SSL_ERROR_WANT_READ)
            return;
        c->cbs.on_read(c->arg, NULL, err == SSL_ERROR_ZERO_RETURN ? UV_EOF : UV_EPROTO);
        return;
    }
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    acmeva_conn *c = s->data;
    if (c->arg == NULL || n == 0)
        return;
    if (c->ssl == NULL) {
        c->cbs.on_read(c->arg, n > 0 ? buf->base : NULL, n);
        return;
    }
    if (n < 0) {
        if (c->handshaking) {
            c->handshaking = 0;
            c->cbs.on_handshake(c->arg, (int)n,
                                n == UV_EOF ? "connection closed during the handshake"
                                            : uv_strerror((int)n));
        } else {
            c->cbs.on_read(c->arg, NULL, n);
        }
        return;
    }
    if (c->peek_len < sizeof(c->peek)) {
        size_t k = sizeof(c->peek) - c->peek_len;
        if (k > (size_t)n)
            k = (size_t)n;
        memcpy(c->peek + c->peek_len, buf->base, k);
        c->peek_len += k;
    }
    BIO_write(c->rbio, buf->base, (int)n);
    if (c->handshaking)
        tls_handshake_step(c);
    else
        tls_read_step(c);
}

int acmeva_conn_read_start(acmeva_conn *c)
{
    if (c->reading)
        return 0;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    if (rc == 0)
        c->reading = 1;
    return rc;
}

static void connect_cb(uv_connect_t *req, int status)
{
    acmeva_conn *c = req->data;
    if (status == UV_ECANCELED || c->arg == NULL)
        return;
    c->cbs.on_connect(c->arg, status);
}

/* ---- the dialer: address policy --------------------------------------------------------- */

struct acmeva_dialer {
    uv_loop_t *loop;
    const acmeva_addr_policy *policy;
};

int acmeva_dialer_new(uv_loop_t *loop, const acmeva_addr_policy *policy, acmeva_dialer **out)
{
    *out = NULL;
    acmeva_dialer *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return UV_ENOMEM;
    d->loop = loop;
    d->policy = policy;
    *out = d;
    return 0;
}

void acmeva_dialer_free(acmeva_dialer *d)
{
    free(d);
}

int acmeva_conn_connect(acmeva_dialer *d, const struct sockaddr *addr, const acmeva_conn_cbs *cbs,
                        void *arg, acmeva_conn **out)
{
    *out = NULL;
    /* The address policy comes before anything else: a refused destination never gets a
     * socket, whatever path asked for it (BR 3.2.2.4, Boulder's va.go). */
    if (!acmeva_addr_policy_permits_sockaddr(d->policy, addr))
        return ACMEVA_CONN_ERESERVED;
    acmeva_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return UV_ENOMEM;
    int rc = uv_tcp_init(d->loop, &c->tcp);
    if (rc != 0) {
        free(c);
        return rc;
    }
    c->tcp.data = c;
    c->cbs = *cbs;
    c->arg = arg;
    c->connect_req.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    rc = uv_tcp_connect(&c->connect_req, &c->tcp, addr, connect_cb);
    if (rc != 0) {
        c->arg = NULL;
        c->closed = 1;
        uv_close((uv_handle_t *)&c->tcp, conn_close_cb);
        return rc;
    }
    *out = c;
    return 0;
}

int acmeva_conn_start_tls(acmeva_conn *c, void *ssl_ctx, const char *sni, const uint8_t *alpn,
                          size_t alpn_len)
{
    c->ssl = SSL_new((SSL_CTX *)ssl_ctx);
    if (c->ssl == NULL)
        return -1;
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (c->rbio == NULL || c->wbio == NULL) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        c->rbio = c->wbio = NULL;
        SSL_free(c->ssl);
        c->ssl = NULL;
        return -1;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_connect_state(c->ssl);
    if (sni != NULL && SSL_set_tlsext_host_name(c->ssl, sni) != 1)
        return -1;
    /* SSL_set_alpn_protos returns 0 on success (an OpenSSL quirk BoringSSL keeps). */
    if (alpn != NULL && SSL_set_alpn_protos(c->ssl, alpn, (unsigned)alpn_len) != 0)
        return -1;
    c->handshaking = 1;
    int rc = acmeva_conn_read_start(c);
    if (rc != 0)
        return rc;
    ERR_clear_error();
    int hs = SSL_do_handshake(c->ssl); /* writes the ClientHello into wbio */
    if (hs == 1 || SSL_get_error(c->ssl, hs) != SSL_ERROR_WANT_READ)
        return -1;
    return tls_flush(c);
}

int acmeva_conn_peer_spoke_http(const acmeva_conn *c)
{
    return c->peek_len >= 5 && memcmp(c->peek, "HTTP/", 5) == 0;
}

void *acmeva_conn_ssl(acmeva_conn *c)
{
    return c->ssl;
}

int acmeva_conn_write(acmeva_conn *c, const char *buf, size_t len)
{
    int rc;
    if (c->ssl != NULL) {
        ERR_clear_error();
        if (SSL_write(c->ssl, buf, (int)len) != (int)len)
            return -1;
        rc = tls_flush(c);
    } else {
        rc = raw_write(c, buf, len);
    }
    if (rc != 0)
        return rc;
    return acmeva_conn_read_start(c);
}

void acmeva_sockaddr_make(struct sockaddr_storage *ss, int family, const uint8_t *addr,
                          uint16_t port)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        memcpy(&s6->sin6_addr, addr, 16);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        memcpy(&s4->sin_addr, addr, 4);
    }
}

const char *acmeva_conn_error_text(int status)
{
    switch (status) {
    case ACMEVA_CONN_ERESERVED:
        return "IP address is in a reserved address block";
    case UV_ECONNREFUSED:
        return "Connection refused";
    case UV_ECONNRESET:
        return "Connection reset by peer";
    case UV_ENETUNREACH:
        return "Network is unreachable";
    case UV_EHOSTUNREACH:
        return "No route to host";
    case UV_ETIMEDOUT:
        return "Timeout during connect (likely firewall problem)";
    case UV_EPIPE:
        return "Connection closed by peer";
    default:
        return uv_strerror(status);
    }
}
