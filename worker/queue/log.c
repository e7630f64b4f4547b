/*
 * Log lines on stderr, text or JSON, one write(2) each. Values may hold bytes from the queue
 * or from Redis: control bytes are escaped and invalid UTF-8 is replaced (STYLE.md
 * "Untrusted bytes").
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"

#define LINE_MAX_BYTES 8192

static atomic_int log_format = ACMEVA_LOG_TEXT;

void acmeva_log_set_format(acmeva_log_format f)
{
    atomic_store(&log_format, (int)f);
}

typedef struct linebuf {
    char b[LINE_MAX_BYTES];
    size_t n;
    int full;
} linebuf;

static void put(linebuf *l, const char *s, size_t len)
{
    /* Keep room for the closing ",\"cut\":true}\n". */
    if (l->full || l->n + len > sizeof(l->b) - 32) {
        l->full = 1;
        return;
    }
    memcpy(l->b + l->n, s, len);
    l->n += len;
}

static void puts_(linebuf *l, const char *s)
{
    put(l, s, strlen(s));
}

/* put_escaped writes |s| escaped for a JSON string (json) or a double-quoted text value. */
static void put_escaped(linebuf *l, const char *s, int json)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    char tmp[8];
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            put(l, tmp, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            if (c == '\n')
                puts_(l, "\\n");
            else if (c == '\t')
                puts_(l, "\\t");
            else if (c == '\r')
                puts_(l, "\\r");
            else {
                snprintf(tmp, sizeof(tmp), json ? "\\u%04x" : "\\x%02x", c);
                puts_(l, tmp);
            }
            i++;
        } else if (c < 0x80) {
            put(l, (const char *)p + i, 1);
            i++;
        } else {
            /* One U+FFFD per maximal ill-formed subpart, as the codec does everywhere. */
            uint32_t cp;
            size_t k = acmeva_utf8_decode(p + i, n - i, &cp);
            if (cp == ACMEVA_UTF8_INVALID)
                puts_(l, "\\ufffd");
            else
                put(l, (const char *)p + i, k);
            i += k ? k : 1;
        }
    }
}

/* needs_quotes says whether a text value must be quoted to stay one token. */
static int needs_quotes(const char *s)
{
    if (*s == '\0')
        return 1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p >= 0x7f)
            return 1;
    return 0;
}

void acmeva_log_time(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void put_time(linebuf *l)
{
    char buf[40];
    acmeva_log_time(buf, sizeof(buf));
    puts_(l, buf);
}

void acmeva_log(const char *level, const char *msg, const acmeva_log_field *fields, size_t n)
{
    linebuf l;
    l.n = 0;
    l.full = 0;
    int json = atomic_load(&log_format) == ACMEVA_LOG_JSON;
    char num[64];
    if (json) {
        puts_(&l, "{\"time\":\"");
        put_time(&l);
        puts_(&l, "\",\"level\":\"");
        put_escaped(&l, level, 1);
        puts_(&l, "\",\"msg\":\"");
        put_escaped(&l, msg, 1);
        puts_(&l, "\"");
    } else {
        put_time(&l);
        puts_(&l, " ");
        puts_(&l, level);
        puts_(&l, " ");
        put_escaped(&l, msg, 0);
    }
    for (size_t i = 0; i < n && !l.full; i++) {
        const acmeva_log_field *f = &fields[i];
        size_t mark = l.n;
        if (f->key == NULL)
            continue; /* a field left out on purpose */
        if (json) {
            puts_(&l, ",\"");
            put_escaped(&l, f->key, 1);
            puts_(&l, "\":");
        } else {
            puts_(&l, " ");
            put_escaped(&l, f->key, 0);
            puts_(&l, "=");
        }
        switch (f->kind) {
        case ACMEVA_LF_STR:
            if (f->s == NULL) {
                puts_(&l, json ? "null" : "-");
            } else if (json || needs_quotes(f->s)) {
                puts_(&l, "\"");
                put_escaped(&l, f->s, json);
                puts_(&l, "\"");
            } else {
                put_escaped(&l, f->s, 0);
            }
            break;
        case ACMEVA_LF_INT:
            snprintf(num, sizeof(num), "%lld", (long long)f->i);
            puts_(&l, num);
            break;
        case ACMEVA_LF_DBL:
            snprintf(num, sizeof(num), "%.1f", f->d);
            puts_(&l, num);
            break;
        }
        if (l.full)
            l.n = mark; /* drop the field that did not fit, whole */
    }
    if (l.full) {
        /* A cut line stays well-formed: the closing part always fits (put keeps room). */
        l.full = 0;
        puts_(&l, json ? ",\"cut\":true" : " cut=true");
    }
    puts_(&l, json ? "}\n" : "\n");
    const char *p = l.b;
    size_t left = l.n;
    while (left > 0) {
        ssize_t w = write(STDERR_FILENO, p, left);
        if (w <= 0)
            break;
        p += w;
        left -= (size_t)w;
    }
}
