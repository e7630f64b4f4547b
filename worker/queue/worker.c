/*
 * The consumer of acmeva-worker: N event-loop threads, each with its own libuv loop, its own
 * engine and its own two hiredis connections on the libuv adapter. Configuration and the
 * SSL_CTX are shared read-only (STYLE.md "Shared-nothing threads").
 *
 * Why two connections per thread: a blocked XREADGROUP holds its connection for up to
 * BLOCK ms, and a result must not wait behind it. The "reader" connection carries everything
 * that delivers entries to this consumer, one request at a time (XGROUP CREATE, XREADGROUP of
 * its own pending entries, XAUTOCLAIM, XREADGROUP BLOCK, and the XPENDING look-ups of delivery
 * counts); the "writer" connection carries the MULTI/EXEC that posts a result and
 * acknowledges its job, and the heartbeat XCLAIMs.
 *
 * Delivery is at least once (DESIGN.md "Redis keys"): a job is acknowledged only in the same
 * MULTI/EXEC that posts its result, so a worker that dies leaves its jobs pending for XAUTOCLAIM
 * by a live one. A "slot" is a job this thread holds: delivered and not yet acknowledged
 * (running, or done with its result waiting in the outbox). Every read asks for at most the
 * free slots (COUNT), so a thread never holds more than --max-inflight jobs and the outbox of
 * results waiting for Redis is bounded by the same number.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>

#include "queue.h"

#define ENTRY_ID_MAX 48 /* "<ms>-<seq>": two 64-bit decimals and a dash fit in 41 bytes */
#define CONSUMER_MAX 160
#define CONNECT_TIMEOUT_MS 5000
#define DEFAULT_BLOCK_MS 1000
#define HEARTBEAT_MAX_IDS 256
#define TXN_MAX_TRIES 3
#define MAX_THREADS 256
#define REASON_MAX 512

typedef struct worker worker;
typedef struct wthread wthread;
typedef struct task task;
typedef struct rconn rconn;

typedef enum {
    CONN_DOWN,       /* waiting for the reconnect timer */
    CONN_RESOLVING,  /* uv_getaddrinfo of the Redis host */
    CONN_CONNECTING, /* TCP connect, AUTH, SELECT and the readiness probe */
    CONN_READY,
    CONN_CLOSED, /* the thread is finishing: never reconnect */
} conn_state;

/* One Redis connection of a thread, with its reconnect state. */
struct rconn {
    wthread *t;
    const char *role; /* "reader" or "writer", for logs */
    redisAsyncContext *ac;
    conn_state state;
    unsigned failures; /* consecutive failed attempts: the backoff exponent */
    unsigned errors;   /* consecutive error replies while ready: the retry backoff */
    int ever_ready;
    int probe_wait;   /* CONNECTING: the timer sends the readiness probe again */
    uv_timer_t timer; /* reconnect delay, connect timeout, or a retry while ready */
    uv_getaddrinfo_t gai;
    int gai_active;
    void (*on_ready)(rconn *c);
    void (*on_lost)(rconn *c);
};

typedef enum {
    TASK_RUNNING, /* the engine is validating it */
    TASK_OUTBOX,  /* its result waits for the writer connection */
    TASK_SENDING, /* its MULTI/EXEC is on the wire */
} task_state;

/* One job this thread holds: from its delivery to the EXEC that acknowledges it. */
struct task {
    wthread *t;
    task *prev, *next; /* the thread's held list */
    task *onext;       /* the outbox queue */
    task_state state;
    char entry_id[ENTRY_ID_MAX];
    char *raw; /* the job field as received (for a dead letter); NULL when none */
    size_t raw_len;
    char *reply_to;    /* the result stream; NULL: acknowledge only */
    char *result_json; /* the result document */
    char *dead_reason; /* non-NULL: also write a dead letter */
    acmeva_validation *v;
    uint64_t touched; /* uv_now of the delivery or of the last heartbeat */
    int attempt;
    int tries; /* failed MULTI/EXEC attempts */
};

/* Entries whose delivery counts are being looked up (XPENDING) before they are started. */
typedef struct batch batch;
typedef struct bentry {
    batch *b;
    char id[ENTRY_ID_MAX];
    char *raw;
    size_t raw_len;
    int has_job, deleted;
    int ours; /* XPENDING shows it pending for this consumer */
    int attempt;
} bentry;

struct batch {
    wthread *t;
    size_t n, waiting;
    int lost; /* a look-up came back without a reply: drop the batch */
    bentry e[];
};

struct wthread {
    worker *w;
    int index;
    uv_thread_t tid;
    uv_loop_t loop;
    acmeva_engine *engine;
    char consumer[CONSUMER_MAX]; /* host:pid:thread */
    rconn reader, writer;
    uv_timer_t claim_timer, grace_timer;
    uv_async_t stop_async;
    unsigned seed;

    task *held_head;
    size_t held;
    task *out_head, *out_tail;
    size_t reserved; /* slots promised to an outstanding read, claim or batch */

    int group_ready;
    int reading;          /* a delivering request is outstanding on the reader */
    size_t read_reserved; /* its COUNT */
    int resuming;         /* reading this consumer's own pending entries (id 0 onwards) */
    char resume_cursor[ENTRY_ID_MAX];
    size_t resumed;
    int claim_due;
    char claim_cursor[ENTRY_ID_MAX];
    size_t batches; /* XPENDING look-ups outstanding (on the reader) */

    int stopping, finishing;
    int goodbye;      /* 0: not yet, 1: XPENDING sent, 2: DELCONSUMER sent, 3: done */
    int async_closed; /* under worker.lock */
    uint64_t n_done, n_claimed;
};

struct worker {
    const acmeva_worker_options *o;
    const acmeva_engine_config *cfg;
    char stream[sizeof(ACMEVA_JOBS_STREAM_PREFIX) + ACMEVA_PERSPECTIVE_MAX];
    char maxlen[24];
    char redis_masked[512];
    int64_t claim_idle_ms, block_ms, claim_every_ms;
    void *ssl_ctx;
    int nthreads;
    wthread *threads;
    uv_loop_t main_loop;
    uv_signal_t sigterm, sigint;
    uv_async_t exited_async;
    atomic_int exited;
    uv_mutex_t lock; /* orders uv_async_send to a thread against that thread closing it */
    _Atomic uint64_t grace_deadline; /* uv_hrtime() in ms at which in-flight work is dropped */
    int signals;
};

static void reader_kick(wthread *t);
static void outbox_flush(wthread *t);
static void maybe_finish(wthread *t);
static void conn_connect(rconn *c);
static void conn_retry_ready(rconn *c);

/* ---- small helpers ------------------------------------------------------------------------- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mono_ms(void)
{
    return uv_hrtime() / 1000000;
}

static size_t slots_free(const wthread *t)
{
    size_t max = (size_t)t->w->o->max_inflight, used = t->held + t->reserved;
    return used >= max ? 0 : max - used;
}

static int replace_str(char **dst, const char *src)
{
    char *s = src ? strdup(src) : NULL;
    if (src != NULL && s == NULL)
        return -1;
    free(*dst);
    *dst = s;
    return 0;
}

static int is_entry_id(const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_STRING || r->len == 0 || r->len >= ENTRY_ID_MAX)
        return 0;
    for (size_t i = 0; i < r->len; i++)
        if (!((r->str[i] >= '0' && r->str[i] <= '9') || r->str[i] == '-'))
            return 0;
    return 1;
}

static int reply_is_error(const redisReply *r, const char *prefix)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR && r->str != NULL &&
           strncmp(r->str, prefix, strlen(prefix)) == 0;
}

static const char *reply_text(const redisReply *r)
{
    if (r == NULL)
        return "no reply";
    if ((r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STATUS) && r->str != NULL)
        return r->str;
    return "unexpected reply";
}

/* cmd sends one command; |lens| may be NULL (NUL-terminated arguments). Returns 0, or -1
 * when the connection is not usable (its callback is then never called). */
