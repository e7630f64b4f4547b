/*
 * Escaping of server-supplied bytes for problem details and logs (see escape.h).
 */
#include "escape.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "acmeva/proto.h"

/* One decoded unit of input: an ASCII byte, a valid UTF-8 character, or the maximal subpart
 * of an ill-formed sequence (RFC 3629 §4, Unicode §3.9), as acmeva_utf8_decode reads it. */
typedef struct unit {
    size_t len;  /* input bytes it covers, >= 1 */
    int valid;   /* a well-formed character (ASCII or multi-byte) */
    uint32_t cp; /* its code point when valid */
} unit;

static unit decode_unit(const uint8_t *in, size_t avail)
{
    unit u;
    u.len = acmeva_utf8_decode(in, avail, &u.cp);
    u.valid = u.cp != ACMEVA_UTF8_INVALID;
    return u;
}

/*
 * nonprinting returns 1 for the non-ASCII code points written as \u or \U: C1 controls (Cc),
 * non-ASCII spaces (Zs), line and paragraph separators (Zl, Zp), format characters (Cf, among
 * them the bidi controls used to disguise text), private use (Co) and noncharacters. Go's
 * strconv.IsPrint also escapes unassigned code points; acmeva keeps those, having no table.
 */
static int nonprinting(uint32_t cp)
{
    if (cp < 0xa0)
        return cp >= 0x80;
    if (cp == 0xa0 || cp == 0xad || cp == 0x061c || cp == 0x06dd || cp == 0x070f || cp == 0x08e2 ||
        cp == 0x1680 || cp == 0x180e || cp == 0x3000 || cp == 0xfeff || cp == 0x110bd ||
        cp == 0x110cd)
        return 1;
    if ((cp >= 0x0600 && cp <= 0x0605) || (cp >= 0x0890 && cp <= 0x0891) ||
        (cp >= 0x2000 && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202f) ||
        (cp >= 0x205f && cp <= 0x206f) || (cp >= 0xe000 && cp <= 0xf8ff) ||
        (cp >= 0xfdd0 && cp <= 0xfdef) || (cp >= 0xfff0 && cp <= 0xfffb) ||
        (cp >= 0x13430 && cp <= 0x1343f) || (cp >= 0x1bca0 && cp <= 0x1bca3) ||
        (cp >= 0x1d173 && cp <= 0x1d17a) || (cp >= 0xe0000 && cp <= 0xe007f) || (cp >= 0xf0000))
        return 1;
    return (cp & 0xfffe) == 0xfffe; /* U+xxFFFE and U+xxFFFF */
}

int acmeva_escape_nonprinting(uint32_t cp)
{
    return cp >= 0x80 && nonprinting(cp);
}

static const char hexdigits[] = "0123456789abcdef";

/* hex writes the low |n| hex digits of |v|, most significant first. */
static void hex(char *dst, uint32_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        dst[i] = hexdigits[v & 0xf];
        v >>= 4;
    }
}

/* represent writes the escaped form of unit |u| (whose bytes are |src|) to |rep| (at least 10
 * bytes) and returns its length. */
static size_t represent(const unit *u, const uint8_t *src, char *rep)
{
    if (!u->valid) {
        memcpy(rep, "\xef\xbf\xbd", 3); /* U+FFFD REPLACEMENT CHARACTER */
        return 3;
    }
    uint32_t cp = u->cp;
    if (cp < 0x80) {
        switch (cp) {
        case '"':
            memcpy(rep, "\\\"", 2);
            return 2;
        case '\\':
            memcpy(rep, "\\\\", 2);
            return 2;
        case '\n':
            memcpy(rep, "\\n", 2);
            return 2;
        case '\r':
            memcpy(rep, "\\r", 2);
            return 2;
        case '\t':
            memcpy(rep, "\\t", 2);
            return 2;
        default:
            break;
        }
        if (cp >= 0x20 && cp < 0x7f) {
            rep[0] = (char)cp;
            return 1;
        }
        rep[0] = '\\';
        rep[1] = 'x';
        hex(rep + 2, cp, 2);
        return 4;
    }
    if (!nonprinting(cp)) {
        memcpy(rep, src, u->len);
        return u->len;
    }
    rep[0] = '\\';
    if (cp <= 0xffff) {
        rep[1] = 'u';
        hex(rep + 2, cp, 4);
        return 6;
    }
    rep[1] = 'U';
    hex(rep + 2, cp, 8);
    return 10;
}

int acmeva_escape(const uint8_t *in, size_t inlen, char *out, size_t outlen, size_t max_in)
{
    if (out == NULL || outlen == 0 || (in == NULL && inlen > 0))
        return -1;
    size_t limit = inlen;
    if (max_in != 0 && max_in < limit)
        limit = max_in;
    if (limit > INT_MAX)
        limit = INT_MAX;

    size_t pos = 0, o = 0;
    while (pos < limit) {
        /* Decode against the whole input, so that a character cut by |max_in| is left out
         * whole rather than shown as a broken sequence. */
        unit u = decode_unit(in + pos, inlen - pos);
        if (u.len > limit - pos)
            break;
        char rep[10];
        size_t n = represent(&u, in + pos, rep);
        if (n >= outlen - o) /* keep one byte for the NUL */
            break;
        memcpy(out + o, rep, n);
        o += n;
        pos += u.len;
    }
    out[o] = '\0';
    return (int)pos;
}

char *acmeva_escape_dup(const uint8_t *in, size_t inlen, size_t max_in)
{
    if (in == NULL && inlen > 0)
        return NULL;
    size_t n = inlen;
    if (max_in != 0 && max_in < n)
        n = max_in;
    if (n > INT_MAX)
        n = INT_MAX;
    size_t cap = n * ACMEVA_ESCAPE_MAX_GROWTH + 1;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    if (acmeva_escape(in, inlen, out, cap, n) < 0) {
        free(out);
        return NULL;
    }
    return out;
}
