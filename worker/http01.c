/*
 * http-01 (RFC 8555 §8.3, BR 3.2.2.4.19), as Boulder's VA does it: GET
 * http://<identifier>/.well-known/acme-challenge/<token>, redirects followed by our own policy
 * (redirect.c) with a fresh lookup and a validation record per hop, the first IPv6 address
 * then the first IPv4 address (fallback only when the connect fails), status exactly 200,
 * at most 128 body bytes, trailing whitespace trimmed, exact compare.
 *
 * One struct, one state, one timer re-armed per phase (resolve, connect, TLS, response),
 * each phase bounded by its own limit and by the job's deadline; one finish().
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pool.h>
#include <openssl/ssl.h>

#include "addrpolicy.h"
#include "certcheck.h"
#include "conn.h"
#include "engine_int.h"
#include "escape.h"
#include "http01.h"
#include "httpreader.h"
#include "redirect.h"

/* Boulder follows a redirect while fewer than 11 were followed before it: the 11th is
 * followed and the 12th fails (va/http.go, numRedirects > maxRedirect with maxRedirect 10). */
#define HTTP01_MAX_REDIRECTS 10
/* Time to the first response byte after the request is sent. */
#define HTTP01_FIRST_BYTE_MS 10000
#define HTTP01_URL_MAX 2200

typedef enum {
    HTTP01_RESOLVING,
    HTTP01_QUEUED, /* waiting for a turn to connect to the address (--max-per-destination) */
    HTTP01_CONNECTING,
    HTTP01_TLS,
    HTTP01_WAITING, /* request sent, no byte back yet */
    HTTP01_READING,
    HTTP01_DONE,
} http01_state;

typedef struct http01 {
    acmeva_validation *v;
    http01_state state;
    /* The request's one timer, inside it: the struct is freed from the timer's close
     * callback (http01_free), which saves an allocation per validation. */
    uv_timer_t timer;
    /* The phase's limit: at |due| (loop time) |on_due| runs. The timer itself may be armed
     * earlier (|armed|, for an earlier phase's limit): it then finds the limit not reached
     * and re-arms for it. */
    uint64_t due, armed;
    uv_timer_cb on_due;
    acmeva_host_lookup *lookup;
    acmeva_conn *conn;
    /* Allocated when the first byte of the response (or its end) arrives: a validation
     * held by a server that never answers carries no reader. */
    acmeva_httpreader *reader;
    acmeva_url url; /* the current hop */
    const char *url_text; /* the current hop's URL: its record's url, owned by the result */
    size_t rec; /* index of the current hop's validation record */
    int redirects;
    /* The addresses of this hop, in order of use: the first IPv6, then the first IPv4. */
    int fam[2];
    uint8_t addr[2][16];
    int n_addrs, cur;
    char addr_text[INET6_ADDRSTRLEN]; /* the address in use; "" before one is chosen */
    /* The first connect of this hop that failed because of this machine (0: none), and the
     * index of its address: if no later address answers, that is the outcome. */
    int local_status, local_cur;
} http01;

static void hop_begin(http01 *h, const char *url_text);

/* where names the peer in a problem detail: the address in use, or the host before one is
 * chosen. */
static const char *where(const http01 *h)
{
    return h->addr_text[0] != '\0' ? h->addr_text : h->url.host;
}

static void reader_free(http01 *h)
{
    if (h->reader != NULL) {
        acmeva_httpreader_clear(h->reader);
        free(h->reader);
        h->reader = NULL;
    }
}

static acmeva_vrecord *record(http01 *h)
{
    return &h->v->result->records[h->rec];
}

static void phase_timer_cb(uv_timer_t *t)
{
    http01 *h = t->data;
    uint64_t now = uv_now(h->v->e->loop);
    if (now < h->due) {
        h->armed = h->due;
        uv_timer_start(&h->timer, phase_timer_cb, h->due - now, 0);
        return;
    }
    h->on_due(t);
}

