/*
 * The engine: one validation per job, running its challenge check and its CAA check at once
 * (DESIGN.md "Job": when both are given, the job is valid only if both pass), with one way
 * to finish that reports exactly once and frees exactly once.
 */
#include "engine_int.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* accept_any_chain is the certificate verifier of validation handshakes: it accepts every
 * chain. RFC 8737 §3 asks for a self-signed certificate and nothing of a chain or of dates;
 * certcheck.c checks the leaf after the handshake. The handshake still proves that the server
 * holds the leaf's private key (its CertificateVerify or ServerKeyExchange signature is
 * checked whatever this returns), which is what makes certcheck.c's check sufficient. */
static enum ssl_verify_result_t accept_any_chain(SSL *ssl, uint8_t *out_alert)
{
    (void)ssl;
    (void)out_alert;
    return ssl_verify_ok;
}

/* Key exchange groups offered, X25519 first: the key share sent in the ClientHello is for the
 * first group, and X25519 costs a fraction of P-256 (or of a post-quantum hybrid) on a
 * BoringSSL without assembly. Nothing secret crosses a validation's connection (a public
 * certificate, a public key authorization), so a hybrid's protection of recorded traffic
 * buys nothing here. The others remain for servers without X25519 (one more round trip). */
static const char kGroups[] = "X25519:P-256:P-384:P-521";

void *acmeva_tls_ctx_new(void)
{
    /* The buffers method keeps peer certificates as DER (CRYPTO_BUFFER) and never parses them
     * into X509 objects: nothing here uses crypto/x509, and certcheck.c reads the DER. */
    SSL_CTX *ctx = SSL_CTX_new(TLS_with_buffers_method());
    if (ctx == NULL)
        return NULL;
    /* BR 3.2.2.4.19 and RFC 8737 §3: TLS 1.2 or newer. Challenge certificates are
     * self-signed and checked by hand (certcheck.c), so there is no chain or date check,
     * and no chain is built. Every handshake is a full one, as a validation never resumes:
     * no session cache, no TLS 1.2 session ticket extension (SSL_OP_NO_TICKET), and a TLS 1.3
     * server's tickets, sent after the handshake, are never read. */
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set1_curves_list(ctx, kGroups) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_custom_verify(ctx, SSL_VERIFY_PEER, accept_any_chain);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    return ctx;
}

void acmeva_tls_ctx_free(void *ssl_ctx)
{
    SSL_CTX_free(ssl_ctx);
}

static void timer_close_cb(uv_handle_t *h)
{
    free(h);
}

uv_timer_t *acmeva_timer_new(uv_loop_t *loop, void *data)
{
    uv_timer_t *t = malloc(sizeof(*t));
    if (t == NULL)
        return NULL;
    uv_timer_init(loop, t);
    t->data = data;
    return t;
}

void acmeva_timer_free(uv_timer_t *t)
{
    if (t == NULL)
        return;
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, timer_close_cb);
}

acmeva_problem_type acmeva_validation_dns_failure(acmeva_validation *v, int local)
{
    if (!local)
        return ACMEVA_PROB_DNS;
    v->result->local_failure = 1;
    return ACMEVA_PROB_SERVER_INTERNAL;
}

uint64_t acmeva_validation_remaining_ms(const acmeva_validation *v)
{
    uint64_t now = uv_now(v->e->loop);
    return v->deadline > now ? v->deadline - now : 0;
}

uint64_t acmeva_phase_ms(const acmeva_validation *v, int64_t limit_ms)
{
    uint64_t left = acmeva_validation_remaining_ms(v);
    if (limit_ms > 0 && (uint64_t)limit_ms < left)
        left = (uint64_t)limit_ms;
    return left > 0 ? left : 1;
}

