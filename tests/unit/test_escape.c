/*
 * Unit tests of worker/escape.c: Go %q compatibility for printable text, control bytes,
 * UTF-8 edge cases (Unicode Table 3-7 well-formed sequences, maximal-subpart replacement),
 * non-printing characters, clean truncation by output size and by max_in, and properties
 * checked over every 1- and 2-byte input and many pseudo-random longer ones.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "escape.h"

#define FFFD "\xef\xbf\xbd"

/* esc escapes |in| (|n| bytes) into a static buffer large enough for everything here. */
static const char *esc(const char *in, size_t n)
{
    static char buf[1024];
    int rc = acmeva_escape((const uint8_t *)in, n, buf, sizeof(buf), 0);
    CHECK_MSG(rc == (int)n, "consumed %d of %zu", rc, n);
    return buf;
}

#define ESC(lit) esc(lit, sizeof(lit) - 1)

/* utf8_valid: strict RFC 3629 check, independent of escape.c's decoder. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

/* safe_output: valid UTF-8, no control bytes, no unescaped '"', every '\' starts an escape. */
static int safe_output(const char *s)
{
    size_t n = strlen(s);
    if (!utf8_valid((const unsigned char *)s, n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '"')
            return 0;
        if (c == '\\') {
            if (i + 1 >= n || strchr("\"\\nrtxuU", s[i + 1]) == NULL)
                return 0;
            i++;
        }
    }
    return 1;
}

