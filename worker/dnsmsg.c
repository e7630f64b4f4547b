/*
 * The raw DNS message codec: query builder and bounded response parser (see dnsmsg.h for
 * the rules it enforces).
 */
#include "dnsmsg.h"

#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

/* RFC 1035 §4.1.1 header flag bits, and RFC 4035 §3.2 / RFC 6840 §5.7 for AD and CD. */
#define FLAG_QR 0x8000u
#define FLAG_AA 0x0400u
#define FLAG_TC 0x0200u
#define FLAG_RD 0x0100u
#define FLAG_RA 0x0080u
#define FLAG_AD 0x0020u
#define FLAG_CD 0x0010u
#define OPCODE_SHIFT 11
#define OPCODE_MASK 0x0Fu
#define RCODE_MASK 0x000Fu

/* Smallest question (root name, type, class) and smallest RR (root owner, fixed fields). */
#define MIN_QUESTION_LEN 5
#define MIN_RR_LEN ACMEVA_DNS_MIN_RR_LEN
#define RR_FIXED_LEN 10

/* RFC 3225 §3: the DO bit is the top bit of the 16 flag bits in the OPT TTL. */
#define OPT_TTL_DO 0x8000u

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* A byte a presented name may hold: printable ASCII, and no '.' which separates labels. */
static int name_byte_ok(uint8_t b)
{
    return b >= 0x21 && b <= 0x7e && b != '.';
}

/*
 * read_name decodes the name at |off| of |msg| into |out| (256 bytes: lowercased, labels
 * joined with '.', no trailing dot) and sets |*next| to the offset just after the name's bytes
 * at |off| (after the first pointer when the name is compressed). With |check_chars| it
 * refuses bytes that cannot be presented (name_byte_ok). Returns 0 or a negative error.
 */
static int read_name(const uint8_t *msg, size_t len, size_t off, char *out, int check_chars,
                     size_t *next)
{
    size_t pos = off;
    size_t run_start = off; /* start of the label run being read */
    size_t wire = 0;        /* octets of the name so far, length bytes included */
    size_t olen = 0;
    int pointers = 0;
    int jumped = 0;

    for (;;) {
        if (pos >= len)
            return ACMEVA_DNS_ESHORT;
        uint8_t c = msg[pos];
        if ((c & 0xC0) == 0xC0) {
            /* RFC 1035 §4.1.4: a pointer to a prior occurrence of a name. Demanding that it
             * lands before the run it ends (not merely before itself) makes every jump go
             * strictly backwards, so no sequence of pointers can revisit a byte. */
            if (len - pos < 2)
                return ACMEVA_DNS_ESHORT;
            size_t target = (size_t)(c & 0x3F) << 8 | msg[pos + 1];
            if (!jumped) {
                *next = pos + 2;
                jumped = 1;
            }
            if (++pointers > ACMEVA_DNS_MAX_POINTERS)
                return ACMEVA_DNS_EHOPS;
            if (target < ACMEVA_DNS_HEADER_LEN || target >= run_start)
                return ACMEVA_DNS_EPTR;
            pos = run_start = target;
            continue;
        }
        /* RFC 1035 §3.1: labels of 63 octets at most; 0x40 and 0x80 are the extended and
         * reserved label types, deprecated by RFC 6891 §5. */
        if (c & 0xC0)
            return ACMEVA_DNS_ELABEL;
        if (c == 0) {
            wire += 1;
            if (wire > ACMEVA_DNS_MAX_NAME_WIRE)
                return ACMEVA_DNS_ENAMELEN;
            if (!jumped)
                *next = pos + 1;
            out[olen] = '\0';
            return 0;
        }
        wire += 1 + (size_t)c;
        /* RFC 1035 §3.1: 255 octets at most, counting the root label still to come. */
        if (wire + 1 > ACMEVA_DNS_MAX_NAME_WIRE)
            return ACMEVA_DNS_ENAMELEN;
        if (len - pos - 1 < c)
            return ACMEVA_DNS_ESHORT;
        if (olen > 0)
            out[olen++] = '.';
        for (size_t i = 0; i < c; i++) {
            uint8_t b = msg[pos + 1 + i];
            if (check_chars && !name_byte_ok(b))
                return ACMEVA_DNS_ECHARS;
            out[olen++] = ascii_lower((char)b);
        }
        pos += 1 + (size_t)c;
    }
}

