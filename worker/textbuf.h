/* A bounded text builder for reasons and problem details: always NUL-terminated, silently cut
 * at its capacity, never overflowing. */
#ifndef ACMEVA_TEXTBUF_H
#define ACMEVA_TEXTBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct acmeva_text {
    char *buf;
    size_t cap;
    size_t len;
} acmeva_text;

/* acmeva_text_init makes |t| write into |buf| (|cap| bytes, may be 0) and empties it. */
void acmeva_text_init(acmeva_text *t, char *buf, size_t cap);

/* acmeva_text_printf appends printf-formatted text, cut at the capacity. */
void acmeva_text_printf(acmeva_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* acmeva_text_quote appends |s| (|n| bytes) in double quotes, bytes outside printable ASCII
 * and '"', '\' as \xNN (OpenBSD stravis-style), cut after |max| input bytes with "...". */
void acmeva_text_quote(acmeva_text *t, const uint8_t *s, size_t n, size_t max);

#endif
