/*
 * One Redis connection on a libuv loop, with its reconnect state (STYLE.md "Daemons are small
 * mains over shared parts": the Redis connection is one file).
 *
 * hiredis is kept for what it does well, its reply reader (redisReader) and its command
 * formatter (redisFormatCommandArgv); the transport is ours: a uv_tcp_t, optionally wrapped in
 * TLS (BoringSSL over memory BIOs, like the engine's connections), so that TLS, a reply
 * timeout and TCP keepalive all live in one place and hiredis 0.14 (which has no TLS and no
 * reply timeout on its async API) never touches a socket.
 *
 * A connection reconnects by itself after any failure, with exponential backoff and jitter
 * (acmeva_backoff_ms). After each connect it authenticates (AUTH, SELECT), names itself
 * (CLIENT SETNAME), and sends a readiness probe (EXISTS <probe key>: refused with LOADING while
 * Redis loads its data, unlike PING); once the probe is answered the connection is ready and
 * on_ready runs. Commands can be sent only while it is ready.
 *
 * Every command's callback runs exactly once: with the reply, or with NULL when the connection
 * was lost (or closed) before the reply came. A connection that has commands outstanding and
 * receives nothing for the reply timeout is dropped: a half-open link or a frozen proxy can
 * never wedge it.
 *
 * A subscriber connection (acmeva_rconn_set_push) also takes the messages Redis pushes once
 * SUBSCRIBE was sent: in RESP2 they come with no command waiting for them, and any other
 * connection treats such a reply as a protocol error.
 */
#ifndef ACMEVA_REDISCONN_H
#define ACMEVA_REDISCONN_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#include "queue.h"

typedef struct acmeva_rconn acmeva_rconn;
typedef struct acmeva_rlink acmeva_rlink;

/* acmeva_rconn_cb receives the reply to one command (borrowed: freed after the call), or NULL
 * when the connection went away before it came. */
typedef void (*acmeva_rconn_cb)(acmeva_rconn *c, redisReply *reply, void *priv);

/* acmeva_rconn_push_cb receives one message published on a channel the connection subscribed
 * to: an array of "message", the channel and the payload (or "pmessage", the pattern, the
 * channel and the payload). Borrowed: freed after the call. */
typedef void (*acmeva_rconn_push_cb)(acmeva_rconn *c, redisReply *msg);

typedef enum {
    ACMEVA_RCONN_DOWN,       /* waiting for the reconnect timer */
    ACMEVA_RCONN_RESOLVING,  /* uv_getaddrinfo of the Redis host (libuv's thread pool) */
    ACMEVA_RCONN_CONNECTING, /* TCP connect, TLS handshake, AUTH, SELECT, the probe */
    ACMEVA_RCONN_READY,
    ACMEVA_RCONN_CLOSED, /* closed for good: never reconnects */
} acmeva_rconn_state;

/* What every connection of a process shares, read-only once the threads run. */
typedef struct acmeva_rconn_settings {
    const acmeva_redis_url *url;
    const char *masked;         /* the URL with the password masked, for logs */
    void *ssl_ctx;              /* SSL_CTX * for rediss:// (acmeva_redis_tls_ctx_new), or NULL */
    int64_t connect_timeout_ms; /* TCP connect + TLS handshake + AUTH + probe */
    int64_t reply_timeout_ms;   /* outstanding commands and nothing received: drop */
    const char *probe_key;      /* the key of the EXISTS probe */
    int quiet;                  /* log connects and losses of thread 0 only at info */
    int once; /* a CLI's connection: no reconnect and no log lines; after the first failure
                 the connection is closed for good, on_lost runs and last_error says why */
} acmeva_rconn_settings;

struct acmeva_rconn {
    uv_loop_t *loop;
    const acmeva_rconn_settings *s;
    const char *role; /* "reader", "writer", ... for logs */
    int thread;       /* for logs */
    char name[192];   /* CLIENT SETNAME */
    acmeva_rconn_state state;
    unsigned failures; /* consecutive failed attempts: the backoff exponent */
    unsigned errors;   /* consecutive error replies while ready: the retry backoff */
    int ever_ready;
    int probe_wait; /* CONNECTING: the timer sends the readiness probe again */
    uv_timer_t timer; /* reconnect delay, connect timeout, or a retry while ready */
    uv_getaddrinfo_t gai;
    int gai_active;
    acmeva_rlink *link; /* the transport of the current attempt; NULL while down */
    unsigned seed;      /* for the backoff jitter */
    void (*on_ready)(acmeva_rconn *c);
    void (*on_lost)(acmeva_rconn *c); /* after a READY connection went down */
    acmeva_rconn_push_cb on_push;     /* a subscriber's messages (acmeva_rconn_set_push) */
    void *data;                       /* the owner's */
    uint64_t n_lost;                  /* READY connections lost, for metrics */
    /* Optional: runs on a ready connection right before its output is written, at the end of
     * a loop turn in which acmeva_rconn_kick was called (or a command was sent), so that the
     * owner can send what it gathered in one go. */
    void (*before_flush)(acmeva_rconn *c);
    void *flush_arg;
    char last_error[320];             /* why the last attempt or connection failed */
};

