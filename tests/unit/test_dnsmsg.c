/*
 * Unit tests of the DNS message codec (worker/dnsmsg.c): exact query bytes, hand-built
 * responses of every shape the engine meets, and malformed ones (truncation at every length,
 * compression loops, bad counts and lengths), which must fail cleanly.
 */
#include "check.h"
#include "dnsmsg.h"
#include "resolver.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ---- a small writer for hand-made messages ---------------------------------------------- */

typedef struct wbuf {
    uint8_t b[70000];
    size_t n;
} wbuf;

static void w8(wbuf *w, unsigned v)
{
    w->b[w->n++] = (uint8_t)v;
}

static void w16(wbuf *w, unsigned v)
{
    w8(w, v >> 8);
    w8(w, v & 0xff);
}

static void w32(wbuf *w, uint32_t v)
{
    w16(w, v >> 16);
    w16(w, v & 0xffff);
}

static void wbytes(wbuf *w, const void *p, size_t n)
{
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

/* An uncompressed name; "" is the root. */
static void wname(wbuf *w, const char *name)
{
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        w8(w, (unsigned)l);
        wbytes(w, p, l);
        p += l;
        if (*p == '.')
            p++;
    }
    w8(w, 0);
}

static void wptr(wbuf *w, size_t off)
{
    w16(w, 0xC000u | (unsigned)off);
}

static void whdr(wbuf *w, unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns,
                 unsigned ar)
{
    w->n = 0;
    w16(w, id);
    w16(w, flags);
    w16(w, qd);
    w16(w, an);
    w16(w, ns);
    w16(w, ar);
}

static void wquestion(wbuf *w, const char *name, unsigned type)
{
    wname(w, name);
    w16(w, type);
    w16(w, ACMEVA_DNS_CLASS_IN);
}

/* The fixed part of a record after its owner; the caller writes |rdlen| bytes of rdata. */
static void wrr_fixed(wbuf *w, unsigned type, uint32_t ttl, unsigned rdlen)
{
    w16(w, type);
    w16(w, ACMEVA_DNS_CLASS_IN);
    w32(w, ttl);
    w16(w, rdlen);
}

/* A record whose owner is a pointer to the question name (offset 12). */
static void wrr_q(wbuf *w, unsigned type, const void *rdata, size_t rdlen)
{
    wptr(w, 12);
    wrr_fixed(w, type, 300, (unsigned)rdlen);
    wbytes(w, rdata, rdlen);
}

#define RESP_FLAGS 0x8180u /* QR, RD, RA, NOERROR */

static acmeva_dns_msg *M; /* heap: the struct is ~28 KB */

static int parse(const wbuf *w)
{
    return acmeva_dns_parse(w->b, w->n, M);
}

/* The presented owner of answer |i| of M ("<error>" when it cannot be presented). */
static const char *owner(size_t i)
{
    static char buf[256];
    if (acmeva_dns_rr_owner(M, &M->answers[i], buf) != 0)
        return "<error>";
    return buf;
}

/* ---- queries ----------------------------------------------------------------------------- */

static void test_build_query(void)
{
    uint8_t buf[512];
    /* clang-format off */
    static const uint8_t want[] = {
        0x12, 0x34, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* header */
        7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0x00, 0x10, 0x00, 0x01,
        0, 0x00, 0x29, 0x04, 0xD0, 0, 0, 0, 0, 0x00, 0x00, /* OPT, 1232, DO clear */
    };
    /* clang-format on */
    int n = acmeva_dns_build_query(buf, sizeof(buf), 0x1234, "Example.com", ACMEVA_DNS_TXT, 1232);
    CHECK_INT(n, sizeof(want));
    CHECK(n == (int)sizeof(want) && memcmp(buf, want, sizeof(want)) == 0);
    CHECK((buf[2] & 0x01) && (buf[3] & 0x20)); /* RD and AD */

    uint8_t buf2[512];
    n = acmeva_dns_build_query(buf2, sizeof(buf2), 0x1234, "Example.com.", ACMEVA_DNS_TXT, 1232);
    CHECK(n == (int)sizeof(want) && memcmp(buf2, want, sizeof(want)) == 0);

    /* No EDNS: no OPT, arcount 0. */
    n = acmeva_dns_build_query(buf, sizeof(buf), 0x1234, "Example.com", ACMEVA_DNS_TXT, 0);
    CHECK_INT(n, sizeof(want) - 11);
    CHECK(n > 12 && buf[11] == 0 && memcmp(buf + 12, want + 12, (size_t)n - 12) == 0);

    /* The root. */
    n = acmeva_dns_build_query(buf, sizeof(buf), 7, ".", ACMEVA_DNS_CAA, 0);
    CHECK_INT(n, 17);
    CHECK(n == 17 && buf[12] == 0 && buf[13] == 0x01 && buf[14] == 0x01);

    /* Exact fit and one byte short. */
    CHECK_INT(acmeva_dns_build_query(buf, sizeof(want), 1, "example.com", 16, 1232), sizeof(want));
    CHECK_INT(acmeva_dns_build_query(buf, sizeof(want) - 1, 1, "example.com", 16, 1232),
              ACMEVA_DNS_ENOSPC);

    /* Bad names. */
    char l64[80];
    memset(l64, 'a', 64);
    memcpy(l64 + 64, ".com", 5);
    CHECK_INT(acmeva_dns_build_query(buf, sizeof(buf), 1, l64, 16, 0), ACMEVA_DNS_EBADNAME);
    l64[1] = '.'; /* "a." + 62 a's: fine */
    CHECK(acmeva_dns_build_query(buf, sizeof(buf), 1, l64, 16, 0) > 0);
    CHECK_INT(acmeva_dns_build_query(buf, sizeof(buf), 1, "", 16, 0), ACMEVA_DNS_EBADNAME);
    CHECK_INT(acmeva_dns_build_query(buf, sizeof(buf), 1, "a..b", 16, 0), ACMEVA_DNS_EBADNAME);
    CHECK_INT(acmeva_dns_build_query(buf, sizeof(buf), 1, ".a", 16, 0), ACMEVA_DNS_EBADNAME);
    CHECK_INT(acmeva_dns_build_query(buf, sizeof(buf), 1, "a b.com", 16, 0), ACMEVA_DNS_EBADNAME);
    CHECK_INT(acmeva_dns_build_query(buf, sizeof(buf), 1, "a.com..", 16, 0), ACMEVA_DNS_EBADNAME);
    CHECK_INT(acmeva_dns_build_query(NULL, 10, 1, "a.com", 16, 0), ACMEVA_DNS_EINVAL);

    /* 253 characters is the most; 254 is refused. */
    char longname[300];
    size_t p = 0;
    for (int i = 0; i < 3; i++) {
        memset(longname + p, 'b', 63);
        p += 63;
        longname[p++] = '.';
    }
    memset(longname + p, 'c', 61);
    p += 61;
    longname[p] = '\0';
    CHECK_INT(strlen(longname), 253);
    n = acmeva_dns_build_query(buf, sizeof(buf), 1, longname, 16, 0);
    CHECK_INT(n, 12 + 255 + 4);
    longname[p] = 'c';
    longname[p + 1] = '\0';
    CHECK_INT(acmeva_dns_build_query(buf, sizeof(buf), 1, longname, 16, 0), ACMEVA_DNS_EBADNAME);

    /* A built query parses back, and is not a response to itself. */
    n = acmeva_dns_build_query(buf, sizeof(buf), 0xBEEF, "_acme-challenge.Example.ORG", 16, 4096);
    CHECK(n > 0);
    CHECK_INT(acmeva_dns_parse(buf, (size_t)n, M), 0);
    CHECK_STR(M->qname, "_acme-challenge.example.org");
    CHECK(M->rd == 1 && M->ad == 1 && M->qr == 0 && M->edns == 1 && M->edns_do == 0);
    CHECK_INT(M->edns_udp_size, 4096);
    CHECK_INT(acmeva_dns_match_reply(buf, (size_t)n, buf, (size_t)n, M), ACMEVA_DNS_ENOTRESP);
}

