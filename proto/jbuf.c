/*
 * JSON written straight into one growing buffer rather than built as a jansson tree and
 * dumped: a worker writes one result per validation, and the tree cost more than the whole
 * http-01 check (bench/results: acmeva_result_to_json was 37% of all instructions); the
 * coordinator writes one per MPIC job. Strings are escaped as RFC 8259 §7 requires and invalid
 * UTF-8 becomes U+FFFD, so the output is always valid JSON; test_proto parses every document
 * back with jansson.
 */
#include <stdlib.h>
#include <string.h>

#include "acmeva/proto.h"
#include "proto_int.h"

/* A failed buffer keeps cap == len, so that acmeva_jbuf_put's fast path never writes to it
 * again. */
static void jbuf_fail(acmeva_jbuf *b)
{
    b->failed = 1;
    b->cap = b->len;
}

void acmeva_jbuf_put_slow(acmeva_jbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (n > ACMEVA_RESULT_MAX_BYTES || b->len + n + 1 > ACMEVA_RESULT_MAX_BYTES) {
        jbuf_fail(b);
        return;
    }
    /* Most results fit in 1 KiB, which is also the largest size glibc serves from its
     * per-thread cache: one cheap allocation. */
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1)
        cap *= 2;
    if (cap > ACMEVA_RESULT_MAX_BYTES)
        cap = ACMEVA_RESULT_MAX_BYTES;
    char *np = realloc(b->p, cap);
    if (np == NULL) {
        jbuf_fail(b);
        return;
    }
    b->p = np;
    b->cap = cap;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void acmeva_jbuf_puts(acmeva_jbuf *b, const char *s)
{
    acmeva_jbuf_put(b, s, strlen(s));
}

void acmeva_jbuf_put_str(acmeva_jbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *in = (const unsigned char *)(s ? s : "");
    size_t len = strlen((const char *)in), run = 0;
    acmeva_jbuf_put(b, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned char c = in[i];
        if (acmeva_json_plain[c]) {
            run++;
            i++;
            continue;
        }
        acmeva_jbuf_put(b, (const char *)in + i - run, run);
        run = 0;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            acmeva_jbuf_put(b, e, 2);
            i++;
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            if (c == '\n')
                acmeva_jbuf_put(b, "\\n", 2);
            else if (c == '\r')
                acmeva_jbuf_put(b, "\\r", 2);
            else if (c == '\t')
                acmeva_jbuf_put(b, "\\t", 2);
            else
                acmeva_jbuf_put(b, e, 6);
            i++;
        } else {
            uint32_t cp;
            size_t n = acmeva_utf8_decode(in + i, len - i, &cp);
            if (cp == ACMEVA_UTF8_INVALID)
                acmeva_jbuf_put(b, "\xef\xbf\xbd", 3); /* U+FFFD for each maximal subpart */
            else
                acmeva_jbuf_put(b, (const char *)in + i, n);
            i += n;
        }
    }
    acmeva_jbuf_put(b, (const char *)in + len - run, run);
    acmeva_jbuf_put(b, "\"", 1);
}

void acmeva_jbuf_key(acmeva_jbuf *b, int *first, const char *name)
{
    char k[40];
    size_t n = strlen(name), o = 0;
    if (n > sizeof(k) - 4) {
        jbuf_fail(b); /* a programming error: no key of the schema is that long */
        return;
    }
    if (!*first)
        k[o++] = ',';
    *first = 0;
    k[o++] = '"';
    memcpy(k + o, name, n);
    o += n;
    k[o++] = '"';
    k[o++] = ':';
    acmeva_jbuf_put(b, k, o);
}

/* Without snprintf, which was a fifth of the result writer's time. */
void acmeva_jbuf_put_int(acmeva_jbuf *b, long long v)
{
    char num[24];
    size_t i = sizeof(num);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        num[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        num[--i] = '-';
    acmeva_jbuf_put(b, num + i, sizeof(num) - i);
}

/* To 0.1 ms: finer digits are noise. */
void acmeva_jbuf_put_ms(acmeva_jbuf *b, double ms)
{
    if (!(ms >= 0)) /* NaN and negatives */
        ms = 0;
    if (ms > 1e12)
        ms = 1e12;
    long long tenths = (long long)(ms * 10 + 0.5);
    char frac[2] = {'.', (char)('0' + tenths % 10)};
    acmeva_jbuf_put_int(b, tenths / 10);
    acmeva_jbuf_put(b, frac, 2);
}

char *acmeva_jbuf_finish(acmeva_jbuf *b)
{
    char *p = b->p;
    if (b->failed || p == NULL) {
        free(p);
        p = NULL;
    } else {
        p[b->len] = '\0';
    }
    *b = (acmeva_jbuf){0};
    return p;
}

void acmeva_jbuf_clear(acmeva_jbuf *b)
{
    free(b->p);
    *b = (acmeva_jbuf){0};
}
