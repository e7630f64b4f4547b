/*
 * acmeva-responder: a fast challenge server for benchmarks, on loopback only, that needs no
 * per-token setup. Every answer is derived from the token, which the request itself carries:
 *
 *   thumbprint(T) = base64url(SHA-256("acmeva-bench:" || T))      (43 characters)
 *   KA(T)         = T "." thumbprint(T)                            (the key authorization)
 *
 * - http-01 (RFC 8555 §8.3): GET /.well-known/acme-challenge/<T> answers 200 with KA(T).
 * - DNS (UDP and TCP), authoritative for a zone (default bench.test). An identifier is
 *   <T>.<zone> (or <T>.<more labels>.<zone>): its first label is the token, so the token is
 *   recovered from any query name.
 *     A / AAAA at any identifier           127.0.0.1 / ::1
 *     TXT at _acme-challenge.<identifier>  base64url(SHA-256(KA(T)))        (dns-01, §8.4)
 *     TXT at _<x>._acme-challenge.<ident>  the same value                   (dns-account-01)
 *     CAA at the zone apex                 0 issue "<--caa-issuer>"          (RFC 8659)
 *   Ancestors of the zone get empty NOERROR answers, names outside it REFUSED, and names
 *   with a label "tarpit" below the zone get no answer at all (a DNS tarpit).
 * - tls-alpn-01 (RFC 8737): a TLS server that offers acme-tls/1 and serves, for each SNI, a
 *   self-signed ECDSA P-256 certificate whose only subjectAltName is the SNI and whose
 *   critical acmeIdentifier extension holds SHA-256(KA(T)), T being the first label of the SNI.
 *   Certificates are made on first use and cached per SNI. A client that does not ask for
 *   acme-tls/1 (a load generator such as wrk) gets the same handshake, then an HTTP answer.
 * - A tarpit port accepts connections and holds them, never answering.
 *
 * Slow and failing targets: --delay-ms delays every answer (HTTP response, TLS handshake, DNS
 * answer); --wrong-share F makes a share F of tokens get wrong answers (wrong key
 * authorization, wrong TXT value, wrong acmeIdentifier, and a CAA record at the identifier
 * naming another CA). Which tokens are wrong is derived from the token too:
 *   wrong(T) <=> first 4 bytes of SHA-256("acmeva-bench-wrong:" || T), big-endian, < F * 2^32
 * and a wrong token's answers use KA'(T) = T "." base64url(SHA-256("acmeva-bench-wrong:" || T)).
 * Refused connections need nothing here: point the validator at a port with nothing on it.
 *
 * acmeva-bench computes the same functions (bench/bench.c); the two must stay in step.
 *
 * Threads: --threads N runs N event loops, each with its own SO_REUSEPORT listeners (the
 * kernel spreads connections and datagrams over them), its own certificate cache and its
 * own key. Nothing is shared but the read-only configuration and the SSL_CTX.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <openssl/base64.h>
#include <openssl/bytestring.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/pool.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include "acmeva/version.h"

#define MAX_THREADS 64
#define MAX_SPREAD 64     /* --a-spread: loopback addresses 127.0.0.1 .. 127.0.0.N */
#define ACCEPT_BATCH 64   /* connections accepted per wake-up */
#define HTTP_REQ_MAX 4096 /* bytes of an HTTP request (line and headers) */
#define TOKEN_MAX 256     /* the codec's cap on tokens */
#define THUMB_LEN 43      /* base64url of 32 bytes, no padding */
#define KA_MAX (TOKEN_MAX + 1 + THUMB_LEN)
#define DNS_QUERY_MAX 512  /* bytes of a query we read */
#define DNS_REPLY_MAX 1232 /* bytes of an answer (RFC 9715's safe UDP size) */
#define DNS_BATCH 64       /* datagrams per recvmmsg/sendmmsg */
#define DNS_TCP_MAX 4096   /* bytes buffered on one DNS-over-TCP connection */
#define DNS_TCP_IDLE_MS 10000
#define DNS_DELAY_QUEUE_MAX 200000 /* delayed UDP answers held at once; more are dropped */
#define CERT_CACHE_SLOTS 4096      /* per thread, direct-mapped by the hash of the SNI */
#define NAME_MAX_TEXT 253
#define PAUSE_MS 100 /* listener pause when out of file descriptors */

static const uint8_t kAcmeTls1[] = {'a', 'c', 'm', 'e', '-', 't', 'l', 's', '/', '1'};
static const uint8_t kHttp11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};

/* ---- configuration (read-only once the threads run) -------------------------------------- */

typedef struct config {
    uint16_t http_port, tls_port, dns_port, tarpit_port;
    char zone[NAME_MAX_TEXT + 1];
    size_t zone_len;
    char caa_issuer[NAME_MAX_TEXT + 1];
    uint64_t delay_ms;
    double wrong_share;
    uint32_t wrong_threshold; /* wrong(T) when the token's hash is below this */
    int threads;
    int ipv6;     /* also listen on ::1 */
    int aaaa;     /* answer AAAA queries */
    int a_spread; /* A answers spread over 127.0.0.1 .. 127.0.0.N (TCP listens on each) */
    int ttl;
} config;

static config cfg;

/* ---- the token scheme ------------------------------------------------------------------- */

static void b64url(const uint8_t *in, size_t len, char *out /* 4*ceil(len/3)+1 */)
{
    size_t n = EVP_EncodeBlock((uint8_t *)out, in, len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    out[n] = '\0';
}

static void prefixed_sha256(const char *prefix, const char *tok, size_t len, uint8_t out[32])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, prefix, strlen(prefix));
    SHA256_Update(&c, tok, len);
    SHA256_Final(out, &c);
}

/* is_wrong returns 1 when token |tok| gets wrong answers (see the top of this file). */
static int is_wrong(const char *tok, size_t len)
{
    uint8_t d[32];
    if (cfg.wrong_threshold == 0)
        return 0;
    prefixed_sha256("acmeva-bench-wrong:", tok, len, d);
    uint32_t h = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
    return h < cfg.wrong_threshold;
}

/* key_authorization writes KA(T), or KA'(T) for a wrong token, to |out| (KA_MAX + 1 bytes).
 * Returns its length. |len| is at most TOKEN_MAX. */
static size_t key_authorization(const char *tok, size_t len, char *out)
{
    uint8_t d[32];
    char thumb[48];
    prefixed_sha256(is_wrong(tok, len) ? "acmeva-bench-wrong:" : "acmeva-bench:", tok, len, d);
    b64url(d, sizeof(d), thumb);
    memcpy(out, tok, len);
    out[len] = '.';
    memcpy(out + len + 1, thumb, THUMB_LEN);
    out[len + 1 + THUMB_LEN] = '\0';
    return len + 1 + THUMB_LEN;
}

/* ka_digest writes SHA-256 of the token's key authorization (dns-01 and tls-alpn-01). */
static void ka_digest(const char *tok, size_t len, uint8_t out[32])
{
    char ka[KA_MAX + 1];
    size_t n = key_authorization(tok, len, ka);
    SHA256((const uint8_t *)ka, n, out);
}

static int is_b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* ---- threads, listeners and connections -------------------------------------------------- */

typedef enum { L_HTTP, L_TLS, L_TARPIT, L_DNS_TCP, L_DNS_UDP } listen_kind;

struct rthread;

typedef struct listener {
    uv_poll_t poll;
    uv_timer_t pause; /* re-enables accepting after EMFILE */
    struct rthread *t;
    int fd;
    listen_kind kind;
    int closes; /* handles still closing at shutdown */
    struct listener *next;
} listener;

typedef enum { C_HTTP, C_TLS_HANDSHAKE, C_TLS_HTTP, C_TARPIT, C_DNS_TCP } conn_state;

typedef struct rconn {
    uv_poll_t poll;
    uv_timer_t *timer; /* delay or idle timer, allocated when needed */
    struct rthread *t;
    struct rconn *prev, *next;
    int fd;
    conn_state state;
    int delayed; /* waiting for the delay timer before answering */
    int closing;
    SSL *ssl;
    char *out; /* unsent bytes of an answer (rare: answers fit a socket buffer) */
    size_t out_len, out_off;
    size_t len;
    uint8_t buf[]; /* request bytes (HTTP_REQ_MAX or DNS_TCP_MAX) */
} rconn;

