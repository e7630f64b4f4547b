/*
 * The raw DNS message codec of the engine: pure functions, no I/O, no allocation.
 *
 * The resolver builds its own queries here (with the AD bit, RFC 6840 §5.7, and an EDNS0 OPT
 * record, RFC 6891 §6.1), sends them on its own transport (resolver.c) and parses the raw
 * answer bytes here. Every parser treats its input as hostile: every read is bounded by the
 * message length, every count is checked against what the message can hold.
 *
 * Parsing rules (acmeva_dns_parse):
 * - A message is at most 65535 octets (the most a TCP length prefix can say, RFC 1035
 *   §4.2.2; a UDP payload is smaller). Every answer record it holds is kept: the record array
 *   is sized for the most records 65535 octets can carry, so no answer is ever left out.
 * - The header and every section the counts announce must be inside the message (RFC 1035
 *   §4.1). A count larger than the message can hold is an error, and so is any truncation:
 *   a message cut short at any length fails to parse, it never yields a shorter result.
 *   Bytes after the last record are ignored (RFC 1035 does not forbid padding; the Go DNS
 *   library Boulder uses ignores them too).
 * - Names (RFC 1035 §3.1, §4.1.4): labels of 1..63 octets, at most 255 octets on the wire
 *   (253 characters as text), label types 0x40 and 0x80 refused (RFC 6891 §5). A
 *   compression pointer must point into the message body (offset 12 or more) and strictly
 *   before the start of the label run it ends, so a pointer can never lead back to itself:
 *   self pointers, cycles and forward pointers are refused. At most
 *   ACMEVA_DNS_MAX_POINTERS pointers are followed in one name.
 * - Names that are presented as text (the question name, answer owners, CNAME targets) must
 *   consist of printable ASCII (0x21..0x7e) without '.' inside a label; they are lowercased
 *   and have no trailing dot (the root is ""). Names in the authority and additional sections
 *   are only checked for structure. An answer keeps its owner as an offset into the message
 *   (acmeva_dns_rr_owner presents it).
 * - OPT (RFC 6891 §6.1.1): only in the additional section, at most one, owner the root. Its
 *   extended rcode bits are merged into |rcode| (RFC 6891 §6.1.3). Its options must tile its
 *   rdata; Extended DNS Error options (RFC 8914 §2) are kept, ACMEVA_DNS_MAX_EDE at most, and
 *   one shorter than its 2-octet INFO-CODE is ignored (it is a diagnostic, not an answer).
 * - Record data is only checked to lie within the message; the typed readers below
 *   (acmeva_dns_txt_join, acmeva_dns_caa_parse, acmeva_dns_addr, acmeva_dns_cname_target)
 *   check the content.
 */
#ifndef ACMEVA_DNSMSG_H
#define ACMEVA_DNSMSG_H

#include <stddef.h>
#include <stdint.h>

#define ACMEVA_DNS_MAX_MESSAGE 65535 /* octets of a message (RFC 1035 §4.2.2 length prefix) */
#define ACMEVA_DNS_HEADER_LEN 12
#define ACMEVA_DNS_MIN_RR_LEN 11 /* a record with the root as owner and no rdata */
/* The most answer records a message can hold: every one of them is kept. */
#define ACMEVA_DNS_MAX_RECORDS                                                                     \
    ((ACMEVA_DNS_MAX_MESSAGE - ACMEVA_DNS_HEADER_LEN) / ACMEVA_DNS_MIN_RR_LEN)
#define ACMEVA_DNS_MAX_POINTERS 126  /* compression pointers followed in one name */
#define ACMEVA_DNS_MAX_CNAME_HOPS 16 /* CNAMEs followed from the question name */
#define ACMEVA_DNS_MAX_EDE 8         /* Extended DNS Errors kept from one message */
#define ACMEVA_DNS_MAX_NAME_TEXT 253 /* characters of a name without its trailing dot */
#define ACMEVA_DNS_MAX_NAME_WIRE 255 /* octets of a name on the wire (RFC 1035 §3.1) */
#define ACMEVA_DNS_CLASS_IN 1

enum {
    ACMEVA_DNS_A = 1,
    ACMEVA_DNS_CNAME = 5,
    ACMEVA_DNS_TXT = 16,
    ACMEVA_DNS_AAAA = 28,
    ACMEVA_DNS_OPT = 41,
    ACMEVA_DNS_CAA = 257
};

