/*
 * A growable text buffer (see strbuf.h).
 */
#include "strbuf.h"

#include <stdlib.h>
#include <string.h>

void acmeva_strbuf_put(acmeva_strbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : (b->first_cap ? b->first_cap : 1024);
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void acmeva_strbuf_puts(acmeva_strbuf *b, const char *s)
{
    acmeva_strbuf_put(b, s, strlen(s));
}

char *acmeva_strbuf_take(acmeva_strbuf *b, size_t *len)
{
    acmeva_strbuf_put(b, "", 0);
    if (b->failed || b->p == NULL) {
        free(b->p);
        b->p = NULL;
        return NULL;
    }
    b->p[b->len] = '\0';
    *len = b->len;
    char *p = b->p;
    b->p = NULL;
    return p;
}
