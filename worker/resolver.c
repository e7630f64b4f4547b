/*
 * DNS on the loop (see resolver.h).
 *
 * One c-ares channel per resolver rather than one channel with every server: c-ares 1.18
 * picks the server itself and does not say which one answered, while a validation record
 * must name the resolver that answered and retries must rotate through the resolvers on
 * timeout only (Boulder bdns: 3 tries of 1 s). Each channel has tries=1; the retry loop is
 * ours. ARES_FLAG_NOCHECKRESP makes c-ares hand SERVFAIL and REFUSED answers back to us
 * instead of silently trying another server: SERVFAIL is an answer, never a reason to ask
 * elsewhere until one says yes.
 */
#include "resolver.h"

#include <arpa/inet.h>
#include <ares.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrpolicy.h"

typedef struct dns_poll {
    uv_poll_t handle;
    struct dns_channel *chan;
    ares_socket_t fd;
    struct dns_poll *next;
} dns_poll;

typedef struct dns_channel {
    acmeva_resolver *r;
    ares_channel channel;
    uv_timer_t *timer;
    dns_poll *polls;
    char addr[64]; /* "IP:PORT" */
} dns_channel;

struct acmeva_resolver {
    uv_loop_t *loop;
    const acmeva_engine_config *cfg;
    dns_channel chans[ACMEVA_MAX_RESOLVERS];
    const char *addrs[ACMEVA_MAX_RESOLVERS];
    size_t n;
    unsigned next; /* round-robin start of the next query */
    /* Queries that c-ares failed from inside ares_send (no socket, port unreachable): their
     * outcome is delivered from a zero timer, never from inside acmeva_dns_query_start. */
    struct acmeva_dns_query *deferred;
    /* Queries started while c-ares is processing a socket (from an answer's callback) are
     * sent from the zero timer instead: c-ares reads a socket until it is empty, and a fast
     * resolver would otherwise answer each new query before that read loop ends, forever. */
    struct acmeva_dns_query *to_send;
    int in_process;
    uv_timer_t *defer_timer;
    /* The parsed answer handed to a callback. Deliveries never nest (a query started from a
     * callback is delivered later, from the loop), so one buffer per resolver serves all. */
    acmeva_dns_msg *msg;
    int closing;
    int closes_pending;
};

struct acmeva_dns_query {
    acmeva_resolver *r;
    acmeva_dns_cb cb; /* NULL: orphaned, freed when c-ares lets go of it */
    void *arg;
    uint8_t qbuf[512];
    int qlen;
    uint16_t qtype;
    int tries;
    unsigned chan;
    int in_send;
    int sync_status; /* a failure c-ares reported from inside ares_send */
    struct acmeva_dns_query *next_deferred;
};

static void resolver_maybe_free(acmeva_resolver *r);

static void timer_close_cb(uv_handle_t *h)
{
    acmeva_resolver *r = h->data;
    free(h);
    r->closes_pending--;
    resolver_maybe_free(r);
}

static void poll_close_cb(uv_handle_t *h)
{
    dns_poll *p = (dns_poll *)h;
    acmeva_resolver *r = p->chan->r;
    free(p);
    r->closes_pending--;
    resolver_maybe_free(r);
}

/* The channel's one timer, armed from ares_timeout(). ares_timeout() walks every query in
 * flight, so it is asked only when the timer fires or is idle, never after each packet: with
 * thousands of queries in flight, asking after every send and read was quadratic. Every try
 * has the same timeout, so a timer armed for the earliest query stays right as others are
 * added. The timer also never fires sooner than DNS_TIMER_BATCH_MS after it is armed: when a
 * server stops answering, its queries time out a few every millisecond, and each firing walks
 * all of them (about 11 ns a query: 1.1 ms with 100,000 lookups in flight). Batching the
 * timeouts bounds the walks to 40 a second. A DNS timeout is then up to 25 ms late, against
 * tries of a second or more; validation deadlines have their own timers and stay exact. */
#define DNS_TIMER_BATCH_MS 25

static void channel_timer_cb(uv_timer_t *t);

