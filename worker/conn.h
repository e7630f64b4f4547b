/*
 * One outgoing TCP connection on the loop, optionally wrapped in TLS. Used by http-01 (plain
 * and https hops) and tls-alpn-01. The connection owns its uv_tcp_t and frees itself from the
 * close callback; the owner keeps the timers (one per request, re-armed per phase).
 *
 * Every connection is opened through a dialer (acmeva_dialer), which enforces the address
 * policy (BR 3.2.2.4: never validate through a reserved address) and the per-destination
 * limit, so that no path (first hop, redirect hop, IP identifier, tls-alpn-01, or any later
 * one) can dial around them.
 *
 * TLS runs over memory BIOs fed from the same uv_tcp_t reads and flushed with uv_write,
 * rather than SSL on a non-blocking socket watched by uv_poll_t: one I/O path serves plain
 * and TLS connections alike, libuv keeps ownership of the socket (connect, errors, close),
 * and BoringSSL never touches a file descriptor, so it can never block.
 */
#ifndef ACMEVA_CONN_H
#define ACMEVA_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <uv.h>

#include "addrpolicy.h"

typedef struct acmeva_conn acmeva_conn;
typedef struct acmeva_dialer acmeva_dialer;

/* The address policy refused the destination (a reserved address that no exception allows):
 * no socket was created. Outside the errno range of libuv's UV_E* codes. */
#define ACMEVA_CONN_ERESERVED (-30001)

typedef struct acmeva_conn_cbs {
    /* A connection that had to wait for its destination's turn (acmeva_conn_queued) got it:
     * its TCP connect starts now. Optional (NULL); never called for one that did not wait.
     * A connect that fails at once then is reported through on_connect instead. */
    void (*on_dial)(void *arg);
    /* The TCP connect finished: 0 or a libuv error (UV_ECONNREFUSED, ...). */
    void (*on_connect)(void *arg, int status);
    /* The TLS handshake finished: 0 or a negative error; |reason| says what went wrong. */
    void (*on_handshake)(void *arg, int status, const char *reason);
    /* Application bytes (plaintext for TLS). |n| < 0: UV_EOF or a libuv error. */
    void (*on_read)(void *arg, const char *buf, ssize_t n);
} acmeva_conn_cbs;

/* acmeva_sockaddr_make fills |ss| with |addr| (4 or 16 bytes per |family|) and |port|. */
void acmeva_sockaddr_make(struct sockaddr_storage *ss, int family, const uint8_t *addr,
                          uint16_t port);

/* acmeva_conn_error_text returns the problem wording of a libuv error ("Connection refused",
 * "Connection reset by peer", ...), as Boulder's VA words them. */
const char *acmeva_conn_error_text(int status);

/*
 * acmeva_conn_error_is_local returns 1 when |status| (a libuv error) is a failure of this
 * machine rather than of the peer or the network: no descriptors (UV_EMFILE, UV_ENFILE), no
 * memory (UV_ENOMEM), no buffer space (UV_ENOBUFS), no free local port (UV_EADDRNOTAVAIL). Such
 * a failure is never the subscriber's fault (DESIGN.md "Hardening"). Else 0.
 */
int acmeva_conn_error_is_local(int status);

/*
 * The dialer of one engine: the one way to open a connection. It applies the engine's address
 * policy to every destination before a socket exists, and keeps at most |max_per_destination|
 * connections open at once to one IP address (any port); further connections to that address
 * wait their turn, first come first served. Its table holds only the addresses that have a
 * connection open or waiting.
 */

/*
 * acmeva_dialer_new creates a dialer on |loop| with the address policy |policy| (borrowed; it
 * must outlive the dialer) and a per-address limit |max_per_destination| (0 is taken as 1).
 * Returns 0 or UV_ENOMEM.
 */
int acmeva_dialer_new(uv_loop_t *loop, const acmeva_addr_policy *policy,
                      unsigned max_per_destination, acmeva_dialer **out);

/* acmeva_dialer_free releases |d| (its timer is closed from the loop). Every connection it
 * opened must have been closed first. NULL is a no-op. */
void acmeva_dialer_free(acmeva_dialer *d);

/* acmeva_dialer_destinations returns how many addresses have a connection open or waiting
 * (the size of the per-destination table). */
size_t acmeva_dialer_destinations(const acmeva_dialer *d);

/*
 * acmeva_conn_connect starts a TCP connection to |addr| through |d|. A destination that |d|'s
 * address policy refuses gets ACMEVA_CONN_ERESERVED at once, before any memory or socket is
 * taken. When the destination already has its share of connections open, the connection waits
 * (acmeva_conn_queued returns 1) until one closes, then on_dial runs and the connect starts;
 * closing a waiting connection takes it out of the line. The callbacks run later from the loop
 * until acmeva_conn_close; reading starts with the connect (on_read runs for bytes that come
 * after on_connect). TCP_NODELAY is set for TLS only (acmeva_conn_start_tls). Returns 0 or a
 * negative error (ACMEVA_CONN_ERESERVED or a libuv error such as UV_EMFILE; then no callback
 * runs and |*out| is NULL).
 */
int acmeva_conn_connect(acmeva_dialer *d, const struct sockaddr *addr, const acmeva_conn_cbs *cbs,
                        void *arg, acmeva_conn **out);

/* acmeva_conn_queued returns 1 while |c| waits for its destination's turn, else 0. */
int acmeva_conn_queued(const acmeva_conn *c);

/*
 * acmeva_conn_start_tls starts a TLS client handshake on a connected |c| with |ssl_ctx|
 * (an SSL_CTX *, borrowed), SNI |sni| (NULL: none) and the ALPN protocol list |alpn| in wire
 * form (NULL: none). on_handshake reports the result. Returns 0, UV_ENOMEM when memory ran
 * out, or another negative error.
 */
int acmeva_conn_start_tls(acmeva_conn *c, void *ssl_ctx, const char *sni, const uint8_t *alpn,
                          size_t alpn_len);

/* acmeva_conn_peer_spoke_http returns 1 when the peer answered our TLS ClientHello with
 * plain HTTP ("HTTP/..."), for the problem detail "Server only speaks HTTP, not TLS". */
int acmeva_conn_peer_spoke_http(const acmeva_conn *c);

/* acmeva_conn_ssl returns the connection's SSL * (as void *), NULL for plain TCP. */
void *acmeva_conn_ssl(acmeva_conn *c);

/*
 * acmeva_conn_write sends |len| bytes (copied; encrypted first under TLS) and starts reading.
 * Returns 0 or a negative error.
 */
int acmeva_conn_write(acmeva_conn *c, const char *buf, size_t len);

/* acmeva_conn_read_start starts delivering on_read (acmeva_conn_write does it too). */
int acmeva_conn_read_start(acmeva_conn *c);

/* acmeva_conn_close detaches |c| from its owner (no callback runs after this call), gives its
 * destination's turn to the next waiting connection, closes the socket with a reset when
 * |abort| is set, and frees |c| once libuv has closed it. NULL is a no-op. */
void acmeva_conn_close(acmeva_conn *c, int abort);

#endif
