/*
 * The bounded HTTP/1.1 response reader (see httpreader.h).
 *
 * How the outcome is kept independent of how the bytes are split: http-parser itself is
 * byte-driven, but it calls its data callbacks (header names and values, body) at the end
 * of each buffer as well as at the natural boundaries, so any decision taken in a data
 * callback would depend on the split. This reader therefore decides only at positions that
 * do not depend on it:
 * - notification callbacks (head complete, chunk header, message complete) pause the parser,
 *   so that the driver learns the exact byte where they happened;
 * - each cap is enforced by never handing http-parser more bytes than the cap has left (plus
 *   one), so the byte that crosses a cap ends an execute call;
 * - chunk data is handed over exactly up to the end of the chunk or up to the body cap, so
 *   body bytes arrive at the same positions whatever the split;
 * - what is collected from data callbacks (header count, Location) is only judged once the
 *   head is complete.
 */
#include "httpreader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PAUSE_NONE = 0, PAUSE_HEAD, PAUSE_CHUNK, PAUSE_MESSAGE, PAUSE_BODY_CAP };

static int status_line_done(acmeva_httpreader *r);

/* The HTTP/2 connection preface (RFC 9113 §3.4). */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/*
 * The strict layer. Debian's libhttp_parser.so is built by upstream's "library" target,
 * which compiles http_parser.c with -DHTTP_PARSER_STRICT=0: every STRICT_CHECK is gone from
 * the binary, whatever http_parser.h says (it accepts "HXYZ/1.1 200", "\r" followed by
 * anything as a line end, a space in a header name, any two bytes after chunk data). This
 * layer puts back exactly those checks of strict mode, and nothing more, at the same byte:
 * - the status line starts with "HTTP/" (RFC 9112 §2.3, §4);
 * - in the head, in chunk-size lines and in trailers, a CR is followed by LF (RFC 9112 §2.2);
 * - a header name has no space (RFC 9110 §5.1: a token), nor does a first line start with
 *   one (it would be a fold with nothing to fold into);
 * - chunk data is followed by CRLF (RFC 9112 §7.1).
 * It also refuses a control byte or DEL as the first byte of a field value, the one byte
 * that http-parser does not check in either mode (RFC 9110 §5.5).
 * drive() runs it over a copy of its state to find the first byte it refuses, hands
 * http-parser only the bytes before it, then advances the real state over the bytes
 * http-parser consumed.
 */
enum {
    ST_OFF = 0,     /* body bytes, or nothing more to check */
    ST_WAIT,        /* unknown until the next pause sets the state: accept */
    ST_START,       /* blank lines before the status line (skipped, as http-parser does) */
    ST_PREFIX,      /* "HTTP/" */
    ST_STATUS,      /* the rest of the status line */
    ST_LINE_START,  /* the first byte of a header or trailer line */
    ST_NAME,        /* a field name */
    ST_VALUE_START, /* the whitespace before a field value and its first byte */
    ST_VALUE,       /* a field value */
    ST_CHUNK_SIZE,  /* a chunk-size line with its extensions */
    ST_DATA_CR,     /* the CR after chunk data */
    ST_DATA_LF,     /* the LF after chunk data */
};

enum { STRICT_OK = 0, STRICT_STATUS_LINE_END = 1, STRICT_REFUSED = -1 };

static int strict_section_end(struct acmeva_strict *st)
{
    st->state = st->after_section;
    return STRICT_OK;
}

