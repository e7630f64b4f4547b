/*
 * Unit tests of the DNS transport (worker/resolver.c) on a real loop, against a responder in
 * this process on 127.0.0.1 (UDP and TCP on one port) that can forge replies before the true
 * one, stay silent, truncate, and record the id and source port of every query it gets.
 * Also: a socket that cannot be opened (descriptors exhausted here) ends a query with
 * ACMEVA_DNS_LOCAL, and the checks turn that into serverInternal, marked as a local failure.
 */
#include "check.h"
#include "dnsmsg.h"
#include "engine_int.h"
#include "resolver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- the responder ------------------------------------------------------------------------- */

typedef enum {
    MODE_ANSWER, /* the true answer: A 127.0.0.7 for the name asked */
    MODE_FORGE,  /* forged replies of every kind, then the true answer */
    MODE_SILENT, /* nothing */
    MODE_TC,     /* UDP: TC=1, no records; TCP: a reply with the wrong id, then the true one */
    MODE_OWNER,  /* the true question, an A of another owner first, then the right A */
    MODE_NXDOMAIN_BELOW_TLD, /* NXDOMAIN, but NODATA for a single-label name */
    MODE_NXDOMAIN,           /* NXDOMAIN for every name */
} srv_mode;

#define SRV_MAX_SEEN 64

typedef struct srv {
    uv_udp_t udp;
    uv_tcp_t tcp;
    uv_tcp_t conn;
    int conn_open;
    uint8_t tbuf[1024];
    size_t tlen;
    uint16_t port;
    srv_mode mode;
    int udp_queries, tcp_queries;
    uint16_t seen_id[SRV_MAX_SEEN];
    uint16_t seen_port[SRV_MAX_SEEN];
    char seen_name[SRV_MAX_SEEN][64];
} srv;

static srv S;
static uint8_t srv_rbuf[2048];

/* qsec_len returns the length of the question section of query |q| (one question). */
static size_t qsec_len(const uint8_t *q, size_t n)
{
    size_t p = 12;
    while (p < n && q[p] != 0)
        p += 1 + q[p];
    return p + 1 + 4 - 12;
}

/* build_reply writes a reply to query |q| into |out|: flags, the question as asked (or
 * |qname_override| in its place), and an A record 127.0.0.|last| owned by the question name
 * (or by "other.example" first when |other_owner|). */
static size_t build_reply(const uint8_t *q, size_t n, uint8_t *out, uint16_t id, uint16_t flags,
                          int n_answers, int other_owner, uint8_t last)
{
    size_t qs = qsec_len(q, n);
    memset(out, 0, 12);
    out[0] = (uint8_t)(id >> 8);
    out[1] = (uint8_t)id;
    out[2] = (uint8_t)(flags >> 8);
    out[3] = (uint8_t)flags;
    out[5] = 1;
    out[7] = (uint8_t)(n_answers + (other_owner ? 1 : 0));
    memcpy(out + 12, q + 12, qs);
    size_t o = 12 + qs;
    if (other_owner) {
        static const uint8_t other[] = {5,   'o', 't', 'h', 'e', 'r', 7, 'e',
                                        'x', 'a', 'm', 'p', 'l', 'e', 0};
        memcpy(out + o, other, sizeof(other));
        o += sizeof(other);
        static const uint8_t rr[] = {0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 66};
        memcpy(out + o, rr, sizeof(rr));
        o += sizeof(rr);
    }
    for (int i = 0; i < n_answers; i++) {
        uint8_t rr[] = {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, last};
        memcpy(out + o, rr, sizeof(rr));
        o += sizeof(rr);
    }
    return o;
}

static void srv_send(const uint8_t *b, size_t n, const struct sockaddr *to)
{
    uv_buf_t buf = uv_buf_init((char *)b, (unsigned)n);
    CHECK(uv_udp_try_send(&S.udp, &buf, 1, to) == (int)n);
}

static void srv_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    b->base = (char *)srv_rbuf;
    b->len = sizeof(srv_rbuf);
}

