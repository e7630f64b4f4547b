/*
 * A blocking Redis client for the command-line tools (`acmeva submit`, `acmeva policy`): one
 * connection of redisconn.c on a private libuv loop, run only while the caller waits for a
 * reply. The CLIs thus speak TLS (rediss://, --redis-ca, --redis-cert, --redis-key) on the
 * same transport as the daemons, with the same AUTH, SELECT, readiness probe, reply timeout
 * and keepalive, and none of their reconnecting: a CLI reports a failure and stops.
 *
 * Commands may be pipelined: acmeva_rclient_send queues one, acmeva_rclient_next waits for
 * the oldest reply not yet taken.
 */
#ifndef ACMEVA_RCLIENT_H
#define ACMEVA_RCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#include "queue.h"
#include "redisconn.h"

typedef struct acmeva_rclient {
    uv_loop_t loop;
    acmeva_rconn_settings s;
    acmeva_rconn conn;
    char masked[512];
    void *ssl_ctx;  /* owned */
    redisReply **q; /* replies come in and not yet taken, oldest first */
    size_t q_head, q_len, q_cap;
    size_t outstanding; /* commands sent whose replies have not come */
    int lost;
    int loop_ready;
} acmeva_rclient;

/*
 * acmeva_rclient_open connects |cl| to |u| (borrowed: it must outlive |cl|) with the TLS
 * options |t|, and waits until the connection is ready: TCP, TLS, AUTH, SELECT and the
 * readiness probe (EXISTS |probe_key|, a key the user may read). |name| is sent with
 * CLIENT SETNAME. Prints the start-up warnings of the channel as "<prog>: warning: ..." lines.
 * Returns 0, or -1 with a sentence in |err| (never the password); |cl| must be closed either
 * way.
 */
int acmeva_rclient_open(acmeva_rclient *cl, const char *prog, const acmeva_redis_url *u,
                        const acmeva_redis_tls_options *t, const char *probe_key, const char *name,
                        char *err, size_t errlen);

/* acmeva_rclient_set_timeout sets the reply timeout of the commands sent from now on (a
 * blocking read needs more than its BLOCK time). */
void acmeva_rclient_set_timeout(acmeva_rclient *cl, int64_t ms);

/* acmeva_rclient_send queues one command (|lens| may be NULL for NUL-terminated arguments) to
 * be written at the next wait. Returns 0, or -1 when the connection is gone or out of memory. */
int acmeva_rclient_send(acmeva_rclient *cl, int argc, const char **argv, const size_t *lens);

/*
 * acmeva_rclient_next waits for the reply to the oldest command whose reply was not taken yet.
 * Returns it (owned: freeReplyObject), or NULL with a sentence in |err| when the connection
 * was lost (the reply timeout, a TLS alert, a closed connection) or nothing is outstanding.
 */
redisReply *acmeva_rclient_next(acmeva_rclient *cl, char *err, size_t errlen);

/* acmeva_rclient_call sends one command and waits for its reply (acmeva_rclient_next). */
redisReply *acmeva_rclient_call(acmeva_rclient *cl, int argc, const char **argv, const size_t *lens,
                                char *err, size_t errlen);

/* acmeva_rclient_close closes the connection, frees what |cl| holds and closes its loop.
 * Idempotent. */
void acmeva_rclient_close(acmeva_rclient *cl);

#endif