static int strict_byte(struct acmeva_strict *st, uint8_t b)
{
    if (st->cr) {
        st->cr = 0;
        if (b != '\n')
            return STRICT_REFUSED;
        switch (st->state) {
        case ST_STATUS:
            st->state = ST_LINE_START;
            return STRICT_STATUS_LINE_END;
        case ST_LINE_START:
            return strict_section_end(st);
        case ST_CHUNK_SIZE:
            st->state = ST_WAIT; /* chunk data or trailers: set at the chunk-header pause */
            return STRICT_OK;
        default:
            st->state = ST_LINE_START;
            return STRICT_OK;
        }
    }
    switch (st->state) {
    case ST_START:
        if (b == '\r' || b == '\n')
            return STRICT_OK;
        st->state = ST_PREFIX;
        st->prefix = 0;
        /* fall through */
    case ST_PREFIX:
        if (b != (uint8_t) "HTTP/"[st->prefix])
            return STRICT_REFUSED;
        if (++st->prefix == 5)
            st->state = ST_STATUS;
        return STRICT_OK;
    case ST_STATUS:
        if (b == '\r') {
            st->cr = 1;
        } else if (b == '\n') {
            st->state = ST_LINE_START;
            return STRICT_STATUS_LINE_END;
        }
        return STRICT_OK;
    case ST_LINE_START:
        if (b == '\r') {
            st->cr = 1;
            return STRICT_OK;
        }
        if (b == '\n')
            return strict_section_end(st);
        if (b == ' ' || b == '\t') {
            if (!st->have_field && b == ' ')
                return STRICT_REFUSED;
            st->state = ST_VALUE_START; /* obs-fold */
            return STRICT_OK;
        }
        st->have_field = 1;
        st->state = ST_NAME;
        /* fall through */
    case ST_NAME:
        if (b == ' ')
            return STRICT_REFUSED;
        if (b == ':')
            st->state = ST_VALUE_START;
        return STRICT_OK;
    case ST_VALUE_START:
        if (b == ' ' || b == '\t')
            return STRICT_OK;
        if (b == '\r') {
            st->cr = 1;
            return STRICT_OK;
        }
        if (b == '\n') {
            st->state = ST_LINE_START;
            return STRICT_OK;
        }
        if (b < 0x20 || b == 0x7f)
            return STRICT_REFUSED;
        st->state = ST_VALUE;
        return STRICT_OK;
    case ST_VALUE:
        if (b == '\r')
            st->cr = 1;
        else if (b == '\n')
            st->state = ST_LINE_START;
        return STRICT_OK;
    case ST_CHUNK_SIZE:
        if (b == '\r')
            st->cr = 1;
        return STRICT_OK;
    case ST_DATA_CR:
        if (b != '\r')
            return STRICT_REFUSED;
        st->state = ST_DATA_LF;
        return STRICT_OK;
    case ST_DATA_LF:
        if (b != '\n')
            return STRICT_REFUSED;
        st->state = ST_CHUNK_SIZE;
        return STRICT_OK;
    default:
        return STRICT_OK;
    }
}

/* In these states only CR and LF matter: skip to the next one. */
static size_t strict_skip(const struct acmeva_strict *st, const char *data, size_t i, size_t n)
{
    if (st->cr || (st->state != ST_VALUE && st->state != ST_STATUS && st->state != ST_CHUNK_SIZE))
        return i;
    const char *lf = memchr(data + i, '\n', n - i);
    size_t end = lf != NULL ? (size_t)(lf - data) : n;
    const char *cr = memchr(data + i, '\r', end - i);
    return cr != NULL ? (size_t)(cr - data) : end;
}

/*
 * strict_run moves |st| over |n| bytes and returns the offset of the first one it refuses,
 * or |n|. With |r| set, the end of the status line among them is where the version and the
 * status code are judged (status_line_done).
 */
static size_t strict_run(struct acmeva_strict *st, acmeva_httpreader *r, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (st->state == ST_OFF || st->state == ST_WAIT)
            return n;
        i = strict_skip(st, data, i, n);
        if (i == n)
            return n;
        int res = strict_byte(st, (uint8_t)data[i]);
        if (res == STRICT_REFUSED)
            return i;
        if (res == STRICT_STATUS_LINE_END && r != NULL)
            status_line_done(r);
    }
    return n;
}

/* strict_first_refused returns the offset of the first of |n| bytes the strict layer
 * refuses, or |n|, without changing |r|. */
