/*
 * The tls-alpn-01 certificate check (RFC 8737 §3, RFC 8738 §6, BR 3.2.2.4.20): a pure
 * function from the DER of the leaf certificate a server presented to a verdict and, on
 * failure, the reason text of the problem detail. No I/O, no clock: no date or chain checks.
 */
#ifndef ACMEVA_CERTCHECK_H
#define ACMEVA_CERTCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "acmeva/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest leaf certificate looked at; bigger ones are refused unparsed. */
#define ACMEVA_CERT_MAX_DER (16 * 1024)
/* At most this many extensions in a certificate (a bound of acmeva's, not Boulder's); more
 * make the certificate ACMEVA_CERT_EMALFORMED. */
#define ACMEVA_CERT_MAX_EXTENSIONS 64

/* Return values of acmeva_tlsalpn01_check_cert. */
#define ACMEVA_CERT_OK 0
#define ACMEVA_CERT_EREJECTED (-1)  /* a well-formed certificate that does not prove control */
#define ACMEVA_CERT_EMALFORMED (-2) /* not a DER certificate, or larger than the cap */
#define ACMEVA_CERT_EINVAL (-3)     /* bad arguments (a bug in the caller) */
#define ACMEVA_CERT_ENOMEM (-4)     /* out of memory: this machine's failure */

/* A reason buffer of this size is never cut (the list of names in a reason is bounded). */
#define ACMEVA_CERT_REASON_MAX 1280

/* Room for the longest reverse name: 32 nibbles with dots and "ip6.arpa", plus the NUL. */
#define ACMEVA_REVERSE_NAME_MAX 73

/*
 * acmeva_tlsalpn01_check_cert checks the leaf certificate |der| (|der_len| bytes, borrowed)
 * served for a tls-alpn-01 challenge. When |ident_is_ip| is set the identifier is the IP
 * address |ip| (|ip_len| 4 or 16 bytes), else the DNS name |dns_name| (lowercase A-labels, as
 * jobs carry it). |digest| is SHA-256(keyAuthorization).
 *
 * The checks and their order follow Boulder's VA (va/tlsalpn.go), reasons in its words:
 *  1. self-signed: the issuer equals the subject ("Received certificate which is not
 *     self-signed."). Unlike Boulder, the signature is not verified: RFC 8737 §3 does not
 *     ask for it, and the handshake has already proven that the server holds the
 *     certificate's key (the reasons are beside self_signed in certcheck.c);
 *  2. no extension OID twice, acmeIdentifier and subjectAltName present ("Received
 *     certificate with unexpected extensions: "Extension OID 2.5.29.17 seen twice"", ...
 *     "Required extension OID 1.3.6.1.5.5.7.1.31 is not present"");
 *  3. the subjectAltName holds exactly one name: a dNSName equal to the identifier, or for
 *     IP identifiers one iPAddress with its bytes ("Received certificate with unexpected
 *     identifiers ("<names>"): "wrong number of identifiers"", "identifier does not match
 *     expected identifier", "SAN extension does not match expected bytes"). As in Boulder the
 *     name is compared case-insensitively and then the whole extension byte for byte, so a
 *     name that differs only in case fails with the third text;
 *  4. acmeIdentifier is critical, and its extnValue is exactly a DER OCTET STRING of the 32
 *     bytes of |digest| ("... extension that is not Critical.", "Received certificate with
 *     malformed acmeValidationV1 extension value.", "... value <hex> but expected <hex>.").
 * Dates and chains are not checked (challtestsrv serves year-0001 validity). The digest is
 * compared in constant time.
 *
 * All ACMEVA_CERT_EREJECTED reasons belong in an unauthorized problem (validation-rules.md).
 * ACMEVA_CERT_EMALFORMED is a certificate that is not well-formed DER ("Received certificate
 * that could not be parsed (<what>)."; Go's parser refuses those too and Boulder then reports
 * a tls problem) or is over the size cap ("Received certificate of N bytes, more than the
 * 16384 allowed."); the caller chooses the problem type.
 *
 * Returns ACMEVA_CERT_OK (0) when the certificate proves control, else a negative
 * ACMEVA_CERT_E* value. |reason| (|reason_len| bytes, caller-owned; may be NULL when
 * |reason_len| is 0) always receives a NUL-terminated text: empty on success, else the text
 * that follows "Requested <name> from <ip:port>. " in the problem detail, in Boulder's words,
 * e.g. "Received certificate which is not self-signed." Bytes taken from the certificate are
 * escaped with acmeva_escape (escape.h). A reason longer than the buffer is cut;
 * ACMEVA_CERT_REASON_MAX bytes always suffice.
 */
int acmeva_tlsalpn01_check_cert(const uint8_t *der, size_t der_len, int ident_is_ip,
                                const char *dns_name, const uint8_t *ip, size_t ip_len,
                                const uint8_t digest[32], char *reason, size_t reason_len);

/*
 * acmeva_cert_names appends to |out| the names of the certificate |der| (|der_len| bytes,
 * borrowed) as a tls-alpn-01 reason lists them: its subjectAltName entries (dNSName, iPAddress,
 * email, URI) and its subject commonName, lowercased, sorted, each once, at most 32, escaped
 * with acmeva_escape. What a person needs to recognise the certificate a server presented
 * (a validation record's certNames). Returns ACMEVA_CERT_OK, ACMEVA_CERT_EMALFORMED for a
 * certificate that does not parse (or is over the size cap; nothing is appended),
 * ACMEVA_CERT_ENOMEM (what was appended stays) or ACMEVA_CERT_EINVAL.
 */
int acmeva_cert_names(const uint8_t *der, size_t der_len, acmeva_strlist *out);

/*
 * acmeva_tlsalpn01_reverse_name writes the SNI of a tls-alpn-01 request for an IP
 * identifier (RFC 8738 §6): the reverse-mapping name without a trailing dot,
 * "4.3.2.1.in-addr.arpa" for AF_INET (|ip| 4 bytes) or the 32-nibble form ending in
 * "ip6.arpa" for AF_INET6 (|ip| 16 bytes). |out| has |outlen| bytes (ACMEVA_REVERSE_NAME_MAX
 * always suffice). Returns 0, or -1 for an unknown family or a too small buffer.
 */
int acmeva_tlsalpn01_reverse_name(int family, const uint8_t *ip, char *out, size_t outlen);

#ifdef __cplusplus
}
#endif

#endif
