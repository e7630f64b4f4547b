/*
 * The http-01 URL and redirect target policy (RFC 8555 §8.3, BR 3.2.2.4.19, and Boulder's
 * rules from va/http.go newValidationRecordFromRedirect).
 *
 * acmeva_redirect_resolve turns one Location header value into the next URL to fetch, or
 * refuses it. What it does not do is left to the caller, which keeps the list of URLs seen:
 * the status code check (301, 302, 307, 308 only), the loop check ("Redirect loop detected"),
 * the hop limit, the TLS version of an https hop, resolving the new host, and refusing a
 * reserved IP literal (acmeva_addr_reserved; Boulder: "Invalid host in redirect target: IP
 * address is in a reserved address block: <rfc>: <name>"), unless private addresses are
 * allowed.
 *
 * Problem type: Boulder raises every refusal below as berrors.ConnectionFailureError, which
 * detailedError turns into urn:ietf:params:acme:error:connection (HTTP 400), with the detail
 * "<address used>: Fetching <url>: <detail>" (va.go newIPError and the url.Error wrapper). The
 * <url> is the refused target (Boulder's redirURL.String()) when the Location parsed, and the
 * URL of the request that got the redirect when it did not: after a failure, |out|->path is
 * non-NULL exactly when |out| holds a target to name there (format it with acmeva_url_format).
 *
 * Pure: no I/O; the only allocation is the path of an acmeva_url.
 */
#ifndef ACMEVA_REDIRECT_H
#define ACMEVA_REDIRECT_H

#include <stddef.h>
#include <stdint.h>

/* A Location value longer than this is refused ("Redirect target too long"). Boulder has no
 * such limit of its own (only Go's 1 MB header limit). */
#define ACMEVA_REDIRECT_MAX_LOCATION 4096
/* Boulder's maxPathSize: the longest path (as decoded, without the query) followed. */
#define ACMEVA_REDIRECT_MAX_PATH 2000

/* Errors of acmeva_redirect_resolve and acmeva_url_build. */
#define ACMEVA_REDIRECT_EINVAL (-1)       /* bad arguments (a NULL pointer, a malformed base) */
#define ACMEVA_REDIRECT_ENOMEM (-2)       /* out of memory */
#define ACMEVA_REDIRECT_EBADLOCATION (-3) /* the Location is not a URI reference */
#define ACMEVA_REDIRECT_EREFUSED (-4)     /* a well-formed target that the policy refuses */

/* An http or https URL, as the http-01 client fetches it. Every field is printable ASCII. */
typedef struct acmeva_url {
    int https;      /* scheme https (else http) */
    char host[256]; /* lowercased host name, or IP literal text without brackets */
    int host_is_ip; /* 4 or 6 when the host is an IP literal, else 0 */
    uint8_t ip[16]; /* the literal's bytes when host_is_ip */
    uint16_t port;  /* explicit or the default for the scheme from the policy */
    int port_explicit;
    char *path; /* path and query ("/x?y"), owned, fragment dropped; never NULL in a URL
                   that was built or resolved (NULL after a failure that names no target) */
} acmeva_url;

/* The ports a redirect may name; also the ports used when it names none. */
typedef struct acmeva_redirect_policy {
    uint16_t http_port;  /* engine --http-port, 80 in production */
    uint16_t https_port; /* engine --https-port, 443 in production */
} acmeva_redirect_policy;

/*
 * acmeva_url_build fills |out| with the first URL of an http-01 validation (RFC 8555 §8.3):
 * scheme http (or https when |https|), the identifier |host| (a DNS name, lowercased, or an
 * IPv4 or IPv6 address, with or without brackets, stored in canonical inet_ntop form),
 * |port|, and |path| (which must start with '/' and hold only printable ASCII other than
 * space and '#'). The port is explicit when it is not the scheme's default (80 or 443).
 * |out| is overwritten without being read (clear it first if it held a URL); the caller owns
 * it and releases it with acmeva_url_clear. Returns 0, ACMEVA_REDIRECT_EINVAL or
 * ACMEVA_REDIRECT_ENOMEM.
 */
int acmeva_url_build(acmeva_url *out, int https, const char *host, uint16_t port, const char *path);

/*
 * acmeva_url_format writes |u| as text with a NUL into |out| (|outlen| bytes):
 * "http://example.com/x", "https://[2001:db8::1]/x?y", "http://[::1]:5002/x". The port is
 * written only when it is not the scheme default (80 for http, 443 for https), whether or not
 * the Location wrote it, so equal targets format equally (the caller's loop check compares
 * these strings). Returns 0, or -1 for a NULL argument or a buffer too small (then |out|
 * holds "" when |outlen| > 0).
 */
