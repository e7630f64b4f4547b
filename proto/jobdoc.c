/*
 * The JSON of a job document (RFC 8259), read in one bounded pass.
 *
 * Why not jansson's json_loadb, the codec's reference: it builds a tree of every value, with a
 * hash table per object and an allocation per key and string, only for job.c to look up nine
 * members and throw the tree away. On the benchmark's jobs that cost 9 to 11 us per job, more
 * than a whole DNS query costs dnsperf (bench/README.md). This reader checks the whole
 * document exactly as json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) does, and keeps
 * only the members the job schema knows; tests/fuzz/fuzz_jobdoc.c holds the two to the same
 * answers. One difference is meant: a raw NUL byte is refused wherever it is, where jansson
 * loses one read ahead after a number or a literal ("{\"v\":1\0}") and accepts the document.
 *
 * Bounds: input is read once, strings are decoded into one buffer no larger than the input,
 * nesting stops at ACMEVA_JSON_MAX_DEPTH, and the duplicate-key check sorts an object's keys
 * when it has many, so no input costs more than O(n log n).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

/* Which members an object's keys may name: the schema's known paths (proto/job.schema.json). */
typedef enum ctx {
    CTX_NONE, /* an object the schema does not know: its members are checked and skipped */
    CTX_ROOT,
    CTX_IDENTIFIER,
    CTX_CHALLENGE,
    CTX_CAA,
} ctx;

typedef struct known_key {
    ctx in;
    const char *name;
    size_t len; /* of |name| */
    acmeva_jd_member member;
    ctx child; /* the context of the member's value when it is an object */
} known_key;

/* clang-format off */
#define KEY(in, name, member, child) {in, name, sizeof(name) - 1, member, child}
/* clang-format on */

static const known_key known_keys[] = {
    KEY(CTX_ROOT, "v", ACMEVA_JD_V, CTX_NONE),
    KEY(CTX_ROOT, "id", ACMEVA_JD_ID, CTX_NONE),
    KEY(CTX_ROOT, "identifier", ACMEVA_JD_IDENTIFIER, CTX_IDENTIFIER),
    KEY(CTX_ROOT, "challenge", ACMEVA_JD_CHALLENGE, CTX_CHALLENGE),
    KEY(CTX_ROOT, "keyAuthorization", ACMEVA_JD_KEY_AUTHORIZATION, CTX_NONE),
    KEY(CTX_ROOT, "accountUri", ACMEVA_JD_ACCOUNT_URI, CTX_NONE),
    KEY(CTX_ROOT, "caa", ACMEVA_JD_CAA, CTX_CAA),
    KEY(CTX_ROOT, "deadlineMs", ACMEVA_JD_DEADLINE_MS, CTX_NONE),
    KEY(CTX_ROOT, "replyTo", ACMEVA_JD_REPLY_TO, CTX_NONE),
    KEY(CTX_IDENTIFIER, "type", ACMEVA_JD_IDENTIFIER_TYPE, CTX_NONE),
    KEY(CTX_IDENTIFIER, "value", ACMEVA_JD_IDENTIFIER_VALUE, CTX_NONE),
    KEY(CTX_CHALLENGE, "type", ACMEVA_JD_CHALLENGE_TYPE, CTX_NONE),
    KEY(CTX_CHALLENGE, "token", ACMEVA_JD_CHALLENGE_TOKEN, CTX_NONE),
    KEY(CTX_CAA, "issuerDomains", ACMEVA_JD_CAA_ISSUER_DOMAINS, CTX_NONE),
    KEY(CTX_CAA, "method", ACMEVA_JD_CAA_METHOD, CTX_NONE),
};
#undef KEY

/* A key of an object still open, for the duplicate check. */
typedef struct key {
    const char *s; /* decoded: into the input when the key has no escape, else into key_buf */
    size_t len;
    uint32_t hash;
} key;