int acmeva_engine_new(uv_loop_t *loop, const acmeva_engine_config *cfg, void *ssl_ctx,
                      acmeva_engine **out, char *err, size_t errlen)
{
    *out = NULL;
    if (cfg->user_agent == NULL) {
        /* acmeva_engine_config_init could not copy its defaults. */
        snprintf(err, errlen, "out of memory: the configuration has no User-Agent");
        return -1;
    }
    acmeva_engine *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    e->loop = loop;
    e->cfg = cfg;
    e->ssl_ctx = ssl_ctx;
    if (e->ssl_ctx == NULL) {
        e->ssl_ctx = acmeva_tls_ctx_new();
        e->own_ssl_ctx = 1;
        if (e->ssl_ctx == NULL) {
            snprintf(err, errlen, "cannot create the TLS context");
            free(e);
            return -1;
        }
    }
    /* The per-destination limit is shared by the engines of one config (the worker's
     * threads): each gets its part, at least one connection. */
    unsigned share = cfg->engine_count > 0 ? cfg->engine_count : 1;
    unsigned per_dest = cfg->max_per_destination / share;
    if (acmeva_addr_policy_init(&e->policy, cfg, err, errlen) != 0)
        goto fail;
    if (acmeva_dialer_new(loop, &e->policy, per_dest > 0 ? per_dest : 1, &e->dialer) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (acmeva_resolver_new(loop, cfg, &e->resolver, err, errlen) != 0)
        goto fail;
    *out = e;
    return 0;

fail:
    acmeva_dialer_free(e->dialer);
    if (e->own_ssl_ctx)
        acmeva_tls_ctx_free(e->ssl_ctx);
    free(e);
    return -1;
}

int acmeva_engine_lookup_host(acmeva_engine *e, const char *name, acmeva_host_cb cb, void *arg,
                              acmeva_host_lookup **out)
{
    int keep_reserved = !acmeva_addr_policy_refuses_all_reserved(&e->policy);
    return acmeva_host_lookup_start(e->resolver, name, keep_reserved, cb, arg, out);
}

int acmeva_engine_pick_addrs(const acmeva_engine *e, const acmeva_host_addrs *a, int fam[2],
                             uint8_t addr[2][16])
{
    int n = 0;
    for (size_t i = 0; i < a->n6; i++) {
        if (acmeva_addr_policy_permits(&e->policy, AF_INET6, a->v6[i])) {
            fam[n] = AF_INET6;
            memcpy(addr[n++], a->v6[i], 16);
            break;
        }
    }
    for (size_t i = 0; i < a->n4; i++) {
        if (acmeva_addr_policy_permits(&e->policy, AF_INET, a->v4[i])) {
            fam[n] = AF_INET;
            memcpy(addr[n++], a->v4[i], 4);
            break;
        }
    }
    return n;
}

void acmeva_validation_local_failure(acmeva_validation *v, int caa, const char *fmt, ...)
{
    char detail[1024];
    size_t n = snprintf(detail, sizeof(detail), "%s", ACMEVA_LOCAL_FAILURE_PREFIX);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail + n, sizeof(detail) - n, fmt, ap);
    va_end(ap);
    acmeva_result *r = v->result;
    r->local_failure = 1;
    if (!caa) {
        acmeva_result_set_problem(r, ACMEVA_PROB_SERVER_INTERNAL, detail);
        return;
    }
    r->has_caa = 1;
    r->caa_valid = 0;
    r->caa_problem.type = ACMEVA_PROB_SERVER_INTERNAL;
    free(r->caa_problem.detail);
    r->caa_problem.detail = strdup(detail);
}

size_t acmeva_engine_inflight(const acmeva_engine *e)
{
    return e->inflight;
}

const acmeva_dns_stats *acmeva_engine_dns_stats(const acmeva_engine *e)
{
    return acmeva_resolver_stats(e->resolver);
}

const acmeva_engine_stats *acmeva_engine_stats_get0(const acmeva_engine *e)
{
    return &e->stats;
}

/* ---- acmeva check --all-addresses: the challenge against each address on its own ---------- */

/* The runs of one validation, one per address, allocated only when they start. */
typedef struct acmeva_address_runs {
    size_t n, pending;
    int spawning; /* starting them: a run that ends at once does not finish the parent yet */
    struct {
        acmeva_validation *v; /* running, or NULL once it reported */
        acmeva_result *result;
        char address[64];
    } run[ACMEVA_MAX_ADDRESS_CHECKS];
} acmeva_address_runs;

/* ACMEVA_MAX_ADDRS bounds the addresses a lookup keeps per family; the runs are bounded by
 * what a result may hold. */
_Static_assert(ACMEVA_MAX_ADDRESS_CHECKS <= 2 * ACMEVA_MAX_ADDRS, "runs per validation");

