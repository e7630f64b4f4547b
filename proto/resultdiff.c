/*
 * Where two results of one job differ (see acmeva/resultdiff.h): how a BGP hijack or DNS
 * poisoning seen from some perspectives shows itself (BR 3.2.2.9), and how a change that has
 * not reached every nameserver shows itself to a person.
 */
#include "acmeva/resultdiff.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

void acmeva_result_collect(const json_t *result, const char *key, json_t *out)
{
    json_t *recs = json_object_get(result, "validationRecord"), *rec, *v;
    size_t i, j;
    json_array_foreach(recs, i, rec)
    {
        json_array_foreach(json_object_get(rec, key), j, v)
        {
            int seen = 0;
            json_t *w;
            size_t k;
            json_array_foreach(out, k, w) seen |= json_equal(v, w);
            if (!seen && json_is_string(v))
                json_array_append(out, v);
        }
    }
}

/* join_strings writes the strings of |a| as "x, y" (quoted when |quote|) into |buf|. */
static void join_strings(const json_t *a, int quote, char *buf, size_t len)
{
    size_t off = 0, i;
    json_t *v;
    buf[0] = '\0';
    if (json_array_size(a) == 0) {
        snprintf(buf, len, "nothing");
        return;
    }
    json_array_foreach(a, i, v)
    {
        if (off + 1 >= len)
            break;
        int k = snprintf(buf + off, len - off, quote ? "%s\"%s\"" : "%s%s", i ? ", " : "",
                         json_string_value(v));
        if (k < 0)
            break;
        off += (size_t)k;
    }
}

static int same_set(const json_t *a, const json_t *b)
{
    if (json_array_size(a) != json_array_size(b))
        return 0;
    size_t i, j;
    json_t *v, *w;
    json_array_foreach(a, i, v)
    {
        int found = 0;
        json_array_foreach(b, j, w) found |= json_equal(v, w);
        if (!found)
            return 0;
    }
    return 1;
}

static void add_line(json_t *lines, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_line(json_t *lines, const char *fmt, ...)
{
    char buf[ACMEVA_DISAGREEMENT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    json_array_append_new(lines, json_string(buf));
}

void acmeva_result_disagreements(const json_t *ref, const char *ref_name, const json_t *other,
                                 const char *name, json_t *lines)
{
    if (other == NULL || ref == NULL)
        return;
    char a[160], b[160];
    static const char *const keys[] = {"addressesResolved", "records"};
    static const char *const what[][2] = {{"resolved", "resolved"}, {"saw TXT", "saw"}};
    for (int k = 0; k < 2; k++) {
        json_t *pa = json_array(), *sa = json_array();
        acmeva_result_collect(ref, keys[k], pa);
        acmeva_result_collect(other, keys[k], sa);
        if (pa != NULL && sa != NULL && !same_set(pa, sa) &&
            (json_array_size(pa) > 0 || json_array_size(sa) > 0)) {
            join_strings(sa, k == 1, a, sizeof(a));
            join_strings(pa, k == 1, b, sizeof(b));
            add_line(lines, "%s: %s %s where %s %s %s", name, what[k][0], a, ref_name, what[k][1],
                     b);
        }
        json_decref(pa);
        json_decref(sa);
    }
    json_t *pc = json_object_get(ref, "caa"), *sc = json_object_get(other, "caa");
    if (pc != NULL && sc != NULL) {
        const char *pf = jstr(pc, "foundAt"), *sf = jstr(sc, "foundAt");
        json_t *pr = json_object_get(pc, "records"), *sr = json_object_get(sc, "records");
        int differ =
            (pf == NULL) != (sf == NULL) || (pf != NULL && strcmp(pf, sf) != 0) ||
            !(pr == NULL ? sr == NULL || json_array_size(sr) == 0 : sr != NULL && same_set(pr, sr));
        if (differ) {
            join_strings(sr, 1, a, sizeof(a));
            join_strings(pr, 1, b, sizeof(b));
            add_line(lines, "%s: found CAA at %s (%s) where %s found it at %s (%s)", name,
                     sf ? sf : "no name", sr ? a : "none", ref_name, pf ? pf : "no name",
                     pr ? b : "none");
        }
    }
    const char *ps = jstr(ref, "status"), *ss = jstr(other, "status");
    const char *pt = jstr(json_object_get(ref, "error"), "type");
    const char *st = jstr(json_object_get(other, "error"), "type");
    if (ps != NULL && ss != NULL &&
        (strcmp(ps, ss) != 0 || (pt != NULL && st != NULL && strcmp(pt, st) != 0))) {
        const char *sd = jstr(json_object_get(other, "error"), "detail");
        char mine[ACMEVA_DISAGREEMENT_MAX / 2] = "", theirs[96] = "";
        if (st != NULL)
            snprintf(mine, sizeof(mine), " (%s: %s)", st, sd ? sd : "");
        if (pt != NULL)
            snprintf(theirs, sizeof(theirs), " (%s)", pt);
        add_line(lines, "%s: %s%s where %s was %s%s", name, ss, mine, ref_name, ps, theirs);
    }
}
