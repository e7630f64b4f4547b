/*
 * Names and syntax checks of the wire contract: challenge type names, ACME problem types,
 * DNS names, IP address text, base64url, UTF-8 repair, and small string helpers.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "acmeva/proto.h"
#include "proto_int.h"

/* Wire names of the challenge types (RFC 8555 §9.7.8 registry and the drafts that add to it). */
static const struct {
    acmeva_chall_type type;
    const char *name;
} chall_names[] = {
    {ACMEVA_CHALL_HTTP01, "http-01"},              /* RFC 8555 §8.3 */
    {ACMEVA_CHALL_DNS01, "dns-01"},                /* RFC 8555 §8.4 */
    {ACMEVA_CHALL_TLSALPN01, "tls-alpn-01"},       /* RFC 8737 §3 */
    {ACMEVA_CHALL_DNSACCOUNT01, "dns-account-01"}, /* draft-ietf-acme-dns-account-label */
    {ACMEVA_CHALL_DNSPERSIST01, "dns-persist-01"}, /* draft-ietf-acme-dns-persist */
};

const char *acmeva_chall_type_name(acmeva_chall_type t)
{
    for (size_t i = 0; i < sizeof(chall_names) / sizeof(chall_names[0]); i++)
        if (chall_names[i].type == t)
            return chall_names[i].name;
    return NULL;
}

acmeva_chall_type acmeva_chall_type_from_name(const char *name)
{
    if (name == NULL)
        return ACMEVA_CHALL_UNKNOWN;
    for (size_t i = 0; i < sizeof(chall_names) / sizeof(chall_names[0]); i++)
        if (strcmp(chall_names[i].name, name) == 0)
            return chall_names[i].type;
    return ACMEVA_CHALL_UNKNOWN;
}

/* RFC 8555 §6.7 error types and the HTTP status ACME servers give them (Boulder's mapping). */
static const struct {
    acmeva_problem_type type;
    const char *urn;
    int status;
} problems[] = {
    {ACMEVA_PROB_UNAUTHORIZED, "urn:ietf:params:acme:error:unauthorized", 403},
    {ACMEVA_PROB_CONNECTION, "urn:ietf:params:acme:error:connection", 400},
    {ACMEVA_PROB_DNS, "urn:ietf:params:acme:error:dns", 400},
    {ACMEVA_PROB_TLS, "urn:ietf:params:acme:error:tls", 400},
    {ACMEVA_PROB_CAA, "urn:ietf:params:acme:error:caa", 403},
    {ACMEVA_PROB_MALFORMED, "urn:ietf:params:acme:error:malformed", 400},
    {ACMEVA_PROB_SERVER_INTERNAL, "urn:ietf:params:acme:error:serverInternal", 500},
    {ACMEVA_PROB_REJECTED_IDENTIFIER, "urn:ietf:params:acme:error:rejectedIdentifier", 400},
};

const char *acmeva_problem_urn(acmeva_problem_type t)
{
    for (size_t i = 0; i < sizeof(problems) / sizeof(problems[0]); i++)
        if (problems[i].type == t)
            return problems[i].urn;
    return NULL;
}

int acmeva_problem_http_status(acmeva_problem_type t)
{
    for (size_t i = 0; i < sizeof(problems) / sizeof(problems[0]); i++)
        if (problems[i].type == t)
            return problems[i].status;
    return 0;
}