/* The fixed part of a record, read after its owner name. */
typedef struct rr_fixed {
    uint16_t type, klass;
    uint32_t ttl;
    uint16_t rdlen;
    size_t rdata_off;
} rr_fixed;

/* read_rr reads one record at |*pos| (RFC 1035 §4.1.3) and advances |*pos| past it. */
static int read_rr(const uint8_t *msg, size_t len, size_t *pos, char *owner, int check_chars,
                   rr_fixed *rr)
{
    size_t p;
    int rc = read_name(msg, len, *pos, owner, check_chars, &p);
    if (rc != 0)
        return rc;
    if (len - p < RR_FIXED_LEN)
        return ACMEVA_DNS_ESHORT;
    rr->type = get16(msg + p);
    rr->klass = get16(msg + p + 2);
    rr->ttl = get32(msg + p + 4);
    rr->rdlen = get16(msg + p + 8);
    p += RR_FIXED_LEN;
    if (len - p < rr->rdlen)
        return ACMEVA_DNS_ESHORT;
    rr->rdata_off = p;
    *pos = p + rr->rdlen;
    return 0;
}

/* RFC 8914 §2: the EDNS option code of an Extended DNS Error. */
#define OPT_CODE_EDE 15

/* read_opt_options checks that the options of an OPT rdata tile it (RFC 6891 §6.1.2) and
 * keeps its Extended DNS Errors (RFC 8914 §2: INFO-CODE, then EXTRA-TEXT) in |out|. */
static int read_opt_options(const uint8_t *rdata, size_t rdlen, acmeva_dns_msg *out)
{
    size_t p = 0;
    while (p < rdlen) {
        if (rdlen - p < 4)
            return ACMEVA_DNS_EOPT;
        uint16_t code = get16(rdata + p);
        size_t optlen = get16(rdata + p + 2);
        p += 4;
        if (rdlen - p < optlen)
            return ACMEVA_DNS_EOPT;
        if (code == OPT_CODE_EDE && optlen >= 2 && out->n_ede < ACMEVA_DNS_MAX_EDE) {
            acmeva_dns_ede *e = &out->ede[out->n_ede++];
            e->code = get16(rdata + p);
            e->text = rdata + p + 2;
            e->text_len = (uint16_t)(optlen - 2);
        }
        p += optlen;
    }
    return 0;
}

const char *acmeva_dns_rcode_name(int rcode)
{
    switch (rcode) {
    case 0:
        return "NOERROR";
    case 1:
        return "FORMERR";
    case 2:
        return "SERVFAIL";
    case 3:
        return "NXDOMAIN";
    case 4:
        return "NOTIMP";
    case 5:
        return "REFUSED";
    case 6:
        return "YXDOMAIN";
    case 7:
        return "YXRRSET";
    case 8:
        return "NXRRSET";
    case 9:
        return "NOTAUTH";
    case 10:
        return "NOTZONE";
    case 16:
        return "BADVERS";
    default:
        return "OTHER";
    }
}

int acmeva_dns_rcode_format(int rcode, char *buf, size_t cap)
{
    if (buf == NULL || cap == 0)
        return ACMEVA_DNS_EINVAL;
    const char *name = acmeva_dns_rcode_name(rcode);
    if (strcmp(name, "OTHER") == 0)
        snprintf(buf, cap, "RCODE%d", rcode);
    else
        snprintf(buf, cap, "%s", name);
    return 0;
}