/* acmeva_rconn_settings_init fills |s| for the daemons from their options: the URL, the masked
 * URL for logs (borrowed), the 5 s connect timeout, --redis-timeout-ms, the probe key
 * (borrowed), thread 0's connects and losses logged at info. The TLS context stays NULL. */
void acmeva_rconn_settings_init(acmeva_rconn_settings *s, const acmeva_daemon_options *o,
                                const char *masked, const char *probe_key);

/*
 * acmeva_rconn_init prepares |c| on |loop| (it does not connect yet). |s| is borrowed and
 * must outlive |c|. Returns 0 or a libuv error.
 */
int acmeva_rconn_init(acmeva_rconn *c, uv_loop_t *loop, const acmeva_rconn_settings *s,
                      const char *role, int thread, const char *client_name,
                      void (*on_ready)(acmeva_rconn *), void (*on_lost)(acmeva_rconn *),
                      void *data);

/*
 * acmeva_rconn_set_push makes |c| a subscriber connection: a reply that is a published message
 * ("message" or "pmessage" arrays, RESP2) goes to |cb| instead of to the oldest command
 * outstanding. Only for a connection that sends nothing but SUBSCRIBE, PSUBSCRIBE and PING once
 * ready: the reply of another command (HGETALL of a hash with a field "message") could look like
 * a message. Subscriptions end with the connection: subscribe again from on_ready. Call it
 * before acmeva_rconn_start.
 */
void acmeva_rconn_set_push(acmeva_rconn *c, acmeva_rconn_push_cb cb);

/* acmeva_rconn_start starts connecting (and reconnecting from then on). */
void acmeva_rconn_start(acmeva_rconn *c);

/*
 * acmeva_rconn_command sends one command (|lens| may be NULL for NUL-terminated arguments;
 * at most 16 arguments then). |cb| may be NULL (the reply is dropped). Returns 0, or -1 when
 * the connection is not ready or out of memory: |cb| is then never called.
 */
int acmeva_rconn_command(acmeva_rconn *c, acmeva_rconn_cb cb, void *priv, int argc,
                         const char **argv, const size_t *lens);

/*
 * acmeva_rconn_keep_reply, called from inside a reply callback, takes the reply passed to it
 * out of the connection's hands: the caller now owns it (freeReplyObject). For a client that
 * hands replies on, e.g. the blocking client of the CLIs (rclient.c).
 */
void acmeva_rconn_keep_reply(acmeva_rconn *c);

/* acmeva_rconn_kick asks for a write at the end of this loop turn (before_flush runs then),
 * even when nothing is queued yet. */
void acmeva_rconn_kick(acmeva_rconn *c);

/* acmeva_rconn_ready returns 1 when commands can be sent and no retry delay is running. */
int acmeva_rconn_ready(const acmeva_rconn *c);

/*
 * acmeva_rconn_fail drops the connection from our side (a broken reply, a command that could
 * not be queued) and reconnects after the backoff. Outstanding callbacks run with NULL.
 * Safe from inside a reply callback.
 */
void acmeva_rconn_fail(acmeva_rconn *c, const char *why);

/*
 * acmeva_rconn_retry_ready runs on_ready again after a backoff: Redis answered, but with an
 * error that may pass (LOADING, OOM, NOGROUP while the group is recreated, ...).
 */
void acmeva_rconn_retry_ready(acmeva_rconn *c);

/*
 * acmeva_rconn_close ends |c| for good: outstanding callbacks run with NULL, its handles are
 * closed (run the loop until they are). Idempotent.
 */
void acmeva_rconn_close(acmeva_rconn *c);

/* acmeva_reply_is_error returns 1 when |r| is an error reply starting with |prefix|. */
int acmeva_reply_is_error(const redisReply *r, const char *prefix);

/* acmeva_reply_text returns the text of an error or status reply, for logs. */
const char *acmeva_reply_text(const redisReply *r);

#endif
