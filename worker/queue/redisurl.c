/*
 * Pure helpers of the Redis layer and its CLIs: redis:// and rediss:// URLs, reconnect
 * backoff, option values, NDJSON lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "queue.h"

#define URL_MAX 2048
#define HOST_MAX 253
#define DB_MAX 1000000

static int url_fail(char *err, size_t errlen, const char *what)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "bad --redis URL: %s (want redis[s]://[user:pass@]host:port[/db])",
                 what);
    return -1;
}

/* percent_decode returns a NUL-terminated copy of |len| bytes of |s| with %XX decoded
 * (RFC 3986 §2.1), or NULL when an escape is broken or decodes to a NUL byte. */
static char *percent_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        if (len - i < 3) { /* fewer than two characters after '%' */
            free(out);
            return NULL;
        }
        int h = acmeva_hex_digit((unsigned char)s[i + 1]),
            l = acmeva_hex_digit((unsigned char)s[i + 2]);
        if (h < 0 || l < 0 || (h == 0 && l == 0)) {
            free(out);
            return NULL;
        }
        out[o++] = (char)(h * 16 + l);
        i += 2;
    }
    out[o] = '\0';
    return out;
}

static int is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static int is_ip6_char(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
           c == '.';
}

void acmeva_redis_url_clear(acmeva_redis_url *u)
{
    if (u == NULL)
        return;
    free(u->host);
    free(u->user);
    if (u->password != NULL) {
        /* Do not leave the secret in freed memory. */
        memset(u->password, 0, strlen(u->password));
        free(u->password);
    }
    memset(u, 0, sizeof(*u));
}

int acmeva_redis_url_parse(const char *url, acmeva_redis_url *out, char *err, size_t errlen)
{
    static const char plain[] = "redis://", tls[] = "rediss://";
    memset(out, 0, sizeof(*out));
    out->port = 6379; /* rediss:// too: one port, either TLS or not, as Redis itself sets it */
    if (url == NULL)
        return url_fail(err, errlen, "empty");
    size_t len = strnlen(url, URL_MAX + 1);
    if (len > URL_MAX)
        return url_fail(err, errlen, "too long");
    const char *p;
    if (len >= sizeof(plain) - 1 && strncasecmp(url, plain, sizeof(plain) - 1) == 0) {
        p = url + sizeof(plain) - 1;
    } else if (len >= sizeof(tls) - 1 && strncasecmp(url, tls, sizeof(tls) - 1) == 0) {
        p = url + sizeof(tls) - 1;
        out->tls = 1;
    } else {
        return url_fail(err, errlen, "the scheme must be redis:// or rediss://");
    }
    const char *end = url + len;
    if (memchr(p, '?', (size_t)(end - p)) != NULL || memchr(p, '#', (size_t)(end - p)) != NULL)
        return url_fail(err, errlen, "no query or fragment allowed");

    /* authority = [userinfo "@"] host [":" port], up to the first '/' (RFC 3986 §3.2). */
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *auth_end = slash ? slash : end;
    const char *at = NULL;
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@')
            at = q; /* the last '@': a password may contain one, percent-encoded or not */
    const char *hp = p;
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon == NULL) {
            acmeva_redis_url_clear(out);
            return url_fail(err, errlen, "the user info must be user:password or :password");
        }
        if (colon > p) {
            out->user = percent_decode(p, (size_t)(colon - p));
            if (out->user == NULL) {
                acmeva_redis_url_clear(out);
                return url_fail(err, errlen, "bad percent-encoding in the user name");
            }
        }
        out->password = percent_decode(colon + 1, (size_t)(at - colon - 1));
        if (out->password == NULL) {
            acmeva_redis_url_clear(out);
            return url_fail(err, errlen, "bad percent-encoding in the password");
        }
        if (out->password[0] == '\0') {
            acmeva_redis_url_clear(out);
            return url_fail(err, errlen, "empty password");
        }
        hp = at + 1;
    }

    const char *host = hp, *host_end, *port_s = NULL;
    if (hp < auth_end && *hp == '[') {
        const char *rb = memchr(hp, ']', (size_t)(auth_end - hp));
        if (rb == NULL) {
            acmeva_redis_url_clear(out);
            return url_fail(err, errlen, "unterminated [IPv6] host");
        }
        host = hp + 1;
        host_end = rb;
        for (const char *q = host; q < host_end; q++)
            if (!is_ip6_char(*q)) {
                acmeva_redis_url_clear(out);
                return url_fail(err, errlen, "bad IPv6 host");
            }
        if (rb + 1 < auth_end) {
            if (rb[1] != ':') {
                acmeva_redis_url_clear(out);
                return url_fail(err, errlen, "junk after ]");
            }
            port_s = rb + 2;
        }
    } else {
        const char *colon = memchr(hp, ':', (size_t)(auth_end - hp));
        host_end = colon ? colon : auth_end;
        if (colon != NULL)
            port_s = colon + 1;
        for (const char *q = host; q < host_end; q++)
            if (!is_host_char(*q)) {
                acmeva_redis_url_clear(out);
                return url_fail(err, errlen, "bad host name");
            }
    }
    if (host_end == host || host_end - host > HOST_MAX) {
        acmeva_redis_url_clear(out);
        return url_fail(err, errlen, "missing or overlong host");
    }
    out->host = acmeva_strdup_n(host, (size_t)(host_end - host));
    if (out->host == NULL) {
        acmeva_redis_url_clear(out);
        return url_fail(err, errlen, "no memory");
    }
    if (port_s != NULL) {
        char buf[8];
        size_t n = (size_t)(auth_end - port_s);
        int64_t port;
        if (n == 0 || n >= sizeof(buf)) {
            acmeva_redis_url_clear(out);
            return url_fail(err, errlen, "bad port");
        }
        memcpy(buf, port_s, n);
        buf[n] = '\0';
        if (acmeva_parse_int(buf, 1, 65535, &port) < 0) {
            acmeva_redis_url_clear(out);
            return url_fail(err, errlen, "bad port");
        }
        out->port = (uint16_t)port;
    }
    if (slash != NULL && slash + 1 < end) {
        char buf[16];
        size_t n = (size_t)(end - slash - 1);
        int64_t db;
        if (n >= sizeof(buf)) {
            acmeva_redis_url_clear(out);
            return url_fail(err, errlen, "bad database number");
        }
        memcpy(buf, slash + 1, n);
        buf[n] = '\0';
        if (acmeva_parse_int(buf, 0, DB_MAX, &db) < 0) {
            acmeva_redis_url_clear(out);
            return url_fail(err, errlen, "bad database number");
        }
        out->db = (int)db;
    }
    return 0;
}