static size_t strict_first_refused(const acmeva_httpreader *r, const char *data, size_t n)
{
    struct acmeva_strict st = r->strict;
    return strict_run(&st, NULL, data, n);
}

static void strict_reset_head(struct acmeva_strict *st)
{
    memset(st, 0, sizeof(*st));
    st->state = ST_START;
    st->after_section = ST_WAIT;
}

static acmeva_httpreader *reader_of(http_parser *p)
{
    return (acmeva_httpreader *)(void *)((char *)p - offsetof(acmeva_httpreader, parser));
}

static int fail(acmeva_httpreader *r, acmeva_http_error err, const char *text)
{
    if (r->error == ACMEVA_HTTPERR_NONE) {
        r->error = err;
        snprintf(r->error_text, sizeof(r->error_text), "%s", text);
    }
    return -(int)r->error;
}

static int fail_parser(acmeva_httpreader *r, enum http_errno e)
{
    char text[sizeof(r->error_text)];
    if (e == HPE_INVALID_VERSION)
        return fail(r, ACMEVA_HTTPERR_VERSION, "response is not HTTP/1.x");
    snprintf(text, sizeof(text), "malformed HTTP response: %s", http_errno_description(e));
    return fail(r, ACMEVA_HTTPERR_MALFORMED, text);
}

static int progress(const acmeva_httpreader *r)
{
    if (r->error != ACMEVA_HTTPERR_NONE)
        return -(int)r->error;
    return r->done ? ACMEVA_HTTP_DONE : ACMEVA_HTTP_MORE;
}

/*
 * status_line_done runs once the status line's LF has been consumed: the version and
 * status code in the parser are final. Returns 0 or a negative error.
 */
static int status_line_done(acmeva_httpreader *r)
{
    if (r->status_line_done)
        return 0;
    r->status_line_done = 1;
    unsigned code = r->parser.status_code;
    if (code >= 100 && code <= 999)
        r->status = (int)code;
    /* RFC 9112 §2.3: this reader speaks HTTP/1.x only. */
    if (r->parser.http_major != 1)
        return fail(r, ACMEVA_HTTPERR_VERSION, "response is not HTTP/1.x");
    /* RFC 9110 §15: a status code is three digits, 100..599 defined, up to 999 seen. */
    if (code < 100)
        return fail(r, ACMEVA_HTTPERR_MALFORMED, "malformed HTTP response: invalid status code");
    return 0;
}

/* A 1xx other than 101 is an interim response: another response follows (RFC 9110 §15.2). */
static int is_interim(unsigned code)
{
    return code >= 100 && code <= 199 && code != 101;
}

/* RFC 9110 §6.4.1, RFC 9112 §6.3 rule 1: these responses never have a body. */
static int has_no_body(unsigned code)
{
    return (code >= 100 && code <= 199) || code == 204 || code == 304;
}

/* The statuses for which Go's client (and so Boulder) follows a Location. */
static int is_redirect_status(unsigned code)
{
    return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    acmeva_httpreader *r = reader_of(p);
    if (r->headers_done)
        return 0; /* a trailer of a chunked body: ignored */
    if (status_line_done(r) != 0)
        return -1;
    if (r->header_count == 0 || r->last_was_value) {
        /* a new field; its count is judged when the head is complete */
        if (r->header_count < UINT32_MAX)
            r->header_count++;
        r->field_len = 0;
        r->field_is_location = 0;
        if (r->loc_state == 1)
            r->loc_state = 2;
    }
    r->last_was_value = 0;
    for (size_t i = 0; i < len; i++) {
        if (r->field_len < sizeof(r->field)) {
            char c = at[i];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            r->field[r->field_len] = c;
        }
        if (r->field_len <= sizeof(r->field))
            r->field_len++;
    }
    return 0;
}