static int cmd(rconn *c, redisCallbackFn *fn, void *priv, int argc, const char **argv,
               const size_t *lens)
{
    if (c->ac == NULL)
        return -1;
    size_t l[16];
    if (lens == NULL) {
        if (argc > 16)
            return -1;
        for (int i = 0; i < argc; i++)
            l[i] = strlen(argv[i]);
        lens = l;
    }
    return redisAsyncCommandArgv(c->ac, fn, priv, argc, argv, lens) == REDIS_OK ? 0 : -1;
}

/* ---- connections ----------------------------------------------------------------------------- */

static void conn_timer_cb(uv_timer_t *h);

static void conn_schedule(rconn *c)
{
    uv_timer_stop(&c->timer);
    if (c->t->finishing) {
        c->state = CONN_CLOSED;
        return;
    }
    c->state = CONN_DOWN;
    int64_t d = acmeva_backoff_ms(c->failures, (uint32_t)rand_r(&c->t->seed));
    if (c->failures < (1u << 20)) /* logs at powers of two only */
        c->failures++;
    uv_timer_start(&c->timer, conn_timer_cb, (uint64_t)d, 0);
}

/* conn_down is called once the context is gone or being freed: it forgets the context and
 * schedules a reconnect. Never frees the context itself. */
static void conn_down(rconn *c, const char *why)
{
    int was_ready = c->state == CONN_READY;
    c->ac = NULL;
    if (c->state == CONN_CLOSED)
        return;
    if (was_ready || c->failures == 0 || (c->failures & (c->failures - 1)) == 0)
        ACMEVA_LOG("warn", was_ready ? "redis connection lost" : "redis connect failed",
                   ACMEVA_LS("redis", c->t->w->redis_masked), ACMEVA_LS("conn", c->role),
                   ACMEVA_LI("thread", c->t->index), ACMEVA_LS("reason", why),
                   ACMEVA_LI("failures", c->failures));
    conn_schedule(c);
    if (was_ready && c->on_lost != NULL)
        c->on_lost(c);
}

/* conn_fail drops the connection from our side: safe anywhere except inside hiredis'
 * connect and disconnect callbacks (inside a reply callback hiredis defers the free). */
static void conn_fail(rconn *c, const char *why)
{
    redisAsyncContext *ac = c->ac;
    if (c->gai_active)
        uv_cancel((uv_req_t *)&c->gai);
    conn_down(c, why);
    if (ac != NULL)
        redisAsyncFree(ac); /* pending callbacks run with NULL replies: they release */
}

/* conn_close ends the connection for good (the thread is finishing). */
static void conn_close(rconn *c)
{
    redisAsyncContext *ac = c->ac;
    c->state = CONN_CLOSED;
    c->ac = NULL;
    if (c->gai_active)
        uv_cancel((uv_req_t *)&c->gai);
    uv_timer_stop(&c->timer);
    if (ac != NULL)
        redisAsyncFree(ac);
    if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, NULL);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    rconn *c = ac->data;
    if (c == NULL || c->ac != ac || status == REDIS_OK)
        return; /* success: the readiness probe's reply makes the connection ready */
    uv_timer_stop(&c->timer);
    conn_down(c, ac->errstr[0] ? ac->errstr : "connect failed");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    rconn *c = ac->data;
    if (c == NULL || c->ac != ac)
        return;
    uv_timer_stop(&c->timer);
    conn_down(c, ac->errstr[0] ? ac->errstr : "disconnected");
}

static void hello_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    rconn *c = priv;
    redisReply *r = reply;
    if (r == NULL || c->ac != ac)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        /* LOADING: Redis is reading its dataset after a restart; probe again. */
        if (reply_is_error(r, "LOADING") || reply_is_error(r, "BUSY")) {
            if (c->errors == 0)
                ACMEVA_LOG("info", "redis is not ready yet, waiting", ACMEVA_LS("conn", c->role),
                           ACMEVA_LI("thread", c->t->index), ACMEVA_LS("reply", r->str));
            conn_retry_ready(c);
            return;
        }
        ACMEVA_LOG("error", "redis refused the connection", ACMEVA_LS("conn", c->role),
                   ACMEVA_LI("thread", c->t->index), ACMEVA_LS("error", r->str));
        conn_fail(c, "probe refused");
        return;
    }
    uv_timer_stop(&c->timer);
    c->state = CONN_READY;
    c->failures = 0;
    c->errors = 0;
    if (c->ever_ready || c->t->index == 0)
        ACMEVA_LOG("info", c->ever_ready ? "redis reconnected" : "redis connected",
                   ACMEVA_LS("redis", c->t->w->redis_masked), ACMEVA_LS("conn", c->role),
                   ACMEVA_LI("thread", c->t->index));
    c->ever_ready = 1;
    if (c->on_ready != NULL)
        c->on_ready(c);
}

static void probe(rconn *c)
{
    /* EXISTS is refused with LOADING while Redis loads its data, unlike PING. */
    const char *argv[] = {"EXISTS", c->t->w->stream};
    if (cmd(c, hello_cb, c, 2, argv, NULL) < 0)
        conn_fail(c, "cannot send");
}

static void handshake_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    rconn *c = priv;
    redisReply *r = reply;
    if (r == NULL || c->ac != ac || r->type != REDIS_REPLY_ERROR)
        return;
    /* The reply of AUTH never holds the password. */
    ACMEVA_LOG("error", "redis refused AUTH or SELECT", ACMEVA_LS("conn", c->role),
               ACMEVA_LS("redis", c->t->w->redis_masked), ACMEVA_LI("thread", c->t->index),
               ACMEVA_LS("error", r->str));
    conn_fail(c, "AUTH or SELECT refused");
}

/*
 * The libuv adapter of hiredis 0.14.1 ignores a poll callback with an error status. libuv
 * reports POLLERR/POLLHUP (a refused connect, a reset) that way and stops the handle, so hiredis
 * never hears of it and a refused connect hangs until our connect timeout. These replacements
 * of the adapter's add/del functions hand an error to hiredis as readiness for what it waits
 * for: its own read or write then sees the socket error and disconnects (hiredis 1.x does the
 * same). They keep the adapter's redisLibuvEvents and its cleanup.
 */
static void fixed_poll_cb(uv_poll_t *handle, int status, int events)
{
    redisLibuvEvents *p = handle->data;
    int ev = status < 0 ? p->events : events;
    if (p->context != NULL && (ev & UV_READABLE))
        redisAsyncHandleRead(p->context);
    if (p->context != NULL && (ev & UV_WRITABLE)) /* the read may have freed the context */
        redisAsyncHandleWrite(p->context);
}

static void fixed_update(redisLibuvEvents *p, int add, int remove)
{
    p->events = (p->events | add) & ~remove;
    if (p->events)
        uv_poll_start(&p->handle, p->events, fixed_poll_cb);
    else
        uv_poll_stop(&p->handle);
}

static void fixed_add_read(void *privdata)
{
    fixed_update(privdata, UV_READABLE, 0);
}

static void fixed_del_read(void *privdata)
{
    fixed_update(privdata, 0, UV_READABLE);
}

static void fixed_add_write(void *privdata)
{
    fixed_update(privdata, UV_WRITABLE, 0);
}

static void fixed_del_write(void *privdata)
{
    fixed_update(privdata, 0, UV_WRITABLE);
}

static int attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (redisLibuvAttach(ac, loop) != REDIS_OK)
        return -1;
    ac->ev.addRead = fixed_add_read;
    ac->ev.delRead = fixed_del_read;
    ac->ev.addWrite = fixed_add_write;
    ac->ev.delWrite = fixed_del_write;
    return 0;
}

