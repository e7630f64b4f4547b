/*
 * The tls-alpn-01 certificate check (RFC 8737 §3, RFC 8738 §6, BR 3.2.2.4.20).
 *
 * The certificate is read in two passes. The first walks the whole DER with CBS, bounded by
 * the certificate's size, and collects what the rules need (issuer and subject encodings,
 * every extension, the subjectAltName entries, the subject's commonName); anything that is
 * not a well-formed certificate stops there (ACMEVA_CERT_EMALFORMED). The second applies the
 * rules in the order Boulder's VA applies them (va/tlsalpn.go, validateTLSALPN01), with its
 * reason texts, so that a CA moving from Boulder sees the same problem details.
 */
#include "certcheck.h"

#include "escape.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bytestring.h>
#include <openssl/mem.h>

/* id-pe-acmeIdentifier, 1.3.6.1.5.5.7.1.31 (RFC 8737 §3 and §6.1). */
static const uint8_t kOidAcmeIdentifier[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f};
/* id-ce-subjectAltName, 2.5.29.17 (RFC 5280 §4.2.1.6). */
static const uint8_t kOidSubjectAltName[] = {0x55, 0x1d, 0x11};
/* id-at-commonName, 2.5.4.3 (RFC 5280 appendix A.1). */
static const uint8_t kOidCommonName[] = {0x55, 0x04, 0x03};

/* GeneralName tags (RFC 5280 §4.2.1.6), context-specific and primitive. */
#define GN_RFC822 (CBS_ASN1_CONTEXT_SPECIFIC | 1)
#define GN_DNS (CBS_ASN1_CONTEXT_SPECIFIC | 2)
#define GN_URI (CBS_ASN1_CONTEXT_SPECIFIC | 6)
#define GN_IP (CBS_ASN1_CONTEXT_SPECIFIC | 7)

/* Names listed in a reason, and the bytes kept of each: a reason is for people, not a dump. */
#define MAX_LISTED_NAMES 32
#define MAX_LISTED_NAME_LEN 255
#define NAME_ARENA_LEN 4096

struct cert_ext {
    CBS oid; /* contents of the OBJECT IDENTIFIER */
    int critical;
    CBS value; /* contents of extnValue */
};

/* The certificate's names as Boulder lists them (certAltNames): lowercased text. */
struct name_list {
    struct {
        size_t off, len;
    } v[MAX_LISTED_NAMES];
    size_t n;
    char arena[NAME_ARENA_LEN];
    size_t used;
};

struct cert_view {
    CBS issuer, subject; /* whole Name elements, header included */
    struct cert_ext ext[ACMEVA_CERT_MAX_EXTENSIONS];
    size_t n_ext;
    /* From the subjectAltName extension(s). */
    size_t n_dns, n_ip;
    CBS first_dns, first_ip;
    struct name_list names;
};

/* ---- small text helpers ------------------------------------------------------------------ */

struct sbuf {
    char *p;
    size_t cap; /* including the NUL */
    size_t len;
};

static void sb_init(struct sbuf *b, char *p, size_t cap)
{
    b->p = p;
    b->cap = cap;
    b->len = 0;
    if (cap > 0)
        p[0] = '\0';
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n && b->len + 1 < b->cap; i++)
        b->p[b->len++] = s[i];
    if (b->cap > 0)
        b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 0xf];
    }
    out[2 * n] = '\0';
}

