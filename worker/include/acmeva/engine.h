/*
 * The acmeva validation engine: runs ACME challenge validations (http-01, dns-01,
 * tls-alpn-01, dns-account-01, dns-persist-01) and CAA checks on one libuv loop, with
 * c-ares for DNS and BoringSSL for TLS. It knows nothing of Redis: the daemon and the CLI
 * are thin shells that feed it jobs and write its results.
 *
 * Threading: an engine belongs to the thread that runs its loop. Several engines (one per
 * loop thread) may share one read-only acmeva_engine_config and one SSL_CTX.
 */
#ifndef ACMEVA_ENGINE_H
#define ACMEVA_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "acmeva/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ACMEVA_MAX_RESOLVERS 8
#define ACMEVA_MAX_ISSUER_DOMAINS 16
/* --allow-address: a handful of test or lab ranges, never a routing table. */
#define ACMEVA_MAX_ALLOW_ADDRESSES 64

/* Engine options, shared by acmeva-worker and acmeva check (DESIGN.md "Engine options"). */
typedef struct acmeva_engine_config {
    char *resolvers[ACMEVA_MAX_RESOLVERS]; /* "IP" or "IP:PORT" / "[IPv6]:PORT"; none: system */
    size_t n_resolvers;
    uint16_t http_port;  /* default 80 */
    uint16_t https_port; /* default 443: the port of https redirect hops */
    uint16_t tls_port;   /* default 443: tls-alpn-01 */
    int allow_private;   /* dial every reserved and private address (tests only) */
    /* --allow-address: CIDR texts (checked by acmeva_engine_config_option) whose reserved
     * addresses may be dialled; everything else reserved stays refused. */
    char *allow_addresses[ACMEVA_MAX_ALLOW_ADDRESSES];
    size_t n_allow_addresses;
    /* --max-per-destination: TCP connections open at once to one IP address, across the
     * engines that share this config (default 32). Each engine gets
     * max(1, max_per_destination / engine_count); more wait their turn within their deadline. */
    unsigned max_per_destination;
    unsigned engine_count; /* engines (loop threads) sharing this config; default 1 */
    char *user_agent;
    int64_t timeout_ms; /* the deadline of a job that has none; default 30000 */
    char *issuer_domains[ACMEVA_MAX_ISSUER_DOMAINS];
    size_t n_issuer_domains;
    int dns_tries;              /* tries per DNS query, rotating resolvers; default 3 */
    int dns_timeout_ms;         /* per try; default 1000 */
    int dns_0x20;               /* random letter case in query names; default 1 */
    int64_t connect_timeout_ms; /* per connect; default 10000 */
    int64_t tls_timeout_ms;     /* per TLS handshake; default 10000 */
    char *perspective;          /* written into every result; default "default" */
    char *rir;                  /* default "" */
    char *worker_id;            /* written into every result; default "host:pid:0" */
    int require_dnssec;         /* --require-dnssec-resolver: the shells refuse to validate
                                 * unless a resolver validates DNSSEC (acmeva_dnssec_check) */
    char *dnssec_probe_name;    /* the name the check asks for; default "." (the root) */
    /* acmeva check --all-addresses: after an http-01 or tls-alpn-01 validation, run its
     * connections again once per address the identifier resolved to (at most
     * ACMEVA_MAX_ADDRESS_CHECKS, within the job's deadline) and record each outcome in
     * result->address_checks; the result is valid only when every address passed too. Not an
     * engine option: acmeva_engine_config_option never sets it, so a worker never does. */
    int all_addresses;
} acmeva_engine_config;

/* acmeva_engine_config_init sets every default. */
void acmeva_engine_config_init(acmeva_engine_config *cfg);
/* acmeva_engine_config_clear frees the strings |cfg| owns. */
void acmeva_engine_config_clear(acmeva_engine_config *cfg);
/* acmeva_engine_config_copy makes |dst| a copy of |src| that owns copies of its strings (clear
 * each with acmeva_engine_config_clear). Returns 0, or -1 on no memory (|dst| is then empty). */