#define INLINE_KEYS 32   /* enough for every job; more go to the heap */
#define SORT_KEYS_OVER 8 /* objects with more keys are sorted for the duplicate check */

typedef struct reader {
    const unsigned char *start, *p, *end;
    acmeva_jobdoc *doc;
    size_t strings_used; /* bytes of doc->strings handed out */
    char *key_buf;       /* decoded keys that had escapes; allocated on the first */
    size_t key_buf_used;
    key *keys; /* the keys of every open object, innermost last */
    size_t n_keys, cap_keys;
    key inline_keys[INLINE_KEYS];
    int depth;
} reader;

static int fail(reader *r, acmeva_json_error e)
{
    acmeva_jobdoc *doc = r->doc;
    doc->error = e;
    doc->line = 1;
    doc->column = 1;
    for (const unsigned char *q = r->start; q < r->p && q < r->end; q++) {
        if (*q == '\n') {
            doc->line++;
            doc->column = 1;
        } else {
            doc->column++;
        }
    }
    return -1;
}

static void skip_ws(reader *r)
{
    /* RFC 8259 §2: ws = *( %x20 / %x09 / %x0A / %x0D ) */
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

/* read_hex4 reads the four hex digits of a \u escape at r->p into |*cp|. */
static int read_hex4(reader *r, uint32_t *cp)
{
    if (r->end - r->p < 4) {
        r->p = r->end;
        return fail(r, ACMEVA_JSON_PREMATURE_END);
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = acmeva_hex_digit(r->p[i]);
        if (h < 0) {
            r->p += i;
            return fail(r, ACMEVA_JSON_SYNTAX);
        }
        v = v << 4 | (uint32_t)h;
    }
    r->p += 4;
    *cp = v;
    return 0;
}

/* put_utf8 writes code point |cp| (a scalar value, RFC 3629 §3) as UTF-8 at |out|. */
static size_t put_utf8(char *out, uint32_t cp)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* read_escape reads the escape after a backslash (RFC 8259 §7) and, with |out|, writes its
 * bytes there. Returns the number of bytes it decodes to, or -1. */
static int read_escape(reader *r, char *out)
{
    if (r->p >= r->end)
        return fail(r, ACMEVA_JSON_PREMATURE_END);
    char c;
    switch (*r->p) {
    case '"':
    case '\\':
    case '/':
        c = (char)*r->p;
        break;
    case 'b':
        c = '\b';
        break;
    case 'f':
        c = '\f';
        break;
    case 'n':
        c = '\n';
        break;
    case 'r':
        c = '\r';
        break;
    case 't':
        c = '\t';
        break;
    case 'u': {
        r->p++;
        uint32_t cp = 0, lo = 0;
        if (read_hex4(r, &cp) < 0)
            return -1;
        if (cp == 0) {
            r->p -= 6;
            return fail(r, ACMEVA_JSON_NUL); /* a NUL would end every C string after us */
        }
        if (cp >= 0xdc00 && cp <= 0xdfff) {
            r->p -= 6;
            return fail(r, ACMEVA_JSON_SYNTAX); /* a low surrogate with no high one before */
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            /* RFC 8259 §7: a character outside the BMP is a surrogate pair of escapes. */
            if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
                return fail(r, r->end - r->p < 2 ? ACMEVA_JSON_PREMATURE_END : ACMEVA_JSON_SYNTAX);
            r->p += 2;
            if (read_hex4(r, &lo) < 0)
                return -1;
            if (lo < 0xdc00 || lo > 0xdfff) {
                r->p -= 6;
                return fail(r, ACMEVA_JSON_SYNTAX);
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        char scratch[4]; /* only to count the bytes when nothing is kept */
        return (int)put_utf8(out ? out : scratch, cp);
    }
    default:
        return fail(r, ACMEVA_JSON_SYNTAX);
    }
    r->p++;
    if (out)
        *out = c;
    return 1;
}

/*
 * read_string reads the string whose opening quote is at r->p and leaves r->p after its
 * closing quote. With |out| it writes the decoded bytes there (at most as many as the string
 * takes in the input, less its quotes). Sets |*len| to the decoded length and |*escaped| to
 * whether the string has an escape.
 */
static int read_string(reader *r, char *out, size_t *len, int *escaped)
{
    size_t n = 0;
    *escaped = 0;
    r->p++;
    for (;;) {
        const unsigned char *run = r->p;
        while (r->p < r->end && acmeva_json_plain[*r->p])
            r->p++;
        if (out && r->p > run)
            memcpy(out + n, run, (size_t)(r->p - run));
        n += (size_t)(r->p - run);
        if (r->p >= r->end)
            return fail(r, ACMEVA_JSON_PREMATURE_END);
        unsigned char c = *r->p;
        if (c == '"') {
            r->p++;
            *len = n;
            return 0;
        }
        if (c == '\\') {
            *escaped = 1;
            r->p++;
            int k = read_escape(r, out ? out + n : NULL);
            if (k < 0)
                return -1;
            n += (size_t)k;
        } else if (c < 0x20) {
            return fail(r, ACMEVA_JSON_SYNTAX); /* RFC 8259 §7: control characters are escaped */
        } else {
            uint32_t cp;
            size_t k = acmeva_utf8_decode(r->p, (size_t)(r->end - r->p), &cp);
            if (cp == ACMEVA_UTF8_INVALID)
                return fail(r, ACMEVA_JSON_INVALID_UTF8); /* RFC 8259 §8.1 */
            if (out)
                memcpy(out + n, r->p, k);
            r->p += k;
            n += k;
        }
    }
}

/* read_number reads a number (RFC 8259 §6) into |v| with jansson's types: INTEGER when it has
 * no fraction or exponent (and must then fit in int64_t), else REAL (and must be finite). */
static int read_number(reader *r, acmeva_jv *v)
{
    const unsigned char *s = r->p;
    int neg = 0;
    if (r->p < r->end && *r->p == '-') {
        neg = 1;
        r->p++;
    }
    const unsigned char *int_start = r->p;
    if (r->p < r->end && *r->p == '0') {
        r->p++;
    } else if (r->p < r->end && *r->p >= '1' && *r->p <= '9') {
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    } else {
        return fail(r, r->p < r->end ? ACMEVA_JSON_SYNTAX : ACMEVA_JSON_PREMATURE_END);
    }
    const unsigned char *int_end = r->p;
    if (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        return fail(r, ACMEVA_JSON_SYNTAX); /* a leading zero */

    const unsigned char *frac_start = NULL, *frac_end = NULL;
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        frac_start = r->p;
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
        frac_end = r->p;
        if (frac_end == frac_start)
            return fail(r, r->p < r->end ? ACMEVA_JSON_SYNTAX : ACMEVA_JSON_PREMATURE_END);
    }
    const unsigned char *exp_start = NULL;
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        exp_start = r->p;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        const unsigned char *digits = r->p;
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
        if (r->p == digits)
            return fail(r, r->p < r->end ? ACMEVA_JSON_SYNTAX : ACMEVA_JSON_PREMATURE_END);
    }

    if (frac_start == NULL && exp_start == NULL) {
        /* int64_t, as json_int_t: |INT64_MIN| is one more than INT64_MAX. */
        uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, x = 0;
        for (const unsigned char *q = int_start; q < int_end; q++) {
            unsigned d = (unsigned)(*q - '0');
            if (x > (limit - d) / 10) {
                r->p = s;
                return fail(r, ACMEVA_JSON_NUMERIC_OVERFLOW);
            }
            x = x * 10 + d;
        }
        v->type = ACMEVA_JV_INTEGER;
        v->i = neg ? (x == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)x) : (int64_t)x;
        return 0;
    }

    /*
     * A real must be finite as a double. strtod decides, on the digits without the decimal
     * point ("12.5e3" as "125e2"), so that the locale's decimal point does not matter. The
     * exponent is clamped first: past +-10^7 the answer no longer changes, since the digits are
     * at most the input's length (ACMEVA_JOB_MAX_BYTES).
     */
    long long e = 0;
    if (exp_start != NULL) {
        const unsigned char *q = exp_start;
        int eneg = *q == '-';
        if (*q == '+' || *q == '-')
            q++;
        for (; q < r->p; q++)
            if (e < 10000000)
                e = e * 10 + (*q - '0');
        e = eneg ? -e : e;
    }
    size_t n_int = (size_t)(int_end - int_start),
           n_frac = frac_start ? (size_t)(frac_end - frac_start) : 0;
    e -= (long long)n_frac;
    char small[128], *buf = small;
    size_t need = n_int + n_frac + 16;
    if (need > sizeof(small) && (buf = malloc(need)) == NULL)
        return fail(r, ACMEVA_JSON_NOMEM);
    memcpy(buf, int_start, n_int);
    if (n_frac)
        memcpy(buf + n_int, frac_start, n_frac);
    size_t o = n_int + n_frac;
    buf[o++] = 'e';
    if (e < 0) {
        buf[o++] = '-';
        e = -e;
    }
    char digits[24];
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + e % 10);
        e /= 10;
    } while (e > 0);
    while (nd > 0)
        buf[o++] = digits[--nd];
    buf[o] = '\0';
    errno = 0;
    double d = strtod(buf, NULL);
    int overflow = errno == ERANGE && isinf(d);
    if (buf != small)
        free(buf);
    if (overflow) {
        r->p = s;
        return fail(r, ACMEVA_JSON_NUMERIC_OVERFLOW);
    }
    v->type = ACMEVA_JV_REAL;
    return 0;
}

