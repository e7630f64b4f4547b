/*
 * DNS on the loop (see resolver.h): our own transport on libuv, one fresh socket per try.
 *
 * A query is one struct. Its current try owns at most one socket (a UDP one, or the TCP one
 * that replaces it after a truncated answer), allocated apart from the query and freed from
 * its close callback, so a query can be freed at once whatever its sockets are doing.
 *
 * Time: every try lasts cfg->dns_timeout_ms, so the tries in flight, kept in the order they
 * were sent, are also in the order of their deadlines: one timer armed for the oldest serves
 * them all, and a timeout costs O(1), not a walk of every query. The timer is stopped when no
 * try is in flight, so it never keeps the loop alive on its own.
 */
#include "resolver.h"

#include <arpa/inet.h>
#include <ares.h>
#include <openssl/mem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrpolicy.h"
#include "escape.h"

#define DNS_UDP_SIZE 1232 /* EDNS0 UDP payload size (DNS flag day 2020) */
#define DNS_QUERY_MAX 288 /* header, a 255-octet name, type, class, OPT */
#define DNS_PORT_PICKS 8  /* random source ports tried before the kernel picks one */
#define DNS_PORT_MIN 1024 /* the lowest random source port */
#define DNS_CASE_BYTES 32 /* random bits for the letters of a 253-character name */
#define DNS_RAND_POOL 2048 /* random bytes drawn from RAND_bytes at once (about 40 tries) */

typedef struct dns_server {
    struct sockaddr_storage addr;
    char text[64]; /* "IP:PORT" or "[IPv6]:PORT", as records show it */
} dns_server;

struct acmeva_resolver {
    uv_loop_t *loop;
    const acmeva_engine_config *cfg;
    dns_server servers[ACMEVA_MAX_RESOLVERS];
    size_t n;
    unsigned next; /* the resolver of the next query's first try (round robin) */
    /* Tries in flight, oldest first (= earliest deadline first), and their one timer. */
    acmeva_dns_query *tries_head, *tries_tail;
    uv_timer_t *timer;
    /* Queries that ended without a reply (no socket, no network): their callbacks run from a
     * zero timer, never from inside acmeva_dns_query_start. */
    acmeva_dns_query *ended_head, *ended_tail;
    uv_timer_t *ended_timer;
    /* One datagram is read and handled at a time, so one receive buffer and one parsed
     * message serve every UDP socket; deliveries never nest (a query started from a callback
     * is answered later, from the loop). */
    uint8_t *rbuf;
    acmeva_dns_msg *msg;
    acmeva_dns_stats stats;
    /* Random bytes for ids, letter case and ports, drawn from RAND_bytes in blocks: one call
     * per try cost more in the DRBG's fixed work than the bytes themselves. Each byte is used
     * once and wiped when taken; the unused rest is as secret as the DRBG's state. */
    uint8_t rand_pool[DNS_RAND_POOL];
    size_t rand_left; /* the unused bytes are rand_pool[0 .. rand_left) */
    int closing;
    int closes_pending;
};

typedef enum { LIST_NONE, LIST_TRIES, LIST_ENDED } query_list;

typedef struct dns_udp dns_udp;
typedef struct dns_tcp dns_tcp;

struct acmeva_dns_query {
    acmeva_resolver *r;
    acmeva_dns_cb cb;
    void *arg;
    acmeva_dns_query *prev, *next; /* in r's tries or ended list */
    query_list list;
    uint64_t deadline; /* loop time at which the current try times out */
    uint64_t start_hr;
    dns_udp *udp; /* the current try's socket: one of the two, or none */
    dns_tcp *tcp;
    acmeva_dns_status end_status; /* on the ended list: how the query ended */
    int end_error;
    uint16_t qtype;
    int tries;
    unsigned server;
    int pinned; /* every try goes to |server| (acmeva_dns_query_start_at) */
    size_t qlen;
    uint8_t qbuf[DNS_QUERY_MAX]; /* the query as sent on the current try */
    char name[ACMEVA_DNS_MAX_NAME_TEXT + 2];
};

struct dns_udp {
    uv_udp_t handle;
    acmeva_resolver *r;
    acmeva_dns_query *q; /* NULL once the query let go of it */
};

/* A UDP send that could not go out at once: the query bytes travel with the request. */
typedef struct dns_udp_send {
    uv_udp_send_t req;
    size_t len;
    uint8_t data[DNS_QUERY_MAX];
} dns_udp_send;

struct dns_tcp {
    uv_tcp_t handle;
    acmeva_resolver *r;
    acmeva_dns_query *q;
    uv_connect_t connect_req;
    uv_write_t write_req;
    uint8_t wbuf[2 + DNS_QUERY_MAX];
    uint8_t *rbuf; /* 2 + ACMEVA_DNS_MAX_MESSAGE octets, allocated on the first read */
    size_t rlen;
};

static void resolver_maybe_free(acmeva_resolver *r);
static int try_start(acmeva_dns_query *q);

/* ---- counters ------------------------------------------------------------------------------ */

