/* One outgoing TCP connection, optionally TLS over memory BIOs, and the dialer that opens
 * every one of them (see conn.h). */
#include "conn.h"

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/siphash.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

/* A TLS record is at most 16 KiB plus overhead; reads are done in chunks of this size. */
#define CONN_READ_CHUNK (16 * 1024 + 512)

/* Where a connection stands with its destination's limit. */
typedef enum {
    CONN_WAITING, /* in its destination's line; no socket yet */
    CONN_GRANTED, /* holds a turn; its connect starts from the dialer's timer */
    CONN_DIALED,  /* holds a turn; the connect was started */
} conn_turn;

typedef struct dest dest;

struct acmeva_conn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    acmeva_conn_cbs cbs;
    void *arg; /* NULL after close: no more callbacks */
    int closed;
    acmeva_dialer *d;
    dest *dest;
    conn_turn turn;
    acmeva_conn *prev, *next; /* the destination's line (WAITING) or the dialer's (GRANTED) */
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } peer; /* where a waiting connection dials once its turn comes */
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

static void dialer_leave(acmeva_conn *c);

void acmeva_conn_close(acmeva_conn *c, int abort)
{
    if (c == NULL || c->closed)
        return;
    c->closed = 1;
    c->arg = NULL;
    int dialed = c->turn == CONN_DIALED;
    dialer_leave(c);
    /* A reset tells a server that holds a connection open (a tarpit) to let go now; it
     * fails on a socket that was never opened, which a plain close handles. */
    if (!abort || !dialed || uv_tcp_close_reset(&c->tcp, conn_close_cb) != 0)
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

/* ---- the dialer: address policy and per-destination turns ----------------------------------- */

/* One IP address with connections open or waiting. Lives exactly as long as it has either. */
struct dest {
    dest *next; /* hash chain */
    int family;
    uint8_t addr[16];
    unsigned open;               /* turns held (GRANTED or DIALED) */
    acmeva_conn *wait_head, *wait_tail; /* waiting connections, first come first served */
};

#define DIALER_MIN_BUCKETS 64

struct acmeva_dialer {
    uv_loop_t *loop;
    const acmeva_addr_policy *policy;
    unsigned max_per_dest;
    dest **buckets; /* n_buckets chains, a power of two */
    size_t n_buckets, n_dests;
    /* The table is keyed by addresses that DNS answers choose: a keyed hash (SipHash-2-4 with
     * a random key) keeps anyone from sending every destination into one chain. */
    uint64_t key[2];
    acmeva_conn *ready_head, *ready_tail; /* GRANTED, to dial from the timer */
    uv_timer_t *timer;
};

static void dest_key(const struct sockaddr *sa, int *family, uint8_t addr[16])
{
    memset(addr, 0, 16);
    *family = sa->sa_family;
    if (sa->sa_family == AF_INET6)
        memcpy(addr, ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr, 16);
    else
        memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
}

static size_t dest_bucket(const acmeva_dialer *d, int family, const uint8_t addr[16])
{
    uint8_t in[17];
    in[0] = family == AF_INET6 ? 6 : 4;
    memcpy(in + 1, addr, 16);
    return (size_t)(SIPHASH_24(d->key, in, sizeof(in)) & (d->n_buckets - 1));
}

/* Rehash into |n| buckets; on no memory the table keeps its size (it only gets slower). */
static void dialer_resize(acmeva_dialer *d, size_t n)
{
    dest **nb = calloc(n, sizeof(*nb));
    if (nb == NULL)
        return;
    dest **old = d->buckets;
    size_t old_n = d->n_buckets;
    d->buckets = nb;
    d->n_buckets = n;
    for (size_t i = 0; i < old_n; i++) {
        dest *e = old[i];
        while (e != NULL) {
            dest *next = e->next;
            size_t b = dest_bucket(d, e->family, e->addr);
            e->next = nb[b];
            nb[b] = e;
            e = next;
        }
    }
    free(old);
}

static dest *dest_get(acmeva_dialer *d, const struct sockaddr *sa)
{
    int family;
    uint8_t addr[16];
    dest_key(sa, &family, addr);
    size_t b = dest_bucket(d, family, addr);
    for (dest *e = d->buckets[b]; e != NULL; e = e->next)
        if (e->family == family && memcmp(e->addr, addr, 16) == 0)
            return e;
    dest *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->family = family;
    memcpy(e->addr, addr, 16);
    e->next = d->buckets[b];
    d->buckets[b] = e;
    if (++d->n_dests > d->n_buckets)
        dialer_resize(d, d->n_buckets * 2);
    return e;
}

/* Drop |e| from the table once nothing holds or awaits a turn on it. */
static void dest_maybe_free(acmeva_dialer *d, dest *e)
{
    if (e->open > 0 || e->wait_head != NULL)
        return;
    dest **pp = &d->buckets[dest_bucket(d, e->family, e->addr)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    free(e);
    d->n_dests--;
    if (d->n_buckets > DIALER_MIN_BUCKETS && d->n_dests < d->n_buckets / 8)
        dialer_resize(d, d->n_buckets / 2);
}

static void list_append(acmeva_conn **head, acmeva_conn **tail, acmeva_conn *c)
{
    c->next = NULL;
    c->prev = *tail;
    if (*tail != NULL)
        (*tail)->next = c;
    else
        *head = c;
    *tail = c;
}

static void list_unlink(acmeva_conn **head, acmeva_conn **tail, acmeva_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        *tail = c->prev;
    c->prev = c->next = NULL;
}

static void dialer_timer_cb(uv_timer_t *t);

/* A turn on |e| was given back: hand it to the first waiting connection, whose connect then
 * starts from the loop (never from inside the close that freed the turn). */
static void dest_release(acmeva_dialer *d, dest *e)
{
    e->open--;
    while (e->open < d->max_per_dest && e->wait_head != NULL) {
        acmeva_conn *c = e->wait_head;
        list_unlink(&e->wait_head, &e->wait_tail, c);
        e->open++;
        c->turn = CONN_GRANTED;
        list_append(&d->ready_head, &d->ready_tail, c);
        uv_timer_start(d->timer, dialer_timer_cb, 0, 0);
    }
    dest_maybe_free(d, e);
}

/* |c| is closing: leave the line, or give back the turn it held. */
static void dialer_leave(acmeva_conn *c)
{
    acmeva_dialer *d = c->d;
    dest *e = c->dest;
    if (e == NULL)
        return;
    c->dest = NULL;
    switch (c->turn) {
    case CONN_WAITING:
        list_unlink(&e->wait_head, &e->wait_tail, c);
        dest_maybe_free(d, e);
        break;
    case CONN_GRANTED:
        list_unlink(&d->ready_head, &d->ready_tail, c);
        dest_release(d, e);
        break;
    case CONN_DIALED:
        dest_release(d, e);
        break;
    }
}

/* Reading starts together with the connect, so that the socket enters epoll once, for
 * EPOLLIN|EPOLLOUT, and only drops EPOLLOUT when the connect completes. Started from the
 * connect callback instead, it would enter after libuv had forgotten the connect's watch
 * (uv__stream_connect stops POLLOUT first): an EPOLL_CTL_ADD that fails with EEXIST and a
 * MOD, two system calls where one does. No byte can arrive before the connect completes,
 * and libuv reports the connect before any read. */
static int conn_dial(acmeva_conn *c)
{
    c->turn = CONN_DIALED;
    int rc = uv_tcp_connect(&c->connect_req, &c->tcp, &c->peer.sa, connect_cb);
    if (rc != 0)
        return rc;
    return acmeva_conn_read_start(c);
}

/* Start the connects of the connections whose turn came. A callback may close any connection
 * or open new ones, so the list is read afresh for each. */
static void dialer_timer_cb(uv_timer_t *t)
{
    acmeva_dialer *d = t->data;
    acmeva_conn *c;
    while ((c = d->ready_head) != NULL) {
        list_unlink(&d->ready_head, &d->ready_tail, c);
        int rc = conn_dial(c);
        if (rc != 0)
            c->cbs.on_connect(c->arg, rc); /* the owner closes it, which frees the turn */
        else if (c->cbs.on_dial != NULL)
            c->cbs.on_dial(c->arg);
    }
}

int acmeva_dialer_new(uv_loop_t *loop, const acmeva_addr_policy *policy,
                      unsigned max_per_destination, acmeva_dialer **out)
{
    *out = NULL;
    acmeva_dialer *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return UV_ENOMEM;
    d->loop = loop;
    d->policy = policy;
    d->max_per_dest = max_per_destination > 0 ? max_per_destination : 1;
    d->n_buckets = DIALER_MIN_BUCKETS;
    d->buckets = calloc(d->n_buckets, sizeof(*d->buckets));
    d->timer = malloc(sizeof(*d->timer));
    if (d->buckets == NULL || d->timer == NULL) {
        free(d->buckets);
        free(d->timer);
        free(d);
        return UV_ENOMEM;
    }
    RAND_bytes((uint8_t *)d->key, sizeof(d->key));
    uv_timer_init(loop, d->timer);
    d->timer->data = d;
    *out = d;
    return 0;
}

void acmeva_dialer_free(acmeva_dialer *d)
{
    if (d == NULL)
        return;
    /* Every connection was closed first, so every destination is gone with it. */
    uv_close((uv_handle_t *)d->timer, (uv_close_cb)free);
    free(d->buckets);
    free(d);
}

size_t acmeva_dialer_destinations(const acmeva_dialer *d)
{
    return d->n_dests;
}

int acmeva_conn_queued(const acmeva_conn *c)
{
    return c->turn == CONN_WAITING;
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
    /* No socket yet: libuv opens it at connect time, for the family of the address. */
    int rc = uv_tcp_init(d->loop, &c->tcp);
    if (rc != 0) {
        free(c);
        return rc;
    }
    c->tcp.data = c;
    /* No TCP_NODELAY here: a plain connection sends one request in one write, which Nagle's
     * algorithm never holds back (nothing is unacknowledged before it), so the setsockopt
     * would be a system call for nothing. TLS sets it (acmeva_conn_start_tls). */
    c->cbs = *cbs;
    c->arg = arg;
    c->connect_req.data = c;
    c->d = d;
    /* The policy let only AF_INET and AF_INET6 through. */
    if (addr->sa_family == AF_INET6)
        memcpy(&c->peer.in6, addr, sizeof(c->peer.in6));
    else
        memcpy(&c->peer.in, addr, sizeof(c->peer.in));
    c->dest = dest_get(d, addr);
    if (c->dest == NULL) {
        rc = UV_ENOMEM;
        goto fail;
    }
    if (c->dest->open >= d->max_per_dest) {
        c->turn = CONN_WAITING;
        list_append(&c->dest->wait_head, &c->dest->wait_tail, c);
        *out = c;
        return 0;
    }
    c->dest->open++;
    rc = conn_dial(c);
    if (rc != 0)
        goto fail;
    *out = c;
    return 0;

fail:
    c->arg = NULL;
    c->closed = 1;
    dialer_leave(c);
    uv_close((uv_handle_t *)&c->tcp, conn_close_cb);
    return rc;
}

int acmeva_conn_start_tls(acmeva_conn *c, void *ssl_ctx, const char *sni, const uint8_t *alpn,
                          size_t alpn_len)
{
    /* A handshake is several flights, the last of them followed at once by the request:
     * Nagle's algorithm would hold that write back until the peer acknowledges the flight
     * before it (up to a delayed ACK's 40 ms). */
    int rc = uv_tcp_nodelay(&c->tcp, 1);
    if (rc != 0)
        return rc;
    c->ssl = SSL_new((SSL_CTX *)ssl_ctx);
    if (c->ssl == NULL)
        return UV_ENOMEM;
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (c->rbio == NULL || c->wbio == NULL) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        c->rbio = c->wbio = NULL;
        SSL_free(c->ssl);
        c->ssl = NULL;
        return UV_ENOMEM;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_connect_state(c->ssl);
    /* Both copy their argument: a failure is no memory. */
    if (sni != NULL && SSL_set_tlsext_host_name(c->ssl, sni) != 1)
        return UV_ENOMEM;
    /* SSL_set_alpn_protos returns 0 on success (an OpenSSL quirk BoringSSL keeps). */
    if (alpn != NULL && SSL_set_alpn_protos(c->ssl, alpn, (unsigned)alpn_len) != 0)
        return UV_ENOMEM;
    c->handshaking = 1;
    rc = acmeva_conn_read_start(c);
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

int acmeva_conn_error_is_local(int status)
{
    switch (status) {
    case UV_EMFILE:
    case UV_ENFILE:
    case UV_ENOMEM:
    case UV_ENOBUFS:
    case UV_EADDRNOTAVAIL: /* connect(2): no free ephemeral port */
        return 1;
    default:
        return 0;
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
