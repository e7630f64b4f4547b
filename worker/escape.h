/*
 * Escaping of server-supplied bytes (HTTP bodies, TXT values, header values) before they
 * reach a problem detail or a log line, in the spirit of OpenBSD stravis(3).
 *
 * The output is always NUL-terminated, valid UTF-8, free of control characters, and meant to
 * sit between double quotes: for printable text it is what Go's %q (strconv.Quote) prints
 * between its quotes, so that Boulder's details such as
 *     ... Expected "<ka>" (got "<body>")
 *     Incorrect TXT record "<value>" found at ...
 * read the same when written as `(got "%s")` with the escaped body. Rules:
 *   - printable ASCII is kept, except '"' -> \"  and '\' -> \\ ;
 *   - newline, carriage return and tab -> \n \r \t ;
 *   - every other control byte (0x00-0x1f) and DEL -> \xNN (two lowercase hex digits;
 *     Go writes \a \b \f \v for four of them, acmeva writes \x07 \x08 \x0c \x0b);
 *   - a valid UTF-8 sequence (RFC 3629) of a printable character is kept as it is;
 *   - a valid sequence of a non-printing character (C1 controls, Unicode format characters
 *     such as bidi overrides and zero-width joiners, non-ASCII spaces, line and paragraph
 *     separators, private use, noncharacters) -> \uXXXX or \UXXXXXXXX, as Go does;
 *   - invalid UTF-8 (stray continuation bytes, overlong forms, surrogates, code points above
 *     U+10FFFF, truncated sequences) -> U+FFFD, one per maximal subpart (Unicode §3.9,
 *     "U+FFFD Substitution of Maximal Subparts"), where Go's %q would write \xNN.
 * Pure: no I/O, no global state.
 */
#ifndef ACMEVA_ESCAPE_H
#define ACMEVA_ESCAPE_H

#include <stddef.h>
#include <stdint.h>

/*
 * acmeva_escape escapes |in| (|inlen| bytes, borrowed; may be NULL when |inlen| is 0) into
 * |out| (|outlen| bytes, at least 1), always NUL-terminated. At most |max_in| input bytes are
 * consumed (0: no limit). The output is never cut inside an escape or a UTF-8 sequence: when
 * |out| is too small, or when |max_in| falls inside a character, it stops after the last
 * whole character that fits. Returns the number of input bytes consumed (less than the input
 * exactly when something was left out), or -1 for a NULL |out|, |outlen| 0, or a NULL |in|
 * with |inlen| > 0. At most INT_MAX bytes are consumed in one call.
 */
int acmeva_escape(const uint8_t *in, size_t inlen, char *out, size_t outlen, size_t max_in);

/*
 * acmeva_escape_dup returns a malloc'd escape of |in| (of at most |max_in| input bytes, 0: no
 * limit), never cut by a buffer size; the caller frees it. Returns NULL when out of memory or
 * when |in| is NULL with |inlen| > 0.
 */
char *acmeva_escape_dup(const uint8_t *in, size_t inlen, size_t max_in);

/*
 * acmeva_escape_nonprinting returns 1 for a non-ASCII code point that acmeva_escape writes as
 * \u or \U (C1 controls, non-ASCII spaces, format characters such as bidi overrides, private
 * use, noncharacters), else 0: for code that prints text to a terminal.
 */
int acmeva_escape_nonprinting(uint32_t cp);

/*
 * ACMEVA_ESCAPE_MAX_GROWTH is the most output bytes one input byte can become ("\xNN"): an
 * |out| of ACMEVA_ESCAPE_MAX_GROWTH * n + 1 bytes always holds the escape of n input bytes.
 */
#define ACMEVA_ESCAPE_MAX_GROWTH 4

#endif