const double acmeva_dns_duration_bounds[ACMEVA_DNS_DURATION_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

const char *acmeva_dns_stat_qtype_name(int slot)
{
    static const char *const names[ACMEVA_DNS_STAT_QTYPES] = {"A", "AAAA", "TXT", "CAA", "other"};
    return slot >= 0 && slot < ACMEVA_DNS_STAT_QTYPES ? names[slot] : NULL;
}

const char *acmeva_dns_stat_outcome_name(int slot)
{
    static const char *const names[ACMEVA_DNS_STAT_OUTCOMES] = {
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
        "REFUSED", "other",   "timeout",  "network",  "local"};
    return slot >= 0 && slot < ACMEVA_DNS_STAT_OUTCOMES ? names[slot] : NULL;
}

const char *acmeva_dns_drop_reason_name(int reason)
{
    static const char *const names[ACMEVA_DNS_DROP_REASONS] = {
        "wrong_id",     "wrong_source", "wrong_question", "wrong_case",
        "not_response", "malformed",    "tcp_mismatch"};
    return reason >= 0 && reason < ACMEVA_DNS_DROP_REASONS ? names[reason] : NULL;
}

const acmeva_dns_stats *acmeva_resolver_stats(const acmeva_resolver *r)
{
    return &r->stats;
}

static int stat_qtype(uint16_t qtype)
{
    switch (qtype) {
    case ACMEVA_DNS_A:
        return ACMEVA_DNS_STAT_A;
    case ACMEVA_DNS_AAAA:
        return ACMEVA_DNS_STAT_AAAA;
    case ACMEVA_DNS_TXT:
        return ACMEVA_DNS_STAT_TXT;
    case ACMEVA_DNS_CAA:
        return ACMEVA_DNS_STAT_CAA;
    default:
        return ACMEVA_DNS_STAT_OTHER_QTYPE;
    }
}

static int stat_outcome(const acmeva_dns_answer *a)
{
    switch (a->status) {
    case ACMEVA_DNS_TIMEOUT:
        return ACMEVA_DNS_STAT_TIMEOUT;
    case ACMEVA_DNS_NETWORK:
        return ACMEVA_DNS_STAT_NETWORK;
    case ACMEVA_DNS_LOCAL:
        return ACMEVA_DNS_STAT_LOCAL;
    case ACMEVA_DNS_OK:
        break;
    }
    return a->msg->rcode <= ACMEVA_RCODE_REFUSED ? a->msg->rcode : ACMEVA_DNS_STAT_OTHER_RCODE;
}

static void stat_query(acmeva_resolver *r, const acmeva_dns_query *q, const acmeva_dns_answer *a)
{
    acmeva_dns_stats *s = &r->stats;
    double secs = (double)(uv_hrtime() - q->start_hr) / 1e9;
    size_t b = 0;
    while (b < ACMEVA_DNS_DURATION_BUCKETS && secs > acmeva_dns_duration_bounds[b])
        b++;
    s->queries[stat_qtype(q->qtype)][stat_outcome(a)]++;
    s->duration_buckets[b]++;
    s->duration_seconds_sum += secs;
}

/* drop_reason maps why acmeva_dns_match_reply refused a reply to its counter. */
static int drop_reason(int rc)
{
    switch (rc) {
    case ACMEVA_DNS_EID:
        return ACMEVA_DNS_DROP_WRONG_ID;
    case ACMEVA_DNS_ENOTRESP:
        return ACMEVA_DNS_DROP_NOT_RESPONSE;
    case ACMEVA_DNS_ECASE:
        return ACMEVA_DNS_DROP_WRONG_CASE;
    case ACMEVA_DNS_EQUESTION:
        return ACMEVA_DNS_DROP_WRONG_QUESTION;
    default:
        return ACMEVA_DNS_DROP_MALFORMED;
    }
}

/* A failure of this machine rather than of the network or the resolver (DESIGN.md
 * "Hardening": never reported as the subscriber's fault). */
static int local_error(int err)
{
    return err == UV_EMFILE || err == UV_ENFILE || err == UV_ENOMEM || err == UV_ENOBUFS;
}

/* ---- lists and timers ---------------------------------------------------------------------- */

static void list_unlink(acmeva_dns_query *q)
{
    acmeva_resolver *r = q->r;
    acmeva_dns_query **head = q->list == LIST_TRIES ? &r->tries_head : &r->ended_head;
    acmeva_dns_query **tail = q->list == LIST_TRIES ? &r->tries_tail : &r->ended_tail;
    if (q->list == LIST_NONE)
        return;
    if (q->prev != NULL)
        q->prev->next = q->next;
    else
        *head = q->next;
    if (q->next != NULL)
        q->next->prev = q->prev;
    else
        *tail = q->prev;
    q->prev = q->next = NULL;
    q->list = LIST_NONE;
    /* Nothing left to wait for: the timers must not keep the loop alive. */
    if (!r->closing && r->tries_head == NULL)
        uv_timer_stop(r->timer);
    if (!r->closing && r->ended_head == NULL)
        uv_timer_stop(r->ended_timer);
}

static void list_append(acmeva_dns_query *q, query_list list)
{
    acmeva_resolver *r = q->r;
    acmeva_dns_query **head = list == LIST_TRIES ? &r->tries_head : &r->ended_head;
    acmeva_dns_query **tail = list == LIST_TRIES ? &r->tries_tail : &r->ended_tail;
    q->list = list;
    q->next = NULL;
    q->prev = *tail;
    if (*tail != NULL)
        (*tail)->next = q;
    else
        *head = q;
    *tail = q;
}

static void tries_timer_cb(uv_timer_t *t);

/* Arm the timer for the oldest try. A timer already armed for an earlier deadline (a try
 * that has since ended) fires early, finds nothing due and re-arms: cheaper than re-arming
 * whenever the head of the list ends. */
static void tries_timer_arm(acmeva_resolver *r)
{
    if (r->closing || r->tries_head == NULL)
        return;
    uint64_t now = uv_now(r->loop);
    uint64_t due = r->tries_head->deadline;
    uv_timer_start(r->timer, tries_timer_cb, due > now ? due - now : 0, 0);
}

/* ---- sockets ------------------------------------------------------------------------------- */

static void udp_close_cb(uv_handle_t *h)
{
    dns_udp *u = h->data;
    acmeva_resolver *r = u->r;
    free(u);
    r->closes_pending--;
    resolver_maybe_free(r);
}

static void tcp_close_cb(uv_handle_t *h)
{
    dns_tcp *t = h->data;
    acmeva_resolver *r = t->r;
    free(t->rbuf);
    free(t);
    r->closes_pending--;
    resolver_maybe_free(r);
}

/* sockets_close lets go of the current try's socket; it is freed once closed. */
static void sockets_close(acmeva_dns_query *q)
{
    if (q->udp != NULL) {
        q->udp->q = NULL;
        q->r->closes_pending++;
        uv_close((uv_handle_t *)&q->udp->handle, udp_close_cb);
        q->udp = NULL;
    }
    if (q->tcp != NULL) {
        q->tcp->q = NULL;
        q->r->closes_pending++;
        uv_close((uv_handle_t *)&q->tcp->handle, tcp_close_cb);
        q->tcp = NULL;
    }
}

static int same_endpoint(const struct sockaddr *a, const struct sockaddr_storage *b)
{
    if (a == NULL || a->sa_family != b->ss_family)
        return 0;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* ---- ending a query ------------------------------------------------------------------------ */

static const dns_server *query_server(const acmeva_dns_query *q)
{
    return &q->r->servers[q->server % q->r->n];
}

/* query_release frees |q| now: off its list, its socket closing. */
static void query_release(acmeva_dns_query *q)
{
    list_unlink(q);
    sockets_close(q);
    free(q);
}

/* query_deliver reports the outcome once and frees |q|. With ACMEVA_DNS_OK the reply is in
 * r->msg. Everything the query held is released before the callback runs, so a callback that
 * ends the loop's last work leaves nothing of the resolver running. */
static void query_deliver(acmeva_dns_query *q, acmeva_dns_status st, int err)
{
    acmeva_resolver *r = q->r;
    acmeva_dns_answer ans;
    memset(&ans, 0, sizeof(ans));
    ans.status = st;
    ans.error = err;
    ans.tries = q->tries;
    ans.resolver = query_server(q)->text;
    if (st == ACMEVA_DNS_OK) {
        /* Only what answers the question (resolver.h): one place for A, AAAA, TXT and CAA. */
        acmeva_dns_answer_chain(r->msg);
        ans.msg = r->msg;
    }
    stat_query(r, q, &ans);
    acmeva_dns_cb cb = q->cb;
    void *arg = q->arg;
    query_release(q);
    cb(arg, &ans);
}

static void ended_timer_cb(uv_timer_t *t)
{
    acmeva_resolver *r = t->data;
    acmeva_dns_query *q;
    /* Only the queries ended before this run: one that a callback starts and that ends at
     * once waits for the next loop iteration, so a stream of them cannot starve the loop. */
    size_t budget = 0;
    for (q = r->ended_head; q != NULL; q = q->next)
        budget++;
    while (budget-- > 0 && !r->closing && (q = r->ended_head) != NULL)
        query_deliver(q, q->end_status, q->end_error);
}

/* query_end_later ends |q| without a reply, from the loop: off the tries list, onto the
 * ended list delivered by a zero timer. */
static void query_end_later(acmeva_dns_query *q, acmeva_dns_status st, int err)
{
    acmeva_resolver *r = q->r;
    list_unlink(q);
    sockets_close(q);
    q->end_status = st;
    q->end_error = err;
    list_append(q, LIST_ENDED);
    uv_timer_start(r->ended_timer, ended_timer_cb, 0, 0);
}

/* try_failed ends the query on an error of the current try: a local one (no socket, no
 * memory) or the network's. Only timeouts are retried. */
static void try_failed(acmeva_dns_query *q, int err)
{
    query_end_later(q, local_error(err) ? ACMEVA_DNS_LOCAL : ACMEVA_DNS_NETWORK, err);
}

/* ---- building one try ---------------------------------------------------------------------- */

/* rand_take fills |out| with |n| (at most DNS_RAND_POOL) bytes from RAND_bytes, through the
 * resolver's pool. Returns 0, or UV_ENOMEM when RAND_bytes fails. */
static int rand_take(acmeva_resolver *r, uint8_t *out, size_t n)
{
    if (r->rand_left < n) {
        if (RAND_bytes(r->rand_pool, sizeof(r->rand_pool)) != 1) {
            r->rand_left = 0;
            return UV_ENOMEM;
        }
        r->rand_left = sizeof(r->rand_pool);
    }
    r->rand_left -= n;
    memcpy(out, r->rand_pool + r->rand_left, n);
    OPENSSL_cleanse(r->rand_pool + r->rand_left, n);
    return 0;
}

/*
 * try_build writes the query of a new try into q->qbuf: a fresh id and, with 0x20, a fresh
 * random letter case, both from |rnd| (2 + DNS_CASE_BYTES random bytes). Returns 0 or a
 * negative error.
 */
static int try_build(acmeva_dns_query *q, const uint8_t *rnd)
{
    char name[sizeof(q->name)];
    memcpy(name, q->name, sizeof(name));
    /* draft-vixie-dnsext-dns0x20 §3: each letter's case is one more bit to guess. */
    if (q->r->cfg->dns_0x20)
        acmeva_dns_0x20(name, rnd + 2, DNS_CASE_BYTES);
    int n = acmeva_dns_build_query(q->qbuf, sizeof(q->qbuf), (uint16_t)(rnd[0] << 8 | rnd[1]), name,
                                   q->qtype, DNS_UDP_SIZE);
    if (n <= 0)
        return UV_EINVAL;
    q->qlen = (size_t)n;
    return 0;
}

/* ---- UDP ----------------------------------------------------------------------------------- */

static void udp_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    dns_udp *u = h->data;
    buf->base = (char *)u->r->rbuf;
    buf->len = ACMEVA_DNS_MAX_MESSAGE;
}

static void tcp_start(acmeva_dns_query *q);

static void udp_recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *addr, unsigned flags)
{
    dns_udp *u = h->data;
    acmeva_dns_query *q = u->q;
    if (q == NULL || (nread == 0 && addr == NULL))
        return; /* let go of, or nothing more to read */
    acmeva_resolver *r = q->r;
    if (nread < 0) {
        /* ECONNREFUSED: an ICMP port unreachable for our connected socket. */
        try_failed(q, (int)nread);
        return;
    }
    /* The kernel already drops what does not come from the connected address; check anyway
     * (RFC 5452 §9.1: address and port of the reply). */
    if (!same_endpoint(addr, &query_server(q)->addr)) {
        r->stats.dropped[ACMEVA_DNS_DROP_WRONG_SOURCE]++;
        return;
    }
    if (flags & UV_UDP_PARTIAL) {
        r->stats.dropped[ACMEVA_DNS_DROP_MALFORMED]++;
        return;
    }
    int rc =
        acmeva_dns_match_reply(q->qbuf, q->qlen, (const uint8_t *)buf->base, (size_t)nread, r->msg);
    if (rc != 0) {
        /* Dropped, and never fatal: the true reply may still come within the try's time. */
        r->stats.dropped[drop_reason(rc)]++;
        return;
    }
    if (r->msg->tc) {
        /* RFC 1035 §4.2.1, RFC 7766 §5: a truncated answer is asked again over TCP. */
        tcp_start(q);
        return;
    }
    query_deliver(q, ACMEVA_DNS_OK, 0);
}