static void conn_open(rconn *c, const char *ip)
{
    const acmeva_redis_url *u = &c->t->w->o->redis;
    redisAsyncContext *ac = redisAsyncConnect(ip, u->port);
    if (ac == NULL) {
        conn_down(c, "no memory");
        return;
    }
    if (ac->err) {
        char why[128];
        snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        conn_down(c, why);
        return;
    }
    ac->data = c;
    if (attach(ac, &c->t->loop) < 0) {
        redisAsyncFree(ac);
        conn_down(c, "cannot attach to the loop");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
    c->state = CONN_CONNECTING;
    c->probe_wait = 0;
    uv_timer_start(&c->timer, conn_timer_cb, CONNECT_TIMEOUT_MS, 0);

    /* Commands queue up until the connection is established. */
    int rc = 0;
    if (u->password != NULL) {
        /* AUTH [user] password (Redis 6 ACL users, or the requirepass password). */
        const char *argv[3] = {"AUTH"};
        int argc = 1;
        if (u->user != NULL)
            argv[argc++] = u->user;
        argv[argc++] = u->password;
        rc |= cmd(c, handshake_cb, c, argc, argv, NULL);
    }
    if (u->db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", u->db);
        const char *argv[] = {"SELECT", db};
        rc |= cmd(c, handshake_cb, c, 2, argv, NULL);
    }
    char name[CONSUMER_MAX + 16];
    snprintf(name, sizeof(name), "%s:%s", c->t->consumer, c->role);
    const char *setname[] = {"CLIENT", "SETNAME", name};
    rc |= cmd(c, NULL, NULL, 3, setname, NULL); /* only for CLIENT LIST; may be denied */
    if (rc != 0) {
        conn_fail(c, "cannot send");
        return;
    }
    probe(c);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    rconn *c = req->data;
    c->gai_active = 0;
    if (status == UV_ECANCELED || c->state != CONN_RESOLVING) {
        uv_freeaddrinfo(res);
        return;
    }
    uv_timer_stop(&c->timer);
    /* Successive attempts go round the addresses, so that a name with an address Redis does
     * not listen on (localhost: 127.0.0.1 and ::1) still gets through. */
    char ips[8][INET6_ADDRSTRLEN];
    unsigned n = 0;
    for (struct addrinfo *a = status == 0 ? res : NULL; a != NULL && n < 8; a = a->ai_next) {
        if (a->ai_family == AF_INET &&
            uv_ip4_name((struct sockaddr_in *)a->ai_addr, ips[n], sizeof(ips[n])) == 0)
            n++;
        else if (a->ai_family == AF_INET6 &&
                 uv_ip6_name((struct sockaddr_in6 *)a->ai_addr, ips[n], sizeof(ips[n])) == 0)
            n++;
    }
    uv_freeaddrinfo(res);
    if (n == 0) {
        conn_down(c, status < 0 ? uv_strerror(status) : "no address");
        return;
    }
    conn_open(c, ips[c->failures % n]);
}

static void conn_connect(rconn *c)
{
    const char *host = c->t->w->o->redis.host;
    unsigned char buf[16];
    if (c->t->finishing) {
        c->state = CONN_CLOSED;
        return;
    }
    if (c->gai_active) {
        /* The last lookup timed out but is still running on the pool: try again later. */
        conn_schedule(c);
        return;
    }
    if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1) {
        conn_open(c, host);
        return;
    }
    /* A name is resolved on libuv's thread pool, never by a blocking call on the loop. */
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    c->gai.data = c;
    c->state = CONN_RESOLVING;
    if (uv_getaddrinfo(&c->t->loop, &c->gai, gai_cb, host, NULL, &hints) != 0) {
        conn_down(c, "cannot resolve");
        return;
    }
    c->gai_active = 1;
    uv_timer_start(&c->timer, conn_timer_cb, CONNECT_TIMEOUT_MS, 0);
}

static void conn_timer_cb(uv_timer_t *h)
{
    rconn *c = h->data;
    switch (c->state) {
    case CONN_DOWN:
        conn_connect(c);
        break;
    case CONN_CONNECTING:
        if (c->probe_wait) {
            c->probe_wait = 0;
            uv_timer_start(&c->timer, conn_timer_cb, CONNECT_TIMEOUT_MS, 0);
            probe(c);
            break;
        }
        conn_fail(c, "timed out");
        break;
    case CONN_RESOLVING:
        conn_fail(c, "timed out");
        break;
    case CONN_READY:
        c->on_ready(c); /* a retry after an error reply */
        break;
    case CONN_CLOSED:
        break;
    }
}

/* conn_retry_ready runs the connection's ready step again after a backoff: Redis answered,
 * but with an error that may pass (LOADING after a restart, OOM, ...). */
static void conn_retry_ready(rconn *c)
{
    if (c->state != CONN_READY && c->state != CONN_CONNECTING)
        return; /* a reconnect is on its way anyway */
    int64_t d = acmeva_backoff_ms(c->errors, (uint32_t)rand_r(&c->t->seed));
    if (c->errors < (1u << 20))
        c->errors++;
    if (c->state == CONN_CONNECTING) {
        /* Still in the handshake (Redis is loading its data): probe again after the delay. */
        c->probe_wait = 1;
        uv_timer_start(&c->timer, conn_timer_cb, (uint64_t)d, 0);
        return;
    }
    uv_timer_start(&c->timer, conn_timer_cb, (uint64_t)d, 0);
}

static void conn_init(rconn *c, wthread *t, const char *role, void (*on_ready)(rconn *),
                      void (*on_lost)(rconn *))
{
    memset(c, 0, sizeof(*c));
    c->t = t;
    c->role = role;
    c->state = CONN_DOWN;
    c->on_ready = on_ready;
    c->on_lost = on_lost;
    uv_timer_init(&t->loop, &c->timer);
    c->timer.data = c;
}

/* ---- tasks and the outbox -------------------------------------------------------------------- */

static task *task_find(wthread *t, const char *id)
{
    for (task *k = t->held_head; k != NULL; k = k->next)
        if (strcmp(k->entry_id, id) == 0)
            return k;
    return NULL;
}

static task *task_new(wthread *t, const char *id, const char *raw, size_t raw_len)
{
    task *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return NULL;
    if (raw != NULL) {
        k->raw = malloc(raw_len + 1);
        if (k->raw == NULL) {
            free(k);
            return NULL;
        }
        memcpy(k->raw, raw, raw_len);
        k->raw[raw_len] = '\0';
        k->raw_len = raw_len;
    }
    k->t = t;
    snprintf(k->entry_id, sizeof(k->entry_id), "%s", id);
    k->touched = uv_now(&t->loop);
    k->attempt = 1;
    k->next = t->held_head;
    if (t->held_head != NULL)
        t->held_head->prev = k;
    t->held_head = k;
    t->held++;
    return k;
}

/* task_free forgets a held job. Unless its EXEC succeeded, the job stays pending in Redis
 * and is delivered again (to this consumer on reconnect, or to anyone by XAUTOCLAIM). */
static void task_free(task *k)
{
    wthread *t = k->t;
    if (k->state == TASK_OUTBOX) { /* not reached today: every caller has popped it first */
        task **pp = &t->out_head, *prev = NULL;
        while (*pp != NULL && *pp != k) {
            prev = *pp;
            pp = &(*pp)->onext;
        }
        if (*pp == k) {
            *pp = k->onext;
            if (t->out_tail == k)
                t->out_tail = prev;
        }
    }
    if (k->prev != NULL)
        k->prev->next = k->next;
    else
        t->held_head = k->next;
    if (k->next != NULL)
        k->next->prev = k->prev;
    t->held--;
    free(k->raw);
    free(k->reply_to);
    free(k->result_json);
    free(k->dead_reason);
    free(k);
}

static void outbox_push(task *k, int front)
{
    wthread *t = k->t;
    k->state = TASK_OUTBOX;
    k->onext = NULL;
    if (t->out_head == NULL) {
        t->out_head = t->out_tail = k;
    } else if (front) {
        k->onext = t->out_head;
        t->out_head = k;
    } else {
        t->out_tail->onext = k;
        t->out_tail = k;
    }
}

static task *outbox_pop(wthread *t)
{
    task *k = t->out_head;
    if (k != NULL) {
        t->out_head = k->onext;
        if (t->out_head == NULL)
            t->out_tail = NULL;
        k->onext = NULL;
    }
    return k;
}

static void dead_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    if (r != NULL && r->type == REDIS_REPLY_ERROR)
        ACMEVA_LOG("error", "could not write a dead letter", ACMEVA_LS("error", r->str));
}