/* set_state enters phase |s|, bounded by |limit_ms| and the job's deadline (|cb| runs when
 * the bound is reached; NULL keeps the current bound). The timer is re-armed only when the
 * new bound comes before the one it is armed for: most phases end well before their bound,
 * so a later bound is left to phase_timer_cb to catch up with (each uv_timer_start is a
 * removal and an insertion in libuv's timer heap). */
static void set_state(http01 *h, http01_state s, int64_t limit_ms, uv_timer_cb cb)
{
    h->state = s;
    if (cb == NULL)
        return;
    uint64_t now = uv_now(h->v->e->loop);
    h->due = now + acmeva_phase_ms(h->v, limit_ms);
    h->on_due = cb;
    if (!uv_is_active((uv_handle_t *)&h->timer) || h->armed > h->due) {
        h->armed = h->due;
        uv_timer_start(&h->timer, phase_timer_cb, h->due - now, 0);
    }
}

static void release(http01 *h, int abort)
{
    acmeva_host_lookup_cancel(h->lookup);
    h->lookup = NULL;
    acmeva_conn_close(h->conn, abort);
    h->conn = NULL;
    uv_timer_stop(&h->timer);
    reader_free(h);
    acmeva_url_clear(&h->url);
}

static void http01_close_cb(uv_handle_t *handle)
{
    free(handle->data);
}

/* http01_free frees |h| once its timer is closed; |h| must not be used after this call. */
static void http01_free(http01 *h)
{
    uv_close((uv_handle_t *)&h->timer, http01_close_cb);
}

/* The one way out: record the outcome, release everything, report once, free once. */
static void finish(http01 *h, int ok)
{
    acmeva_validation *v = h->v;
    h->state = HTTP01_DONE;
    release(h, !ok);
    v->challenge_ok = ok;
    http01_free(h);
    acmeva_validation_check_done(v, ACMEVA_CHECK_CHALLENGE);
}

static void fail(http01 *h, acmeva_problem_type type, const char *fmt, ...)
{
    char detail[2 * HTTP01_URL_MAX + 1024]; /* room for two URLs and a reason */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    acmeva_validation_set_problem(h->v, type, detail);
    finish(h, 0);
}

/* A connection problem as Boulder words it: "<ip>: Fetching <url>: <what>". */
static void fail_fetch(http01 *h, const char *what)
{
    fail(h, ACMEVA_PROB_CONNECTION, "%s: Fetching %s: %s", where(h), h->url_text, what);
}

/* A failure of this machine (DESIGN.md "Hardening"): serverInternal, never the subscriber's. */
static void fail_local(http01 *h, const char *what)
{
    acmeva_validation_local_failure(h->v, 0, "%s: Fetching %s: %s", where(h), h->url_text,
                                    what);
    finish(h, 0);
}

/* An I/O error on the connection: this machine's (fail_local) or the peer's (fail_fetch). */
static void fail_io(http01 *h, int status)
{
    if (acmeva_conn_error_is_local(status))
        fail_local(h, uv_strerror(status));
    else
        fail_fetch(h, acmeva_conn_error_text(status));
}

/* ---- connecting --------------------------------------------------------------------------- */

static void on_dial(void *arg);
static void on_connect(void *arg, int status);
static void on_handshake(void *arg, int status, const char *reason);
static void on_read(void *arg, const char *buf, ssize_t n);
static const acmeva_conn_cbs http01_conn_cbs = {on_dial, on_connect, on_handshake, on_read};

static void connect_timeout_cb(uv_timer_t *t);
static void connect_next(http01 *h);

/* Boulder (va/http.go fallbackErr): a failed connect to the IPv6 address falls back to the
 * IPv4 address; any later error does not. A connect that failed because of this machine falls
 * back too (no free port for IPv6 need not mean none for IPv4), but when no address answers,
 * the outcome is that local failure: an address this machine could not try must not fail the
 * subscriber. */