int acmeva_dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t qtype,
                           uint16_t udp_size)
{
    if (buf == NULL || name == NULL)
        return ACMEVA_DNS_EINVAL;
    size_t nlen = strnlen(name, ACMEVA_DNS_MAX_NAME_TEXT + 2);
    if (nlen == 0)
        return ACMEVA_DNS_EBADNAME;
    if (name[nlen - 1] == '.')
        nlen--; /* "." is the root, "a.b." is "a.b" */
    if (nlen > ACMEVA_DNS_MAX_NAME_TEXT)
        return ACMEVA_DNS_EBADNAME;

    /* Check every label before writing anything: 1..63 presentable bytes (RFC 1035 §3.1). */
    size_t label = 0;
    for (size_t i = 0; i < nlen; i++) {
        if (name[i] == '.') {
            if (label == 0)
                return ACMEVA_DNS_EBADNAME;
            label = 0;
            continue;
        }
        if (!name_byte_ok((uint8_t)name[i]) || ++label > 63)
            return ACMEVA_DNS_EBADNAME;
    }
    if (nlen > 0 && label == 0)
        return ACMEVA_DNS_EBADNAME;

    size_t wire_name = nlen == 0 ? 1 : nlen + 2;
    size_t total = ACMEVA_DNS_HEADER_LEN + wire_name + 4 + (udp_size ? MIN_RR_LEN : 0);
    if (cap < total)
        return ACMEVA_DNS_ENOSPC;

    /* Header (RFC 1035 §4.1.1): RD asks for recursion; AD asks the validating resolver to
     * report whether the answer was authenticated (RFC 6840 §5.7). */
    put16(buf, id);
    put16(buf + 2, FLAG_RD | FLAG_AD);
    put16(buf + 4, 1);
    put16(buf + 6, 0);
    put16(buf + 8, 0);
    put16(buf + 10, udp_size ? 1 : 0);

    size_t p = ACMEVA_DNS_HEADER_LEN;
    size_t start = 0;
    for (size_t i = 0; i <= nlen && nlen > 0; i++) {
        if (i == nlen || name[i] == '.') {
            buf[p++] = (uint8_t)(i - start);
            memcpy(buf + p, name + start, i - start);
            p += i - start;
            start = i + 1;
        }
    }
    buf[p++] = 0;
    put16(buf + p, qtype);
    put16(buf + p + 2, ACMEVA_DNS_CLASS_IN);
    p += 4;

    if (udp_size) {
        /* RFC 6891 §6.1.2-3: root owner, type OPT, class = UDP payload size, TTL =
         * extended rcode 0, version 0, DO clear (RFC 3225), no options. */
        buf[p++] = 0;
        put16(buf + p, ACMEVA_DNS_OPT);
        put16(buf + p + 2, udp_size);
        memset(buf + p + 4, 0, 6);
        p += RR_FIXED_LEN;
    }
    return (int)p;
}

