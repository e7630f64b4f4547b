/*
 * A blocking Redis client for the command-line tools (see rclient.h).
 */
#include "rclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS 5000
#define REPLY_TIMEOUT_MS 15000

static void reply_cb(acmeva_rconn *c, redisReply *r, void *priv)
{
    acmeva_rclient *cl = priv;
    cl->outstanding--;
    if (r == NULL) {
        cl->lost = 1;
        return;
    }
    if (cl->q_len == cl->q_cap) {
        size_t cap = cl->q_cap ? 2 * cl->q_cap : 64;
        redisReply **q = malloc(cap * sizeof(*q));
        if (q == NULL) {
            acmeva_rconn_fail(c, "no memory for a reply");
            return;
        }
        for (size_t i = 0; i < cl->q_len; i++)
            q[i] = cl->q[(cl->q_head + i) % cl->q_cap];
        free(cl->q);
        cl->q = q;
        cl->q_head = 0;
        cl->q_cap = cap;
    }
    acmeva_rconn_keep_reply(c);
    cl->q[(cl->q_head + cl->q_len) % cl->q_cap] = r;
    cl->q_len++;
}

static void on_lost(acmeva_rconn *c)
{
    acmeva_rclient *cl = c->data;
    cl->lost = 1;
}

static void lost_error(const acmeva_rclient *cl, char *err, size_t errlen)
{
    snprintf(err, errlen, "%.190s: %.300s", cl->masked,
             cl->conn.last_error[0] ? cl->conn.last_error : "connection lost");
}

int acmeva_rclient_open(acmeva_rclient *cl, const char *prog, const acmeva_redis_url *u,
                        const acmeva_redis_tls_options *t, const char *probe_key, const char *name,
                        char *err, size_t errlen)
{
    memset(cl, 0, sizeof(*cl));
    acmeva_redis_url_masked(u, cl->masked, sizeof(cl->masked));
    if (acmeva_redis_tls_ctx_new(u, t, &cl->ssl_ctx, err, errlen) < 0)
        return -1;
    acmeva_redis_channel_note(prog, 1, u, t, cl->ssl_ctx);
    if (uv_loop_init(&cl->loop) != 0) {
        snprintf(err, errlen, "cannot create an event loop");
        return -1;
    }
    cl->s.url = u;
    cl->s.masked = cl->masked;
    cl->s.ssl_ctx = cl->ssl_ctx;
    cl->s.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    cl->s.reply_timeout_ms = REPLY_TIMEOUT_MS;
    cl->s.probe_key = probe_key;
    cl->s.once = 1;
    if (acmeva_rconn_init(&cl->conn, &cl->loop, &cl->s, "client", 0, name, NULL, on_lost, cl) !=
        0) {
        uv_loop_close(&cl->loop);
        snprintf(err, errlen, "cannot set up a connection");
        return -1;
    }
    cl->loop_ready = 1;
    acmeva_rconn_start(&cl->conn);
    while (cl->conn.state != ACMEVA_RCONN_READY && cl->conn.state != ACMEVA_RCONN_CLOSED)
        uv_run(&cl->loop, UV_RUN_ONCE);
    if (cl->conn.state != ACMEVA_RCONN_READY) {
        snprintf(err, errlen, "cannot connect to %.190s: %.300s", cl->masked,
                 cl->conn.last_error[0] ? cl->conn.last_error : "failed");
        return -1;
    }
    return 0;
}

void acmeva_rclient_set_timeout(acmeva_rclient *cl, int64_t ms)
{
    cl->s.reply_timeout_ms = ms;
}

int acmeva_rclient_send(acmeva_rclient *cl, int argc, const char **argv, const size_t *lens)
{
    if (cl->lost || acmeva_rconn_command(&cl->conn, reply_cb, cl, argc, argv, lens) < 0)
        return -1;
    cl->outstanding++;
    return 0;
}

redisReply *acmeva_rclient_next(acmeva_rclient *cl, char *err, size_t errlen)
{
    while (cl->q_len == 0 && !cl->lost && cl->outstanding > 0)
        uv_run(&cl->loop, UV_RUN_ONCE);
    if (cl->q_len == 0) {
        if (cl->lost)
            lost_error(cl, err, errlen);
        else
            snprintf(err, errlen, "no command outstanding");
        return NULL;
    }
    redisReply *r = cl->q[cl->q_head];
    cl->q_head = (cl->q_head + 1) % cl->q_cap;
    cl->q_len--;
    return r;
}

redisReply *acmeva_rclient_call(acmeva_rclient *cl, int argc, const char **argv, const size_t *lens,
                                char *err, size_t errlen)
{
    if (acmeva_rclient_send(cl, argc, argv, lens) < 0) {
        lost_error(cl, err, errlen);
        return NULL;
    }
    return acmeva_rclient_next(cl, err, errlen);
}

void acmeva_rclient_close(acmeva_rclient *cl)
{
    if (cl->loop_ready) {
        acmeva_rconn_close(&cl->conn);
        uv_run(&cl->loop, UV_RUN_DEFAULT); /* until every handle is closed */
        uv_loop_close(&cl->loop);
        cl->loop_ready = 0;
    }
    while (cl->q_len > 0) {
        freeReplyObject(cl->q[cl->q_head]);
        cl->q_head = (cl->q_head + 1) % cl->q_cap;
        cl->q_len--;
    }
    free(cl->q);
    cl->q = NULL;
    cl->q_cap = 0;
    acmeva_redis_tls_ctx_free(cl->ssl_ctx);
    cl->ssl_ctx = NULL;
}
