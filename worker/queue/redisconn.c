/*
 * One Redis connection on a libuv loop (see redisconn.h).
 *
 * The transport of one connection attempt is an acmeva_rlink: the uv_tcp_t, the TLS state, the
 * hiredis reader, the output buffer and the FIFO of callbacks of the commands in flight. A
 * link lives from the connect to the failure that ends it; it is freed once libuv has closed
 * its handles and no reply callback of it is running (STYLE.md "Handles outlive nothing",
 * "Re-entrancy guard"), so a callback may fail or close the connection it was called from.
 */
#include "redisconn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define READ_CHUNK 65536
/* Bytes the reply reader may hold unparsed: far above the largest reply we ask for (COUNT
 * entries of at most 64 KiB jobs), far below what would hurt the machine. A server that sends
 * more is broken or hostile. */
#define READER_MAX_BYTES (512u * 1024 * 1024)
#define KEEPALIVE_IDLE_S 15
#define KEEPALIVE_INTVL_S 5
#define KEEPALIVE_CNT 3

typedef struct pending_cmd {
    acmeva_rconn_cb cb;
    void *priv;
} pending_cmd;

struct acmeva_rlink {
    acmeva_rconn *c; /* NULL once detached: the link is dying */
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_prepare_t prep; /* flush before the loop polls (commands sent from timers) */
    uv_check_t check;  /* flush after the poll (commands sent from I/O callbacks) */
    uv_timer_t rtimer; /* the reply timeout */
    int closes;        /* close callbacks outstanding */
    int in_read;       /* reply callbacks running */
    int connected;
    int kept; /* the reply callback running took its reply (acmeva_rconn_keep_reply) */
    redisReader *reader;
    pending_cmd *q; /* ring of callbacks, in command order */
    size_t q_head, q_len, q_cap;
    char *obuf; /* plaintext not yet written (or encrypted) */
    size_t olen, ocap;
    SSL *ssl;
    BIO *rbio, *wbio; /* memory BIOs: ciphertext in and out */
    int tls_done;
    char rbuf[READ_CHUNK];
};

typedef struct write_req {
    uv_write_t req;
    acmeva_rlink *l;
    char data[];
} write_req;

static void conn_timer_cb(uv_timer_t *h);
static void conn_connect(acmeva_rconn *c);
static void link_kill(acmeva_rlink *l);
static void prep_cb(uv_prepare_t *h);
static void check_cb(uv_check_t *h);

/* ---- small helpers ------------------------------------------------------------------------ */

int acmeva_reply_is_error(const redisReply *r, const char *prefix)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR && r->str != NULL &&
           strncmp(r->str, prefix, strlen(prefix)) == 0;
}

const char *acmeva_reply_text(const redisReply *r)
{
    if (r == NULL)
        return "no reply";
    if ((r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STATUS) && r->str != NULL)
        return r->str;
    return "unexpected reply";
}

static int log_this(const acmeva_rconn *c)
{
    return !c->s->once && (!c->s->quiet || c->thread == 0);
}

/* ---- the link: transport of one attempt ---------------------------------------------------- */

/* link_maybe_free frees a dead link once nothing can reach it any more. */
static void link_maybe_free(acmeva_rlink *l)
{
    if (l->c != NULL || l->closes > 0 || l->in_read > 0)
        return;
    if (l->reader != NULL)
        redisReaderFree(l->reader);
    SSL_free(l->ssl); /* frees both BIOs */
    free(l->q);
    free(l->obuf);
    free(l);
}

static void link_close_cb(uv_handle_t *h)
{
    acmeva_rlink *l = h->data;
    l->closes--;
    link_maybe_free(l);
}

static acmeva_rlink *link_new(acmeva_rconn *c)
{
    acmeva_rlink *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->reader = redisReaderCreate();
    if (l->reader == NULL || uv_tcp_init(c->loop, &l->tcp) != 0) {
        if (l->reader != NULL)
            redisReaderFree(l->reader);
        free(l);
        return NULL;
    }
    l->c = c;
    uv_prepare_init(c->loop, &l->prep);
    uv_check_init(c->loop, &l->check);
    uv_timer_init(c->loop, &l->rtimer);
    l->tcp.data = l->prep.data = l->check.data = l->rtimer.data = l;
    /* The flush handles never keep a loop alive on their own. */
    uv_unref((uv_handle_t *)&l->prep);
    uv_unref((uv_handle_t *)&l->check);
    return l;
}

/* link_pop removes the oldest callback. */
static pending_cmd link_pop(acmeva_rlink *l)
{
    pending_cmd p = l->q[l->q_head];
    l->q_head = (l->q_head + 1) % l->q_cap;
    l->q_len--;
    return p;
}