typedef struct cert_slot {
    char sni[NAME_MAX_TEXT + 1];
    CRYPTO_BUFFER *der;
} cert_slot;

/* A delayed UDP answer, queued in send order (every one waits the same delay). */
typedef struct delayed_dgram {
    struct delayed_dgram *next;
    uint64_t due;
    struct sockaddr_storage to;
    socklen_t tolen;
    int fd;
    size_t len;
    uint8_t data[];
} delayed_dgram;

typedef struct stats {
    uint64_t http, tls, tls_acme, dns_udp, dns_tcp, dns_dropped, tarpit, wrong, certs_made;
    uint64_t accept_errors;
} stats;

typedef struct rthread {
    int index;
    uv_loop_t loop;
    uv_thread_t tid;
    uv_async_t stop;
    uv_signal_t sigint, sigterm; /* thread 0 only */
    listener *listeners;
    rconn *conns;
    size_t n_conns;
    SSL_CTX *ssl_ctx; /* shared */
    EVP_PKEY *key;    /* this thread's certificate key */
    cert_slot *certs; /* CERT_CACHE_SLOTS */
    uv_timer_t delay_timer;
    delayed_dgram *dq_head, *dq_tail;
    size_t dq_len;
    int stopping;
    stats st;
    /* UDP batch buffers */
    uint8_t in[DNS_BATCH][DNS_QUERY_MAX];
    uint8_t outb[DNS_BATCH][DNS_REPLY_MAX];
} rthread;

static rthread *threads[MAX_THREADS];
static int n_threads;
static int tls_ex_index = -1;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("acmeva-responder: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* ---- sockets -------------------------------------------------------------------------------- */

static int make_socket(int family, int type, const char *addr, uint16_t port, int defer_accept)
{
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        inet_pton(AF_INET6, addr, &s6->sin6_addr);
        sl = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        inet_pton(AF_INET, addr, &s4->sin_addr);
        sl = sizeof(*s4);
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (type == SOCK_STREAM) {
        if (defer_accept) {
            /* Wake accept() only once the request has arrived: the answer is then written
             * from the accept callback, with no poll handle for the connection at all. */
            int secs = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs));
        }
        if (listen(fd, 65535) != 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
    } else {
        int sz = 4 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    }
    return fd;
}

/* ---- connections ------------------------------------------------------------------------ */

static void conn_close_cb(uv_handle_t *h)
{
    rconn *c = h->data;
    close(c->fd);
    free(c);
}

static void timer_free_cb(uv_handle_t *h)
{
    free(h);
}

static void conn_close(rconn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    rthread *t = c->t;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    t->n_conns--;
    if (c->timer != NULL) {
        uv_timer_stop(c->timer);
        uv_close((uv_handle_t *)c->timer, timer_free_cb);
        c->timer = NULL;
    }
    SSL_free(c->ssl);
    c->ssl = NULL;
    free(c->out);
    c->out = NULL;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, conn_close_cb);
}

static void conn_poll_cb(uv_poll_t *p, int status, int events);

static rconn *conn_new(rthread *t, int fd, conn_state state, size_t bufsize)
{
    rconn *c = calloc(1, sizeof(*c) + bufsize);
    if (c == NULL)
        return NULL;
    if (uv_poll_init(&t->loop, &c->poll, fd) != 0) {
        free(c);
        return NULL;
    }
    c->poll.data = c;
    c->t = t;
    c->fd = fd;
    c->state = state;
    c->next = t->conns;
    if (t->conns != NULL)
        t->conns->prev = c;
    t->conns = c;
    t->n_conns++;
    return c;
}

static void conn_want(rconn *c, int events)
{
    uv_poll_start(&c->poll, events, conn_poll_cb);
}

static void conn_timer_cb(uv_timer_t *tm);

static int conn_start_timer(rconn *c, uint64_t ms)
{
    if (c->timer == NULL) {
        c->timer = malloc(sizeof(*c->timer));
        if (c->timer == NULL)
            return -1;
        uv_timer_init(&c->t->loop, c->timer);
        c->timer->data = c;
    }
    uv_timer_start(c->timer, conn_timer_cb, ms, 0);
    return 0;
}

/* ---- HTTP (http-01, and wrk's requests on either port) ----------------------------------- */

/*
 * http_answer looks at the |len| request bytes in |req|. Returns 0 while the request is
 * incomplete, else the length of the response written to |resp| (|cap| bytes).
 */
static size_t http_answer(rthread *t, const uint8_t *req, size_t len, char *resp, size_t cap,
                          int *complete)
{
    *complete = 0;
    const uint8_t *end = NULL;
    for (size_t i = 3; i < len; i++) {
        if (req[i] == '\n' && req[i - 1] == '\r' && req[i - 2] == '\n' && req[i - 3] == '\r') {
            end = req + i;
            break;
        }
    }
    int too_big = end == NULL && len >= HTTP_REQ_MAX;
    if (end == NULL && !too_big)
        return 0;
    *complete = 1;
    int status = 400;
    char body[KA_MAX + 2];
    size_t body_len = 0;
    static const char prefix[] = "GET /.well-known/acme-challenge/";
    if (!too_big && len > sizeof(prefix) - 1 && memcmp(req, prefix, sizeof(prefix) - 1) == 0) {
        const char *tok = (const char *)req + sizeof(prefix) - 1;
        size_t n = 0;
        while (tok + n < (const char *)end && is_b64url_char((unsigned char)tok[n]) &&
               n <= TOKEN_MAX)
            n++;
        char stop = tok[n];
        if (n >= 1 && n <= TOKEN_MAX && (stop == ' ' || stop == '?')) {
            status = 200;
            body_len = key_authorization(tok, n, body);
            if (is_wrong(tok, n))
                t->st.wrong++;
        } else {
            status = 404;
        }
    } else if (!too_big && len >= 4 && memcmp(req, "GET ", 4) == 0) {
        status = 404;
    }
    const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : "Bad Request";
    int n = snprintf(resp, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason, body_len);
    if (n < 0 || (size_t)n + body_len > cap)
        return 0;
    memcpy(resp + n, body, body_len);
    t->st.http++;
    return (size_t)n + body_len;
}

/* conn_keep_out copies the unsent part of an answer into the connection (closing it when there
 * is no memory). Returns 0, or -1 when the connection is closed. */
static int conn_keep_out(rconn *c, const char *data, size_t len)
{
    c->out = malloc(len);
    if (c->out == NULL) {
        conn_close(c);
        return -1;
    }
    memcpy(c->out, data, len);
    c->out_len = len;
    c->out_off = 0;
    return 0;
}

/* Queue the unsent tail of an answer and wait for the socket to take it. */
static void conn_send_rest(rconn *c, const char *data, size_t len)
{
    if (conn_keep_out(c, data, len) == 0)
        conn_want(c, UV_WRITABLE);
}