static int location_append(acmeva_httpreader *r, const char *at, size_t len)
{
    if (r->location == NULL) {
        r->location = malloc(ACMEVA_HTTP_MAX_LOCATION + 1);
        if (r->location == NULL)
            return fail(r, ACMEVA_HTTPERR_NOMEM, "out of memory");
        r->location_len = 0;
    }
    for (size_t i = 0; i < len && !r->location_too_long; i++) {
        if (r->location_len < ACMEVA_HTTP_MAX_LOCATION)
            r->location[r->location_len++] = at[i];
        else if (at[i] != ' ' && at[i] != '\t')
            r->location_too_long = 1; /* trailing whitespace past the cap is dropped anyway */
    }
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    acmeva_httpreader *r = reader_of(p);
    if (r->headers_done)
        return 0;
    if (status_line_done(r) != 0)
        return -1;
    if (!r->last_was_value) {
        /* the field name is complete */
        r->field_is_location = r->field_len == 8 && memcmp(r->field, "location", 8) == 0;
        if (r->field_is_location && r->loc_state == 0)
            r->loc_state = 1;
        else
            r->field_is_location = 0;
    }
    r->last_was_value = 1;
    if (r->field_is_location && r->loc_state == 1 && location_append(r, at, len) != 0)
        return -1;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    acmeva_httpreader *r = reader_of(p);
    if (status_line_done(r) != 0)
        return -1;
    r->headers_done = 1;
    r->pause_reason = PAUSE_HEAD;
    http_parser_pause(p, 1);
    /* 1 tells http-parser that this message has no body, whatever its headers say */
    return has_no_body(p->status_code) ? 1 : 0;
}

static int on_chunk_header(http_parser *p)
{
    acmeva_httpreader *r = reader_of(p);
    r->chunk_left = p->content_length;
    r->pause_reason = PAUSE_CHUNK;
    http_parser_pause(p, 1);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    acmeva_httpreader *r = reader_of(p);
    size_t room = ACMEVA_HTTP_BODY_CAP - r->body_len;
    size_t n = len < room ? len : room;
    memcpy(r->body + r->body_len, at, n);
    r->body_len += n;
    r->body[r->body_len] = 0;
    if (len >= room) {
        /* RFC 8555 §8.3 leaves the size open; Boulder reads 128 bytes and refuses 128 or
         * more: there is nothing more to learn from the rest. */
        r->body_over_cap = 1;
        r->pause_reason = PAUSE_BODY_CAP;
        http_parser_pause(p, 1);
    }
    return 0;
}

static void reset_response(acmeva_httpreader *r)
{
    strict_reset_head(&r->strict);
    r->head_bytes = 0;
    r->status_line_done = 0;
    r->headers_done = 0;
    r->header_count = 0;
    r->last_was_value = 0;
    r->field_len = 0;
    r->field_is_location = 0;
    r->loc_state = 0;
    r->location_len = 0;
    r->location_too_long = 0;
    r->location_final = 0;
    r->status = 0;
}

static int on_message_complete(http_parser *p)
{
    acmeva_httpreader *r = reader_of(p);
    r->pause_reason = PAUSE_MESSAGE;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings reader_settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
};

void acmeva_httpreader_init(acmeva_httpreader *r, int stop_after_headers_for_redirects)
{
    memset(r, 0, sizeof(*r));
    http_parser_init(&r->parser, HTTP_RESPONSE);
    r->settings = &reader_settings;
    r->stop_for_redirects = stop_after_headers_for_redirects != 0;
    r->sniffing = 1;
    strict_reset_head(&r->strict);
}

void acmeva_httpreader_clear(acmeva_httpreader *r)
{
    free(r->location);
    r->location = NULL;
    r->location_len = 0;
}

/* strict_advance moves the strict layer over |n| bytes http-parser consumed. */
static void strict_advance(acmeva_httpreader *r, const char *data, size_t n)
{
    strict_run(&r->strict, r, data, n);
}