static void validation_finish(acmeva_validation *v);

static void runs_free(acmeva_address_runs *runs)
{
    if (runs == NULL)
        return;
    for (size_t i = 0; i < runs->n; i++) {
        acmeva_validation *c = runs->run[i].v;
        if (c != NULL) {
            for (int k = 0; k < ACMEVA_CHECK_MAX; k++)
                if (c->state[k] != NULL)
                    c->ops[k]->cancel(c->state[k]);
            acmeva_result_free(c->result);
            free(c);
        }
        acmeva_result_free(runs->run[i].result);
    }
    free(runs);
}

/* run_reported takes the outcome of the run |c| (its result) into its parent, frees the run,
 * and finishes the parent once the last run reported. */
static void run_reported(acmeva_validation *c)
{
    acmeva_validation *p = c->parent;
    acmeva_address_runs *runs = p->runs;
    runs->run[c->slot].result = c->result;
    runs->run[c->slot].v = NULL;
    free(c);
    if (--runs->pending == 0 && !runs->spawning)
        validation_finish(p);
}

/* wants_runs: an http-01 or tls-alpn-01 validation of a DNS name that resolved, with time
 * left, under acmeva check --all-addresses. */
static int wants_runs(const acmeva_validation *v)
{
    const acmeva_job *job = v->job;
    return v->e->cfg->all_addresses && v->parent == NULL && v->runs == NULL &&
           job->ident_type == ACMEVA_IDENT_DNS &&
           (job->chall_type == ACMEVA_CHALL_HTTP01 || job->chall_type == ACMEVA_CHALL_TLSALPN01) &&
           v->result->n_records > 0 && v->result->records[0].addresses_resolved.n > 0 &&
           acmeva_validation_remaining_ms(v) > 0;
}

/* run_new returns a run of |v|'s challenge pinned to |fam| |addr|, or NULL on no memory. It
 * borrows the job, shares the deadline, and is not in the engine's list (|v| owns it). */
static acmeva_validation *run_new(acmeva_validation *v, size_t slot, int fam, const uint8_t *addr,
                                  const char *text)
{
    acmeva_validation *c = calloc(1, sizeof(*c));
    acmeva_result *r = acmeva_result_new();
    if (c == NULL || r == NULL || acmeva_result_set_job(r, v->job) != 0 ||
        acmeva_str_set(&r->perspective, v->result->perspective) != 0 ||
        acmeva_str_set(&r->rir, v->result->rir) != 0 ||
        acmeva_str_set(&r->worker, v->result->worker) != 0) {
        free(c);
        acmeva_result_free(r);
        return NULL;
    }
    c->e = v->e;
    c->job = v->job;
    c->result = r;
    c->deadline = v->deadline;
    c->start_hr = uv_hrtime();
    c->parent = v;
    c->slot = slot;
    c->pinned = 1;
    c->pin_fam = fam;
    memcpy(c->pin_addr, addr, fam == AF_INET6 ? 16 : 4);
    snprintf(c->pin_text, sizeof(c->pin_text), "%s", text);
    c->ops[ACMEVA_CHECK_CHALLENGE] = v->ops[ACMEVA_CHECK_CHALLENGE];
    r->attempt = v->result->attempt;
    r->started_ms = wall_ms();
    return c;
}

/* spawn_runs starts one run per address the identifier resolved to (in the order resolved,
 * at most ACMEVA_MAX_ADDRESS_CHECKS). Returns how many are still running: the parent finishes
 * when they have reported. Connections go through the dialer as always, so the address policy
 * and --max-per-destination hold for every run. */
