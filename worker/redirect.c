/*
 * The http-01 URL and redirect target policy (see redirect.h).
 *
 * Parsing follows the RFC 3986 grammar (§3 components, §4.1 URI-reference), resolution
 * §5.2 (§5.2.2 transform references, §5.2.3 merge paths, §5.2.4 remove dot segments), and
 * the policy Boulder's va/http.go newValidationRecordFromRedirect, whose detail texts are
 * used word for word.
 */
#include "redirect.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acmeva/proto.h"
#include "escape.h"

/* The components of a URI reference (RFC 3986 §4.1), pointing into the Location value. */
typedef struct uri_ref {
    int has_scheme;
    const char *scheme;
    size_t scheme_len;
    int has_authority;
    const char *host; /* reg-name or IPv4 text, or the inside of [] (zone included) */
    size_t host_len;
    int bracketed;    /* an IP-literal: host is IPv6 text */
    size_t addr_len;  /* bracketed: the length of the address part, before any zone */
    int has_zone;     /* bracketed: "%25<zone>" after the address (RFC 6874) */
    uint8_t ip6[16];  /* bracketed: the address */
    const char *port; /* the digits after ':', NULL when none were written */
    size_t port_len;
    const char *path;
    size_t path_len;
    int has_query;
    const char *query;
    size_t query_len;
} uri_ref;

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* RFC 3986 §2.3 unreserved. */
static int is_unreserved(int c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 §2.2 sub-delims. */
static int is_subdelim(int c)
{
    return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static void set_detail(char *detail, size_t detail_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_detail(char *detail, size_t detail_len, const char *fmt, ...)
{
    if (detail == NULL || detail_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, detail_len, fmt, ap);
    va_end(ap);
}

/*
 * parse_authority splits authority = [ userinfo "@" ] host [ ":" port ] (RFC 3986 §3.2).
 * The userinfo is checked and dropped. Returns 0 or -1 when it does not parse.
 */
static int parse_authority(const char *a, size_t len, uri_ref *r)
{
    /* Go's parser takes the last '@' as the end of the userinfo, and lets '@' appear in it
     * (RFC 3986 §3.2.1 would not). */
    for (size_t i = len; i > 0; i--) {
        if (a[i - 1] != '@')
            continue;
        for (size_t j = 0; j < i - 1; j++) {
            int c = (unsigned char)a[j];
            if (!is_unreserved(c) && !is_subdelim(c) && c != ':' && c != '%' && c != '@')
                return -1;
        }
        a += i;
        len -= i;
        break;
    }

    size_t host_end;
    if (len > 0 && a[0] == '[') {
        /* IP-literal = "[" IPv6address / IPv6addrz "]" (RFC 3986 §3.2.2, RFC 6874 §2);
         * IPvFuture is not something to dial. */
        const char *close = memchr(a, ']', len);
        if (close == NULL)
            return -1;
        r->bracketed = 1;
        r->host = a + 1;
        r->host_len = (size_t)(close - a) - 1;
        size_t n = 0;
        while (n < r->host_len && r->host[n] != '%') {
            int c = (unsigned char)r->host[n];
            if (acmeva_hex_digit(c) < 0 && c != ':' && c != '.')
                return -1;
            n++;
        }
        r->addr_len = n;
        if (n < r->host_len) {
            /* ZoneID = 1*( unreserved / pct-encoded ), after "%25". */
            if (r->host_len - n < 4 || memcmp(r->host + n, "%25", 3) != 0)
                return -1;
            for (size_t j = n + 3; j < r->host_len; j++) {
                int c = (unsigned char)r->host[j];
                if (!is_unreserved(c) && c != '%')
                    return -1;
            }
            r->has_zone = 1;
        }
        char text[INET6_ADDRSTRLEN];
        if (n == 0 || n >= sizeof(text))
            return -1;
        memcpy(text, r->host, n);
        text[n] = '\0';
        if (inet_pton(AF_INET6, text, r->ip6) != 1)
            return -1;
        host_end = (size_t)(close - a) + 1;
        if (host_end < len && a[host_end] != ':')
            return -1;
    } else {
        host_end = 0;
        while (host_end < len && a[host_end] != ':') {
            int c = (unsigned char)a[host_end];
            if (c == '%') {
                /* Go accepts a percent-escape in a host only for non-ASCII bytes (of an
                 * IDN), never to hide an ASCII character. */
                if (acmeva_hex_digit((unsigned char)a[host_end + 1]) < 8)
                    return -1;
            } else if (c < 0x80 && !is_unreserved(c) && !is_subdelim(c)) {
                return -1;
            }
            host_end++;
        }
        r->host = a;
        r->host_len = host_end;
    }
    if (host_end < len) {
        /* port = *DIGIT; an empty port is the same as none (RFC 3986 §6.2.3). */
        const char *p = a + host_end + 1;
        size_t plen = len - host_end - 1;
        for (size_t j = 0; j < plen; j++) {
            if (!is_digit((unsigned char)p[j]))
                return -1;
        }
        if (plen > 0) {
            r->port = p;
            r->port_len = plen;
        }
    }
    return 0;
}

/*
 * parse_ref splits a URI reference (RFC 3986 §4.1) into its components, the fragment
 * dropped. Returns 0, or -1 when it is not one (what Go's url.Parse refuses, plus spaces).
 */
static int parse_ref(const char *s, size_t n, uri_ref *r)
{
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return -1;
        /* pct-encoded = "%" HEXDIG HEXDIG (RFC 3986 §2.1), everywhere, fragment included. */
        if (c == '%' && (n - i < 3 || acmeva_hex_digit((unsigned char)s[i + 1]) < 0 ||
                         acmeva_hex_digit((unsigned char)s[i + 2]) < 0))
            return -1;
    }
    const char *hash = memchr(s, '#', n);
    if (hash != NULL)
        n = (size_t)(hash - s);

    size_t i = 0;
    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" (RFC 3986 §3.1) */
    if (n > 0 && is_alpha((unsigned char)s[0])) {
        size_t j = 1;
        while (j < n && (is_alpha((unsigned char)s[j]) || is_digit((unsigned char)s[j]) ||
                         s[j] == '+' || s[j] == '-' || s[j] == '.'))
            j++;
        if (j < n && s[j] == ':') {
            r->has_scheme = 1;
            r->scheme = s;
            r->scheme_len = j;
            i = j + 1;
        }
    }
    if (n - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
        size_t a = i + 2, e = a;
        while (e < n && s[e] != '/' && s[e] != '?')
            e++;
        r->has_authority = 1;
        if (parse_authority(s + a, e - a, r) != 0)
            return -1;
        i = e;
    }
    size_t p = i;
    while (i < n && s[i] != '?')
        i++;
    r->path = s + p;
    r->path_len = i - p;
    if (i < n) {
        r->has_query = 1;
        r->query = s + i + 1;
        r->query_len = n - i - 1;
    }
    /* RFC 3986 §4.2: the first segment of a relative-path reference holds no ':' (it would
     * read as a scheme). */
    if (!r->has_scheme && !r->has_authority && r->path_len > 0 && r->path[0] != '/') {
        const char *slash = memchr(r->path, '/', r->path_len);
        size_t seg = slash ? (size_t)(slash - r->path) : r->path_len;
        if (memchr(r->path, ':', seg) != NULL)
            return -1;
    }
    return 0;
}

/*
 * normalize_component copies a path (or query, when |query|) into |dst| (3 * len bytes),
 * percent-encoding what RFC 3986 §3.3 / §3.4 do not allow there, as Go's client does before
 * sending. Existing escapes (already checked) are kept. Returns the length written.
 */
static size_t normalize_component(const char *src, size_t len, int query, char *dst)
{
    static const char hexdigits[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)src[i];
        if (is_unreserved(c) || is_subdelim(c) || c == ':' || c == '@' || c == '/' || c == '%' ||
            (query && c == '?')) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '%';
            dst[o++] = hexdigits[c >> 4];
            dst[o++] = hexdigits[c & 0xf];
        }
    }
    return o;
}