int acmeva_redis_url_masked(const acmeva_redis_url *u, char *buf, size_t len)
{
    const char *host = u->host ? u->host : "";
    int v6 = strchr(host, ':') != NULL;
    const char *user = u->user ? u->user : "";
    const char *scheme = u->tls ? "rediss" : "redis";
    int n;
    /* The user name is not a secret; the log writer escapes whatever bytes it carries. */
    if (u->password != NULL)
        n = snprintf(buf, len, "%s://%s:***@%s%s%s:%u/%d", scheme, user, v6 ? "[" : "", host,
                     v6 ? "]" : "", (unsigned)u->port, u->db);
    else
        n = snprintf(buf, len, "%s://%s%s%s:%u/%d", scheme, v6 ? "[" : "", host, v6 ? "]" : "",
                     (unsigned)u->port, u->db);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int acmeva_redis_url_is_loopback(const acmeva_redis_url *u)
{
    unsigned char a[16];
    if (u == NULL || u->host == NULL)
        return 0;
    if (strcasecmp(u->host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, u->host, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, u->host, a) != 1)
        return 0;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char zero[15] = {0};
    return (memcmp(a, zero, 15) == 0 && a[15] == 1) || (memcmp(a, mapped, 12) == 0 && a[12] == 127);
}

int64_t acmeva_backoff_ms(unsigned failures, uint32_t rnd)
{
    int64_t d = 100;
    for (unsigned i = 0; i < failures && d < 5000; i++)
        d *= 2;
    if (d > 5000)
        d = 5000;
    return d / 2 + (int64_t)(rnd % (uint32_t)(d / 2 + 1));
}

int acmeva_perspective_ok(const char *s)
{
    if (s == NULL)
        return 0;
    size_t n = strnlen(s, ACMEVA_PERSPECTIVE_MAX + 1);
    if (n == 0 || n > ACMEVA_PERSPECTIVE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int acmeva_read_line(FILE *f, char *buf, size_t cap, size_t *len, int *too_long)
{
    size_t n = 0;
    int c, any = 0;
    *too_long = 0;
    while ((c = getc_unlocked(f)) != EOF) {
        any = 1;
        if (c == '\n')
            break;
        if (n + 1 < cap)
            buf[n++] = (char)c;
        else
            *too_long = 1;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *len = n;
    return any;
}

const char *acmeva_redis_url_default(void)
{
    const char *env = getenv(ACMEVA_REDIS_URL_ENV);
    return env != NULL && env[0] != '\0' ? env : ACMEVA_DEFAULT_REDIS_URL;
}