/* Write |len| bytes of a final answer: then close, or wait for room. */
static void conn_reply_and_close(rconn *c, const char *data, size_t len)
{
    ssize_t w = write(c->fd, data, len);
    if (w == (ssize_t)len || (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        conn_close(c);
        return;
    }
    if (w < 0)
        w = 0;
    conn_send_rest(c, data + w, len - (size_t)w);
}

/* Read what the client sent; returns 1 on EOF or error (the caller closes). */
static int conn_read(rconn *c, size_t cap)
{
    while (c->len < cap) {
        ssize_t n = read(c->fd, c->buf + c->len, cap - c->len);
        if (n > 0) {
            c->len += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        return 1;
    }
    return 0;
}

static void http_try_answer(rconn *c)
{
    char resp[HTTP_REQ_MAX];
    int complete;
    size_t n = http_answer(c->t, c->buf, c->len, resp, sizeof(resp), &complete);
    if (!complete)
        return;
    if (n == 0) {
        conn_close(c);
        return;
    }
    conn_reply_and_close(c, resp, n);
}

static void http_readable(rconn *c)
{
    if (conn_read(c, HTTP_REQ_MAX)) {
        conn_close(c);
        return;
    }
    int complete = 0;
    char resp[HTTP_REQ_MAX];
    /* With a delay, answer from the timer; the request only has to be complete. */
    if (cfg.delay_ms > 0) {
        for (size_t i = 3; i < c->len && !complete; i++)
            complete = c->buf[i] == '\n' && c->buf[i - 1] == '\r' && c->buf[i - 2] == '\n' &&
                       c->buf[i - 3] == '\r';
        if (complete || c->len >= HTTP_REQ_MAX) {
            c->delayed = 1;
            uv_poll_stop(&c->poll);
            if (conn_start_timer(c, cfg.delay_ms) != 0)
                conn_close(c);
        }
        return;
    }
    size_t n = http_answer(c->t, c->buf, c->len, resp, sizeof(resp), &complete);
    if (!complete)
        return;
    if (n == 0) {
        conn_close(c);
        return;
    }
    conn_reply_and_close(c, resp, n);
}

/* The fast path: with TCP_DEFER_ACCEPT the request is usually there at accept time, and the
 * whole exchange is read, write, close, with no allocation. */
static void http_accept(rthread *t, int fd)
{
    if (cfg.delay_ms == 0) {
        uint8_t req[HTTP_REQ_MAX];
        char resp[HTTP_REQ_MAX];
        ssize_t n = read(fd, req, sizeof(req));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            close(fd);
            return;
        }
        if (n > 0) {
            int complete;
            size_t r = http_answer(t, req, (size_t)n, resp, sizeof(resp), &complete);
            if (complete) {
                ssize_t w = r > 0 ? write(fd, resp, r) : -1;
                if (r == 0 || w == (ssize_t)r ||
                    (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                    close(fd);
                    return;
                }
                /* A short write: fall back to a connection that sends the rest. */
                size_t done = w > 0 ? (size_t)w : 0;
                rconn *c = conn_new(t, fd, C_HTTP, HTTP_REQ_MAX);
                if (c == NULL) {
                    close(fd);
                    return;
                }
                c->len = HTTP_REQ_MAX; /* nothing more is read */
                conn_send_rest(c, resp + done, r - done);
                return;
            }
            rconn *c = conn_new(t, fd, C_HTTP, HTTP_REQ_MAX);
            if (c == NULL) {
                close(fd);
                return;
            }
            memcpy(c->buf, req, (size_t)n);
            c->len = (size_t)n;
            conn_want(c, UV_READABLE);
            return;
        }
    }
    rconn *c = conn_new(t, fd, C_HTTP, HTTP_REQ_MAX);
    if (c == NULL) {
        close(fd);
        return;
    }
    conn_want(c, UV_READABLE);
}

/* ---- tls-alpn-01 certificates --------------------------------------------------------------- */

static uint32_t fnv1a(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* add_name adds a Name of one commonName attribute (RFC 5280 §4.1.2.4). */
static int add_name(CBB *parent, const char *cn)
{
    static const uint8_t kOidCN[] = {0x55, 0x04, 0x03};
    CBB name, rdn, atv, oid, val;
    return CBB_add_asn1(parent, &name, CBS_ASN1_SEQUENCE) &&
           CBB_add_asn1(&name, &rdn, CBS_ASN1_SET) && CBB_add_asn1(&rdn, &atv, CBS_ASN1_SEQUENCE) &&
           CBB_add_asn1(&atv, &oid, CBS_ASN1_OBJECT) &&
           CBB_add_bytes(&oid, kOidCN, sizeof(kOidCN)) &&
           CBB_add_asn1(&atv, &val, CBS_ASN1_UTF8STRING) &&
           CBB_add_bytes(&val, (const uint8_t *)cn, strlen(cn)) && CBB_flush(parent);
}

static int add_time(CBB *parent, time_t when)
{
    struct tm tm;
    char text[16];
    CBB t;
    gmtime_r(&when, &tm);
    strftime(text, sizeof(text), "%y%m%d%H%M%SZ", &tm);
    return CBB_add_asn1(parent, &t, CBS_ASN1_UTCTIME) &&
           CBB_add_bytes(&t, (const uint8_t *)text, strlen(text)) && CBB_flush(parent);
}

/*
 * make_cert builds the DER of a self-signed tls-alpn-01 certificate for |sni| (RFC 8737 §3):
 * subjectAltName with the one dNSName |sni|, and the critical id-pe-acmeIdentifier extension
 * whose value is an OCTET STRING of |digest|. Returns a new CRYPTO_BUFFER or NULL.
 */
static CRYPTO_BUFFER *make_cert(EVP_PKEY *key, const char *sni, const uint8_t digest[32],
                                uint64_t serial)
{
    static const uint8_t kOidEcdsaSha256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
    static const uint8_t kOidSan[] = {0x55, 0x1d, 0x11};
    static const uint8_t kOidAcmeId[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f};
    CBB cbb, tbs_cbb, cert, tbs, v, ver, alg, oid, validity, exts_wrap, exts, ext, eoid, eval, san,
        dns, crit, inner, sig, alg2, oid2;
    uint8_t *tbs_der = NULL, *der = NULL, *sigbuf = NULL;
    size_t tbs_len = 0, der_len = 0, sig_len = 0;
    CRYPTO_BUFFER *out = NULL;
    time_t now = time(NULL);
    EVP_MD_CTX md;
    EVP_MD_CTX_init(&md);

    if (!CBB_init(&tbs_cbb, 512) || !CBB_add_asn1(&tbs_cbb, &tbs, CBS_ASN1_SEQUENCE) ||
        !CBB_add_asn1(&tbs, &v, CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0) ||
        !CBB_add_asn1(&v, &ver, CBS_ASN1_INTEGER) || !CBB_add_u8(&ver, 2) ||
        !CBB_add_asn1_uint64(&tbs, serial) || !CBB_add_asn1(&tbs, &alg, CBS_ASN1_SEQUENCE) ||
        !CBB_add_asn1(&alg, &oid, CBS_ASN1_OBJECT) ||
        !CBB_add_bytes(&oid, kOidEcdsaSha256, sizeof(kOidEcdsaSha256)) ||
        !add_name(&tbs, "acmeva-responder") || !CBB_add_asn1(&tbs, &validity, CBS_ASN1_SEQUENCE) ||
        !add_time(&validity, now - 3600) || !add_time(&validity, now + 7 * 86400) ||
        !add_name(&tbs, "acmeva-responder") || !EVP_marshal_public_key(&tbs, key) ||
        !CBB_add_asn1(&tbs, &exts_wrap, CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 3) ||
        !CBB_add_asn1(&exts_wrap, &exts, CBS_ASN1_SEQUENCE) ||
        /* subjectAltName: one dNSName, the SNI (RFC 8737 §3) */
        !CBB_add_asn1(&exts, &ext, CBS_ASN1_SEQUENCE) ||
        !CBB_add_asn1(&ext, &eoid, CBS_ASN1_OBJECT) ||
        !CBB_add_bytes(&eoid, kOidSan, sizeof(kOidSan)) ||
        !CBB_add_asn1(&ext, &eval, CBS_ASN1_OCTETSTRING) ||
        !CBB_add_asn1(&eval, &san, CBS_ASN1_SEQUENCE) ||
        !CBB_add_asn1(&san, &dns, CBS_ASN1_CONTEXT_SPECIFIC | 2) ||
        !CBB_add_bytes(&dns, (const uint8_t *)sni, strlen(sni)) || !CBB_flush(&exts) ||
        /* acmeIdentifier, critical, OCTET STRING of SHA-256(KA) (RFC 8737 §3, §6.1) */
        !CBB_add_asn1(&exts, &ext, CBS_ASN1_SEQUENCE) ||
        !CBB_add_asn1(&ext, &eoid, CBS_ASN1_OBJECT) ||
        !CBB_add_bytes(&eoid, kOidAcmeId, sizeof(kOidAcmeId)) ||
        !CBB_add_asn1(&ext, &crit, CBS_ASN1_BOOLEAN) || !CBB_add_u8(&crit, 0xff) ||
        !CBB_add_asn1(&ext, &eval, CBS_ASN1_OCTETSTRING) ||
        !CBB_add_asn1(&eval, &inner, CBS_ASN1_OCTETSTRING) || !CBB_add_bytes(&inner, digest, 32) ||
        !CBB_finish(&tbs_cbb, &tbs_der, &tbs_len))
        goto out;

    if (!EVP_DigestSignInit(&md, NULL, EVP_sha256(), NULL, key) ||
        !EVP_DigestSign(&md, NULL, &sig_len, tbs_der, tbs_len))
        goto out;
    sigbuf = OPENSSL_malloc(sig_len);
    if (sigbuf == NULL || !EVP_DigestSign(&md, sigbuf, &sig_len, tbs_der, tbs_len))
        goto out;

    if (!CBB_init(&cbb, tbs_len + sig_len + 32) || !CBB_add_asn1(&cbb, &cert, CBS_ASN1_SEQUENCE) ||
        !CBB_add_bytes(&cert, tbs_der, tbs_len) || !CBB_add_asn1(&cert, &alg2, CBS_ASN1_SEQUENCE) ||
        !CBB_add_asn1(&alg2, &oid2, CBS_ASN1_OBJECT) ||
        !CBB_add_bytes(&oid2, kOidEcdsaSha256, sizeof(kOidEcdsaSha256)) ||
        !CBB_add_asn1(&cert, &sig, CBS_ASN1_BITSTRING) || !CBB_add_u8(&sig, 0) ||
        !CBB_add_bytes(&sig, sigbuf, sig_len) || !CBB_finish(&cbb, &der, &der_len)) {
        CBB_cleanup(&cbb);
        goto out;
    }
    out = CRYPTO_BUFFER_new(der, der_len, NULL);

out:
    if (tbs_der == NULL)
        CBB_cleanup(&tbs_cbb);
    EVP_MD_CTX_cleanup(&md);
    OPENSSL_free(tbs_der);
    OPENSSL_free(der);
    OPENSSL_free(sigbuf);
    return out;
}

/* The token of a TLS SNI or a DNS identifier: its first label. */
static size_t first_label(const char *name, size_t len)
{
    size_t n = 0;
    while (n < len && name[n] != '.')
        n++;
    return n;
}

/* cert_for returns the cached certificate of |sni| (borrowed), making it on first use. */
static CRYPTO_BUFFER *cert_for(rthread *t, const char *sni)
{
    size_t len = strlen(sni);
    if (len > NAME_MAX_TEXT)
        return NULL;
    cert_slot *s = &t->certs[fnv1a(sni, len) % CERT_CACHE_SLOTS];
    if (s->der != NULL && strcmp(s->sni, sni) == 0)
        return s->der;
    uint8_t digest[32];
    size_t tl = first_label(sni, len);
    if (tl > TOKEN_MAX)
        tl = TOKEN_MAX;
    ka_digest(sni, tl, digest);
    CRYPTO_BUFFER *der = make_cert(t->key, sni, digest, ++t->st.certs_made);
    if (der == NULL)
        return NULL;
    CRYPTO_BUFFER_free(s->der);
    s->der = der;
    memcpy(s->sni, sni, len + 1);
    return der;
}

/* BoringSSL's certificate callback (SSL_CTX_set_cert_cb): the SNI picks the certificate.
 * A ClientHello without SNI gets the certificate of the zone apex. */
static int cert_cb(SSL *ssl, void *arg)
{
    rconn *c = SSL_get_ex_data(ssl, tls_ex_index);
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (sni == NULL || sni[0] == '\0')
        sni = cfg.zone;
    CRYPTO_BUFFER *der = cert_for(c->t, sni);
    if (der == NULL)
        return 0;
    return SSL_set_chain_and_key(ssl, &der, 1, c->t->key, NULL);
}

/* ALPN (RFC 7301): acme-tls/1 when offered (RFC 8737 §3), else http/1.1 when offered. */
static int alpn_cb(SSL *ssl, const uint8_t **out, uint8_t *outlen, const uint8_t *in,
                   unsigned inlen, void *arg)
{
    const uint8_t *pick = NULL;
    uint8_t pick_len = 0;
    CBS list, proto;
    CBS_init(&list, in, inlen);
    while (CBS_len(&list) > 0) {
        if (!CBS_get_u8_length_prefixed(&list, &proto))
            return SSL_TLSEXT_ERR_NOACK;
        if (CBS_len(&proto) == sizeof(kAcmeTls1) &&
            memcmp(CBS_data(&proto), kAcmeTls1, sizeof(kAcmeTls1)) == 0) {
            rconn *c = SSL_get_ex_data(ssl, tls_ex_index);
            c->t->st.tls_acme++; /* counted here: validators reset right after their handshake */
            *out = CBS_data(&proto);
            *outlen = sizeof(kAcmeTls1);
            return SSL_TLSEXT_ERR_OK;
        }
        if (CBS_len(&proto) == sizeof(kHttp11) &&
            memcmp(CBS_data(&proto), kHttp11, sizeof(kHttp11)) == 0) {
            pick = CBS_data(&proto);
            pick_len = sizeof(kHttp11);
        }
    }
    if (pick == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    *out = pick;
    *outlen = pick_len;
    return SSL_TLSEXT_ERR_OK;
}

/* ---- TLS connections ----------------------------------------------------------------------- */

static void tls_want(rconn *c, int rc)
{
    int err = SSL_get_error(c->ssl, rc);
    if (err == SSL_ERROR_WANT_READ)
        conn_want(c, UV_READABLE);
    else if (err == SSL_ERROR_WANT_WRITE)
        conn_want(c, UV_WRITABLE | UV_READABLE);
    else
        conn_close(c);
}

static void tls_serve_http(rconn *c)
{
    for (;;) {
        if (c->out != NULL) {
            int w = SSL_write(c->ssl, c->out + c->out_off, (int)(c->out_len - c->out_off));
            if (w <= 0) {
                tls_want(c, w);
                return;
            }
            c->out_off += (size_t)w;
            if (c->out_off == c->out_len) {
                SSL_shutdown(c->ssl); /* close_notify; the peer's is not awaited */
                conn_close(c);
            }
            if (c->closing || c->out_off < c->out_len)
                return;
        }
        if (c->len >= HTTP_REQ_MAX) {
            conn_close(c);
            return;
        }
        int n = SSL_read(c->ssl, c->buf + c->len, (int)(HTTP_REQ_MAX - c->len));
        if (n <= 0) {
            tls_want(c, n);
            return;
        }
        c->len += (size_t)n;
        char resp[HTTP_REQ_MAX];
        int complete;
        size_t r = http_answer(c->t, c->buf, c->len, resp, sizeof(resp), &complete);
        if (!complete)
            continue;
        if (r == 0) {
            conn_close(c);
            return;
        }
        if (conn_keep_out(c, resp, r) < 0)
            return;
    }
}

static void tls_step(rconn *c)
{
    if (c->state == C_TLS_HANDSHAKE) {
        int rc = SSL_do_handshake(c->ssl);
        if (rc != 1) {
            tls_want(c, rc);
            return;
        }
        c->t->st.tls++;
        const uint8_t *proto;
        unsigned proto_len;
        SSL_get0_alpn_selected(c->ssl, &proto, &proto_len);
        if (proto_len == sizeof(kAcmeTls1) && memcmp(proto, kAcmeTls1, proto_len) == 0) {
            /* RFC 8737 §3: the validator only looks at the handshake; nothing follows. */
            conn_close(c);
            return;
        }
        c->state = C_TLS_HTTP;
    }
    tls_serve_http(c);
}

static void tls_accept(rthread *t, int fd)
{
    rconn *c = conn_new(t, fd, C_TLS_HANDSHAKE, HTTP_REQ_MAX);
    if (c == NULL) {
        close(fd);
        return;
    }
    c->ssl = SSL_new(t->ssl_ctx);
    if (c->ssl == NULL || !SSL_set_fd(c->ssl, fd) || !SSL_set_ex_data(c->ssl, tls_ex_index, c)) {
        conn_close(c);
        return;
    }
    SSL_set_accept_state(c->ssl);
    if (cfg.delay_ms > 0) {
        c->delayed = 1;
        if (conn_start_timer(c, cfg.delay_ms) != 0)
            conn_close(c);
        return;
    }
    tls_step(c);
}

/* ---- DNS --------------------------------------------------------------------------------- */

enum { QT_A = 1, QT_TXT = 16, QT_AAAA = 28, QT_OPT = 41, QT_CAA = 257 };
enum { RC_NOERROR = 0, RC_FORMERR = 1, RC_NOTIMP = 4, RC_REFUSED = 5 };

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Appends one answer record whose owner is the question name (pointer to offset 12). */
static size_t add_rr(uint8_t *out, size_t off, size_t cap, unsigned type, const uint8_t *rdata,
                     size_t rdlen)
{
    if (off + 12 + rdlen > cap)
        return 0;
    put16(out + off, 0xc00c);
    put16(out + off + 2, type);
    put16(out + off + 4, 1);
    out[off + 6] = (uint8_t)(cfg.ttl >> 24);
    out[off + 7] = (uint8_t)(cfg.ttl >> 16);
    out[off + 8] = (uint8_t)(cfg.ttl >> 8);
    out[off + 9] = (uint8_t)cfg.ttl;
    put16(out + off + 10, (unsigned)rdlen);
    memcpy(out + off + 12, rdata, rdlen);
    return off + 12 + rdlen;
}

static int label_eq(const char *a, size_t alen, const char *lit)
{
    size_t n = strlen(lit);
    return alen == n && memcmp(a, lit, n) == 0;
}

/*
 * dns_answer answers the query |q| (|qlen| bytes, from the network: every read is bounded)
 * into |out| (|cap| bytes). Returns the answer length, 0 to send nothing (a tarpit name or a
 * message too broken to answer).
 */
static size_t dns_answer(rthread *t, const uint8_t *q, size_t qlen, uint8_t *out, size_t cap)
{
    if (qlen < 12 || cap < 512)
        return 0;
    unsigned flags = (unsigned)q[2] << 8 | q[3];
    unsigned qdcount = (unsigned)q[4] << 8 | q[5];
    unsigned arcount = (unsigned)q[10] << 8 | q[11];
    if (flags & 0x8000)
        return 0; /* a response: never answer one */
    int rcode = RC_NOERROR;
    size_t qend = 12;
    char name[NAME_MAX_TEXT + 2];
    size_t name_len = 0;
    unsigned qtype = 0, qclass = 0;
    int edns = 0;
    if (((flags >> 11) & 0xf) != 0) {
        rcode = RC_NOTIMP;
    } else if (qdcount != 1) {
        rcode = RC_FORMERR;
    } else {
        /* The question name: uncompressed labels (RFC 1035 §4.1.2), lowercased to text. */
        size_t p = 12;
        int ok = 0;
        while (p < qlen) {
            unsigned l = q[p];
            if (l == 0) {
                p++;
                ok = 1;
                break;
            }
            if (l > 63 || p + 1 + l > qlen || name_len + l + 1 > NAME_MAX_TEXT + 1)
                break;
            if (name_len > 0)
                name[name_len++] = '.';
            for (unsigned i = 0; i < l; i++) {
                char ch = (char)q[p + 1 + i];
                if (ch >= 'A' && ch <= 'Z')
                    ch = (char)(ch + 32);
                if (ch == '.' || (unsigned char)ch <= 0x20 || (unsigned char)ch >= 0x7f)
                    ch = '?'; /* cannot match the zone or a token */
                name[name_len++] = ch;
            }
            p += 1 + l;
        }
        if (!ok || p + 4 > qlen) {
            rcode = RC_FORMERR;
        } else {
            name[name_len] = '\0';
            qtype = (unsigned)q[p] << 8 | q[p + 1];
            qclass = (unsigned)q[p + 2] << 8 | q[p + 3];
            qend = p + 4;
            /* EDNS0 (RFC 6891 §6.1.1): an OPT record owned by the root, answered in kind. */
            if (arcount >= 1 && qend + 11 <= qlen && q[qend] == 0 &&
                ((unsigned)q[qend + 1] << 8 | q[qend + 2]) == QT_OPT)
                edns = 1;
        }
    }

    /* Header and question. */
    size_t off = 12;
    if (rcode == RC_NOERROR) {
        memcpy(out + 12, q + 12, qend - 12);
        off = qend;
    }
    memcpy(out, q, 2);
    unsigned an = 0;
    if (rcode == RC_NOERROR && qclass != 1)
        rcode = RC_REFUSED;

    if (rcode == RC_NOERROR) {
        const char *zone = cfg.zone;
        size_t zl = cfg.zone_len;
        const char *sub = NULL; /* labels below the zone, "" at the apex */
        size_t sub_len = 0;
        if (name_len == zl && memcmp(name, zone, zl) == 0) {
            sub = "";
        } else if (name_len > zl + 1 && name[name_len - zl - 1] == '.' &&
                   memcmp(name + name_len - zl, zone, zl) == 0) {
            sub = name;
            sub_len = name_len - zl - 1;
        } else if (name_len == 0 || (zl > name_len + 1 && zone[zl - name_len - 1] == '.' &&
                                     memcmp(zone + zl - name_len, name, name_len) == 0)) {
            sub = NULL; /* an ancestor of the zone: exists, holds nothing */
        } else {
            rcode = RC_REFUSED;
        }
        if (sub != NULL) {
            /* Split off _acme-challenge and _<label>._acme-challenge (dns-account-01). */
            const char *ident = sub;
            size_t ident_len = sub_len;
            int is_txt_name = 0;
            size_t l1 = first_label(sub, sub_len);
            for (size_t i = 0; i < sub_len;) {
                size_t l = first_label(sub + i, sub_len - i);
                if (label_eq(sub + i, l, "tarpit")) {
                    t->st.dns_dropped++;
                    return 0;
                }
                i += l + 1;
            }
            if (label_eq(sub, l1, "_acme-challenge")) {
                is_txt_name = 1;
                ident = l1 < sub_len ? sub + l1 + 1 : "";
                ident_len = l1 < sub_len ? sub_len - l1 - 1 : 0;
            } else if (l1 > 1 && sub[0] == '_' && l1 < sub_len) {
                size_t l2 = first_label(sub + l1 + 1, sub_len - l1 - 1);
                if (label_eq(sub + l1 + 1, l2, "_acme-challenge")) {
                    is_txt_name = 1;
                    size_t skip = l1 + 1 + l2 + 1;
                    ident = skip < sub_len ? sub + skip : "";
                    ident_len = skip < sub_len ? sub_len - skip : 0;
                }
            }
            size_t tl = first_label(ident, ident_len);
            int has_token = ident_len > 0 && tl <= TOKEN_MAX;
            uint8_t rdata[300];
            if (is_txt_name) {
                if (qtype == QT_TXT && has_token) {
                    uint8_t d[32];
                    char val[48];
                    ka_digest(ident, tl, d);
                    b64url(d, sizeof(d), val);
                    rdata[0] = THUMB_LEN;
                    memcpy(rdata + 1, val, THUMB_LEN);
                    off = add_rr(out, off, cap, QT_TXT, rdata, 1 + THUMB_LEN);
                    an++;
                }
            } else if (qtype == QT_A) {
                uint8_t a4[4] = {127, 0, 0, 1};
                if (cfg.a_spread > 1 && has_token)
                    a4[3] = (uint8_t)(1 + fnv1a(ident, tl) % (uint32_t)cfg.a_spread);
                off = add_rr(out, off, cap, QT_A, a4, 4);
                an++;
            } else if (qtype == QT_AAAA && cfg.aaaa) {
                uint8_t a6[16] = {0};
                a6[15] = 1;
                off = add_rr(out, off, cap, QT_AAAA, a6, 16);
                an++;
            } else if (qtype == QT_CAA) {
                const char *issuer = NULL;
                if (sub_len == 0)
                    issuer = cfg.caa_issuer;
                else if (has_token && is_wrong(ident, tl))
                    issuer = "wrong-ca.invalid";
                if (issuer != NULL) {
                    size_t il = strlen(issuer);
                    rdata[0] = 0;
                    rdata[1] = 5;
                    memcpy(rdata + 2, "issue", 5);
                    memcpy(rdata + 7, issuer, il);
                    off = add_rr(out, off, cap, QT_CAA, rdata, 7 + il);
                    an++;
                }
            }
            if (off == 0)
                return 0;
        }
    }
    if (rcode != RC_NOERROR) {
        /* Echo the question when it parsed, else send the bare header. */
        off = qend > 12 && rcode != RC_FORMERR && rcode != RC_NOTIMP ? qend : 12;
        if (off > 12)
            memcpy(out + 12, q + 12, off - 12);
        an = 0;
    }
    unsigned ar = 0;
    if (edns && off + 11 <= cap) {
        out[off] = 0;                        /* root owner */
        put16(out + off + 1, QT_OPT);        /* type OPT */
        put16(out + off + 3, DNS_REPLY_MAX); /* our UDP payload size */
        memset(out + off + 5, 0, 6);         /* ext-rcode, version 0, flags, rdlen 0 */
        off += 11;
        ar = 1;
    }
    /* QR, opcode copied, AA (for names we answer), RD copied; RA and AD clear (we are
     * authoritative, no DNSSEC). */
    unsigned rflags = 0x8000 | (flags & 0x7800) | (rcode == RC_NOERROR ? 0x0400 : 0) |
                      (flags & 0x0100) | (unsigned)rcode;
    put16(out + 2, rflags);
    put16(out + 4, off > 12 ? 1 : 0);
    put16(out + 6, an);
    put16(out + 8, 0);
    put16(out + 10, ar);
    return off;
}

static void delay_timer_cb(uv_timer_t *tm);

static void delay_rearm(rthread *t)
{
    if (t->dq_head == NULL)
        return;
    uint64_t now = uv_now(&t->loop);
    uint64_t due = t->dq_head->due;
    uv_timer_start(&t->delay_timer, delay_timer_cb, due > now ? due - now : 0, 0);
}

static void delay_timer_cb(uv_timer_t *tm)
{
    rthread *t = tm->data;
    uint64_t now = uv_now(&t->loop);
    while (t->dq_head != NULL && t->dq_head->due <= now) {
        delayed_dgram *d = t->dq_head;
        t->dq_head = d->next;
        if (t->dq_head == NULL)
            t->dq_tail = NULL;
        t->dq_len--;
        sendto(d->fd, d->data, d->len, MSG_DONTWAIT, (struct sockaddr *)&d->to, d->tolen);
        free(d);
    }
    delay_rearm(t);
}

static void delay_queue(rthread *t, int fd, const uint8_t *data, size_t len,
                        const struct sockaddr_storage *to, socklen_t tolen)
{
    if (t->dq_len >= DNS_DELAY_QUEUE_MAX)
        return;
    delayed_dgram *d = malloc(sizeof(*d) + len);
    if (d == NULL)
        return;
    d->next = NULL;
    d->due = uv_now(&t->loop) + cfg.delay_ms;
    d->to = *to;
    d->tolen = tolen;
    d->fd = fd;
    d->len = len;
    memcpy(d->data, data, len);
    if (t->dq_tail != NULL)
        t->dq_tail->next = d;
    else
        t->dq_head = d;
    t->dq_tail = d;
    if (t->dq_len++ == 0)
        delay_rearm(t);
}

/* UDP: read a batch with recvmmsg, answer, send the batch with sendmmsg. */
static void udp_poll_cb(uv_poll_t *p, int status, int events)
{
    listener *l = p->data;
    rthread *t = l->t;
    struct mmsghdr in[DNS_BATCH], outm[DNS_BATCH];
    struct iovec iov[DNS_BATCH], oiov[DNS_BATCH];
    struct sockaddr_storage from[DNS_BATCH];
    for (int round = 0; round < 8; round++) {
        memset(in, 0, sizeof(in));
        for (int i = 0; i < DNS_BATCH; i++) {
            iov[i].iov_base = t->in[i];
            iov[i].iov_len = DNS_QUERY_MAX;
            in[i].msg_hdr.msg_iov = &iov[i];
            in[i].msg_hdr.msg_iovlen = 1;
            in[i].msg_hdr.msg_name = &from[i];
            in[i].msg_hdr.msg_namelen = sizeof(from[i]);
        }
        int n = recvmmsg(l->fd, in, DNS_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (in[i].msg_hdr.msg_flags & MSG_TRUNC)
                continue; /* a query larger than any we answer */
            size_t r = dns_answer(t, t->in[i], in[i].msg_len, t->outb[i], DNS_REPLY_MAX);
            t->st.dns_udp++;
            if (r == 0)
                continue;
            if (cfg.delay_ms > 0) {
                delay_queue(t, l->fd, t->outb[i], r, &from[i], in[i].msg_hdr.msg_namelen);
                continue;
            }
            memset(&outm[k], 0, sizeof(outm[k]));
            oiov[k].iov_base = t->outb[i];
            oiov[k].iov_len = r;
            outm[k].msg_hdr.msg_iov = &oiov[k];
            outm[k].msg_hdr.msg_iovlen = 1;
            outm[k].msg_hdr.msg_name = &from[i];
            outm[k].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
            k++;
        }
        for (int sent = 0; sent < k;) {
            int m = sendmmsg(l->fd, outm + sent, (unsigned)(k - sent), MSG_DONTWAIT);
            if (m <= 0)
                break; /* a full socket buffer drops answers: the client retries */
            sent += m;
        }
        if (n < DNS_BATCH)
            return;
    }
}

/* DNS over TCP (RFC 7766): two-byte length prefixes, several queries per connection. */
static void dns_tcp_readable(rconn *c)
{
    int eof = conn_read(c, DNS_TCP_MAX);
    size_t off = 0;
    while (c->out == NULL && c->len - off >= 2) {
        size_t ql = (size_t)c->buf[off] << 8 | c->buf[off + 1];
        if (ql > DNS_TCP_MAX - 2) {
            conn_close(c);
            return;
        }
        if (c->len - off < 2 + ql)
            break;
        uint8_t ans[2 + DNS_REPLY_MAX];
        size_t r = dns_answer(c->t, c->buf + off + 2, ql, ans + 2, DNS_REPLY_MAX);
        c->t->st.dns_tcp++;
        off += 2 + ql;
        if (r == 0)
            continue;
        put16(ans, (unsigned)r);
        ssize_t w = write(c->fd, ans, r + 2);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            conn_close(c);
            return;
        }
        if (w < (ssize_t)(r + 2)) {
            size_t done = w > 0 ? (size_t)w : 0;
            c->out = malloc(r + 2 - done);
            if (c->out == NULL) {
                conn_close(c);
                return;
            }
            memcpy(c->out, ans + done, r + 2 - done);
            c->out_len = r + 2 - done;
            c->out_off = 0;
        }
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    if (eof || (c->len == DNS_TCP_MAX)) {
        conn_close(c);
        return;
    }
    conn_want(c, c->out != NULL ? UV_WRITABLE : UV_READABLE);
    conn_start_timer(c, DNS_TCP_IDLE_MS);
}

/* ---- the poll and timer callbacks of connections --------------------------------------- */

static void conn_writable(rconn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (w <= 0) {
            conn_close(c);
            return;
        }
        c->out_off += (size_t)w;
    }
    free(c->out);
    c->out = NULL;
    if (c->state == C_DNS_TCP) {
        dns_tcp_readable(c);
        return;
    }
    conn_close(c);
}

static void tarpit_readable(rconn *c)
{
    uint8_t sink[4096];
    for (int i = 0; i < 16; i++) {
        ssize_t n = read(c->fd, sink, sizeof(sink));
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        conn_close(c); /* the client gave up: let go of its socket */
        return;
    }
}

static void conn_poll_cb(uv_poll_t *p, int status, int events)
{
    rconn *c = p->data;
    if (status < 0) {
        conn_close(c);
        return;
    }
    switch (c->state) {
    case C_HTTP:
        if (c->out != NULL)
            conn_writable(c);
        else if (!c->delayed)
            http_readable(c);
        break;
    case C_TLS_HANDSHAKE:
    case C_TLS_HTTP:
        tls_step(c);
        break;
    case C_TARPIT:
        tarpit_readable(c);
        break;
    case C_DNS_TCP:
        if (c->out != NULL)
            conn_writable(c);
        else
            dns_tcp_readable(c);
        break;
    }
}

static void conn_timer_cb(uv_timer_t *tm)
{
    rconn *c = tm->data;
    switch (c->state) {
    case C_HTTP:
        c->delayed = 0;
        http_try_answer(c);
        break;
    case C_TLS_HANDSHAKE:
        c->delayed = 0;
        tls_step(c);
        break;
    case C_DNS_TCP: /* idle */
    default:
        conn_close(c);
        break;
    }
}

/* ---- listeners ---------------------------------------------------------------------------- */

static void listen_poll_cb(uv_poll_t *p, int status, int events);

static void pause_cb(uv_timer_t *tm)
{
    listener *l = tm->data;
    uv_poll_start(&l->poll, UV_READABLE, listen_poll_cb);
}

static void listen_poll_cb(uv_poll_t *p, int status, int events)
{
    listener *l = p->data;
    rthread *t = l->t;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            t->st.accept_errors++;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: leave connections in the backlog for a while (for a
                 * tarpit they are held there just as well). */
                uv_poll_stop(&l->poll);
                uv_timer_start(&l->pause, pause_cb, PAUSE_MS, 0);
            }
            return;
        }
        switch (l->kind) {
        case L_HTTP:
            http_accept(t, fd);
            break;
        case L_TLS:
            tls_accept(t, fd);
            break;
        case L_TARPIT: {
            rconn *c = conn_new(t, fd, C_TARPIT, 0);
            if (c == NULL) {
                close(fd);
                break;
            }
            t->st.tarpit++;
            conn_want(c, UV_READABLE);
            break;
        }
        case L_DNS_TCP: {
            rconn *c = conn_new(t, fd, C_DNS_TCP, DNS_TCP_MAX);
            if (c == NULL) {
                close(fd);
                break;
            }
            conn_want(c, UV_READABLE);
            conn_start_timer(c, DNS_TCP_IDLE_MS);
            break;
        }
        case L_DNS_UDP:
            close(fd);
            break;
        }
    }
}