static void connect_failed(http01 *h, int status)
{
    if (acmeva_conn_error_is_local(status) && h->local_status == 0) {
        h->local_status = status;
        h->local_cur = h->cur;
    }
    if (h->cur + 1 < h->n_addrs && acmeva_validation_remaining_ms(h->v) > 0) {
        acmeva_conn_close(h->conn, 1);
        h->conn = NULL;
        acmeva_validation_list_add(h->v, &record(h)->addresses_tried, h->addr_text,
                                   strlen(h->addr_text));
        const char *why = acmeva_conn_error_is_local(status) ? uv_strerror(status)
                                                             : acmeva_conn_error_text(status);
        acmeva_validation_list_add(h->v, &record(h)->tried_errors, why, strlen(why));
        h->cur++;
        connect_next(h);
        return;
    }
    if (h->local_status != 0) {
        int fam = h->fam[h->local_cur];
        acmeva_addr_format(fam, h->addr[h->local_cur], h->addr_text, sizeof(h->addr_text));
        status = h->local_status;
    }
    fail_io(h, status);
}

static void connect_next(http01 *h)
{
    struct sockaddr_storage ss;
    int fam = h->fam[h->cur];
    acmeva_sockaddr_make(&ss, fam, h->addr[h->cur], h->url.port);
    acmeva_addr_format(fam, h->addr[h->cur], h->addr_text, sizeof(h->addr_text));
    int rc = acmeva_conn_connect(h->v->e->dialer, (struct sockaddr *)&ss, &http01_conn_cbs, h,
                                 &h->conn);
    if (rc == ACMEVA_CONN_ERESERVED) {
        /* An IP identifier or IP literal redirect target that the address policy refuses:
         * nothing was dialled. Boulder's wording. */
        char why[256];
        acmeva_addr_reserved_text(fam, h->addr[h->cur], why, sizeof(why));
        fail(h, ACMEVA_PROB_CONNECTION, "%s: Fetching %s: Invalid host: %s",
             h->url.host_is_ip ? h->url.host : where(h), h->url_text, why);
        return;
    }
    acmeva_vrecord *rec = record(h);
    free(rec->address_used);
    rec->address_used = acmeva_validation_strdup(h->v, h->addr_text);
    if (rc != 0) {
        connect_failed(h, rc);
        return;
    }
    if (acmeva_conn_queued(h->conn)) {
        /* Waiting for a turn counts against the job's deadline only; the connect gets its own
         * limit once it starts (on_dial). */
        set_state(h, HTTP01_QUEUED, 0, connect_timeout_cb);
        return;
    }
    set_state(h, HTTP01_CONNECTING, h->v->e->cfg->connect_timeout_ms, connect_timeout_cb);
}

static void on_dial(void *arg)
{
    http01 *h = arg;
    set_state(h, HTTP01_CONNECTING, h->v->e->cfg->connect_timeout_ms, connect_timeout_cb);
}

static void connect_timeout_cb(uv_timer_t *t)
{
    connect_failed(t->data, UV_ETIMEDOUT);
}

static void response_timeout_cb(uv_timer_t *t)
{
    fail_fetch(t->data, "Timeout after connect (your server may be slow or overloaded)");
}

static void tls_timeout_cb(uv_timer_t *t)
{
    ((http01 *)t->data)->v->e->stats.tls_failures[ACMEVA_TLS_FAIL_TIMEOUT]++;
    fail_fetch(t->data, "Timeout during TLS handshake (your server may be slow or overloaded)");
}