/* dead_letter_after writes a dead letter for a job whose EXEC acknowledged it but could not
 * post its result (the replyTo key holds another type, or an ACL forbids it). */
static void dead_letter_after(wthread *t, task *k, const char *why)
{
    char reason[REASON_MAX];
    snprintf(reason, sizeof(reason), "the result could not be posted to %s: %s",
             k->reply_to ? k->reply_to : "-", why);
    const char *argv[] = {"XADD", ACMEVA_DEAD_STREAM,   "MAXLEN", "~",   t->w->maxlen, "*",
                          "job",  k->raw ? k->raw : "", "reason", reason};
    size_t lens[10];
    for (int i = 0; i < 10; i++)
        lens[i] = strlen(argv[i]);
    lens[7] = k->raw ? k->raw_len : 0;
    cmd(&t->writer, dead_cb, NULL, 10, argv, lens);
}

static void txn_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    task *k = priv;
    wthread *t = k->t;
    redisReply *r = reply;
    if (r == NULL) {
        /* The connection is gone: keep the result for the next connection. */
        outbox_push(k, 1);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        /* EXECABORT (a command refused while queued: an ACL, OOM, LOADING, ...). Retry a few
         * times; then leave the job pending, to be delivered again and dead-lettered after
         * --max-deliveries if this keeps failing. */
        k->tries++;
        ACMEVA_LOG("warn", "could not post a result", ACMEVA_LS("entry", k->entry_id),
                   ACMEVA_LI("thread", t->index), ACMEVA_LS("replyTo", k->reply_to),
                   ACMEVA_LS("error", reply_text(r)), ACMEVA_LI("tries", k->tries));
        if (k->tries < TXN_MAX_TRIES) {
            outbox_push(k, 0);
            conn_retry_ready(&t->writer);
        } else {
            task_free(k);
            reader_kick(t);
        }
        maybe_finish(t);
        return;
    }
    /* EXEC ran every command; one of them may still have failed (Redis does not roll back). */
    size_t i = 0;
    if (k->reply_to != NULL && i < r->elements) {
        redisReply *x = r->element[i++];
        if (x->type == REDIS_REPLY_ERROR) {
            ACMEVA_LOG("error", "could not post a result", ACMEVA_LS("entry", k->entry_id),
                       ACMEVA_LS("replyTo", k->reply_to), ACMEVA_LS("error", x->str));
            if (k->dead_reason == NULL)
                dead_letter_after(t, k, x->str);
        }
    }
    if (k->dead_reason != NULL && i < r->elements) {
        redisReply *x = r->element[i++];
        if (x->type == REDIS_REPLY_ERROR)
            ACMEVA_LOG("error", "could not write a dead letter", ACMEVA_LS("entry", k->entry_id),
                       ACMEVA_LS("error", x->str));
    }
    t->n_done++;
    t->writer.errors = 0;
    task_free(k);
    reader_kick(t);
    maybe_finish(t);
}

/* send_txn posts one result and acknowledges its job in one MULTI/EXEC: the result (and the
 * dead letter) exist in Redis exactly when the job is no longer pending. */
static int send_txn(task *k)
{
    wthread *t = k->t;
    worker *w = t->w;
    rconn *c = &t->writer;
    int rc = 0;
    const char *multi[] = {"MULTI"};
    rc |= cmd(c, NULL, NULL, 1, multi, NULL);
    if (k->reply_to != NULL) {
        const char *argv[] = {"XADD",    k->reply_to, "MAXLEN", "~",
                              w->maxlen, "*",         "result", k->result_json};
        rc |= cmd(c, NULL, NULL, 8, argv, NULL);
    }
    if (k->dead_reason != NULL) {
        const char *argv[] = {"XADD", ACMEVA_DEAD_STREAM,   "MAXLEN", "~",           w->maxlen, "*",
                              "job",  k->raw ? k->raw : "", "reason", k->dead_reason};
        size_t lens[10];
        for (int i = 0; i < 10; i++)
            lens[i] = strlen(argv[i]);
        lens[7] = k->raw ? k->raw_len : 0; /* the raw bytes, NULs and all */
        rc |= cmd(c, NULL, NULL, 10, argv, lens);
    }
    const char *ack[] = {"XACK", w->stream, ACMEVA_GROUP, k->entry_id};
    rc |= cmd(c, NULL, NULL, 4, ack, NULL);
    const char *exec[] = {"EXEC"};
    if (rc != 0 || cmd(c, txn_cb, k, 1, exec, NULL) < 0)
        return -1; /* the connection is going away: the server discards the MULTI */
    k->state = TASK_SENDING;
    return 0;
}

static void outbox_flush(wthread *t)
{
    if (t->writer.state != CONN_READY || uv_is_active((uv_handle_t *)&t->writer.timer))
        return;
    task *k;
    while ((k = outbox_pop(t)) != NULL) {
        if (send_txn(k) < 0) {
            /* Part of a MULTI may sit in the output buffer: only a new connection is clean
             * (the server discards a MULTI without EXEC when its connection goes). */
            outbox_push(k, 1);
            conn_fail(&t->writer, "cannot send a command");
            return;
        }
    }
}

/* ---- results ----------------------------------------------------------------------------------
 */

static void log_result(const task *k, const acmeva_result *r, const char *reason)
{
    const char *type = r->chall_type ? r->chall_type : (r->has_caa ? "caa" : NULL);
    ACMEVA_LOG("info", "validation", ACMEVA_LS("id", r->id), ACMEVA_LS("type", type),
               ACMEVA_LS("identifier", r->ident_value),
               ACMEVA_LS("status", r->valid ? "valid" : "invalid"),
               ACMEVA_LS("error", r->valid ? NULL : acmeva_problem_urn(r->problem.type)),
               ACMEVA_LD("duration_ms", r->duration_ms), ACMEVA_LI("attempt", k->attempt),
               ACMEVA_LS("entry", k->entry_id), ACMEVA_LI("thread", k->t->index),
               ACMEVA_LS(reason ? "reason" : NULL, reason));
}

/* task_result takes |r|, writes it as the task's result and queues it for posting. */
static void task_result(task *k, acmeva_result *r, const char *reason)
{
    wthread *t = k->t;
    const acmeva_engine_config *cfg = t->w->cfg;
    r->attempt = k->attempt;
    if (replace_str(&r->worker, t->consumer) < 0 ||
        (r->perspective == NULL && replace_str(&r->perspective, cfg->perspective) < 0) ||
        (r->rir == NULL && replace_str(&r->rir, cfg->rir ? cfg->rir : "") < 0) ||
        (k->result_json = acmeva_result_to_json(r)) == NULL) {
        ACMEVA_LOG("error", "no memory for a result", ACMEVA_LS("entry", k->entry_id));
        acmeva_result_free(r);
        task_free(k); /* stays pending: delivered again later */
        return;
    }
    log_result(k, r, reason);
    acmeva_result_free(r);
    outbox_push(k, 0);
    outbox_flush(t);
}

static void on_result(acmeva_result *result, void *arg)
{
    task *k = arg;
    wthread *t = k->t;
    k->v = NULL;
    task_result(k, result, NULL); /* may free k */
    reader_kick(t);
}

/* reject_malformed answers a job that cannot be trusted: a malformed result on the default
 * results stream (never the job's own replyTo: a broken job's fields mean nothing) and a dead
 * letter with the reason (DESIGN.md "Job": malformed jobs go to the dead-letter stream). */
static void reject_malformed(task *k, const acmeva_job_error *perr, const char *detail)
{
    acmeva_job_error err;
    memset(&err, 0, sizeof(err));
    if (perr == NULL) {
        snprintf(err.detail, sizeof(err.detail), "%s", detail);
        perr = &err;
    }
    char reason[REASON_MAX];
    snprintf(reason, sizeof(reason), "malformed: %s", perr->detail); /* it names the field */
    acmeva_result *r = acmeva_result_new_malformed(perr);
    if (r == NULL || replace_str(&k->reply_to, ACMEVA_DEFAULT_REPLY_TO) < 0 ||
        replace_str(&k->dead_reason, reason) < 0) {
        acmeva_result_free(r);
        task_free(k);
        return;
    }
    r->started_ms = wall_ms();
    task_result(k, r, reason);
}