/* pop_segment removes the last segment and its preceding "/" from out[0..*o). */
static void pop_segment(const char *out, size_t *o)
{
    while (*o > 0 && out[*o - 1] != '/')
        (*o)--;
    if (*o > 0)
        (*o)--;
}

/*
 * remove_dot_segments is RFC 3986 §5.2.4, step by step. |in| (|len| bytes) is a scratch
 * copy that it may change; |out| has room for |len| bytes. Returns the output length.
 */
static size_t remove_dot_segments(char *in, size_t len, char *out)
{
    size_t i = 0, o = 0;
    while (i < len) {
        const char *p = in + i;
        size_t rem = len - i;
        if (rem >= 3 && memcmp(p, "../", 3) == 0) { /* A */
            i += 3;
        } else if (rem >= 2 && memcmp(p, "./", 2) == 0) {
            i += 2;
        } else if (rem >= 3 && memcmp(p, "/./", 3) == 0) { /* B */
            i += 2;
        } else if (rem == 2 && memcmp(p, "/.", 2) == 0) {
            i += 1;
            in[i] = '/';
        } else if (rem >= 4 && memcmp(p, "/../", 4) == 0) { /* C */
            i += 3;
            pop_segment(out, &o);
        } else if (rem == 3 && memcmp(p, "/..", 3) == 0) {
            i += 2;
            in[i] = '/';
            pop_segment(out, &o);
        } else if ((rem == 1 && p[0] == '.') || (rem == 2 && memcmp(p, "..", 2) == 0)) { /* D */
            i = len;
        } else { /* E: move the first segment, with its leading "/", to the output */
            size_t j = i;
            if (in[j] == '/')
                j++;
            while (j < len && in[j] != '/')
                j++;
            memcpy(out + o, in + i, j - i);
            o += j - i;
            i = j;
        }
    }
    return o;
}

