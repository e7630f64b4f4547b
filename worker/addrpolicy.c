/*
 * Address policy: the reserved IPv4 and IPv6 blocks (see addrpolicy.h).
 *
 * Sources: https://www.iana.org/assignments/iana-ipv4-special-registry and
 * https://www.iana.org/assignments/iana-ipv6-special-registry (names and "RFC" columns as the
 * registries write them, the same data Boulder embeds in iana/data/), with Boulder's
 * multicast additions and the IPv4-compatible block. BR 1.6.1 "Reserved IP Address" and
 * BR 3.2.2.4 forbid validating through any of them.
 */
#include "addrpolicy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

typedef struct reserved_block {
    int family;         /* AF_INET or AF_INET6 */
    uint8_t prefix[16]; /* network bytes; only the first 4 for AF_INET */
    unsigned bits;      /* prefix length */
    const char *name;   /* the registry's "Name" column */
    const char *rfc;    /* the registry's "RFC" column */
} reserved_block;

/* One 16-bit group of an IPv6 address as two bytes; groups left out at the end are zero. */
#define W(x) ((x) >> 8) & 0xff, (x)&0xff

static const reserved_block reserved_blocks[] = {
    /* ---- IPv4 Special-Purpose Address Registry ---- */
    {AF_INET, {0, 0, 0, 0}, 8, "\"This network\"", "[RFC791], Section 3.2"},
    {AF_INET, {0, 0, 0, 0}, 32, "\"This host on this network\"", "[RFC1122], Section 3.2.1.3"},
    {AF_INET, {10, 0, 0, 0}, 8, "Private-Use", "[RFC1918]"},
    {AF_INET, {100, 64, 0, 0}, 10, "Shared Address Space", "[RFC6598]"},
    {AF_INET, {127, 0, 0, 0}, 8, "Loopback", "[RFC1122], Section 3.2.1.3"},
    {AF_INET, {169, 254, 0, 0}, 16, "Link Local", "[RFC3927]"},
    {AF_INET, {172, 16, 0, 0}, 12, "Private-Use", "[RFC1918]"},
    {AF_INET, {192, 0, 0, 0}, 24, "IETF Protocol Assignments", "[RFC6890], Section 2.1"},
    {AF_INET, {192, 0, 0, 0}, 29, "IPv4 Service Continuity Prefix", "[RFC7335]"},
    {AF_INET, {192, 0, 0, 8}, 32, "IPv4 dummy address", "[RFC7600]"},
    {AF_INET, {192, 0, 0, 9}, 32, "Port Control Protocol Anycast", "[RFC7723]"},
    {AF_INET, {192, 0, 0, 10}, 32, "Traversal Using Relays around NAT Anycast", "[RFC8155]"},
    {AF_INET, {192, 0, 0, 170}, 32, "NAT64/DNS64 Discovery", "[RFC8880][RFC7050], Section 2.2"},
    {AF_INET, {192, 0, 0, 171}, 32, "NAT64/DNS64 Discovery", "[RFC8880][RFC7050], Section 2.2"},
    {AF_INET, {192, 0, 2, 0}, 24, "Documentation (TEST-NET-1)", "[RFC5737]"},
    {AF_INET, {192, 31, 196, 0}, 24, "AS112-v4", "[RFC7535]"},
    {AF_INET, {192, 52, 193, 0}, 24, "AMT", "[RFC7450]"},
    {AF_INET, {192, 88, 99, 0}, 24, "Deprecated (6to4 Relay Anycast)", "[RFC7526]"},
    {AF_INET, {192, 168, 0, 0}, 16, "Private-Use", "[RFC1918]"},
    {AF_INET, {192, 175, 48, 0}, 24, "Direct Delegation AS112 Service", "[RFC7534]"},
    {AF_INET, {198, 18, 0, 0}, 15, "Benchmarking", "[RFC2544]"},
    {AF_INET, {198, 51, 100, 0}, 24, "Documentation (TEST-NET-2)", "[RFC5737]"},
    {AF_INET, {203, 0, 113, 0}, 24, "Documentation (TEST-NET-3)", "[RFC5737]"},
    {AF_INET, {240, 0, 0, 0}, 4, "Reserved", "[RFC1112], Section 4"},
    {AF_INET, {255, 255, 255, 255}, 32, "Limited Broadcast", "[RFC8190] [RFC919], Section 7"},
    /* Not in the registry; Boulder adds it (iana/ip.go). RFC 5771 is the current registry. */
    {AF_INET, {224, 0, 0, 0}, 4, "Multicast Addresses", "[RFC3171]"},

    /* ---- IPv6 Special-Purpose Address Registry ---- */
    {AF_INET6,
     {W(0), W(0), W(0), W(0), W(0), W(0), W(0), W(1)},
     128,
     "Loopback Address",
     "[RFC4291]"},
    {AF_INET6, {W(0)}, 128, "Unspecified Address", "[RFC4291]"},
    /* Refused whatever IPv4 address is inside: a mapped address is never dialled as IPv6. */
    {AF_INET6, {W(0), W(0), W(0), W(0), W(0), W(0xffff)}, 96, "IPv4-mapped Address", "[RFC4291]"},
    {AF_INET6, {W(0x64), W(0xff9b)}, 96, "IPv4-IPv6 Translat.", "[RFC6052]"},
    {AF_INET6, {W(0x64), W(0xff9b), W(1)}, 48, "IPv4-IPv6 Translat.", "[RFC8215]"},
    {AF_INET6, {W(0x100)}, 64, "Discard-Only Address Block", "[RFC6666]"},
    {AF_INET6, {W(0x100), W(0), W(0), W(1)}, 64, "Dummy IPv6 Prefix", "[RFC9780]"},
    {AF_INET6, {W(0x2001)}, 23, "IETF Protocol Assignments", "[RFC2928]"},
    {AF_INET6, {W(0x2001)}, 32, "TEREDO", "[RFC4380] [RFC8190]"},
    {AF_INET6,
     {W(0x2001), W(1), W(0), W(0), W(0), W(0), W(0), W(1)},
     128,
     "Port Control Protocol Anycast",
     "[RFC7723]"},
    {AF_INET6,
     {W(0x2001), W(1), W(0), W(0), W(0), W(0), W(0), W(2)},
     128,
     "Traversal Using Relays around NAT Anycast",
     "[RFC8155]"},
    {AF_INET6,
     {W(0x2001), W(1), W(0), W(0), W(0), W(0), W(0), W(3)},
     128,
     "DNS-SD Service Registration Protocol Anycast",
     "[RFC9665]"},
    {AF_INET6, {W(0x2001), W(2)}, 48, "Benchmarking", "[RFC5180][RFC Errata 1752]"},
    {AF_INET6, {W(0x2001), W(3)}, 32, "AMT", "[RFC7450]"},
    {AF_INET6, {W(0x2001), W(4), W(0x112)}, 48, "AS112-v6", "[RFC7535]"},
    {AF_INET6, {W(0x2001), W(0x10)}, 28, "Deprecated (previously ORCHID)", "[RFC4843]"},
    {AF_INET6, {W(0x2001), W(0x20)}, 28, "ORCHIDv2", "[RFC7343]"},
    {AF_INET6,
     {W(0x2001), W(0x30)},
     28,
     "Drone Remote ID Protocol Entity Tags (DETs) Prefix",
     "[RFC9374]"},
    {AF_INET6, {W(0x2001), W(0xdb8)}, 32, "Documentation", "[RFC3849]"},
    /* Boulder refuses 6to4 as well: anyone can announce the anycast relays (RFC 7526). */
    {AF_INET6, {W(0x2002)}, 16, "6to4", "[RFC3056]"},
    {AF_INET6, {W(0x2620), W(0x4f), W(0x8000)}, 48, "Direct Delegation AS112 Service", "[RFC7534]"},
    {AF_INET6, {W(0x3fff)}, 20, "Documentation", "[RFC9637]"},
    {AF_INET6, {W(0x5f00)}, 16, "Segment Routing (SRv6) SIDs", "[RFC9602]"},
    {AF_INET6, {W(0xfc00)}, 7, "Unique-Local", "[RFC4193] [RFC8190]"},
    {AF_INET6, {W(0xfe80)}, 10, "Link-Local Unicast", "[RFC4291]"},
    /* Not in the registry; Boulder adds it (iana/ip.go). */
    {AF_INET6, {W(0xff00)}, 8, "Multicast Addresses", "[RFC4291]"},
    /* Not in the registry: the deprecated IPv4-compatible form ::a.b.c.d (RFC 4291 §2.5.5.1),
     * which some stacks still route as IPv4. Covers :: and ::1 too (they match more
     * specific entries first). */
    {AF_INET6, {W(0)}, 96, "IPv4-compatible Address", "[RFC4291], Section 2.5.5.1"},
};