static void add_listener(rthread *t, listen_kind kind, int family, const char *addr, uint16_t port)
{
    int type = kind == L_DNS_UDP ? SOCK_DGRAM : SOCK_STREAM;
    int fd = make_socket(family, type, addr, port, kind == L_HTTP || kind == L_TLS);
    if (fd < 0)
        die("cannot listen on %s port %u: %s", addr, (unsigned)port, strerror(errno));
    listener *l = calloc(1, sizeof(*l));
    if (l == NULL)
        die("out of memory");
    l->t = t;
    l->fd = fd;
    l->kind = kind;
    uv_poll_init(&t->loop, &l->poll, fd);
    l->poll.data = l;
    uv_timer_init(&t->loop, &l->pause);
    l->pause.data = l;
    uv_poll_start(&l->poll, UV_READABLE, kind == L_DNS_UDP ? udp_poll_cb : listen_poll_cb);
    l->next = t->listeners;
    t->listeners = l;
}

static void add_tcp_listeners(rthread *t, listen_kind kind, uint16_t port)
{
    char addr[32];
    if (port == 0)
        return;
    for (int i = 1; i <= cfg.a_spread; i++) {
        snprintf(addr, sizeof(addr), "127.0.0.%d", i);
        add_listener(t, kind, AF_INET, addr, port);
    }
    if (cfg.ipv6)
        add_listener(t, kind, AF_INET6, "::1", port);
}