static void channel_rearm(dns_channel *c)
{
    struct timeval tv, *tvp;
    if (c->r->closing)
        return;
    tvp = ares_timeout(c->channel, NULL, &tv);
    if (tvp == NULL) {
        uv_timer_stop(c->timer);
        return;
    }
    uint64_t ms = (uint64_t)tvp->tv_sec * 1000 + (uint64_t)(tvp->tv_usec + 999) / 1000;
    uv_timer_start(c->timer, channel_timer_cb, ms < DNS_TIMER_BATCH_MS ? DNS_TIMER_BATCH_MS : ms,
                   0);
}

/* rearm_idle arms every channel timer that is not running. Sends made while c-ares processes
 * (the retries of timed-out queries) leave their timer to this, so that a burst of timeouts
 * costs one ares_timeout() walk per channel, not one per retry: with 50,000 lookups stuck on a
 * silent server, a walk per retry was a fifth of all the CPU time. */
static void rearm_idle(acmeva_resolver *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (!uv_is_active((uv_handle_t *)r->chans[i].timer))
            channel_rearm(&r->chans[i]);
}

static void channel_timer_cb(uv_timer_t *t)
{
    dns_channel *c = t->data;
    c->r->in_process = 1;
    ares_process_fd(c->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    c->r->in_process = 0;
    channel_rearm(c);
    rearm_idle(c->r);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    dns_poll *p = (dns_poll *)h;
    dns_channel *c = p->chan;
    ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;
    /* On an error let c-ares read and write so that it sees the error itself. */
    if (status < 0 || (events & UV_READABLE))
        rfd = p->fd;
    if (status < 0 || (events & UV_WRITABLE))
        wfd = p->fd;
    c->r->in_process = 1;
    ares_process_fd(c->channel, rfd, wfd);
    c->r->in_process = 0;
    rearm_idle(c->r); /* c-ares also processes timeouts here */
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    dns_channel *c = data;
    dns_poll **pp, *p;
    for (pp = &c->polls; (p = *pp) != NULL; pp = &p->next)
        if (p->fd == fd)
            break;
    if (!readable && !writable) {
        if (p != NULL) {
            *pp = p->next;
            uv_poll_stop(&p->handle);
            c->r->closes_pending++;
            uv_close((uv_handle_t *)&p->handle, poll_close_cb);
        }
        return;
    }
    if (p == NULL) {
        p = calloc(1, sizeof(*p));
        if (p == NULL)
            return; /* the query times out: c-ares gets no events for this socket */
        if (uv_poll_init_socket(c->r->loop, &p->handle, fd) != 0) {
            free(p);
            return;
        }
        p->chan = c;
        p->fd = fd;
        p->next = c->polls;
        c->polls = p;
    }
    uv_poll_start(&p->handle, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), poll_cb);
}

static int channel_init(acmeva_resolver *r, dns_channel *c, const char *server, char *err,
                        size_t errlen)
{
    struct ares_options opts;
    memset(&opts, 0, sizeof(opts));
    opts.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    opts.timeout = r->cfg->dns_timeout_ms;
    opts.tries = 1;
    opts.sock_state_cb = sock_state_cb;
    opts.sock_state_cb_data = c;
    /* Thousands of queries in flight on one UDP socket: the default receive buffer (about
     * 200 KiB) overflows under a burst of answers and every lost answer costs a retry. */
    opts.socket_receive_buffer_size = 4 * 1024 * 1024;
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB |
               ARES_OPT_SOCK_RCVBUF;
    c->r = r;
    int rc = ares_init_options(&c->channel, &opts, mask);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        return -1;
    }
    rc = ares_set_servers_ports_csv(c->channel, server);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "resolver %s: %s", server, ares_strerror(rc));
        ares_destroy(c->channel);
        c->channel = NULL;
        return -1;
    }
    c->timer = malloc(sizeof(*c->timer));
    if (c->timer == NULL) {
        ares_destroy(c->channel);
        c->channel = NULL;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uv_timer_init(r->loop, c->timer);
    /* The timer callback needs the channel; acmeva_resolver_free points it at the resolver
     * for the close callback. */
    c->timer->data = c;
    snprintf(c->addr, sizeof(c->addr), "%s", server);
    return 0;
}

