/*
 * A JSON document (RFC 8259), read in one bounded pass, keeping only what a schema asks for.
 *
 * Why not jansson's json_loadb, the codec's reference: it builds a tree of every value, with a
 * hash table per object and an allocation per key and string, only for the caller to look up a
 * few members and throw the tree away. On the benchmark's jobs that cost 9 to 11 us per job,
 * more than a whole DNS query costs dnsperf (bench/README.md), and the coordinator paid it six
 * times per MPIC job on the perspectives' results. This reader checks the whole document
 * exactly as json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) does, and hands the members
 * its schema names (acmeva_jr_schema) to a sink: everything else is checked and skipped.
 * tests/fuzz/fuzz_jobdoc.c and tests/fuzz/fuzz_resultdoc.c hold it to jansson's answers, through
 * the two schemas that use it (jobdoc.c, resultdoc.c). One difference is meant: a raw NUL
 * byte is refused wherever it is, where jansson loses one read ahead after a number or a
 * literal ("{\"v\":1\0}") and accepts the document.
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

/* A key of an object still open, for the duplicate check. */
typedef struct key {
    const char *s; /* decoded: into the input when the key has no escape, else into key_buf */
    size_t len;
    uint32_t hash;
} key;

#define INLINE_KEYS 32 /* enough for every job and result; more go to the heap */
#define SORT_KEYS_OVER                                                                             \
    16 /* objects with more keys are sorted for the duplicate check: a                             \
         result has 14 at its top, and sorting them cost more than the                             \
         pairs (compared by hash first) */

typedef struct reader {
    const unsigned char *start, *p, *end;
    const acmeva_jr_schema *schema;
    void *arg; /* the sink's */
    acmeva_jr_out *out;
    size_t strings_used; /* bytes of out->strings handed out */
    char *key_buf;       /* decoded keys that had escapes; allocated on the first */
    size_t key_buf_used;
    key *keys; /* the keys of every open object, innermost last */
    size_t n_keys, cap_keys;
    key inline_keys[INLINE_KEYS];
    int depth;
} reader;

static int fail(reader *r, acmeva_json_error e)
{
    acmeva_jr_out *doc = r->out;
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
        v->d = (double)v->i; /* as json_number_value */
        return 0;
    }

    /*
     * A real must be finite as a double. strtod decides, on the digits without the decimal
     * point ("12.5e3" as "125e2"), so that the locale's decimal point does not matter. The
     * exponent is clamped first: past +-10^7 the answer no longer changes, since the digits are
     * at most the input's length (ACMEVA_RESULT_MAX_BYTES at most).
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
    v->d = neg ? -d : d;
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

/* find_known returns the schema's entry for key |k| of an object of context |in|: the one
 * that names it, else the one for any other member of |in|, else NULL. */
static const acmeva_jr_key *find_known(const reader *r, int in, const key *k)
{
    if (in == ACMEVA_JR_NONE)
        return NULL;
    const acmeva_jr_key *any = NULL;
    for (size_t i = 0; i < r->schema->n_keys; i++) {
        const acmeva_jr_key *e = &r->schema->keys[i];
        if (e->in != in)
            continue;
        if (e->name == NULL)
            any = e;
        else if (e->len == k->len && memcmp(e->name, k->s, k->len) == 0)
            return e;
    }
    return any;
}

/* emit hands a value the schema asked for to the sink. */
static int emit(reader *r, const acmeva_jr_key *k, int element, const acmeva_jv *v, size_t key_at)
{
    if (r->schema->sink(r->arg, k, element, v, key_at) < 0)
        return fail(r, ACMEVA_JSON_NOMEM);
    return 0;
}

static int read_value(reader *r, int obj_ctx, const acmeva_jr_key *array_of, int keep_string,
                      acmeva_jv *v);

/* read_object reads an object at r->p (its '{'); |in| is the context its members are looked
 * up in. */
static int read_object(reader *r, int in)
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
        size_t key_at = (size_t)(r->p - r->start);
        const key *k = NULL;
        if (read_key(r, &k) < 0)
            return -1;
        const acmeva_jr_key *known = find_known(r, in, k);
        skip_ws(r);
        if (r->p >= r->end)
            return fail(r, ACMEVA_JSON_PREMATURE_END);
        if (*r->p != ':')
            return fail(r, ACMEVA_JSON_SYNTAX);
        r->p++;
        acmeva_jv v;
        if (read_value(r, known ? known->obj : ACMEVA_JR_NONE, known,
                       known && (known->flags & ACMEVA_JR_STRING), &v) < 0 ||
            (known != NULL && emit(r, known, 0, &v, key_at) < 0))
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

/* read_array reads an array at r->p (its '['). When it is the value of member |of|, its
 * elements that are objects have their members looked up in of->elem_obj, and with
 * ACMEVA_JR_ELEMENTS each element goes to the sink (a string decoded). */
static int read_array(reader *r, const acmeva_jr_key *of)
{
    int each = of != NULL && (of->flags & ACMEVA_JR_ELEMENTS);
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return 0;
    }
    for (;;) {
        acmeva_jv v;
        size_t at = (size_t)(r->p - r->start);
        if (read_value(r, of ? of->elem_obj : ACMEVA_JR_NONE, NULL, each, &v) < 0 ||
            (each && emit(r, of, 1, &v, at) < 0))
            return -1;
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
 * read_value reads the value at r->p (after white space) into |v|: its type, its byte range,
 * for a number its value. An object's members are looked up in |obj_ctx|; an array is the
 * value of member |array_of| (or of none); with |keep_string| a string is decoded into
 * out->strings.
 */
static int read_value(reader *r, int obj_ctx, const acmeva_jr_key *array_of, int keep_string,
                      acmeva_jv *v)
{
    acmeva_jr_out *doc = r->out;
    *v = (acmeva_jv){0};
    skip_ws(r);
    if (r->p >= r->end)
        return fail(r, ACMEVA_JSON_PREMATURE_END);
    v->at = (size_t)(r->p - r->start);
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
        rc = read_array(r, array_of);
        break;
    case '"': {
        size_t len;
        int escaped;
        char *out = NULL;
        if (keep_string) {
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
    v->end = (size_t)(r->p - r->start);
    return rc;
}

int acmeva_json_read(const acmeva_jr_schema *schema, void *arg, const char *buf, size_t len,
                     acmeva_jr_out *out)
{
    memset(out, 0, sizeof(*out));
    reader r = {
        .start = (const unsigned char *)(buf ? buf : ""),
        .schema = schema,
        .arg = arg,
        .out = out,
        .cap_keys = INLINE_KEYS,
    };
    r.p = r.start;
    r.end = r.start + (buf ? len : 0);
    r.keys = r.inline_keys;

    acmeva_jv root;
    int rc = read_value(&r, schema->root, NULL, 0, &root);
    if (rc == 0) {
        skip_ws(&r);
        if (r.p < r.end)
            rc = fail(&r, ACMEVA_JSON_END_EXPECTED);
    }
    out->root = rc == 0 ? root.type : ACMEVA_JV_ABSENT;
    if (r.keys != r.inline_keys)
        free(r.keys);
    free(r.key_buf);
    return rc;
}