int acmeva_engine_config_copy(acmeva_engine_config *dst, const acmeva_engine_config *src);

/*
 * acmeva_engine_config_option tries to consume the engine option at argv[*i] (and its value,
 * "--opt v" or "--opt=v"). Returns 1 and advances *i past what it consumed when it was an
 * engine option, 0 when argv[*i] is not one (the caller handles it), and -1 after printing
 * one clear line to stderr when it is one with a bad value.
 */
int acmeva_engine_config_option(acmeva_engine_config *cfg, int argc, char **argv, int *i);
/*
 * acmeva_option_value matches "--name value" or "--name=value" at argv[*i], for the options of
 * every command-line shell. Returns 1, sets |*value| (NULL when the value is missing) and
 * advances *i past what it consumed; returns 0 and leaves *i when argv[*i] is another option.
 */
int acmeva_option_value(int argc, char **argv, int *i, const char *name, const char **value);
/* acmeva_parse_int parses |s| as a decimal integer in [min, max] (no sign for min >= 0, no
 * '+', no space, no trailing bytes), for the number options of every shell. Returns 0 and sets
 * |*out|, or -1. */
int acmeva_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* acmeva_engine_config_usage is the --help text of the engine options. */
extern const char acmeva_engine_config_usage[];

typedef struct acmeva_engine acmeva_engine;
typedef struct acmeva_validation acmeva_validation;

/*
 * acmeva_validation_cb receives the result of one validation, exactly once, unless the
 * validation was cancelled. The callee owns |result| (acmeva_result_free).
 */
typedef void (*acmeva_validation_cb)(acmeva_result *result, void *arg);

/*
 * acmeva_engine_new creates an engine on |loop|. |cfg| is borrowed and must outlive the
 * engine. |ssl_ctx| (an SSL_CTX *, from acmeva_tls_ctx_new) is borrowed and may be shared by
 * engines on other threads; NULL makes the engine create its own. Returns 0 or a negative
 * error and writes a message to |err|.
 */
int acmeva_engine_new(uv_loop_t *loop, const acmeva_engine_config *cfg, void *ssl_ctx,
                      acmeva_engine **out, char *err, size_t errlen);

/*
 * acmeva_engine_validate starts validating |job| (taken: the engine frees it). |cb| is called
 * later, from the loop, never from inside this call. |*handle| (when non-NULL) may be used to
 * cancel until |cb| runs. The job's deadline (or cfg->timeout_ms from now) bounds everything.
 * Returns 0, or a negative error (no memory), in which case |job| is freed and |cb| is not
 * called.
 */
int acmeva_engine_validate(acmeva_engine *e, acmeva_job *job, int attempt, acmeva_validation_cb cb,
                           void *arg, acmeva_validation **handle);

/* acmeva_validation_cancel stops a validation; its callback is never called. */
void acmeva_validation_cancel(acmeva_validation *v);

/* acmeva_engine_inflight returns how many validations are running. */
size_t acmeva_engine_inflight(const acmeva_engine *e);

/* Why a TLS handshake of a validation failed (http-01 https hops and tls-alpn-01). */
typedef enum acmeva_tls_failure {
    ACMEVA_TLS_FAIL_TIMEOUT,   /* no handshake within --tls-timeout-ms */
    ACMEVA_TLS_FAIL_HANDSHAKE, /* an alert or a protocol error */
    ACMEVA_TLS_FAIL_NOT_TLS,   /* the server answered the ClientHello in plain HTTP */
    ACMEVA_TLS_FAIL_ALPN,      /* tls-alpn-01: acme-tls/1 was not negotiated */
    ACMEVA_TLS_FAIL_REASONS
} acmeva_tls_failure;

/*
 * Counters of one engine, for the daemons' metrics. Plain counters that only grow, written by
 * the thread that runs the engine's loop: read them from that thread.
 */
typedef struct acmeva_engine_stats {
    uint64_t http_redirects; /* redirects followed by http-01 */
    uint64_t tls_failures[ACMEVA_TLS_FAIL_REASONS];
} acmeva_engine_stats;