static size_t spawn_runs(acmeva_validation *v)
{
    const acmeva_strlist *addrs = &v->result->records[0].addresses_resolved;
    acmeva_address_runs *runs = calloc(1, sizeof(*runs));
    if (runs == NULL) {
        acmeva_validation_nomem(v);
        return 0;
    }
    v->runs = runs;
    runs->spawning = 1;
    for (size_t i = 0; i < addrs->n && runs->n < ACMEVA_MAX_ADDRESS_CHECKS; i++) {
        uint8_t ip[16];
        int fam = inet_pton(AF_INET6, addrs->v[i], ip) == 1  ? AF_INET6
                  : inet_pton(AF_INET, addrs->v[i], ip) == 1 ? AF_INET
                                                             : 0;
        if (fam == 0)
            continue;
        size_t slot = runs->n;
        acmeva_validation *c = run_new(v, slot, fam, ip, addrs->v[i]);
        if (c == NULL) {
            acmeva_validation_nomem(v);
            break;
        }
        snprintf(runs->run[slot].address, sizeof(runs->run[slot].address), "%s", addrs->v[i]);
        runs->run[slot].v = c;
        runs->n++;
        runs->pending++;
        c->starting = 1;
        if (c->ops[ACMEVA_CHECK_CHALLENGE]->start(c, &c->state[ACMEVA_CHECK_CHALLENGE]) != 0)
            acmeva_validation_local_failure(c, 0, "out of memory starting the check");
        c->starting = 0;
        if (c->state[ACMEVA_CHECK_CHALLENGE] == NULL)
            validation_finish(c); /* ended at once: reports to |v| now */
    }
    runs->spawning = 0;
    return runs->pending;
}

/* merge_runs writes the runs' outcomes into |r| (addressChecks): the result is valid only when
 * every address passed, and when one did not, its problem becomes the result's (named by the
 * address) unless the validation itself had already failed. */
static void merge_runs(acmeva_validation *v)
{
    acmeva_address_runs *runs = v->runs;
    acmeva_result *r = v->result;
    const acmeva_result *first_bad = NULL;
    const char *bad_address = NULL;
    for (size_t i = 0; i < runs->n; i++) {
        acmeva_result *c = runs->run[i].result;
        if (c == NULL)
            continue;
        if (c->local_failure)
            r->local_failure = 1;
        if (!c->valid && first_bad == NULL) {
            first_bad = c;
            bad_address = runs->run[i].address;
        }
        if (acmeva_result_add_address_check(r, runs->run[i].address, c) != 0) {
            acmeva_result_free(c);
            v->nomem = 1;
        }
        runs->run[i].result = NULL;
    }
    if (first_bad != NULL && r->valid) {
        char detail[4096];
        const char *d = first_bad->problem.detail ? first_bad->problem.detail : "";
        size_t alen = strlen(bad_address);
        /* Details of a connection already start with the address ("<ip>: Fetching ..."). */
        if (strncmp(d, bad_address, alen) == 0 && d[alen] == ':')
            snprintf(detail, sizeof(detail), "%s", d);
        else
            snprintf(detail, sizeof(detail), "%s: %s", bad_address, d);
        acmeva_problem_type type = first_bad->problem.type != ACMEVA_PROB_NONE
                                       ? first_bad->problem.type
                                       : ACMEVA_PROB_SERVER_INTERNAL;
        if (acmeva_result_set_problem(r, type, detail) != 0)
            v->nomem = 1;
        r->valid = 0;
    }
}

static void validation_unlink_free(acmeva_validation *v)
{
    acmeva_engine *e = v->e;
    if (v->prev != NULL)
        v->prev->next = v->next;
    else
        e->head = v->next;
    if (v->next != NULL)
        v->next->prev = v->prev;
    e->inflight--;
    runs_free(v->runs);
    acmeva_job_free(v->job);
    acmeva_result_free(v->result);
    free(v);
}

static int copy_problem(acmeva_problem *dst, const acmeva_problem *src)
{
    dst->type = src->type;
    free(dst->detail);
    dst->detail = src->detail ? strdup(src->detail) : NULL;
    return src->detail != NULL && dst->detail == NULL ? -1 : 0;
}

void acmeva_validation_nomem(acmeva_validation *v)
{
    v->nomem = 1;
}

char *acmeva_validation_strdup(acmeva_validation *v, const char *s)
{
    if (s == NULL)
        return NULL;
    char *copy = strdup(s);
    if (copy == NULL)
        acmeva_validation_nomem(v);
    return copy;
}

void acmeva_validation_list_add(acmeva_validation *v, acmeva_strlist *l, const char *s, size_t len)
{
    if (acmeva_strlist_add(l, s, len) != 0)
        acmeva_validation_nomem(v);
}

