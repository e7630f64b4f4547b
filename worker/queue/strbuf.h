/*
 * A growable text buffer for what the daemons write in one piece (a scrape, an audit line):
 * appends never fail one by one; the buffer remembers that memory ran out, and
 * acmeva_strbuf_take says so at the end.
 */
#ifndef ACMEVA_STRBUF_H
#define ACMEVA_STRBUF_H

#include <stddef.h>

typedef struct acmeva_strbuf {
    char *p;
    size_t len, cap;
    size_t first_cap; /* the first allocation (0: 1 KiB) */
    int failed;
} acmeva_strbuf;

/* acmeva_strbuf_put appends |n| bytes of |s|, keeping room for a final NUL. */
void acmeva_strbuf_put(acmeva_strbuf *b, const char *s, size_t n);

/* acmeva_strbuf_puts appends the string |s|. */
void acmeva_strbuf_puts(acmeva_strbuf *b, const char *s);

/* acmeva_strbuf_take returns the NUL-terminated text (owned by the caller) and its length in
 * |*len|, or NULL when memory ran out (the buffer is freed either way). */
char *acmeva_strbuf_take(acmeva_strbuf *b, size_t *len);

#endif