__attribute__((format(printf, 4, 5))) static int fail(char *reason, size_t reason_len, int code,
                                                      const char *fmt, ...)
{
    if (reason != NULL && reason_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, reason_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

/*
 * oid_next reads one subidentifier of the OBJECT IDENTIFIER contents |oid| (X.690 §8.19.2):
 * minimal base-128, at most 64 bits. Returns 1, or 0 when it is truncated, not minimal or
 * too large.
 */
static int oid_next(CBS *oid, uint64_t *out)
{
    uint64_t v = 0;
    uint8_t c;
    if (!CBS_get_u8(oid, &c) || c == 0x80) /* a leading 0x80 is not minimal */
        return 0;
    for (;;) {
        if (v > (UINT64_MAX >> 7))
            return 0;
        v = (v << 7) | (c & 0x7f);
        if (!(c & 0x80))
            break;
        if (!CBS_get_u8(oid, &c))
            return 0;
    }
    *out = v;
    return 1;
}

/* oid_valid returns 1 when |oid| is a valid, non-empty DER OBJECT IDENTIFIER body. */
static int oid_valid(CBS oid)
{
    uint64_t v;
    if (CBS_len(&oid) == 0)
        return 0;
    while (CBS_len(&oid) > 0)
        if (!oid_next(&oid, &v))
            return 0;
    return 1;
}

/* oid_to_text writes the dotted form of a valid OBJECT IDENTIFIER body |oid|. Returns 0, or -1
 * when |oid| is not valid or |out| is too small. */
static int oid_to_text(CBS oid, char *out, size_t outlen)
{
    struct sbuf b;
    if (outlen == 0 || !oid_valid(oid))
        return -1;
    sb_init(&b, out, outlen);
    for (int first = 1; CBS_len(&oid) > 0; first = 0) {
        uint64_t v;
        char num[48];
        if (!oid_next(&oid, &v))
            return -1;
        if (first) {
            /* The first subidentifier packs the first two arcs (X.690 §8.19.4). */
            unsigned arc = v < 40 ? 0 : v < 80 ? 1 : 2;
            snprintf(num, sizeof(num), "%u.%llu", arc, (unsigned long long)(v - 40u * arc));
        } else {
            snprintf(num, sizeof(num), ".%llu", (unsigned long long)v);
        }
        if (b.len + strlen(num) + 1 > b.cap)
            return -1;
        sb_puts(&b, num);
    }
    return 0;
}

/* ip_to_text writes an address the way Go's net.IP.String does: IPv4 and IPv4-mapped IPv6 in
 * dotted form, other IPv6 in RFC 5952 form. |len| is 4 or 16. */
static void ip_to_text(const uint8_t *ip, size_t len, char out[48])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (len == 16 && memcmp(ip, mapped, 12) == 0) {
        ip += 12;
        len = 4;
    }
    if (len == 4) {
        snprintf(out, 48, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
        return;
    }
    uint16_t w[8];
    for (int i = 0; i < 8; i++)
        w[i] = (uint16_t)(ip[2 * i] << 8 | ip[2 * i + 1]);
    /* RFC 5952 §4.2: the longest run of two or more zero groups, the first one on a tie. */
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (w[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && w[j] == 0)
            j++;
        if (j - i > best_len && j - i >= 2) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    struct sbuf b;
    sb_init(&b, out, 48);
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            sb_puts(&b, "::");
            i += best_len - 1;
            continue;
        }
        char g[8];
        snprintf(g, sizeof(g), "%s%x", (i > 0 && i != best + best_len) ? ":" : "", w[i]);
        sb_puts(&b, g);
    }
}

/* names_add keeps a lowercased copy of one name for a reason text (Boulder's certAltNames
 * uses core.UniqueLowerNames). Names past the caps are dropped: the list is informative. */
static void names_add(struct name_list *l, const uint8_t *p, size_t len)
{
    if (len > MAX_LISTED_NAME_LEN)
        len = MAX_LISTED_NAME_LEN;
    if (l->n >= MAX_LISTED_NAMES || NAME_ARENA_LEN - l->used < len)
        return;
    char *dst = l->arena + l->used;
    for (size_t i = 0; i < len; i++)
        dst[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] - 'A' + 'a') : (char)p[i];
    l->v[l->n].off = l->used;
    l->v[l->n].len = len;
    l->n++;
    l->used += len;
}

/* names_less orders two listed names bytewise, as Go's sort.Strings. */
static int names_less(const struct name_list *l, size_t a, size_t b)
{
    size_t al = l->v[a].len, bl = l->v[b].len;
    int c = memcmp(l->arena + l->v[a].off, l->arena + l->v[b].off, al < bl ? al : bl);
    return c < 0 || (c == 0 && al < bl);
}

