/* A bounded text builder (see textbuf.h). */
#include "textbuf.h"

#include <stdarg.h>
#include <stdio.h>

void acmeva_text_init(acmeva_text *t, char *buf, size_t cap)
{
    t->buf = cap > 0 ? buf : NULL;
    t->cap = t->buf != NULL ? cap : 0;
    t->len = 0;
    if (t->cap > 0)
        t->buf[0] = '\0';
}

void acmeva_text_printf(acmeva_text *t, const char *fmt, ...)
{
    if (t->cap == 0 || t->len + 1 >= t->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    t->len += (size_t)n;
    if (t->len >= t->cap)
        t->len = t->cap - 1;
}

void acmeva_text_quote(acmeva_text *t, const uint8_t *s, size_t n, size_t max)
{
    acmeva_text_printf(t, "\"");
    size_t shown = n < max ? n : max;
    for (size_t i = 0; i < shown; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\')
            acmeva_text_printf(t, "%c", c);
        else
            acmeva_text_printf(t, "\\x%02x", c);
    }
    acmeva_text_printf(t, "%s\"", shown < n ? "..." : "");
}