/* answer_unvalidated answers a parsed job without validating it (deadline passed, too many
 * deliveries): a serverInternal result on its replyTo, and a dead letter when |dead|. */
static void answer_unvalidated(task *k, acmeva_job *job, const char *detail, const char *dead)
{
    acmeva_result *r = acmeva_result_new();
    if (r == NULL || acmeva_result_set_job(r, job) < 0 ||
        acmeva_result_set_problem(r, ACMEVA_PROB_SERVER_INTERNAL, detail) < 0 ||
        (dead != NULL && replace_str(&k->dead_reason, dead) < 0)) {
        acmeva_result_free(r);
        acmeva_job_free(job);
        task_free(k);
        return;
    }
    acmeva_job_free(job);
    r->started_ms = wall_ms();
    task_result(k, r, dead ? dead : detail);
}

/* dispatch starts one delivered entry: |raw| is its job field (NULL when it has none),
 * |attempt| its delivery count. Every path ends in a result, except when memory runs out (the
 * entry then stays pending). */
static void dispatch(wthread *t, const char *id, const char *raw, size_t raw_len, int has_job,
                     int deleted, int attempt)
{
    const acmeva_worker_options *o = t->w->o;
    if (task_find(t, id) != NULL)
        return; /* already running here (a resumed or reclaimed entry) */
    task *k = task_new(t, id, has_job ? raw : NULL, raw_len);
    if (k == NULL) {
        ACMEVA_LOG("error", "no memory for a job", ACMEVA_LS("entry", id));
        return;
    }
    k->attempt = attempt;
    if (deleted) {
        /* Pending, but trimmed from the stream: nothing to run, only acknowledge it. */
        outbox_push(k, 0);
        outbox_flush(t);
        return;
    }
    if (!has_job) {
        reject_malformed(k, NULL, "job: missing: the stream entry has no \"job\" field");
        return;
    }
    if (raw_len > ACMEVA_JOB_MAX_BYTES) {
        char d[128];
        snprintf(d, sizeof(d), "job: %zu bytes is more than the limit of %d bytes", raw_len,
                 ACMEVA_JOB_MAX_BYTES);
        reject_malformed(k, NULL, d);
        return;
    }
    acmeva_job *job = NULL;
    acmeva_job_error err;
    if (acmeva_job_parse(raw, raw_len, &job, &err) < 0) {
        reject_malformed(k, &err, NULL);
        acmeva_job_error_clear(&err);
        return;
    }
    if (replace_str(&k->reply_to, job->reply_to) < 0) {
        acmeva_job_free(job);
        task_free(k);
        return;
    }
    if ((int64_t)attempt > o->max_deliveries) {
        char d[REASON_MAX];
        snprintf(d, sizeof(d),
                 "delivered %d times without a result, more than --max-deliveries %lld", attempt,
                 (long long)o->max_deliveries);
        answer_unvalidated(k, job, d, d);
        return;
    }
    /* DESIGN.md "Job": a job picked up after its deadline is not validated. */
    if (job->has_deadline && job->deadline_ms <= wall_ms()) {
        answer_unvalidated(k, job, "deadline passed before the job was picked up", NULL);
        return;
    }
    k->state = TASK_RUNNING;
    if (acmeva_engine_validate(t->engine, job, attempt, on_result, k, &k->v) < 0) {
        ACMEVA_LOG("error", "could not start a validation", ACMEVA_LS("entry", id));
        task_free(k); /* the engine freed the job; the entry stays pending */
    }
}

/* ---- reading: the reader connection ---------------------------------------------------------- */

/* find_job returns the value of the field "job" among an entry's field/value pairs. */
static int find_job(const redisReply *fields, const char **raw, size_t *len)
{
    if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *f = fields->element[i], *v = fields->element[i + 1];
        if (f->type == REDIS_REPLY_STRING && f->len == 3 && memcmp(f->str, "job", 3) == 0 &&
            v->type == REDIS_REPLY_STRING) {
            *raw = v->str;
            *len = v->len;
            return 1;
        }
    }
    return 0;
}

/* entry_ok checks the shape [id, fields-or-nil] of one stream entry in a reply. */
static int entry_ok(const redisReply *e)
{
    return e != NULL && e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
           is_entry_id(e->element[0]) &&
           (e->element[1]->type == REDIS_REPLY_ARRAY || e->element[1]->type == REDIS_REPLY_NIL);
}

static void batch_done(batch *b)
{
    wthread *t = b->t;
    t->reserved -= b->n;
    t->batches--;
    for (size_t i = 0; i < b->n; i++) {
        bentry *e = &b->e[i];
        if (!b->lost && e->ours && !t->finishing)
            dispatch(t, e->id, e->raw, e->raw_len, e->has_job, e->deleted, e->attempt);
        free(e->raw);
    }
    int lost = b->lost;
    free(b);
    if (!lost) {
        reader_kick(t);
        maybe_finish(t);
    }
}

static void pending_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    bentry *e = priv;
    batch *b = e->b;
    redisReply *r = reply;
    if (r == NULL) {
        b->lost = 1;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        /* XPENDING extended form: [[id, consumer, idle ms, delivery count]] */
        redisReply *x = r->element[0];
        if (x->type == REDIS_REPLY_ARRAY && x->elements == 4 &&
            x->element[1]->type == REDIS_REPLY_STRING &&
            strcmp(x->element[1]->str, b->t->consumer) == 0 &&
            x->element[3]->type == REDIS_REPLY_INTEGER) {
            long long n = x->element[3]->integer;
            e->ours = 1;
            e->attempt = n < 1 ? 1 : (n > INT_MAX ? INT_MAX : (int)n);
        }
    }
    if (--b->waiting == 0)
        batch_done(b);
}

/* start_batch looks up the delivery counts of entries that were delivered again (this
 * consumer's own pending entries, or claimed ones) before running them: the count is the
 * result's attempt and decides the dead letter after --max-deliveries. */
static void start_batch(wthread *t, const redisReply *entries)
{
    size_t n = 0;
    for (size_t i = 0; i < entries->elements; i++)
        if (entry_ok(entries->element[i]) &&
            task_find(t, entries->element[i]->element[0]->str) == NULL)
            n++;
    if (n == 0)
        return;
    batch *b = calloc(1, sizeof(*b) + n * sizeof(bentry));
    if (b == NULL)
        return; /* they stay pending and come back later */
    b->t = t;
    for (size_t i = 0; i < entries->elements && b->n < n; i++) {
        const redisReply *x = entries->element[i];
        if (!entry_ok(x) || task_find(t, x->element[0]->str) != NULL)
            continue;
        bentry *e = &b->e[b->n];
        e->b = b;
        memcpy(e->id, x->element[0]->str, x->element[0]->len);
        e->id[x->element[0]->len] = '\0';
        const char *raw = NULL;
        size_t len = 0;
        e->deleted = x->element[1]->type == REDIS_REPLY_NIL;
        e->has_job = find_job(x->element[1], &raw, &len);
        if (e->has_job) {
            e->raw = malloc(len + 1);
            if (e->raw == NULL)
                continue;
            memcpy(e->raw, raw, len);
            e->raw[len] = '\0';
            e->raw_len = len;
        }
        b->n++;
    }
    t->reserved += b->n;
    t->batches++;
    b->waiting = 1; /* held until every look-up is sent */
    for (size_t i = 0; i < b->n; i++) {
        bentry *e = &b->e[i];
        const char *argv[] = {"XPENDING", t->w->stream, ACMEVA_GROUP, e->id,
                              e->id,      "1",          t->consumer};
        b->waiting++;
        if (cmd(&t->reader, pending_cb, e, 7, argv, NULL) < 0) {
            b->waiting--;
            b->lost = 1;
        }
    }
    if (--b->waiting == 0)
        batch_done(b);
}

static void group_cb(redisAsyncContext *ac, void *reply, void *priv);