/* read_literal reads true, false or null. jansson reads a whole run of letters as one word,
 * so "truex" is not "true" then "x": both are errors either way. */
static int read_literal(reader *r, acmeva_jv *v)
{
    static const struct {
        const char *word;
        size_t len;
        acmeva_jv_type type;
    } lits[] = {
        {"true", 4, ACMEVA_JV_TRUE}, {"false", 5, ACMEVA_JV_FALSE}, {"null", 4, ACMEVA_JV_NULL}};
    for (size_t i = 0; i < sizeof(lits) / sizeof(lits[0]); i++) {
        size_t left = (size_t)(r->end - r->p);
        if (left >= lits[i].len && memcmp(r->p, lits[i].word, lits[i].len) == 0) {
            r->p += lits[i].len;
            v->type = lits[i].type;
            return 0;
        }
    }
    return fail(r, ACMEVA_JSON_SYNTAX);
}

static uint32_t key_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int key_cmp(const void *a, const void *b)
{
    const key *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->s, y->s, x->len);
}

/* has_duplicate: whether two of the |n| keys at |k| are equal (the order of |k| may change). */
static int has_duplicate(key *k, size_t n)
{
    if (n <= SORT_KEYS_OVER) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (key_cmp(&k[i], &k[j]) == 0)
                    return 1;
        return 0;
    }
    qsort(k, n, sizeof(*k), key_cmp);
    for (size_t i = 1; i < n; i++)
        if (key_cmp(&k[i], &k[i - 1]) == 0)
            return 1;
    return 0;
}