static int link_push(acmeva_rlink *l, acmeva_rconn_cb cb, void *priv)
{
    if (l->q_len == l->q_cap) {
        size_t cap = l->q_cap ? 2 * l->q_cap : 64;
        pending_cmd *q = malloc(cap * sizeof(*q));
        if (q == NULL)
            return -1;
        for (size_t i = 0; i < l->q_len; i++)
            q[i] = l->q[(l->q_head + i) % l->q_cap];
        free(l->q);
        l->q = q;
        l->q_head = 0;
        l->q_cap = cap;
    }
    l->q[(l->q_head + l->q_len) % l->q_cap] = (pending_cmd){cb, priv};
    l->q_len++;
    return 0;
}

/* link_kill detaches |l| from its connection, runs every outstanding callback with NULL and
 * closes its handles. The caller has already pointed the connection elsewhere. */
static void link_kill(acmeva_rlink *l)
{
    acmeva_rconn *c = l->c;
    l->c = NULL;
    l->in_read++; /* the NULL callbacks below must not free the link under us */
    while (l->q_len > 0) {
        pending_cmd p = link_pop(l);
        if (p.cb != NULL)
            p.cb(c, NULL, p.priv);
    }
    l->in_read--;
    uv_handle_t *hs[] = {(uv_handle_t *)&l->tcp, (uv_handle_t *)&l->prep,
                         (uv_handle_t *)&l->check, (uv_handle_t *)&l->rtimer};
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
        if (uv_is_closing(hs[i]))
            continue;
        l->closes++;
        uv_close(hs[i], link_close_cb);
    }
    link_maybe_free(l);
}

/* ---- connection state ------------------------------------------------------------------- */

static void conn_schedule(acmeva_rconn *c)
{
    uv_timer_stop(&c->timer);
    c->state = ACMEVA_RCONN_DOWN;
    int64_t d = acmeva_backoff_ms(c->failures, (uint32_t)rand_r(&c->seed));
    if (c->failures < (1u << 20))
        c->failures++;
    uv_timer_start(&c->timer, conn_timer_cb, (uint64_t)d, 0);
}

/* conn_log_failure returns 1 when a failure now is worth a log line: a daemon logs a lost
 * connection always and failed connects at 1, 2, 4, 8, ... in a row; a CLI (settings "once")
 * never: it reports last_error itself. */
static int conn_log_failure(const acmeva_rconn *c)
{
    return !c->s->once && (c->state == ACMEVA_RCONN_READY || c->failures == 0 ||
                           (c->failures & (c->failures - 1)) == 0);
}

/* conn_end_once closes a connection of a CLI for good after its first failure. */
static void conn_end_once(acmeva_rconn *c)
{
    acmeva_rconn_close(c);
    if (c->on_lost != NULL)
        c->on_lost(c);
}

/* conn_down_ex forgets the current attempt, logs (unless |logged|), schedules a reconnect and
 * tells the owner. */
static void conn_down_ex(acmeva_rconn *c, const char *why, int logged)
{
    if (c->state == ACMEVA_RCONN_CLOSED)
        return;
    int was_ready = c->state == ACMEVA_RCONN_READY;
    snprintf(c->last_error, sizeof(c->last_error), "%s", why);
    if (c->s->once) {
        conn_end_once(c);
        return;
    }
    acmeva_rlink *l = c->link;
    c->link = NULL;
    if (c->gai_active)
        uv_cancel((uv_req_t *)&c->gai);
    if (!logged && conn_log_failure(c))
        ACMEVA_LOG("warn", was_ready ? "redis connection lost" : "redis connect failed",
                   ACMEVA_LS("redis", c->s->masked), ACMEVA_LS("conn", c->role),
                   ACMEVA_LI("thread", c->thread), ACMEVA_LS("reason", why),
                   ACMEVA_LI("failures", c->failures));
    conn_schedule(c);
    if (was_ready)
        c->n_lost++;
    if (l != NULL)
        link_kill(l); /* outstanding callbacks see NULL and a connection that is down */
    if (was_ready && c->on_lost != NULL && c->state != ACMEVA_RCONN_CLOSED)
        c->on_lost(c);
}

static void conn_down(acmeva_rconn *c, const char *why)
{
    conn_down_ex(c, why, 0);
}

static void conn_down_logged(acmeva_rconn *c, const char *why)
{
    conn_down_ex(c, why, 1);
}

void acmeva_rconn_fail(acmeva_rconn *c, const char *why)
{
    conn_down(c, why);
}

void acmeva_rconn_close(acmeva_rconn *c)
{
    if (c->state == ACMEVA_RCONN_CLOSED)
        return;
    acmeva_rlink *l = c->link;
    c->state = ACMEVA_RCONN_CLOSED;
    c->link = NULL;
    if (c->gai_active)
        uv_cancel((uv_req_t *)&c->gai);
    uv_timer_stop(&c->timer);
    if (l != NULL)
        link_kill(l);
    if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, NULL);
}