/* ---- threads and shutdown ------------------------------------------------------------ */

static void listener_close_cb(uv_handle_t *h)
{
    listener *l = h->data;
    if (--l->closes == 0)
        free(l);
}

static void thread_shutdown(rthread *t)
{
    if (t->stopping)
        return;
    t->stopping = 1;
    for (listener *l = t->listeners, *next; l != NULL; l = next) {
        next = l->next;
        l->closes = 2;
        uv_poll_stop(&l->poll);
        uv_close((uv_handle_t *)&l->poll, listener_close_cb);
        uv_close((uv_handle_t *)&l->pause, listener_close_cb);
        close(l->fd); /* uv_close has already taken the poll handle off the loop */
    }
    t->listeners = NULL;
    while (t->conns != NULL)
        conn_close(t->conns);
    while (t->dq_head != NULL) {
        delayed_dgram *d = t->dq_head;
        t->dq_head = d->next;
        free(d);
    }
    t->dq_tail = NULL;
    uv_close((uv_handle_t *)&t->delay_timer, NULL);
    uv_close((uv_handle_t *)&t->stop, NULL);
    if (t->index == 0) {
        uv_close((uv_handle_t *)&t->sigint, NULL);
        uv_close((uv_handle_t *)&t->sigterm, NULL);
    }
}