#undef W

static int prefix_match(const uint8_t *addr, const uint8_t *prefix, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(addr, prefix, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (addr[whole] & mask) == (prefix[whole] & mask);
}

/* The most specific block holding |addr|, as Boulder sorts its list longest prefix first. */
static const reserved_block *find_block(int family, const uint8_t *addr)
{
    const reserved_block *best = NULL;
    for (size_t i = 0; i < sizeof(reserved_blocks) / sizeof(reserved_blocks[0]); i++) {
        const reserved_block *b = &reserved_blocks[i];
        if (b->family != family || (best != NULL && b->bits <= best->bits))
            continue;
        if (prefix_match(addr, b->prefix, b->bits))
            best = b;
    }
    return best;
}

static int family_ok(int family, const uint8_t *addr)
{
    return addr != NULL && (family == AF_INET || family == AF_INET6);
}

int acmeva_addr_reserved(int family, const uint8_t *addr)
{
    if (!family_ok(family, addr))
        return 1;
    return find_block(family, addr) != NULL;
}

const char *acmeva_addr_reserved_name(int family, const uint8_t *addr)
{
    if (!family_ok(family, addr))
        return "Unknown address family";
    const reserved_block *b = find_block(family, addr);
    return b ? b->name : NULL;
}

const char *acmeva_addr_reserved_rfc(int family, const uint8_t *addr)
{
    if (!family_ok(family, addr))
        return "";
    const reserved_block *b = find_block(family, addr);
    return b ? b->rfc : NULL;
}

int acmeva_sockaddr_reserved(const struct sockaddr *sa)
{
    if (sa == NULL)
        return 1;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
        return acmeva_addr_reserved(AF_INET, (const uint8_t *)&sin->sin_addr);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
        return acmeva_addr_reserved(AF_INET6, sin6->sin6_addr.s6_addr);
    }
    return 1;
}