void acmeva_validation_set_problem(acmeva_validation *v, acmeva_problem_type type,
                                   const char *detail)
{
    if (acmeva_result_set_problem(v->result, type, detail) != 0) {
        v->result->valid = 0;
        acmeva_validation_nomem(v);
    }
}

/* local_failure turns |r| into the result of a validation this machine could not carry out:
 * serverInternal, marked local, whatever the checks found. It allocates nothing it needs. */
static void local_failure(acmeva_result *r)
{
    r->valid = 0;
    r->local_failure = 1;
    if (acmeva_result_set_problem(r, ACMEVA_PROB_SERVER_INTERNAL,
                                  ACMEVA_LOCAL_FAILURE_PREFIX "out of memory") != 0) {
        free(r->problem.detail);
        r->problem.detail = NULL; /* written as "" */
        r->problem.type = ACMEVA_PROB_SERVER_INTERNAL;
    }
}

/* Every check has reported: assemble the outcome, report it once, free once. Under
 * --all-addresses the runs per address start first, and the validation finishes once they
 * have reported (run_reported calls this again). */
static void validation_finish(acmeva_validation *v)
{
    if (wants_runs(v) && spawn_runs(v) > 0)
        return;
    acmeva_result *r = v->result;
    int has_chall = v->ops[ACMEVA_CHECK_CHALLENGE] != NULL;
    int has_caa = v->ops[ACMEVA_CHECK_CAA] != NULL;
    if (!has_chall && !has_caa) {
        /* Nothing was checked (the deadline had passed, an unsupported type): the problem
         * set at the start says why. A validation is valid only when a check ran and passed. */
        r->valid = 0;
    } else if (has_chall && !v->challenge_ok) {
        r->valid = 0; /* the challenge's problem is already in r->problem */
    } else if (has_caa && !v->caa_ok) {
        r->valid = 0;
        if (copy_problem(&r->problem, &r->caa_problem) != 0)
            v->nomem = 1;
    } else {
        r->valid = 1;
    }
    if (v->runs != NULL)
        merge_runs(v);
    if (r->valid) {
        free(r->problem.detail);
        r->problem.detail = NULL;
        r->problem.type = ACMEVA_PROB_NONE;
    } else if (r->problem.type == ACMEVA_PROB_NONE &&
               acmeva_result_set_problem(r, ACMEVA_PROB_SERVER_INTERNAL, "validation failed")) {
        v->nomem = 1;
    }
    if (v->nomem)
        local_failure(r);
    r->duration_ms = (double)(uv_hrtime() - v->start_hr) / 1e6;
    if (v->parent != NULL) {
        run_reported(v);
        return;
    }
    v->result = NULL;
    acmeva_validation_cb cb = v->cb;
    void *arg = v->arg;
    validation_unlink_free(v);
    cb(r, arg);
}

void acmeva_validation_check_done(acmeva_validation *v, int which)
{
    v->state[which] = NULL;
    if (v->starting)
        return; /* acmeva_engine_validate defers the finish */
    for (int i = 0; i < ACMEVA_CHECK_MAX; i++)
        if (v->state[i] != NULL)
            return;
    validation_finish(v);
}

static const acmeva_check_ops *challenge_ops(acmeva_chall_type t)
{
    switch (t) {
    case ACMEVA_CHALL_HTTP01:
        return &acmeva_http01_ops;
    case ACMEVA_CHALL_DNS01:
    case ACMEVA_CHALL_DNSACCOUNT01:
        return &acmeva_dns01_ops;
    case ACMEVA_CHALL_DNSPERSIST01:
        return &acmeva_dnspersist01_ops;
    case ACMEVA_CHALL_TLSALPN01:
        return &acmeva_tlsalpn01_ops;
    default:
        return NULL;
    }
}

/* A validation whose checks all ended inside acmeva_engine_validate (deadline passed, an
 * unsupported type, CAA skipped for an IP) still reports from the loop, never from inside
 * that call: a zero timer defers the finish. */
static void deferred_finish_cb(uv_timer_t *t)
{
    acmeva_validation *v = t->data;
    acmeva_timer_free(t);
    v->defer = NULL;
    validation_finish(v);
}