/* Turn a resolver option ("IP", "IP:PORT", "[IPv6]:PORT") into c-ares' csv form. */
static int normalize_server(const char *in, char *out, size_t outlen)
{
    uint8_t buf[16];
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
    if (inet_pton(AF_INET, host, buf) == 1)
        snprintf(out, outlen, "%s:%lu", host, port);
    else if (inet_pton(AF_INET6, host, buf) == 1)
        snprintf(out, outlen, "[%s]:%lu", host, port);
    else
        return -1;
    return 0;
}

/* The system's nameservers, as c-ares reads them from /etc/resolv.conf. */
static int system_servers(char out[][64], size_t max, size_t *n, char *err, size_t errlen)
{
    ares_channel ch;
    struct ares_addr_port_node *servers = NULL, *s;
    int rc = ares_init(&ch);
    *n = 0;
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        return -1;
    }
    rc = ares_get_servers_ports(ch, &servers);
    for (s = servers; rc == ARES_SUCCESS && s != NULL && *n < max; s = s->next) {
        char ip[INET6_ADDRSTRLEN];
        int port = s->udp_port ? s->udp_port : 53;
        if (inet_ntop(s->family, &s->addr, ip, sizeof(ip)) == NULL)
            continue;
        if (s->family == AF_INET6)
            snprintf(out[*n], 64, "[%s]:%d", ip, port);
        else
            snprintf(out[*n], 64, "%s:%d", ip, port);
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

int acmeva_resolver_new(uv_loop_t *loop, const acmeva_engine_config *cfg, acmeva_resolver **out,
                        char *err, size_t errlen)
{
    char servers[ACMEVA_MAX_RESOLVERS][64];
    size_t n = 0;
    static int lib_ready;
    *out = NULL;
    if (!lib_ready) {
        /* Process-wide and idempotent; done from the first engine's thread before others. */
        if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
            snprintf(err, errlen, "c-ares library init failed");
            return -1;
        }
        lib_ready = 1;
    }
    if (cfg->n_resolvers > 0) {
        for (size_t i = 0; i < cfg->n_resolvers && i < ACMEVA_MAX_RESOLVERS; i++) {
            if (normalize_server(cfg->resolvers[i], servers[n], sizeof(servers[n])) != 0) {
                snprintf(err, errlen, "bad resolver address %s", cfg->resolvers[i]);
                return -1;
            }
            n++;
        }
    } else if (system_servers(servers, ACMEVA_MAX_RESOLVERS, &n, err, errlen) != 0) {
        return -1;
    }
    acmeva_resolver *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->loop = loop;
    r->cfg = cfg;
    r->defer_timer = malloc(sizeof(*r->defer_timer));
    r->msg = malloc(sizeof(*r->msg));
    if (r->defer_timer == NULL || r->msg == NULL) {
        free(r->defer_timer);
        free(r->msg);
        free(r);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uv_timer_init(loop, r->defer_timer);
    r->defer_timer->data = r;
    for (size_t i = 0; i < n; i++) {
        if (channel_init(r, &r->chans[i], servers[i], err, errlen) != 0) {
            acmeva_resolver_free(r);
            return -1;
        }
        r->addrs[i] = r->chans[i].addr;
        r->n++;
    }
    *out = r;
    return 0;
}

static void resolver_maybe_free(acmeva_resolver *r)
{
    if (r->closing && r->closes_pending == 0) {
        free(r->msg);
        free(r);
    }
}

void acmeva_resolver_free(acmeva_resolver *r)
{
    if (r == NULL)
        return;
    r->closing = 1;
    while (r->deferred != NULL) {
        acmeva_dns_query *q = r->deferred;
        r->deferred = q->next_deferred;
        free(q);
    }
    while (r->to_send != NULL) {
        acmeva_dns_query *q = r->to_send;
        r->to_send = q->next_deferred;
        free(q);
    }
    r->closes_pending++;
    uv_close((uv_handle_t *)r->defer_timer, timer_close_cb);
    for (size_t i = 0; i < r->n; i++) {
        dns_channel *c = &r->chans[i];
        /* ares_destroy runs every pending query's callback with ARES_EDESTRUCTION, which
         * frees it, and reports every socket closed through sock_state_cb. */
        ares_destroy(c->channel);
        c->channel = NULL;
        while (c->polls != NULL) {
            dns_poll *p = c->polls;
            c->polls = p->next;
            uv_poll_stop(&p->handle);
            r->closes_pending++;
            uv_close((uv_handle_t *)&p->handle, poll_close_cb);
        }
        c->timer->data = r;
        r->closes_pending++;
        uv_close((uv_handle_t *)c->timer, timer_close_cb);
    }
    resolver_maybe_free(r);
}

const char *const *acmeva_resolver_addrs(const acmeva_resolver *r, size_t *n)
{
    *n = r->n;
    return r->addrs;
}

static void query_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen);
static void query_deliver(acmeva_dns_query *q, acmeva_dns_status st, const uint8_t *abuf, int alen);