static void reader_error(wthread *t, const char *what, const redisReply *r)
{
    if (reply_is_error(r, "NOGROUP")) {
        /* The stream or the group was deleted under us: create them again. */
        ACMEVA_LOG("warn", "consumer group missing, creating it", ACMEVA_LS("stream", t->w->stream),
                   ACMEVA_LI("thread", t->index));
        t->group_ready = 0;
        conn_retry_ready(&t->reader);
        return;
    }
    ACMEVA_LOG("warn", what, ACMEVA_LS("stream", t->w->stream), ACMEVA_LI("thread", t->index),
               ACMEVA_LS("error", reply_text(r)));
    conn_retry_ready(&t->reader);
}

/* read_reply_ours ends the read in flight (XREADGROUP or XAUTOCLAIM), giving back the slots it
 * reserved, and says whether |r| is a reply to handle: not NULL (a dropped connection) and from
 * the reader connection still in use. */
static int read_reply_ours(wthread *t, redisAsyncContext *ac, const redisReply *r)
{
    t->reading = 0;
    t->reserved -= t->read_reserved;
    t->read_reserved = 0;
    return r != NULL && t->reader.ac == ac;
}

static void read_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    wthread *t = priv;
    redisReply *r = reply;
    if (!read_reply_ours(t, ac, r))
        return;
    if (r->type == REDIS_REPLY_NIL) { /* BLOCK timed out */
        reader_kick(t);
        maybe_finish(t);
        return;
    }
    /* [[stream, [[id, [field, value, ...]], ...]]] */
    const redisReply *entries = NULL;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
        r->element[0]->element[1]->type == REDIS_REPLY_ARRAY)
        entries = r->element[0]->element[1];
    if (entries == NULL) {
        reader_error(t, "XREADGROUP failed", r);
        return;
    }
    t->reader.errors = 0;
    if (t->resuming) {
        if (entries->elements == 0) {
            t->resuming = 0;
            if (t->resumed > 0)
                ACMEVA_LOG("info", "resumed pending jobs", ACMEVA_LI("count", t->resumed),
                           ACMEVA_LS("consumer", t->consumer));
        } else {
            const redisReply *last = entries->element[entries->elements - 1];
            if (!entry_ok(last)) {
                t->resuming = 0; /* cannot go on from a broken cursor; XAUTOCLAIM will */
            } else {
                memcpy(t->resume_cursor, last->element[0]->str, last->element[0]->len);
                t->resume_cursor[last->element[0]->len] = '\0';
            }
            size_t before = t->batches;
            start_batch(t, entries);
            if (t->batches != before)
                t->resumed += entries->elements;
        }
    } else {
        /* New entries (">"): this is their first delivery. */
        for (size_t i = 0; i < entries->elements; i++) {
            const redisReply *x = entries->element[i];
            if (!entry_ok(x))
                continue;
            const char *raw = NULL;
            size_t len = 0;
            int has_job = find_job(x->element[1], &raw, &len);
            dispatch(t, x->element[0]->str, raw, len, has_job,
                     x->element[1]->type == REDIS_REPLY_NIL, 1);
        }
    }
    reader_kick(t);
    maybe_finish(t);
}

static void claim_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    wthread *t = priv;
    redisReply *r = reply;
    if (!read_reply_ours(t, ac, r))
        return;
    /* XAUTOCLAIM: [next cursor, [[id, fields], ...], [deleted ids] (Redis 7)] */
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || !is_entry_id(r->element[0]) ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
        reader_error(t, "XAUTOCLAIM failed", r);
        return;
    }
    memcpy(t->claim_cursor, r->element[0]->str, r->element[0]->len);
    t->claim_cursor[r->element[0]->len] = '\0';
    const redisReply *entries = r->element[1];
    if (entries->elements > 0) {
        size_t before = t->batches;
        start_batch(t, entries);
        if (t->batches != before) {
            t->n_claimed += entries->elements;
            ACMEVA_LOG("info", "claimed idle jobs", ACMEVA_LI("count", entries->elements),
                       ACMEVA_LI("min_idle_ms", t->w->claim_idle_ms),
                       ACMEVA_LS("consumer", t->consumer));
        }
        /* More may be waiting further on in the pending list: go on at once. */
        if (strcmp(t->claim_cursor, "0-0") != 0)
            t->claim_due = 1;
    }
    reader_kick(t);
    maybe_finish(t);
}

/* reader_kick issues the next delivering request when there is a free slot: this consumer's
 * own pending entries first (after a (re)connect), then a due XAUTOCLAIM, else a blocking
 * read of new entries. COUNT is always the free slots. */
static void reader_kick(wthread *t)
{
    if (t->stopping || t->reader.state != CONN_READY || !t->group_ready || t->reading ||
        uv_is_active((uv_handle_t *)&t->reader.timer))
        return;
    size_t free_slots = slots_free(t);
    if (free_slots == 0)
        return;
    worker *w = t->w;
    char count[24], block[24], idle[24];
    snprintf(count, sizeof(count), "%zu", free_slots);
    int rc;
    if (t->resuming) {
        const char *argv[] = {"XREADGROUP", "GROUP",   ACMEVA_GROUP, t->consumer,     "COUNT",
                              count,        "STREAMS", w->stream,    t->resume_cursor};
        rc = cmd(&t->reader, read_cb, t, 9, argv, NULL);
    } else if (t->claim_due) {
        t->claim_due = 0;
        snprintf(idle, sizeof(idle), "%lld", (long long)w->claim_idle_ms);
        const char *argv[] = {"XAUTOCLAIM", w->stream,       ACMEVA_GROUP, t->consumer,
                              idle,         t->claim_cursor, "COUNT",      count};
        rc = cmd(&t->reader, claim_cb, t, 8, argv, NULL);
    } else {
        snprintf(block, sizeof(block), "%lld", (long long)w->block_ms);
        const char *argv[] = {"XREADGROUP", "GROUP", ACMEVA_GROUP, t->consumer, "COUNT", count,
                              "BLOCK",      block,   "STREAMS",    w->stream,   ">"};
        rc = cmd(&t->reader, read_cb, t, 11, argv, NULL);
    }
    if (rc < 0)
        return;
    t->reading = 1;
    t->read_reserved = free_slots;
    t->reserved += free_slots;
}

static void group_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    wthread *t = priv;
    redisReply *r = reply;
    if (r == NULL || t->reader.ac != ac)
        return;
    if (r->type == REDIS_REPLY_ERROR && !reply_is_error(r, "BUSYGROUP")) {
        reader_error(t, "XGROUP CREATE failed", r);
        return;
    }
    t->reader.errors = 0;
    t->group_ready = 1;
    /* Resume what this consumer already holds (entries delivered before a lost connection)
     * before reading anything new. */
    t->resuming = 1;
    t->resumed = 0;
    snprintf(t->resume_cursor, sizeof(t->resume_cursor), "0");
    reader_kick(t);
}

static void reader_ready(rconn *c)
{
    wthread *t = c->t;
    if (t->stopping)
        return;
    if (t->group_ready) {
        reader_kick(t);
        return;
    }
    /* From the start of the stream ("0"): jobs a CA core enqueued before any worker ever ran
     * are delivered, not lost. Jobs past their deadline then get an error result without
     * being validated. */
    const char *argv[] = {"XGROUP", "CREATE", t->w->stream, ACMEVA_GROUP, "0", "MKSTREAM"};
    if (cmd(c, group_cb, t, 6, argv, NULL) < 0)
        conn_fail(c, "cannot send");
}

static void reader_lost(rconn *c)
{
    wthread *t = c->t;
    t->group_ready = 0;
    maybe_finish(t);
}

/* ---- the writer connection and the claim timer ---------------------------------------------- */

static void writer_ready(rconn *c)
{
    outbox_flush(c->t);
    maybe_finish(c->t);
}

static void writer_lost(rconn *c)
{
    maybe_finish(c->t);
}

/* heartbeat resets the idle time of long-running jobs (XCLAIM ... JUSTID to ourselves does
 * not count a delivery), so that XAUTOCLAIM elsewhere never takes a job that is still
 * running here because its deadline lies beyond --claim-idle-ms. */