static void udp_send_cb(uv_udp_send_t *req, int status)
{
    dns_udp_send *s = (dns_udp_send *)req;
    dns_udp *u = req->handle->data;
    if (status < 0 && status != UV_ECANCELED && u->q != NULL)
        try_failed(u->q, status);
    free(s);
}

/*
 * udp_open opens the try's socket: bound to a random source port from |ports| (2 random bytes
 * a pick), connected to the resolver, reading, and sends the query. Returns 0 or a negative
 * error; the socket, once registered with the loop, is q->udp and is closed by the caller's
 * cleanup.
 */
static int udp_open(acmeva_dns_query *q, const uint8_t *ports)
{
    acmeva_resolver *r = q->r;
    const dns_server *srv = query_server(q);
    int fam = srv->addr.ss_family;
    dns_udp *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return UV_ENOMEM;
    /* The socket is created here, so that a descriptor shortage shows as EMFILE now. */
    int rc = uv_udp_init_ex(r->loop, &u->handle, (unsigned)fam);
    if (rc != 0) {
        free(u);
        return rc;
    }
    u->handle.data = u;
    u->r = r;
    u->q = q;
    q->udp = u;

    /* RFC 5452 §9.2: a random source port, from the whole unprivileged range rather than the
     * kernel's smaller ephemeral one. A port in use is skipped; after DNS_PORT_PICKS picks the
     * kernel chooses (still random on Linux, from its ephemeral range). */
    struct sockaddr_storage local;
    memset(&local, 0, sizeof(local));
    local.ss_family = (sa_family_t)fam;
    rc = UV_EADDRINUSE;
    for (int i = 0; i <= DNS_PORT_PICKS && rc == UV_EADDRINUSE; i++) {
        unsigned port = 0;
        if (i < DNS_PORT_PICKS) {
            port = (unsigned)ports[2 * i] << 8 | ports[2 * i + 1];
            if (port < DNS_PORT_MIN)
                continue;
        }
        if (fam == AF_INET)
            ((struct sockaddr_in *)&local)->sin_port = htons((uint16_t)port);
        else
            ((struct sockaddr_in6 *)&local)->sin6_port = htons((uint16_t)port);
        rc = uv_udp_bind(&u->handle, (const struct sockaddr *)&local,
                         fam == AF_INET6 ? UV_UDP_IPV6ONLY : 0);
        if (rc == UV_EACCES && port != 0)
            rc = UV_EADDRINUSE; /* a port reserved by policy: pick another */
    }
    if (rc != 0)
        return rc;
    /* Connected: the kernel delivers only datagrams from the resolver's address and port. */
    if ((rc = uv_udp_connect(&u->handle, (const struct sockaddr *)&srv->addr)) != 0 ||
        (rc = uv_udp_recv_start(&u->handle, udp_alloc_cb, udp_recv_cb)) != 0)
        return rc;
    uv_buf_t b = uv_buf_init((char *)q->qbuf, (unsigned)q->qlen);
    rc = uv_udp_try_send(&u->handle, &b, 1, NULL);
    if (rc >= 0)
        return 0;
    if (rc != UV_EAGAIN)
        return rc;
    /* The socket cannot take it now: queue a send that carries its own copy. */
    dns_udp_send *s = malloc(sizeof(*s));
    if (s == NULL)
        return UV_ENOMEM;
    memcpy(s->data, q->qbuf, q->qlen);
    s->len = q->qlen;
    b = uv_buf_init((char *)s->data, (unsigned)s->len);
    rc = uv_udp_send(&s->req, &u->handle, &b, 1, NULL, udp_send_cb);
    if (rc != 0)
        free(s);
    return rc;
}

