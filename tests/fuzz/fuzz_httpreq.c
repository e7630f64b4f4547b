/*
 * Fuzz target of the operations server's request reader (worker/queue/httpd.c). The first
 * input byte chooses how the rest is split across feed calls; the request is read once in one
 * piece and once split that way. Both readings must end the same way (state, status, method,
 * path, keep-alive, bytes consumed), never read past the head cap, and give a path that is
 * NUL-terminated within its bound.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct outcome {
    acmeva_httpreq_state state;
    int status, method, keep_alive;
    char path[ACMEVA_HTTPREQ_PATH_MAX + 1];
    size_t consumed;
} outcome;

static void read_all(const uint8_t *data, size_t len, uint8_t mode, outcome *o)
{
    acmeva_httpreq r;
    acmeva_httpreq_init(&r);
    size_t off = 0, total = 0;
    uint32_t state = mode;
    acmeva_httpreq_state st = ACMEVA_HTTPREQ_MORE;
    while (off < len && st == ACMEVA_HTTPREQ_MORE) {
        size_t piece = len - off;
        if (mode != 0) {
            state = state * 1103515245u + 12345u;
            piece = 1 + (state >> 16) % (mode & 0x3f ? (mode & 0x3f) : 1);
            if (piece > len - off)
                piece = len - off;
        }
        size_t used = 0;
        st = acmeva_httpreq_feed(&r, (const char *)data + off, piece, &used);
        REQUIRE(used <= piece);
        REQUIRE(st != ACMEVA_HTTPREQ_MORE || used == piece);
        off += used;
        total += used;
        if (st == ACMEVA_HTTPREQ_MORE)
            REQUIRE(r.head_bytes <= ACMEVA_HTTPREQ_HEAD_MAX);
    }
    /* Once done or refused, nothing more is taken. */
    if (st != ACMEVA_HTTPREQ_MORE) {
        size_t used = 1;
        REQUIRE(acmeva_httpreq_feed(&r, "x", 1, &used) == st && used == 0);
    }
    REQUIRE(total <= ACMEVA_HTTPREQ_HEAD_MAX + 1);
    memset(o, 0, sizeof(*o));
    o->state = st;
    o->consumed = total;
    if (st == ACMEVA_HTTPREQ_DONE) {
        REQUIRE(memchr(r.path, '\0', sizeof(r.path)) != NULL);
        REQUIRE(r.path[0] == '/');
        memcpy(o->path, r.path, sizeof(o->path));
        o->method = r.method;
        o->keep_alive = r.keep_alive;
    }
    if (st == ACMEVA_HTTPREQ_ERROR) {
        REQUIRE(r.status == 400 || r.status == 413 || r.status == 414 || r.status == 431 ||
                r.status == 505);
        o->status = r.status;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    outcome whole, split;
    read_all(data + 1, size - 1, 0, &whole);
    read_all(data + 1, size - 1, mode, &split);
    REQUIRE(whole.state == split.state);
    REQUIRE(whole.status == split.status);
    REQUIRE(whole.consumed == split.consumed);
    REQUIRE(whole.method == split.method && whole.keep_alive == split.keep_alive);
    REQUIRE(strcmp(whole.path, split.path) == 0);
    return 0;
}
