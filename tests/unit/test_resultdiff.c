/*
 * Unit tests of proto/resultdiff.c: where two results of one job differ, in the wording the
 * coordinator's MPIC results and acmeva check --perspectives share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmeva/resultdiff.h"
#include "check.h"

#define MAX_LINES 8

typedef struct lines {
    char *v[MAX_LINES];
    size_t n;
} lines;

static void add(const char *line, void *arg)
{
    lines *l = arg;
    CHECK(l->n < MAX_LINES);
    if (l->n < MAX_LINES)
        l->v[l->n++] = strdup(line);
}

static void lines_clear(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    l->n = 0;
}

static void doc(acmeva_resultdoc *d, const char *s)
{
    CHECK_MSG(acmeva_resultdoc_read(d, s, strlen(s)) == 0, "not JSON: %s", s);
}

/* What the comparison reads: each address once, strings only, in the order first seen. */
static void test_lists(void)
{
    acmeva_resultdoc r;
    doc(&r, "{\"validationRecord\":[{\"addressesResolved\":[\"::1\",\"127.0.0.1\"]},"
            "{\"addressesResolved\":[\"127.0.0.1\",\"127.0.0.2\",7]},{}]}");
    CHECK_INT(r.addresses.n, 3);
    CHECK_STR(r.addresses.v[0].s, "::1");
    CHECK_STR(r.addresses.v[2].s, "127.0.0.2");
    acmeva_resultdoc_clear(&r);
}

static void test_disagreements(void)
{
    acmeva_resultdoc p, same, hijacked, odd;
    doc(&p, "{\"status\":\"valid\",\"validationRecord\":[{\"addressesResolved\":[\"::1\","
            "\"127.0.0.1\"],\"records\":[\"good\"]}],\"caa\":{\"foundAt\":null}}");
    doc(&same, "{\"status\":\"valid\",\"validationRecord\":[{\"addressesResolved\":[\"127.0.0.1\","
               "\"::1\"],\"records\":[\"good\"]}],\"caa\":{\"foundAt\":null,\"records\":[]}}");
    doc(&hijacked,
        "{\"status\":\"invalid\",\"validationRecord\":[{\"addressesResolved\":[\"127.0.0.2\"],"
        "\"records\":[\"old\",\"good\"]}],\"error\":{\"type\":\"urn:ietf:params:acme:error:"
        "unauthorized\",\"detail\":\"bad\"},\"caa\":{\"foundAt\":\"example.com\",\"records\":"
        "[\"0 issue \\\"other.example\\\"\"]}}");
    doc(&odd, "[1,2]");
    lines l = {0};
    acmeva_result_disagreements(&p, "the primary", &same, "r1", add, &l);
    CHECK_INT(l.n, 0); /* the same sets in another order, an empty set */
    acmeva_result_disagreements(&p, "the primary", &hijacked, "r5", add, &l);
    CHECK_INT(l.n, 4);
    CHECK_STR(l.v[0], "r5: resolved 127.0.0.2 where the primary resolved ::1, 127.0.0.1");
    CHECK_STR(l.v[1], "r5: saw TXT \"old\", \"good\" where the primary saw \"good\"");
    CHECK_STR(l.v[2], "r5: found CAA at example.com (\"0 issue \"other.example\"\") "
                      "where the primary found it at no name (none)");
    CHECK_STR(l.v[3], "r5: invalid (urn:ietf:params:acme:error:unauthorized: bad) "
                      "where the primary was valid");
    lines_clear(&l);
    /* Another reference name (acmeva check --perspectives compares with its first). */
    acmeva_result_disagreements(&hijacked, "here", &p, "there", add, &l);
    CHECK_INT(l.n, 4);
    CHECK_STR(l.v[0], "there: resolved ::1, 127.0.0.1 where here resolved 127.0.0.2");
    CHECK_STR(l.v[3], "there: valid where here was invalid "
                      "(urn:ietf:params:acme:error:unauthorized)");
    lines_clear(&l);
    /* A missing result, or one that is not an object, adds nothing; a long line is cut,
     * never overrun. */
    acmeva_result_disagreements(NULL, "here", &p, "x", add, &l);
    acmeva_result_disagreements(&p, "here", NULL, "x", add, &l);
    acmeva_result_disagreements(&odd, "here", &p, "x", add, &l);
    CHECK_INT(l.n, 0);
    char name[600];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    acmeva_result_disagreements(&p, "here", &hijacked, name, add, &l);
    CHECK(l.n == 4 && strlen(l.v[0]) == ACMEVA_DISAGREEMENT_MAX - 1);
    lines_clear(&l);
    /* A CAA record set that repeats one record is not the set of two. */
    acmeva_resultdoc a, b;
    doc(&a, "{\"caa\":{\"foundAt\":\"x.example\",\"records\":[\"r1\",\"r1\"]}}");
    doc(&b, "{\"caa\":{\"foundAt\":\"x.example\",\"records\":[\"r1\",\"r2\"]}}");
    acmeva_result_disagreements(&a, "here", &b, "there", add, &l);
    CHECK_INT(l.n, 1);
    lines_clear(&l);
    acmeva_resultdoc_clear(&a);
    acmeva_resultdoc_clear(&b);
    acmeva_resultdoc_clear(&p);
    acmeva_resultdoc_clear(&same);
    acmeva_resultdoc_clear(&hijacked);
    acmeva_resultdoc_clear(&odd);
}

int main(void)
{
    test_lists();
    test_disagreements();
    return CHECK_DONE();
}