/* ---- TXT, CAA, A/AAAA, CNAME ------------------------------------------------------------- */

static void test_txt(void)
{
    wbuf *w = malloc(sizeof(*w));
    char out[1024];

    whdr(w, 0x55AA, RESP_FLAGS, 1, 1, 0, 0);
    wquestion(w, "_acme-challenge.example.com", ACMEVA_DNS_TXT);
    static const uint8_t one[] = {11, 'h', 'e', 'l', 'l', 'o', '-', 'w', 'o', 'r', 'l', 'd'};
    wrr_q(w, ACMEVA_DNS_TXT, one, sizeof(one));
    CHECK_INT(parse(w), 0);
    CHECK_INT(M->n_answers, 1);
    CHECK_INT(M->rcode, ACMEVA_RCODE_NOERROR);
    CHECK_STR(owner(0), "_acme-challenge.example.com");
    CHECK_INT(M->answers[0].type, ACMEVA_DNS_TXT);
    CHECK_INT(M->answers[0].ttl, 300);
    CHECK_INT(acmeva_dns_txt_join(M->answers[0].rdata, M->answers[0].rdlen, out, sizeof(out)), 11);
    CHECK_STR(out, "hello-world");

    /* Several strings of one record are joined. */
    whdr(w, 1, RESP_FLAGS, 1, 1, 0, 0);
    wquestion(w, "t.example", ACMEVA_DNS_TXT);
    static const uint8_t several[] = {3, 'a', 'b', 'c', 0, 2, 'd', 'e', 1, 'f'};
    wrr_q(w, ACMEVA_DNS_TXT, several, sizeof(several));
    CHECK_INT(parse(w), 0);
    CHECK_INT(acmeva_dns_txt_join(M->answers[0].rdata, M->answers[0].rdlen, out, sizeof(out)), 6);
    CHECK_STR(out, "abcdef");
    /* Too small for the value plus its NUL, and exactly enough. */
    CHECK_INT(acmeva_dns_txt_join(several, sizeof(several), out, 6), ACMEVA_DNS_ETOOLONG);
    CHECK_INT(acmeva_dns_txt_join(several, sizeof(several), out, 7), 6);
    CHECK_INT(acmeva_dns_txt_join(several, sizeof(several), out, 0), ACMEVA_DNS_ETOOLONG);

    /* A 255-byte string (the most one can hold) joined with another. */
    uint8_t big[300];
    big[0] = 255;
    memset(big + 1, 'x', 255);
    big[256] = 2;
    big[257] = 'y';
    big[258] = 'z';
    CHECK_INT(acmeva_dns_txt_join(big, 259, out, sizeof(out)), 257);
    CHECK(out[254] == 'x' && out[255] == 'y' && out[256] == 'z' && out[257] == '\0');

    /* Empty rdata joins to "". */
    whdr(w, 1, RESP_FLAGS, 1, 1, 0, 0);
    wquestion(w, "t.example", ACMEVA_DNS_TXT);
    wrr_q(w, ACMEVA_DNS_TXT, "", 0);
    CHECK_INT(parse(w), 0);
    CHECK_INT(M->answers[0].rdlen, 0);
    out[0] = 'q';
    CHECK_INT(acmeva_dns_txt_join(M->answers[0].rdata, M->answers[0].rdlen, out, sizeof(out)), 0);
    CHECK_STR(out, "");

    /* A string running past the rdata. */
    static const uint8_t bad[] = {3, 'a', 'b', 'c', 5, 'd'};
    CHECK_INT(acmeva_dns_txt_join(bad, sizeof(bad), out, sizeof(out)), ACMEVA_DNS_ERDATA);
    CHECK_INT(acmeva_dns_txt_join(bad, 4, out, sizeof(out)), 3);
    free(w);
}

static void test_caa(void)
{
    wbuf *w = malloc(sizeof(*w));
    acmeva_caa_rr caa;

    whdr(w, 9, RESP_FLAGS, 1, 3, 0, 0);
    wquestion(w, "example.com", ACMEVA_DNS_CAA);
    static const uint8_t c0[] = {0, 5, 'i', 's', 's', 'u', 'e', 'c', 'a', '.', 'e', 'x'};
    static const uint8_t c128[] = {128, 3, 't', 'b', 's', 'U', 'n', 'k'};
    static const uint8_t cmix[] = {0, 9, 'I', 's', 'S', 'u', 'E', 'w', 'I', 'l', 'D', ';'};
    wrr_q(w, ACMEVA_DNS_CAA, c0, sizeof(c0));
    wrr_q(w, ACMEVA_DNS_CAA, c128, sizeof(c128));
    wrr_q(w, ACMEVA_DNS_CAA, cmix, sizeof(cmix));
    CHECK_INT(parse(w), 0);
    CHECK_INT(M->n_answers, 3);

    CHECK_INT(acmeva_dns_caa_parse(M->answers[0].rdata, M->answers[0].rdlen, &caa), 0);
    CHECK_INT(caa.flags, 0);
    CHECK_STR(caa.tag, "issue");
    CHECK_INT(caa.tag_len, 5);
    CHECK(caa.value_len == 5 && memcmp(caa.value, "ca.ex", 5) == 0);

    CHECK_INT(acmeva_dns_caa_parse(M->answers[1].rdata, M->answers[1].rdlen, &caa), 0);
    CHECK_INT(caa.flags, 128);
    CHECK_STR(caa.tag, "tbs");
    CHECK(caa.value_len == 3 && memcmp(caa.value, "Unk", 3) == 0);

    CHECK_INT(acmeva_dns_caa_parse(M->answers[2].rdata, M->answers[2].rdlen, &caa), 0);
    CHECK_STR(caa.tag, "IsSuEwIlD"); /* copied as given */
    CHECK(caa.value_len == 1 && caa.value[0] == ';');

    /* Malformed: too short, empty tag, tag past the end, non-alnum tag. Empty value is fine. */
    static const uint8_t e1[] = {0};
    static const uint8_t e2[] = {0, 0, 'x'};
    static const uint8_t e3[] = {0, 6, 'i', 's', 's', 'u', 'e'};
    static const uint8_t e4[] = {0, 5, 'i', 's', '-', 'u', 'e', 'x'};
    static const uint8_t ok[] = {0, 5, 'i', 's', 's', 'u', 'e'};
    CHECK_INT(acmeva_dns_caa_parse(e1, sizeof(e1), &caa), ACMEVA_DNS_ERDATA);
    CHECK_INT(acmeva_dns_caa_parse(e2, sizeof(e2), &caa), ACMEVA_DNS_ERDATA);
    CHECK_INT(acmeva_dns_caa_parse(e3, sizeof(e3), &caa), ACMEVA_DNS_ERDATA);
    CHECK_INT(acmeva_dns_caa_parse(e4, sizeof(e4), &caa), ACMEVA_DNS_ERDATA);
    CHECK_INT(acmeva_dns_caa_parse(ok, sizeof(ok), &caa), 0);
    CHECK_INT(caa.value_len, 0);

    /* A 255-byte tag. */
    uint8_t t255[260];
    t255[0] = 0;
    t255[1] = 255;
    memset(t255 + 2, 'T', 255);
    CHECK_INT(acmeva_dns_caa_parse(t255, 257, &caa), 0);
    CHECK(caa.tag_len == 255 && caa.tag[254] == 'T' && caa.tag[255] == '\0');
    free(w);
}