int acmeva_addr_format(int family, const uint8_t *addr, char *out, size_t outlen)
{
    if (out == NULL || outlen == 0)
        return -1;
    out[0] = '\0';
    if (!family_ok(family, addr))
        return -1;
    char buf[INET6_ADDRSTRLEN];
    if (inet_ntop(family, addr, buf, sizeof(buf)) == NULL)
        return -1;
    size_t n = strlen(buf);
    if (n >= outlen)
        return -1;
    memcpy(out, buf, n + 1);
    return 0;
}

void acmeva_addr_reserved_text(int family, const uint8_t *addr, char *out, size_t outlen)
{
    if (out == NULL || outlen == 0)
        return;
    out[0] = '\0';
    const char *name = acmeva_addr_reserved_name(family, addr);
    if (name == NULL)
        return;
    snprintf(out, outlen, "IP address is in a reserved address block: %s: %s",
             acmeva_addr_reserved_rfc(family, addr), name);
}

/* ---- CIDR ranges and the operator's exceptions ---------------------------------------------- */

/* The messages go through snprintf, which writes nothing when |err| is NULL and |errlen| 0. */
int acmeva_cidr_parse(const char *text, acmeva_cidr *out, char *err, size_t errlen)
{
    char host[ACMEVA_CIDR_TEXT_MAX + 1];
    if (text == NULL || out == NULL) {
        snprintf(err, errlen, "no value");
        return -1;
    }
    size_t len = strnlen(text, ACMEVA_CIDR_TEXT_MAX + 1);
    const char *slash = memchr(text, '/', len);
    if (len > ACMEVA_CIDR_TEXT_MAX || slash == NULL) {
        snprintf(err, errlen, "'%.60s' is not ADDRESS/PREFIX (for one address write /32 or /128)",
                text);
        return -1;
    }
    size_t hl = (size_t)(slash - text);
    memcpy(host, text, hl);
    host[hl] = '\0';
    memset(out, 0, sizeof(*out));
    /* inet_pton is strict: four decimal octets without leading zeros for IPv4; no brackets,
     * zones or spaces for IPv6. */
    if (inet_pton(AF_INET, host, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, host, out->addr) == 1)
        out->family = AF_INET6;
    else {
        snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", host);
        return -1;
    }
    unsigned max = out->family == AF_INET ? 32 : 128;
    const char *p = slash + 1;
    size_t digits = strspn(p, "0123456789");
    if (digits == 0 || digits > 3 || p[digits] != '\0' || (digits > 1 && p[0] == '0')) {
        snprintf(err, errlen, "prefix '%s' is not a decimal number from 0 to %u", p, max);
        return -1;
    }
    unsigned bits = 0;
    for (size_t i = 0; i < digits; i++)
        bits = bits * 10 + (unsigned)(p[i] - '0');
    if (bits > max) {
        snprintf(err, errlen, "prefix /%u is longer than %u bits", bits, max);
        return -1;
    }
    out->bits = bits;
    acmeva_cidr net = *out;
    size_t n = max / 8;
    for (size_t i = 0; i < n; i++) {
        unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * (unsigned)i : 0;
        net.addr[i] &= (uint8_t)(0xff00u >> keep);
    }
    if (memcmp(net.addr, out->addr, n) != 0) {
        char text_net[INET6_ADDRSTRLEN];
        acmeva_addr_format(net.family, net.addr, text_net, sizeof(text_net));
        snprintf(err, errlen, "'%s/%u' has host bits set: the network is %s/%u", host, bits,
                text_net, bits);
        return -1;
    }
    return 0;
}