/* decoded_length is the length of an escaped path once its percent-escapes are decoded (Go's
 * URL.Path, which Boulder measures). */
static size_t decoded_length(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++, n++) {
        if (s[i] == '%' && len - i >= 3)
            i += 2;
    }
    return n;
}

/*
 * store_host copies |h| (|len| bytes, lowercased already) into out->host, percent-encoding
 * bytes that are not printable ASCII, cut at 255 bytes between whole characters. Only a
 * refused target can hold such bytes or be that long.
 */
static void store_host(acmeva_url *out, const char *h, size_t len)
{
    static const char hexdigits[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)h[i];
        if (c > 0x20 && c < 0x7f) {
            if (o + 1 >= sizeof(out->host))
                break;
            out->host[o++] = (char)c;
        } else {
            if (o + 3 >= sizeof(out->host))
                break;
            out->host[o++] = '%';
            out->host[o++] = hexdigits[c >> 4];
            out->host[o++] = hexdigits[c & 0xf];
        }
    }
    out->host[o] = '\0';
}

/* valid_dns_name checks the syntax of a lowercased host name: labels of 1-63 bytes of
 * [a-z0-9_-], 253 bytes at most (RFC 1035 §2.3.4, RFC 1123 §2.1; '_' as DNS allows it). */
static int valid_dns_name(const char *h, size_t len)
{
    if (len == 0 || len > 253)
        return 0;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)h[i];
        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '_'))
            return 0;
        if (++label > 63)
            return 0;
    }
    return label > 0;
}

/* ends_in_public_tld: the name has at least two labels and its last is an IANA TLD (Boulder
 * iana.ExtractSuffix, which also refuses a name that is a public suffix alone). */
static int ends_in_public_tld(const char *h, size_t len)
{
    const char *dot = NULL;
    for (size_t i = len; i > 0; i--) {
        if (h[i - 1] == '.') {
            dot = h + i - 1;
            break;
        }
    }
    if (dot == NULL || dot == h)
        return 0;
    size_t tld_len = len - (size_t)(dot - h) - 1;
    return acmeva_tld_is_public(dot + 1, tld_len);
}

static uint16_t default_port(int https)
{
    return https ? 443 : 80;
}

void acmeva_url_clear(acmeva_url *u)
{
    if (u == NULL)
        return;
    free(u->path);
    memset(u, 0, sizeof(*u));
}

