/* http-01 pieces that are pure functions, exposed for unit tests. */
#ifndef ACMEVA_HTTP01_H
#define ACMEVA_HTTP01_H

#include <stddef.h>
#include <stdint.h>

/*
 * acmeva_http01_trim returns the length of |b| without its trailing white space, as Boulder
 * trims it (strings.TrimRightFunc with unicode.IsSpace): ASCII space and \t \n \v \f \r and
 * the UTF-8 forms of the Unicode spaces. Leading white space is kept.
 */
size_t acmeva_http01_trim(const uint8_t *b, size_t n);

/*
 * acmeva_http01_body_matches returns 1 when |body| (|len| bytes), trailing white space
 * trimmed, equals |key_authorization| exactly (RFC 8555 §8.3), else 0.
 */
int acmeva_http01_body_matches(const uint8_t *body, size_t len, const char *key_authorization);

#endif