int acmeva_engine_validate(acmeva_engine *e, acmeva_job *job, int attempt, acmeva_validation_cb cb,
                           void *arg, acmeva_validation **handle)
{
    const acmeva_engine_config *cfg = e->cfg;
    if (handle != NULL)
        *handle = NULL;
    acmeva_validation *v = calloc(1, sizeof(*v));
    acmeva_result *r = acmeva_result_new();
    if (r != NULL) {
        r->perspective = strdup(cfg->perspective ? cfg->perspective : "default");
        r->rir = strdup(cfg->rir ? cfg->rir : "");
        r->worker = strdup(cfg->worker_id ? cfg->worker_id : "");
    }
    if (v == NULL || r == NULL || r->perspective == NULL || r->rir == NULL || r->worker == NULL ||
        acmeva_result_set_job(r, job) != 0) {
        free(v);
        acmeva_result_free(r);
        acmeva_job_free(job);
        return -1;
    }
    v->e = e;
    v->job = job;
    v->result = r;
    v->cb = cb;
    v->arg = arg;
    v->start_hr = uv_hrtime();
    r->attempt = attempt > 0 ? attempt : 1;
    r->started_ms = wall_ms();

    int64_t budget = job->has_deadline ? job->deadline_ms - r->started_ms : cfg->timeout_ms;
    if (job->has_deadline && cfg->timeout_ms > 0 && budget > cfg->timeout_ms)
        budget = cfg->timeout_ms; /* the operator's limit caps any job's deadline */
    v->deadline = uv_now(e->loop) + (budget > 0 ? (uint64_t)budget : 0);

    v->next = e->head;
    if (e->head != NULL)
        e->head->prev = v;
    e->head = v;
    e->inflight++;

    if (budget <= 0) {
        /* DESIGN.md: a job picked up after its deadline is not validated. */
        if (acmeva_result_set_problem(r, ACMEVA_PROB_SERVER_INTERNAL,
                                      "The job's deadline passed before validation started"))
            goto fail;
    } else if (job->chall_type != ACMEVA_CHALL_NONE && challenge_ops(job->chall_type) == NULL) {
        if (acmeva_result_set_problem(r, ACMEVA_PROB_MALFORMED,
                                      "This worker does not support this challenge type"))
            goto fail;
    } else {
        if (job->chall_type != ACMEVA_CHALL_NONE)
            v->ops[ACMEVA_CHECK_CHALLENGE] = challenge_ops(job->chall_type);
        if (job->has_caa)
            v->ops[ACMEVA_CHECK_CAA] = &acmeva_caa_ops;
    }
    v->starting = 1;
    for (int i = 0; i < ACMEVA_CHECK_MAX; i++) {
        /* A check that cannot even start has run out of memory: this machine's failure, which
         * the result says, rather than a validation that silently never happened. */
        if (v->ops[i] != NULL && v->ops[i]->start(v, &v->state[i]) != 0)
            acmeva_validation_local_failure(v, i == ACMEVA_CHECK_CAA,
                                            "out of memory starting the check");
    }
    v->starting = 0;
    int running = 0;
    for (int i = 0; i < ACMEVA_CHECK_MAX; i++)
        running |= v->state[i] != NULL;
    if (!running) {
        v->defer = acmeva_timer_new(e->loop, v);
        if (v->defer == NULL)
            goto fail;
        uv_timer_start(v->defer, deferred_finish_cb, 0, 0);
    }
    if (handle != NULL)
        *handle = v;
    return 0;

fail:
    acmeva_validation_cancel(v);
    return -1;
}

void acmeva_validation_cancel(acmeva_validation *v)
{
    if (v == NULL)
        return;
    for (int i = 0; i < ACMEVA_CHECK_MAX; i++)
        if (v->state[i] != NULL)
            v->ops[i]->cancel(v->state[i]);
    acmeva_timer_free(v->defer);
    validation_unlink_free(v);
}

void acmeva_engine_free(acmeva_engine *e)
{
    if (e == NULL)
        return;
    while (e->head != NULL)
        acmeva_validation_cancel(e->head);
    acmeva_dnssec_check_cancel(e->dnssec_check); /* its queries go with the resolver */
    acmeva_resolver_free(e->resolver);
    acmeva_dialer_free(e->dialer);
    if (e->own_ssl_ctx)
        acmeva_tls_ctx_free(e->ssl_ctx);
    free(e);
}
