/*
 * The DNSSEC resolver check (engine.h, DESIGN.md "DNSSEC"): does any resolver of this engine
 * validate DNSSEC? Each resolver is asked on its own, so that one validating resolver among
 * several is found, and one that does not validate is named.
 *
 * A resolver validates when it answers NOERROR with the AD bit for the SOA of a name under a
 * trust anchor (by default the root). The query carries the AD bit (RFC 6840 §5.7), so a
 * validating resolver reports the outcome without the DO bit; a security-oblivious or
 * non-validating resolver never sets AD (RFC 4035 §3.2.3).
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmsg.h"

#define DNS_SOA 6 /* RFC 1035 §3.2.2 */

typedef struct dnssec_ask {
    acmeva_dnssec_check *c;
    acmeva_dns_query *q; /* NULL once answered */
    char clause[ACMEVA_DNS_PROBLEM_MAX + 80];
} dnssec_ask;

struct acmeva_dnssec_check {
    acmeva_engine *e;
    acmeva_dnssec_cb cb;
    void *arg;
    size_t n, pending;
    acmeva_dnssec_report report;
    dnssec_ask asks[ACMEVA_MAX_RESOLVERS];
};

static const char *probe_name(const acmeva_engine_config *cfg)
{
    return cfg->dnssec_probe_name != NULL ? cfg->dnssec_probe_name : ".";
}

static void check_free(acmeva_dnssec_check *c)
{
    for (size_t i = 0; i < c->n; i++)
        acmeva_dns_query_cancel(c->asks[i].q);
    if (c->e->dnssec_check == c)
        c->e->dnssec_check = NULL;
    free(c);
}

/* check_finish writes the report, one clause a resolver in the order configured, and reports
 * once. */
static void check_finish(acmeva_dnssec_check *c)
{
    acmeva_dnssec_report *rep = &c->report;
    size_t off = 0;
    rep->resolvers = c->n;
    for (size_t i = 0; i < c->n && off + 1 < sizeof(rep->detail); i++) {
        int k = snprintf(rep->detail + off, sizeof(rep->detail) - off, "%s%s", i ? "; " : "",
                         c->asks[i].clause);
        if (k < 0)
            break;
        off += (size_t)k;
    }
    if (off >= sizeof(rep->detail))
        memcpy(rep->detail + sizeof(rep->detail) - 4, "...", 4);
    acmeva_dnssec_cb cb = c->cb;
    void *arg = c->arg;
    acmeva_dnssec_report copy = *rep;
    check_free(c);
    cb(arg, &copy);
}

static void ask_cb(void *arg, const acmeva_dns_answer *a)
{
    dnssec_ask *ask = arg;
    acmeva_dnssec_check *c = ask->c;
    const char *name = probe_name(c->e->cfg);
    char problem[ACMEVA_DNS_PROBLEM_MAX];
    ask->q = NULL;
    if (a->status == ACMEVA_DNS_LOCAL)
        c->report.local_failure = 1;
    if (acmeva_dns_problem(a, "SOA", name, problem, sizeof(problem))) {
        snprintf(ask->clause, sizeof(ask->clause), "%s: %s", a->resolver, problem);
    } else if (!a->msg->ad) {
        snprintf(ask->clause, sizeof(ask->clause),
                 "%s answered SOA for %s without the AD bit (it does not validate DNSSEC, or "
                 "holds no trust anchor for %s)",
                 a->resolver, name, name);
    } else {
        snprintf(ask->clause, sizeof(ask->clause), "%s validates", a->resolver);
        c->report.validating++;
    }
    if (--c->pending == 0)
        check_finish(c);
}

int acmeva_dnssec_check_start(acmeva_engine *e, acmeva_dnssec_cb cb, void *arg,
                              acmeva_dnssec_check **out)
{
    if (out != NULL)
        *out = NULL;
    if (e->dnssec_check != NULL)
        return UV_EBUSY;
    size_t n = acmeva_resolver_count(e->resolver);
    if (n == 0 || n > ACMEVA_MAX_RESOLVERS || cb == NULL)
        return UV_EINVAL;
    acmeva_dnssec_check *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return UV_ENOMEM;
    c->e = e;
    c->cb = cb;
    c->arg = arg;
    for (size_t i = 0; i < n; i++) {
        dnssec_ask *ask = &c->asks[i];
        ask->c = c;
        int rc = acmeva_dns_query_start_at(e->resolver, i, probe_name(e->cfg), DNS_SOA, ask_cb, ask,
                                           &ask->q);
        if (rc != 0) {
            check_free(c); /* cancels the queries started: no callback runs */
            return rc;
        }
        c->n++;
        c->pending++;
    }
    e->dnssec_check = c;
    if (out != NULL)
        *out = c;
    return 0;
}

void acmeva_dnssec_check_cancel(acmeva_dnssec_check *c)
{
    if (c != NULL)
        check_free(c);
}