int acmeva_url_build(acmeva_url *out, int https, const char *host, uint16_t port, const char *path)
{
    if (out == NULL)
        return ACMEVA_REDIRECT_EINVAL;
    memset(out, 0, sizeof(*out));
    if (host == NULL || path == NULL || path[0] != '/')
        return ACMEVA_REDIRECT_EINVAL;
    for (const char *p = path; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#')
            return ACMEVA_REDIRECT_EINVAL;
    }
    size_t hlen = strlen(host);
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(out->host))
        return ACMEVA_REDIRECT_EINVAL;
    char text[sizeof(out->host)];
    memcpy(text, host, hlen);
    text[hlen] = '\0';
    if (inet_pton(AF_INET, text, out->ip) == 1) {
        out->host_is_ip = 4;
    } else if (inet_pton(AF_INET6, text, out->ip) == 1) {
        out->host_is_ip = 6;
        if (inet_ntop(AF_INET6, out->ip, text, sizeof(text)) == NULL)
            return ACMEVA_REDIRECT_EINVAL;
        hlen = strlen(text);
    } else {
        for (size_t i = 0; i < hlen; i++) {
            int c = (unsigned char)text[i];
            if (c <= 0x20 || c >= 0x7f || strchr("/?#@[]:%", c) != NULL)
                return ACMEVA_REDIRECT_EINVAL;
            text[i] = (char)lower(c);
        }
    }
    memcpy(out->host, text, hlen + 1);
    out->https = https ? 1 : 0;
    out->port = port;
    out->port_explicit = port != default_port(out->https);
    out->path = strdup(path);
    if (out->path == NULL) {
        memset(out, 0, sizeof(*out));
        return ACMEVA_REDIRECT_ENOMEM;
    }
    return 0;
}