static void stop_cb(uv_async_t *a)
{
    thread_shutdown(a->data);
}

static void signal_cb(uv_signal_t *s, int signum)
{
    for (int i = 0; i < n_threads; i++)
        uv_async_send(&threads[i]->stop);
}

static void thread_main(void *arg)
{
    rthread *t = arg;
    uv_run(&t->loop, UV_RUN_DEFAULT);
}

static rthread *thread_new(int index, SSL_CTX *ctx)
{
    rthread *t = calloc(1, sizeof(*t));
    if (t == NULL)
        die("out of memory");
    t->index = index;
    if (uv_loop_init(&t->loop) != 0)
        die("cannot create an event loop");
    t->ssl_ctx = ctx;
    t->certs = calloc(CERT_CACHE_SLOTS, sizeof(cert_slot));
    EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    t->key = EVP_PKEY_new();
    if (t->certs == NULL || ec == NULL || t->key == NULL || !EC_KEY_generate_key(ec) ||
        !EVP_PKEY_assign_EC_KEY(t->key, ec))
        die("cannot create the certificate key");
    uv_async_init(&t->loop, &t->stop, stop_cb);
    t->stop.data = t;
    uv_timer_init(&t->loop, &t->delay_timer);
    t->delay_timer.data = t;
    add_tcp_listeners(t, L_HTTP, cfg.http_port);
    add_tcp_listeners(t, L_TLS, cfg.tls_port);
    add_tcp_listeners(t, L_TARPIT, cfg.tarpit_port);
    if (cfg.dns_port != 0) {
        add_listener(t, L_DNS_UDP, AF_INET, "127.0.0.1", cfg.dns_port);
        add_listener(t, L_DNS_TCP, AF_INET, "127.0.0.1", cfg.dns_port);
        if (cfg.ipv6) {
            add_listener(t, L_DNS_UDP, AF_INET6, "::1", cfg.dns_port);
            add_listener(t, L_DNS_TCP, AF_INET6, "::1", cfg.dns_port);
        }
    }
    return t;
}