static void query_send(acmeva_dns_query *q);

static void defer_timer_cb(uv_timer_t *t)
{
    acmeva_resolver *r = t->data;
    acmeva_dns_query *send = r->to_send, *list = r->deferred;
    r->to_send = NULL;
    r->deferred = NULL;
    /* to_send was built by prepending: send in the order the queries were started. */
    acmeva_dns_query *rev = NULL;
    while (send != NULL) {
        acmeva_dns_query *q = send;
        send = q->next_deferred;
        q->next_deferred = rev;
        rev = q;
    }
    while (rev != NULL) {
        acmeva_dns_query *q = rev;
        rev = q->next_deferred;
        if (q->cb == NULL)
            free(q);
        else
            query_send(q);
    }
    while (list != NULL) {
        acmeva_dns_query *q = list;
        list = q->next_deferred;
        if (q->cb == NULL)
            free(q);
        else
            query_deliver(q,
                          q->sync_status == ARES_ETIMEOUT ? ACMEVA_DNS_TIMEOUT : ACMEVA_DNS_NETWORK,
                          NULL, 0);
    }
}

/* Send the current try. A failure inside ares_send is delivered later from the loop. */
static void query_send(acmeva_dns_query *q)
{
    acmeva_resolver *r = q->r;
    dns_channel *c = &r->chans[q->chan % r->n];
    q->in_send = 1;
    q->sync_status = 0;
    ares_send(c->channel, q->qbuf, q->qlen, query_cb, q);
    q->in_send = 0;
    if (q->sync_status != 0) {
        q->next_deferred = r->deferred;
        r->deferred = q;
        uv_timer_start(r->defer_timer, defer_timer_cb, 0, 0);
        return;
    }
    if (!r->in_process && !uv_is_active((uv_handle_t *)c->timer))
        channel_rearm(c); /* inside processing, rearm_idle does it once afterwards */
}

static void query_deliver(acmeva_dns_query *q, acmeva_dns_status st, const uint8_t *abuf, int alen)
{
    acmeva_dns_answer ans;
    acmeva_dns_msg *msg = q->r->msg;
    memset(&ans, 0, sizeof(ans));
    ans.status = st;
    ans.tries = q->tries;
    ans.resolver = q->r->chans[q->chan % q->r->n].addr;
    if (st == ACMEVA_DNS_OK) {
        if (acmeva_dns_parse(abuf, (size_t)alen, msg) != 0)
            ans.status = ACMEVA_DNS_BADRESPONSE;
        else
            ans.msg = msg;
    }
    acmeva_dns_cb cb = q->cb;
    void *cbarg = q->arg;
    free(q);
    cb(cbarg, &ans);
}

static void query_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    acmeva_dns_query *q = arg;
    if (q->in_send) {
        /* ares_send failed at once (no socket): the caller reports it. */
        q->sync_status = status == ARES_SUCCESS ? ARES_EBADRESP : status;
        return;
    }
    if (q->cb == NULL || status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
        free(q);
        return;
    }
    if (status == ARES_SUCCESS) {
        query_deliver(q, ACMEVA_DNS_OK, abuf, alen);
        return;
    }
    if (status == ARES_ETIMEOUT && q->tries < q->r->cfg->dns_tries) {
        /* Retry on timeout only, at the next resolver (Boulder bdns). */
        q->tries++;
        q->chan++;
        query_send(q);
        return;
    }
    query_deliver(q, status == ARES_ETIMEOUT ? ACMEVA_DNS_TIMEOUT : ACMEVA_DNS_NETWORK, NULL, 0);
}