static void heartbeat(wthread *t)
{
    uint64_t now = uv_now(&t->loop), limit = (uint64_t)t->w->claim_idle_ms / 2;
    const char *argv[6 + HEARTBEAT_MAX_IDS];
    int argc = 0;
    argv[argc++] = "XCLAIM";
    argv[argc++] = t->w->stream;
    argv[argc++] = ACMEVA_GROUP;
    argv[argc++] = t->consumer;
    argv[argc++] = "0";
    for (task *k = t->held_head; k != NULL && argc < 5 + HEARTBEAT_MAX_IDS; k = k->next) {
        if (now - k->touched < limit)
            continue;
        argv[argc++] = k->entry_id;
        k->touched = now;
    }
    if (argc == 5)
        return;
    argv[argc++] = "JUSTID";
    size_t lens[6 + HEARTBEAT_MAX_IDS];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    cmd(&t->writer, NULL, NULL, argc, argv, lens);
}

static void claim_tick(uv_timer_t *h)
{
    wthread *t = h->data;
    if (t->stopping)
        return;
    if (t->writer.state == CONN_READY)
        heartbeat(t);
    t->claim_due = 1;
    reader_kick(t);
}

/* ---- stopping -------------------------------------------------------------------------------- */

static void finish_thread(wthread *t)
{
    if (t->finishing)
        return;
    t->finishing = 1;
    t->stopping = 1;
    size_t running = 0, unposted = 0;
    for (task *k = t->held_head; k != NULL; k = k->next) {
        if (k->state == TASK_RUNNING)
            running++;
        else
            unposted++;
    }
    ACMEVA_LOG("info", "thread stopped", ACMEVA_LI("thread", t->index),
               ACMEVA_LI("done", t->n_done), ACMEVA_LI("claimed", t->n_claimed),
               ACMEVA_LI("cancelled", running), ACMEVA_LI("unposted", unposted));
    /* Connections first: their pending callbacks (with NULL replies) may touch tasks. */
    conn_close(&t->reader);
    conn_close(&t->writer);
    /* What is still held stays pending in Redis for another worker (at least once). */
    while (t->held_head != NULL) {
        task *k = t->held_head;
        if (k->state == TASK_RUNNING && k->v != NULL)
            acmeva_validation_cancel(k->v);
        task_free(k);
    }
    t->out_head = t->out_tail = NULL;
    acmeva_engine_free(t->engine);
    t->engine = NULL;
    uv_close((uv_handle_t *)&t->claim_timer, NULL);
    uv_close((uv_handle_t *)&t->grace_timer, NULL);
    uv_mutex_lock(&t->w->lock);
    t->async_closed = 1;
    uv_close((uv_handle_t *)&t->stop_async, NULL);
    uv_mutex_unlock(&t->w->lock);
}

static void goodbye_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    wthread *t = priv;
    redisReply *r = reply;
    if (t->goodbye == 1 && r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 0 &&
        t->held == 0 && t->writer.ac == ac) {
        /* Nothing pending for this consumer: remove it, so that restarts do not pile up
         * consumers in XINFO CONSUMERS. With pending entries it stays, for XAUTOCLAIM. */
        const char *argv[] = {"XGROUP", "DELCONSUMER", t->w->stream, ACMEVA_GROUP, t->consumer};
        t->goodbye = 2;
        if (cmd(&t->writer, goodbye_cb, t, 5, argv, NULL) == 0)
            return;
    }
    t->goodbye = 3;
    if (r != NULL)
        maybe_finish(t);
}

static void maybe_finish(wthread *t)
{
    if (!t->stopping || t->finishing)
        return;
    if (t->reader.state == CONN_READY && (t->reading || t->batches > 0))
        return; /* entries delivered by the last read are run too */
    if (t->held > 0)
        return;
    if (t->goodbye == 0 && t->writer.state == CONN_READY) {
        const char *argv[] = {"XPENDING", t->w->stream, ACMEVA_GROUP, "-", "+", "1", t->consumer};
        t->goodbye = 1;
        if (cmd(&t->writer, goodbye_cb, t, 7, argv, NULL) == 0)
            return;
    }
    if ((t->goodbye == 1 || t->goodbye == 2) && t->writer.state == CONN_READY)
        return;
    finish_thread(t);
}

static void grace_cb(uv_timer_t *h)
{
    wthread *t = h->data;
    ACMEVA_LOG("warn", "grace period over", ACMEVA_LI("thread", t->index),
               ACMEVA_LI("held", t->held));
    finish_thread(t);
}

static void stop_cb(uv_async_t *h)
{
    wthread *t = h->data;
    if (t->finishing)
        return;
    uint64_t deadline = atomic_load(&t->w->grace_deadline), now = mono_ms();
    uv_timer_stop(&t->grace_timer);
    uv_timer_start(&t->grace_timer, grace_cb, deadline > now ? deadline - now : 0, 0);
    if (t->stopping)
        return;
    t->stopping = 1;
    uv_timer_stop(&t->claim_timer);
    maybe_finish(t);
}

/* ---- threads and the process ---------------------------------------------------------------- */

static void thread_main(void *arg)
{
    wthread *t = arg;
    uv_run(&t->loop, UV_RUN_DEFAULT);
    atomic_fetch_add(&t->w->exited, 1);
    uv_async_send(&t->w->exited_async);
}

static void exited_cb(uv_async_t *h)
{
    worker *w = h->data;
    if (atomic_load(&w->exited) < w->nthreads)
        return;
    uv_close((uv_handle_t *)&w->sigterm, NULL);
    uv_close((uv_handle_t *)&w->sigint, NULL);
    uv_close((uv_handle_t *)&w->exited_async, NULL);
}

static void signal_cb(uv_signal_t *h, int signum)
{
    worker *w = h->data;
    w->signals++;
    uint64_t now = mono_ms();
    if (w->signals == 1) {
        atomic_store(&w->grace_deadline, now + (uint64_t)w->o->grace_ms);
        ACMEVA_LOG("info", "stopping",
                   ACMEVA_LS("signal", signum == SIGTERM ? "SIGTERM" : "SIGINT"),
                   ACMEVA_LI("grace_ms", w->o->grace_ms));
    } else {
        atomic_store(&w->grace_deadline, now);
        ACMEVA_LOG0("warn", "second signal: stopping now");
    }
    uv_mutex_lock(&w->lock);
    for (int i = 0; i < w->nthreads; i++)
        if (!w->threads[i].async_closed)
            uv_async_send(&w->threads[i].stop_async);
    uv_mutex_unlock(&w->lock);
}

static void consumer_name(char *buf, size_t len, int index)
{
    char host[256];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    host[64] = '\0';
    /* The name becomes part of a consumer name and a CLIENT SETNAME: printable, no ':' or
     * spaces inside the host part. */
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_'))
            *p = '_';
    snprintf(buf, len, "%.64s:%ld:%d", host, (long)getpid(), index);
}

static int thread_init(worker *w, wthread *t, int index, char *err, size_t errlen)
{
    t->w = w;
    t->index = index;
    consumer_name(t->consumer, sizeof(t->consumer), index);
    uint32_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
        seed = (uint32_t)(uv_hrtime() ^ (uint64_t)getpid());
    t->seed = seed ^ (uint32_t)index;
    snprintf(t->claim_cursor, sizeof(t->claim_cursor), "0-0");
    if (uv_loop_init(&t->loop) != 0) {
        snprintf(err, errlen, "cannot create an event loop");
        return -1;
    }
    if (acmeva_engine_new(&t->loop, w->cfg, w->ssl_ctx, &t->engine, err, errlen) < 0) {
        uv_loop_close(&t->loop);
        return -1;
    }
    uv_timer_init(&t->loop, &t->claim_timer);
    uv_timer_init(&t->loop, &t->grace_timer);
    t->claim_timer.data = t->grace_timer.data = t;
    uv_async_init(&t->loop, &t->stop_async, stop_cb);
    t->stop_async.data = t;
    conn_init(&t->reader, t, "reader", reader_ready, reader_lost);
    conn_init(&t->writer, t, "writer", writer_ready, writer_lost);
    conn_connect(&t->reader);
    conn_connect(&t->writer);
    /* Spread the claims of the threads over the period. */
    uint64_t every = (uint64_t)w->claim_every_ms;
    uv_timer_start(&t->claim_timer, claim_tick, every / 2 + rand_r(&t->seed) % (every / 2 + 1),
                   every);
    return 0;
}