int acmeva_cidr_contains(const acmeva_cidr *c, int family, const uint8_t *addr)
{
    if (c == NULL || addr == NULL || c->family != family)
        return 0;
    return prefix_match(addr, c->addr, c->bits);
}

int acmeva_addr_policy_init(acmeva_addr_policy *p, const acmeva_engine_config *cfg, char *err,
                            size_t errlen)
{
    char why[160];
    memset(p, 0, sizeof(*p));
    p->allow_reserved = cfg->allow_private != 0;
    if (cfg->n_allow_addresses > ACMEVA_MAX_ALLOW_ADDRESSES) {
        snprintf(err, errlen, "--allow-address: at most %d", ACMEVA_MAX_ALLOW_ADDRESSES);
        return -1;
    }
    for (size_t i = 0; i < cfg->n_allow_addresses; i++) {
        if (acmeva_cidr_parse(cfg->allow_addresses[i], &p->allow[i], why, sizeof(why)) != 0) {
            snprintf(err, errlen, "--allow-address: %s", why);
            return -1;
        }
    }
    p->n_allow = cfg->n_allow_addresses;
    return 0;
}

int acmeva_addr_policy_permits(const acmeva_addr_policy *p, int family, const uint8_t *addr)
{
    if (!family_ok(family, addr))
        return 0;
    if (find_block(family, addr) == NULL || p->allow_reserved)
        return 1;
    for (size_t i = 0; i < p->n_allow; i++)
        if (acmeva_cidr_contains(&p->allow[i], family, addr))
            return 1;
    return 0;
}

int acmeva_addr_policy_permits_sockaddr(const acmeva_addr_policy *p, const struct sockaddr *sa)
{
    if (sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
        return acmeva_addr_policy_permits(p, AF_INET, (const uint8_t *)&sin->sin_addr);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
        return acmeva_addr_policy_permits(p, AF_INET6, sin6->sin6_addr.s6_addr);
    }
    return 0;
}

int acmeva_addr_policy_refuses_all_reserved(const acmeva_addr_policy *p)
{
    return !p->allow_reserved && p->n_allow == 0;
}