static void thread_free(rthread *t)
{
    uv_run(&t->loop, UV_RUN_DEFAULT); /* run the close callbacks */
    uv_loop_close(&t->loop);
    for (size_t i = 0; i < CERT_CACHE_SLOTS; i++)
        CRYPTO_BUFFER_free(t->certs[i].der);
    free(t->certs);
    EVP_PKEY_free(t->key);
    free(t);
}

/* ---- options -------------------------------------------------------------------------------- */

static const char usage[] =
    "usage: acmeva-responder [options]\n"
    "\n"
    "A challenge server for benchmarks, on loopback (127.0.0.1 and ::1) only, that answers\n"
    "http-01, DNS (dns-01, dns-account-01, A/AAAA/CAA) and tls-alpn-01 for any token with\n"
    "no per-token setup: every answer is derived from the token (see bench/README.md).\n"
    "\n"
    "  --version          print the version and exit\n"
    "  --http-port N      http-01 (default 28080; 0: off)\n"
    "  --tls-port N       tls-alpn-01, and HTTPS for load generators (default 28443; 0: off)\n"
    "  --dns-port N       authoritative DNS, UDP and TCP (default 28053; 0: off)\n"
    "  --tarpit-port N    accept connections and hold them, never answering (default off)\n"
    "  --zone Z           the DNS zone of identifiers <token>.Z (default bench.test)\n"
    "  --caa-issuer D     CAA at the zone apex: 0 issue \"D\" (default ca.example)\n"
    "  --delay-ms N       delay every answer by N ms (default 0)\n"
    "  --wrong-share F    a share F (0..1) of tokens get wrong answers (default 0)\n"
    "  --no-aaaa          answer AAAA queries with no records (clients then use IPv4)\n"
    "  --no-ipv6          do not listen on ::1\n"
    "  --a-spread N       A answers spread over 127.0.0.1..127.0.0.N by token; TCP ports\n"
    "                     listen on each (more client ports for huge connection counts)\n"
    "  --ttl N            TTL of answers (default 60)\n"
    "  --threads N        event loops, each with SO_REUSEPORT listeners (default 1)\n"
    "\n"
    "Prints one line \"acmeva-responder ready ...\" on stdout once it listens; runs until\n"
    "SIGINT or SIGTERM, then prints its counters on stderr.\n";