static int push_key(reader *r, const char *s, size_t len)
{
    if (r->n_keys == r->cap_keys) {
        /* Each key takes at least 4 bytes of input ("":0), so this stays below the input. */
        size_t cap = r->cap_keys * 2;
        key *k = r->keys == r->inline_keys ? malloc(cap * sizeof(*k))
                                           : realloc(r->keys, cap * sizeof(*k));
        if (k == NULL)
            return fail(r, ACMEVA_JSON_NOMEM);
        if (r->keys == r->inline_keys)
            memcpy(k, r->inline_keys, sizeof(r->inline_keys));
        r->keys = k;
        r->cap_keys = cap;
    }
    r->keys[r->n_keys++] = (key){s, len, key_hash(s, len)};
    return 0;
}

/* read_key reads an object's key at r->p and pushes it on the open keys; |*k| points to it. */
static int read_key(reader *r, const key **k)
{
    const unsigned char *at = r->p;
    size_t len;
    int escaped;
    if (read_string(r, NULL, &len, &escaped) < 0)
        return -1;
    const char *s = (const char *)at + 1;
    if (escaped) {
        /* Decoded keys are shorter than their input, so one input-sized buffer holds them all. */
        if (r->key_buf == NULL && (r->key_buf = malloc((size_t)(r->end - r->start))) == NULL)
            return fail(r, ACMEVA_JSON_NOMEM);
        const unsigned char *after = r->p;
        r->p = at;
        if (read_string(r, r->key_buf + r->key_buf_used, &len, &escaped) < 0)
            return -1;
        r->p = after;
        s = r->key_buf + r->key_buf_used;
        r->key_buf_used += len;
    }
    if (push_key(r, s, len) < 0)
        return -1;
    *k = &r->keys[r->n_keys - 1];
    return 0;
}

