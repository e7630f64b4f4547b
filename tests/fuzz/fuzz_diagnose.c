/*
 * Fuzz target of the readable diagnosis (worker/cmd/diagnose.c): any JSON document in, text
 * out. The document is read as a result and as the perspectives document of acmeva check
 * --perspectives; the formatter must never crash, leak or read out of bounds, must always
 * give text, and no byte of the document may reach the text as a control character (the text
 * goes to terminals): without colour there is no escape byte at all, and no control byte but
 * the newline.
 *
 * Seeds (tests/fuzz/corpus/diagnose/): the result examples of proto/examples and results of
 * each catalogue case as acmeva check wrote them.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose.h"

static void check_text(char *text)
{
    if (text == NULL)
        abort(); /* no memory is not expected here */
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
        if ((*p < 0x20 && *p != '\n') || *p == 0x7f)
            abort();
    size_t n = strlen(text);
    if (n == 0 || text[n - 1] != '\n')
        abort();
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (doc == NULL)
        return 0;
    check_text(acmeva_diagnose_text(doc, 0));
    const char *cause = acmeva_diagnose_cause(doc);
    if (cause == NULL || cause[0] == '\0')
        abort();
    /* The same document as the result of the first of two perspectives. */
    json_t *all = json_pack("{s:s, s:s, s:[{s:s, s:s, s:O}, {s:s, s:s, s:O}], s:[s]}", "id", "f",
                            "status", "invalid", "perspectives", "a", "name", "resolver", "x",
                            "result", doc, "name", "b", "resolver", "y", "result", doc,
                            "disagreements", "b: resolved \x1b[2J where a resolved nothing");
    if (all != NULL)
        check_text(acmeva_diagnose_perspectives_text(all, 0));
    json_decref(all);
    /* In colour, the only escape sequences are the formatter's own. */
    char *color = acmeva_diagnose_text(doc, ACMEVA_DIAG_COLOR);
    if (color == NULL)
        abort();
    for (const char *p = strchr(color, '\x1b'); p != NULL; p = strchr(p + 1, '\x1b')) {
        size_t k = strspn(p + 2, "0123456789;");
        if (p[1] != '[' || p[2 + k] != 'm')
            abort();
    }
    free(color);
    json_decref(doc);
    return 0;
}