int acmeva_url_format(const acmeva_url *u, char *out, size_t outlen)
{
    if (out == NULL || outlen == 0)
        return -1;
    out[0] = '\0';
    if (u == NULL || u->path == NULL)
        return -1;
    char port[8] = "";
    if (u->port != default_port(u->https))
        snprintf(port, sizeof(port), ":%u", (unsigned)u->port);
    int v6 = u->host_is_ip == 6;
    int n = snprintf(out, outlen, "%s://%s%s%s%s%s", u->https ? "https" : "http", v6 ? "[" : "",
                     u->host, v6 ? "]" : "", port, u->path);
    if (n < 0 || (size_t)n >= outlen) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

int acmeva_redirect_resolve(const acmeva_url *base, const char *location, size_t location_len,
                            const acmeva_redirect_policy *pol, acmeva_url *out, char *detail,
                            size_t detail_len)
{
    if (detail != NULL && detail_len > 0)
        detail[0] = '\0';
    if (out == NULL || out == base)
        return ACMEVA_REDIRECT_EINVAL;
    memset(out, 0, sizeof(*out));
    if (base == NULL || base->path == NULL || base->path[0] != '/' || pol == NULL ||
        (location == NULL && location_len > 0))
        return ACMEVA_REDIRECT_EINVAL;

    int rc = ACMEVA_REDIRECT_ENOMEM;
    char *rpath = NULL, *rquery = NULL, *merged = NULL, *tpath = NULL, *hbuf = NULL;
    char *esc = NULL;

    /* Optional whitespace around a field value is not part of it (RFC 9110 §5.5). */
    while (location_len > 0 && (location[0] == ' ' || location[0] == '\t')) {
        location++;
        location_len--;
    }
    while (location_len > 0 &&
           (location[location_len - 1] == ' ' || location[location_len - 1] == '\t'))
        location_len--;

    if (location_len > ACMEVA_REDIRECT_MAX_LOCATION) {
        set_detail(detail, detail_len, "Redirect target too long");
        return ACMEVA_REDIRECT_EREFUSED;
    }
    uri_ref r;
    if (location_len == 0 || parse_ref(location, location_len, &r) != 0) {
        set_detail(detail, detail_len, "Invalid Location header in redirect");
        return ACMEVA_REDIRECT_EBADLOCATION;
    }

    /* Boulder: "The redirect target must use the HTTP or HTTPS protocol scheme, regardless
     * of the port." Go lowercases the scheme. */
    int https = base->https;
    if (r.has_scheme) {
        if (r.scheme_len == 4 && strncasecmp(r.scheme, "http", 4) == 0) {
            https = 0;
        } else if (r.scheme_len == 5 && strncasecmp(r.scheme, "https", 5) == 0) {
            https = 1;
        } else {
            char scheme[64];
            size_t n = r.scheme_len < sizeof(scheme) - 1 ? r.scheme_len : sizeof(scheme) - 1;
            for (size_t i = 0; i < n; i++)
                scheme[i] = (char)lower((unsigned char)r.scheme[i]);
            scheme[n] = '\0';
            set_detail(detail, detail_len,
                       "Invalid protocol scheme in redirect target. Only \"http\" and "
                       "\"https\" protocol schemes are supported, not \"%s%s\"",
                       scheme, r.scheme_len > n ? "..." : "");
            return ACMEVA_REDIRECT_EREFUSED;
        }
    }

    /* ---- the path and query of the target (RFC 3986 §5.2.2) ---- */
    const char *bpath = base->path;
    const char *bq = strchr(bpath, '?');
    size_t bpath_len = bq ? (size_t)(bq - bpath) : strlen(bpath);
    rpath = malloc(r.path_len * 3 + 1);
    rquery = malloc(r.query_len * 3 + 1);
    if (rpath == NULL || rquery == NULL)
        goto out;
    size_t rpath_len = normalize_component(r.path, r.path_len, 0, rpath);
    size_t rquery_len = normalize_component(r.query, r.query_len, 1, rquery);
    int has_query = r.has_query;

    /* The longest input to remove_dot_segments is a merge; leave room for a leading '/'. */
    size_t cap = bpath_len + rpath_len + 2;
    merged = malloc(cap);
    tpath = malloc(cap);
    if (merged == NULL || tpath == NULL)
        goto out;
    size_t tpath_len;
    if (r.has_scheme || r.has_authority || (rpath_len > 0 && rpath[0] == '/')) {
        memcpy(merged, rpath, rpath_len);
        tpath_len = remove_dot_segments(merged, rpath_len, tpath);
    } else if (rpath_len == 0) {
        memcpy(tpath, bpath, bpath_len);
        tpath_len = bpath_len;
        if (!has_query && bq != NULL) {
            free(rquery);
            rquery = strdup(bq + 1);
            if (rquery == NULL)
                goto out;
            rquery_len = strlen(rquery);
            has_query = 1;
        }
    } else {
        /* §5.2.3: the base path up to its last '/', then the reference. */
        size_t keep = bpath_len;
        while (keep > 0 && bpath[keep - 1] != '/')
            keep--;
        memcpy(merged, bpath, keep);
        memcpy(merged + keep, rpath, rpath_len);
        tpath_len = remove_dot_segments(merged, keep + rpath_len, tpath);
    }
    /* An http(s) URL with an authority has an absolute path; empty means "/" (RFC 9110
     * §4.2.3). */
    if (tpath_len == 0 || tpath[0] != '/') {
        memmove(tpath + 1, tpath, tpath_len);
        tpath[0] = '/';
        tpath_len++;
    }
    size_t total = tpath_len + (has_query ? 1 + rquery_len : 0);
    out->path = malloc(total + 1);
    if (out->path == NULL)
        goto out;
    memcpy(out->path, tpath, tpath_len);
    if (has_query) {
        out->path[tpath_len] = '?';
        memcpy(out->path + tpath_len + 1, rquery, rquery_len);
    }
    out->path[total] = '\0';
    out->https = https;

    /* ---- the authority: the reference's own, or the base's for a relative reference ---- */
    if (!r.has_scheme && !r.has_authority) {
        /* Same host and port as |base|, which passed this policy already (or is the
         * identifier itself). */
        memcpy(out->host, base->host, sizeof(out->host));
        out->host[sizeof(out->host) - 1] = '\0';
        out->host_is_ip = base->host_is_ip;
        memcpy(out->ip, base->ip, sizeof(out->ip));
        out->port = base->port;
        out->port_explicit = base->port_explicit;
    } else {
        /* The host, lowercased (Boulder lowercases it before any check), escapes of
         * non-ASCII bytes decoded. */
        hbuf = malloc(r.host_len + 1);
        if (hbuf == NULL)
            goto out;
        size_t hlen = 0;
        for (size_t i = 0; i < r.host_len; i++) {
            int c = (unsigned char)r.host[i];
            if (!r.bracketed && c == '%') {
                c = acmeva_hex_digit((unsigned char)r.host[i + 1]) * 16 +
                    acmeva_hex_digit((unsigned char)r.host[i + 2]);
                i += 2;
            }
            hbuf[hlen++] = (char)lower(c);
        }
        hbuf[hlen] = '\0';
        store_host(out, hbuf, hlen);
        if (r.bracketed) {
            out->host_is_ip = 6;
            memcpy(out->ip, r.ip6, sizeof(out->ip));
        }

        out->port = https ? pol->https_port : pol->http_port;
        if (r.port != NULL) {
            size_t skip = 0;
            while (skip + 1 < r.port_len && r.port[skip] == '0')
                skip++;
            unsigned long v = 0;
            for (size_t i = skip; i < r.port_len && v <= 65535; i++)
                v = v * 10 + (unsigned long)(r.port[i] - '0');
            out->port_explicit = 1;
            out->port = v <= 65535 ? (uint16_t)v : 0;
            /* Boulder: an explicit port must be the VA's HTTP or HTTPS port. */
            if (v > 65535 || (v != pol->http_port && v != pol->https_port)) {
                set_detail(detail, detail_len,
                           "Invalid port in redirect target. Only ports %u and %u are "
                           "supported, not %.*s",
                           (unsigned)pol->http_port, (unsigned)pol->https_port,
                           (int)(r.port_len - skip > 20 ? 20 : r.port_len - skip), r.port + skip);
                rc = ACMEVA_REDIRECT_EREFUSED;
                goto out;
            }
        }
        if (hlen == 0) {
            set_detail(detail, detail_len, "Invalid empty host in redirect target");
            rc = ACMEVA_REDIRECT_EREFUSED;
            goto out;
        }

        if (r.bracketed) {
            /* Boulder: "Reject IPv6 addresses with a scope zone (RFCs 4007 & 6874)". */
            if (r.has_zone) {
                set_detail(detail, detail_len,
                           "Invalid host in redirect target: contains scope zone");
                rc = ACMEVA_REDIRECT_EREFUSED;
                goto out;
            }
            /* The canonical text, so that equal addresses compare equal. */
            if (inet_ntop(AF_INET6, out->ip, out->host, sizeof(out->host)) == NULL) {
                rc = ACMEVA_REDIRECT_EINVAL;
                goto out;
            }
        } else {
            /* Boulder: a common webserver misconfiguration ("Redirect / https://host"
             * without the trailing '/') gives "https://host.well-known/acme-challenge/x". */
            static const char wk[] = ".well-known";
            if (hlen >= sizeof(wk) - 1 &&
                memcmp(hbuf + hlen - (sizeof(wk) - 1), wk, sizeof(wk) - 1) == 0) {
                esc = acmeva_escape_dup((const uint8_t *)hbuf, hlen, 0);
                if (esc == NULL)
                    goto out;
                set_detail(detail, detail_len,
                           "Invalid host in redirect target \"%s\". Check webserver config "
                           "for missing '/' in redirect target.",
                           esc);
                rc = ACMEVA_REDIRECT_EREFUSED;
                goto out;
            }
            if (inet_pton(AF_INET, hbuf, out->ip) == 1) {
                out->host_is_ip = 4;
            } else if (!ends_in_public_tld(hbuf, hlen)) {
                set_detail(detail, detail_len,
                           "Invalid host in redirect target, must end in IANA registered TLD");
                rc = ACMEVA_REDIRECT_EREFUSED;
                goto out;
            } else if (!valid_dns_name(hbuf, hlen)) {
                set_detail(detail, detail_len,
                           "Invalid host in redirect target: invalid domain name");
                rc = ACMEVA_REDIRECT_EREFUSED;
                goto out;
            }
        }
    }

    /* Boulder's maxPathSize, measured on the decoded path without the query. */
    if (decoded_length(tpath, tpath_len) > ACMEVA_REDIRECT_MAX_PATH) {
        set_detail(detail, detail_len, "Redirect target too long");
        rc = ACMEVA_REDIRECT_EREFUSED;
        goto out;
    }
    rc = 0;

out:
    if (rc == ACMEVA_REDIRECT_ENOMEM || rc == ACMEVA_REDIRECT_EINVAL)
        acmeva_url_clear(out);
    free(rpath);
    free(rquery);
    free(merged);
    free(tpath);
    free(hbuf);
    free(esc);
    return rc;
}