static void send_request(http01 *h)
{
    char req[HTTP01_URL_MAX + 1024];
    const char *ua = h->v->e->cfg->user_agent;
    /* Host carries no port: Boulder sets req.Host to the bare host name (va/http.go). */
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s%s%s\r\n"
                     "User-Agent: %s\r\n"
                     "Accept: */*\r\n"
                     "Connection: close\r\n"
                     "\r\n",
                     h->url.path, h->url.host_is_ip == 6 ? "[" : "", h->url.host,
                     h->url.host_is_ip == 6 ? "]" : "", ua ? ua : "acmeva");
    if (n < 0 || (size_t)n >= sizeof(req)) {
        fail_fetch(h, "request too long");
        return;
    }
    set_state(h, HTTP01_WAITING, HTTP01_FIRST_BYTE_MS, response_timeout_cb);
    int rc = acmeva_conn_write(h->conn, req, (size_t)n);
    if (rc != 0)
        fail_io(h, rc);
}

static void on_connect(void *arg, int status)
{
    http01 *h = arg;
    if (status != 0) {
        connect_failed(h, status);
        return;
    }
    if (!h->url.https) {
        send_request(h);
        return;
    }
    /* https hops (BR 3.2.2.4.19 permits them as redirect targets): TLS 1.2 or newer, no
     * certificate checks, SNI = the redirect's host name (none for an IP literal). */
    set_state(h, HTTP01_TLS, h->v->e->cfg->tls_timeout_ms, tls_timeout_cb);
    static const uint8_t alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    int rc = acmeva_conn_start_tls(h->conn, h->v->e->ssl_ctx,
                                   h->url.host_is_ip ? NULL : h->url.host, alpn, sizeof(alpn));
    if (rc != 0 && acmeva_conn_error_is_local(rc))
        fail_local(h, "TLS setup failed: out of memory");
    else if (rc != 0)
        fail_fetch(h, "TLS setup failed");
}

/* record_cert_names keeps the names of the certificate an https hop presented: it is not
 * checked (BR 3.2.2.4.19), but a person reading the record may wonder about it. */
static void record_cert_names(http01 *h)
{
    const STACK_OF(CRYPTO_BUFFER) *certs = SSL_get0_peer_certificates(acmeva_conn_ssl(h->conn));
    if (certs == NULL || sk_CRYPTO_BUFFER_num(certs) == 0)
        return;
    const CRYPTO_BUFFER *leaf = sk_CRYPTO_BUFFER_value(certs, 0);
    if (acmeva_cert_names(CRYPTO_BUFFER_data(leaf), CRYPTO_BUFFER_len(leaf),
                          &record(h)->cert_names) == ACMEVA_CERT_ENOMEM)
        acmeva_validation_nomem(h->v);
}

static void on_handshake(void *arg, int status, const char *reason)
{
    http01 *h = arg;
    if (status == 0)
        record_cert_names(h);
    if (status != 0) {
        int not_tls = acmeva_conn_peer_spoke_http(h->conn);
        h->v->e->stats.tls_failures[not_tls ? ACMEVA_TLS_FAIL_NOT_TLS : ACMEVA_TLS_FAIL_HANDSHAKE]++;
        if (not_tls)
            fail_fetch(h, "Server only speaks HTTP, not TLS");
        else
            fail(h, ACMEVA_PROB_TLS, "%s: Fetching %s: TLS handshake failed: %s", where(h),
                 h->url_text, reason ? reason : "error");
        return;
    }
    send_request(h);
}

/* ---- the response ------------------------------------------------------------------------- */