/* ---- TCP, after a truncated UDP answer ----------------------------------------------------- */

static void tcp_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    dns_tcp *t = h->data;
    if (t->rbuf == NULL)
        t->rbuf = malloc(2 + ACMEVA_DNS_MAX_MESSAGE);
    /* No memory (or a full buffer, which cannot happen: a complete message is always taken
     * out) gives libuv an empty buffer, and the read fails with UV_ENOBUFS. */
    buf->base = t->rbuf != NULL ? (char *)t->rbuf + t->rlen : NULL;
    buf->len = t->rbuf != NULL ? 2 + ACMEVA_DNS_MAX_MESSAGE - t->rlen : 0;
}

static void tcp_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    dns_tcp *t = s->data;
    acmeva_dns_query *q = t->q;
    if (q == NULL || nread == 0)
        return;
    if (nread < 0) {
        /* The connection closed (UV_EOF) or failed before the reply came. */
        try_failed(q, nread == UV_EOF ? UV_ECONNRESET : (int)nread);
        return;
    }
    acmeva_resolver *r = q->r;
    t->rlen += (size_t)nread;
    /* RFC 1035 §4.2.2: each message is prefixed by its 2-octet length. The buffer holds the
     * largest message, so a complete one is always in it once its bytes have come. */
    while (t->rlen >= 2) {
        size_t len = (size_t)t->rbuf[0] << 8 | t->rbuf[1];
        if (t->rlen - 2 < len)
            return;
        if (acmeva_dns_match_reply(q->qbuf, q->qlen, t->rbuf + 2, len, r->msg) == 0) {
            query_deliver(q, ACMEVA_DNS_OK, 0);
            return;
        }
        r->stats.dropped[ACMEVA_DNS_DROP_TCP_MISMATCH]++;
        memmove(t->rbuf, t->rbuf + 2 + len, t->rlen - 2 - len);
        t->rlen -= 2 + len;
    }
}

static void tcp_write_cb(uv_write_t *req, int status)
{
    dns_tcp *t = req->data;
    if (status < 0 && status != UV_ECANCELED && t->q != NULL)
        try_failed(t->q, status);
}