void acmeva_rconn_kick(acmeva_rconn *c)
{
    acmeva_rlink *l = c->link;
    if (l == NULL || l->c == NULL || uv_is_active((uv_handle_t *)&l->check))
        return;
    uv_prepare_start(&l->prep, prep_cb);
    uv_check_start(&l->check, check_cb);
}

int acmeva_rconn_ready(const acmeva_rconn *c)
{
    return c->state == ACMEVA_RCONN_READY && !uv_is_active((const uv_handle_t *)&c->timer);
}

/* ---- writing ------------------------------------------------------------------------------ */

static void write_cb(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    acmeva_rlink *l = w->l;
    free(w);
    if (status < 0 && status != UV_ECANCELED && l->c != NULL)
        conn_down(l->c, uv_strerror(status));
}

/* link_send_raw writes |len| bytes (ciphertext for TLS) in order. Returns 0 or -1. */
static int link_send_raw(acmeva_rlink *l, const char *buf, size_t len)
{
    if (len == 0)
        return 0;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&l->tcp, &b, 1);
    if (n == (int)len)
        return 0;
    if (n < 0 && n != UV_EAGAIN)
        return -1;
    size_t done = n > 0 ? (size_t)n : 0;
    write_req *w = malloc(sizeof(*w) + len - done);
    if (w == NULL)
        return -1;
    memcpy(w->data, buf + done, len - done);
    w->l = l;
    b = uv_buf_init(w->data, (unsigned)(len - done));
    if (uv_write(&w->req, (uv_stream_t *)&l->tcp, &b, 1, write_cb) != 0) {
        free(w);
        return -1;
    }
    return 0;
}

/* link_drain_tls sends whatever BoringSSL wrote into the outgoing memory BIO. */
static int link_drain_tls(acmeva_rlink *l)
{
    char buf[16384];
    int n;
    while ((n = BIO_read(l->wbio, buf, sizeof(buf))) > 0)
        if (link_send_raw(l, buf, (size_t)n) < 0)
            return -1;
    return 0;
}

static void link_flush(acmeva_rlink *l)
{
    /* The owner's last word before the write: commands it gathered during this loop turn
     * (the outbox's results) go out in the same write. */
    if (l->c != NULL && l->c->state == ACMEVA_RCONN_READY && l->c->before_flush != NULL)
        l->c->before_flush(l->c);
    uv_prepare_stop(&l->prep);
    uv_check_stop(&l->check);
    if (l->c == NULL || !l->connected || l->olen == 0)
        return;
    int rc;
    if (l->ssl != NULL) {
        /* A memory BIO never blocks: SSL_write takes everything at once. */
        rc = SSL_write(l->ssl, l->obuf, (int)l->olen) == (int)l->olen ? link_drain_tls(l) : -1;
    } else {
        rc = link_send_raw(l, l->obuf, l->olen);
    }
    l->olen = 0;
    if (rc < 0)
        conn_down(l->c, "cannot write");
}

static void prep_cb(uv_prepare_t *h)
{
    link_flush(h->data);
}

static void check_cb(uv_check_t *h)
{
    link_flush(h->data);
}

static void rtimer_cb(uv_timer_t *h)
{
    acmeva_rlink *l = h->data;
    if (l->c == NULL)
        return;
    char why[96];
    snprintf(why, sizeof(why), "no reply within %lld ms", (long long)l->c->s->reply_timeout_ms);
    conn_down(l->c, why);
}

/* put_dec writes |v| in decimal at |p| and returns the end. */
static char *put_dec(char *p, size_t v)
{
    char d[24];
    size_t n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0)
        *p++ = d[--n];
    return p;
}