/* thread_abort undoes thread_init on a loop that never ran. */
static void thread_abort(wthread *t)
{
    t->stopping = 1;
    finish_thread(t);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    uv_loop_close(&t->loop);
}

/* join writes the |n| strings of |v| comma-separated into |buf| (cut to fit), or |none|. */
static void join(char *buf, size_t len, char *const *v, size_t n, const char *none)
{
    size_t off = 0;
    snprintf(buf, len, "%s", n == 0 ? none : "");
    for (size_t i = 0; i < n && off + 1 < len; i++) {
        int k = snprintf(buf + off, len - off, "%s%s", i ? "," : "", v[i]);
        if (k < 0)
            break;
        off += (size_t)k;
    }
}

static void log_startup(const worker *w)
{
    const acmeva_worker_options *o = w->o;
    const acmeva_engine_config *cfg = w->cfg;
    char resolvers[512], issuers[1024];
    join(resolvers, sizeof(resolvers), cfg->resolvers, cfg->n_resolvers, "system");
    join(issuers, sizeof(issuers), cfg->issuer_domains, cfg->n_issuer_domains, "");
    ACMEVA_LOG("info", "acmeva-worker starting", ACMEVA_LS("redis", w->redis_masked),
               ACMEVA_LS("stream", w->stream), ACMEVA_LS("group", ACMEVA_GROUP),
               ACMEVA_LS("perspective", cfg->perspective), ACMEVA_LS("rir", cfg->rir),
               ACMEVA_LI("threads", w->nthreads), ACMEVA_LI("max_inflight", o->max_inflight),
               ACMEVA_LI("claim_idle_ms", w->claim_idle_ms),
               ACMEVA_LI("max_deliveries", o->max_deliveries), ACMEVA_LI("grace_ms", o->grace_ms),
               ACMEVA_LI("results_maxlen", o->results_maxlen), ACMEVA_LS("resolvers", resolvers),
               ACMEVA_LI("http_port", cfg->http_port), ACMEVA_LI("https_port", cfg->https_port),
               ACMEVA_LI("tls_port", cfg->tls_port),
               ACMEVA_LI("allow_private_addresses", cfg->allow_private),
               ACMEVA_LI("timeout_ms", cfg->timeout_ms), ACMEVA_LS("issuer_domains", issuers),
               ACMEVA_LS("user_agent", cfg->user_agent), ACMEVA_LI("pid", (long)getpid()));
}

int acmeva_worker_options_init(acmeva_worker_options *o)
{
    memset(o, 0, sizeof(*o));
    char err[256];
    if (acmeva_redis_url_parse(acmeva_redis_url_default(), &o->redis, err, sizeof(err)) < 0)
        return -1;
    o->perspective = strdup("default");
    if (o->perspective == NULL) {
        acmeva_redis_url_clear(&o->redis);
        return -1;
    }
    o->threads = 0;
    o->max_inflight = 1000;
    o->claim_idle_ms = 0;
    o->max_deliveries = 5;
    o->grace_ms = 10000;
    o->results_maxlen = 1000000;
    o->block_ms = DEFAULT_BLOCK_MS;
    return 0;
}

void acmeva_worker_options_clear(acmeva_worker_options *o)
{
    acmeva_redis_url_clear(&o->redis);
    free(o->perspective);
    o->perspective = NULL;
}

int acmeva_worker_run(const acmeva_worker_options *o, const acmeva_engine_config *cfg)
{
    worker *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return 1;
    int status = 1;
    w->o = o;
    w->cfg = cfg;
    snprintf(w->stream, sizeof(w->stream), "%s%s", ACMEVA_JOBS_STREAM_PREFIX, o->perspective);
    snprintf(w->maxlen, sizeof(w->maxlen), "%lld", (long long)o->results_maxlen);
    acmeva_redis_url_masked(&o->redis, w->redis_masked, sizeof(w->redis_masked));
    /* Default: twice the longest job deadline a worker sets itself (the engine timeout). */
    w->claim_idle_ms = o->claim_idle_ms > 0 ? o->claim_idle_ms : 2 * cfg->timeout_ms;
    if (w->claim_idle_ms < 100)
        w->claim_idle_ms = 100;
    w->claim_every_ms = w->claim_idle_ms / 4;
    if (w->claim_every_ms < 50)
        w->claim_every_ms = 50;
    if (w->claim_every_ms > 5000)
        w->claim_every_ms = 5000;
    w->block_ms = o->block_ms > 0 ? o->block_ms : DEFAULT_BLOCK_MS;
    int n = o->threads;
    if (n <= 0)
        n = (int)uv_available_parallelism();
    if (n < 1)
        n = 1;
    if (n > MAX_THREADS)
        n = MAX_THREADS;
    w->nthreads = n;
    atomic_init(&w->exited, 0);
    atomic_init(&w->grace_deadline, 0);
    signal(SIGPIPE, SIG_IGN);

    log_startup(w);
    w->ssl_ctx = acmeva_tls_ctx_new();
    w->threads = calloc((size_t)n, sizeof(wthread));
    if (w->ssl_ctx == NULL || w->threads == NULL || uv_mutex_init(&w->lock) != 0) {
        ACMEVA_LOG0("error", "cannot start: no memory");
        acmeva_tls_ctx_free(w->ssl_ctx);
        free(w->threads);
        free(w);
        return 1;
    }
    if (uv_loop_init(&w->main_loop) != 0) {
        ACMEVA_LOG0("error", "cannot start: no event loop");
        uv_mutex_destroy(&w->lock);
        acmeva_tls_ctx_free(w->ssl_ctx);
        free(w->threads);
        free(w);
        return 1;
    }
    uv_signal_init(&w->main_loop, &w->sigterm);
    uv_signal_init(&w->main_loop, &w->sigint);
    w->sigterm.data = w->sigint.data = w;
    uv_async_init(&w->main_loop, &w->exited_async, exited_cb);
    w->exited_async.data = w;

    int started = 0;
    char err[256] = "";
    for (int i = 0; i < n; i++) {
        if (thread_init(w, &w->threads[i], i, err, sizeof(err)) < 0) {
            ACMEVA_LOG("error", "cannot start", ACMEVA_LS("error", err), ACMEVA_LI("thread", i));
            break;
        }
        started++;
    }
    if (started < n) {
        for (int i = 0; i < started; i++)
            thread_abort(&w->threads[i]);
        uv_close((uv_handle_t *)&w->sigterm, NULL);
        uv_close((uv_handle_t *)&w->sigint, NULL);
        uv_close((uv_handle_t *)&w->exited_async, NULL);
        uv_run(&w->main_loop, UV_RUN_DEFAULT);
        goto out;
    }
    uv_signal_start(&w->sigterm, signal_cb, SIGTERM);
    uv_signal_start(&w->sigint, signal_cb, SIGINT);
    for (int i = 0; i < n; i++) {
        if (uv_thread_create(&w->threads[i].tid, thread_main, &w->threads[i]) != 0) {
            ACMEVA_LOG0("error", "cannot create a thread");
            abort(); /* half a worker with loops already wired to each other: no way back */
        }
    }
    uv_run(&w->main_loop, UV_RUN_DEFAULT);
    for (int i = 0; i < n; i++) {
        uv_thread_join(&w->threads[i].tid);
        uv_loop_close(&w->threads[i].loop);
    }
    ACMEVA_LOG0("info", "acmeva-worker stopped");
    status = 0;
out:
    uv_loop_close(&w->main_loop);
    uv_mutex_destroy(&w->lock);
    acmeva_tls_ctx_free(w->ssl_ctx);
    free(w->threads);
    free(w);
    return status;
}