static void follow_redirect(http01 *h, const char *loc, size_t loc_len)
{
    const acmeva_engine_config *cfg = h->v->e->cfg;
    acmeva_redirect_policy pol = {cfg->http_port, cfg->https_port};
    acmeva_url next;
    char detail[512];
    memset(&next, 0, sizeof(next));
    if (h->redirects > HTTP01_MAX_REDIRECTS) {
        fail_fetch(h, "Too many redirects");
        return;
    }
    int rc = acmeva_redirect_resolve(&h->url, loc, loc_len, &pol, &next, detail, sizeof(detail));
    if (rc == ACMEVA_REDIRECT_ENOMEM)
        acmeva_validation_nomem(h->v);
    if (rc != 0) {
        /* Boulder names the refused target when it could be parsed, else the current URL. */
        char target[HTTP01_URL_MAX];
        if (next.path != NULL && acmeva_url_format(&next, target, sizeof(target)) == 0)
            fail(h, ACMEVA_PROB_CONNECTION, "%s: Fetching %s: %s", where(h), target, detail);
        else
            fail_fetch(h, detail);
        acmeva_url_clear(&next);
        return;
    }
    char text[HTTP01_URL_MAX];
    if (acmeva_url_format(&next, text, sizeof(text)) != 0) {
        acmeva_url_clear(&next);
        fail_fetch(h, "Redirect target too long");
        return;
    }
    /* The URLs requested so far are the records' (one per hop). */
    const acmeva_result *r = h->v->result;
    for (size_t i = 0; i < r->n_records; i++) {
        if (strcmp(r->records[i].url, text) == 0) {
            acmeva_url_clear(&next);
            fail_fetch(h, "Redirect loop detected");
            return;
        }
    }
    acmeva_conn_close(h->conn, 0);
    h->conn = NULL;
    reader_free(h);
    acmeva_url_clear(&h->url);
    h->url = next;
    h->redirects++;
    h->v->e->stats.http_redirects++;
    hop_begin(h, text);
}

/* record_body keeps the start of the body that is about to be judged, escaped (a person
 * wants to see what the server said: an HTML page, an error, another key authorization). */
static void record_body(http01 *h)
{
    size_t len = 0;
    const uint8_t *body = acmeva_httpreader_body(h->reader, &len);
    acmeva_vrecord *rec = record(h);
    free(rec->body);
    rec->body = acmeva_escape_dup(body, len, ACMEVA_RECORD_BODY_MAX);
    if (rec->body == NULL)
        acmeva_validation_nomem(h->v);
}

static void response_done(http01 *h)
{
    acmeva_validation *v = h->v;
    int status = acmeva_httpreader_status(h->reader);
    record(h)->http_status = status;
    size_t loc_len = 0;
    const char *loc = acmeva_httpreader_location(h->reader, &loc_len);
    /* Boulder follows 301, 302, 307 and 308 only; a 303 or any other status fails below. */
    int followed = status == 301 || status == 302 || status == 307 || status == 308;
    if (followed && acmeva_httpreader_location_too_long(h->reader)) {
        fail_fetch(h, "Redirect target too long");
        return;
    }
    if (followed && loc != NULL) {
        follow_redirect(h, loc, loc_len);
        return;
    }
    record_body(h);
    if (status != 200) {
        fail(h, ACMEVA_PROB_UNAUTHORIZED, "%s: Invalid response from %s: %d", where(h),
             h->url_text, status);
        return;
    }
    size_t body_len = 0;
    const uint8_t *body = acmeva_httpreader_body(h->reader, &body_len);
    if (acmeva_httpreader_body_over_cap(h->reader)) {
        char *esc = acmeva_escape_dup(body, body_len, 0);
        if (esc == NULL)
            acmeva_validation_nomem(v);
        fail(h, ACMEVA_PROB_UNAUTHORIZED, "%s: Invalid response from %s: \"%s\"", where(h),
             h->url_text, esc ? esc : "");
        free(esc);
        return;
    }
    const char *ka = v->job->key_authorization;
    if (acmeva_http01_body_matches(body, body_len, ka)) {
        finish(h, 1);
        return;
    }
    size_t n = acmeva_http01_trim(body, body_len);
    char *esc = acmeva_escape_dup(body, n, 0);
    if (esc == NULL)
        acmeva_validation_nomem(v);
    fail(h, ACMEVA_PROB_UNAUTHORIZED,
         "The key authorization file from the server did not match this challenge. "
         "Expected \"%s\" (got \"%s\")",
         ka, esc ? esc : "");
    free(esc);
}