int acmeva_url_format(const acmeva_url *u, char *out, size_t outlen);

/*
 * acmeva_redirect_resolve resolves the Location header value |location| (|location_len|
 * bytes, borrowed, not NUL-terminated, optional whitespace around it ignored) against |base|
 * (the URL that was fetched) as RFC 3986 §5.2 says: absolute URLs, scheme-relative
 * "//host/p", absolute paths "/p", relative paths "p" and "../p" (with dot segments removed),
 * a query alone "?q"; the query is kept and the fragment dropped. It then applies the policy,
 * in Boulder's order, with Boulder's detail texts:
 *   - the scheme is http or https: "Invalid protocol scheme in redirect target. Only "http"
 *     and "https" protocol schemes are supported, not "ftp"";
 *   - an explicit port is |pol|->http_port or |pol|->https_port: "Invalid port in redirect
 *     target. Only ports 80 and 443 are supported, not 8080" (with the configured numbers;
 *     |out|->port is 0 when the written port does not fit 16 bits); without one the port is
 *     the scheme's port from |pol|;
 *   - the host is not empty: "Invalid empty host in redirect target";
 *   - the host does not end in ".well-known": "Invalid host in redirect target
 *     "x.well-known". Check webserver config for missing '/' in redirect target.";
 *   - an IP literal (IPv4, or IPv6 in brackets) has no scope zone: "Invalid host in redirect
 *     target: contains scope zone"; it is accepted here (host_is_ip and ip[] are set) and
 *     checked against the address policy by the caller;
 *   - a DNS name ends in a TLD of the IANA root zone (and is not a TLD alone): "Invalid host
 *     in redirect target, must end in IANA registered TLD"; and is a syntactically valid
 *     host name (labels of 1-63 letters, digits, '-' or '_', 253 bytes at most; ASCII only:
 *     no IDNA mapping is done): "Invalid host in redirect target: invalid domain name" (an
 *     acmeva text: Boulder would fail later, at the DNS lookup);
 *   - the path, decoded and without the query, is at most ACMEVA_REDIRECT_MAX_PATH bytes:
 *     "Redirect target too long".
 * A reference without scheme and authority keeps |base|'s host and port, which passed this
 * policy already (or are the identifier's). The host is lowercased. Userinfo ("user:pass@") is
 * accepted and dropped: Go's URL parser accepts it and Boulder follows such redirects (Go would
 * even send it as Basic auth); acmeva never sends credentials and never records them. Characters
 * that a URI may not hold but Go's client escapes on the wire ('"', '<', '>', '\', '^', '`', '{',
 * '|', '}', '[', ']' in the path or query, bytes >= 0x80) are percent-encoded.
 *
 * Refused as ACMEVA_REDIRECT_EBADLOCATION with the detail "Invalid Location header in
 * redirect" (Boulder: "Invalid Location header in <status> redirect"; a caller that knows the
 * status writes that text) when the value does not parse: empty, control characters (bytes
 * below 0x20 and DEL), spaces, an invalid percent-escape, a relative path whose first
 * segment holds ':', a bad port (not digits), a host with characters no URI host may hold, a
 * bracketed host that is not an IPv6 address. A value longer than
 * ACMEVA_REDIRECT_MAX_LOCATION is refused as ACMEVA_REDIRECT_EREFUSED with "Redirect target
 * too long".
 *
 * |base| is borrowed; |out| must not be |base| and is overwritten without being read; the
 * caller owns it afterwards, on success and on failure, and releases it with
 * acmeva_url_clear. |detail| (|detail_len| bytes; may be NULL when 0) receives the detail
 * text of a refusal, NUL-terminated and free of unescaped server bytes ("" on success).
 * Returns 0, ACMEVA_REDIRECT_EBADLOCATION, ACMEVA_REDIRECT_EREFUSED, ACMEVA_REDIRECT_EINVAL
 * or ACMEVA_REDIRECT_ENOMEM.
 */
int acmeva_redirect_resolve(const acmeva_url *base, const char *location, size_t location_len,
                            const acmeva_redirect_policy *pol, acmeva_url *out, char *detail,
                            size_t detail_len);

/* acmeva_url_clear frees what |u| owns and zeroes it. NULL is a no-op. */
void acmeva_url_clear(acmeva_url *u);

/*
 * acmeva_tld_is_public returns 1 when the |len| bytes at |tld| (lowercase, A-label form for
 * IDN TLDs, no dots) are a top-level domain of the ICANN section of the Public Suffix List,
 * else 0. Defined in the generated tld_list.c (worker/gen_tld_list.py).
 */
int acmeva_tld_is_public(const char *tld, size_t len);

#endif
