/*
 * DNS on the loop: queries built by dnsmsg.c (the AD bit set, RFC 6840 §5.7; EDNS0 with a
 * 1232-octet UDP size) and sent on a transport of our own, on libuv, with answers parsed from
 * the raw message with bounds checks.
 *
 * Why not c-ares' ares_send: c-ares 1.18 keeps the caller's query id, sends every query to a
 * server from one UDP socket (one source port) reused for the life of the channel, compares
 * the question of a reply case-insensitively, and ends a query on the first reply it accepts.
 * So it cannot make each query unguessable (fresh id, fresh port, random letter case), and it
 * cannot drop a forged reply and keep waiting for the true one, nor count what it dropped.
 *
 * What the transport does instead (DESIGN.md "Hardening", RFC 5452 §9.2 and §9.3):
 * - every try of every query gets a fresh 16-bit id from RAND_bytes and a fresh UDP socket
 *   bound to a random source port (picked with RAND_bytes from 1024..65535, the bytes drawn
 *   in blocks of 2 KiB per resolver and each used once; a few more picks
 *   on EADDRINUSE, then the kernel's choice), connected to the resolver so the kernel drops
 *   datagrams from anyone else; each datagram's source address and port are still checked;
 * - the query name is sent in random letter case per try (draft-vixie-dnsext-dns0x20), unless
 *   cfg->dns_0x20 is 0 (--no-dns-0x20);
 * - a reply counts only when acmeva_dns_match_reply accepts it (id, QR, opcode QUERY, one
 *   question equal byte for byte, case included, type and class); anything else is dropped,
 *   counted by reason in acmeva_dns_stats, and the query keeps waiting for the true reply;
 * - a reply with TC set is asked again over TCP (2-octet length framing, RFC 1035 §4.2.2; a
 *   fresh id; the same checks; at most 65535 octets read), to the same resolver, within the
 *   try's time;
 * - a try is retried only when it times out, at the next resolver; SERVFAIL, REFUSED and every
 *   other response code are answers (Boulder bdns);
 * - the answer handed to a callback holds only the records of the queried name or of the
 *   CNAME chain from it (acmeva_dns_answer_chain).
 * c-ares is kept only to read the system's nameservers (resolv.conf) when no --resolver is
 * given: a parser of that file is all it still brings.
 *
 * Nothing blocks; every handle is freed from its close callback; a query can be cancelled at
 * any time, and the resolver freed with queries in flight. Nothing of the resolver keeps the
 * loop alive once no query is in flight.
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
    ACMEVA_DNS_OK = 0,  /* a reply was taken: look at msg->rcode */
    ACMEVA_DNS_TIMEOUT, /* every try timed out (forged and malformed replies are dropped and
                         * waited past, so they end as a timeout when no true reply came) */
    ACMEVA_DNS_NETWORK, /* the resolver could not be reached (refused, unreachable, closed) */
    ACMEVA_DNS_LOCAL,   /* this machine could not open or use a socket (EMFILE, ENFILE,
                         * ENOMEM, ENOBUFS): never the subscriber's fault */
} acmeva_dns_status;

typedef struct acmeva_dns_answer {
    acmeva_dns_status status;
    int error;                 /* the UV_E* error of NETWORK and LOCAL, else 0 */
    const acmeva_dns_msg *msg; /* set when status is OK; valid during the callback only */
    const char *resolver;      /* "IP:PORT" of the resolver that answered or was tried last */
    int tries;
} acmeva_dns_answer;

typedef void (*acmeva_dns_cb)(void *arg, const acmeva_dns_answer *answer);

/*
 * acmeva_resolver_new creates the resolver of one loop, for the configured resolvers
 * (cfg->resolvers, else the system's nameservers). Returns 0 or a negative error with a
 * message in |err|.
 */
int acmeva_resolver_new(uv_loop_t *loop, const acmeva_engine_config *cfg, acmeva_resolver **out,
                        char *err, size_t errlen);

/* acmeva_resolver_free frees every query in flight (their callbacks never run; their owners
 * must not cancel them afterwards), closes the resolver's handles and frees it once they are
 * closed. NULL is a no-op. */
void acmeva_resolver_free(acmeva_resolver *r);

/* acmeva_resolver_stats returns the resolver's counters (borrowed, updated in place). */
const acmeva_dns_stats *acmeva_resolver_stats(const acmeva_resolver *r);

/*
 * acmeva_dns_query_start sends one query for |name| (at most 253 characters, an optional
 * trailing dot) and |qtype|, retried only on timeout (cfg->dns_tries tries of
 * cfg->dns_timeout_ms each, rotating through the resolvers); a truncated UDP answer is asked
 * again over TCP within the try's time. |cb| runs once, later, from the loop, unless the
 * query is cancelled; a socket that cannot be opened ends the query with ACMEVA_DNS_LOCAL,
 * also from the loop. Returns 0, or UV_EINVAL (a bad name, a resolver being freed) or
 * UV_ENOMEM, and then |cb| never runs.
 */