static void reader_failed(http01 *h)
{
    record(h)->http_status = acmeva_httpreader_status(h->reader);
    if (acmeva_httpreader_error(h->reader) == ACMEVA_HTTPERR_NOMEM)
        acmeva_validation_nomem(h->v);
    switch (acmeva_httpreader_error(h->reader)) {
    case ACMEVA_HTTPERR_NOMEM:
        fail_local(h, "out of memory reading the response");
        return;
    case ACMEVA_HTTPERR_HTTP2:
        fail_fetch(h, "Server is speaking HTTP/2 over HTTP");
        return;
    case ACMEVA_HTTPERR_TRUNCATED:
        fail_fetch(h, "Connection closed before the response was complete");
        return;
    default: {
        char what[256];
        snprintf(what, sizeof(what), "Malformed HTTP response: %s",
                 acmeva_httpreader_error_text(h->reader));
        fail_fetch(h, what);
        return;
    }
    }
}

static void on_read(void *arg, const char *buf, ssize_t n)
{
    http01 *h = arg;
    int rc;
    if (n < 0 && n != UV_EOF) {
        fail_io(h, (int)n);
        return;
    }
    if (h->reader == NULL) {
        h->reader = malloc(sizeof(*h->reader));
        if (h->reader == NULL) {
            acmeva_validation_nomem(h->v);
            fail_local(h, "out of memory reading the response");
            return;
        }
        acmeva_httpreader_init(h->reader, 1);
    }
    if (n < 0) {
        rc = acmeva_httpreader_eof(h->reader);
    } else {
        if (h->state == HTTP01_WAITING) {
            /* First byte in: the rest of the response gets what is left of the deadline. */
            set_state(h, HTTP01_READING, 0, response_timeout_cb);
        }
        rc = acmeva_httpreader_feed(h->reader, buf, (size_t)n);
    }
    if (rc < 0)
        reader_failed(h);
    else if (rc == ACMEVA_HTTP_DONE)
        response_done(h);
}

/* ---- one hop: lookup, then connect ------------------------------------------------------ */

static void resolve_timeout_cb(uv_timer_t *t)
{
    http01 *h = t->data;
    acmeva_host_lookup_cancel(h->lookup);
    h->lookup = NULL;
    fail(h, ACMEVA_PROB_DNS, "DNS problem: query timed out looking up A for %s", h->url.host);
}

static void on_lookup(void *arg, acmeva_host_addrs *a)
{
    http01 *h = arg;
    h->lookup = NULL;
    acmeva_host_addrs_record(a, record(h));
    if (a->failed) {
        fail(h, acmeva_validation_dns_failure(h->v, a->local_failure), "%s", a->detail);
        return;
    }
    h->n_addrs = acmeva_engine_pick_addrs(h->v->e, a, h->fam, h->addr);
    if (h->n_addrs == 0) {
        fail(h, ACMEVA_PROB_DNS, "No valid IP addresses found for %s", h->url.host);
        return;
    }
    h->cur = 0;
    connect_next(h);
}