static int is_ldh(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

int acmeva_is_dns_name(const char *s, int allow_wildcard)
{
    if (s == NULL)
        return 0;
    size_t len = strnlen(s, 254);
    /* RFC 1035 §2.3.4: 255 octets on the wire, so 253 in text without the trailing dot. */
    if (len == 0 || len > 253)
        return 0;
    const char *p = s, *end = s + len;
    if (len >= 2 && p[0] == '*' && p[1] == '.') {
        if (!allow_wildcard)
            return 0;
        p += 2; /* RFC 8555 §7.1.3: "*." only as the whole leftmost label */
    }
    size_t labels = 0;
    int last_all_digits = 0;
    while (p < end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
        /* RFC 1035 §2.3.1 (as relaxed by RFC 1123 §2.1): 1..63 letters, digits and hyphens,
         * starting and ending with a letter or digit. Uppercase is refused: names travel as
         * lowercase A-labels so that every comparison is exact. */
        if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-')
            return 0;
        int all_digits = 1;
        for (size_t i = 0; i < n; i++) {
            if (!is_ldh(p[i]))
                return 0;
            if (p[i] < '0' || p[i] > '9')
                all_digits = 0;
        }
        /* RFC 5890 §2.3.1: "??--" labels are reserved; of them only A-labels ("xn--") exist. */
        if (n >= 4 && p[2] == '-' && p[3] == '-' && !(p[0] == 'x' && p[1] == 'n'))
            return 0;
        labels++;
        last_all_digits = all_digits;
        if (dot == NULL)
            break;
        p = dot + 1;
        if (p == end)
            return 0; /* trailing dot */
    }
    /* A name needs a parent (no bare TLDs), and no TLD is all digits (RFC 3696 §2), which
     * also keeps IPv4 text from passing as a name. */
    if (labels < 2 || last_all_digits)
        return 0;
    return 1;
}

int acmeva_is_canonical_ip(const char *s)
{
    if (s == NULL)
        return 0;
    size_t len = strnlen(s, INET6_ADDRSTRLEN);
    if (len == 0 || len >= INET6_ADDRSTRLEN)
        return 0;
    unsigned char bin[16];
    char text[INET6_ADDRSTRLEN];
    /* RFC 8738 §3: IPv4 as RFC 1123 §2.1 dotted decimal, IPv6 as RFC 5952 §4 text. What
     * inet_ntop prints is that form, so a round trip that changes the text means the input was
     * not canonical (leading zeros, uppercase hex, uncompressed zeros, ...). */
    int af = memchr(s, ':', len) ? AF_INET6 : AF_INET;
    if (inet_pton(af, s, bin) != 1)
        return 0;
    if (inet_ntop(af, bin, text, sizeof(text)) == NULL)
        return 0;
    if (strcmp(text, s) != 0)
        return 0;
    return af == AF_INET ? 4 : 6;
}

int acmeva_hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int acmeva_is_base64url(const char *s, size_t len)
{
    if (s == NULL || len == 0)
        return 0;
    /* RFC 4648 §5 alphabet, no "=" padding (RFC 8555 §8.3 for tokens); 4k+1 characters
     * cannot be the encoding of any byte string. */
    if (len % 4 == 1)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

char *acmeva_strdup_n(const char *s, size_t len)
{
    if (s == NULL && len > 0)
        return NULL;
    char *p = malloc(len + 1);
    if (p == NULL)
        return NULL;
    if (len > 0)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* The table behind acmeva_json_plain (proto_int.h): one load per byte in the loops that read
 * and write JSON strings. */
/* clang-format off */
const unsigned char acmeva_json_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 70 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 90 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* a0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* b0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* c0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* d0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* e0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* f0 */
};
/* clang-format on */

char *acmeva_utf8_sanitize(const char *s, size_t len)
{
    if (s == NULL)
        len = 0;
    const unsigned char *in = (const unsigned char *)s;
    /* Each bad byte becomes the 3 bytes of U+FFFD; guard the size computation. */
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    size_t out_len = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = acmeva_utf8_decode(in + i, len - i, &cp);
        out_len += cp == ACMEVA_UTF8_INVALID || cp == 0 ? 3 : n;
        i += n;
    }
    char *out = malloc(out_len + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = acmeva_utf8_decode(in + i, len - i, &cp);
        if (cp == ACMEVA_UTF8_INVALID || cp == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
        } else {
            memcpy(out + o, in + i, n);
            o += n;
        }
        i += n;
    }
    out[o] = '\0';
    return out;
}

/* A list never holds more than this many strings: every caller caps far below it. */
#define STRLIST_MAX 65536

int acmeva_strlist_add(acmeva_strlist *l, const char *s, size_t len)
{
    if (l == NULL || l->n >= STRLIST_MAX)
        return -1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    char *copy = acmeva_strdup_n(s, len);
    if (copy == NULL)
        return -1;
    l->v[l->n++] = copy;
    return 0;
}

int acmeva_strlist_move(acmeva_strlist *dst, acmeva_strlist *src)
{
    if (dst == NULL || src == NULL || src->n == 0)
        return 0;
    if (dst->n == 0) {
        /* The common case: hand the whole array over. */
        acmeva_strlist_clear(dst);
        *dst = *src;
        memset(src, 0, sizeof(*src));
        return 0;
    }
    if (dst->n + src->n > STRLIST_MAX)
        return -1;
    if (dst->n + src->n > dst->cap) {
        char **v = realloc(dst->v, (dst->n + src->n) * sizeof(*v));
        if (v == NULL)
            return -1;
        dst->v = v;
        dst->cap = dst->n + src->n;
    }
    memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
    dst->n += src->n;
    free(src->v);
    memset(src, 0, sizeof(*src));
    return 0;
}

void acmeva_strlist_clear(acmeva_strlist *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
    l->cap = 0;
}