/* The head is complete (the parser is paused on its last LF): judge it. */
static int head_complete(acmeva_httpreader *r)
{
    char text[sizeof(r->error_text)];
    unsigned code = r->parser.status_code;

    if (r->head_bytes + 1 > ACMEVA_HTTP_MAX_HEADER_BYTES) {
        snprintf(text, sizeof(text), "response headers larger than %d bytes",
                 ACMEVA_HTTP_MAX_HEADER_BYTES);
        return fail(r, ACMEVA_HTTPERR_HEADERS_TOO_BIG, text);
    }
    if (r->header_count > ACMEVA_HTTP_MAX_HEADERS) {
        snprintf(text, sizeof(text), "more than %d response header fields",
                 ACMEVA_HTTP_MAX_HEADERS);
        return fail(r, ACMEVA_HTTPERR_TOO_MANY_HEADERS, text);
    }
    if (r->loc_state != 0) {
        /* RFC 9110 §5.5: whitespace around a field value is not part of it */
        while (r->location_len > 0 && (r->location[r->location_len - 1] == ' ' ||
                                       r->location[r->location_len - 1] == '\t'))
            r->location_len--;
    }
    r->location_final = 1;
    r->lf_pending = 1;
    r->strict.after_section = ST_OFF;
    if (is_interim(code)) {
        /* Go's client skips 1xx responses, at most 5 of them (net/http transport.go) */
        if (++r->interim_count > ACMEVA_HTTP_MAX_INTERIM) {
            snprintf(text, sizeof(text), "more than %d informational (1xx) responses",
                     ACMEVA_HTTP_MAX_INTERIM);
            return fail(r, ACMEVA_HTTPERR_TOO_MANY_INTERIM, text);
        }
        return 0;
    }
    if (r->stop_for_redirects && is_redirect_status(code) && r->loc_state != 0 &&
        (r->location_len > 0 || r->location_too_long)) {
        r->redirect = 1;
        r->done = 1;
        return 0;
    }
    r->chunked = !has_no_body(code) && (r->parser.flags & F_CHUNKED) != 0;
    if (r->chunked)
        r->strict.after_section = ST_CHUNK_SIZE;
    return 0;
}

/*
 * drive hands |len| bytes to http-parser in slices that end where a cap is crossed, where
 * chunk data ends, or before a byte the strict layer refuses, and acts on each pause.
 * Returns progress().
 */
