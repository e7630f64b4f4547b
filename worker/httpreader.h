/*
 * The bounded HTTP/1.1 response reader of the http-01 client (RFC 8555 §8.3): a pure parser
 * (no I/O) over Debian's http-parser in strict mode. The client feeds it the bytes it reads
 * from the socket and closes the connection as soon as the reader says DONE.
 *
 * Guarantees:
 * - Every cap is enforced at the exact byte that crosses it, so the outcome (progress,
 *   status, Location, body, over-cap flag, error and error text) is the same whatever way
 *   the bytes are split across acmeva_httpreader_feed calls.
 * - Caps: ACMEVA_HTTP_MAX_HEADER_BYTES per response head (status line + header lines +
 *   the blank line, counted from the first byte of the response, leading blank lines
 *   included), ACMEVA_HTTP_MAX_HEADERS header fields per response (judged when the head is
 *   complete, which the byte cap bounds), ACMEVA_HTTP_MAX_LOCATION
 *   bytes of Location, ACMEVA_HTTP_BODY_CAP bytes of body kept (reading stops there),
 *   ACMEVA_HTTP_MAX_FRAMING_BYTES of chunked framing (chunk-size lines, extensions, CRLFs,
 *   trailers), ACMEVA_HTTP_MAX_INTERIM 1xx responses before the final one.
 * - The process-wide http_parser_set_max_header_size is left alone: every cap above is
 *   below http-parser's own 80 KiB default and is enforced here, per reader.
 *
 * Strict mode: Debian's libhttp_parser.so is compiled with HTTP_PARSER_STRICT=0 (upstream's
 * "library" target), whatever http_parser.h says, so the reader puts back the checks strict
 * mode would make (see the strict layer in httpreader.c). With them, the rules are:
 * - Two Content-Length headers (even equal ones) are refused, and so is Content-Length
 *   together with Transfer-Encoding (chunked or not): ACMEVA_HTTPERR_MALFORMED.
 * - A Transfer-Encoding whose last coding is not "chunked" makes a close-delimited body
 *   (RFC 7230 §3.3.3 rule 3); the body is passed on undecoded.
 * - Bare LF line endings are accepted in the status line, header lines and the blank line;
 *   a CR that is not followed by LF is refused. obs-fold continuation lines are accepted and
 *   folded into the value (the CRLF is dropped, the leading whitespace kept: RFC 7230 §3.2.4).
 * - NUL, other control bytes (except HTAB) and DEL in header names or values are refused.
 * - Blank lines before the status line are skipped (they count towards the header cap).
 *
 * What this reader adds on top (RFC 7230 §3.3.3 rule 1, and Go's net/http which Boulder
 * uses): 1xx, 204 and 304 responses have no body whatever their headers say; 101 is a final
 * response (no body); other 1xx responses are skipped, at most ACMEVA_HTTP_MAX_INTERIM of
 * them; a status code outside 100..999 and an HTTP version other than 1.x are refused.
 */
#ifndef ACMEVA_HTTPREADER_H
#define ACMEVA_HTTPREADER_H

#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACMEVA_HTTP_MAX_HEADERS 64
#define ACMEVA_HTTP_MAX_HEADER_BYTES (16 * 1024)  /* status line + all header lines */
#define ACMEVA_HTTP_BODY_CAP 128                  /* http-01: 128 bytes or more is refused */
#define ACMEVA_HTTP_MAX_LOCATION 4096             /* longer: acmeva_httpreader_location_too_long */
#define ACMEVA_HTTP_MAX_FRAMING_BYTES (16 * 1024) /* chunked framing of one body */
#define ACMEVA_HTTP_MAX_INTERIM 5                 /* 1xx responses skipped, as Go's client */

typedef enum { ACMEVA_HTTP_MORE = 0, ACMEVA_HTTP_DONE = 1 } acmeva_http_progress;

typedef enum {
    ACMEVA_HTTPERR_NONE = 0,
    ACMEVA_HTTPERR_HTTP2,            /* the peer sent an HTTP/2 preface or frame (h2c) */
    ACMEVA_HTTPERR_HEADERS_TOO_BIG,  /* more than ACMEVA_HTTP_MAX_HEADER_BYTES */
    ACMEVA_HTTPERR_TOO_MANY_HEADERS, /* more than ACMEVA_HTTP_MAX_HEADERS fields */
    ACMEVA_HTTPERR_MALFORMED,        /* http-parser refused the bytes (strict), or a cap of ours */
    ACMEVA_HTTPERR_TRUNCATED,        /* EOF before the response was complete */
    ACMEVA_HTTPERR_VERSION,          /* not HTTP/1.x */
    ACMEVA_HTTPERR_TOO_MANY_INTERIM, /* more than ACMEVA_HTTP_MAX_INTERIM 1xx responses */
    ACMEVA_HTTPERR_NOMEM,            /* out of memory */
} acmeva_http_error;

/* The state of the reader's strict layer (see httpreader.c). */
struct acmeva_strict {
    int state;
    int after_section; /* the state after the blank line that ends the head or the trailers */
    unsigned prefix;   /* bytes of "HTTP/" seen */
    int cr;            /* the last byte was a CR: the next one must be LF */
    int have_field;    /* a field line was seen in this section */
};

/*
 * One response being read. Treat the members as private: use the functions below. The
 * struct may be embedded by value; it holds no pointer to itself.
 */
