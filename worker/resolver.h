/*
 * DNS on the loop: c-ares channels driven by libuv (socket-state callback to uv_poll_t, one
 * timer armed from ares_timeout()), queries built by dnsmsg.c with the AD bit set (RFC 6840
 * §5.7) and answers parsed from the raw message with bounds checks.
 */
#ifndef ACMEVA_RESOLVER_H
#define ACMEVA_RESOLVER_H

#include <stdint.h>
#include <uv.h>

#include "acmeva/engine.h"
#include "dnsmsg.h"

typedef struct acmeva_resolver acmeva_resolver;
typedef struct acmeva_dns_query acmeva_dns_query;
typedef struct acmeva_host_lookup acmeva_host_lookup;

/* Outcomes of one query, after its retries. */
typedef enum {
    ACMEVA_DNS_OK = 0,      /* a response was received and parsed: look at msg->rcode */
    ACMEVA_DNS_TIMEOUT,     /* every try timed out */
    ACMEVA_DNS_NETWORK,     /* the resolver could not be reached (refused, unreachable) */
    ACMEVA_DNS_BADRESPONSE, /* the response did not parse */
} acmeva_dns_status;

typedef struct acmeva_dns_answer {
    acmeva_dns_status status;
    const acmeva_dns_msg *msg; /* set when status is OK; valid during the callback only */
    const char *resolver;      /* "IP:PORT" of the resolver that answered or was tried last */
    int tries;
} acmeva_dns_answer;

typedef void (*acmeva_dns_cb)(void *arg, const acmeva_dns_answer *answer);

/*
 * acmeva_resolver_new creates the resolver of one loop: one c-ares channel per configured
 * resolver (cfg->resolvers, else the system's nameservers) so that each try goes to a chosen
 * resolver and the record names the one that answered. Returns 0 or a negative error with a
 * message in |err|.
 */
int acmeva_resolver_new(uv_loop_t *loop, const acmeva_engine_config *cfg, acmeva_resolver **out,
                        char *err, size_t errlen);

/* acmeva_resolver_free orphans every query in flight, closes the channels' handles and frees
 * the resolver once they are closed. NULL is a no-op. */
void acmeva_resolver_free(acmeva_resolver *r);

/* acmeva_resolver_addrs returns the configured resolvers' "IP:PORT" texts. */
const char *const *acmeva_resolver_addrs(const acmeva_resolver *r, size_t *n);

/*
 * acmeva_dns_query_start sends one query for |name| and |qtype|, retried only on timeout
 * (cfg->dns_tries tries of cfg->dns_timeout_ms each, rotating through the resolvers); a
 * truncated UDP answer is retried over TCP by c-ares. |cb| runs once, later, from the loop,
 * unless the query is cancelled. Returns 0 or a negative error (then |cb| never runs).
 */
int acmeva_dns_query_start(acmeva_resolver *r, const char *name, uint16_t qtype, acmeva_dns_cb cb,
                           void *arg, acmeva_dns_query **out);

/* acmeva_dns_query_cancel orphans |q|: its callback never runs. NULL is a no-op. */
void acmeva_dns_query_cancel(acmeva_dns_query *q);

/*
 * acmeva_dns_problem writes Boulder's DNS problem detail for a failed lookup:
 * "DNS problem: NXDOMAIN looking up TXT for <name> - check that a DNS record exists for this
 * domain", "DNS problem: query timed out looking up A for <name>", ...
 * Returns 1 when |answer| is a failure (and |out| was written), 0 when it is a NOERROR answer.
 */
int acmeva_dns_problem(const acmeva_dns_answer *answer, const char *qtype_name, const char *name,
                       char *out, size_t outlen);

/* The addresses of one host name: A and AAAA looked up in parallel. */
#define ACMEVA_MAX_ADDRS 32
typedef struct acmeva_host_addrs {
    int failed; /* no usable address: |detail| holds the dns problem detail */
    char detail[512];
    uint8_t v6[ACMEVA_MAX_ADDRS][16];
    size_t n6;
    uint8_t v4[ACMEVA_MAX_ADDRS][4];
    size_t n4;
    acmeva_strlist resolved;  /* every address in the answers (policy-dropped ones included) */
    acmeva_strlist resolvers; /* the resolvers that answered */
    int all_secure;           /* every answer had the AD bit */
} acmeva_host_addrs;

typedef void (*acmeva_host_cb)(void *arg, acmeva_host_addrs *addrs /* borrowed */);

/*
 * acmeva_host_lookup_start looks up A and AAAA for |name| in parallel and drops the reserved
 * addresses unless |allow_private|. When no usable address is left, addrs->failed is set with
 * the dns problem detail ("No valid IP addresses found for <name>" or the lookup error).
 * |cb| runs once, later, unless cancelled. Returns 0 or a negative error.
 */
int acmeva_host_lookup_start(acmeva_resolver *r, const char *name, int allow_private,
                             acmeva_host_cb cb, void *arg, acmeva_host_lookup **out);

/* acmeva_host_addrs_pick fills |fam| and |addr| with the addresses a connection tries, in
 * order: the first IPv6 address, then the first IPv4 address (Boulder va/http.go and
 * va/tlsalpn.go). Returns how many (0, 1 or 2). */
int acmeva_host_addrs_pick(const acmeva_host_addrs *a, int fam[2], uint8_t addr[2][16]);

/* acmeva_host_addrs_record moves the addresses resolved and the resolvers that answered
 * into a validation record (|a|'s lists are left empty: call it once, from the callback). */
void acmeva_host_addrs_record(acmeva_host_addrs *a, acmeva_vrecord *rec);

/* acmeva_host_lookup_cancel orphans |h|: its callback never runs. NULL is a no-op. */
void acmeva_host_lookup_cancel(acmeva_host_lookup *h);

#endif
