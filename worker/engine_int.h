/*
 * Engine internals shared by the challenge and CAA checks: the engine, one validation (one
 * job), and the small helpers every check uses. Not installed; not part of the API.
 */
#ifndef ACMEVA_ENGINE_INT_H
#define ACMEVA_ENGINE_INT_H

#include <stdint.h>
#include <uv.h>

#include "acmeva/engine.h"
#include "addrpolicy.h"
#include "conn.h"
#include "resolver.h"

struct acmeva_engine {
    uv_loop_t *loop;
    const acmeva_engine_config *cfg;
    void *ssl_ctx; /* SSL_CTX *, shared read-only */
    int own_ssl_ctx;
    acmeva_addr_policy policy; /* built once from cfg */
    acmeva_dialer *dialer;     /* every connection goes through it */
    acmeva_resolver *resolver;
    acmeva_validation *head; /* running validations */
    size_t inflight;
    acmeva_engine_stats stats;
    acmeva_dnssec_check *dnssec_check; /* the DNSSEC resolver check running, if any */
};

/* One kind of check (a challenge type, or CAA). start() returns 0 and later calls
 * acmeva_validation_check_done() exactly once, or returns a negative error synchronously
 * (no memory) and never calls it. cancel() stops a running check silently and frees it. */
typedef struct acmeva_check_ops {
    int (*start)(acmeva_validation *v, void **state);
    void (*cancel)(void *state);
} acmeva_check_ops;

enum { ACMEVA_CHECK_CHALLENGE = 0, ACMEVA_CHECK_CAA = 1, ACMEVA_CHECK_MAX = 2 };

struct acmeva_validation {
    acmeva_engine *e;
    acmeva_validation *prev, *next;
    acmeva_job *job;
    acmeva_result *result;
    acmeva_validation_cb cb;
    void *arg;
    uint64_t deadline; /* loop time (ms) by which everything must have finished */
    uint64_t start_hr; /* uv_hrtime() at start, for durationMs */
    const acmeva_check_ops *ops[ACMEVA_CHECK_MAX];
    void *state[ACMEVA_CHECK_MAX]; /* NULL once that check is done */
    int challenge_ok;
    int caa_ok;
    int starting;      /* inside acmeva_engine_validate: finishing is deferred */
    uv_timer_t *defer; /* the zero timer of a deferred finish */
    int nomem;         /* something the result needed could not be allocated */
    /* cfg->all_addresses: a run of the challenge pinned to one address of the identifier has
     * a parent (the validation it belongs to, which reports its outcome); hops to the
     * identifier connect to pin_addr only, without a lookup. The parent keeps its runs. */
    acmeva_validation *parent;
    size_t slot; /* this run's index in parent->runs */
    int pinned;
    int pin_fam;
    uint8_t pin_addr[16];
    char pin_text[64];
    struct acmeva_address_runs *runs;
};

/*
 * acmeva_validation_nomem records that |v| could not allocate something its result needed.
 * However its checks end, the validation then ends with serverInternal and
 * result->local_failure set: a failure of this machine is never the subscriber's (DESIGN.md
 * "Hardening"), and a result with a part missing must not pass for a complete one.
 */
void acmeva_validation_nomem(acmeva_validation *v);
/* acmeva_validation_strdup returns a copy of |s| (NULL stays NULL), recording no memory on
 * |v| when the copy cannot be made. The caller owns the copy. */
char *acmeva_validation_strdup(acmeva_validation *v, const char *s);
/* acmeva_validation_list_add appends a copy of |s| (|len| bytes) to |l|, recording no memory
 * on |v| when it cannot. */
void acmeva_validation_list_add(acmeva_validation *v, acmeva_strlist *l, const char *s, size_t len);
/* acmeva_validation_set_problem sets the result's problem; when the detail cannot be copied
 * it records no memory on |v| (the problem is then serverInternal, see above). */
void acmeva_validation_set_problem(acmeva_validation *v, acmeva_problem_type type,
                                   const char *detail);

/* acmeva_validation_check_done is called by a check once it has recorded its outcome in
 * v->result and released its handles (or handed them to their close callbacks). */
void acmeva_validation_check_done(acmeva_validation *v, int which);

/* acmeva_validation_dns_failure returns the problem type of a lookup that failed: dns, or,
 * when |local| (this machine could not open a socket: ACMEVA_DNS_LOCAL), serverInternal with
 * the result marked as a local failure, never the subscriber's fault (DESIGN.md
 * "Hardening"). */
acmeva_problem_type acmeva_validation_dns_failure(acmeva_validation *v, int local);

/* acmeva_validation_remaining_ms returns the milliseconds left before the job's deadline
 * (0 when it has passed). */
uint64_t acmeva_validation_remaining_ms(const acmeva_validation *v);

/* acmeva_phase_ms returns min(|limit_ms|, time left), at least 1 ms. */
uint64_t acmeva_phase_ms(const acmeva_validation *v, int64_t limit_ms);

/* The start of every problem detail of a local failure (DESIGN.md "Hardening"): the result is
 * serverInternal and marked local_failure, never blamed on the subscriber. */
#define ACMEVA_LOCAL_FAILURE_PREFIX "Local failure of the validation server, not of the subscriber: "

/*
 * acmeva_validation_local_failure records that this machine failed the validation (no
 * descriptors, no memory, no buffer space, no local port): a serverInternal problem whose
 * detail is ACMEVA_LOCAL_FAILURE_PREFIX followed by the printf-style text, and
 * result->local_failure = 1. When |caa| is set the problem is the CAA check's. The caller then
 * finishes its check as for any other failure.
 */
void acmeva_validation_local_failure(acmeva_validation *v, int caa, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * acmeva_engine_lookup_host starts the A and AAAA lookup of a host a check will connect to.
 * The resolver drops the reserved addresses itself when the engine's policy has no exception;
 * otherwise it keeps them and acmeva_engine_pick_addrs applies the exceptions. Returns 0 or a
 * negative error, as acmeva_host_lookup_start.
 */
int acmeva_engine_lookup_host(acmeva_engine *e, const char *name, acmeva_host_cb cb, void *arg,
                              acmeva_host_lookup **out);

/*
 * acmeva_engine_pick_addrs fills |fam| and |addr| with the addresses a connection tries, in
 * order: the first IPv6 address, then the first IPv4 address that the engine's address policy
 * permits (Boulder va/http.go and va/tlsalpn.go, after its reserved-address filter). Returns
 * how many (0, 1 or 2); 0 is the dns problem "No valid IP addresses found for <name>".
 */
int acmeva_engine_pick_addrs(const acmeva_engine *e, const acmeva_host_addrs *a, int fam[2],
                             uint8_t addr[2][16]);

/* acmeva_timer_new allocates and initializes a timer on |loop| with |data|; the memory is
 * freed by acmeva_timer_free from the close callback. Returns NULL on no memory. */
uv_timer_t *acmeva_timer_new(uv_loop_t *loop, void *data);
/* acmeva_timer_free stops and closes |t| and frees it once closed. NULL is a no-op. */
void acmeva_timer_free(uv_timer_t *t);

/* The checks (one file each). */
extern const acmeva_check_ops acmeva_http01_ops;
extern const acmeva_check_ops acmeva_dns01_ops; /* dns-01 and dns-account-01 */
extern const acmeva_check_ops acmeva_dnspersist01_ops;
extern const acmeva_check_ops acmeva_tlsalpn01_ops;
extern const acmeva_check_ops acmeva_caa_ops;

#endif