int acmeva_dns_parse(const uint8_t *msg, size_t len, acmeva_dns_msg *out)
{
    if (msg == NULL || out == NULL)
        return ACMEVA_DNS_EINVAL;
    /* Zero everything but the answers array (140 KB): its entries are written as they are
     * parsed and only the first n_answers are ever read. Clearing it would cost more than
     * the whole parse. */
    memset(out, 0, offsetof(acmeva_dns_msg, answers));
    out->msg = msg;
    out->msg_len = len;

    /* RFC 1035 §4.1.1 */
    if (len < ACMEVA_DNS_HEADER_LEN)
        return ACMEVA_DNS_ESHORT;
    /* RFC 1035 §4.2.2: no message is longer than a 16-bit length says. This bound is what
     * makes the answers array always large enough. */
    if (len > ACMEVA_DNS_MAX_MESSAGE)
        return ACMEVA_DNS_EMSGLEN;
    uint16_t flags = get16(msg + 2);
    out->id = get16(msg);
    out->qr = !!(flags & FLAG_QR);
    out->opcode = (int)(flags >> OPCODE_SHIFT & OPCODE_MASK);
    out->aa = !!(flags & FLAG_AA);
    out->tc = !!(flags & FLAG_TC);
    out->rd = !!(flags & FLAG_RD);
    out->ra = !!(flags & FLAG_RA);
    out->ad = !!(flags & FLAG_AD);
    out->cd = !!(flags & FLAG_CD);
    out->rcode = (int)(flags & RCODE_MASK);
    size_t qdcount = get16(msg + 4);
    size_t ancount = get16(msg + 6);
    size_t nscount = get16(msg + 8);
    size_t arcount = get16(msg + 10);

    /* Refuse counts the message cannot hold before looping over them: each question takes
     * 5 octets at least, each record 11. (No overflow: at most 65535 * 38.) */
    size_t least = qdcount * MIN_QUESTION_LEN + (ancount + nscount + arcount) * MIN_RR_LEN;
    if (least > len - ACMEVA_DNS_HEADER_LEN)
        return ACMEVA_DNS_ECOUNTS;

    char scratch[256];
    size_t pos = ACMEVA_DNS_HEADER_LEN;
    int rc;

    /* RFC 1035 §4.1.2: the first question is kept, the others checked. */
    for (size_t i = 0; i < qdcount; i++) {
        char *qn = i == 0 ? out->qname : scratch;
        size_t next;
        if ((rc = read_name(msg, len, pos, qn, 1, &next)) != 0)
            return rc;
        if (len - next < 4)
            return ACMEVA_DNS_ESHORT;
        if (i == 0) {
            out->qtype = get16(msg + next);
            out->qclass = get16(msg + next + 2);
        }
        pos = next + 4;
    }
    out->n_questions = qdcount;

    /* ancount <= ACMEVA_DNS_MAX_RECORDS: the count check above bounds it by the length. */
    for (size_t i = 0; i < ancount; i++) {
        acmeva_dns_rr *rr = &out->answers[out->n_answers];
        rr_fixed f;
        rr->owner_off = (uint16_t)pos;
        if ((rc = read_rr(msg, len, &pos, scratch, 1, &f)) != 0)
            return rc;
        /* RFC 6891 §6.1.1: OPT belongs to the additional section only. */
        if (f.type == ACMEVA_DNS_OPT)
            return ACMEVA_DNS_EOPT;
        rr->type = f.type;
        rr->klass = f.klass;
        /* RFC 2181 §8: a TTL with the top bit set is taken as zero. */
        rr->ttl = (f.ttl & 0x80000000u) ? 0 : f.ttl;
        rr->rdata = msg + f.rdata_off;
        rr->rdlen = f.rdlen;
        out->n_answers++;
    }

    for (size_t i = 0; i < nscount; i++) {
        rr_fixed f;
        if ((rc = read_rr(msg, len, &pos, scratch, 0, &f)) != 0)
            return rc;
        if (f.type == ACMEVA_DNS_OPT)
            return ACMEVA_DNS_EOPT;
    }
    out->n_authority = nscount;

    for (size_t i = 0; i < arcount; i++) {
        rr_fixed f;
        if ((rc = read_rr(msg, len, &pos, scratch, 0, &f)) != 0)
            return rc;
        if (f.type != ACMEVA_DNS_OPT)
            continue;
        /* RFC 6891 §6.1.1: one OPT at most, owned by the root. */
        if (out->edns || scratch[0] != '\0')
            return ACMEVA_DNS_EOPT;
        if ((rc = read_opt_options(msg + f.rdata_off, f.rdlen, out)) != 0)
            return rc;
        out->edns = 1;
        out->edns_udp_size = f.klass;
        out->edns_version = (uint8_t)(f.ttl >> 16);
        out->edns_do = !!(f.ttl & OPT_TTL_DO);
        /* RFC 6891 §6.1.3: the top 8 bits of the 12-bit rcode. */
        out->rcode |= (int)(f.ttl >> 24) << 4;
    }
    out->n_additional = arcount;

    /* Bytes after the last record are ignored (see dnsmsg.h). */
    return 0;
}

const char *acmeva_dns_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case ACMEVA_DNS_EINVAL:
        return "invalid argument";
    case ACMEVA_DNS_ENOSPC:
        return "buffer too small";
    case ACMEVA_DNS_EBADNAME:
        return "invalid DNS name";
    case ACMEVA_DNS_ESHORT:
        return "message truncated";
    case ACMEVA_DNS_ECOUNTS:
        return "section counts exceed the message";
    case ACMEVA_DNS_ELABEL:
        return "label too long or of a reserved type";
    case ACMEVA_DNS_ENAMELEN:
        return "name longer than 255 octets";
    case ACMEVA_DNS_EPTR:
        return "compression pointer not strictly backwards";
    case ACMEVA_DNS_EHOPS:
        return "too many compression pointers";
    case ACMEVA_DNS_ECHARS:
        return "name with an unprintable byte";
    case ACMEVA_DNS_EOPT:
        return "malformed or misplaced OPT record";
    case ACMEVA_DNS_ERDATA:
        return "malformed record data";
    case ACMEVA_DNS_ETYPE:
        return "unexpected record type";
    case ACMEVA_DNS_ETOOLONG:
        return "value too long";
    case ACMEVA_DNS_EID:
        return "response id does not match the query";
    case ACMEVA_DNS_ENOTRESP:
        return "not a response to a standard query";
    case ACMEVA_DNS_EQUESTION:
        return "question does not match the query";
    case ACMEVA_DNS_ECASE:
        return "question differs from the query in letter case";
    case ACMEVA_DNS_EMSGLEN:
        return "message longer than 65535 octets";
    default:
        return "unknown DNS message error";
    }
}

