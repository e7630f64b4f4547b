/*
 * Address policy: which IPv4 and IPv6 addresses a validation must never dial.
 *
 * The table is the union of the IANA IPv4 and IPv6 Special-Purpose Address Registries (every
 * entry, whatever its "Globally Reachable" column says: the BRs forbid validating through a
 * Reserved IP Address, and Boulder's iana.IsReservedAddr refuses every registry entry) and
 * Boulder's additions (IPv4 and IPv6 multicast), plus the deprecated IPv4-compatible IPv6
 * block ::/96 (RFC 4291 §2.5.5.1). IPv4-mapped IPv6 addresses (::ffff:0:0/96) are refused
 * whatever IPv4 address they carry, as Boulder does, and so are both NAT64 prefixes.
 *
 * The operator may allow some reserved ranges back (acmeva_addr_policy: --allow-address,
 * --allow-private-addresses); the connection layer (conn.c) applies the policy to every
 * connection before a socket exists.
 *
 * Everything here is pure: no I/O, no allocation, safe from any thread.
 */
#ifndef ACMEVA_ADDRPOLICY_H
#define ACMEVA_ADDRPOLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "acmeva/engine.h"

/*
 * acmeva_addr_reserved returns 1 when |addr| (4 bytes for AF_INET, 16 for AF_INET6) lies in a
 * reserved block and must not be dialled, 0 when it is a global address. An unknown |family|
 * or a NULL |addr| returns 1: what cannot be classified is never dialled. |addr| is borrowed.
 */
int acmeva_addr_reserved(int family, const uint8_t *addr);

/*
 * acmeva_addr_reserved_name returns the registry name of the most specific reserved block
 * holding |addr| ("Loopback", "Private-Use", "IPv4-mapped Address", ...), or NULL when the
 * address is global. The string is static. An unknown family or a NULL |addr| returns
 * "Unknown address family", so that the result is NULL exactly when acmeva_addr_reserved
 * returns 0.
 */
const char *acmeva_addr_reserved_name(int family, const uint8_t *addr);

/*
 * acmeva_addr_reserved_rfc returns the "RFC" column of the same registry entry (for example
 * "[RFC1918]" or "[RFC1122], Section 3.2.1.3"), or NULL when the address is global ("" for an
 * unknown family or a NULL |addr|). With the name it makes Boulder's text "IP address is in a
 * reserved address block: <rfc>: <name>". The string is static.
 */
const char *acmeva_addr_reserved_rfc(int family, const uint8_t *addr);

/*
 * acmeva_sockaddr_reserved is acmeva_addr_reserved for a struct sockaddr_in or sockaddr_in6
 * (borrowed). Any other family, or NULL, returns 1.
 */
int acmeva_sockaddr_reserved(const struct sockaddr *sa);

/*
 * acmeva_addr_format writes the canonical text of |addr| (inet_ntop: "192.0.2.1",
 * "2001:db8::1", "::ffff:192.0.2.1") and a NUL into |out| (|outlen| bytes, 46 are always
 * enough). Returns 0, or -1 for an unknown family, a NULL pointer or a buffer too small (then
 * |out| holds "" when |outlen| > 0).
 */
int acmeva_addr_format(int family, const uint8_t *addr, char *out, size_t outlen);

/*
 * acmeva_addr_reserved_text writes Boulder's refusal text for a reserved |addr|, "IP address is
 * in a reserved address block: <rfc>: <name>", and a NUL into |out| (|outlen| bytes; cut to
 * fit). For a global address it writes "". |addr| is borrowed.
 */
void acmeva_addr_reserved_text(int family, const uint8_t *addr, char *out, size_t outlen);

/* ---- CIDR ranges and the operator's exceptions ---------------------------------------------- */

/* An IPv4 or IPv6 prefix: the network address (host bits zero) and its length. */
typedef struct acmeva_cidr {
    int family;      /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network bytes; only the first 4 for AF_INET */
    unsigned bits;   /* 0..32 or 0..128 */
} acmeva_cidr;

/* The longest CIDR text acmeva_cidr_parse reads: an IPv6 address in its longest form
 * (INET6_ADDRSTRLEN - 1 = 45) plus "/128". */
#define ACMEVA_CIDR_TEXT_MAX 49

/*
 * acmeva_cidr_parse reads |text| as ADDRESS/PREFIX, strictly: ADDRESS is dotted-quad IPv4
 * (four decimal octets, no leading zeros) or IPv6 text as inet_pton reads it (no brackets,
 * no zone); PREFIX is decimal, 0..32 or 0..128, without sign, spaces or leading zeros; the
 * "/PREFIX" part is required (a bare address is refused, so that a range is never implied).
 * Host bits must be zero: "10.1.2.3/8" is refused rather than silently widened to 10.0.0.0/8
 * (an operator who wrote it most likely meant a narrower range). Returns 0 and fills |out|,
 * or -1 and writes one line saying what is wrong (naming the network address when only the
 * host bits are wrong) to |err| (|errlen| bytes; may be NULL when 0).
 */
int acmeva_cidr_parse(const char *text, acmeva_cidr *out, char *err, size_t errlen);

/* acmeva_cidr_contains returns 1 when |addr| of |family| lies in |c| (same family only: an
 * IPv4 prefix never holds an IPv6 address, whatever IPv4 address that one embeds), else 0. */
int acmeva_cidr_contains(const acmeva_cidr *c, int family, const uint8_t *addr);

/*
 * The address policy of an engine, built once from its configuration: which reserved
 * addresses may be dialled all the same. Everything not reserved is always permitted.
 *  - allow_reserved (--allow-private-addresses): every reserved address, for tests;
 *  - allow[] (--allow-address CIDR): the reserved addresses inside these prefixes, by family.
 *    An IPv4 prefix never allows an IPv6 address, so the IPv4-mapped (::ffff:a.b.c.d),
 *    IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) forms of an allowed IPv4
 *    address stay refused (Boulder refuses the mapped forms whatever they embed): only an
 *    IPv6 prefix that covers such an address allows it.
 */
typedef struct acmeva_addr_policy {
    int allow_reserved;
    acmeva_cidr allow[ACMEVA_MAX_ALLOW_ADDRESSES];
    size_t n_allow;
} acmeva_addr_policy;

/*
 * acmeva_addr_policy_init builds |p| from |cfg|'s allow_private and allow_addresses (each
 * parsed with acmeva_cidr_parse). Returns 0, or -1 with a message in |err| when a CIDR does
 * not parse or there are more than ACMEVA_MAX_ALLOW_ADDRESSES.
 */
int acmeva_addr_policy_init(acmeva_addr_policy *p, const acmeva_engine_config *cfg, char *err,
                            size_t errlen);

/* acmeva_addr_policy_permits returns 1 when |addr| may be dialled under |p| (it is global, or
 * an exception covers it), 0 when it must not be. An unknown family or a NULL |addr| is 0. */
int acmeva_addr_policy_permits(const acmeva_addr_policy *p, int family, const uint8_t *addr);

/* acmeva_addr_policy_permits_sockaddr is acmeva_addr_policy_permits for a struct sockaddr_in
 * or sockaddr_in6 (borrowed). Any other family, or NULL, is 0. */
int acmeva_addr_policy_permits_sockaddr(const acmeva_addr_policy *p, const struct sockaddr *sa);

/* acmeva_addr_policy_refuses_all_reserved returns 1 when |p| has no exception at all, so that
 * a lookup may drop every reserved address at once (resolver.c), else 0. */
int acmeva_addr_policy_refuses_all_reserved(const acmeva_addr_policy *p);

#endif