/* acmeva_engine_stats_get0 returns the counters of |e| (borrowed, updated in place, valid until
 * the engine is freed). */
const acmeva_engine_stats *acmeva_engine_stats_get0(const acmeva_engine *e);

/*
 * DNS counters of one engine, for an exporter of acmeva_dns_queries_total{qtype,rcode},
 * acmeva_dns_replies_dropped_total{reason} and acmeva_dns_query_duration_seconds (DESIGN.md
 * "Operations"). Plain counters, written only by the thread that runs the engine's loop and
 * never reset: read them from that thread.
 */
/* The qtype slots of acmeva_dns_stats. */
enum {
    ACMEVA_DNS_STAT_A,
    ACMEVA_DNS_STAT_AAAA,
    ACMEVA_DNS_STAT_TXT,
    ACMEVA_DNS_STAT_CAA,
    ACMEVA_DNS_STAT_OTHER_QTYPE,
    ACMEVA_DNS_STAT_QTYPES
};
/* How a query ended: the response code of the answer taken, or no answer. */
enum {
    ACMEVA_DNS_STAT_NOERROR,
    ACMEVA_DNS_STAT_FORMERR,
    ACMEVA_DNS_STAT_SERVFAIL,
    ACMEVA_DNS_STAT_NXDOMAIN,
    ACMEVA_DNS_STAT_NOTIMP,
    ACMEVA_DNS_STAT_REFUSED,
    ACMEVA_DNS_STAT_OTHER_RCODE,
    ACMEVA_DNS_STAT_TIMEOUT, /* every try timed out */
    ACMEVA_DNS_STAT_NETWORK, /* the resolver could not be reached */
    ACMEVA_DNS_STAT_LOCAL,   /* this machine could not open a socket */
    ACMEVA_DNS_STAT_OUTCOMES
};
/* Why a reply was dropped (the query kept waiting for the true one). */
enum {
    ACMEVA_DNS_DROP_WRONG_ID,       /* not the id of the try */
    ACMEVA_DNS_DROP_WRONG_SOURCE,   /* not from the resolver's address and port */
    ACMEVA_DNS_DROP_WRONG_QUESTION, /* another name, type or class, or not one question */
    ACMEVA_DNS_DROP_WRONG_CASE,     /* the name asked, in another letter case (0x20) */
    ACMEVA_DNS_DROP_NOT_RESPONSE,   /* QR clear, or an opcode other than QUERY */
    ACMEVA_DNS_DROP_MALFORMED,      /* does not parse */
    ACMEVA_DNS_DROP_TCP_MISMATCH,   /* a message on a TCP connection that is not the reply */
    ACMEVA_DNS_DROP_REASONS
};
#define ACMEVA_DNS_DURATION_BUCKETS 13

typedef struct acmeva_dns_stats {
    uint64_t queries[ACMEVA_DNS_STAT_QTYPES][ACMEVA_DNS_STAT_OUTCOMES]; /* queries ended (not
                                                                           cancelled) */
    uint64_t dropped[ACMEVA_DNS_DROP_REASONS];
    /* Query durations, first send to outcome (retries included): duration_buckets[i] counts
     * those in (bound[i-1], bound[i]] of acmeva_dns_duration_bounds (not cumulative), the last
     * one those above every bound. */
    uint64_t duration_buckets[ACMEVA_DNS_DURATION_BUCKETS + 1];
    double duration_seconds_sum;
    uint64_t udp_tries;    /* UDP queries sent, each from a fresh socket */
    uint64_t tcp_tries;    /* TCP queries sent after a truncated UDP answer */
    uint64_t try_timeouts; /* tries that got no reply in time */
} acmeva_dns_stats;

/* acmeva_dns_duration_bounds holds the upper bounds of the duration buckets, in seconds. */
extern const double acmeva_dns_duration_bounds[ACMEVA_DNS_DURATION_BUCKETS];

/* acmeva_engine_dns_stats returns the DNS counters of |e| (borrowed; valid until the engine
 * is freed, updated in place). */