int acmeva_dns_txt_join(const uint8_t *rdata, size_t rdlen, char *out, size_t outcap)
{
    if ((rdata == NULL && rdlen > 0) || out == NULL || rdlen > INT32_MAX)
        return ACMEVA_DNS_EINVAL;
    if (outcap == 0)
        return ACMEVA_DNS_ETOOLONG;
    /* RFC 1035 §3.3.14: TXT-DATA is a sequence of <character-string>s, each a length octet
     * and that many octets (§3.3). */
    size_t o = 0, p = 0;
    while (p < rdlen) {
        size_t l = rdata[p++];
        if (l > rdlen - p)
            return ACMEVA_DNS_ERDATA;
        if (l >= outcap - o)
            return ACMEVA_DNS_ETOOLONG;
        memcpy(out + o, rdata + p, l);
        o += l;
        p += l;
    }
    out[o] = '\0';
    return (int)o;
}

static int is_ascii_alnum(uint8_t b)
{
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
}

int acmeva_dns_caa_parse(const uint8_t *rdata, size_t rdlen, acmeva_caa_rr *out)
{
    if ((rdata == NULL && rdlen > 0) || out == NULL)
        return ACMEVA_DNS_EINVAL;
    /* RFC 8659 §4.1: Flags (1 octet), Tag Length (1 octet, at least 1), Tag (letters and
     * digits), Value (the remainder of the rdata). */
    if (rdlen < 2)
        return ACMEVA_DNS_ERDATA;
    size_t tag_len = rdata[1];
    if (tag_len == 0 || tag_len > rdlen - 2)
        return ACMEVA_DNS_ERDATA;
    for (size_t i = 0; i < tag_len; i++) {
        if (!is_ascii_alnum(rdata[2 + i]))
            return ACMEVA_DNS_ERDATA;
    }
    out->flags = rdata[0];
    memcpy(out->tag, rdata + 2, tag_len);
    out->tag[tag_len] = '\0';
    out->tag_len = tag_len;
    out->value = rdata + 2 + tag_len;
    out->value_len = rdlen - 2 - tag_len;
    return 0;
}

int acmeva_dns_addr(const acmeva_dns_rr *rr, int *family, uint8_t out[16])
{
    if (rr == NULL || family == NULL || out == NULL || (rr->rdata == NULL && rr->rdlen > 0))
        return ACMEVA_DNS_EINVAL;
    if (rr->klass != ACMEVA_DNS_CLASS_IN)
        return ACMEVA_DNS_ETYPE;
    if (rr->type == ACMEVA_DNS_A) {
        /* RFC 1035 §3.4.1: a 32-bit address. */
        if (rr->rdlen != 4)
            return ACMEVA_DNS_ERDATA;
        memcpy(out, rr->rdata, 4);
        *family = AF_INET;
        return 0;
    }
    if (rr->type == ACMEVA_DNS_AAAA) {
        /* RFC 3596 §2.2: a 128-bit address. */
        if (rr->rdlen != 16)
            return ACMEVA_DNS_ERDATA;
        memcpy(out, rr->rdata, 16);
        *family = AF_INET6;
        return 0;
    }
    return ACMEVA_DNS_ETYPE;
}

int acmeva_dns_cname_target(const acmeva_dns_msg *m, const acmeva_dns_rr *rr, char out[256])
{
    if (m == NULL || rr == NULL || out == NULL || m->msg == NULL || rr->rdata == NULL)
        return ACMEVA_DNS_EINVAL;
    if (rr->type != ACMEVA_DNS_CNAME)
        return ACMEVA_DNS_ETYPE;
    /* The rdata must lie inside the message: compare as integers, since |rr| may come from
     * elsewhere and relational operators on unrelated pointers are undefined. */
    uintptr_t base = (uintptr_t)m->msg, at = (uintptr_t)rr->rdata;
    if (at < base || at - base > m->msg_len || m->msg_len - (at - base) < rr->rdlen)
        return ACMEVA_DNS_EINVAL;
    size_t off = at - base;
    size_t next;
    /* RFC 1035 §3.3.1: the rdata is exactly one (possibly compressed) name. */
    int rc = read_name(m->msg, m->msg_len, off, out, 1, &next);
    if (rc != 0)
        return rc;
    if (next != off + rr->rdlen)
        return ACMEVA_DNS_ERDATA;
    return 0;
}