static const known_key *find_known(ctx in, const key *k)
{
    if (in == CTX_NONE)
        return NULL;
    for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
        if (known_keys[i].in == in && known_keys[i].len == k->len &&
            memcmp(known_keys[i].name, k->s, k->len) == 0)
            return &known_keys[i];
    return NULL;
}

#define KEEP_STRING 1   /* read_value: decode a string into doc->strings */
#define KEEP_ELEMENTS 2 /* read_value: the array is caa.issuerDomains */

static int read_value(reader *r, ctx obj_ctx, acmeva_jv *v, int flags);

/* read_object reads an object at r->p (its '{'); |in| names the members it may hold. */
static int read_object(reader *r, ctx in)
{
    size_t first_key = r->n_keys;
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return 0;
    }
    for (;;) {
        if (r->p >= r->end)
            return fail(r, ACMEVA_JSON_PREMATURE_END);
        if (*r->p != '"')
            return fail(r, ACMEVA_JSON_SYNTAX); /* RFC 8259 §4: names are strings */
        const key *k = NULL;
        if (read_key(r, &k) < 0)
            return -1;
        const known_key *known = find_known(in, k);
        skip_ws(r);
        if (r->p >= r->end)
            return fail(r, ACMEVA_JSON_PREMATURE_END);
        if (*r->p != ':')
            return fail(r, ACMEVA_JSON_SYNTAX);
        r->p++;
        acmeva_jv scratch, *v = known ? &r->doc->m[known->member] : &scratch;
        int flags = 0;
        if (known)
            flags =
                KEEP_STRING | (known->member == ACMEVA_JD_CAA_ISSUER_DOMAINS ? KEEP_ELEMENTS : 0);
        if (read_value(r, known ? known->child : CTX_NONE, v, flags) < 0)
            return -1;
        skip_ws(r);
        if (r->p >= r->end)
            return fail(r, ACMEVA_JSON_PREMATURE_END);
        if (*r->p == '}')
            break;
        if (*r->p != ',')
            return fail(r, ACMEVA_JSON_SYNTAX);
        r->p++;
        skip_ws(r);
    }
    /* JSON_REJECT_DUPLICATES: {"v":1,"v":2} means different things to different parsers. */
    if (has_duplicate(r->keys + first_key, r->n_keys - first_key))
        return fail(r, ACMEVA_JSON_DUPLICATE_KEY);
    r->n_keys = first_key;
    r->p++;
    return 0;
}

/* read_array reads an array at r->p (its '['). With |keep|, it is caa.issuerDomains: the
 * elements are counted and the first ACMEVA_JOB_ISSUER_DOMAINS_MAX kept. */
