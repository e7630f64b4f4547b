/*
 * Fuzz target of the HTTP/1.1 response reader. The first input byte chooses how the rest,
 * the response, is split across feed calls (bit 7: stop after the head of a redirect); the
 * response is read once in one piece and once split that way, then EOF. Both readings must
 * keep the reader's invariants and give the same outcome.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpreader.h"

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct outcome {
    int after_feeds;
    int final;
    int status;
    const char *location; /* into a copy */
    char location_copy[ACMEVA_HTTP_MAX_LOCATION];
    size_t location_len;
    int location_too_long;
    int redirect;
    uint8_t body[ACMEVA_HTTP_BODY_CAP];
    size_t body_len;
    int over_cap;
    acmeva_http_error error;
    char error_text[96];
} outcome;

/* The next piece size of a split pattern; |state| is the pattern's own state. */
static size_t next_piece(uint8_t mode, uint32_t *state, size_t off, size_t len)
{
    unsigned arg = (mode >> 2) & 31;
    switch (mode & 3) {
    case 0: /* one byte at a time */
        return 1;
    case 1: /* fixed pieces of 1..32 bytes */
        return arg + 1;
    case 2: /* two pieces, split at arg/32 of the length */
        return off == 0 ? (len * arg) / 32 : len;
    default: /* pseudo-random pieces of 1..64 bytes */
        *state = *state * 1103515245u + 12345u;
        return ((*state >> 16) & 63) + 1;
    }
}

static void check_invariants(acmeva_httpreader *r, int result)
{
    acmeva_http_error err = acmeva_httpreader_error(r);
    const char *text = acmeva_httpreader_error_text(r);
    REQUIRE(result == ACMEVA_HTTP_MORE || result == ACMEVA_HTTP_DONE || result < 0);
    REQUIRE((result < 0) == (err != ACMEVA_HTTPERR_NONE));
    REQUIRE(result >= 0 || result == -(int)err);
    REQUIRE((err == ACMEVA_HTTPERR_NONE) == (text[0] == 0));
    REQUIRE(strlen(text) < 96);

    int status = acmeva_httpreader_status(r);
    REQUIRE(status == 0 || (status >= 100 && status <= 999));

    size_t len = 0;
    const uint8_t *body = acmeva_httpreader_body(r, &len);
    REQUIRE(body != NULL && len <= ACMEVA_HTTP_BODY_CAP && body[len] == 0);
    if (acmeva_httpreader_body_over_cap(r)) {
        REQUIRE(len == ACMEVA_HTTP_BODY_CAP);
        REQUIRE(result == ACMEVA_HTTP_DONE);
    }

    const char *loc = acmeva_httpreader_location(r, &len);
    REQUIRE(loc != NULL || len == 0);
    REQUIRE(len <= ACMEVA_HTTP_MAX_LOCATION);
    if (acmeva_httpreader_location_too_long(r))
        REQUIRE(loc == NULL);
    if (acmeva_httpreader_is_redirect(r)) {
        REQUIRE(result == ACMEVA_HTTP_DONE);
        REQUIRE(status == 301 || status == 302 || status == 303 || status == 307 || status == 308);
        REQUIRE((loc != NULL && len > 0) || acmeva_httpreader_location_too_long(r));
    }
}

static void read_response(const char *data, size_t len, uint8_t mode, int whole, outcome *o)
{
    acmeva_httpreader r;
    uint32_t state = mode;
    acmeva_httpreader_init(&r, (mode & 0x80) != 0);
    int res = ACMEVA_HTTP_MORE;
    size_t off = 0;
    while (off < len && res == ACMEVA_HTTP_MORE) {
        size_t n = whole ? len : next_piece(mode, &state, off, len);
        if (n == 0)
            n = len; /* a split at offset 0 is no split */
        if (n > len - off)
            n = len - off;
        res = acmeva_httpreader_feed(&r, data + off, n);
        check_invariants(&r, res);
        off += n;
    }
    memset(o, 0, sizeof(*o));
    o->after_feeds = res;
    o->final = res == ACMEVA_HTTP_MORE ? acmeva_httpreader_eof(&r) : res;
    REQUIRE(o->final != ACMEVA_HTTP_MORE);
    check_invariants(&r, o->final);
    /* Once over, more bytes or another EOF change nothing. */
    REQUIRE(acmeva_httpreader_feed(&r, "HTTP/1.1 200 OK\r\n\r\n", 19) == o->final);
    REQUIRE(acmeva_httpreader_eof(&r) == o->final);

    o->status = acmeva_httpreader_status(&r);
    const char *loc = acmeva_httpreader_location(&r, &o->location_len);
    if (loc != NULL) {
        memcpy(o->location_copy, loc, o->location_len);
        o->location = o->location_copy;
    }
    o->location_too_long = acmeva_httpreader_location_too_long(&r);
    o->redirect = acmeva_httpreader_is_redirect(&r);
    const uint8_t *body = acmeva_httpreader_body(&r, &o->body_len);
    memcpy(o->body, body, o->body_len);
    o->over_cap = acmeva_httpreader_body_over_cap(&r);
    o->error = acmeva_httpreader_error(&r);
    snprintf(o->error_text, sizeof(o->error_text), "%s", acmeva_httpreader_error_text(&r));
    acmeva_httpreader_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static outcome one, split;
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const char *resp = (const char *)data + 1;
    size_t len = size - 1;

    read_response(resp, len, mode, 1, &one);
    read_response(resp, len, mode, 0, &split);

    REQUIRE(one.after_feeds == split.after_feeds);
    REQUIRE(one.final == split.final);
    REQUIRE(one.status == split.status);
    REQUIRE((one.location == NULL) == (split.location == NULL));
    REQUIRE(one.location_len == split.location_len);
    REQUIRE(memcmp(one.location_copy, split.location_copy, one.location_len) == 0);
    REQUIRE(one.location_too_long == split.location_too_long);
    REQUIRE(one.redirect == split.redirect);
    REQUIRE(one.body_len == split.body_len);
    REQUIRE(memcmp(one.body, split.body, one.body_len) == 0);
    REQUIRE(one.over_cap == split.over_cap);
    REQUIRE(one.error == split.error);
    REQUIRE(strcmp(one.error_text, split.error_text) == 0);
    return 0;
}
