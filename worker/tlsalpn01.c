/*
 * tls-alpn-01 (RFC 8737, RFC 8738 §6, BR 3.2.2.4.20), as Boulder's VA does it: a TLS 1.2+
 * handshake to port 443 of the first IPv6 address, then the first IPv4 address after any
 * error, with SNI = the identifier (the reverse name for an IP identifier) and exactly one
 * ALPN protocol offered, "acme-tls/1"; the negotiated protocol must be acme-tls/1 and the
 * leaf certificate must prove control (certcheck.c). Nothing is sent after the handshake, and
 * a server that closes right after it is fine: the check is done by then.
 */
#include <arpa/inet.h>
#include <openssl/pool.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrpolicy.h"
#include "certcheck.h"
#include "conn.h"
#include "engine_int.h"
#include "escape.h"

static const uint8_t acme_tls_1[] = {10, 'a', 'c', 'm', 'e', '-', 't', 'l', 's', '/', '1'};

typedef enum {
    TLSALPN_RESOLVING,
    TLSALPN_QUEUED, /* waiting for a turn to connect to the address (--max-per-destination) */
    TLSALPN_CONNECTING,
    TLSALPN_HANDSHAKE,
    TLSALPN_DONE,
} tlsalpn_state;

typedef struct tlsalpn {
    acmeva_validation *v;
    tlsalpn_state state;
    uv_timer_t *timer;
    acmeva_host_lookup *lookup;
    acmeva_conn *conn;
    char sni[ACMEVA_REVERSE_NAME_MAX + 256];
    uint8_t ident_ip[16];
    size_t ident_ip_len;
    int fam[2];
    uint8_t addr[2][16];
    int n_addrs, cur;
    char peer[300]; /* "ip:port" / "[ip]:port" of the current address */
    char addr_text[64];
    char last_error[512];
    acmeva_problem_type last_type;
    /* The first connect that failed because of this machine (0: none), and the index of its
     * address: if no later address answers, that is the outcome. */
    int local_status, local_cur;
} tlsalpn;

static void release(tlsalpn *t)
{
    acmeva_host_lookup_cancel(t->lookup);
    t->lookup = NULL;
    acmeva_conn_close(t->conn, 1);
    t->conn = NULL;
    acmeva_timer_free(t->timer);
    t->timer = NULL;
}

static void finish(tlsalpn *t, int ok)
{
    acmeva_validation *v = t->v;
    t->state = TLSALPN_DONE;
    release(t);
    v->challenge_ok = ok;
    free(t);
    acmeva_validation_check_done(v, ACMEVA_CHECK_CHALLENGE);
}