static void tcp_connect_cb(uv_connect_t *req, int status)
{
    dns_tcp *t = req->data;
    acmeva_dns_query *q = t->q;
    if (q == NULL || status == UV_ECANCELED)
        return;
    if (status < 0) {
        try_failed(q, status);
        return;
    }
    uv_buf_t b = uv_buf_init((char *)t->wbuf, (unsigned)(2 + q->qlen));
    int rc = uv_write(&t->write_req, (uv_stream_t *)&t->handle, &b, 1, tcp_write_cb);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&t->handle, tcp_alloc_cb, tcp_read_cb);
    if (rc != 0)
        try_failed(q, rc);
}

/* tcp_start replaces the try's UDP socket with a TCP connection to the same resolver; the
 * try keeps its deadline. */
static void tcp_start(acmeva_dns_query *q)
{
    acmeva_resolver *r = q->r;
    const dns_server *srv = query_server(q);
    uint8_t rnd[2 + DNS_CASE_BYTES];
    sockets_close(q);
    /* A new message on a new transport: a fresh id and case, checked the same way. */
    if (rand_take(r, rnd, sizeof(rnd)) != 0) {
        try_failed(q, UV_ENOMEM);
        return;
    }
    int rc = try_build(q, rnd);
    if (rc != 0) {
        try_failed(q, rc);
        return;
    }
    dns_tcp *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        try_failed(q, UV_ENOMEM);
        return;
    }
    if ((rc = uv_tcp_init_ex(r->loop, &t->handle, srv->addr.ss_family)) != 0) {
        free(t);
        try_failed(q, rc);
        return;
    }
    t->handle.data = t;
    t->connect_req.data = t;
    t->write_req.data = t;
    t->r = r;
    t->q = q;
    q->tcp = t;
    t->wbuf[0] = (uint8_t)(q->qlen >> 8);
    t->wbuf[1] = (uint8_t)q->qlen;
    memcpy(t->wbuf + 2, q->qbuf, q->qlen);
    r->stats.tcp_tries++;
    rc = uv_tcp_connect(&t->connect_req, &t->handle, (const struct sockaddr *)&srv->addr,
                        tcp_connect_cb);
    if (rc != 0)
        try_failed(q, rc);
}

/* ---- tries --------------------------------------------------------------------------------- */

/* try_start sends try number q->tries to resolver q->server, from a fresh socket. Returns 0,
 * with the query ending later from the loop on any failure of the try, or UV_EINVAL, without
 * a side effect, when the name makes no query (only the first try can meet that). */
static int try_start(acmeva_dns_query *q)
{
    acmeva_resolver *r = q->r;
    /* One draw per try: the id, the letter case, and the source port picks. */
    uint8_t rnd[2 + DNS_CASE_BYTES + 2 * DNS_PORT_PICKS];
    int rc = rand_take(r, rnd, sizeof(rnd));
    if (rc == 0 && try_build(q, rnd) != 0)
        return UV_EINVAL;
    q->deadline = uv_now(r->loop) + (uint64_t)r->cfg->dns_timeout_ms;
    list_append(q, LIST_TRIES);
    if (!uv_is_active((uv_handle_t *)r->timer))
        tries_timer_arm(r);
    if (rc == 0) {
        r->stats.udp_tries++;
        rc = udp_open(q, rnd + 2 + DNS_CASE_BYTES);
    }
    if (rc != 0)
        try_failed(q, rc);
    return 0;
}

static void tries_timer_cb(uv_timer_t *t)
{
    acmeva_resolver *r = t->data;
    uint64_t now = uv_now(r->loop);
    acmeva_dns_query *q;
    /* Re-read the head each time: a callback may cancel any query, or free the resolver. */
    while (!r->closing && (q = r->tries_head) != NULL && q->deadline <= now) {
        r->stats.try_timeouts++;
        list_unlink(q);
        sockets_close(q);
        if (q->tries < r->cfg->dns_tries) {
            /* Retry on timeout only, at the next resolver (Boulder bdns), unless the query
             * asks one resolver in particular. */
            q->tries++;
            if (!q->pinned)
                q->server++;
            if (try_start(q) != 0) /* the name made the first try's query: not reached */
                query_end_later(q, ACMEVA_DNS_NETWORK, UV_EINVAL);
        } else {
            query_deliver(q, ACMEVA_DNS_TIMEOUT, 0);
        }
    }
    tries_timer_arm(r);
}

/* query_start starts a query whose first try goes to resolver |server|; |pinned| keeps every
 * retry there too. */
static int query_start(acmeva_resolver *r, unsigned server, int pinned, const char *name,
                       uint16_t qtype, acmeva_dns_cb cb, void *arg, acmeva_dns_query **out)
{
    if (out != NULL)
        *out = NULL;
    size_t len = strnlen(name, ACMEVA_DNS_MAX_NAME_TEXT + 2);
    if (r->n == 0 || r->closing || len > ACMEVA_DNS_MAX_NAME_TEXT + 1 || cb == NULL)
        return UV_EINVAL;
    acmeva_dns_query *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return UV_ENOMEM;
    q->r = r;
    q->cb = cb;
    q->arg = arg;
    q->qtype = qtype;
    memcpy(q->name, name, len);
    q->tries = 1;
    q->server = server;
    q->pinned = pinned;
    q->start_hr = uv_hrtime();
    /* A name that makes no query is refused here, by building the first try's query. */
    if (try_start(q) != 0) {
        free(q);
        return UV_EINVAL;
    }
    if (out != NULL)
        *out = q;
    return 0;
}

int acmeva_dns_query_start(acmeva_resolver *r, const char *name, uint16_t qtype, acmeva_dns_cb cb,
                           void *arg, acmeva_dns_query **out)
{
    return query_start(r, r->next++, 0, name, qtype, cb, arg, out);
}

int acmeva_dns_query_start_at(acmeva_resolver *r, size_t server, const char *name, uint16_t qtype,
                              acmeva_dns_cb cb, void *arg, acmeva_dns_query **out)
{
    if (server >= r->n) {
        if (out != NULL)
            *out = NULL;
        return UV_EINVAL;
    }
    return query_start(r, (unsigned)server, 1, name, qtype, cb, arg, out);
}