int acmeva_dns_query_start(acmeva_resolver *r, const char *name, uint16_t qtype, acmeva_dns_cb cb,
                           void *arg, acmeva_dns_query **out)
{
    if (out != NULL)
        *out = NULL;
    if (r->n == 0 || r->closing)
        return -1;
    acmeva_dns_query *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return -1;
    /* RFC 6840 §5.7: set AD in the query so that a validating resolver reports it; EDNS0
     * with a 1232-byte UDP size (the DNS flag day 2020 value) avoids needless truncation. */
    q->qlen = acmeva_dns_build_query(q->qbuf, sizeof(q->qbuf), (uint16_t)(r->next * 7919u + 1),
                                     name, qtype, 1232);
    if (q->qlen <= 0) {
        free(q);
        return -1;
    }
    q->r = r;
    q->cb = cb;
    q->arg = arg;
    q->qtype = qtype;
    q->tries = 1;
    q->chan = r->next++;
    if (out != NULL)
        *out = q;
    if (r->in_process) {
        q->next_deferred = r->to_send;
        r->to_send = q;
        uv_timer_start(r->defer_timer, defer_timer_cb, 0, 0);
        return 0;
    }
    query_send(q);
    return 0;
}

void acmeva_dns_query_cancel(acmeva_dns_query *q)
{
    if (q != NULL)
        q->cb = NULL;
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
    case ACMEVA_DNS_BADRESPONSE:
        snprintf(out, outlen, "DNS problem: malformed response looking up %s for %s", qtype_name,
                 name);
        return 1;
    case ACMEVA_DNS_OK:
        break;
    }
    int rcode = a->msg->rcode;
    if (rcode == ACMEVA_RCODE_NOERROR)
        return 0;
    const char *suffix = "";
    if (rcode == ACMEVA_RCODE_NXDOMAIN)
        suffix = " - check that a DNS record exists for this domain";
    else if (rcode == ACMEVA_RCODE_SERVFAIL)
        suffix = " - the domain's nameservers may be malfunctioning";
    snprintf(out, outlen, "DNS problem: %s looking up %s for %s%s", acmeva_dns_rcode_name(rcode),
             qtype_name, name, suffix);
    return 1;
}

/* ---- host lookups: A and AAAA in parallel ------------------------------------------------ */

struct acmeva_host_lookup {
    acmeva_host_cb cb;
    void *arg;
    int allow_private;
    int pending;
    acmeva_dns_query *q4, *q6;
    int answered; /* answers received (for all_secure) */
    char err4[256], err6[256];
    acmeva_strlist resolved4, resolved6;
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
        if (h->err4[0] != '\0' && (h->err6[0] != '\0' || a->resolved.n == 0))
            snprintf(a->detail, sizeof(a->detail), "%s", h->err4);
        else if (h->err6[0] != '\0' && a->resolved.n == 0)
            snprintf(a->detail, sizeof(a->detail), "%s", h->err6);
        else
            snprintf(a->detail, sizeof(a->detail), "No valid IP addresses found for %s", h->name);
    }
    h->cb(h->arg, a);
    acmeva_strlist_clear(&a->resolved);
    acmeva_strlist_clear(&a->resolvers);
    free(h);
}

static void host_answer(acmeva_host_lookup *h, const acmeva_dns_answer *ans, int family)
{
    acmeva_host_addrs *a = &h->addrs;
    char *err = family == AF_INET ? h->err4 : h->err6;
    if (ans->status == ACMEVA_DNS_OK) {
        int seen = 0;
        for (size_t i = 0; i < a->resolvers.n; i++)
            seen |= strcmp(a->resolvers.v[i], ans->resolver) == 0;
        if (!seen)
            acmeva_strlist_add(&a->resolvers, ans->resolver, strlen(ans->resolver));
        if (!ans->msg->ad)
            a->all_secure = 0;
    }
    if (acmeva_dns_problem(ans, family == AF_INET ? "A" : "AAAA", h->name, err, 256))
        return;
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
        acmeva_dns_query_cancel(h->q4); /* orphaned: c-ares frees it when done */
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
    /* Orphan both queries (c-ares frees them when it lets go) and free the lookup now. */
    acmeva_dns_query_cancel(h->q4);
    acmeva_dns_query_cancel(h->q6);
    acmeva_strlist_clear(&h->addrs.resolved);
    acmeva_strlist_clear(&h->addrs.resolvers);
    acmeva_strlist_clear(&h->resolved4);
    acmeva_strlist_clear(&h->resolved6);
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
}