/*
 * names_quote writes the sorted, unique names joined by ", " as one quoted string, as Boulder
 * writes them with %q. Every name goes through acmeva_escape (the project's one rule for
 * server bytes in problem details: Go's %q for printable text, no control characters, valid
 * UTF-8). What does not fit in |out| is left out and marked with "...".
 */
/* names_sort fills |order| with the indexes of |l|'s names in sorted order. */
static void names_sort(const struct name_list *l, size_t order[MAX_LISTED_NAMES])
{
    for (size_t i = 0; i < l->n; i++)
        order[i] = i;
    /* Insertion sort: at most MAX_LISTED_NAMES entries, and no shared state (qsort has no
     * context argument in C11, and checks run on several threads). */
    for (size_t i = 1; i < l->n; i++)
        for (size_t j = i; j > 0 && names_less(l, order[j], order[j - 1]); j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
}

static void names_quote(const struct name_list *l, char *out, size_t outlen)
{
    /* Room kept for ", ..." and the closing quote after the last name written. */
    const size_t reserve = 8;
    size_t order[MAX_LISTED_NAMES];
    names_sort(l, order);

    struct sbuf b;
    sb_init(&b, out, outlen);
    sb_puts(&b, "\"");
    const char *prev = NULL;
    size_t prev_len = 0, listed = 0;
    for (size_t k = 0; k < l->n; k++) {
        const char *s = l->arena + l->v[order[k]].off;
        size_t len = l->v[order[k]].len;
        if (prev != NULL && prev_len == len && memcmp(prev, s, len) == 0)
            continue;
        prev = s;
        prev_len = len;
        if (b.len + 2 + reserve + 1 >= b.cap) {
            sb_puts(&b, listed ? ", ..." : "...");
            break;
        }
        if (listed++)
            sb_puts(&b, ", ");
        int used = acmeva_escape((const uint8_t *)s, len, b.p + b.len, b.cap - b.len - reserve, 0);
        b.len += strlen(b.p + b.len);
        if (used < 0 || (size_t)used < len) {
            sb_puts(&b, "...");
            break;
        }
    }
    sb_puts(&b, "\"");
}

/* ---- pass 1: the DER walk ---------------------------------------------------------------- */

/* parse_san reads a subjectAltName extnValue: GeneralNames ::= SEQUENCE OF GeneralName
 * (RFC 5280 §4.2.1.6). Returns 0 or -1 (malformed; |*why| says what). */
static int parse_san(CBS value, struct cert_view *v, const char **why)
{
    CBS seq;
    if (!CBS_get_asn1(&value, &seq, CBS_ASN1_SEQUENCE) || CBS_len(&value) != 0) {
        *why = "subjectAltName is not a SEQUENCE";
        return -1;
    }
    while (CBS_len(&seq) > 0) {
        CBS gn;
        unsigned tag;
        if (!CBS_get_any_asn1(&seq, &gn, &tag)) {
            *why = "subjectAltName entry is not DER";
            return -1;
        }
        switch (tag) {
        case GN_DNS:
            if (v->n_dns++ == 0)
                v->first_dns = gn;
            names_add(&v->names, CBS_data(&gn), CBS_len(&gn));
            break;
        case GN_IP: {
            /* RFC 5280 §4.2.1.6: 4 octets for IPv4, 16 for IPv6 (Go's parser refuses others). */
            if (CBS_len(&gn) != 4 && CBS_len(&gn) != 16) {
                *why = "subjectAltName iPAddress is neither 4 nor 16 bytes";
                return -1;
            }
            if (v->n_ip++ == 0)
                v->first_ip = gn;
            char text[48];
            ip_to_text(CBS_data(&gn), CBS_len(&gn), text);
            names_add(&v->names, (const uint8_t *)text, strlen(text));
            break;
        }
        case GN_RFC822:
        case GN_URI:
            names_add(&v->names, CBS_data(&gn), CBS_len(&gn));
            break;
        default:
            /* otherName, directoryName, ...: not a name Boulder lists, but still an entry. */
            break;
        }
    }
    return 0;
}

/* The string types a commonName may have (RFC 5280 DirectoryString, plus IA5String). Go
 * converts BMPString and UniversalString to UTF-8; here their bytes are listed escaped. */
static int is_string_tag(unsigned tag)
{
    return tag == CBS_ASN1_UTF8STRING || tag == CBS_ASN1_PRINTABLESTRING ||
           tag == CBS_ASN1_T61STRING || tag == CBS_ASN1_IA5STRING ||
           tag == CBS_ASN1_UNIVERSALSTRING || tag == CBS_ASN1_BMPSTRING;
}

/* parse_subject_cn walks the subject Name (RDNSequence) and lists its last commonName, which
 * is the one Go's pkix.Name keeps. Returns 0 or -1 (malformed). */
static int parse_subject_cn(CBS subject, struct cert_view *v, const char **why)
{
    CBS rdns, cn;
    int have_cn = 0;
    /* Set although only read when have_cn is: GCC 12 with upstream BoringSSL's inline CBS
     * accessors cannot see that, and -Werror stops the -DBORINGSSL_ROOT build. */
    CBS_init(&cn, NULL, 0);
    if (!CBS_get_asn1(&subject, &rdns, CBS_ASN1_SEQUENCE))
        goto bad;
    while (CBS_len(&rdns) > 0) {
        CBS rdn;
        if (!CBS_get_asn1(&rdns, &rdn, CBS_ASN1_SET) || CBS_len(&rdn) == 0)
            goto bad;
        while (CBS_len(&rdn) > 0) {
            CBS atv, oid, val;
            unsigned tag;
            if (!CBS_get_asn1(&rdn, &atv, CBS_ASN1_SEQUENCE) ||
                !CBS_get_asn1(&atv, &oid, CBS_ASN1_OBJECT) || !CBS_get_any_asn1(&atv, &val, &tag) ||
                CBS_len(&atv) != 0)
                goto bad;
            if (CBS_len(&oid) == sizeof(kOidCommonName) &&
                memcmp(CBS_data(&oid), kOidCommonName, sizeof(kOidCommonName)) == 0 &&
                is_string_tag(tag)) {
                cn = val;
                have_cn = 1;
            }
        }
    }
    if (have_cn && CBS_len(&cn) > 0)
        names_add(&v->names, CBS_data(&cn), CBS_len(&cn));
    return 0;
bad:
    *why = "malformed subject";
    return -1;
}

/* parse_extensions reads Extensions ::= SEQUENCE OF Extension (RFC 5280 §4.1). */
static int parse_extensions(CBS exts, struct cert_view *v, const char **why)
{
    while (CBS_len(&exts) > 0) {
        CBS ext, oid, value;
        int critical = 0;
        if (v->n_ext >= ACMEVA_CERT_MAX_EXTENSIONS) {
            *why = "too many extensions";
            return -1;
        }
        if (!CBS_get_asn1(&exts, &ext, CBS_ASN1_SEQUENCE) ||
            !CBS_get_asn1(&ext, &oid, CBS_ASN1_OBJECT)) {
            *why = "malformed extension";
            return -1;
        }
        if (!oid_valid(oid)) {
            *why = "malformed extension OID";
            return -1;
        }
        /* critical BOOLEAN DEFAULT FALSE. DER omits FALSE; an explicit FALSE is read as
         * non-critical (Go's parser does the same). */
        if (CBS_peek_asn1_tag(&ext, CBS_ASN1_BOOLEAN) && !CBS_get_asn1_bool(&ext, &critical)) {
            *why = "malformed extension critical flag";
            return -1;
        }
        if (!CBS_get_asn1(&ext, &value, CBS_ASN1_OCTETSTRING) || CBS_len(&ext) != 0) {
            *why = "malformed extension value";
            return -1;
        }
        struct cert_ext *e = &v->ext[v->n_ext++];
        e->oid = oid;
        e->critical = critical;
        e->value = value;
        if (CBS_len(&oid) == sizeof(kOidSubjectAltName) &&
            memcmp(CBS_data(&oid), kOidSubjectAltName, sizeof(kOidSubjectAltName)) == 0 &&
            parse_san(value, v, why) != 0)
            return -1;
    }
    return 0;
}

/* parse_cert walks Certificate and TBSCertificate (RFC 5280 §4.1). Returns 0 or -1. */
static int parse_cert(const uint8_t *der, size_t der_len, struct cert_view *v, const char **why)
{
    CBS in, cert, tbs, tmp, skip;
    int present = 0;

    CBS_init(&in, der, der_len);
    if (!CBS_get_asn1(&in, &cert, CBS_ASN1_SEQUENCE) || CBS_len(&in) != 0) {
        *why = "not a DER SEQUENCE";
        return -1;
    }
    if (!CBS_get_asn1(&cert, &tbs, CBS_ASN1_SEQUENCE) ||
        !CBS_get_asn1(&cert, &skip, CBS_ASN1_SEQUENCE) || /* signatureAlgorithm */
        !CBS_get_asn1(&cert, &skip, CBS_ASN1_BITSTRING) || CBS_len(&cert) != 0) {
        *why = "malformed Certificate";
        return -1;
    }
    *why = "malformed TBSCertificate";
    /* version [0] EXPLICIT Version DEFAULT v1 */
    if (!CBS_get_optional_asn1(&tbs, &tmp, &present,
                               CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0))
        return -1;
    if (present) {
        uint64_t version;
        if (!CBS_get_asn1_uint64(&tmp, &version) || CBS_len(&tmp) != 0 || version > 2)
            return -1;
    }
    if (!CBS_get_asn1(&tbs, &skip, CBS_ASN1_INTEGER) ||  /* serialNumber */
        !CBS_get_asn1(&tbs, &skip, CBS_ASN1_SEQUENCE) || /* signature */
        !CBS_get_asn1_element(&tbs, &v->issuer, CBS_ASN1_SEQUENCE) ||
        !CBS_get_asn1(&tbs, &skip, CBS_ASN1_SEQUENCE) || /* validity: never checked */
        !CBS_get_asn1_element(&tbs, &v->subject, CBS_ASN1_SEQUENCE) ||
        !CBS_get_asn1(&tbs, &skip, CBS_ASN1_SEQUENCE)) /* subjectPublicKeyInfo */
        return -1;
    /* issuerUniqueID [1] IMPLICIT, subjectUniqueID [2] IMPLICIT (BIT STRINGs). */
    if (!CBS_get_optional_asn1(&tbs, &skip, NULL, CBS_ASN1_CONTEXT_SPECIFIC | 1) ||
        !CBS_get_optional_asn1(&tbs, &skip, NULL, CBS_ASN1_CONTEXT_SPECIFIC | 2))
        return -1;
    /* extensions [3] EXPLICIT Extensions OPTIONAL */
    if (!CBS_get_optional_asn1(&tbs, &tmp, &present,
                               CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 3) ||
        CBS_len(&tbs) != 0)
        return -1;
    if (present) {
        CBS exts;
        if (!CBS_get_asn1(&tmp, &exts, CBS_ASN1_SEQUENCE) || CBS_len(&tmp) != 0)
            return -1;
        if (parse_extensions(exts, v, why) != 0)
            return -1;
    }
    return parse_subject_cn(v->subject, v, why);
}

/* ---- pass 2: the rules ------------------------------------------------------------------- */

static int oid_is(const CBS *oid, const uint8_t *want, size_t want_len)
{
    return CBS_len(oid) == want_len && memcmp(CBS_data(oid), want, want_len) == 0;
}

static const struct cert_ext *find_ext(const struct cert_view *v, const uint8_t *oid, size_t len)
{
    for (size_t i = 0; i < v->n_ext; i++)
        if (oid_is(&v->ext[i].oid, oid, len))
            return &v->ext[i];
    return NULL;
}

/*
 * self_signed: the issuer equals the subject byte for byte (Boulder: RawSubject == RawIssuer),
 * which tells a challenge certificate from one a CA issued. Boulder also verifies the
 * certificate's signature with its own key; that is left out on purpose, as it proves nothing
 * the rules need:
 *  - RFC 8737 §3 has the client make a self-signed certificate, but the checks it asks of the
 *    server are only these: acme-tls/1 negotiated, a subjectAltName with the identifier and
 *    no other entry, a critical acmeIdentifier with SHA-256(keyAuthorization). BR 3.2.2.4.20
 *    adds nothing to them.
 *  - A self-signature proves that whoever made the certificate held its private key. The
 *    handshake has proven that already, and about the server itself: the client checks the
 *    server's CertificateVerify (TLS 1.3, RFC 8446 §4.4.3) or ServerKeyExchange signature
 *    (TLS 1.2 ECDHE, RFC 8422 §5.4) against this certificate's key, or, with TLS 1.2 RSA key
 *    exchange, the server's Finished proves it decrypted the premaster secret with it (RFC
 *    5246 §7.4.9). The handshake fails otherwise and no certificate reaches this check.
 *  - Control of the identifier is shown by the key authorization's digest being served for
 *    its name, which no signature on the certificate adds to.
 * The verification was a P-256 signature check per validation, as costly as the handshake's
 * (bench/README.md, "tls-alpn-01: where the handshake's CPU goes"). Returns 1 or 0.
 */
static int self_signed(const struct cert_view *v)
{
    return CBS_len(&v->issuer) == CBS_len(&v->subject) &&
           memcmp(CBS_data(&v->issuer), CBS_data(&v->subject), CBS_len(&v->subject)) == 0;
}

static int ascii_equal_fold(const uint8_t *a, size_t a_len, const char *b, size_t b_len)
{
    if (a_len != b_len)
        return 0;
    for (size_t i = 0; i < a_len; i++) {
        uint8_t x = a[i], y = (uint8_t)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (uint8_t)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (uint8_t)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return 1;
}

/* ip_equal compares like Go's net.IP.Equal: an IPv4 address equals its IPv4-mapped form. */
static int ip_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (a_len == b_len)
        return memcmp(a, b, a_len) == 0;
    if (a_len == 16 && b_len == 4)
        return memcmp(a, mapped, 12) == 0 && memcmp(a + 12, b, 4) == 0;
    if (a_len == 4 && b_len == 16)
        return memcmp(b, mapped, 12) == 0 && memcmp(b + 12, a, 4) == 0;
    return 0;
}

/*
 * check_san: the subjectAltName holds the identifier and nothing else (RFC 8737 §3: "a
 * subjectAltName extension containing the dNSName being validated and no other entries";
 * RFC 8738 §6: an iPAddress for IP identifiers). Returns NULL or Boulder's error text.
 * Like Boulder, a dNSName is first compared case-insensitively, then the whole extnValue must
 * equal the DER of exactly one GeneralName with the identifier's bytes, so in the end the
 * name must match byte for byte (job identifiers are lowercase) and no other entry of any
 * type (email, URI, otherName, ...) may be present.
 */
static const char *check_san(const struct cert_view *v, const struct cert_ext *san, int ident_is_ip,
                             const char *dns_name, const uint8_t *ip, size_t ip_len)
{
    CBS value = san->value, seq, gn;
    unsigned tag;
    const uint8_t *want;
    size_t want_len;

    if (!ident_is_ip) {
        if (v->n_dns != 1 || v->n_ip != 0)
            return "wrong number of identifiers";
        if (!ascii_equal_fold(CBS_data(&v->first_dns), CBS_len(&v->first_dns), dns_name,
                              strlen(dns_name)))
            return "identifier does not match expected identifier";
        want = (const uint8_t *)dns_name;
        want_len = strlen(dns_name);
    } else {
        if (v->n_ip != 1 || v->n_dns != 0)
            return "wrong number of identifiers";
        if (!ip_equal(CBS_data(&v->first_ip), CBS_len(&v->first_ip), ip, ip_len))
            return "identifier does not match expected identifier";
        want = ip;
        want_len = ip_len;
    }
    if (!CBS_get_asn1(&value, &seq, CBS_ASN1_SEQUENCE) || CBS_len(&value) != 0 ||
        !CBS_get_any_asn1(&seq, &gn, &tag) || CBS_len(&seq) != 0 ||
        tag != (unsigned)(ident_is_ip ? GN_IP : GN_DNS) || CBS_len(&gn) != want_len ||
        memcmp(CBS_data(&gn), want, want_len) != 0)
        return "SAN extension does not match expected bytes";
    return NULL;
}

static int check_rules(struct cert_view *v, int ident_is_ip, const char *dns_name,
                       const uint8_t *ip, size_t ip_len, const uint8_t digest[32], char *reason,
                       size_t reason_len)
{
    /* 1. Self-signed, by its names (Boulder; validation-rules.md "Leaf certificate:
     *    self-signed"); see self_signed for why the signature is not verified. */
    if (!self_signed(v))
        return fail(reason, reason_len, ACMEVA_CERT_EREJECTED,
                    "Received certificate which is not self-signed.");

    /* 2. No extension twice; acmeIdentifier and subjectAltName present (RFC 8737 §3;
     *    Boulder's checkAcceptableExtensions, quoted with %q). Other extensions are allowed. */
    for (size_t i = 0; i < v->n_ext; i++) {
        for (size_t j = 0; j < i; j++) {
            if (!CBS_mem_equal(&v->ext[i].oid, CBS_data(&v->ext[j].oid), CBS_len(&v->ext[j].oid)))
                continue;
            char oid[128];
            if (oid_to_text(v->ext[i].oid, oid, sizeof(oid)) != 0)
                snprintf(oid, sizeof(oid), "(a long OID)");
            return fail(reason, reason_len, ACMEVA_CERT_EREJECTED,
                        "Received certificate with unexpected extensions: "
                        "\"Extension OID %s seen twice\"",
                        oid);
        }
    }
    const struct cert_ext *acme = find_ext(v, kOidAcmeIdentifier, sizeof(kOidAcmeIdentifier));
    if (acme == NULL)
        return fail(reason, reason_len, ACMEVA_CERT_EREJECTED,
                    "Received certificate with unexpected extensions: "
                    "\"Required extension OID 1.3.6.1.5.5.7.1.31 is not present\"");
    const struct cert_ext *san = find_ext(v, kOidSubjectAltName, sizeof(kOidSubjectAltName));
    if (san == NULL)
        return fail(reason, reason_len, ACMEVA_CERT_EREJECTED,
                    "Received certificate with unexpected extensions: "
                    "\"Required extension OID 2.5.29.17 is not present\"");

    /* 3. Exactly the identifier in the subjectAltName (RFC 8737 §3, RFC 8738 §6). */
    const char *san_err = check_san(v, san, ident_is_ip, dns_name, ip, ip_len);
    if (san_err != NULL) {
        char names[1024];
        names_quote(&v->names, names, sizeof(names));
        return fail(reason, reason_len, ACMEVA_CERT_EREJECTED,
                    "Received certificate with unexpected identifiers (%s): \"%s\"", names,
                    san_err);
    }

    /* 4. acmeIdentifier: critical, and its extnValue is exactly the DER of
     *    Authorization ::= OCTET STRING (SIZE (32)) holding SHA-256(keyAuthorization)
     *    (RFC 8737 §3). */
    if (!acme->critical)
        return fail(reason, reason_len, ACMEVA_CERT_EREJECTED,
                    "Received certificate with acmeValidationV1 extension that is not Critical.");
    CBS value = acme->value, hash;
    if (!CBS_get_asn1(&value, &hash, CBS_ASN1_OCTETSTRING) || CBS_len(&value) != 0 ||
        CBS_len(&hash) != 32)
        return fail(reason, reason_len, ACMEVA_CERT_EREJECTED,
                    "Received certificate with malformed acmeValidationV1 extension value.");
    if (CRYPTO_memcmp(CBS_data(&hash), digest, 32) != 0) {
        char got[65], want[65];
        hex_encode(CBS_data(&hash), 32, got);
        hex_encode(digest, 32, want);
        return fail(
            reason, reason_len, ACMEVA_CERT_EREJECTED,
            "Received certificate with acmeValidationV1 extension value %s but expected %s.", got,
            want);
    }
    return ACMEVA_CERT_OK;
}

int acmeva_tlsalpn01_check_cert(const uint8_t *der, size_t der_len, int ident_is_ip,
                                const char *dns_name, const uint8_t *ip, size_t ip_len,
                                const uint8_t digest[32], char *reason, size_t reason_len)
{
    if (reason != NULL && reason_len > 0)
        reason[0] = '\0';
    if ((der == NULL && der_len > 0) || digest == NULL || (reason == NULL && reason_len > 0) ||
        (ident_is_ip ? (ip == NULL || (ip_len != 4 && ip_len != 16)) : dns_name == NULL))
        return fail(reason, reason_len, ACMEVA_CERT_EINVAL, "Internal error: bad arguments.");
    if (der_len > ACMEVA_CERT_MAX_DER)
        return fail(reason, reason_len, ACMEVA_CERT_EMALFORMED,
                    "Received certificate of %zu bytes, more than the %d allowed.", der_len,
                    ACMEVA_CERT_MAX_DER);

    /* The view holds a 4 KiB name arena: keep it off the (possibly small) loop thread stack. */
    struct cert_view *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return fail(reason, reason_len, ACMEVA_CERT_ENOMEM, "Internal error: out of memory.");
    const char *why = NULL;
    int rc;
    if (parse_cert(der, der_len, v, &why) != 0)
        rc = fail(reason, reason_len, ACMEVA_CERT_EMALFORMED,
                  "Received certificate that could not be parsed (%s).", why);
    else
        rc = check_rules(v, ident_is_ip, dns_name, ip, ip_len, digest, reason, reason_len);
    free(v);
    return rc;
}

int acmeva_cert_names(const uint8_t *der, size_t der_len, acmeva_strlist *out)
{
    if ((der == NULL && der_len > 0) || out == NULL)
        return ACMEVA_CERT_EINVAL;
    if (der_len > ACMEVA_CERT_MAX_DER)
        return ACMEVA_CERT_EMALFORMED;
    struct cert_view *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return ACMEVA_CERT_ENOMEM;
    const char *why = NULL;
    int rc = ACMEVA_CERT_OK;
    if (parse_cert(der, der_len, v, &why) != 0) {
        rc = ACMEVA_CERT_EMALFORMED;
        goto out;
    }
    size_t order[MAX_LISTED_NAMES];
    names_sort(&v->names, order);
    const char *prev = NULL;
    size_t prev_len = 0;
    for (size_t k = 0; k < v->names.n; k++) {
        const char *s = v->names.arena + v->names.v[order[k]].off;
        size_t len = v->names.v[order[k]].len;
        if (prev != NULL && prev_len == len && memcmp(prev, s, len) == 0)
            continue;
        prev = s;
        prev_len = len;
        /* Certificate bytes: escaped like every server byte that reaches a record. */
        char *esc = acmeva_escape_dup((const uint8_t *)s, len, 0);
        if (esc == NULL || acmeva_strlist_add(out, esc, strlen(esc)) != 0) {
            free(esc);
            rc = ACMEVA_CERT_ENOMEM;
            goto out;
        }
        free(esc);
    }
out:
    free(v);
    return rc;
}

int acmeva_tlsalpn01_reverse_name(int family, const uint8_t *ip, char *out, size_t outlen)
{
    if (ip == NULL || out == NULL || outlen == 0)
        return -1;
    if (family == AF_INET) {
        /* RFC 8738 §6 via RFC 1035 §3.5: octets in reverse order under in-addr.arpa. */
        int n = snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa", ip[3], ip[2], ip[1], ip[0]);
        if (n > 0 && (size_t)n < outlen)
            return 0;
        out[0] = '\0';
        return -1;
    }
    if (family == AF_INET6) {
        /* RFC 8738 §6 via RFC 3596 §2.5: nibbles in reverse order under ip6.arpa. */
        static const char hex[] = "0123456789abcdef";
        static const char suffix[] = "ip6.arpa";
        if (outlen < 64 + sizeof(suffix)) {
            out[0] = '\0';
            return -1;
        }
        size_t k = 0;
        for (int i = 15; i >= 0; i--) {
            out[k++] = hex[ip[i] & 0xf];
            out[k++] = '.';
            out[k++] = hex[ip[i] >> 4];
            out[k++] = '.';
        }
        memcpy(out + k, suffix, sizeof(suffix));
        return 0;
    }
    out[0] = '\0';
    return -1;
}