static size_t dec_len(size_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/*
 * link_append queues one command, written in the Redis protocol straight into the output
 * buffer (RESP: "*<argc>\r\n", then "$<len>\r\n<bytes>\r\n" per argument), with its callback.
 * hiredis' redisFormatCommandArgv does the same through an sprintf per argument and an
 * allocation per command: a sixth of the coordinator's instructions (bench/README.md, "MPIC:
 * what corroboration costs").
 */
static int link_append(acmeva_rlink *l, int argc, const char **argv, const size_t *lens,
                       acmeva_rconn_cb cb, void *priv)
{
    size_t len = 1 + dec_len((size_t)argc) + 2;
    for (int i = 0; i < argc; i++)
        len += 1 + dec_len(lens[i]) + 2 + lens[i] + 2;
    if (l->olen + len > l->ocap) {
        size_t cap = l->ocap ? l->ocap : 4096;
        while (cap < l->olen + len)
            cap *= 2;
        char *b = realloc(l->obuf, cap);
        if (b == NULL)
            return -1;
        l->obuf = b;
        l->ocap = cap;
    }
    if (link_push(l, cb, priv) < 0)
        return -1;
    char *p = l->obuf + l->olen;
    *p++ = '*';
    p = put_dec(p, (size_t)argc);
    *p++ = '\r';
    *p++ = '\n';
    for (int i = 0; i < argc; i++) {
        *p++ = '$';
        p = put_dec(p, lens[i]);
        *p++ = '\r';
        *p++ = '\n';
        memcpy(p, argv[i], lens[i]);
        p += lens[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    l->olen += len;
    if (l->q_len == 1 && l->c->s->reply_timeout_ms > 0)
        uv_timer_start(&l->rtimer, rtimer_cb, (uint64_t)l->c->s->reply_timeout_ms, 0);
    if (!uv_is_active((uv_handle_t *)&l->check)) {
        uv_prepare_start(&l->prep, prep_cb);
        uv_check_start(&l->check, check_cb);
    }
    return 0;
}

static int send_argv(acmeva_rconn *c, acmeva_rconn_cb cb, void *priv, int argc,
                     const char **argv, const size_t *lens)
{
    acmeva_rlink *l = c->link;
    if (l == NULL || l->c == NULL || argc < 1)
        return -1;
    size_t lbuf[16];
    if (lens == NULL) {
        if (argc > 16)
            return -1;
        for (int i = 0; i < argc; i++)
            lbuf[i] = strlen(argv[i]);
        lens = lbuf;
    }
    return link_append(l, argc, argv, lens, cb, priv);
}

void acmeva_rconn_keep_reply(acmeva_rconn *c)
{
    if (c->link != NULL)
        c->link->kept = 1;
}

int acmeva_rconn_command(acmeva_rconn *c, acmeva_rconn_cb cb, void *priv, int argc,
                         const char **argv, const size_t *lens)
{
    if (c->state != ACMEVA_RCONN_READY)
        return -1;
    return send_argv(c, cb, priv, argc, argv, lens);
}

/* ---- reading ------------------------------------------------------------------------------ */

static void handshake_start(acmeva_rconn *c);

/* is_push says whether |r| is a message pushed to a subscriber: in RESP2 an array of
 * "message", channel, payload or "pmessage", pattern, channel, payload (Redis "Pub/Sub"), which
 * answers no command. Only a subscriber connection looks (acmeva_rconn_set_push). */
static int is_push(const acmeva_rconn *c, const redisReply *r)
{
    if (c->on_push == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3)
        return 0;
    const redisReply *k = r->element[0];
    if (k->type != REDIS_REPLY_STRING)
        return 0;
    return (k->len == 7 && memcmp(k->str, "message", 7) == 0 && r->elements == 3) ||
           (k->len == 8 && memcmp(k->str, "pmessage", 8) == 0 && r->elements == 4);
}

/* link_feed hands plaintext to the reply reader and runs the callbacks of complete replies. */
static void link_feed(acmeva_rlink *l, const char *buf, size_t len)
{
    if (redisReaderFeed(l->reader, buf, len) != REDIS_OK ||
        l->reader->len - l->reader->pos > READER_MAX_BYTES) {
        conn_down(l->c, "reply too large");
        return;
    }
    l->in_read++;
    while (l->c != NULL) {
        void *reply = NULL;
        if (redisReaderGetReply(l->reader, &reply) != REDIS_OK) {
            char why[160];
            snprintf(why, sizeof(why), "protocol error: %s", l->reader->errstr);
            conn_down(l->c, why);
            break;
        }
        if (reply == NULL)
            break;
        if (is_push(l->c, reply)) {
            /* No command waits for it, so the reply timeout is left as it is. */
            l->c->on_push(l->c, reply);
            freeReplyObject(reply);
            continue;
        }
        if (l->q_len == 0) {
            freeReplyObject(reply);
            conn_down(l->c, "a reply nobody asked for");
            break;
        }
        pending_cmd p = link_pop(l);
        if (l->q_len == 0)
            uv_timer_stop(&l->rtimer);
        else if (l->c->s->reply_timeout_ms > 0)
            uv_timer_start(&l->rtimer, rtimer_cb, (uint64_t)l->c->s->reply_timeout_ms, 0);
        l->kept = 0;
        if (p.cb != NULL)
            p.cb(l->c, reply, p.priv);
        if (!l->kept)
            freeReplyObject(reply);
        l->kept = 0;
    }
    l->in_read--;
    link_maybe_free(l);
}

/* server_cert_refused says why we did not accept the server's certificate (X509_V_ERR_*), with
 * what to check. */
static void server_cert_refused(const acmeva_rlink *l, long v, char *out, size_t outlen)
{
    const char *host = l->c->s->url->host, *what = X509_verify_cert_error_string(v);
    switch (v) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        snprintf(out, outlen, "TLS: the server's certificate has expired (%s)", what);
        break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        snprintf(out, outlen,
                 "TLS: the server's certificate is not valid yet (%s; check this machine's clock)",
                 what);
        break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        snprintf(out, outlen,
                 "TLS: the server's certificate does not name %.100s, the host of the URL (%s)",
                 host, what);
        break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        snprintf(out, outlen,
                 "TLS: the server's certificate is not signed by a CA trusted here (--redis-ca) "
                 "(%s)",
                 what);
        break;
    default:
        snprintf(out, outlen, "TLS: the server's certificate was not accepted (%s)", what);
        break;
    }
}

/* tls_failure describes why a TLS session failed, for the log and for a CLI's message: our
 * verdict on the server's certificate when there is one, else the alert the server sent (our
 * client certificate refused: none given, an unknown CA, expired), else the library's reason.
 * Every case names what to check. */
static void tls_failure(acmeva_rlink *l, int ret, char *out, size_t outlen)
{
    long v = SSL_get_verify_result(l->ssl);
    uint32_t e = ERR_peek_error();
    int reason = ERR_GET_LIB(e) == ERR_LIB_SSL ? ERR_GET_REASON(e) : 0;
    const char *text = e != 0 ? ERR_reason_error_string(e) : NULL;
    if (v != X509_V_OK) {
        server_cert_refused(l, v, out, outlen);
    } else if (reason == SSL_R_TLSV1_ALERT_CERTIFICATE_REQUIRED) {
        snprintf(out, outlen,
                 "TLS: the server requires a client certificate (--redis-cert, "
                 "--redis-key)");
    } else if (reason == SSL_R_TLSV1_ALERT_UNKNOWN_CA) {
        snprintf(out, outlen,
                 "TLS: the server does not trust our client certificate (alert "
                 "unknown CA: its issuer is not in the server's tls-ca-cert-file)");
    } else if (reason == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED) {
        snprintf(out, outlen,
                 "TLS: the server refused our client certificate as expired "
                 "(--redis-cert)");
    } else if (reason >= SSL_R_SSLV3_ALERT_BAD_CERTIFICATE &&
               reason <= SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN) {
        snprintf(out, outlen, "TLS: the server refused our client certificate (alert %s)",
                 text ? text : "bad certificate");
    } else if (reason == SSL_R_WRONG_VERSION_NUMBER) {
        snprintf(out, outlen,
                 "TLS: the server does not speak TLS on this port (for a plain "
                 "port use redis://)");
    } else if (text != NULL) {
        snprintf(out, outlen, "TLS: handshake failed: %s", text);
    } else {
        snprintf(out, outlen, "TLS: session failed (SSL error %d)", SSL_get_error(l->ssl, ret));
    }
    ERR_clear_error();
}

/* tls_refused ends a connection whose TLS session could not be set up: a failure of the
 * channel itself (our certificates, the server's, the port): one error line, as often as
 * connect failures are logged. */
static void tls_refused(acmeva_rconn *c, const char *why)
{
    if (conn_log_failure(c))
        ACMEVA_LOG("error", "redis TLS handshake failed", ACMEVA_LS("redis", c->s->masked),
                   ACMEVA_LS("conn", c->role), ACMEVA_LI("thread", c->thread),
                   ACMEVA_LS("error", why), ACMEVA_LI("failures", c->failures));
    conn_down_logged(c, why);
}

/* tls_down ends a TLS session that failed: before the connection was ready, the channel was
 * refused (tls_refused); once ready, the connection was lost. */
static void tls_down(acmeva_rlink *l, int ret)
{
    acmeva_rconn *c = l->c;
    char why[320];
    tls_failure(l, ret, why, sizeof(why));
    if (c->state == ACMEVA_RCONN_READY)
        conn_down(c, why);
    else
        tls_refused(c, why);
}

static void link_tls_step(acmeva_rlink *l)
{
    if (!l->tls_done) {
        int ret = SSL_do_handshake(l->ssl);
        if (link_drain_tls(l) < 0) {
            conn_down(l->c, "cannot write");
            return;
        }
        if (ret != 1) {
            int err = SSL_get_error(l->ssl, ret);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
                return;
            tls_down(l, ret);
            return;
        }
        l->tls_done = 1;
        acmeva_rconn *c = l->c;
        handshake_start(c);
        if (c->link != l || l->c == NULL)
            return;
    }
    char buf[16384];
    for (;;) {
        int n = SSL_read(l->ssl, buf, sizeof(buf));
        if (n > 0) {
            link_feed(l, buf, (size_t)n);
            if (l->c == NULL)
                return;
            continue;
        }
        int err = SSL_get_error(l->ssl, n);
        if (err == SSL_ERROR_WANT_READ)
            break;
        if (err == SSL_ERROR_ZERO_RETURN) {
            conn_down(l->c, "server closed the TLS session");
            return;
        }
        /* In TLS 1.3 the server judges our certificate after our side of the handshake is
         * done: its refusal comes as an alert on the first read. */
        tls_down(l, n);
        return;
    }
    /* SSL_read may have produced records to send (a key update, a post-handshake message). */
    if (link_drain_tls(l) < 0)
        conn_down(l->c, "cannot write");
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    acmeva_rlink *l = h->data;
    *buf = uv_buf_init(l->rbuf, sizeof(l->rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    acmeva_rlink *l = s->data;
    if (l->c == NULL || n == 0)
        return;
    if (n < 0) {
        char why[160];
        snprintf(why, sizeof(why), "%s%s",
                 n == UV_EOF ? "server closed the connection" : uv_strerror((int)n),
                 l->ssl == NULL && l->c->state == ACMEVA_RCONN_CONNECTING &&
                         (n == UV_EOF || n == UV_ECONNRESET)
                     ? " before answering (a TLS port? then use rediss://)"
                     : "");
        conn_down(l->c, why);
        return;
    }
    if (l->ssl == NULL) {
        link_feed(l, buf->base, (size_t)n);
        return;
    }
    if (BIO_write(l->rbio, buf->base, (int)n) != (int)n) {
        conn_down(l->c, "no memory");
        return;
    }
    l->in_read++;
    link_tls_step(l);
    l->in_read--;
    link_maybe_free(l);
}

/* ---- connecting: TCP, TLS, AUTH, SELECT, probe ------------------------------------------- */

static void probe(acmeva_rconn *c);

static void probe_cb(acmeva_rconn *c, redisReply *r, void *priv)
{
    if (r == NULL || c->state != ACMEVA_RCONN_CONNECTING)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        /* LOADING: Redis is reading its dataset after a restart; probe again later. */
        if (acmeva_reply_is_error(r, "LOADING") || acmeva_reply_is_error(r, "BUSY")) {
            if (c->errors == 0 && !c->s->once)
                ACMEVA_LOG("info", "redis is not ready yet, waiting", ACMEVA_LS("conn", c->role),
                           ACMEVA_LI("thread", c->thread), ACMEVA_LS("reply", r->str));
            acmeva_rconn_retry_ready(c);
            return;
        }
        char why[256];
        snprintf(why, sizeof(why), "Redis refused the readiness probe: %.200s",
                 r->str ? r->str : "error");
        if (!c->s->once)
            ACMEVA_LOG("error", "redis refused the connection", ACMEVA_LS("conn", c->role),
                       ACMEVA_LI("thread", c->thread), ACMEVA_LS("error", r->str));
        conn_down(c, why);
        return;
    }
    uv_timer_stop(&c->timer);
    c->state = ACMEVA_RCONN_READY;
    c->failures = 0;
    c->errors = 0;
    if (log_this(c)) {
        /* With TLS, what was agreed: an operator can check it against the server's policy. */
        char tls[96] = "";
        SSL *ssl = c->link != NULL ? c->link->ssl : NULL;
        const SSL_CIPHER *cipher = ssl != NULL ? SSL_get_current_cipher(ssl) : NULL;
        if (cipher != NULL)
            snprintf(tls, sizeof(tls), "%s %s", SSL_get_version(ssl), SSL_CIPHER_get_name(cipher));
        ACMEVA_LOG("info", c->ever_ready ? "redis reconnected" : "redis connected",
                   ACMEVA_LS("redis", c->s->masked), ACMEVA_LS("conn", c->role),
                   ACMEVA_LI("thread", c->thread), ACMEVA_LS(cipher ? "tls" : NULL, tls));
    }
    c->ever_ready = 1;
    if (c->on_ready != NULL)
        c->on_ready(c);
}

static void probe(acmeva_rconn *c)
{
    const char *argv[] = {"EXISTS", c->s->probe_key ? c->s->probe_key : "acmeva:v1:probe"};
    if (send_argv(c, probe_cb, NULL, 2, argv, NULL) < 0)
        conn_down(c, "cannot send");
}

static void auth_cb(acmeva_rconn *c, redisReply *r, void *priv)
{
    if (r == NULL || r->type != REDIS_REPLY_ERROR || c->state != ACMEVA_RCONN_CONNECTING)
        return;
    /* The reply of AUTH never holds the password. */
    char why[256];
    snprintf(why, sizeof(why), "Redis refused AUTH or SELECT: %.200s", r->str ? r->str : "error");
    if (!c->s->once)
        ACMEVA_LOG("error", "redis refused AUTH or SELECT", ACMEVA_LS("conn", c->role),
                   ACMEVA_LS("redis", c->s->masked), ACMEVA_LI("thread", c->thread),
                   ACMEVA_LS("error", r->str));
    conn_down(c, why);
}

/* handshake_start sends AUTH, SELECT, CLIENT SETNAME and the probe, pipelined. */
static void handshake_start(acmeva_rconn *c)
{
    const acmeva_redis_url *u = c->s->url;
    int rc = 0;
    if (u->password != NULL) {
        /* AUTH [user] password (Redis 6 ACL users, or the requirepass password). */
        const char *argv[3] = {"AUTH"};
        int argc = 1;
        if (u->user != NULL)
            argv[argc++] = u->user;
        argv[argc++] = u->password;
        rc |= send_argv(c, auth_cb, NULL, argc, argv, NULL);
    }
    if (u->db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", u->db);
        const char *argv[] = {"SELECT", db};
        rc |= send_argv(c, auth_cb, NULL, 2, argv, NULL);
    }
    const char *setname[] = {"CLIENT", "SETNAME", c->name};
    if (c->name[0] != '\0')
        rc |= send_argv(c, NULL, NULL, 3, setname, NULL); /* may be denied: only for CLIENT LIST */
    if (rc != 0) {
        conn_down(c, "cannot send");
        return;
    }
    probe(c);
}

static void set_keepalive(acmeva_rlink *l)
{
    /* TCP keepalive finds a peer that vanished while the link is idle; the reply timeout finds
     * one that stops answering while commands wait. TCP_USER_TIMEOUT bounds unacknowledged
     * writes the same way. */
    uv_tcp_nodelay(&l->tcp, 1);
    uv_tcp_keepalive(&l->tcp, 1, KEEPALIVE_IDLE_S);
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&l->tcp, &fd) != 0)
        return;
    int intvl = KEEPALIVE_INTVL_S, cnt = KEEPALIVE_CNT;
    unsigned int user_timeout = (unsigned)(KEEPALIVE_IDLE_S + KEEPALIVE_INTVL_S * KEEPALIVE_CNT) *
                                1000u;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
}

static int tls_start(acmeva_rlink *l)
{
    const char *host = l->c->s->url->host;
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    l->ssl = SSL_new(l->c->s->ssl_ctx);
    if (l->ssl == NULL)
        return -1;
    l->rbio = BIO_new(BIO_s_mem());
    l->wbio = BIO_new(BIO_s_mem());
    if (l->rbio == NULL || l->wbio == NULL) {
        BIO_free(l->rbio);
        BIO_free(l->wbio);
        l->rbio = l->wbio = NULL;
        return -1;
    }
    SSL_set_bio(l->ssl, l->rbio, l->wbio);
    SSL_set_connect_state(l->ssl);
    /* The server certificate must name the URL's host (RFC 6125): a DNS name, or an IP
     * address in an iPAddress SAN. SNI only for names (RFC 6066 §3). */
    X509_VERIFY_PARAM *param = SSL_get0_param(l->ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1)
            return -1;
    } else if (X509_VERIFY_PARAM_set1_host(param, host, strlen(host)) != 1 ||
               SSL_set_tlsext_host_name(l->ssl, host) != 1) {
        return -1;
    }
    return 0;
}