typedef enum {
    ACMEVA_RCODE_NOERROR = 0,
    ACMEVA_RCODE_FORMERR = 1,
    ACMEVA_RCODE_SERVFAIL = 2,
    ACMEVA_RCODE_NXDOMAIN = 3,
    ACMEVA_RCODE_NOTIMP = 4,
    ACMEVA_RCODE_REFUSED = 5,
    ACMEVA_RCODE_BADVERS = 16 /* RFC 6891 §9: only with an OPT record */
} acmeva_dns_rcode;

/* Errors returned by this module (all negative). */
enum {
    ACMEVA_DNS_EINVAL = -1,     /* bad argument (NULL pointer, ...) */
    ACMEVA_DNS_ENOSPC = -2,     /* output buffer too small */
    ACMEVA_DNS_EBADNAME = -3,   /* query name not a valid DNS name */
    ACMEVA_DNS_ESHORT = -4,     /* message ends inside the header, a name or a record */
    ACMEVA_DNS_ECOUNTS = -5,    /* section counts larger than the message can hold */
    ACMEVA_DNS_ELABEL = -6,     /* label longer than 63 octets or of a reserved type */
    ACMEVA_DNS_ENAMELEN = -7,   /* name longer than 255 octets */
    ACMEVA_DNS_EPTR = -8,       /* compression pointer not strictly backwards */
    ACMEVA_DNS_EHOPS = -9,      /* too many compression pointers in one name */
    ACMEVA_DNS_ECHARS = -10,    /* name with a byte that cannot be presented as text */
    ACMEVA_DNS_EOPT = -11,      /* misplaced, repeated or malformed OPT record */
    ACMEVA_DNS_ERDATA = -12,    /* record data malformed for its type */
    ACMEVA_DNS_ETYPE = -13,     /* record not of the type the reader expects */
    ACMEVA_DNS_ETOOLONG = -14,  /* value does not fit the output buffer */
    ACMEVA_DNS_EID = -15,       /* response id differs from the query id */
    ACMEVA_DNS_ENOTRESP = -16,  /* QR bit clear or opcode not QUERY */
    ACMEVA_DNS_EQUESTION = -17, /* question section differs from the query */
    ACMEVA_DNS_ECASE = -18,     /* question equal but for letter case (0x20) */
    ACMEVA_DNS_EMSGLEN = -19    /* message longer than ACMEVA_DNS_MAX_MESSAGE */
};

/* One resource record of the answer section (RFC 1035 §4.1.3), 24 bytes. */
typedef struct acmeva_dns_rr {
    const uint8_t *rdata; /* borrowed: points into the parsed message */
    uint32_t ttl;
    uint16_t type, klass;
    uint16_t rdlen;
    uint16_t owner_off; /* offset of the owner name in the message (acmeva_dns_rr_owner) */
} acmeva_dns_rr;

/* One Extended DNS Error option (RFC 8914 §2). */
typedef struct acmeva_dns_ede {
    uint16_t code;
    const uint8_t *text; /* EXTRA-TEXT, borrowed, not NUL-terminated (UTF-8 by RFC 8914 §2;
                          * hostile: escape it before it reaches a detail) */
    uint16_t text_len;
} acmeva_dns_ede;

/*
 * A parsed response. It is large (about 140 KB: room for every record a 65535-octet message
 * can hold): allocate it on the heap, once, and reuse it. It borrows the message buffer
 * (|msg|, every |rdata| and EDE text), which must outlive it.
 */
typedef struct acmeva_dns_msg {
    const uint8_t *msg; /* borrowed: the message given to acmeva_dns_parse */
    size_t msg_len;
    uint16_t id;
    int opcode;
    int rcode; /* header rcode plus the extended rcode bits of OPT when present */
    int qr, aa, tc, rd, ra, ad, cd;
    size_t n_questions;
    char qname[256]; /* the first question ("" and qtype 0 when there is none) */
    uint16_t qtype, qclass;
    size_t n_authority, n_additional;
    int edns;               /* 1 when an OPT record was present */
    uint16_t edns_udp_size; /* OPT class: the sender's UDP payload size */
    uint8_t edns_version;   /* OPT TTL bits 16..23 */
    int edns_do;            /* OPT DO bit (RFC 3225) */
    size_t n_ede;           /* Extended DNS Errors kept (<= ACMEVA_DNS_MAX_EDE) */
    acmeva_dns_ede ede[ACMEVA_DNS_MAX_EDE];
    size_t n_answers_ignored; /* records acmeva_dns_answer_chain left out */
    size_t n_answers;         /* every answer record of the message */
    acmeva_dns_rr answers[ACMEVA_DNS_MAX_RECORDS];
} acmeva_dns_msg;

