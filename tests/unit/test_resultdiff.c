/*
 * Unit tests of proto/resultdiff.c: where two results of one job differ, in the wording the
 * coordinator's MPIC results and acmeva check --perspectives share.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "acmeva/resultdiff.h"
#include "check.h"

static json_t *doc(const char *s)
{
    json_error_t je;
    json_t *d = json_loads(s, 0, &je);
    CHECK_MSG(d != NULL, "not JSON: %s", je.text);
    return d;
}

static const char *line_at(json_t *lines, size_t i)
{
    return json_string_value(json_array_get(lines, i));
}

static void test_collect(void)
{
    json_t *r = doc("{\"validationRecord\":[{\"addressesResolved\":[\"::1\",\"127.0.0.1\"]},"
                    "{\"addressesResolved\":[\"127.0.0.1\",\"127.0.0.2\",7]},{}]}");
    json_t *out = json_array();
    acmeva_result_collect(r, "addressesResolved", out);
    CHECK_INT(json_array_size(out), 3); /* each once, strings only, in the order first seen */
    CHECK_STR(line_at(out, 0), "::1");
    CHECK_STR(line_at(out, 2), "127.0.0.2");
    json_t *odd = json_array();
    acmeva_result_collect(odd, "x", out); /* another shape: nothing */
    json_decref(odd);
    CHECK_INT(json_array_size(out), 3);
    json_decref(out);
    json_decref(r);
}

static void test_disagreements(void)
{
    json_t *p = doc("{\"status\":\"valid\",\"validationRecord\":[{\"addressesResolved\":[\"::1\","
                    "\"127.0.0.1\"],\"records\":[\"good\"]}],\"caa\":{\"foundAt\":null}}");
    json_t *same =
        doc("{\"status\":\"valid\",\"validationRecord\":[{\"addressesResolved\":[\"127.0.0.1\","
            "\"::1\"],\"records\":[\"good\"]}],\"caa\":{\"foundAt\":null,\"records\":[]}}");
    json_t *hijacked =
        doc("{\"status\":\"invalid\",\"validationRecord\":[{\"addressesResolved\":[\"127.0.0.2\"],"
            "\"records\":[\"old\",\"good\"]}],\"error\":{\"type\":\"urn:ietf:params:acme:error:"
            "unauthorized\",\"detail\":\"bad\"},\"caa\":{\"foundAt\":\"example.com\",\"records\":"
            "[\"0 issue \\\"other.example\\\"\"]}}");
    json_t *lines = json_array();
    acmeva_result_disagreements(p, "the primary", same, "r1", lines);
    CHECK_INT(json_array_size(lines), 0); /* the same sets in another order, an empty set */
    acmeva_result_disagreements(p, "the primary", hijacked, "r5", lines);
    CHECK_INT(json_array_size(lines), 4);
    CHECK_STR(line_at(lines, 0),
              "r5: resolved 127.0.0.2 where the primary resolved ::1, 127.0.0.1");
    CHECK_STR(line_at(lines, 1), "r5: saw TXT \"old\", \"good\" where the primary saw \"good\"");
    CHECK_STR(line_at(lines, 2), "r5: found CAA at example.com (\"0 issue \"other.example\"\") "
                                 "where the primary found it at no name (none)");
    CHECK_STR(line_at(lines, 3), "r5: invalid (urn:ietf:params:acme:error:unauthorized: bad) "
                                 "where the primary was valid");
    json_decref(lines);
    /* Another reference name (acmeva check --perspectives compares with its first). */
    lines = json_array();
    acmeva_result_disagreements(hijacked, "here", p, "there", lines);
    CHECK_STR(line_at(lines, 0), "there: resolved ::1, 127.0.0.1 where here resolved 127.0.0.2");
    CHECK_STR(line_at(lines, 3), "there: valid where here was invalid "
                                 "(urn:ietf:params:acme:error:unauthorized)");
    /* A missing result adds nothing; a long line is cut, never overrun. */
    acmeva_result_disagreements(NULL, "here", p, "x", lines);
    acmeva_result_disagreements(p, "here", NULL, "x", lines);
    CHECK_INT(json_array_size(lines), 4);
    char name[600];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    acmeva_result_disagreements(p, "here", hijacked, name, lines);
    CHECK(strlen(line_at(lines, 4)) == ACMEVA_DISAGREEMENT_MAX - 1);
    json_decref(lines);
    json_decref(p);
    json_decref(same);
    json_decref(hijacked);
}

int main(void)
{
    test_collect();
    test_disagreements();
    return CHECK_DONE();
}