typedef struct acmeva_httpreader {
    http_parser parser;
    const http_parser_settings *settings;
    int stop_for_redirects;

    /* HTTP/2 sniffing of the first bytes of the stream */
    uint8_t sniff[24];
    size_t sniff_len;
    int sniffing;
    int any_bytes;

    /* the current response (reset after each 1xx) */
    struct acmeva_strict strict;
    size_t head_bytes;    /* bytes of the head consumed so far */
    int status_line_done; /* the status line's LF was consumed */
    int headers_done;
    unsigned header_count;
    int last_was_value; /* the last header callback was a value */
    char field[8];      /* the current field name, lowercased, if it is at most 8 bytes */
    size_t field_len;
    int field_is_location;
    int loc_state;  /* 0 none, 1 collecting the first Location, 2 that one ended */
    char *location; /* owned, ACMEVA_HTTP_MAX_LOCATION + 1 bytes once a Location is seen */
    size_t location_len;
    int location_too_long;
    int location_final; /* the head is complete: the Location may be read */
    int status;
    unsigned interim_count;
    int pause_reason;

    /* the body of the final response */
    int chunked;
    int lf_pending;       /* the head's last LF is re-read by the next execute */
    uint64_t chunk_left;  /* bytes of chunk data before the next framing byte */
    size_t framing_bytes; /* chunked framing consumed so far */
    uint8_t body[ACMEVA_HTTP_BODY_CAP + 1];
    size_t body_len;
    int body_over_cap;
    int redirect;

    int done;
    acmeva_http_error error;
    char error_text[96];
} acmeva_httpreader;

/*
 * acmeva_httpreader_init prepares |r| to read one response to a GET request. With
 * |stop_after_headers_for_redirects| set, a redirect (301, 302, 303, 307 or 308 with a
 * Location header: the statuses Go's client follows) is DONE as soon as its head is read.
 * Pair with acmeva_httpreader_clear.
 */
void acmeva_httpreader_init(acmeva_httpreader *r, int stop_after_headers_for_redirects);

/*
 * acmeva_httpreader_feed parses |len| bytes of the response (borrowed; nothing is kept
 * pointing into them). Returns ACMEVA_HTTP_MORE when more bytes are needed,
 * ACMEVA_HTTP_DONE when the outcome is known (the caller may close the connection; later
 * bytes are ignored), or a negative value (-acmeva_httpreader_error(r)) on error, which
 * sticks. DONE comes when the head of a redirect is read (see init), when the body is
 * complete, or as soon as ACMEVA_HTTP_BODY_CAP body bytes have arrived.
 */
int acmeva_httpreader_feed(acmeva_httpreader *r, const char *data, size_t len);

/*
 * acmeva_httpreader_eof tells |r| that the peer closed the connection. Returns
 * ACMEVA_HTTP_DONE when the response is complete (a close-delimited body counts as
 * complete), else a negative value: ACMEVA_HTTPERR_TRUNCATED, or the error already seen.
 */
int acmeva_httpreader_eof(acmeva_httpreader *r);

/*
 * acmeva_httpreader_status returns the status code of the final response (or of the 1xx
 * being read) once its status line is parsed, even when a later error ends the reading;
 * 0 before that. Always 0 or 100..999.
 */
int acmeva_httpreader_status(const acmeva_httpreader *r);

/*
 * acmeva_httpreader_location returns the value of the first Location header of the final
 * response (trailing whitespace removed; not NUL-terminated: use |*len|), borrowed from |r|
 * until acmeva_httpreader_clear. NULL (and *len 0) when there was none, when the head is
 * not complete yet, or when it was longer than ACMEVA_HTTP_MAX_LOCATION bytes. An empty
 * header gives a non-NULL pointer and *len 0.
 */
const char *acmeva_httpreader_location(const acmeva_httpreader *r, size_t *len);

/* acmeva_httpreader_location_too_long returns 1 when the first Location header was longer
 * than ACMEVA_HTTP_MAX_LOCATION bytes (it is then not kept), else 0. */
int acmeva_httpreader_location_too_long(const acmeva_httpreader *r);

/* acmeva_httpreader_is_redirect returns 1 when the reader stopped after the head of a
 * redirect (see acmeva_httpreader_init), else 0. */
int acmeva_httpreader_is_redirect(const acmeva_httpreader *r);

/*
 * acmeva_httpreader_body returns the body bytes received (chunked framing removed), at most
 * ACMEVA_HTTP_BODY_CAP of them, borrowed from |r|; a NUL follows them. Meaningful once the
 * reader is DONE; on error, what had arrived before it.
 */
const uint8_t *acmeva_httpreader_body(const acmeva_httpreader *r, size_t *len);

/* acmeva_httpreader_body_over_cap returns 1 when the body had ACMEVA_HTTP_BODY_CAP bytes or
 * more (reading stopped there), else 0. */
int acmeva_httpreader_body_over_cap(const acmeva_httpreader *r);

/* acmeva_httpreader_error returns why the reader failed, or ACMEVA_HTTPERR_NONE. */
acmeva_http_error acmeva_httpreader_error(const acmeva_httpreader *r);

/*
 * acmeva_httpreader_error_text returns a short human text for the error (borrowed from
 * |r|; "" when there is none), e.g. "response headers larger than 16384 bytes". It holds no
 * byte from the peer.
 */
const char *acmeva_httpreader_error_text(const acmeva_httpreader *r);

/* acmeva_httpreader_clear frees the memory |r| owns; |r| may be initialised again. */
void acmeva_httpreader_clear(acmeva_httpreader *r);

#ifdef __cplusplus
}
#endif

#endif