size_t acmeva_resolver_count(const acmeva_resolver *r)
{
    return r->n;
}

void acmeva_dns_query_cancel(acmeva_dns_query *q)
{
    if (q != NULL)
        query_release(q);
}

/* ---- the resolver -------------------------------------------------------------------------- */

/* parse_server turns a resolver option ("IP", "IP:PORT", "[IPv6]:PORT", bare IPv6) into an
 * address and its text. Returns 0 or -1. */
static int parse_server(const char *in, dns_server *out)
{
    char host[INET6_ADDRSTRLEN];
    unsigned long port = 53;
    const char *p;
    if (in[0] == '[') {
        p = strchr(in, ']');
        if (p == NULL || (size_t)(p - in - 1) >= sizeof(host))
            return -1;
        memcpy(host, in + 1, (size_t)(p - in - 1));
        host[p - in - 1] = '\0';
        p++;
        if (*p == ':')
            p++;
        else if (*p != '\0')
            return -1;
    } else if (strchr(in, ':') != strrchr(in, ':')) {
        /* Bare IPv6 without a port. */
        if (strlen(in) >= sizeof(host))
            return -1;
        snprintf(host, sizeof(host), "%s", in);
        p = "";
    } else {
        const char *colon = strchr(in, ':');
        size_t hl = colon ? (size_t)(colon - in) : strlen(in);
        if (hl >= sizeof(host))
            return -1;
        memcpy(host, in, hl);
        host[hl] = '\0';
        p = colon ? colon + 1 : "";
    }
    if (*p != '\0') {
        char *end;
        port = strtoul(p, &end, 10);
        if (*end != '\0' || port == 0 || port > 65535)
            return -1;
    }
    memset(out, 0, sizeof(*out));
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&out->addr) == 0)
        snprintf(out->text, sizeof(out->text), "%s:%lu", host, port);
    else if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&out->addr) == 0)
        snprintf(out->text, sizeof(out->text), "[%s]:%lu", host, port);
    else
        return -1;
    return 0;
}

/* system_servers reads the system's nameservers with c-ares (resolv.conf and its options):
 * the one thing c-ares still does for us. */
static int system_servers(dns_server *out, size_t max, size_t *n, char *err, size_t errlen)
{
    static int lib_ready;
    ares_channel ch;
    struct ares_addr_port_node *servers = NULL, *s;
    *n = 0;
    if (!lib_ready) {
        /* Process-wide and idempotent; done from the first engine's thread before others. */
        if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
            snprintf(err, errlen, "c-ares library init failed");
            return -1;
        }
        lib_ready = 1;
    }
    int rc = ares_init(&ch);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        return -1;
    }
    rc = ares_get_servers_ports(ch, &servers);
    for (s = servers; rc == ARES_SUCCESS && s != NULL && *n < max; s = s->next) {
        char ip[INET6_ADDRSTRLEN], text[80];
        int port = s->udp_port ? s->udp_port : 53;
        if (inet_ntop(s->family, &s->addr, ip, sizeof(ip)) == NULL)
            continue;
        snprintf(text, sizeof(text), s->family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);
        if (parse_server(text, &out[*n]) == 0)
            (*n)++;
    }
    ares_free_data(servers);
    ares_destroy(ch);
    if (*n == 0) {
        snprintf(err, errlen, "no system nameservers found: pass --resolver");
        return -1;
    }
    return 0;
}

static void timer_close_cb(uv_handle_t *h)
{
    acmeva_resolver *r = h->data;
    free(h);
    r->closes_pending--;
    resolver_maybe_free(r);
}

