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
 * Everything here is pure: no I/O, no allocation, safe from any thread.
 */
#ifndef ACMEVA_ADDRPOLICY_H
#define ACMEVA_ADDRPOLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

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

#endif