static void test_addr(void)
{
    wbuf *w = malloc(sizeof(*w));
    uint8_t a[16];
    int family = 0;
    static const uint8_t v4[] = {192, 0, 2, 1};
    static const uint8_t v6[] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

    whdr(w, 3, RESP_FLAGS, 1, 3, 0, 0);
    wquestion(w, "Host.Example.NET", ACMEVA_DNS_A);
    wrr_q(w, ACMEVA_DNS_A, v4, 4);
    wrr_q(w, ACMEVA_DNS_AAAA, v6, 16);
    wrr_q(w, ACMEVA_DNS_A, v6, 16); /* wrong length for A */
    CHECK_INT(parse(w), 0);
    CHECK_STR(M->qname, "host.example.net");
    CHECK_STR(owner(0), "host.example.net");

    CHECK_INT(acmeva_dns_addr(&M->answers[0], &family, a), 0);
    CHECK_INT(family, AF_INET);
    CHECK(memcmp(a, v4, 4) == 0);
    CHECK_INT(acmeva_dns_addr(&M->answers[1], &family, a), 0);
    CHECK_INT(family, AF_INET6);
    CHECK(memcmp(a, v6, 16) == 0);
    CHECK_INT(acmeva_dns_addr(&M->answers[2], &family, a), ACMEVA_DNS_ERDATA);

    acmeva_dns_rr txt = M->answers[0];
    txt.type = ACMEVA_DNS_TXT;
    CHECK_INT(acmeva_dns_addr(&txt, &family, a), ACMEVA_DNS_ETYPE);
    txt.type = ACMEVA_DNS_A;
    txt.klass = 3; /* CH */
    CHECK_INT(acmeva_dns_addr(&txt, &family, a), ACMEVA_DNS_ETYPE);
    free(w);
}

static void test_cname_chain(void)
{
    wbuf *w = malloc(sizeof(*w));
    char target[256];

    whdr(w, 0x0102, RESP_FLAGS | 0x0020u, 1, 3, 0, 0);
    wquestion(w, "_acme-challenge.example.com", ACMEVA_DNS_TXT);
    /* _acme-challenge.example.com CNAME x.Other.net (uncompressed) */
    wptr(w, 12);
    size_t rdlen_at = w->n + 8;
    wrr_fixed(w, ACMEVA_DNS_CNAME, 60, 0);
    size_t x_at = w->n;
    wname(w, "x.Other.net");
    w->b[rdlen_at + 1] = (uint8_t)(w->n - x_at);
    /* x.other.net CNAME y.<pointer to other.net> */
    wptr(w, x_at);
    wrr_fixed(w, ACMEVA_DNS_CNAME, 60, 4);
    w8(w, 1);
    w8(w, 'y');
    wptr(w, x_at + 2);
    /* y.other.net TXT "v" */
    size_t y_at = w->n - 4;
    wptr(w, y_at);
    wrr_fixed(w, ACMEVA_DNS_TXT, 60, 2);
    w8(w, 1);
    w8(w, 'v');

    CHECK_INT(parse(w), 0);
    CHECK_INT(M->ad, 1);
    CHECK_INT(M->n_answers, 3);
    CHECK_STR(owner(0), "_acme-challenge.example.com");
    CHECK_INT(acmeva_dns_cname_target(M, &M->answers[0], target), 0);
    CHECK_STR(target, "x.other.net");
    CHECK_STR(owner(1), "x.other.net");
    CHECK_INT(acmeva_dns_cname_target(M, &M->answers[1], target), 0);
    CHECK_STR(target, "y.other.net");
    CHECK_STR(owner(2), "y.other.net");
    CHECK_INT(M->answers[2].type, ACMEVA_DNS_TXT);
    CHECK_INT(acmeva_dns_cname_target(M, &M->answers[2], target), ACMEVA_DNS_ETYPE);

    /* The chain as a validation record lists it (resolver.c): each target in order from the
     * question name, once, whatever the letter case of the question. */
    acmeva_strlist chain = {0};
    acmeva_dns_answer_cnames(M, &chain);
    CHECK_INT(chain.n, 2);
    if (chain.n == 2) {
        CHECK_STR(chain.v[0], "x.other.net");
        CHECK_STR(chain.v[1], "y.other.net");
    }
    acmeva_dns_answer_cnames(M, &chain); /* the AAAA answer of the same name: listed once */
    CHECK_INT(chain.n, 2);
    acmeva_strlist_clear(&chain);
    M->qname[0] = '_';
    memcpy(M->qname + 1, "ACME-Challenge", 14); /* 0x20 case: the chain is still found */
    acmeva_dns_answer_cnames(M, &chain);
    CHECK_INT(chain.n, 2);
    acmeva_strlist_clear(&chain);
    snprintf(M->qname, sizeof(M->qname), "elsewhere.example");
    acmeva_dns_answer_cnames(M, &chain);
    CHECK_INT(chain.n, 0);

    /* A CNAME whose rdlen is longer than its name is malformed. */
    acmeva_dns_rr r = M->answers[1];
    r.rdlen = 5;
    CHECK_INT(acmeva_dns_cname_target(M, &r, target), ACMEVA_DNS_ERDATA);
    /* An rr from elsewhere is refused. */
    static const uint8_t other[4] = {1, 'a', 0, 0};
    r.rdata = other;
    r.rdlen = 3;
    CHECK_INT(acmeva_dns_cname_target(M, &r, target), ACMEVA_DNS_EINVAL);
    free(w);
}

/* ---- header: rcodes, flags, counts ------------------------------------------------------- */

static void test_rcodes_and_flags(void)
{
    wbuf *w = malloc(sizeof(*w));
    static const struct {
        unsigned rcode;
        const char *name;
    } rc[] = {{3, "NXDOMAIN"}, {2, "SERVFAIL"}, {5, "REFUSED"}, {4, "NOTIMP"}, {1, "FORMERR"}};
    for (size_t i = 0; i < sizeof(rc) / sizeof(rc[0]); i++) {
        whdr(w, 77, 0x8180u | rc[i].rcode, 1, 0, 0, 0);
        wquestion(w, "missing.example", ACMEVA_DNS_TXT);
        CHECK_INT(parse(w), 0);
        CHECK_INT(M->rcode, rc[i].rcode);
        CHECK_STR(acmeva_dns_rcode_name(M->rcode), rc[i].name);
        CHECK_INT(M->n_answers, 0);
    }
    CHECK_STR(acmeva_dns_rcode_name(0), "NOERROR");
    CHECK_STR(acmeva_dns_rcode_name(23), "OTHER");
    char nb[16];
    CHECK_INT(acmeva_dns_rcode_format(23, nb, sizeof(nb)), 0);
    CHECK_STR(nb, "RCODE23");
    CHECK_INT(acmeva_dns_rcode_format(3, nb, sizeof(nb)), 0);
    CHECK_STR(nb, "NXDOMAIN");

    /* AD, TC, AA, CD flags. */
    whdr(w, 1, 0x8180u | 0x0020u, 1, 0, 0, 0);
    wquestion(w, "a.example", 1);
    CHECK_INT(parse(w), 0);
    CHECK(M->ad == 1 && M->tc == 0 && M->qr == 1 && M->ra == 1 && M->cd == 0);
    whdr(w, 1, 0x8180u | 0x0200u, 1, 0, 0, 0);
    wquestion(w, "a.example", 1);
    CHECK_INT(parse(w), 0);
    CHECK(M->tc == 1 && M->ad == 0);
    whdr(w, 1, 0x8580u | 0x0010u, 1, 0, 0, 0);
    wquestion(w, "a.example", 1);
    CHECK_INT(parse(w), 0);
    CHECK(M->aa == 1 && M->cd == 1);

    free(w);
}