static void srv_udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
                         unsigned flags)
{
    if (n < 12 || from == NULL)
        return;
    const uint8_t *q = (const uint8_t *)b->base;
    uint16_t id = (uint16_t)(q[0] << 8 | q[1]);
    if (S.udp_queries < SRV_MAX_SEEN) {
        S.seen_id[S.udp_queries] = id;
        S.seen_port[S.udp_queries] = ntohs(((const struct sockaddr_in *)from)->sin_port);
        size_t p = 12, o = 0;
        char *nm = S.seen_name[S.udp_queries];
        while (p < (size_t)n && q[p] != 0 && o + q[p] + 1 < 64) {
            if (o > 0)
                nm[o++] = '.';
            memcpy(nm + o, q + p + 1, q[p]);
            o += q[p];
            p += 1 + q[p];
        }
        nm[o] = '\0';
    }
    S.udp_queries++;
    uint8_t out[600];
    size_t len;
    if (n > 17 && strncasecmp((const char *)q + 13, "hold", 4) == 0)
        return; /* names starting with "hold" are never answered */
    switch (S.mode) {
    case MODE_SILENT:
        return;
    case MODE_FORGE: {
        /* Each forgery carries 127.0.0.66: it must never reach the answer. */
        size_t qs = qsec_len(q, (size_t)n);
        len = build_reply(q, (size_t)n, out, id ^ 0x0101, 0x8180, 1, 0, 66); /* wrong id */
        srv_send(out, len, from);
        len = build_reply(q, (size_t)n, out, id, 0x8180, 1, 0, 66); /* other letter case */
        for (size_t i = 13; i < 12 + qs - 4; i++)
            if ((out[i] | 0x20) >= 'a' && (out[i] | 0x20) <= 'z') {
                out[i] ^= 0x20;
                break;
            }
        srv_send(out, len, from);
        len = build_reply(q, (size_t)n, out, id, 0x8180, 1, 0, 66); /* other type */
        out[12 + qs - 3] = 28;
        srv_send(out, len, from);
        len = build_reply(q, (size_t)n, out, id, 0x8180, 1, 0, 66); /* other name */
        out[13] = out[13] == 'z' ? 'y' : 'z';
        srv_send(out, len, from);
        len = build_reply(q, (size_t)n, out, id, 0x0180, 1, 0, 66); /* QR clear */
        srv_send(out, len, from);
        len = build_reply(q, (size_t)n, out, id, 0x8180, 1, 0, 66); /* cut short */
        srv_send(out, len - 3, from);
        len = build_reply(q, (size_t)n, out, id, 0x8180, 1, 0, 7);
        srv_send(out, len, from);
        return;
    }
    case MODE_TC:
        len = build_reply(q, (size_t)n, out, id, 0x8380, 0, 0, 0);
        srv_send(out, len, from);
        return;
    case MODE_OWNER:
        len = build_reply(q, (size_t)n, out, id, 0x8180, 1, 1, 7);
        srv_send(out, len, from);
        return;
    case MODE_ANSWER:
        len = build_reply(q, (size_t)n, out, id, 0x8180, 1, 0, 7);
        srv_send(out, len, from);
        return;
    case MODE_NXDOMAIN_BELOW_TLD:
    case MODE_NXDOMAIN: {
        int tld = (size_t)(13 + q[12]) < (size_t)n && q[13 + q[12]] == 0;
        int nx = S.mode == MODE_NXDOMAIN || !tld;
        len = build_reply(q, (size_t)n, out, id, nx ? 0x8183 : 0x8180, 0, 0, 0);
        srv_send(out, len, from);
        return;
    }
    }
}

static void srv_tcp_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    b->base = (char *)S.tbuf + S.tlen;
    b->len = sizeof(S.tbuf) - S.tlen;
}

static void srv_write_done(uv_write_t *w, int status)
{
    free(w);
}

static void srv_tcp_write(const uint8_t *b, size_t n)
{
    struct {
        uv_write_t w;
        uint8_t data[700];
    } *m = malloc(sizeof(*m));
    m->data[0] = (uint8_t)(n >> 8);
    m->data[1] = (uint8_t)n;
    memcpy(m->data + 2, b, n);
    uv_buf_t buf = uv_buf_init((char *)m->data, (unsigned)(n + 2));
    CHECK(uv_write(&m->w, (uv_stream_t *)&S.conn, &buf, 1, srv_write_done) == 0);
}

static void srv_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n < 0) {
        uv_close((uv_handle_t *)&S.conn, NULL);
        S.conn_open = 0;
        return;
    }
    S.tlen += (size_t)n;
    if (S.tlen < 2 || S.tlen < 2u + (size_t)(S.tbuf[0] << 8 | S.tbuf[1]))
        return;
    const uint8_t *q = S.tbuf + 2;
    size_t qn = (size_t)(S.tbuf[0] << 8 | S.tbuf[1]);
    uint16_t id = (uint16_t)(q[0] << 8 | q[1]);
    uint8_t out[600];
    S.tcp_queries++;
    size_t len = build_reply(q, qn, out, id ^ 1, 0x8180, 1, 0, 66); /* a mismatch first */
    srv_tcp_write(out, len);
    len = build_reply(q, qn, out, id, 0x8180, 2, 0, 8);
    srv_tcp_write(out, len);
    S.tlen = 0;
}

