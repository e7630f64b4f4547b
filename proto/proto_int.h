/* Codec internals shared by the files of proto/; not part of the API. */
#ifndef ACMEVA_PROTO_INT_H
#define ACMEVA_PROTO_INT_H

#include <stddef.h>

/* acmeva_utf8_seq_len returns the length (1..4) of the well-formed UTF-8 sequence at |s|
 * (|n| bytes left), or 0 when it is not one (NUL, overlong forms, surrogates, code points above
 * U+10FFFF, truncated sequences). */
size_t acmeva_utf8_seq_len(const unsigned char *s, size_t n);

#endif