static int parse_u64(const char *opt, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    if (v == NULL || *v == '\0' || *v == '-') {
        fprintf(stderr, "acmeva-responder: %s needs a number\n", opt);
        return -1;
    }
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max) {
        fprintf(stderr, "acmeva-responder: %s: '%s' is not a number from %llu to %llu\n", opt, v,
                (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = n;
    return 0;
}

static int valid_zone(const char *z)
{
    size_t n = strlen(z), label = 0;
    if (n == 0 || n > 200)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = z[i];
        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') || ++label > 63)
            return 0;
    }
    return label > 0;
}

static int parse_args(int argc, char **argv)
{
    memset(&cfg, 0, sizeof(cfg));
    cfg.http_port = 28080;
    cfg.tls_port = 28443;
    cfg.dns_port = 28053;
    snprintf(cfg.zone, sizeof(cfg.zone), "bench.test");
    snprintf(cfg.caa_issuer, sizeof(cfg.caa_issuer), "ca.example");
    cfg.threads = 1;
    cfg.ipv6 = 1;
    cfg.aaaa = 1;
    cfg.a_spread = 1;
    cfg.ttl = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else if (strcmp(a, "--no-aaaa") == 0) {
            cfg.aaaa = 0;
            continue;
        } else if (strcmp(a, "--no-ipv6") == 0) {
            cfg.ipv6 = 0;
            continue;
        }
        if (strcmp(a, "--http-port") == 0 || strcmp(a, "--tls-port") == 0 ||
            strcmp(a, "--dns-port") == 0 || strcmp(a, "--tarpit-port") == 0) {
            if (parse_u64(a, v, 0, 65535, &n))
                return -1;
            uint16_t *dst = a[2] == 'h'   ? &cfg.http_port
                            : a[3] == 'l' ? &cfg.tls_port
                            : a[2] == 'd' ? &cfg.dns_port
                                          : &cfg.tarpit_port;
            *dst = (uint16_t)n;
        } else if (strcmp(a, "--zone") == 0) {
            if (v == NULL || !valid_zone(v)) {
                fprintf(stderr, "acmeva-responder: --zone: a lowercase DNS name\n");
                return -1;
            }
            snprintf(cfg.zone, sizeof(cfg.zone), "%s", v);
        } else if (strcmp(a, "--caa-issuer") == 0) {
            if (v == NULL || !valid_zone(v)) {
                fprintf(stderr, "acmeva-responder: --caa-issuer: a lowercase DNS name\n");
                return -1;
            }
            snprintf(cfg.caa_issuer, sizeof(cfg.caa_issuer), "%s", v);
        } else if (strcmp(a, "--delay-ms") == 0) {
            if (parse_u64(a, v, 0, 3600000, &cfg.delay_ms))
                return -1;
        } else if (strcmp(a, "--wrong-share") == 0) {
            char *end;
            errno = 0;
            double f = v ? strtod(v, &end) : -1;
            if (v == NULL || errno != 0 || *end != '\0' || !(f >= 0 && f <= 1)) {
                fprintf(stderr, "acmeva-responder: --wrong-share: a number from 0 to 1\n");
                return -1;
            }
            cfg.wrong_share = f;
        } else if (strcmp(a, "--a-spread") == 0) {
            if (parse_u64(a, v, 1, MAX_SPREAD, &n))
                return -1;
            cfg.a_spread = (int)n;
        } else if (strcmp(a, "--ttl") == 0) {
            if (parse_u64(a, v, 0, 86400, &n))
                return -1;
            cfg.ttl = (int)n;
        } else if (strcmp(a, "--threads") == 0) {
            if (parse_u64(a, v, 1, MAX_THREADS, &n))
                return -1;
            cfg.threads = (int)n;
        } else {
            fprintf(stderr, "acmeva-responder: unknown option '%s' (see --help)\n", a);
            return -1;
        }
        i++;
    }
    cfg.zone_len = strlen(cfg.zone);
    /* A share of 1 must make every token wrong: the threshold saturates below 2^32. */
    double th = cfg.wrong_share * 4294967296.0;
    cfg.wrong_threshold = th >= 4294967295.0 ? UINT32_MAX : (uint32_t)th;
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (acmeva_version_option("acmeva-responder", argc, argv))
        return 0;
    if (parse_args(argc, argv) != 0)
        return 2;
    /* A tarpit holds one descriptor per connection: take all the hard limit allows. Beyond it,
     * connections wait in the listen backlog (or in SYN retries), still held. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (ctx == NULL)
        die("cannot create the TLS context");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Every handshake is a full one, as a validator's always is: no session resumption. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_cert_cb(ctx, cert_cb, NULL);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    tls_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);

    n_threads = cfg.threads;
    for (int i = 0; i < n_threads; i++)
        threads[i] = thread_new(i, ctx);
    rthread *t0 = threads[0];
    uv_signal_init(&t0->loop, &t0->sigint);
    uv_signal_init(&t0->loop, &t0->sigterm);
    uv_signal_start(&t0->sigint, signal_cb, SIGINT);
    uv_signal_start(&t0->sigterm, signal_cb, SIGTERM);
    uv_unref((uv_handle_t *)&t0->sigint);
    uv_unref((uv_handle_t *)&t0->sigterm);

    printf("acmeva-responder ready http=%u tls=%u dns=%u tarpit=%u zone=%s caa-issuer=%s "
           "threads=%d delay-ms=%llu wrong-share=%g pid=%ld\n",
           (unsigned)cfg.http_port, (unsigned)cfg.tls_port, (unsigned)cfg.dns_port,
           (unsigned)cfg.tarpit_port, cfg.zone, cfg.caa_issuer, cfg.threads,
           (unsigned long long)cfg.delay_ms, cfg.wrong_share, (long)getpid());
    fflush(stdout);

    for (int i = 1; i < n_threads; i++)
        if (uv_thread_create(&threads[i]->tid, thread_main, threads[i]) != 0)
            die("cannot start thread %d", i);
    thread_main(t0);
    for (int i = 1; i < n_threads; i++)
        uv_thread_join(&threads[i]->tid);

    stats sum;
    memset(&sum, 0, sizeof(sum));
    for (int i = 0; i < n_threads; i++) {
        stats *s = &threads[i]->st;
        sum.http += s->http;
        sum.tls += s->tls;
        sum.tls_acme += s->tls_acme;
        sum.dns_udp += s->dns_udp;
        sum.dns_tcp += s->dns_tcp;
        sum.dns_dropped += s->dns_dropped;
        sum.tarpit += s->tarpit;
        sum.wrong += s->wrong;
        sum.certs_made += s->certs_made;
        sum.accept_errors += s->accept_errors;
        thread_free(threads[i]);
    }
    SSL_CTX_free(ctx);
    fprintf(stderr,
            "acmeva-responder: http=%llu tls=%llu acme-tls=%llu dns-udp=%llu dns-tcp=%llu "
            "dns-dropped=%llu tarpit=%llu wrong-http=%llu certs=%llu accept-errors=%llu\n",
            (unsigned long long)sum.http, (unsigned long long)sum.tls,
            (unsigned long long)sum.tls_acme, (unsigned long long)sum.dns_udp,
            (unsigned long long)sum.dns_tcp, (unsigned long long)sum.dns_dropped,
            (unsigned long long)sum.tarpit, (unsigned long long)sum.wrong,
            (unsigned long long)sum.certs_made, (unsigned long long)sum.accept_errors);
    return 0;
}