/*
 * acmeva_dns_rcode_name returns the mnemonic of |rcode| ("NOERROR", "FORMERR", "SERVFAIL",
 * "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
 * "BADVERS"), or "OTHER" for any other value. The string is static.
 */
const char *acmeva_dns_rcode_name(int rcode);

/*
 * acmeva_dns_rcode_format writes the mnemonic of |rcode|, or "RCODE<n>" for an unknown one,
 * into |buf| (NUL-terminated, cut to |cap|). Returns 0, or ACMEVA_DNS_EINVAL when |buf| is
 * NULL or |cap| is 0.
 */
int acmeva_dns_rcode_format(int rcode, char *buf, size_t cap);

/*
 * acmeva_dns_build_query writes a query for |name| and |qtype| (class IN) with id |id| into
 * |buf|: RD set, AD set (RFC 6840 §5.7), and when |udp_size| is not 0 an EDNS0 OPT record
 * advertising |udp_size| with version 0 and the DO bit clear (RFC 6891 §6.1.2). |name| is
 * given with or without a trailing dot ("." is the root), copied with its case, and must have
 * labels of 1..63 printable ASCII bytes and at most 253 characters. Returns the length
 * written, ACMEVA_DNS_EBADNAME for a bad name, ACMEVA_DNS_ENOSPC when |cap| is too small or
 * ACMEVA_DNS_EINVAL for NULL arguments.
 */
int acmeva_dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t qtype,
                           uint16_t udp_size);

/*
 * acmeva_dns_parse parses the response |msg| of |len| bytes into |out| under the rules at
 * the top of this file. Returns 0, or a negative ACMEVA_DNS_E* error (acmeva_dns_strerror
 * gives a short reason); |out| is then unspecified. |out| borrows |msg|.
 */
int acmeva_dns_parse(const uint8_t *msg, size_t len, acmeva_dns_msg *out);

/* acmeva_dns_strerror returns a short static text for an error of this module. */
const char *acmeva_dns_strerror(int err);

/*
 * acmeva_dns_txt_join concatenates the character-strings of one TXT rdata (RFC 1035 §3.3.14;
 * the strings of one record are joined, as RFC 8555 §8.4 validators do) into |out| and
 * NUL-terminates it. The value may itself contain NUL bytes: use the returned length. Empty
 * rdata (no strings) joins to "" (RFC 1035 asks for one or more strings; the Go DNS library
 * Boulder uses accepts none, and "" never matches a digest). Returns the length, or
 * ACMEVA_DNS_ERDATA when a string runs past the rdata, ACMEVA_DNS_ETOOLONG when the value and
 * its NUL do not fit |outcap|, ACMEVA_DNS_EINVAL for NULL arguments.
 */
int acmeva_dns_txt_join(const uint8_t *rdata, size_t rdlen, char *out, size_t outcap);

/* One CAA record (RFC 8659 §4.1). */
typedef struct acmeva_caa_rr {
    uint8_t flags;        /* bit 7 (128) is the issuer critical flag */
    char tag[256];        /* as given, NUL-terminated: compare case-insensitively */
    size_t tag_len;       /* 1..255 */
    const uint8_t *value; /* borrowed: points into the rdata */
    size_t value_len;
} acmeva_caa_rr;

/*
 * acmeva_dns_caa_parse splits a CAA rdata (RFC 8659 §4.1) into flags, tag and value. The tag
 * must be 1..255 ASCII letters and digits; the value is the rest of the rdata (possibly
 * empty), not interpreted here. Returns 0, ACMEVA_DNS_ERDATA for malformed rdata or
 * ACMEVA_DNS_EINVAL for NULL arguments. |out->value| borrows |rdata|.
 */
int acmeva_dns_caa_parse(const uint8_t *rdata, size_t rdlen, acmeva_caa_rr *out);

/*
 * acmeva_dns_addr copies the address of an A (4 bytes, RFC 1035 §3.4.1) or AAAA (16 bytes,
 * RFC 3596 §2.2) record of class IN into |out| and sets |family| to AF_INET or AF_INET6.
 * Returns 0, ACMEVA_DNS_ETYPE for another type or class, ACMEVA_DNS_ERDATA for a wrong rdata
 * length, ACMEVA_DNS_EINVAL for NULL arguments.
 */