static void srv_accept(uv_stream_t *l, int status)
{
    if (status != 0 || S.conn_open)
        return;
    uv_tcp_init(l->loop, &S.conn);
    if (uv_accept(l, (uv_stream_t *)&S.conn) == 0) {
        S.conn_open = 1;
        S.tlen = 0;
        uv_read_start((uv_stream_t *)&S.conn, srv_tcp_alloc, srv_tcp_read);
        uv_unref((uv_handle_t *)&S.conn);
    }
}

static void srv_start(uv_loop_t *loop)
{
    struct sockaddr_in a;
    memset(&S, 0, sizeof(S));
    uv_ip4_addr("127.0.0.1", 0, &a);
    CHECK(uv_udp_init(loop, &S.udp) == 0);
    CHECK(uv_udp_bind(&S.udp, (struct sockaddr *)&a, 0) == 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_udp_getsockname(&S.udp, (struct sockaddr *)&ss, &len);
    S.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    CHECK(uv_udp_recv_start(&S.udp, srv_alloc, srv_udp_recv) == 0);
    uv_ip4_addr("127.0.0.1", S.port, &a);
    CHECK(uv_tcp_init(loop, &S.tcp) == 0);
    CHECK(uv_tcp_bind(&S.tcp, (struct sockaddr *)&a, 0) == 0);
    CHECK(uv_listen((uv_stream_t *)&S.tcp, 8, srv_accept) == 0);
    /* The responder never keeps the loop alive: uv_run returns once the resolver has nothing
     * in flight, which is one of the things tested. */
    uv_unref((uv_handle_t *)&S.udp);
    uv_unref((uv_handle_t *)&S.tcp);
}

static void srv_stop(void)
{
    uv_close((uv_handle_t *)&S.udp, NULL);
    uv_close((uv_handle_t *)&S.tcp, NULL);
    if (S.conn_open)
        uv_close((uv_handle_t *)&S.conn, NULL);
}

/* ---- the client side ----------------------------------------------------------------------- */

typedef struct outcome {
    int calls;
    acmeva_dns_status status;
    int error;
    int tries;
    int rcode;
    size_t n_a;
    uint8_t last[8];                /* the last byte of each A address in the answer */
    acmeva_dns_query *cancel_in_cb; /* a query to cancel from this callback */
} outcome;

static void on_answer(void *arg, const acmeva_dns_answer *a)
{
    outcome *o = arg;
    o->calls++;
    o->status = a->status;
    o->error = a->error;
    o->tries = a->tries;
    if (a->status == ACMEVA_DNS_OK) {
        o->rcode = a->msg->rcode;
        for (size_t i = 0; i < a->msg->n_answers; i++) {
            int fam;
            uint8_t ip[16];
            if (acmeva_dns_addr(&a->msg->answers[i], &fam, ip) == 0 && o->n_a < 8)
                o->last[o->n_a++] = ip[3];
        }
    }
    if (o->cancel_in_cb != NULL) {
        acmeva_dns_query_cancel(o->cancel_in_cb);
        o->cancel_in_cb = NULL;
    }
}

static acmeva_engine_config CFG;

/* cfg_for points CFG at the responder. */
static void cfg_for(int dns_0x20, int timeout_ms, int tries)
{
    char addr[32];
    acmeva_engine_config_clear(&CFG);
    acmeva_engine_config_init(&CFG);
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)S.port);
    CFG.resolvers[0] = strdup(addr);
    CFG.n_resolvers = 1;
    CFG.dns_0x20 = dns_0x20;
    CFG.dns_timeout_ms = timeout_ms;
    CFG.dns_tries = tries;
}

static acmeva_resolver *resolver_on(uv_loop_t *loop, int dns_0x20, int timeout_ms, int tries)
{
    char err[256];
    cfg_for(dns_0x20, timeout_ms, tries);
    acmeva_resolver *r = NULL;
    CHECK(acmeva_resolver_new(loop, &CFG, &r, err, sizeof(err)) == 0);
    return r;
}

static double run_ms(uv_loop_t *loop)
{
    uint64_t t0 = uv_hrtime();
    uv_run(loop, UV_RUN_DEFAULT);
    return (double)(uv_hrtime() - t0) / 1e6;
}

/* ask sets the responder's |mode|, sends one query and runs the loop until nothing is in
 * flight. Returns the milliseconds that took. */