int acmeva_dns_query_start(acmeva_resolver *r, const char *name, uint16_t qtype, acmeva_dns_cb cb,
                           void *arg, acmeva_dns_query **out);

/*
 * acmeva_dns_query_start_at is acmeva_dns_query_start with every try (retries included) sent
 * to resolver number |server| (0 .. acmeva_resolver_count() - 1), for a check of each resolver
 * on its own (the DNSSEC resolver check). Returns 0, or UV_EINVAL (no such resolver, a bad
 * name) or UV_ENOMEM, and then |cb| never runs.
 */
int acmeva_dns_query_start_at(acmeva_resolver *r, size_t server, const char *name, uint16_t qtype,
                              acmeva_dns_cb cb, void *arg, acmeva_dns_query **out);

/* acmeva_resolver_count returns how many resolvers |r| asks (configured or the system's). */
size_t acmeva_resolver_count(const acmeva_resolver *r);

/* acmeva_dns_query_cancel ends |q| at once: its socket is closed and its callback never
 * runs. NULL is a no-op. */
void acmeva_dns_query_cancel(acmeva_dns_query *q);

#define ACMEVA_DNS_EDE_TEXT_MAX 160 /* bytes of an escaped EDE text in a problem detail */
#define ACMEVA_DNS_PROBLEM_MAX 640  /* room for any detail acmeva_dns_problem writes */

/*
 * acmeva_dns_problem writes Boulder's DNS problem detail for a failed lookup:
 * "DNS problem: NXDOMAIN looking up TXT for <name> - check that a DNS record exists for this
 * domain", "DNS problem: query timed out looking up A for <name>", ...; for ACMEVA_DNS_LOCAL
 * an internal error that names this machine's failure (report it as serverInternal). When
 * the answer carries an Extended DNS Error (RFC 8914) the detail ends with it, e.g.
 * "(Extended DNS Error 6: DNSSEC Bogus: <text>)", its text escaped; a SERVFAIL whose EDE
 * reports a failed DNSSEC validation says "- DNSSEC validation failed" instead of "- the
 * domain's nameservers may be malfunctioning". |out| of ACMEVA_DNS_PROBLEM_MAX bytes holds
 * any detail for a name of 253 characters.
 * Returns 1 when |answer| is a failure (and |out| was written), 0 when it is a NOERROR answer.
 */
int acmeva_dns_problem(const acmeva_dns_answer *answer, const char *qtype_name, const char *name,
                       char *out, size_t outlen);

/*
 * acmeva_dns_answer_cnames appends to |out| the CNAME chain of the answer |m| (filtered by
 * acmeva_dns_answer_chain): each target in order from the question name, escaped, a target
 * already in |out| ending it (so the A and AAAA answers of one name list it once). For the
 * records a person reads: an alias to a name that has no records explains a failure.
 */
void acmeva_dns_answer_cnames(const acmeva_dns_msg *m, acmeva_strlist *out);

/* The addresses of one host name: A and AAAA looked up in parallel. */
#define ACMEVA_MAX_ADDRS 32
typedef struct acmeva_host_addrs {
    int failed;        /* no usable address: |detail| holds the dns problem detail */
    int local_failure; /* failed because this machine could not query (ACMEVA_DNS_LOCAL):
                        * |detail| is an internal error, report serverInternal */
    char detail[ACMEVA_DNS_PROBLEM_MAX];
    uint8_t v6[ACMEVA_MAX_ADDRS][16];
    size_t n6;
    uint8_t v4[ACMEVA_MAX_ADDRS][4];
    size_t n4;
    acmeva_strlist resolved;  /* every address in the answers (policy-dropped ones included) */
    acmeva_strlist resolvers; /* the resolvers that answered */
    acmeva_strlist cnames;    /* the CNAME chain from the name (acmeva_dns_answer_cnames) */
    int answered;             /* lookups that got an answer (of 2) */
    int all_secure;           /* both lookups got an answer, each with the AD bit */
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

/* acmeva_host_addrs_record moves the addresses resolved, the resolvers that answered and the
 * CNAME chain into a validation record (|a|'s lists are left empty: call it once, from the
 * callback),
 * and sets its "dnssec" status when any lookup was answered: "secure" only when both the A
 * and the AAAA answer had the AD bit (DESIGN.md "DNSSEC"). */
void acmeva_host_addrs_record(acmeva_host_addrs *a, acmeva_vrecord *rec);

/* acmeva_host_lookup_cancel orphans |h|: its callback never runs. NULL is a no-op. */
void acmeva_host_lookup_cancel(acmeva_host_lookup *h);

#endif
