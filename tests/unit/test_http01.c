/* Unit tests of http-01's body trimming and comparison (RFC 8555 §8.3, Boulder va/http.go). */
#include <string.h>

#include "check.h"
#include "http01.h"

static int matches(const char *body, const char *ka)
{
    return acmeva_http01_body_matches((const uint8_t *)body, strlen(body), ka);
}

static size_t trim(const char *s)
{
    return acmeva_http01_trim((const uint8_t *)s, strlen(s));
}

int main(void)
{
    const char *ka = "tok.thumb";
    CHECK_INT(matches("tok.thumb", ka), 1);
    CHECK_INT(matches("tok.thumb\n", ka), 1);
    CHECK_INT(matches("tok.thumb\r\n", ka), 1);
    CHECK_INT(matches("tok.thumb \t\n\v\f\r", ka), 1);
    CHECK_INT(matches("tok.thumb\xc2\xa0", ka), 1);                 /* U+00A0 */
    CHECK_INT(matches("tok.thumb\xc2\x85", ka), 1);                 /* U+0085 */
    CHECK_INT(matches("tok.thumb\xe3\x80\x80", ka), 1);             /* U+3000 */
    CHECK_INT(matches("tok.thumb\xe2\x80\x8a\xe2\x80\xa8", ka), 1); /* U+200A U+2028 */
    /* Leading white space is not trimmed; nor is anything inside. */
    CHECK_INT(matches(" tok.thumb", ka), 0);
    CHECK_INT(matches("\ntok.thumb", ka), 0);
    CHECK_INT(matches("tok. thumb", ka), 0);
    /* Exact compare: case, prefixes, extensions. */
    CHECK_INT(matches("TOK.thumb", ka), 0);
    CHECK_INT(matches("tok.thum", ka), 0);
    CHECK_INT(matches("tok.thumbx", ka), 0);
    CHECK_INT(matches("tok.thumb\0", ka), 1); /* strlen stops at the NUL: same as no NUL */
    CHECK_INT(acmeva_http01_body_matches((const uint8_t *)"tok.thumb\0", 10, ka), 0);
    CHECK_INT(matches("", ka), 0);
    CHECK_INT(matches("", ""), 1);
    /* Not spaces: U+200B (zero width space), a lone 0xa0 byte, a truncated sequence. */
    CHECK_INT(matches("tok.thumb\xe2\x80\x8b", ka), 0);
    CHECK_INT(matches("tok.thumb\xa0", ka), 0);
    CHECK_INT(matches("tok.thumb\xe3\x80", ka), 0);
    CHECK_INT(trim("abc"), 3);
    CHECK_INT(trim("abc \n"), 3);
    CHECK_INT(trim(" \n\t"), 0);
    CHECK_INT(trim(""), 0);
    CHECK_INT(trim("a\xc2\xa0\xc2\xa0 "), 1);
    CHECK_INT(trim("\xe3\x80\x80"), 0);
    CHECK_INT(trim("x\xe1\x9a\x80"), 1);             /* U+1680 */
    CHECK_INT(trim("x\xe2\x80\xaf\xe2\x81\x9f"), 1); /* U+202F U+205F */
    return CHECK_DONE();
}