static int drive(acmeva_httpreader *r, const char *data, size_t len)
{
    char text[sizeof(r->error_text)];

    while (len > 0 && !r->done && r->error == ACMEVA_HTTPERR_NONE) {
        size_t slice = len;
        int in_head = !r->headers_done;
        int in_chunk_data = !in_head && r->chunked && r->chunk_left > 0;
        int in_framing = !in_head && r->chunked && r->chunk_left == 0;

        if (in_head) {
            size_t left = ACMEVA_HTTP_MAX_HEADER_BYTES + 1 - r->head_bytes;
            if (slice > left)
                slice = left;
        } else if (in_chunk_data) {
            size_t room = ACMEVA_HTTP_BODY_CAP - r->body_len;
            if (slice > r->chunk_left)
                slice = (size_t)r->chunk_left;
            if (slice > room)
                slice = room;
        } else if (in_framing) {
            size_t left =
                ACMEVA_HTTP_MAX_FRAMING_BYTES + 1 + (size_t)r->lf_pending - r->framing_bytes;
            if (slice > left)
                slice = left;
        }
        if (!in_chunk_data) {
            size_t ok = strict_first_refused(r, data, slice);
            if (ok == 0)
                return fail(r, ACMEVA_HTTPERR_MALFORMED,
                            "malformed HTTP response: strict mode assertion failed");
            slice = ok;
        }

        r->pause_reason = PAUSE_NONE;
        size_t n = http_parser_execute(&r->parser, r->settings, data, slice);
        enum http_errno perr = HTTP_PARSER_ERRNO(&r->parser);

        if (!in_chunk_data)
            strict_advance(r, data, n);
        if (in_head) {
            r->head_bytes += n;
        } else if (in_chunk_data) {
            r->chunk_left -= n;
        } else if (in_framing || r->lf_pending) {
            size_t counted = n;
            if (r->lf_pending && counted > 0) {
                counted--; /* the head's last LF, counted in the head */
                r->lf_pending = 0;
            }
            if (in_framing)
                r->framing_bytes += counted;
        }
        data += n;
        len -= n;

        if (r->error != ACMEVA_HTTPERR_NONE)
            break; /* our own error, from a callback or the status line */
        if (perr != HPE_OK && perr != HPE_PAUSED)
            return fail_parser(r, perr);

        if (perr == HPE_PAUSED) {
            switch (r->pause_reason) {
            case PAUSE_HEAD:
                if (head_complete(r) != 0 || r->done)
                    return progress(r);
                break;
            case PAUSE_CHUNK:
                /* chunk data and its CRLF follow, or the trailers after the last chunk */
                if (r->chunk_left > 0) {
                    r->strict.state = ST_DATA_CR;
                } else {
                    r->strict.state = ST_LINE_START;
                    r->strict.have_field = 0;
                    r->strict.after_section = ST_OFF;
                }
                break;
            case PAUSE_BODY_CAP:
                r->done = 1;
                break;
            case PAUSE_MESSAGE:
                if (r->framing_bytes > ACMEVA_HTTP_MAX_FRAMING_BYTES)
                    break; /* judged below */
                if (is_interim(r->parser.status_code)) {
                    reset_response(r);
                } else {
                    r->done = 1;
                }
                break;
            default:
                break;
            }
            if (r->done)
                return progress(r);
            http_parser_pause(&r->parser, 0);
        } else if (in_head && r->head_bytes > ACMEVA_HTTP_MAX_HEADER_BYTES) {
            snprintf(text, sizeof(text), "response headers larger than %d bytes",
                     ACMEVA_HTTP_MAX_HEADER_BYTES);
            return fail(r, ACMEVA_HTTPERR_HEADERS_TOO_BIG, text);
        }
        if (r->framing_bytes > ACMEVA_HTTP_MAX_FRAMING_BYTES) {
            snprintf(text, sizeof(text),
                     "malformed HTTP response: chunked framing larger than %d bytes",
                     ACMEVA_HTTP_MAX_FRAMING_BYTES);
            return fail(r, ACMEVA_HTTPERR_MALFORMED, text);
        }
    }
    return progress(r);
}

enum { SNIFF_UNDECIDED, SNIFF_HTTP2, SNIFF_NOT_HTTP2 };

/*
 * sniff_step judges the byte just added at sniff[sniff_len - 1]. A server speaking h2c
 * with prior knowledge answers an HTTP/1.1 request with its SETTINGS frame (RFC 9113 §3.4),
 * often followed by a GOAWAY; Boulder recognises the SETTINGS frame header
 * 00 00 xx 04 00 00 00 00 00 in Go's "malformed HTTP response" error (va/va.go). This
 * accepts the header of a SETTINGS or GOAWAY frame on stream 0, with no flags and a
 * length that such a frame can have, and the client connection preface.
 */
static int sniff_step(const acmeva_httpreader *r)
{
    size_t i = r->sniff_len - 1;
    const uint8_t *s = r->sniff;
    uint8_t b = s[i];

    if (s[0] == 'P') {
        if (b != (uint8_t)h2_preface[i])
            return SNIFF_NOT_HTTP2;
        return i + 1 == sizeof(h2_preface) - 1 ? SNIFF_HTTP2 : SNIFF_UNDECIDED;
    }
    if (s[0] != 0)
        return SNIFF_NOT_HTTP2;
    switch (i) {
    case 0:
    case 2:
        return SNIFF_UNDECIDED;
    case 1:
        /* the length is at most 2^14 until SETTINGS_MAX_FRAME_SIZE is raised (§4.2) */
        return b <= 0x40 ? SNIFF_UNDECIDED : SNIFF_NOT_HTTP2;
    case 3:
        return b == 0x4 || b == 0x7 ? SNIFF_UNDECIDED : SNIFF_NOT_HTTP2;
    default: /* flags, then the stream identifier */
        if (b != 0)
            return SNIFF_NOT_HTTP2;
        if (i < 8)
            return SNIFF_UNDECIDED;
        break;
    }
    uint32_t flen = (uint32_t)s[1] << 8 | s[2];
    if (flen > 16384)
        return SNIFF_NOT_HTTP2;
    if (s[3] == 0x4) /* SETTINGS: 6-byte parameters (§6.5) */
        return flen % 6 == 0 ? SNIFF_HTTP2 : SNIFF_NOT_HTTP2;
    return flen >= 8 ? SNIFF_HTTP2 : SNIFF_NOT_HTTP2; /* GOAWAY: at least 8 bytes (§6.8) */
}