/* hop_begin starts the hop to h->url, whose formatted text is |url_text|. */
static void hop_begin(http01 *h, const char *url_text)
{
    acmeva_validation *v = h->v;
    char port[8];
    acmeva_vrecord *rec = acmeva_result_add_record(v->result);
    if (rec == NULL || (rec->url = strdup(url_text)) == NULL) {
        /* At most 12 records: the redirect limit stops the hops long before the cap. */
        acmeva_validation_local_failure(v, 0, "Fetching %s: out of memory", url_text);
        finish(h, 0);
        return;
    }
    h->rec = v->result->n_records - 1;
    h->local_status = 0;
    h->url_text = rec->url;
    snprintf(port, sizeof(port), "%u", (unsigned)h->url.port);
    rec->hostname = acmeva_validation_strdup(v, h->url.host);
    rec->port = acmeva_validation_strdup(v, port);
    h->addr_text[0] = '\0';

    if (h->url.host_is_ip) {
        /* An IP identifier (RFC 8738 §3) or an IP literal redirect target: no lookup; the
         * connection layer applies the address policy (connect_next). */
        int fam = h->url.host_is_ip == 6 ? AF_INET6 : AF_INET;
        acmeva_validation_list_add(v, &rec->addresses_resolved, h->url.host, strlen(h->url.host));
        h->n_addrs = 1;
        h->cur = 0;
        h->fam[0] = fam;
        memcpy(h->addr[0], h->url.ip, fam == AF_INET6 ? 16 : 4);
        connect_next(h);
        return;
    }
    if (v->pinned && strcmp(h->url.host, v->job->ident_value) == 0) {
        /* acmeva check --all-addresses: this run tries the identifier at one of its addresses
         * only, the one it is pinned to, on every hop to the identifier; other hosts of
         * redirects are looked up as always. */
        acmeva_validation_list_add(v, &rec->addresses_resolved, v->pin_text, strlen(v->pin_text));
        h->n_addrs = 1;
        h->cur = 0;
        h->fam[0] = v->pin_fam;
        memcpy(h->addr[0], v->pin_addr, v->pin_fam == AF_INET6 ? 16 : 4);
        connect_next(h);
        return;
    }
    set_state(h, HTTP01_RESOLVING, 0, resolve_timeout_cb);
    if (acmeva_engine_lookup_host(v->e, h->url.host, on_lookup, h, &h->lookup) != 0) {
        acmeva_validation_local_failure(v, 0, "cannot start a DNS lookup for %s", h->url.host);
        finish(h, 0);
    }
}

/* Trailing white space as Go's unicode.IsSpace sees it (Boulder trims with
 * strings.TrimRightFunc(body, unicode.IsSpace)): ASCII space, \t \n \v \f \r, and the
 * UTF-8 forms of U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F,
 * U+3000. */
size_t acmeva_http01_trim(const uint8_t *b, size_t n)
{
    while (n > 0) {
        uint8_t c = b[n - 1];
        if (c == ' ' || (c >= '\t' && c <= '\r')) {
            n--;
        } else if (n >= 2 && b[n - 2] == 0xc2 && (c == 0x85 || c == 0xa0)) {
            n -= 2;
        } else if (n >= 3) {
            const uint8_t *p = b + n - 3;
            unsigned cp =
                ((unsigned)(p[0] & 0x0f) << 12) | ((unsigned)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
            int is3 = (p[0] & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80;
            if (is3 && (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
                        cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000))
                n -= 3;
            else
                break;
        } else {
            break;
        }
    }
    return n;
}

int acmeva_http01_body_matches(const uint8_t *body, size_t len, const char *key_authorization)
{
    /* RFC 8555 §8.3: the body, with trailing white space removed, must equal the key
     * authorization exactly. */
    size_t n = acmeva_http01_trim(body, len);
    size_t ka_len = strlen(key_authorization);
    return n == ka_len && memcmp(body, key_authorization, n) == 0;
}

/* ---- the check ---------------------------------------------------------------------------- */

static int http01_start(acmeva_validation *v, void **state)
{
    const acmeva_job *job = v->job;
    char path[512];
    http01 *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return -1;
    h->v = v;
    uv_timer_init(v->e->loop, &h->timer);
    h->timer.data = h;
    /* The token is base64url (checked by the codec) before it reaches the path. */
    snprintf(path, sizeof(path), "/.well-known/acme-challenge/%s", job->token);
    char text[HTTP01_URL_MAX];
    if (acmeva_url_build(&h->url, 0, job->ident_value, v->e->cfg->http_port, path) != 0 ||
        acmeva_url_format(&h->url, text, sizeof(text)) != 0) {
        acmeva_url_clear(&h->url);
        http01_free(h);
        return -1;
    }
    *state = h;
    hop_begin(h, text);
    return 0;
}

static void http01_cancel(void *state)
{
    http01 *h = state;
    release(h, 1);
    http01_free(h);
}

const acmeva_check_ops acmeva_http01_ops = {http01_start, http01_cancel};