static void connect_cb(uv_connect_t *req, int status)
{
    acmeva_rlink *l = req->data;
    if (l->c == NULL)
        return;
    acmeva_rconn *c = l->c;
    if (status < 0) {
        conn_down(c, uv_strerror(status));
        return;
    }
    l->connected = 1;
    set_keepalive(l);
    if (uv_read_start((uv_stream_t *)&l->tcp, alloc_cb, read_cb) != 0) {
        conn_down(c, "cannot read");
        return;
    }
    if (c->s->ssl_ctx == NULL) {
        handshake_start(c);
        return;
    }
    if (tls_start(l) < 0) {
        conn_down(c, "TLS: cannot set up the session");
        return;
    }
    l->in_read++;
    link_tls_step(l);
    l->in_read--;
    link_maybe_free(l);
}

static void conn_open(acmeva_rconn *c, const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (uv_ip4_addr(ip, c->s->url->port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(ip, c->s->url->port, (struct sockaddr_in6 *)&ss) != 0) {
        conn_down(c, "bad address");
        return;
    }
    acmeva_rlink *l = link_new(c);
    if (l == NULL) {
        conn_down(c, "no memory or no socket");
        return;
    }
    c->link = l;
    c->state = ACMEVA_RCONN_CONNECTING;
    c->probe_wait = 0;
    uv_timer_start(&c->timer, conn_timer_cb, (uint64_t)c->s->connect_timeout_ms, 0);
    l->creq.data = l;
    int rc = uv_tcp_connect(&l->creq, &l->tcp, (struct sockaddr *)&ss, connect_cb);
    if (rc != 0)
        conn_down(c, uv_strerror(rc));
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    acmeva_rconn *c = req->data;
    c->gai_active = 0;
    if (status == UV_ECANCELED || c->state != ACMEVA_RCONN_RESOLVING) {
        uv_freeaddrinfo(res);
        return;
    }
    uv_timer_stop(&c->timer);
    /* Successive attempts go round the addresses, so that a name with an address Redis does
     * not listen on (localhost: 127.0.0.1 and ::1) still gets through. */
    char ips[8][INET6_ADDRSTRLEN];
    unsigned n = 0;
    for (struct addrinfo *a = status == 0 ? res : NULL; a != NULL && n < 8; a = a->ai_next) {
        if (a->ai_family == AF_INET &&
            uv_ip4_name((struct sockaddr_in *)a->ai_addr, ips[n], sizeof(ips[n])) == 0)
            n++;
        else if (a->ai_family == AF_INET6 &&
                 uv_ip6_name((struct sockaddr_in6 *)a->ai_addr, ips[n], sizeof(ips[n])) == 0)
            n++;
    }
    uv_freeaddrinfo(res);
    if (n == 0) {
        conn_down(c, status < 0 ? uv_strerror(status) : "no address");
        return;
    }
    conn_open(c, ips[c->failures % n]);
}

static void conn_connect(acmeva_rconn *c)
{
    const char *host = c->s->url->host;
    unsigned char buf[16];
    if (c->state == ACMEVA_RCONN_CLOSED)
        return;
    if (c->gai_active) {
        /* The last lookup timed out but is still running on the pool: try again later. */
        conn_schedule(c);
        return;
    }
    if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1) {
        conn_open(c, host);
        return;
    }
    /* A name is resolved on libuv's thread pool, never by a blocking call on the loop. */
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    c->gai.data = c;
    c->state = ACMEVA_RCONN_RESOLVING;
    if (uv_getaddrinfo(c->loop, &c->gai, gai_cb, host, NULL, &hints) != 0) {
        conn_down(c, "cannot resolve");
        return;
    }
    c->gai_active = 1;
    uv_timer_start(&c->timer, conn_timer_cb, (uint64_t)c->s->connect_timeout_ms, 0);
}