int acmeva_dns_rr_owner(const acmeva_dns_msg *m, const acmeva_dns_rr *rr, char out[256])
{
    if (m == NULL || rr == NULL || out == NULL || m->msg == NULL || rr->owner_off >= m->msg_len)
        return ACMEVA_DNS_EINVAL;
    size_t next;
    return read_name(m->msg, m->msg_len, rr->owner_off, out, 1, &next);
}

/*
 * name_is reports whether the name at |off| of |msg| is |text| (a name as read_name presents
 * it: lowercase, labels joined with '.', no trailing dot), comparing ASCII letters
 * case-insensitively (RFC 4343 §3) without decompressing the name first. Every step is
 * bounded: pointers are counted and every label consumes text.
 */
static int name_is(const uint8_t *msg, size_t len, size_t off, const char *text)
{
    size_t pos = off, t = 0;
    int pointers = 0;
    for (;;) {
        if (pos >= len)
            return 0;
        uint8_t c = msg[pos];
        if ((c & 0xC0) == 0xC0) {
            if (len - pos < 2 || ++pointers > ACMEVA_DNS_MAX_POINTERS)
                return 0;
            pos = (size_t)(c & 0x3F) << 8 | msg[pos + 1];
            continue;
        }
        if (c & 0xC0)
            return 0;
        if (c == 0)
            return text[t] == '\0';
        if (len - pos - 1 < c)
            return 0;
        if (t > 0 && text[t++] != '.')
            return 0;
        for (size_t i = 0; i < c; i++, t++)
            if (text[t] == '\0' || ascii_lower((char)msg[pos + 1 + i]) != text[t])
                return 0;
        pos += 1 + (size_t)c;
    }
}

/* on_chain returns 1 when the owner of |rr| is one of the |n| names of |chain|. */
static int on_chain(const acmeva_dns_msg *m, const acmeva_dns_rr *rr, char chain[][256], size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (name_is(m->msg, m->msg_len, rr->owner_off, chain[k]))
            return 1;
    return 0;
}

int acmeva_dns_answer_chain(acmeva_dns_msg *m)
{
    if (m == NULL || m->msg == NULL)
        return ACMEVA_DNS_EINVAL;
    /* The names the answer may speak for: the question name, then each CNAME target
     * (RFC 1034 §4.3.2 step 3a: the server restarts the lookup at the canonical name). */
    char chain[ACMEVA_DNS_MAX_CNAME_HOPS + 1][256];
    size_t n = 1;
    memcpy(chain[0], m->qname, sizeof(m->qname));
    while (n <= ACMEVA_DNS_MAX_CNAME_HOPS) {
        const acmeva_dns_rr *cname = NULL;
        for (size_t i = 0; i < m->n_answers && cname == NULL; i++) {
            const acmeva_dns_rr *rr = &m->answers[i];
            if (rr->type == ACMEVA_DNS_CNAME && rr->klass == ACMEVA_DNS_CLASS_IN &&
                name_is(m->msg, m->msg_len, rr->owner_off, chain[n - 1]))
                cname = rr;
        }
        if (cname == NULL || acmeva_dns_cname_target(m, cname, chain[n]) != 0)
            break;
        int seen = 0; /* a loop ends the chain */
        for (size_t k = 0; k < n && !seen; k++)
            seen = strcmp(chain[k], chain[n]) == 0;
        if (seen)
            break;
        n++;
    }
    size_t kept = 0;
    for (size_t i = 0; i < m->n_answers; i++) {
        const acmeva_dns_rr *rr = &m->answers[i];
        if (rr->klass == ACMEVA_DNS_CLASS_IN &&
            (rr->type == m->qtype || rr->type == ACMEVA_DNS_CNAME) && on_chain(m, rr, chain, n))
            m->answers[kept++] = *rr;
    }
    m->n_answers_ignored += m->n_answers - kept;
    m->n_answers = kept;
    return 0;
}