/* Every record a message holds is kept: 150 TXT records with the one that matters last, and
 * a 65535-octet message of the smallest records possible. */
static void test_many_answers(void)
{
    wbuf *w = malloc(sizeof(*w));
    char out[64];
    whdr(w, 5, RESP_FLAGS, 1, 150, 0, 0);
    wquestion(w, "_acme-challenge.many.example", ACMEVA_DNS_TXT);
    for (unsigned i = 0; i < 150; i++) {
        char v[16];
        int l = snprintf(v + 1, sizeof(v) - 1, "record-%u", i + 1);
        v[0] = (char)l;
        wrr_q(w, ACMEVA_DNS_TXT, v, (size_t)l + 1);
    }
    CHECK_INT(parse(w), 0);
    CHECK_INT(M->n_answers, 150);
    CHECK_INT(acmeva_dns_txt_join(M->answers[149].rdata, M->answers[149].rdlen, out, sizeof(out)),
              10);
    CHECK_STR(out, "record-150");
    CHECK_STR(owner(149), "_acme-challenge.many.example");
    CHECK_INT(acmeva_dns_answer_chain(M), 0);
    CHECK_INT(M->n_answers, 150);

    /* A bad last record fails the message. */
    w->b[w->n - 23] = 0xFF;
    w->b[w->n - 22] = 0xFF; /* the last owner: a pointer past the end */
    CHECK_INT(parse(w), ACMEVA_DNS_EPTR);

    /* The most records a message can hold: root owner, no rdata, 11 octets each. */
    whdr(w, 6, RESP_FLAGS, 0, ACMEVA_DNS_MAX_RECORDS, 0, 0);
    for (unsigned i = 0; i < ACMEVA_DNS_MAX_RECORDS; i++) {
        w8(w, 0);
        wrr_fixed(w, ACMEVA_DNS_TXT, 1, 0);
    }
    CHECK(w->n <= ACMEVA_DNS_MAX_MESSAGE);
    CHECK_INT(parse(w), 0);
    CHECK_INT(M->n_answers, ACMEVA_DNS_MAX_RECORDS);
    CHECK_STR(owner(ACMEVA_DNS_MAX_RECORDS - 1), "");
    /* One more cannot fit in 65535 octets; a longer buffer is not a DNS message. */
    w->b[6] = (uint8_t)((ACMEVA_DNS_MAX_RECORDS + 1) >> 8);
    w->b[7] = (uint8_t)(ACMEVA_DNS_MAX_RECORDS + 1);
    w8(w, 0);
    wrr_fixed(w, ACMEVA_DNS_TXT, 1, 0);
    CHECK(w->n > ACMEVA_DNS_MAX_MESSAGE);
    CHECK_INT(parse(w), ACMEVA_DNS_EMSGLEN);
    free(w);
}

/* ---- replies: matching the query, 0x20 --------------------------------------------------- */

/* A reply to |q| (a built query): its header and question, then an A record. */
static void wreply(wbuf *w, const uint8_t *q, size_t qlen, unsigned flags)
{
    w->n = 0;
    wbytes(w, q, qlen - 11); /* the query without its OPT record */
    w->b[2] = (uint8_t)(flags >> 8);
    w->b[3] = (uint8_t)flags;
    w->b[7] = 1;  /* ancount */
    w->b[11] = 0; /* arcount */
    wrr_q(w, ACMEVA_DNS_A, "\x7f\x00\x00\x01", 4);
}

static void test_match_reply(void)
{
    wbuf *w = malloc(sizeof(*w));
    uint8_t q[512];
    int n = acmeva_dns_build_query(q, sizeof(q), 0xC0DE, "wWw.ExAmple.COM", ACMEVA_DNS_A, 1232);
    CHECK(n > 0);
    size_t ql = (size_t)n;

    wreply(w, q, ql, RESP_FLAGS);
    CHECK_INT(acmeva_dns_match_reply(q, ql, w->b, w->n, M), 0);
    CHECK_STR(M->qname, "www.example.com");
    CHECK_INT(M->n_answers, 1);

    /* The id. */
    w->b[1] ^= 1;
    CHECK_INT(acmeva_dns_match_reply(q, ql, w->b, w->n, M), ACMEVA_DNS_EID);
    /* Not a response: QR clear, or another opcode. */
    wreply(w, q, ql, RESP_FLAGS & ~0x8000u);
    CHECK_INT(acmeva_dns_match_reply(q, ql, w->b, w->n, M), ACMEVA_DNS_ENOTRESP);
    wreply(w, q, ql, RESP_FLAGS | (2u << 11));
    CHECK_INT(acmeva_dns_match_reply(q, ql, w->b, w->n, M), ACMEVA_DNS_ENOTRESP);
    /* The name in another case: the 0x20 bits do not match. */
    wreply(w, q, ql, RESP_FLAGS);
    w->b[13] = 'W';
    CHECK_INT(acmeva_dns_match_reply(q, ql, w->b, w->n, M), ACMEVA_DNS_ECASE);
    /* Another name of the same length. */
    wreply(w, q, ql, RESP_FLAGS);
    w->b[13] = 'x';
    CHECK_INT(acmeva_dns_match_reply(q, ql, w->b, w->n, M), ACMEVA_DNS_EQUESTION);
    /* Another type or class. */
    wreply(w, q, ql, RESP_FLAGS);
    w->b[ql - 11 - 3] = ACMEVA_DNS_AAAA;
    CHECK_INT(acmeva_dns_match_reply(q, ql, w->b, w->n, M), ACMEVA_DNS_EQUESTION);
    wreply(w, q, ql, RESP_FLAGS);
    w->b[ql - 11 - 1] = 3; /* class CH */
    CHECK_INT(acmeva_dns_match_reply(q, ql, w->b, w->n, M), ACMEVA_DNS_EQUESTION);
    /* Types whose bytes are letters apart in case (0x41 and 0x61) differ: no case folding
     * outside the name. */
    uint8_t q2[512];
    int n2 = acmeva_dns_build_query(q2, sizeof(q2), 9, "a.example", 0x41, 0);
    CHECK(n2 > 0);
    w->n = 0;
    wbytes(w, q2, (size_t)n2);
    w->b[2] = 0x81;
    w->b[3] = 0x80;
    CHECK_INT(acmeva_dns_match_reply(q2, (size_t)n2, w->b, w->n, M), 0);
    w->b[w->n - 3] = 0x61;
    CHECK_INT(acmeva_dns_match_reply(q2, (size_t)n2, w->b, w->n, M), ACMEVA_DNS_EQUESTION);
    /* No question, or two. */
    whdr(w, 0xC0DE, RESP_FLAGS, 0, 0, 0, 0);
    CHECK_INT(acmeva_dns_match_reply(q, ql, w->b, w->n, M), ACMEVA_DNS_EQUESTION);
    wreply(w, q, ql, RESP_FLAGS);
    w->b[5] = 2; /* the answer read as a second question runs past the end */
    CHECK_INT(acmeva_dns_match_reply(q, ql, w->b, w->n, M), ACMEVA_DNS_ESHORT);
    whdr(w, 0xC0DE, RESP_FLAGS, 2, 0, 0, 0);
    wbytes(w, q + 12, ql - 12 - 11);
    wbytes(w, q + 12, ql - 12 - 11);
    CHECK_INT(acmeva_dns_match_reply(q, ql, w->b, w->n, M), ACMEVA_DNS_EQUESTION);
    /* Malformed: shorter than a header, cut inside the answer. */
    wreply(w, q, ql, RESP_FLAGS);
    CHECK_INT(acmeva_dns_match_reply(q, ql, w->b, 11, M), ACMEVA_DNS_ESHORT);
    CHECK_INT(acmeva_dns_match_reply(q, ql, w->b, w->n - 1, M), ACMEVA_DNS_ESHORT);
    /* A query that is not one question is refused. */
    CHECK_INT(acmeva_dns_match_reply(q, 12, w->b, w->n, M), ACMEVA_DNS_EINVAL);
    CHECK_INT(acmeva_dns_match_reply(NULL, ql, w->b, w->n, M), ACMEVA_DNS_EINVAL);
    free(w);
}