static void fail(tlsalpn *t, acmeva_problem_type type, const char *fmt, ...)
{
    char detail[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    acmeva_validation_set_problem(t->v, type, detail);
    finish(t, 0);
}

static acmeva_vrecord *record(tlsalpn *t)
{
    return &t->v->result->records[0];
}

/* A failure of this machine (DESIGN.md "Hardening"): serverInternal, never the subscriber's. */
static void fail_local(tlsalpn *t, const char *what)
{
    acmeva_validation_local_failure(t->v, 0, "%s: %s", t->peer[0] ? t->peer : t->addr_text, what);
    finish(t, 0);
}

static void try_next(tlsalpn *t);

/* set_peer writes the current address into addr_text and, with the port, into peer. */
static void set_peer(tlsalpn *t)
{
    int fam = t->fam[t->cur];
    acmeva_addr_format(fam, t->addr[t->cur], t->addr_text, sizeof(t->addr_text));
    snprintf(t->peer, sizeof(t->peer), fam == AF_INET6 ? "[%s]:%u" : "%s:%u", t->addr_text,
             (unsigned)t->v->e->cfg->tls_port);
}

/* Boulder (va/tlsalpn.go): any error on the IPv6 address falls back to the IPv4 address. */
static void attempt_failed(tlsalpn *t, acmeva_problem_type type, const char *what);

/* A connect error. One of this machine's falls back like any other (no free port for IPv6
 * need not mean none for IPv4), but is remembered: when no address answers, an address this
 * machine could not try must not fail the subscriber. */
static void connect_failed(tlsalpn *t, int status)
{
    if (acmeva_conn_error_is_local(status) && t->local_status == 0) {
        t->local_status = status;
        t->local_cur = t->cur;
    }
    attempt_failed(t, ACMEVA_PROB_CONNECTION, acmeva_conn_error_text(status));
}

static void attempt_failed(tlsalpn *t, acmeva_problem_type type, const char *what)
{
    snprintf(t->last_error, sizeof(t->last_error), "%s: %s", t->addr_text, what);
    t->last_type = type;
    if (t->cur + 1 < t->n_addrs && acmeva_validation_remaining_ms(t->v) > 0) {
        acmeva_conn_close(t->conn, 1);
        t->conn = NULL;
        acmeva_validation_list_add(t->v, &record(t)->addresses_tried, t->addr_text,
                                   strlen(t->addr_text));
        acmeva_validation_list_add(t->v, &record(t)->tried_errors, what, strlen(what));
        t->cur++;
        try_next(t);
        return;
    }
    if (t->local_status != 0) {
        t->cur = t->local_cur;
        set_peer(t);
        fail_local(t, uv_strerror(t->local_status));
        return;
    }
    fail(t, type, "%s", t->last_error);
}

static void check_certificate(tlsalpn *t)
{
    const acmeva_job *job = t->v->job;
    SSL *ssl = acmeva_conn_ssl(t->conn);
    const uint8_t *proto = NULL;
    unsigned proto_len = 0;
    SSL_get0_alpn_selected(ssl, &proto, &proto_len);
    acmeva_vrecord *rec = record(t);
    if (proto_len > 0 && (rec->alpn = acmeva_escape_dup(proto, proto_len, 0)) == NULL)
        acmeva_validation_nomem(t->v);
    /* The names of the certificate seen, for a person to recognise it (often the site's own
     * certificate, served by a web server that does not speak tls-alpn-01). */
    const STACK_OF(CRYPTO_BUFFER) *certs = SSL_get0_peer_certificates(ssl);
    const CRYPTO_BUFFER *leaf =
        certs != NULL && sk_CRYPTO_BUFFER_num(certs) > 0 ? sk_CRYPTO_BUFFER_value(certs, 0) : NULL;
    if (leaf != NULL && acmeva_cert_names(CRYPTO_BUFFER_data(leaf), CRYPTO_BUFFER_len(leaf),
                                          &rec->cert_names) == ACMEVA_CERT_ENOMEM)
        acmeva_validation_nomem(t->v);
    if (proto_len != sizeof(acme_tls_1) - 1 || memcmp(proto, acme_tls_1 + 1, proto_len) != 0) {
        /* RFC 8737 §3: the server must negotiate acme-tls/1. */
        t->v->e->stats.tls_failures[ACMEVA_TLS_FAIL_ALPN]++;
        fail(t, ACMEVA_PROB_UNAUTHORIZED,
             "Cannot negotiate ALPN protocol \"acme-tls/1\" for tls-alpn-01 challenge");
        return;
    }
    if (leaf == NULL) {
        fail(t, ACMEVA_PROB_UNAUTHORIZED, "No certs presented for tls-alpn-01 challenge");
        return;
    }
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256((const uint8_t *)job->key_authorization, strlen(job->key_authorization), digest);
    char reason[ACMEVA_CERT_REASON_MAX];
    int is_ip = job->ident_type == ACMEVA_IDENT_IP;
    int rc = acmeva_tlsalpn01_check_cert(CRYPTO_BUFFER_data(leaf), CRYPTO_BUFFER_len(leaf), is_ip,
                                         is_ip ? NULL : job->ident_value, t->ident_ip,
                                         t->ident_ip_len, digest, reason, sizeof(reason));
    if (rc == ACMEVA_CERT_ENOMEM || rc == ACMEVA_CERT_EINVAL) {
        fail_local(t, reason); /* no memory while checking it */
        return;
    }
    if (rc != 0) {
        /* A certificate that is not even well-formed DER is a tls problem (Boulder: the TLS
         * stack refuses it); a well-formed one that proves nothing is unauthorized. */
        /* Boulder names the identifier here (the IP itself for an IP identifier, not the
         * reverse name sent as SNI). */
        fail(t, rc == ACMEVA_CERT_EMALFORMED ? ACMEVA_PROB_TLS : ACMEVA_PROB_UNAUTHORIZED,
             "Incorrect validation certificate for tls-alpn-01 challenge. Requested %s from %s. %s",
             job->ident_value, t->peer, reason);
        return;
    }
    finish(t, 1);
}

static void on_dial(void *arg);
static void on_connect(void *arg, int status);
static void on_handshake(void *arg, int status, const char *reason);
static void on_read(void *arg, const char *buf, ssize_t n)
{
    /* Nothing is read after the handshake; bytes or a close then are no concern. */
}
static const acmeva_conn_cbs tlsalpn_conn_cbs = {on_dial, on_connect, on_handshake, on_read};

static void connect_timeout_cb(uv_timer_t *tm)
{
    connect_failed(tm->data, UV_ETIMEDOUT);
}

static void on_dial(void *arg)
{
    tlsalpn *t = arg;
    t->state = TLSALPN_CONNECTING;
    uv_timer_start(t->timer, connect_timeout_cb,
                   acmeva_phase_ms(t->v, t->v->e->cfg->connect_timeout_ms), 0);
}

static void handshake_timeout_cb(uv_timer_t *tm)
{
    ((tlsalpn *)tm->data)->v->e->stats.tls_failures[ACMEVA_TLS_FAIL_TIMEOUT]++;
    attempt_failed(tm->data, ACMEVA_PROB_CONNECTION,
                   "Timeout during TLS handshake (your server may be slow or overloaded)");
}

static void on_connect(void *arg, int status)
{
    tlsalpn *t = arg;
    if (status != 0) {
        connect_failed(t, status);
        return;
    }
    t->state = TLSALPN_HANDSHAKE;
    uv_timer_start(t->timer, handshake_timeout_cb,
                   acmeva_phase_ms(t->v, t->v->e->cfg->tls_timeout_ms), 0);
    int rc =
        acmeva_conn_start_tls(t->conn, t->v->e->ssl_ctx, t->sni, acme_tls_1, sizeof(acme_tls_1));
    if (rc != 0 && acmeva_conn_error_is_local(rc))
        fail_local(t, "TLS setup failed: out of memory");
    else if (rc != 0)
        attempt_failed(t, ACMEVA_PROB_TLS, "TLS setup failed");
}

static void on_handshake(void *arg, int status, const char *reason)
{
    tlsalpn *t = arg;
    if (status != 0) {
        char what[400];
        int not_tls = acmeva_conn_peer_spoke_http(t->conn);
        t->v->e->stats.tls_failures[not_tls ? ACMEVA_TLS_FAIL_NOT_TLS : ACMEVA_TLS_FAIL_HANDSHAKE]++;
        if (not_tls)
            snprintf(what, sizeof(what), "Server only speaks HTTP, not TLS");
        else
            snprintf(what, sizeof(what), "TLS handshake failed: %s", reason ? reason : "error");
        attempt_failed(t, ACMEVA_PROB_TLS, what);
        return;
    }
    uv_timer_stop(t->timer);
    check_certificate(t);
}

static void try_next(tlsalpn *t)
{
    const acmeva_engine_config *cfg = t->v->e->cfg;
    struct sockaddr_storage ss;
    int fam = t->fam[t->cur];
    acmeva_sockaddr_make(&ss, fam, t->addr[t->cur], cfg->tls_port);
    set_peer(t);
    int rc = acmeva_conn_connect(t->v->e->dialer, (struct sockaddr *)&ss, &tlsalpn_conn_cbs, t,
                                 &t->conn);
    if (rc == ACMEVA_CONN_ERESERVED) {
        /* An IP identifier that the address policy refuses: nothing was dialled. */
        char why[256];
        acmeva_addr_reserved_text(fam, t->addr[t->cur], why, sizeof(why));
        fail(t, ACMEVA_PROB_CONNECTION, "%s: %s", t->addr_text, why);
        return;
    }
    acmeva_vrecord *rec = record(t);
    free(rec->address_used);
    rec->address_used = acmeva_validation_strdup(t->v, t->addr_text);
    if (rc != 0) {
        connect_failed(t, rc);
        return;
    }
    if (acmeva_conn_queued(t->conn)) {
        /* Waiting for a turn counts against the job's deadline only (on_dial arms the
         * connect's own limit). */
        t->state = TLSALPN_QUEUED;
        uv_timer_start(t->timer, connect_timeout_cb, acmeva_phase_ms(t->v, 0), 0);
        return;
    }
    on_dial(t);
}

static void on_lookup(void *arg, acmeva_host_addrs *a)
{
    tlsalpn *t = arg;
    t->lookup = NULL;
    acmeva_host_addrs_record(a, record(t));
    if (a->failed) {
        fail(t, acmeva_validation_dns_failure(t->v, a->local_failure), "%s", a->detail);
        return;
    }
    t->n_addrs = acmeva_engine_pick_addrs(t->v->e, a, t->fam, t->addr);
    if (t->n_addrs == 0) {
        fail(t, ACMEVA_PROB_DNS, "No valid IP addresses found for %s", t->v->job->ident_value);
        return;
    }
    t->cur = 0;
    try_next(t);
}

static void resolve_timeout_cb(uv_timer_t *tm)
{
    tlsalpn *t = tm->data;
    fail(t, ACMEVA_PROB_DNS, "DNS problem: query timed out looking up A for %s",
         t->v->job->ident_value);
}

static int tlsalpn_start(acmeva_validation *v, void **state)
{
    const acmeva_job *job = v->job;
    tlsalpn *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -1;
    t->v = v;
    acmeva_vrecord *rec = acmeva_result_add_record(v->result);
    t->timer = rec ? acmeva_timer_new(v->e->loop, t) : NULL;
    if (t->timer == NULL) {
        free(t);
        return -1;
    }
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)v->e->cfg->tls_port);
    rec->hostname = acmeva_validation_strdup(v, job->ident_value);
    rec->port = acmeva_validation_strdup(v, port);
    *state = t;

    if (job->ident_type == ACMEVA_IDENT_IP) {
        /* RFC 8738 §6: SNI is the reverse name; the connection goes to the address itself. */
        int fam = inet_pton(AF_INET, job->ident_value, t->ident_ip) == 1 ? AF_INET : AF_INET6;
        if (fam == AF_INET6 && inet_pton(AF_INET6, job->ident_value, t->ident_ip) != 1) {
            fail(t, ACMEVA_PROB_MALFORMED, "Invalid IP identifier %s", job->ident_value);
            return 0;
        }
        t->ident_ip_len = fam == AF_INET ? 4 : 16;
        acmeva_tlsalpn01_reverse_name(fam, t->ident_ip, t->sni, sizeof(t->sni));
        acmeva_validation_list_add(v, &rec->addresses_resolved, job->ident_value,
                                   strlen(job->ident_value));
        /* The connection layer applies the address policy (try_next). */
        t->n_addrs = 1;
        t->fam[0] = fam;
        memcpy(t->addr[0], t->ident_ip, t->ident_ip_len);
        try_next(t);
        return 0;
    }
    snprintf(t->sni, sizeof(t->sni), "%s", job->ident_value);
    if (v->pinned) {
        /* acmeva check --all-addresses: this run tries one address of the identifier, the one
         * it is pinned to, without a lookup. */
        acmeva_validation_list_add(v, &rec->addresses_resolved, v->pin_text, strlen(v->pin_text));
        t->n_addrs = 1;
        t->fam[0] = v->pin_fam;
        memcpy(t->addr[0], v->pin_addr, v->pin_fam == AF_INET6 ? 16 : 4);
        try_next(t);
        return 0;
    }
    t->state = TLSALPN_RESOLVING;
    uv_timer_start(t->timer, resolve_timeout_cb, acmeva_phase_ms(v, 0), 0);
    if (acmeva_engine_lookup_host(v->e, job->ident_value, on_lookup, t, &t->lookup) != 0) {
        acmeva_validation_local_failure(v, 0, "cannot start a DNS lookup for %s",
                                        job->ident_value);
        finish(t, 0);
    }
    return 0;
}

static void tlsalpn_cancel(void *state)
{
    tlsalpn *t = state;
    release(t);
    free(t);
}

const acmeva_check_ops acmeva_tlsalpn01_ops = {tlsalpn_start, tlsalpn_cancel};