int acmeva_dns_addr(const acmeva_dns_rr *rr, int *family, uint8_t out[16]);

/*
 * acmeva_dns_cname_target decompresses the target of the CNAME record |rr| (RFC 1035
 * §3.3.1), an answer of |m|, into |out| (lowercased, no trailing dot, NUL-terminated). The
 * name must fill the rdata exactly. Returns 0, ACMEVA_DNS_ETYPE when |rr| is not a CNAME, a
 * name error (ACMEVA_DNS_EPTR, ...) or ACMEVA_DNS_ERDATA for a malformed rdata,
 * ACMEVA_DNS_EINVAL for NULL arguments or an |rr| whose rdata is not inside |m|.
 */
int acmeva_dns_cname_target(const acmeva_dns_msg *m, const acmeva_dns_rr *rr, char out[256]);

/*
 * acmeva_dns_rr_owner decompresses the owner name of |rr|, an answer of |m|, into |out|
 * (lowercased, no trailing dot, NUL-terminated; "" for the root). Returns 0, a name error, or
 * ACMEVA_DNS_EINVAL for NULL arguments or an owner offset outside |m|.
 */
int acmeva_dns_rr_owner(const acmeva_dns_msg *m, const acmeva_dns_rr *rr, char out[256]);

/*
 * acmeva_dns_answer_chain keeps in |m|'s answer section only what answers its question: the
 * CNAME records of the chain that starts at the question name (followed inside the answer
 * section, RFC 1034 §3.6.2 and §4.3.2; ACMEVA_DNS_MAX_CNAME_HOPS at most, a loop ends it),
 * and the records of the question's type and class IN whose owner is on that chain. Owners
 * compare case-insensitively (RFC 4343). Every other record (another owner, another type, a
 * CNAME off the chain) is removed and counted in |m->n_answers_ignored|: a resolver's answer
 * is never taken for a name that was not asked. The order of the kept records is unchanged.
 * Returns 0, or ACMEVA_DNS_EINVAL for NULL |m|.
 */
int acmeva_dns_answer_chain(acmeva_dns_msg *m);

/*
 * acmeva_dns_match_reply checks that |reply| (|rlen| bytes, from the network) answers
 * |query| (|qlen| bytes, built by acmeva_dns_build_query) and parses it into |out|. The reply
 * counts only when its id equals the query's, QR is set, its opcode is QUERY (RFC 1035
 * §4.1.1), it parses, and it holds exactly one question whose bytes (name in the exact letter
 * case sent, draft-vixie-dnsext-dns0x20 §4; type; class) equal the query's. Returns 0, or why
 * it does not count: ACMEVA_DNS_EID, ACMEVA_DNS_ENOTRESP, ACMEVA_DNS_ECASE (the question
 * differs only in letter case), ACMEVA_DNS_EQUESTION, a parse error (malformed), or
 * ACMEVA_DNS_EINVAL for NULL arguments or a |query| that is not one question.
 */
int acmeva_dns_match_reply(const uint8_t *query, size_t qlen, const uint8_t *reply, size_t rlen,
                           acmeva_dns_msg *out);

/*
 * acmeva_dns_0x20 sets the case of every ASCII letter of |name| from |bits|: the letter at
 * index i becomes uppercase when bit (i % 8) of bits[i / 8] is set, lowercase otherwise
 * (draft-vixie-dnsext-dns0x20 §3). Letters at an index past 8 * |nbits| bytes are left as
 * they are; other bytes are never changed. Pure.
 */
void acmeva_dns_0x20(char *name, const uint8_t *bits, size_t nbits);

/*
 * acmeva_dns_ede_name returns the registered name of Extended DNS Error |code| (RFC 8914 §5.2,
 * e.g. "DNSSEC Bogus" for 6), or "Unknown Error" for an unassigned one. The string is static.
 */
const char *acmeva_dns_ede_name(uint16_t code);

/*
 * acmeva_dns_ede_is_dnssec returns 1 when Extended DNS Error |code| reports a failed DNSSEC
 * validation (RFC 8914 §4: 1 Unsupported DNSKEY Algorithm, 2 Unsupported DS Digest Type,
 * 5 DNSSEC Indeterminate, 6 DNSSEC Bogus, 7 Signature Expired, 8 Signature Not Yet Valid,
 * 9 DNSKEY Missing, 10 RRSIGs Missing, 11 No Zone Key Bit Set, 12 NSEC Missing), else 0.
 */
int acmeva_dns_ede_is_dnssec(uint16_t code);

#endif