static double ask(uv_loop_t *loop, acmeva_resolver *r, srv_mode mode, const char *name,
                  uint16_t qtype, outcome *o)
{
    S.mode = mode;
    memset(o, 0, sizeof(*o));
    CHECK(acmeva_dns_query_start(r, name, qtype, on_answer, o, NULL) == 0);
    CHECK_INT(o->calls, 0); /* never from inside the start */
    return run_ms(loop);
}

/* resolver_done frees |r| and runs the loop until its handles are closed. */
static void resolver_done(uv_loop_t *loop, acmeva_resolver *r)
{
    acmeva_resolver_free(r);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* The true answer is taken, and uv_run returns as soon as it is delivered: no timer of the
 * resolver keeps the loop alive for the rest of the try's time. */
static void test_answer_and_prompt_exit(uv_loop_t *loop)
{
    const int timeout_ms = 5000;
    acmeva_resolver *r = resolver_on(loop, 1, timeout_ms, 3);
    outcome o;
    double ms = ask(loop, r, MODE_ANSWER, "www.example.com", ACMEVA_DNS_A, &o);
    CHECK_INT(o.calls, 1);
    CHECK_INT(o.status, ACMEVA_DNS_OK);
    CHECK(o.n_a == 1 && o.last[0] == 7);
    CHECK_MSG(ms < timeout_ms / 2, "uv_run took %.0f ms with a %d ms try", ms, timeout_ms);
    const acmeva_dns_stats *st = acmeva_resolver_stats(r);
    CHECK_INT(st->queries[ACMEVA_DNS_STAT_A][ACMEVA_DNS_STAT_NOERROR], 1);
    CHECK_INT(st->udp_tries, 1);
    uint64_t n = 0;
    for (int b = 0; b <= ACMEVA_DNS_DURATION_BUCKETS; b++)
        n += st->duration_buckets[b];
    CHECK_INT(n, 1);
    CHECK(st->duration_seconds_sum > 0);
    resolver_done(loop, r);
}

/* Forged replies from the resolver's address before the true one: each is dropped and
 * counted, none ends the query, and none of their records is taken. */
static void test_forged_replies(uv_loop_t *loop)
{
    acmeva_resolver *r = resolver_on(loop, 1, 5000, 1);
    outcome o;
    ask(loop, r, MODE_FORGE, "_acme-challenge.forge.example", ACMEVA_DNS_A, &o);
    CHECK_INT(o.status, ACMEVA_DNS_OK);
    CHECK(o.n_a == 1 && o.last[0] == 7);
    const acmeva_dns_stats *st = acmeva_resolver_stats(r);
    CHECK_INT(st->dropped[ACMEVA_DNS_DROP_WRONG_ID], 1);
    CHECK_INT(st->dropped[ACMEVA_DNS_DROP_WRONG_CASE], 1);
    CHECK_INT(st->dropped[ACMEVA_DNS_DROP_WRONG_QUESTION], 2);
    CHECK_INT(st->dropped[ACMEVA_DNS_DROP_NOT_RESPONSE], 1);
    CHECK_INT(st->dropped[ACMEVA_DNS_DROP_MALFORMED], 1);
    CHECK_INT(st->dropped[ACMEVA_DNS_DROP_WRONG_SOURCE], 0);
    CHECK_STR(acmeva_dns_drop_reason_name(ACMEVA_DNS_DROP_WRONG_CASE), "wrong_case");
    CHECK_STR(acmeva_dns_drop_reason_name(ACMEVA_DNS_DROP_REASONS), NULL);
    resolver_done(loop, r);

    /* Without 0x20 the name goes in the case given, and a reply in another case is still
     * dropped: the question must be byte for byte what was sent. */
    r = resolver_on(loop, 0, 5000, 1);
    S.udp_queries = 0;
    ask(loop, r, MODE_FORGE, "mixed.Example.com", ACMEVA_DNS_A, &o);
    CHECK(o.status == ACMEVA_DNS_OK && o.n_a == 1 && o.last[0] == 7);
    CHECK_STR(S.seen_name[0], "mixed.Example.com");
    CHECK_INT(acmeva_resolver_stats(r)->dropped[ACMEVA_DNS_DROP_WRONG_CASE], 1);
    resolver_done(loop, r);
}

/* No reply: every try times out, each from a fresh socket with a fresh id and case. */
static void test_silent_tries(uv_loop_t *loop)
{
    const int timeout_ms = 60, tries = 3;
    acmeva_resolver *r = resolver_on(loop, 1, timeout_ms, tries);
    S.udp_queries = 0;
    outcome o;
    double ms = ask(loop, r, MODE_SILENT, "silent.example.com", ACMEVA_DNS_TXT, &o);
    CHECK_INT(o.status, ACMEVA_DNS_TIMEOUT);
    CHECK_INT(o.tries, tries);
    CHECK_INT(S.udp_queries, tries);
    /* The loop's clock counts whole milliseconds: allow one a try. */
    CHECK_MSG(ms >= tries * (timeout_ms - 1), "%.1f ms for %d tries of %d ms", ms, tries,
              timeout_ms);
    /* Three draws of 16 bits agreeing would be a broken generator, not chance (2^-32). */
    CHECK(!(S.seen_id[0] == S.seen_id[1] && S.seen_id[1] == S.seen_id[2]));
    CHECK(!(S.seen_port[0] == S.seen_port[1] && S.seen_port[1] == S.seen_port[2]));
    /* The same name, in three cases (each of 15 letters' case drawn anew). */
    CHECK(strcasecmp(S.seen_name[0], "silent.example.com") == 0 &&
          strcasecmp(S.seen_name[2], "silent.example.com") == 0);
    CHECK(!(strcmp(S.seen_name[0], S.seen_name[1]) == 0 &&
            strcmp(S.seen_name[1], S.seen_name[2]) == 0));
    const acmeva_dns_stats *st = acmeva_resolver_stats(r);
    CHECK_INT(st->try_timeouts, tries);
    CHECK_INT(st->queries[ACMEVA_DNS_STAT_TXT][ACMEVA_DNS_STAT_TIMEOUT], 1);
    resolver_done(loop, r);
}

/* TC=1 over UDP: asked again over TCP, where a message with the wrong id is skipped. And a
 * record of another owner in a true reply. */
static void test_truncated(uv_loop_t *loop)
{
    acmeva_resolver *r = resolver_on(loop, 1, 5000, 1);
    outcome o;
    ask(loop, r, MODE_TC, "tc.example.com", ACMEVA_DNS_A, &o);
    CHECK_INT(o.status, ACMEVA_DNS_OK);
    CHECK(o.n_a == 2 && o.last[0] == 8 && o.last[1] == 8);
    CHECK_INT(S.tcp_queries, 1);
    const acmeva_dns_stats *st = acmeva_resolver_stats(r);
    CHECK_INT(st->tcp_tries, 1);
    CHECK_INT(st->dropped[ACMEVA_DNS_DROP_TCP_MISMATCH], 1);

    /* Records of another owner in a true reply are never taken. */
    ask(loop, r, MODE_OWNER, "host.example.com", ACMEVA_DNS_A, &o);
    CHECK(o.status == ACMEVA_DNS_OK && o.n_a == 1 && o.last[0] == 7);
    resolver_done(loop, r);
}

/* Cancel at any time, from anywhere; free the resolver with queries in flight. */
static void test_cancel_and_free(uv_loop_t *loop)
{
    acmeva_resolver *r = resolver_on(loop, 1, 5000, 3);
    S.mode = MODE_SILENT;
    outcome o1 = {0}, o2 = {0};
    acmeva_dns_query *q1, *q2;
    CHECK(acmeva_dns_query_start(r, "a.example.com", ACMEVA_DNS_A, on_answer, &o1, &q1) == 0);
    acmeva_dns_query_cancel(q1);
    double ms = run_ms(loop);
    CHECK_INT(o1.calls, 0);
    CHECK_MSG(ms < 2500, "a cancelled query kept the loop %.0f ms", ms);

    /* A callback cancels another query in flight (one the responder never answers). */
    S.mode = MODE_ANSWER;
    CHECK(acmeva_dns_query_start(r, "b.example.com", ACMEVA_DNS_A, on_answer, &o1, &q1) == 0);
    CHECK(acmeva_dns_query_start(r, "hold.example.com", ACMEVA_DNS_A, on_answer, &o2, &q2) == 0);
    o1.cancel_in_cb = q2;
    ms = run_ms(loop);
    CHECK_INT(o1.calls, 1);
    CHECK_INT(o2.calls, 0);
    CHECK_MSG(ms < 2500, "the loop ran %.0f ms", ms);

    /* Freed with queries in flight: no callback, nothing leaks (ASan), the loop ends. */
    S.mode = MODE_SILENT;
    memset(&o1, 0, sizeof(o1));
    for (int i = 0; i < 5; i++)
        CHECK(acmeva_dns_query_start(r, "d.example.com", ACMEVA_DNS_TXT, on_answer, &o1, NULL) ==
              0);
    acmeva_resolver_free(r);
    ms = run_ms(loop);
    CHECK_INT(o1.calls, 0);
    CHECK_MSG(ms < 2500, "the loop ran %.0f ms after the free", ms);

    /* Names that cannot make a query are refused at once, and the callback never runs. */
    r = resolver_on(loop, 1, 5000, 1);
    CHECK_INT(acmeva_dns_query_start(r, "a..b", ACMEVA_DNS_A, on_answer, &o1, NULL), UV_EINVAL);
    resolver_done(loop, r);
    CHECK_INT(o1.calls, 0);
}

/* ---- problem details with Extended DNS Errors (RFC 8914) ---------------------------------- */

/* ede_answer parses into |m| a response with |rcode| and the EDE options given as (code, text)
 * pairs, and points |a| at it. */
static void ede_answer(acmeva_dns_msg *m, uint8_t *buf, acmeva_dns_answer *a, int rcode, int n,
                       const uint16_t *codes, const char *const *texts)
{
    size_t p = 0;
    uint8_t hdr[] = {0, 1, 0x81, (uint8_t)(0x80 | rcode), 0, 1, 0, 0, 0, 0, 0, 1};
    memcpy(buf, hdr, sizeof(hdr));
    p = sizeof(hdr);
    static const uint8_t q[] = {1, 'x', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 16, 0, 1};
    memcpy(buf + p, q, sizeof(q));
    p += sizeof(q);
    buf[p++] = 0; /* OPT: root owner, type 41, class 1232, ttl 0 */
    uint8_t fixed[] = {0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
    memcpy(buf + p, fixed, sizeof(fixed));
    size_t rdlen_at = p + 8;
    p += sizeof(fixed);
    size_t start = p;
    for (int i = 0; i < n; i++) {
        size_t tl = strlen(texts[i]);
        buf[p++] = 0;
        buf[p++] = 15;
        buf[p++] = (uint8_t)((2 + tl) >> 8);
        buf[p++] = (uint8_t)(2 + tl);
        buf[p++] = (uint8_t)(codes[i] >> 8);
        buf[p++] = (uint8_t)codes[i];
        memcpy(buf + p, texts[i], tl);
        p += tl;
    }
    buf[rdlen_at] = (uint8_t)((p - start) >> 8);
    buf[rdlen_at + 1] = (uint8_t)(p - start);
    CHECK_INT(acmeva_dns_parse(buf, p, m), 0);
    memset(a, 0, sizeof(*a));
    a->status = ACMEVA_DNS_OK;
    a->msg = m;
}

static void test_ede_problem(void)
{
    acmeva_dns_msg *m = malloc(sizeof(*m));
    uint8_t *buf = malloc(4096);
    acmeva_dns_answer a;
    char out[ACMEVA_DNS_PROBLEM_MAX];

    uint16_t c6[] = {6};
    const char *t6[] = {"validation failure <x.example. TXT IN>: signature expired"};
    ede_answer(m, buf, &a, ACMEVA_RCODE_SERVFAIL, 1, c6, t6);
    CHECK_INT(acmeva_dns_problem(&a, "TXT", "x.example", out, sizeof(out)), 1);
    CHECK_STR(out, "DNS problem: SERVFAIL looking up TXT for x.example - DNSSEC validation failed "
                   "(Extended DNS Error 6: DNSSEC Bogus: validation failure <x.example. TXT IN>: "
                   "signature expired)");

    uint16_t c22[] = {22};
    const char *t22[] = {""};
    ede_answer(m, buf, &a, ACMEVA_RCODE_SERVFAIL, 1, c22, t22);
    acmeva_dns_problem(&a, "TXT", "x.example", out, sizeof(out));
    CHECK_STR(out, "DNS problem: SERVFAIL looking up TXT for x.example - the domain's nameservers "
                   "may be malfunctioning (Extended DNS Error 22: No Reachable Authority)");

    /* Several: the one about DNSSEC is the one reported. */
    uint16_t c2[] = {22, 9};
    const char *t2[] = {"no server", "no DNSKEY"};
    ede_answer(m, buf, &a, ACMEVA_RCODE_SERVFAIL, 2, c2, t2);
    acmeva_dns_problem(&a, "A", "x.example", out, sizeof(out));
    CHECK_STR(out, "DNS problem: SERVFAIL looking up A for x.example - DNSSEC validation failed "
                   "(Extended DNS Error 9: DNSKEY Missing: no DNSKEY)");

    /* The text is the network's: escaped (control byte, invalid UTF-8, quote), and cut. */
    const char *tx[] = {"a\x01"
                        "b\xff\"c"};
    ede_answer(m, buf, &a, ACMEVA_RCODE_SERVFAIL, 1, c22, tx);
    acmeva_dns_problem(&a, "TXT", "x.example", out, sizeof(out));
    CHECK_MSG(strstr(out, "No Reachable Authority: a\\x01b\xef\xbf\xbd\\\"c)") != NULL, "%s", out);
    char long_text[1001], name[254];
    memset(long_text, 'w', 1000);
    long_text[1000] = '\0';
    memset(name, 'n', 253);
    for (int i = 63; i < 253; i += 64)
        name[i] = '.';
    name[253] = '\0';
    const char *tl[] = {long_text};
    uint16_t c0[] = {0};
    ede_answer(m, buf, &a, ACMEVA_RCODE_SERVFAIL, 1, c0, tl);
    acmeva_dns_problem(&a, "AAAA", name, out, sizeof(out));
    size_t len = strlen(out);
    CHECK_MSG(len + 1 < sizeof(out) && out[len - 1] == ')', "%zu bytes: ...%s", len,
              out + (len > 40 ? len - 40 : 0));
    CHECK(strstr(out, "(Extended DNS Error 0: Other Error: wwww") != NULL);

    /* Another rcode: the EDE is still told; no EDE: Boulder's words alone. */
    uint16_t c18[] = {18};
    const char *t18[] = {""};
    ede_answer(m, buf, &a, ACMEVA_RCODE_REFUSED, 1, c18, t18);
    acmeva_dns_problem(&a, "CAA", "x.example", out, sizeof(out));
    CHECK_STR(out, "DNS problem: REFUSED looking up CAA for x.example (Extended DNS Error 18: "
                   "Prohibited)");
    ede_answer(m, buf, &a, ACMEVA_RCODE_SERVFAIL, 0, NULL, NULL);
    acmeva_dns_problem(&a, "TXT", "x.example", out, sizeof(out));
    CHECK_STR(out, "DNS problem: SERVFAIL looking up TXT for x.example - the domain's nameservers "
                   "may be malfunctioning");
    ede_answer(m, buf, &a, ACMEVA_RCODE_NOERROR, 1, c6, t6);
    CHECK_INT(acmeva_dns_problem(&a, "TXT", "x.example", out, sizeof(out)), 0);
    free(buf);
    free(m);
}

/* ---- this machine out of descriptors ------------------------------------------------------- */

static int fillers[4096];
static int n_fillers;
static struct rlimit saved_limit;

/* exhaust_fds lowers the soft descriptor limit a little above what is open and fills it. */
static void exhaust_fds(void)
{
    getrlimit(RLIMIT_NOFILE, &saved_limit);
    int highest = open("/dev/null", O_RDONLY);
    close(highest);
    struct rlimit l = saved_limit;
    l.rlim_cur = (rlim_t)highest + 16;
    CHECK(setrlimit(RLIMIT_NOFILE, &l) == 0);
    int fd;
    while (n_fillers < 4096 && (fd = open("/dev/null", O_RDONLY)) >= 0)
        fillers[n_fillers++] = fd;
}

static void restore_fds(void)
{
    while (n_fillers > 0)
        close(fillers[--n_fillers]);
    setrlimit(RLIMIT_NOFILE, &saved_limit);
}

static void test_no_socket(uv_loop_t *loop)
{
    acmeva_resolver *r = resolver_on(loop, 1, 5000, 3);
    outcome o;
    exhaust_fds();
    ask(loop, r, MODE_ANSWER, "nofd.example.com", ACMEVA_DNS_A, &o);
    restore_fds();
    CHECK_INT(o.calls, 1);
    CHECK_INT(o.status, ACMEVA_DNS_LOCAL);
    CHECK_INT(o.error, UV_EMFILE);
    CHECK_INT(acmeva_resolver_stats(r)->queries[ACMEVA_DNS_STAT_A][ACMEVA_DNS_STAT_LOCAL], 1);
    char detail[256];
    acmeva_dns_answer a = {ACMEVA_DNS_LOCAL, UV_EMFILE, NULL, "127.0.0.1:53", 1};
    CHECK(acmeva_dns_problem(&a, "A", "nofd.example.com", detail, sizeof(detail)) == 1);
    CHECK_MSG(strstr(detail, "Internal error") != NULL && strstr(detail, "DNS problem") == NULL,
              "%s", detail);
    resolver_done(loop, r);
}

typedef struct got_result {
    acmeva_result *r;
} got_result;

static void on_result(acmeva_result *res, void *arg)
{
    ((got_result *)arg)->r = res;
}

/* validate runs |job_text| through a new engine pointed at the responder, with this process's
 * descriptors exhausted while it runs when |no_fds|, and returns its result (the caller
 * frees it), or NULL. */
static acmeva_result *validate(uv_loop_t *loop, const char *job_text, int no_fds)
{
    char err[256];
    acmeva_engine *e = NULL;
    acmeva_job *job = NULL;
    got_result g = {NULL};
    cfg_for(1, 5000, 1);
    CHECK(acmeva_engine_new(loop, &CFG, NULL, &e, err, sizeof(err)) == 0);
    CHECK(acmeva_job_parse(job_text, strlen(job_text), &job, NULL) == 0);
    if (no_fds)
        exhaust_fds();
    CHECK(acmeva_engine_validate(e, job, 1, on_result, &g, NULL) == 0);
    uv_run(loop, UV_RUN_DEFAULT);
    if (no_fds)
        restore_fds();
    acmeva_engine_free(e);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(g.r != NULL);
    return g.r;
}

/* The checks turn a lookup without a socket into serverInternal, marked as local, for every
 * kind of lookup: TXT (dns-01), CAA, and A/AAAA (http-01). */
static void test_checks_local_failure(uv_loop_t *loop)
{
    static const char *const jobs[] = {
        "{\"v\":1,\"id\":\"d\",\"identifier\":{\"type\":\"dns\",\"value\":\"x.example.com\"},"
        "\"challenge\":{\"type\":\"dns-01\",\"token\":"
        "\"LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0\"},"
        "\"keyAuthorization\":\"LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-"
        "EBXdN7cBkH1WOu0tA3M9fm21mqTI\"}",
        "{\"v\":1,\"id\":\"c\",\"identifier\":{\"type\":\"dns\",\"value\":\"x.example.com\"},"
        "\"caa\":{\"issuerDomains\":[\"ca.example\"]}}",
        "{\"v\":1,\"id\":\"h\",\"identifier\":{\"type\":\"dns\",\"value\":\"x.example.com\"},"
        "\"challenge\":{\"type\":\"http-01\",\"token\":"
        "\"LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0\"},"
        "\"keyAuthorization\":\"LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-"
        "EBXdN7cBkH1WOu0tA3M9fm21mqTI\"}",
    };
    S.mode = MODE_ANSWER;
    for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
        acmeva_result *r = validate(loop, jobs[i], 1);
        if (r == NULL)
            continue;
        CHECK_MSG(!r->valid && r->problem.type == ACMEVA_PROB_SERVER_INTERNAL &&
                      r->local_failure == 1,
                  "job %zu: valid %d, problem %d, local %d: %s", i, r->valid, (int)r->problem.type,
                  r->local_failure, r->problem.detail ? r->problem.detail : "");
        acmeva_result_free(r);
    }
}

/* CAA (RFC 8659 §3): NXDOMAIN below the TLD is an empty set; at the TLD it fails the check. */
static void test_caa_nxdomain(uv_loop_t *loop)
{
    static const char job_text[] =
        "{\"v\":1,\"id\":\"c\",\"identifier\":{\"type\":\"dns\",\"value\":\"www.shop.test\"},"
        "\"caa\":{\"issuerDomains\":[\"ca.example\"]}}";
    S.mode = MODE_NXDOMAIN_BELOW_TLD;
    acmeva_result *r = validate(loop, job_text, 0);
    CHECK_MSG(r != NULL && r->valid && r->caa_valid, "NXDOMAIN below the TLD: %s",
              r && r->problem.detail ? r->problem.detail : "valid");
    acmeva_result_free(r);
    S.mode = MODE_NXDOMAIN;
    r = validate(loop, job_text, 0);
    CHECK(r != NULL && !r->valid && !r->caa_valid && r->problem.type == ACMEVA_PROB_DNS &&
          r->local_failure == 0);
    CHECK_STR(r ? r->problem.detail : NULL,
              "While processing CAA for www.shop.test: DNS problem: NXDOMAIN looking up CAA for "
              "test - check that a DNS record exists for this domain");
    acmeva_result_free(r);
}

int main(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    srv_start(&loop);
    test_answer_and_prompt_exit(&loop);
    test_forged_replies(&loop);
    test_silent_tries(&loop);
    test_truncated(&loop);
    test_cancel_and_free(&loop);
    test_ede_problem();
    test_caa_nxdomain(&loop);
    test_no_socket(&loop);
    test_checks_local_failure(&loop);
    srv_stop();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
    acmeva_engine_config_clear(&CFG);
    return CHECK_DONE();
}