static int read_array(reader *r, int keep)
{
    acmeva_jobdoc *doc = r->doc;
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return 0;
    }
    for (;;) {
        acmeva_jv scratch, *v = &scratch;
        int flags = 0;
        if (keep && doc->n_issuer_domains < ACMEVA_JOB_ISSUER_DOMAINS_MAX) {
            v = &doc->issuer_domains[doc->n_issuer_domains];
            flags = KEEP_STRING;
        }
        if (read_value(r, CTX_NONE, v, flags) < 0)
            return -1;
        if (keep)
            doc->n_issuer_domains++;
        skip_ws(r);
        if (r->p >= r->end)
            return fail(r, ACMEVA_JSON_PREMATURE_END);
        if (*r->p == ']')
            break;
        if (*r->p != ',')
            return fail(r, ACMEVA_JSON_SYNTAX);
        r->p++;
    }
    r->p++;
    return 0;
}

/*
 * read_value reads the value at r->p (after white space) into |v|: its type, and for an
 * integer its value. With KEEP_STRING a string is decoded into doc->strings (a member the
 * schema knows); with KEEP_ELEMENTS an array is caa.issuerDomains. An object's members are
 * looked up in |obj_ctx|.
 */
static int read_value(reader *r, ctx obj_ctx, acmeva_jv *v, int flags)
{
    acmeva_jobdoc *doc = r->doc;
    *v = (acmeva_jv){0};
    skip_ws(r);
    if (r->p >= r->end)
        return fail(r, ACMEVA_JSON_PREMATURE_END);
    /* As jansson, every value counts a level, so "[1]" is two deep and "[]" one. */
    if (++r->depth > ACMEVA_JSON_MAX_DEPTH)
        return fail(r, ACMEVA_JSON_TOO_DEEP);
    int rc;
    switch (*r->p) {
    case '{':
        v->type = ACMEVA_JV_OBJECT;
        rc = read_object(r, obj_ctx);
        break;
    case '[':
        v->type = ACMEVA_JV_ARRAY;
        rc = read_array(r, flags & KEEP_ELEMENTS);
        break;
    case '"': {
        size_t len;
        int escaped;
        char *out = NULL;
        if (flags & KEEP_STRING) {
            /* A decoded string and its NUL fit in the bytes it takes in the input, quotes
             * included, so one input-sized buffer holds every kept string. */
            if (doc->strings == NULL &&
                (doc->strings = malloc((size_t)(r->end - r->start))) == NULL)
                return fail(r, ACMEVA_JSON_NOMEM);
            out = doc->strings + r->strings_used;
        }
        rc = read_string(r, out, &len, &escaped);
        if (rc == 0) {
            v->type = ACMEVA_JV_STRING;
            if (out != NULL) {
                out[len] = '\0';
                v->s = out;
                v->len = len;
                r->strings_used += len + 1;
            }
        }
        break;
    }
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        rc = read_number(r, v);
        break;
    default:
        rc = read_literal(r, v);
        break;
    }
    r->depth--;
    return rc;
}

int acmeva_jobdoc_read(acmeva_jobdoc *doc, const char *buf, size_t len)
{
    memset(doc, 0, sizeof(*doc));
    reader r = {
        .start = (const unsigned char *)(buf ? buf : ""),
        .doc = doc,
        .cap_keys = INLINE_KEYS,
    };
    r.p = r.start;
    r.end = r.start + (buf ? len : 0);
    r.keys = r.inline_keys;

    acmeva_jv root;
    int rc = read_value(&r, CTX_ROOT, &root, 0);
    if (rc == 0) {
        skip_ws(&r);
        if (r.p < r.end)
            rc = fail(&r, ACMEVA_JSON_END_EXPECTED);
    }
    doc->root = rc == 0 ? root.type : ACMEVA_JV_ABSENT;
    if (r.keys != r.inline_keys)
        free(r.keys);
    free(r.key_buf);
    return rc;
}

void acmeva_jobdoc_clear(acmeva_jobdoc *doc)
{
    if (doc == NULL)
        return;
    free(doc->strings);
    doc->strings = NULL;
}