static void test_0x20(void)
{
    static const uint8_t ones[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t zeros[32] = {0};
    static const uint8_t alt[2] = {0x55, 0x55}; /* bits 0, 2, 4, ...: even indexes upper */
    char name[64];

    snprintf(name, sizeof(name), "_acme-challenge.x1.example");
    acmeva_dns_0x20(name, ones, sizeof(ones));
    CHECK_STR(name, "_ACME-CHALLENGE.X1.EXAMPLE");
    acmeva_dns_0x20(name, zeros, sizeof(zeros));
    CHECK_STR(name, "_acme-challenge.x1.example");
    snprintf(name, sizeof(name), "abcdefgh.ijk");
    acmeva_dns_0x20(name, alt, sizeof(alt));
    CHECK_STR(name, "AbCdEfGh.iJk");
    /* Letters past the bits given keep their case. */
    snprintf(name, sizeof(name), "abcdefghijkl");
    acmeva_dns_0x20(name, ones, 1);
    CHECK_STR(name, "ABCDEFGHijkl");
    acmeva_dns_0x20(name, NULL, 0);
    CHECK_STR(name, "ABCDEFGHijkl");
    /* A query built from the mixed-case name carries that case on the wire. */
    uint8_t q[512];
    snprintf(name, sizeof(name), "www.example.com");
    acmeva_dns_0x20(name, alt, sizeof(alt));
    int n = acmeva_dns_build_query(q, sizeof(q), 1, name, ACMEVA_DNS_A, 0);
    CHECK(n > 0 && memcmp(q + 13, "WwW", 3) == 0 && memcmp(q + 17, "ExAmPlE", 7) == 0);
}

/* ---- the CNAME chain ---------------------------------------------------------------------- */

/* An answer record with an uncompressed owner. */
static void wrr_named(wbuf *w, const char *owner_name, unsigned type, const void *rdata,
                      size_t rdlen)
{
    wname(w, owner_name);
    wrr_fixed(w, type, 60, (unsigned)rdlen);
    wbytes(w, rdata, rdlen);
}

static void wcname(wbuf *w, const char *owner_name, const char *target)
{
    wbuf t;
    t.n = 0;
    wname(&t, target);
    wrr_named(w, owner_name, ACMEVA_DNS_CNAME, t.b, t.n);
}

static void test_answer_chain(void)
{
    wbuf *w = malloc(sizeof(*w));
    int fam;
    uint8_t a[16];

    /* A for another owner first, then the chain Host -> a.cdn -> b.cdn with b's A, an A of a
     * name in the middle of the chain, a TXT of the question name, a CNAME off the chain. */
    whdr(w, 1, RESP_FLAGS, 1, 7, 0, 0);
    wquestion(w, "Host.Example", ACMEVA_DNS_A);
    wrr_named(w, "evil.example", ACMEVA_DNS_A, "\x0a\x00\x00\x66", 4);
    wcname(w, "HOST.example", "a.CDN.net");
    wcname(w, "x.example", "host.example");
    wcname(w, "a.cdn.net", "b.cdn.net");
    wrr_named(w, "b.cdn.NET", ACMEVA_DNS_A, "\x0a\x00\x00\x01", 4);
    wrr_named(w, "a.cdn.net", ACMEVA_DNS_A, "\x0a\x00\x00\x02", 4);
    wrr_named(w, "host.example", ACMEVA_DNS_TXT, "\x01x", 2);
    CHECK_INT(parse(w), 0);
    CHECK_INT(M->n_answers, 7);
    CHECK_INT(acmeva_dns_answer_chain(M), 0);
    CHECK_INT(M->n_answers, 4);
    CHECK_INT(M->n_answers_ignored, 3);
    CHECK(M->answers[0].type == ACMEVA_DNS_CNAME && strcmp(owner(0), "host.example") == 0);
    CHECK(M->answers[1].type == ACMEVA_DNS_CNAME && strcmp(owner(1), "a.cdn.net") == 0);
    CHECK_INT(acmeva_dns_addr(&M->answers[2], &fam, a), 0);
    CHECK(a[3] == 1 && strcmp(owner(2), "b.cdn.net") == 0);
    CHECK_INT(acmeva_dns_addr(&M->answers[3], &fam, a), 0);
    CHECK(a[3] == 2);

    /* Only the other owner's record: nothing is left. */
    whdr(w, 1, RESP_FLAGS, 1, 1, 0, 0);
    wquestion(w, "host.example", ACMEVA_DNS_TXT);
    wrr_named(w, "host.example.evil", ACMEVA_DNS_TXT, "\x01x", 2);
    CHECK_INT(parse(w), 0);
    CHECK_INT(acmeva_dns_answer_chain(M), 0);
    CHECK_INT(M->n_answers, 0);
    CHECK_INT(M->n_answers_ignored, 1);

    /* A loop (a -> b -> a) ends the chain; both CNAMEs are on it, the TXT of c is not. */
    whdr(w, 1, RESP_FLAGS, 1, 3, 0, 0);
    wquestion(w, "a.example", ACMEVA_DNS_TXT);
    wcname(w, "a.example", "b.example");
    wcname(w, "b.example", "a.example");
    wrr_named(w, "c.example", ACMEVA_DNS_TXT, "\x01x", 2);
    CHECK_INT(parse(w), 0);
    CHECK_INT(acmeva_dns_answer_chain(M), 0);
    CHECK_INT(M->n_answers, 2);

    /* ACMEVA_DNS_MAX_CNAME_HOPS hops are followed; the record one hop further is not taken. */
    for (int hops = ACMEVA_DNS_MAX_CNAME_HOPS; hops <= ACMEVA_DNS_MAX_CNAME_HOPS + 1; hops++) {
        whdr(w, 1, RESP_FLAGS, 1, (unsigned)hops + 1, 0, 0);
        wquestion(w, "h0.example", ACMEVA_DNS_A);
        char from[32], to[32];
        for (int i = 0; i < hops; i++) {
            snprintf(from, sizeof(from), "h%d.example", i);
            snprintf(to, sizeof(to), "h%d.example", i + 1);
            wcname(w, from, to);
        }
        wrr_named(w, to, ACMEVA_DNS_A, "\x0a\x00\x00\x01", 4);
        CHECK_INT(parse(w), 0);
        CHECK_INT(acmeva_dns_answer_chain(M), 0);
        size_t n_a = 0;
        for (size_t i = 0; i < M->n_answers; i++)
            n_a += M->answers[i].type == ACMEVA_DNS_A;
        CHECK_INT(n_a, hops == ACMEVA_DNS_MAX_CNAME_HOPS ? 1 : 0);
    }

    /* A record of another class on the question name is left out. */
    whdr(w, 1, RESP_FLAGS, 1, 1, 0, 0);
    wquestion(w, "host.example", ACMEVA_DNS_A);
    wptr(w, 12);
    w16(w, ACMEVA_DNS_A);
    w16(w, 3);
    w32(w, 1);
    w16(w, 4);
    wbytes(w, "\x01\x02\x03\x04", 4);
    CHECK_INT(parse(w), 0);
    CHECK_INT(acmeva_dns_answer_chain(M), 0);
    CHECK_INT(M->n_answers, 0);
    CHECK_INT(acmeva_dns_answer_chain(NULL), ACMEVA_DNS_EINVAL);
    free(w);
}

/* ---- Extended DNS Errors (RFC 8914) ------------------------------------------------------- */

static void test_ede(void)
{
    wbuf *w = malloc(sizeof(*w));
    static const char text[] = "validation failure <x.example. A IN>: no signatures";
    whdr(w, 1, 0x8182u, 1, 0, 0, 1); /* SERVFAIL */
    wquestion(w, "x.example", ACMEVA_DNS_TXT);
    w8(w, 0);
    size_t rdlen_at = w->n + 8;
    wrr_fixed(w, ACMEVA_DNS_OPT, 0, 0);
    size_t start = w->n;
    w16(w, 10); /* a COOKIE option first */
    w16(w, 8);
    wbytes(w, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    w16(w, 15); /* EDE 6 with text */
    w16(w, (unsigned)(2 + strlen(text)));
    w16(w, 6);
    wbytes(w, text, strlen(text));
    w16(w, 15); /* EDE 22 without text */
    w16(w, 2);
    w16(w, 22);
    w16(w, 15); /* an EDE too short for its code: ignored */
    w16(w, 1);
    w8(w, 0);
    w->b[rdlen_at] = (uint8_t)((w->n - start) >> 8);
    w->b[rdlen_at + 1] = (uint8_t)(w->n - start);
    CHECK_INT(parse(w), 0);
    CHECK_INT(M->rcode, ACMEVA_RCODE_SERVFAIL);
    CHECK_INT(M->n_ede, 2);
    CHECK_INT(M->ede[0].code, 6);
    CHECK(M->ede[0].text_len == strlen(text) && memcmp(M->ede[0].text, text, strlen(text)) == 0);
    CHECK_INT(M->ede[1].code, 22);
    CHECK_INT(M->ede[1].text_len, 0);

    /* More than ACMEVA_DNS_MAX_EDE: the first ones are kept. */
    whdr(w, 1, 0x8182u, 1, 0, 0, 1);
    wquestion(w, "x.example", ACMEVA_DNS_TXT);
    w8(w, 0);
    wrr_fixed(w, ACMEVA_DNS_OPT, 0, (ACMEVA_DNS_MAX_EDE + 3) * 6);
    for (unsigned i = 0; i < ACMEVA_DNS_MAX_EDE + 3; i++) {
        w16(w, 15);
        w16(w, 2);
        w16(w, i);
    }
    CHECK_INT(parse(w), 0);
    CHECK_INT(M->n_ede, ACMEVA_DNS_MAX_EDE);
    CHECK_INT(M->ede[ACMEVA_DNS_MAX_EDE - 1].code, ACMEVA_DNS_MAX_EDE - 1);

    CHECK_STR(acmeva_dns_ede_name(6), "DNSSEC Bogus");
    CHECK_STR(acmeva_dns_ede_name(0), "Other Error");
    CHECK_STR(acmeva_dns_ede_name(22), "No Reachable Authority");
    CHECK_STR(acmeva_dns_ede_name(24), "Invalid Data");
    CHECK_STR(acmeva_dns_ede_name(25), "Unknown Error");
    CHECK_STR(acmeva_dns_ede_name(65535), "Unknown Error");
    static const int dnssec[] = {1, 2, 5, 6, 7, 8, 9, 10, 11, 12};
    int n_dnssec = 0;
    for (unsigned c = 0; c < 100; c++)
        n_dnssec += acmeva_dns_ede_is_dnssec((uint16_t)c);
    CHECK_INT(n_dnssec, sizeof(dnssec) / sizeof(dnssec[0]));
    for (size_t i = 0; i < sizeof(dnssec) / sizeof(dnssec[0]); i++)
        CHECK(acmeva_dns_ede_is_dnssec((uint16_t)dnssec[i]));
    free(w);
}

/* ---- malformed messages ------------------------------------------------------------------ */

/* Every proper prefix of |w| must fail to parse; the whole message must parse. */
static void check_truncations(const wbuf *w, const char *what)
{
    int crashes_or_accepts = 0;
    for (size_t n = 0; n < w->n; n++) {
        /* A fresh heap copy of exactly n bytes, so that ASan sees any read past it. */
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, w->b, n);
        int rc = acmeva_dns_parse(copy, n, M);
        if (rc >= 0) {
            crashes_or_accepts++;
            fprintf(stderr, "%s: prefix of %zu bytes accepted\n", what, n);
        }
        free(copy);
    }
    CHECK_MSG(crashes_or_accepts == 0, "%s: %d prefixes accepted", what, crashes_or_accepts);
    CHECK_INT(acmeva_dns_parse(w->b, w->n, M), 0);
}

static void test_truncations(void)
{
    wbuf *w = malloc(sizeof(*w));
    /* A response with a CNAME, a TXT, an SOA-ish authority record and an OPT. */
    whdr(w, 0x4242, RESP_FLAGS, 1, 2, 1, 1);
    wquestion(w, "_acme-challenge.example.com", ACMEVA_DNS_TXT);
    wptr(w, 12);
    wrr_fixed(w, ACMEVA_DNS_CNAME, 60, 9);
    size_t t_at = w->n;
    w8(w, 6);
    wbytes(w, "target", 6);
    wptr(w, 12 + 16); /* example.com */
    wptr(w, t_at);
    wrr_fixed(w, ACMEVA_DNS_TXT, 60, 4);
    wbytes(w, "\003abc", 4);
    wptr(w, 12 + 16);
    wrr_fixed(w, 6, 60, 3);
    wbytes(w, "\001\002\003", 3);
    w8(w, 0);
    w16(w, ACMEVA_DNS_OPT);
    w16(w, 1232);
    w32(w, 0);
    w16(w, 4);
    w16(w, 10);
    w16(w, 0); /* an empty option */
    CHECK_INT(parse(w), 0);
    CHECK_INT(M->n_authority, 1);
    CHECK(M->edns == 1 && M->edns_udp_size == 1232);
    check_truncations(w, "cname+txt+opt");

    /* No question, one answer with a long uncompressed owner: the cuts land inside its
     * labels after the count check has passed. */
    whdr(w, 0x4243, RESP_FLAGS, 0, 1, 0, 0);
    wname(w, "a-rather-long-first-label.second-label.example");
    wrr_fixed(w, ACMEVA_DNS_A, 60, 4);
    wbytes(w, "\x01\x02\x03\x04", 4);
    check_truncations(w, "uncompressed owner");

    /* A label claiming more bytes than remain. */
    static const uint8_t cut[] = {0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 10, 'a', 'b', 'c', 'd'};
    uint8_t *heap = malloc(sizeof(cut));
    memcpy(heap, cut, sizeof(cut));
    CHECK_INT(acmeva_dns_parse(heap, sizeof(cut), M), ACMEVA_DNS_ESHORT);
    free(heap);

    /* A built query too. */
    int n = acmeva_dns_build_query(w->b, sizeof(w->b), 9, "a.b.example", 257, 1232);
    CHECK(n > 0);
    w->n = (size_t)n;
    check_truncations(w, "query");

    /* Trailing bytes after the last record are ignored (documented rule). */
    whdr(w, 1, RESP_FLAGS, 1, 1, 0, 0);
    wquestion(w, "a.example", 1);
    wrr_q(w, ACMEVA_DNS_A, "\x01\x02\x03\x04", 4);
    wbytes(w, "garbage", 7);
    CHECK_INT(parse(w), 0);
    CHECK_INT(M->n_answers, 1);
    free(w);
}

static void test_pointers(void)
{
    wbuf *w = malloc(sizeof(*w));

    /* Self pointer as the question name. */
    whdr(w, 1, RESP_FLAGS, 1, 0, 0, 0);
    wptr(w, 12);
    w16(w, 1);
    w16(w, 1);
    CHECK_INT(parse(w), ACMEVA_DNS_EPTR);

    /* A label then a pointer back to that label: a cycle through one run. */
    whdr(w, 1, RESP_FLAGS, 1, 0, 0, 0);
    w8(w, 1);
    w8(w, 'a');
    wptr(w, 12);
    w16(w, 1);
    w16(w, 1);
    CHECK_INT(parse(w), ACMEVA_DNS_EPTR);

    /* Two pointers pointing at each other: the answer owner at X points to Y after it, Y
     * points back to X. */
    whdr(w, 1, RESP_FLAGS, 1, 1, 0, 0);
    wquestion(w, "a.example", 1);
    size_t x = w->n;
    wptr(w, x + 2 + 10 + 4);
    wrr_fixed(w, ACMEVA_DNS_A, 1, 4);
    wbytes(w, "\x01\x02\x03\x04", 4);
    wptr(w, x); /* trailing bytes hold the second pointer */
    CHECK_INT(parse(w), ACMEVA_DNS_EPTR);

    /* A forward pointer to a valid name. */
    whdr(w, 1, RESP_FLAGS, 1, 0, 0, 0);
    wptr(w, 14);
    wname(w, "fwd.example");
    w16(w, 1);
    w16(w, 1);
    CHECK_INT(parse(w), ACMEVA_DNS_EPTR);

    /* A pointer past the end of the message, a pointer cut in half, a pointer into the
     * header. */
    whdr(w, 1, RESP_FLAGS, 1, 1, 0, 0);
    wquestion(w, "a.example", 1);
    wptr(w, 0x3FFF);
    wrr_fixed(w, ACMEVA_DNS_A, 1, 4);
    wbytes(w, "\x01\x02\x03\x04", 4);
    CHECK_INT(parse(w), ACMEVA_DNS_EPTR);
    whdr(w, 1, RESP_FLAGS, 1, 0, 0, 0);
    wbytes(w, "\004aaaa\xC0", 6); /* the pointer's second byte is missing */
    CHECK_INT(parse(w), ACMEVA_DNS_ESHORT);
    whdr(w, 1, RESP_FLAGS, 1, 0, 0, 0);
    wptr(w, 4);
    w16(w, 1);
    w16(w, 1);
    CHECK_INT(parse(w), ACMEVA_DNS_EPTR);

    /* A long chain of pointers, each to the one before it: legal in form, but past the
     * pointer limit. The chain lives in the opaque rdata of a first additional record. */
    const int links = ACMEVA_DNS_MAX_POINTERS + 5;
    whdr(w, 1, RESP_FLAGS, 0, 0, 0, 1);
    size_t root_at = w->n;
    w8(w, 0);
    wrr_fixed(w, 99, 0, 2 * (unsigned)links);
    size_t first = w->n;
    for (int i = 0; i < links; i++)
        wptr(w, i == 0 ? root_at : first + 2 * (size_t)(i - 1));
    CHECK_INT(parse(w), 0);
    /* A second record whose owner points at link k follows k + 2 pointers. */
    w->b[11] = 2;
    size_t base_n = w->n;
    wptr(w, first + 2 * (size_t)(links - 1));
    wrr_fixed(w, 99, 0, 0);
    CHECK_INT(parse(w), ACMEVA_DNS_EHOPS);
    w->n = base_n;
    wptr(w, first + 2 * (size_t)(ACMEVA_DNS_MAX_POINTERS - 2));
    wrr_fixed(w, 99, 0, 0);
    CHECK_INT(parse(w), 0);
    w->n = base_n;
    wptr(w, first + 2 * (size_t)(ACMEVA_DNS_MAX_POINTERS - 1));
    wrr_fixed(w, 99, 0, 0);
    CHECK_INT(parse(w), ACMEVA_DNS_EHOPS);
    free(w);
}

static void test_lengths_and_counts(void)
{
    wbuf *w = malloc(sizeof(*w));

    /* ancount 65535 with one answer present. */
    whdr(w, 1, RESP_FLAGS, 1, 65535, 0, 0);
    wquestion(w, "a.example", 1);
    wrr_q(w, ACMEVA_DNS_A, "\x01\x02\x03\x04", 4);
    CHECK_INT(parse(w), ACMEVA_DNS_ECOUNTS);
    /* All counts at the maximum, on a tiny message. */
    whdr(w, 1, RESP_FLAGS, 65535, 65535, 65535, 65535);
    CHECK_INT(parse(w), ACMEVA_DNS_ECOUNTS);
    /* ancount 2 with one answer: passes the quick count check, fails at the record. */
    whdr(w, 1, RESP_FLAGS, 1, 2, 0, 0);
    wquestion(w, "a.example", 1);
    wrr_q(w, ACMEVA_DNS_A, "\x01\x02\x03\x04", 4);
    wbytes(w, "\0\0\0\0\0\0\0\0\0\0\0\0", 10);
    CHECK_INT(parse(w), ACMEVA_DNS_ESHORT);

    /* A label of 64. */
    whdr(w, 1, RESP_FLAGS, 1, 0, 0, 0);
    w8(w, 64);
    for (int i = 0; i < 64; i++)
        w8(w, 'a');
    w8(w, 0);
    w16(w, 1);
    w16(w, 1);
    CHECK_INT(parse(w), ACMEVA_DNS_ELABEL);
    /* A label of 63 is fine. */
    whdr(w, 1, RESP_FLAGS, 1, 0, 0, 0);
    w8(w, 63);
    for (int i = 0; i < 63; i++)
        w8(w, 'a');
    w8(w, 0);
    w16(w, 1);
    w16(w, 1);
    CHECK_INT(parse(w), 0);
    CHECK_INT(strlen(M->qname), 63);
    /* Extended label type 0x40 and reserved 0x80. */
    w->b[12] = 0x41;
    CHECK_INT(parse(w), ACMEVA_DNS_ELABEL);
    w->b[12] = 0x81;
    CHECK_INT(parse(w), ACMEVA_DNS_ELABEL);

    /* A name of 255 octets parses; one more octet is refused, also when reached through a
     * pointer. */
    whdr(w, 1, RESP_FLAGS, 1, 0, 0, 0);
    for (int l = 0; l < 4; l++) {
        int ll = l < 3 ? 63 : 61;
        w8(w, (unsigned)ll);
        for (int i = 0; i < ll; i++)
            w8(w, 'a' + l);
    }
    w8(w, 0);
    w16(w, 1);
    w16(w, 1);
    CHECK_INT(parse(w), 0);
    CHECK_INT(strlen(M->qname), 253);
    /* One label one longer: 256 octets. */
    whdr(w, 1, RESP_FLAGS, 1, 0, 0, 0);
    for (int l = 0; l < 4; l++) {
        int ll = l < 3 ? 63 : 62;
        w8(w, (unsigned)ll);
        for (int i = 0; i < ll; i++)
            w8(w, 'a' + l);
    }
    w8(w, 0);
    w16(w, 1);
    w16(w, 1);
    CHECK_INT(parse(w), ACMEVA_DNS_ENAMELEN);
    /* Built from a pointer: "x" + 63 + 63 + 63 + 61 (255 octets) is 257 octets. */
    whdr(w, 1, RESP_FLAGS, 2, 0, 0, 0);
    for (int l = 0; l < 4; l++) {
        int ll = l < 3 ? 63 : 61;
        w8(w, (unsigned)ll);
        for (int i = 0; i < ll; i++)
            w8(w, 'a' + l);
    }
    w8(w, 0);
    w16(w, 1);
    w16(w, 1);
    w8(w, 1);
    w8(w, 'x');
    wptr(w, 12);
    w16(w, 1);
    w16(w, 1);
    CHECK_INT(parse(w), ACMEVA_DNS_ENAMELEN);

    /* rdlen past the end. */
    whdr(w, 1, RESP_FLAGS, 1, 1, 0, 0);
    wquestion(w, "a.example", 1);
    wptr(w, 12);
    wrr_fixed(w, ACMEVA_DNS_A, 1, 400);
    wbytes(w, "\x01\x02\x03\x04", 4);
    CHECK_INT(parse(w), ACMEVA_DNS_ESHORT);

    /* Shorter than a header. */
    CHECK_INT(acmeva_dns_parse((const uint8_t *)"\x00\x01", 2, M), ACMEVA_DNS_ESHORT);
    CHECK_INT(acmeva_dns_parse(NULL, 0, M), ACMEVA_DNS_EINVAL);

    /* Names: an unprintable byte in an answer owner is refused; in the authority section
     * only the structure counts. Uppercase is lowered; the root is "". */
    whdr(w, 1, RESP_FLAGS, 1, 1, 0, 0);
    wquestion(w, "a.example", 1);
    wname(w, "b a.example");
    wrr_fixed(w, ACMEVA_DNS_A, 1, 4);
    wbytes(w, "\x01\x02\x03\x04", 4);
    CHECK_INT(parse(w), ACMEVA_DNS_ECHARS);
    whdr(w, 1, RESP_FLAGS, 1, 0, 1, 0);
    wquestion(w, "a.example", 1);
    wname(w, "b a.example");
    wrr_fixed(w, 6, 1, 0);
    CHECK_INT(parse(w), 0);
    whdr(w, 1, RESP_FLAGS, 1, 1, 0, 0);
    wquestion(w, "", 2);
    wname(w, "");
    wrr_fixed(w, 2, 0x80000001u, 2);
    wbytes(w, "\xC0\x0C", 2);
    CHECK_INT(parse(w), 0);
    CHECK_STR(M->qname, "");
    CHECK_STR(owner(0), "");
    CHECK_INT(M->answers[0].ttl, 0); /* RFC 2181 §8 */
    free(w);
}

static void test_opt(void)
{
    wbuf *w = malloc(sizeof(*w));

    /* Extended rcode 1 in OPT and header rcode 0: 16, BADVERS. */
    whdr(w, 1, RESP_FLAGS, 1, 0, 0, 1);
    wquestion(w, "a.example", 1);
    w8(w, 0);
    wrr_fixed(w, ACMEVA_DNS_OPT, 0x01008000u, 0); /* ext rcode 1, version 0, DO */
    w->b[w->n - 8] = 0x10;                        /* class = 4096 */
    w->b[w->n - 7] = 0x00;
    CHECK_INT(parse(w), 0);
    CHECK_INT(M->rcode, ACMEVA_RCODE_BADVERS);
    CHECK_STR(acmeva_dns_rcode_name(M->rcode), "BADVERS");
    CHECK(M->edns == 1 && M->edns_do == 1 && M->edns_version == 0 && M->edns_udp_size == 4096);
    /* Extended rcode bits combine with the header's: (2 << 4) | 3 = 35. */
    whdr(w, 1, RESP_FLAGS | 3u, 1, 0, 0, 1);
    wquestion(w, "a.example", 1);
    w8(w, 0);
    wrr_fixed(w, ACMEVA_DNS_OPT, 0x02000000u, 0);
    CHECK_INT(parse(w), 0);
    CHECK_INT(M->rcode, 35);

    /* Two OPT records. */
    whdr(w, 1, RESP_FLAGS, 1, 0, 0, 2);
    wquestion(w, "a.example", 1);
    w8(w, 0);
    wrr_fixed(w, ACMEVA_DNS_OPT, 0, 0);
    w8(w, 0);
    wrr_fixed(w, ACMEVA_DNS_OPT, 0, 0);
    CHECK_INT(parse(w), ACMEVA_DNS_EOPT);
    /* OPT not owned by the root. */
    whdr(w, 1, RESP_FLAGS, 1, 0, 0, 1);
    wquestion(w, "a.example", 1);
    wptr(w, 12);
    wrr_fixed(w, ACMEVA_DNS_OPT, 0, 0);
    CHECK_INT(parse(w), ACMEVA_DNS_EOPT);
    /* OPT in the answer section. */
    whdr(w, 1, RESP_FLAGS, 1, 1, 0, 0);
    wquestion(w, "a.example", 1);
    w8(w, 0);
    wrr_fixed(w, ACMEVA_DNS_OPT, 0, 0);
    CHECK_INT(parse(w), ACMEVA_DNS_EOPT);
    /* An option running past the OPT rdata. */
    whdr(w, 1, RESP_FLAGS, 1, 0, 0, 1);
    wquestion(w, "a.example", 1);
    w8(w, 0);
    wrr_fixed(w, ACMEVA_DNS_OPT, 0, 6);
    w16(w, 10);
    w16(w, 8);
    w16(w, 0);
    CHECK_INT(parse(w), ACMEVA_DNS_EOPT);
    free(w);
}

static void test_strerror(void)
{
    CHECK_STR(acmeva_dns_strerror(ACMEVA_DNS_EPTR), "compression pointer not strictly backwards");
    CHECK_STR(acmeva_dns_strerror(ACMEVA_DNS_ECOUNTS), "section counts exceed the message");
    CHECK_STR(acmeva_dns_strerror(-999), "unknown DNS message error");
    for (int e = ACMEVA_DNS_EMSGLEN; e <= ACMEVA_DNS_EINVAL; e++)
        CHECK(strcmp(acmeva_dns_strerror(e), "unknown DNS message error") != 0);
}

int main(void)
{
    M = malloc(sizeof(*M));
    if (M == NULL)
        return 1;
    test_build_query();
    test_txt();
    test_caa();
    test_addr();
    test_cname_chain();
    test_rcodes_and_flags();
    test_many_answers();
    test_match_reply();
    test_0x20();
    test_answer_chain();
    test_ede();
    test_truncations();
    test_pointers();
    test_lengths_and_counts();
    test_opt();
    test_strerror();
    free(M);
    return CHECK_DONE();
}