int acmeva_resolver_new(uv_loop_t *loop, const acmeva_engine_config *cfg, acmeva_resolver **out,
                        char *err, size_t errlen)
{
    *out = NULL;
    acmeva_resolver *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->loop = loop;
    r->cfg = cfg;
    if (cfg->n_resolvers > 0) {
        for (size_t i = 0; i < cfg->n_resolvers && i < ACMEVA_MAX_RESOLVERS; i++) {
            if (parse_server(cfg->resolvers[i], &r->servers[r->n]) != 0) {
                snprintf(err, errlen, "bad resolver address %s", cfg->resolvers[i]);
                free(r);
                return -1;
            }
            r->n++;
        }
    } else if (system_servers(r->servers, ACMEVA_MAX_RESOLVERS, &r->n, err, errlen) != 0) {
        free(r);
        return -1;
    }
    r->timer = malloc(sizeof(*r->timer));
    r->ended_timer = malloc(sizeof(*r->ended_timer));
    r->rbuf = malloc(ACMEVA_DNS_MAX_MESSAGE);
    r->msg = malloc(sizeof(*r->msg));
    if (r->timer == NULL || r->ended_timer == NULL || r->rbuf == NULL || r->msg == NULL) {
        free(r->timer);
        free(r->ended_timer);
        free(r->rbuf);
        free(r->msg);
        free(r);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uv_timer_init(loop, r->timer);
    uv_timer_init(loop, r->ended_timer);
    r->timer->data = r;
    r->ended_timer->data = r;
    *out = r;
    return 0;
}

static void resolver_maybe_free(acmeva_resolver *r)
{
    if (r->closing && r->closes_pending == 0) {
        OPENSSL_cleanse(r->rand_pool, sizeof(r->rand_pool));
        free(r->rbuf);
        free(r->msg);
        free(r);
    }
}

void acmeva_resolver_free(acmeva_resolver *r)
{
    if (r == NULL || r->closing)
        return;
    r->closing = 1;
    while (r->tries_head != NULL)
        query_release(r->tries_head);
    while (r->ended_head != NULL)
        query_release(r->ended_head);
    r->closes_pending += 2;
    uv_close((uv_handle_t *)r->timer, timer_close_cb);
    uv_close((uv_handle_t *)r->ended_timer, timer_close_cb);
}

/* ---- problem details ----------------------------------------------------------------------- */

/* The Extended DNS Error worth reporting (RFC 8914): the first that says DNSSEC validation
 * failed, else the first. NULL when there is none. */
static const acmeva_dns_ede *problem_ede(const acmeva_dns_msg *m)
{
    for (size_t i = 0; i < m->n_ede; i++)
        if (acmeva_dns_ede_is_dnssec(m->ede[i].code))
            return &m->ede[i];
    return m->n_ede > 0 ? &m->ede[0] : NULL;
}

int acmeva_dns_problem(const acmeva_dns_answer *a, const char *qtype_name, const char *name,
                       char *out, size_t outlen)
{
    switch (a->status) {
    case ACMEVA_DNS_TIMEOUT:
        snprintf(out, outlen, "DNS problem: query timed out looking up %s for %s", qtype_name,
                 name);
        return 1;
    case ACMEVA_DNS_NETWORK:
        snprintf(out, outlen, "DNS problem: networking error looking up %s for %s", qtype_name,
                 name);
        return 1;
    case ACMEVA_DNS_LOCAL:
        snprintf(out, outlen,
                 "Internal error: this validation server could not query DNS for %s for %s (%s)",
                 qtype_name, name, uv_strerror(a->error));
        return 1;
    case ACMEVA_DNS_OK:
        break;
    }
    int rcode = a->msg->rcode;
    if (rcode == ACMEVA_RCODE_NOERROR)
        return 0;
    const acmeva_dns_ede *ede = problem_ede(a->msg);
    const char *suffix = "";
    if (rcode == ACMEVA_RCODE_NXDOMAIN)
        suffix = " - check that a DNS record exists for this domain";
    else if (rcode == ACMEVA_RCODE_SERVFAIL && ede != NULL && acmeva_dns_ede_is_dnssec(ede->code))
        suffix = " - DNSSEC validation failed";
    else if (rcode == ACMEVA_RCODE_SERVFAIL)
        suffix = " - the domain's nameservers may be malfunctioning";
    /* RFC 8914 §2: the resolver's own words, as code, name and EXTRA-TEXT. The text is UTF-8
     * from the network: escaped, and cut to ACMEVA_DNS_EDE_TEXT_MAX bytes of output. */
    char why[64 + ACMEVA_DNS_EDE_TEXT_MAX] = "";
    if (ede != NULL) {
        char text[ACMEVA_DNS_EDE_TEXT_MAX + 1];
        if (acmeva_escape(ede->text, ede->text_len, text, sizeof(text), 0) < 0)
            text[0] = '\0';
        snprintf(why, sizeof(why), " (Extended DNS Error %u: %s%s%s)", (unsigned)ede->code,
                 acmeva_dns_ede_name(ede->code), text[0] ? ": " : "", text);
    }
    snprintf(out, outlen, "DNS problem: %s looking up %s for %s%s%s", acmeva_dns_rcode_name(rcode),
             qtype_name, name, suffix, why);
    return 1;
}

void acmeva_dns_answer_cnames(const acmeva_dns_msg *m, acmeva_strlist *out)
{
    /* The chain in its order from the question name (RFC 1034 §3.6.2), whatever order the
     * records came in; the answer holds only the chain (acmeva_dns_answer_chain). */
    char cur[256], owner[256], target[256];
    snprintf(cur, sizeof(cur), "%s", m->qname);
    for (char *p = cur; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    for (int hop = 0; hop < ACMEVA_DNS_MAX_CNAME_HOPS; hop++) {
        int found = 0;
        for (size_t i = 0; i < m->n_answers && !found; i++) {
            const acmeva_dns_rr *rr = &m->answers[i];
            if (rr->type != ACMEVA_DNS_CNAME || acmeva_dns_rr_owner(m, rr, owner) != 0 ||
                strcmp(owner, cur) != 0 || acmeva_dns_cname_target(m, rr, target) != 0)
                continue;
            found = 1;
        }
        if (!found)
            return;
        int seen = 0;
        for (size_t k = 0; k < out->n && !seen; k++)
            seen = strcmp(out->v[k], target) == 0;
        if (seen)
            return; /* a loop, or the other lookup of the same name already listed it */
        /* Names presented as text are printable ASCII (dnsmsg.c); escaped all the same. */
        char esc[ACMEVA_ESCAPE_MAX_GROWTH * 256 + 1];
        if (acmeva_escape((const uint8_t *)target, strlen(target), esc, sizeof(esc), 0) < 0 ||
            acmeva_strlist_add(out, esc, strlen(esc)) != 0)
            return;
        memcpy(cur, target, sizeof(cur));
    }
}

/* ---- host lookups: A and AAAA in parallel ------------------------------------------------ */

struct acmeva_host_lookup {
    acmeva_host_cb cb;
    void *arg;
    int allow_private;
    int pending;
    acmeva_dns_query *q4, *q6;
    char *err4, *err6; /* the problem detail of a failed lookup, allocated when it fails */
    int local;         /* a lookup failed for want of a socket (ACMEVA_DNS_LOCAL) */
    acmeva_strlist resolved4, resolved6;
    acmeva_strlist cnames; /* the CNAME chain from the name, as either answer gave it */
    char name[256];
    acmeva_host_addrs addrs;
};

static void host_finish(acmeva_host_lookup *h)
{
    acmeva_host_addrs *a = &h->addrs;
    /* IPv6 first, as they are used (DESIGN.md's example record). */
    acmeva_strlist_move(&a->resolved, &h->resolved6);
    acmeva_strlist_move(&a->resolved, &h->resolved4);
    acmeva_strlist_clear(&h->resolved4);
    acmeva_strlist_clear(&h->resolved6);
    if (a->n4 == 0 && a->n6 == 0) {
        a->failed = 1;
        /* Without a socket we cannot know what the other lookup would have found: this
         * machine's failure, never "no valid IP addresses" (DESIGN.md "Hardening"). */
        a->local_failure = h->local;
        if (h->local)
            snprintf(a->detail, sizeof(a->detail), "%s",
                     h->err4   ? h->err4
                     : h->err6 ? h->err6
                               : "Internal error: out of memory");
        else if (h->err4 != NULL && (h->err6 != NULL || a->resolved.n == 0))
            snprintf(a->detail, sizeof(a->detail), "%s", h->err4);
        else if (h->err6 != NULL && a->resolved.n == 0)
            snprintf(a->detail, sizeof(a->detail), "%s", h->err6);
        else
            snprintf(a->detail, sizeof(a->detail), "No valid IP addresses found for %s", h->name);
    }
    acmeva_strlist_move(&a->cnames, &h->cnames);
    acmeva_strlist_clear(&h->cnames);
    h->cb(h->arg, a);
    acmeva_strlist_clear(&a->resolved);
    acmeva_strlist_clear(&a->resolvers);
    acmeva_strlist_clear(&a->cnames);
    free(h->err4);
    free(h->err6);
    free(h);
}

static void host_answer(acmeva_host_lookup *h, const acmeva_dns_answer *ans, int family)
{
    acmeva_host_addrs *a = &h->addrs;
    char err[ACMEVA_DNS_PROBLEM_MAX];
    if (ans->status == ACMEVA_DNS_OK) {
        int seen = 0;
        for (size_t i = 0; i < a->resolvers.n; i++)
            seen |= strcmp(a->resolvers.v[i], ans->resolver) == 0;
        if (!seen)
            acmeva_strlist_add(&a->resolvers, ans->resolver, strlen(ans->resolver));
        a->answered++;
    }
    /* "secure" needs both answers, each authenticated (RFC 4035 §3.2.3): an address family
     * that went unanswered also shaped which addresses were used. */
    if (ans->status != ACMEVA_DNS_OK || !ans->msg->ad)
        a->all_secure = 0;
    h->local |= ans->status == ACMEVA_DNS_LOCAL;
    /* Kept on failure too: an alias to a name that does not exist answers NXDOMAIN with the
     * CNAME, and that CNAME is what a person needs to see. */
    if (ans->status == ACMEVA_DNS_OK)
        acmeva_dns_answer_cnames(ans->msg, &h->cnames);
    if (acmeva_dns_problem(ans, family == AF_INET ? "A" : "AAAA", h->name, err, sizeof(err))) {
        char *copy = strdup(err);
        if (copy == NULL) /* this machine's failure, reported as such */
            h->local = 1;
        *(family == AF_INET ? &h->err4 : &h->err6) = copy;
        return;
    }
    for (size_t i = 0; i < ans->msg->n_answers; i++) {
        uint8_t ip[16];
        int fam;
        char text[INET6_ADDRSTRLEN];
        if (acmeva_dns_addr(&ans->msg->answers[i], &fam, ip) != 0 || fam != family)
            continue;
        if (acmeva_addr_format(fam, ip, text, sizeof(text)) == 0)
            acmeva_strlist_add(fam == AF_INET ? &h->resolved4 : &h->resolved6, text, strlen(text));
        if (!h->allow_private && acmeva_addr_reserved(fam, ip))
            continue;
        if (fam == AF_INET && a->n4 < ACMEVA_MAX_ADDRS)
            memcpy(a->v4[a->n4++], ip, 4);
        else if (fam == AF_INET6 && a->n6 < ACMEVA_MAX_ADDRS)
            memcpy(a->v6[a->n6++], ip, 16);
    }
}

static void host_a_cb(void *arg, const acmeva_dns_answer *ans)
{
    acmeva_host_lookup *h = arg;
    h->q4 = NULL;
    host_answer(h, ans, AF_INET);
    if (--h->pending == 0)
        host_finish(h);
}

static void host_aaaa_cb(void *arg, const acmeva_dns_answer *ans)
{
    acmeva_host_lookup *h = arg;
    h->q6 = NULL;
    host_answer(h, ans, AF_INET6);
    if (--h->pending == 0)
        host_finish(h);
}

int acmeva_host_lookup_start(acmeva_resolver *r, const char *name, int allow_private,
                             acmeva_host_cb cb, void *arg, acmeva_host_lookup **out)
{
    *out = NULL;
    if (strlen(name) >= 256)
        return -1;
    acmeva_host_lookup *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return -1;
    h->cb = cb;
    h->arg = arg;
    h->allow_private = allow_private;
    h->addrs.all_secure = 1;
    snprintf(h->name, sizeof(h->name), "%s", name);
    if (acmeva_dns_query_start(r, name, ACMEVA_DNS_A, host_a_cb, h, &h->q4) != 0) {
        free(h);
        return -1;
    }
    h->pending = 1;
    if (acmeva_dns_query_start(r, name, ACMEVA_DNS_AAAA, host_aaaa_cb, h, &h->q6) != 0) {
        acmeva_dns_query_cancel(h->q4);
        free(h);
        return -1;
    }
    h->pending = 2;
    *out = h;
    return 0;
}

void acmeva_host_lookup_cancel(acmeva_host_lookup *h)
{
    if (h == NULL)
        return;
    acmeva_dns_query_cancel(h->q4);
    acmeva_dns_query_cancel(h->q6);
    acmeva_strlist_clear(&h->addrs.resolved);
    acmeva_strlist_clear(&h->addrs.resolvers);
    acmeva_strlist_clear(&h->resolved4);
    acmeva_strlist_clear(&h->resolved6);
    acmeva_strlist_clear(&h->cnames);
    free(h->err4);
    free(h->err6);
    free(h);
}

int acmeva_host_addrs_pick(const acmeva_host_addrs *a, int fam[2], uint8_t addr[2][16])
{
    int n = 0;
    if (a->n6 > 0) {
        fam[n] = AF_INET6;
        memcpy(addr[n++], a->v6[0], 16);
    }
    if (a->n4 > 0) {
        fam[n] = AF_INET;
        memcpy(addr[n++], a->v4[0], 4);
    }
    return n;
}

void acmeva_host_addrs_record(acmeva_host_addrs *a, acmeva_vrecord *rec)
{
    acmeva_strlist_move(&rec->addresses_resolved, &a->resolved);
    acmeva_strlist_move(&rec->resolver_addrs, &a->resolvers);
    acmeva_strlist_move(&rec->cnames, &a->cnames);
    if (a->answered > 0 && rec->dnssec == NULL)
        rec->dnssec = strdup(a->all_secure ? "secure" : "insecure");
}