int acmeva_dns_match_reply(const uint8_t *query, size_t qlen, const uint8_t *reply, size_t rlen,
                           acmeva_dns_msg *out)
{
    if (query == NULL || reply == NULL || out == NULL)
        return ACMEVA_DNS_EINVAL;
    /* The query's one question: an uncompressed name, then type and class. */
    if (qlen < ACMEVA_DNS_HEADER_LEN || get16(query + 4) != 1)
        return ACMEVA_DNS_EINVAL;
    size_t name_end = ACMEVA_DNS_HEADER_LEN;
    while (name_end < qlen && query[name_end] != 0) {
        if (query[name_end] & 0xC0)
            return ACMEVA_DNS_EINVAL;
        name_end += 1 + (size_t)query[name_end];
    }
    if (name_end >= qlen || qlen - name_end - 1 < 4)
        return ACMEVA_DNS_EINVAL;
    name_end++;
    size_t qend = name_end + 4;

    /* RFC 1035 §4.1.1: the id of the query, and a response (QR) to a standard query. */
    if (rlen < ACMEVA_DNS_HEADER_LEN)
        return ACMEVA_DNS_ESHORT;
    if (get16(reply) != get16(query))
        return ACMEVA_DNS_EID;
    uint16_t flags = get16(reply + 2);
    if (!(flags & FLAG_QR) || (flags >> OPCODE_SHIFT & OPCODE_MASK) != 0)
        return ACMEVA_DNS_ENOTRESP;
    int rc = acmeva_dns_parse(reply, rlen, out);
    if (rc != 0)
        return rc;
    /* The question, byte for byte. A reply's first name cannot be compressed (a pointer must
     * lead before offset 12), so equal bytes are an equal name in the exact case sent: the
     * random case of the query (draft-vixie-dnsext-dns0x20) is bits an off-path forger must
     * guess along with the id and the port. */
    if (out->n_questions != 1 || rlen < qend)
        return ACMEVA_DNS_EQUESTION;
    if (memcmp(reply + ACMEVA_DNS_HEADER_LEN, query + ACMEVA_DNS_HEADER_LEN,
               qend - ACMEVA_DNS_HEADER_LEN) == 0)
        return 0;
    if (memcmp(reply + name_end, query + name_end, 4) != 0)
        return ACMEVA_DNS_EQUESTION;
    /* Label lengths are below 64, so lowering every byte of the name lowers letters only. */
    for (size_t i = ACMEVA_DNS_HEADER_LEN; i < name_end; i++)
        if (ascii_lower((char)reply[i]) != ascii_lower((char)query[i]))
            return ACMEVA_DNS_EQUESTION;
    return ACMEVA_DNS_ECASE;
}

void acmeva_dns_0x20(char *name, const uint8_t *bits, size_t nbits)
{
    if (name == NULL || bits == NULL)
        return;
    for (size_t i = 0; name[i] != '\0' && i / 8 < nbits; i++) {
        char c = ascii_lower(name[i]);
        if (c < 'a' || c > 'z')
            continue;
        name[i] = (bits[i / 8] >> (i % 8) & 1) ? (char)(c - 'a' + 'A') : c;
    }
}

const char *acmeva_dns_ede_name(uint16_t code)
{
    /* RFC 8914 §5.2; later registrations read as "Unknown Error" with their code. */
    static const char *const names[] = {
        "Other Error",
        "Unsupported DNSKEY Algorithm",
        "Unsupported DS Digest Type",
        "Stale Answer",
        "Forged Answer",
        "DNSSEC Indeterminate",
        "DNSSEC Bogus",
        "Signature Expired",
        "Signature Not Yet Valid",
        "DNSKEY Missing",
        "RRSIGs Missing",
        "No Zone Key Bit Set",
        "NSEC Missing",
        "Cached Error",
        "Not Ready",
        "Blocked",
        "Censored",
        "Filtered",
        "Prohibited",
        "Stale NXDomain Answer",
        "Not Authoritative",
        "Not Supported",
        "No Reachable Authority",
        "Network Error",
        "Invalid Data",
    };
    return code < sizeof(names) / sizeof(names[0]) ? names[code] : "Unknown Error";
}

int acmeva_dns_ede_is_dnssec(uint16_t code)
{
    return code == 1 || code == 2 || (code >= 5 && code <= 12);
}