static void test_go_quote_printable(void)
{
    /* What Go's %q prints between its quotes for the same input. */
    CHECK_STR(ESC(""), "");
    CHECK_STR(ESC("hello"), "hello");
    CHECK_STR(ESC("He said \"hi\" \\o/"), "He said \\\"hi\\\" \\\\o/");
    CHECK_STR(ESC("line1\nline2\r\n\tx"), "line1\\nline2\\r\\n\\tx");
    CHECK_STR(ESC("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0t"),
              "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0t");
    CHECK_STR(ESC("<html><body>404 Not Found</body></html>"),
              "<html><body>404 Not Found</body></html>");
    CHECK_STR(ESC(" ~!@#$%^&*()_+{}|:<>?`-=[];',./"), " ~!@#$%^&*()_+{}|:<>?`-=[];',./");
    /* Printable non-ASCII is kept as UTF-8, as Go does. */
    CHECK_STR(ESC("caf\xc3\xa9 \xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"),
              "caf\xc3\xa9 \xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
    /* Combining marks are printable (Mn). */
    CHECK_STR(ESC("e\xcc\x81"), "e\xcc\x81");
    CHECK_STR(ESC("\xef\xbf\xbd"), FFFD); /* U+FFFD itself is printable */
}

static void test_control_bytes(void)
{
    CHECK_STR(esc("\x00", 1), "\\x00");
    CHECK_STR(ESC("\x01\x07\x08\x0b\x0c\x1b\x1f\x7f"), "\\x01\\x07\\x08\\x0b\\x0c\\x1b\\x1f\\x7f");
    CHECK_STR(esc("a\0b", 3), "a\\x00b");
}

static void test_nonprinting(void)
{
    CHECK_STR(ESC("\xc2\x80"), "\\u0080"); /* C1 control */
    CHECK_STR(ESC("\xc2\x85"), "\\u0085"); /* NEL */
    CHECK_STR(ESC("\xc2\x9f"), "\\u009f");
    CHECK_STR(ESC("\xc2\xa0"), "\\u00a0");             /* no-break space */
    CHECK_STR(ESC("\xc2\xa1"), "\xc2\xa1");            /* inverted exclamation: printable */
    CHECK_STR(ESC("\xc2\xad"), "\\u00ad");             /* soft hyphen (Cf) */
    CHECK_STR(ESC("\xe2\x80\x8b"), "\\u200b");         /* zero width space */
    CHECK_STR(ESC("\xe2\x80\x8d"), "\\u200d");         /* zero width joiner */
    CHECK_STR(ESC("\xe2\x80\xa8"), "\\u2028");         /* line separator */
    CHECK_STR(ESC("\xe2\x80\xae"), "\\u202e");         /* right-to-left override */
    CHECK_STR(ESC("\xe2\x81\xa6"), "\\u2066");         /* left-to-right isolate */
    CHECK_STR(ESC("\xe3\x80\x80"), "\\u3000");         /* ideographic space */
    CHECK_STR(ESC("\xee\x80\x80"), "\\ue000");         /* private use */
    CHECK_STR(ESC("\xef\xbb\xbf"), "\\ufeff");         /* byte order mark */
    CHECK_STR(ESC("\xef\xb7\x90"), "\\ufdd0");         /* noncharacter */
    CHECK_STR(ESC("\xef\xbf\xbe"), "\\ufffe");         /* noncharacter */
    CHECK_STR(ESC("\xf0\x9f\xbf\xbf"), "\\U0001ffff"); /* noncharacter */
    CHECK_STR(ESC("\xf3\xa0\x81\x81"), "\\U000e0041"); /* tag character */
    CHECK_STR(ESC("\xf3\xb0\x80\x80"), "\\U000f0000"); /* plane 15 private use */
    CHECK_STR(ESC("\xf4\x8f\xbf\xbd"), "\\U0010fffd"); /* plane 16 private use */
}

static void test_invalid_utf8(void)
{
    /* Stray continuation bytes and bytes that never start a sequence. */
    CHECK_STR(ESC("\x80"), FFFD);
    CHECK_STR(ESC("\xbf"), FFFD);
    CHECK_STR(ESC("\xfe\xff"), FFFD FFFD);
    CHECK_STR(ESC("\xf5\x80\x80\x80"), FFFD FFFD FFFD FFFD);
    /* Overlong forms: C0/C1 never lead; E0 needs A0..BF next; F0 needs 90..BF next. */
    CHECK_STR(ESC("\xc0\xaf"), FFFD FFFD);
    CHECK_STR(ESC("\xc1\xbf"), FFFD FFFD);
    CHECK_STR(ESC("\xe0\x80\xaf"), FFFD FFFD FFFD);
    CHECK_STR(ESC("\xe0\x9f\xbf"), FFFD FFFD FFFD);
    CHECK_STR(ESC("\xf0\x80\x80\xaf"), FFFD FFFD FFFD FFFD);
    CHECK_STR(ESC("\xf0\x8f\xbf\xbf"), FFFD FFFD FFFD FFFD);
    /* Smallest well-formed forms of each length. */
    CHECK_STR(ESC("\xc2\xa9"), "\xc2\xa9");
    CHECK_STR(ESC("\xe0\xa0\x80"), "\xe0\xa0\x80");
    CHECK_STR(ESC("\xf0\x90\x80\x80"), "\xf0\x90\x80\x80");
    /* Surrogates (ED A0..BF) and code points above U+10FFFF (F4 90..). */
    CHECK_STR(ESC("\xed\xa0\x80"), FFFD FFFD FFFD);
    CHECK_STR(ESC("\xed\xbf\xbf"), FFFD FFFD FFFD);
    CHECK_STR(ESC("\xed\x9f\xbf"), "\xed\x9f\xbf"); /* U+D7FF is fine */
    CHECK_STR(ESC("\xf4\x90\x80\x80"), FFFD FFFD FFFD FFFD);
    CHECK_STR(ESC("\xf4\x8f\xbf\xbf"), "\\U0010ffff"); /* valid, a noncharacter */
    /* Truncated sequences: one U+FFFD per maximal subpart. */
    CHECK_STR(ESC("\xe2\x82"), FFFD);
    CHECK_STR(ESC("a\xe2\x82"), "a" FFFD);
    CHECK_STR(ESC("\xe2\x82"
                  "A"),
              FFFD "A");
    CHECK_STR(ESC("\xf0\x9f\x98"), FFFD);
    CHECK_STR(ESC("\xf0\x9f\x98\"x"), FFFD "\\\"x");
    CHECK_STR(ESC("\xc3"), FFFD);
    /* The example of Unicode §3.9 (Table 3-8): 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64. */
    CHECK_STR(ESC("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64"),
              "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d");
}

static void test_truncation_by_outlen(void)
{
    char out[16];
    const uint8_t *abc = (const uint8_t *)"abc";
    CHECK_INT(acmeva_escape(abc, 3, out, 3, 0), 2);
    CHECK_STR(out, "ab");
    CHECK_INT(acmeva_escape(abc, 3, out, 1, 0), 0);
    CHECK_STR(out, "");
    /* Never half an escape. */
    CHECK_INT(acmeva_escape((const uint8_t *)"\"", 1, out, 2, 0), 0);
    CHECK_STR(out, "");
    CHECK_INT(acmeva_escape((const uint8_t *)"\"", 1, out, 3, 0), 1);
    CHECK_STR(out, "\\\"");
    CHECK_INT(acmeva_escape((const uint8_t *)"a\x01", 2, out, 5, 0), 1);
    CHECK_STR(out, "a");
    CHECK_INT(acmeva_escape((const uint8_t *)"a\x01", 2, out, 6, 0), 2);
    CHECK_STR(out, "a\\x01");
    /* Never half a UTF-8 sequence. */
    CHECK_INT(acmeva_escape((const uint8_t *)"\xc3\xa9", 2, out, 2, 0), 0);
    CHECK_STR(out, "");
    CHECK_INT(acmeva_escape((const uint8_t *)"\xc3\xa9", 2, out, 3, 0), 2);
    CHECK_STR(out, "\xc3\xa9");
    CHECK_INT(acmeva_escape((const uint8_t *)"x\xf0\x9f\x98\x80", 5, out, 5, 0), 1);
    CHECK_STR(out, "x");
    CHECK_INT(acmeva_escape((const uint8_t *)"\x80", 1, out, 3, 0), 0);
    CHECK_STR(out, "");
    CHECK_INT(acmeva_escape((const uint8_t *)"\x80", 1, out, 4, 0), 1);
    CHECK_STR(out, FFFD);
    CHECK_INT(acmeva_escape((const uint8_t *)"\xe2\x80\xae", 3, out, 6, 0), 0);
    CHECK_STR(out, "");
    CHECK_INT(acmeva_escape((const uint8_t *)"\xe2\x80\xae", 3, out, 7, 0), 3);
    CHECK_STR(out, "\\u202e");
}

static void test_max_in(void)
{
    char out[64];
    CHECK_INT(acmeva_escape((const uint8_t *)"abcdef", 6, out, sizeof(out), 3), 3);
    CHECK_STR(out, "abc");
    CHECK_INT(acmeva_escape((const uint8_t *)"abcdef", 6, out, sizeof(out), 100), 6);
    CHECK_STR(out, "abcdef");
    /* A character cut by max_in is left out whole, not replaced. */
    CHECK_INT(acmeva_escape((const uint8_t *)"a\xc3\xa9", 3, out, sizeof(out), 2), 1);
    CHECK_STR(out, "a");
    CHECK_INT(acmeva_escape((const uint8_t *)"ab\xf0\x9f\x98\x80", 6, out, sizeof(out), 5), 2);
    CHECK_STR(out, "ab");
    CHECK_INT(acmeva_escape((const uint8_t *)"ab\xf0\x9f\x98\x80", 6, out, sizeof(out), 6), 6);
    CHECK_STR(out, "ab\xf0\x9f\x98\x80");
    /* Invalid bytes before the limit are replaced as usual. */
    CHECK_INT(acmeva_escape((const uint8_t *)"\xff\xffzz", 4, out, sizeof(out), 2), 2);
    CHECK_STR(out, FFFD FFFD);
}

static void test_bad_arguments(void)
{
    char out[8] = "x";
    CHECK_INT(acmeva_escape((const uint8_t *)"a", 1, NULL, 8, 0), -1);
    CHECK_INT(acmeva_escape((const uint8_t *)"a", 1, out, 0, 0), -1);
    CHECK_INT(acmeva_escape(NULL, 1, out, sizeof(out), 0), -1);
    CHECK_INT(acmeva_escape(NULL, 0, out, sizeof(out), 0), 0);
    CHECK_STR(out, "");
    CHECK(acmeva_escape_dup(NULL, 1, 0) == NULL);
}

static void test_dup(void)
{
    char *s = acmeva_escape_dup((const uint8_t *)"a\"b\n\xff", 5, 0);
    CHECK(s != NULL);
    if (s != NULL)
        CHECK_STR(s, "a\\\"b\\n" FFFD);
    free(s);
    s = acmeva_escape_dup((const uint8_t *)"abcdef", 6, 4);
    CHECK(s != NULL);
    if (s != NULL)
        CHECK_STR(s, "abcd");
    free(s);
    s = acmeva_escape_dup(NULL, 0, 0);
    CHECK(s != NULL);
    if (s != NULL)
        CHECK_STR(s, "");
    free(s);
    /* The worst case, four output bytes per input byte, is never cut. */
    uint8_t worst[300];
    memset(worst, 0x01, sizeof(worst));
    s = acmeva_escape_dup(worst, sizeof(worst), 0);
    CHECK(s != NULL);
    if (s != NULL)
        CHECK_INT(strlen(s), 4 * sizeof(worst));
    free(s);
}

/* Every 1- and 2-byte input is consumed whole with a big buffer and gives safe output; cut
 * at every output size it still gives safe output and consumes a prefix. */
static void test_exhaustive_short(void)
{
    char out[64];
    int bad = 0;
    for (unsigned v = 0; v < 65536 + 256; v++) {
        uint8_t in[2];
        size_t n;
        if (v < 256) {
            in[0] = (uint8_t)v;
            n = 1;
        } else {
            in[0] = (uint8_t)((v - 256) >> 8);
            in[1] = (uint8_t)(v - 256);
            n = 2;
        }
        int rc = acmeva_escape(in, n, out, sizeof(out), 0);
        if (rc != (int)n || !safe_output(out))
            bad++;
        for (size_t cap = 1; cap < 12; cap++) {
            rc = acmeva_escape(in, n, out, cap, 0);
            if (rc < 0 || rc > (int)n || strlen(out) >= cap || !safe_output(out))
                bad++;
        }
    }
    CHECK_INT(bad, 0);
}

/* Pseudo-random inputs biased to UTF-8 boundary bytes: output safe, the whole input consumed
 * with a big buffer, and a cut output is a prefix of the full one. */
static void test_random(void)
{
    static const uint8_t alphabet[] = {0x00, 0x0a, 0x22, 0x41, 0x5c, 0x7f, 0x80, 0x8f,
                                       0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0,
                                       0xe2, 0xed, 0xef, 0xf0, 0xf3, 0xf4, 0xf5, 0xff};
    uint32_t seed = 12345;
    int bad = 0;
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t in[12];
        size_t n = 1 + (size_t)(iter % 12);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = alphabet[(seed >> 16) % sizeof(alphabet)];
        }
        char full[64], cut[64];
        int rc = acmeva_escape(in, n, full, sizeof(full), 0);
        if (rc != (int)n || !safe_output(full))
            bad++;
        size_t cap = 1 + (size_t)(iter % 20);
        rc = acmeva_escape(in, n, cut, cap, 0);
        if (rc < 0 || !safe_output(cut) || strncmp(full, cut, strlen(cut)) != 0)
            bad++;
        size_t max_in = 1 + (size_t)(iter % 7);
        rc = acmeva_escape(in, n, cut, sizeof(cut), max_in);
        if (rc < 0 || (size_t)rc > max_in || !safe_output(cut) ||
            strncmp(full, cut, strlen(cut)) != 0)
            bad++;
    }
    CHECK_INT(bad, 0);
}

int main(void)
{
    test_go_quote_printable();
    test_control_bytes();
    test_nonprinting();
    test_invalid_utf8();
    test_truncation_by_outlen();
    test_max_in();
    test_bad_arguments();
    test_dup();
    test_exhaustive_short();
    test_random();
    return CHECK_DONE();
}