static void conn_timer_cb(uv_timer_t *h)
{
    acmeva_rconn *c = h->data;
    switch (c->state) {
    case ACMEVA_RCONN_DOWN:
        conn_connect(c);
        break;
    case ACMEVA_RCONN_CONNECTING:
        if (c->probe_wait) {
            c->probe_wait = 0;
            uv_timer_start(&c->timer, conn_timer_cb, (uint64_t)c->s->connect_timeout_ms, 0);
            probe(c);
            break;
        }
        if (c->link != NULL && c->link->ssl != NULL && !c->link->tls_done)
            /* A plain Redis reads a ClientHello as the start of an inline command and waits
             * for its end: silence, not an error, is what a plain port answers. */
            tls_refused(c, "TLS: no TLS answer from the server within the connect timeout (a "
                           "plain port? then use redis://)");
        else
            conn_down(c, "timed out");
        break;
    case ACMEVA_RCONN_RESOLVING:
        conn_down(c, "timed out");
        break;
    case ACMEVA_RCONN_READY:
        if (c->on_ready != NULL)
            c->on_ready(c); /* a retry after an error reply */
        break;
    case ACMEVA_RCONN_CLOSED:
        break;
    }
}

void acmeva_rconn_retry_ready(acmeva_rconn *c)
{
    if (c->state != ACMEVA_RCONN_READY && c->state != ACMEVA_RCONN_CONNECTING)
        return; /* a reconnect is on its way anyway */
    int64_t d = acmeva_backoff_ms(c->errors, (uint32_t)rand_r(&c->seed));
    if (c->errors < (1u << 20))
        c->errors++;
    if (c->state == ACMEVA_RCONN_CONNECTING)
        c->probe_wait = 1; /* still in the handshake (Redis is loading): probe again */
    uv_timer_start(&c->timer, conn_timer_cb, (uint64_t)d, 0);
}