const acmeva_dns_stats *acmeva_engine_dns_stats(const acmeva_engine *e);

/* acmeva_dns_stat_qtype_name ("A", "AAAA", "TXT", "CAA", "other"), acmeva_dns_stat_outcome_name
 * ("NOERROR", ..., "REFUSED", "other", "timeout", "network", "local") and
 * acmeva_dns_drop_reason_name ("wrong_id", "wrong_source", "wrong_question", "wrong_case",
 * "not_response", "malformed", "tcp_mismatch") return the label value of a slot, or NULL for
 * one out of range. The strings are static. */
const char *acmeva_dns_stat_qtype_name(int slot);
const char *acmeva_dns_stat_outcome_name(int slot);
const char *acmeva_dns_drop_reason_name(int reason);

/*
 * The DNSSEC resolver check (DESIGN.md "DNSSEC"; BR ballot SC085: the primary perspective must
 * validate DNSSEC). Each resolver of the engine is asked, on its own, for the SOA of
 * cfg->dnssec_probe_name with the AD bit set in the query (RFC 6840 §5.7). A validating
 * resolver that holds a trust anchor covering the name answers NOERROR with AD set; a resolver
 * that does not validate answers without AD (RFC 4035 §3.2.3), and one that cannot reach the
 * name's servers answers SERVFAIL or not at all. With the default name, the root, every
 * validating resolver with the root trust anchor passes.
 */
#define ACMEVA_DNSSEC_DETAIL_MAX 1024

typedef struct acmeva_dnssec_report {
    size_t resolvers;  /* asked */
    size_t validating; /* answered NOERROR with the AD bit */
    int local_failure; /* a query could not be sent from this machine (no socket, no memory) */
    /* One clause a resolver, e.g. "127.0.0.1:53 validates; [::1]:53 answered SOA for . without
     * the AD bit (it does not validate DNSSEC)"; escaped, cut to fit. */
    char detail[ACMEVA_DNSSEC_DETAIL_MAX];
} acmeva_dnssec_report;

typedef void (*acmeva_dnssec_cb)(void *arg, const acmeva_dnssec_report *report /* borrowed */);
typedef struct acmeva_dnssec_check acmeva_dnssec_check;

/*
 * acmeva_dnssec_check_start asks every resolver of |e| at once (each try of each query goes to
 * that resolver only: cfg->dns_tries tries of cfg->dns_timeout_ms). |cb| runs once, later,
 * from the loop, unless the check is cancelled. One check runs at a time on an engine.
 * Returns 0, or UV_EBUSY (a check is running), UV_EINVAL (a bad name) or UV_ENOMEM, and then
 * |cb| never runs.
 */
int acmeva_dnssec_check_start(acmeva_engine *e, acmeva_dnssec_cb cb, void *arg,
                              acmeva_dnssec_check **out);

/* acmeva_dnssec_check_cancel ends |c| at once: its callback never runs. NULL is a no-op.
 * acmeva_engine_free cancels a check still running. */
void acmeva_dnssec_check_cancel(acmeva_dnssec_check *c);

/*
 * acmeva_engine_free cancels every running validation (their callbacks are not called),
 * closes the engine's handles and frees it once they are closed: run the loop afterwards
 * until it has no more handles. NULL is a no-op.
 */
void acmeva_engine_free(acmeva_engine *e);

/* acmeva_tls_ctx_new returns a new client SSL_CTX (as void *) set up for validations: TLS 1.2
 * minimum, X25519 offered first, no session resumption, and no chain or X509 work: peer
 * certificates stay DER and any chain is accepted (challenge certificates are checked by
 * hand after the handshake, which has proven the server holds the leaf's key). Returns NULL
 * when out of memory. */
void *acmeva_tls_ctx_new(void);
/* acmeva_tls_ctx_free releases a context from acmeva_tls_ctx_new. NULL is a no-op. */
void acmeva_tls_ctx_free(void *ssl_ctx);

#ifdef __cplusplus
}
#endif

#endif