/* end_sniffing hands the bytes held back while sniffing to the parser. */
static int end_sniffing(acmeva_httpreader *r)
{
    r->sniffing = 0;
    return drive(r, (const char *)r->sniff, r->sniff_len);
}

int acmeva_httpreader_feed(acmeva_httpreader *r, const char *data, size_t len)
{
    if (r->error != ACMEVA_HTTPERR_NONE || r->done || len == 0)
        return progress(r);
    r->any_bytes = 1;
    while (r->sniffing && len > 0) {
        r->sniff[r->sniff_len++] = (uint8_t)*data++;
        len--;
        switch (sniff_step(r)) {
        case SNIFF_HTTP2:
            return fail(r, ACMEVA_HTTPERR_HTTP2, "Server is speaking HTTP/2 over HTTP");
        case SNIFF_NOT_HTTP2:
            if (end_sniffing(r) != ACMEVA_HTTP_MORE)
                return progress(r);
            break;
        default:
            break;
        }
    }
    return drive(r, data, len);
}

int acmeva_httpreader_eof(acmeva_httpreader *r)
{
    if (r->error != ACMEVA_HTTPERR_NONE || r->done)
        return progress(r);
    if (r->sniffing && r->sniff_len > 0 && end_sniffing(r) != ACMEVA_HTTP_MORE)
        return progress(r);
    if (!r->any_bytes)
        return fail(r, ACMEVA_HTTPERR_TRUNCATED, "connection closed before any response");

    /* RFC 9112 §6.3 rule 8: a body without Content-Length or chunking ends at close */
    r->pause_reason = PAUSE_NONE;
    http_parser_execute(&r->parser, r->settings, NULL, 0);
    if (r->pause_reason == PAUSE_MESSAGE && !is_interim(r->parser.status_code)) {
        r->done = 1;
        return progress(r);
    }
    if (!r->headers_done)
        return fail(r, ACMEVA_HTTPERR_TRUNCATED,
                    "connection closed before the response headers were complete");
    return fail(r, ACMEVA_HTTPERR_TRUNCATED,
                "connection closed before the response body was complete");
}

int acmeva_httpreader_status(const acmeva_httpreader *r)
{
    return r->status;
}

const char *acmeva_httpreader_location(const acmeva_httpreader *r, size_t *len)
{
    *len = 0;
    if (!r->location_final || r->loc_state == 0 || r->location_too_long)
        return NULL;
    *len = r->location_len;
    return r->location;
}

int acmeva_httpreader_location_too_long(const acmeva_httpreader *r)
{
    return r->location_final && r->location_too_long;
}

int acmeva_httpreader_is_redirect(const acmeva_httpreader *r)
{
    return r->redirect;
}

const uint8_t *acmeva_httpreader_body(const acmeva_httpreader *r, size_t *len)
{
    *len = r->body_len;
    return r->body;
}

int acmeva_httpreader_body_over_cap(const acmeva_httpreader *r)
{
    return r->body_over_cap;
}

acmeva_http_error acmeva_httpreader_error(const acmeva_httpreader *r)
{
    return r->error;
}

const char *acmeva_httpreader_error_text(const acmeva_httpreader *r)
{
    return r->error_text;
}