int acmeva_rconn_init(acmeva_rconn *c, uv_loop_t *loop, const acmeva_rconn_settings *s,
                      const char *role, int thread, const char *client_name,
                      void (*on_ready)(acmeva_rconn *), void (*on_lost)(acmeva_rconn *),
                      void *data)
{
    memset(c, 0, sizeof(*c));
    c->loop = loop;
    c->s = s;
    c->role = role;
    c->thread = thread;
    c->state = ACMEVA_RCONN_DOWN;
    c->on_ready = on_ready;
    c->on_lost = on_lost;
    c->data = data;
    c->seed = (unsigned)(uv_hrtime() ^ ((uint64_t)(uintptr_t)c >> 4));
    if (client_name != NULL)
        snprintf(c->name, sizeof(c->name), "%s", client_name);
    int rc = uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    return rc;
}

void acmeva_rconn_settings_init(acmeva_rconn_settings *s, const acmeva_daemon_options *o,
                                const char *masked, const char *probe_key)
{
    memset(s, 0, sizeof(*s));
    s->url = &o->redis;
    s->masked = masked;
    s->connect_timeout_ms = 5000;
    s->reply_timeout_ms = o->redis_timeout_ms;
    s->probe_key = probe_key;
    s->quiet = 1;
}

void acmeva_rconn_set_push(acmeva_rconn *c, acmeva_rconn_push_cb cb)
{
    c->on_push = cb;
}

void acmeva_rconn_start(acmeva_rconn *c)
{
    conn_connect(c);
}
