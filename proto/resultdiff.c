/*
 * Where two results of one job differ (see acmeva/resultdiff.h): how a BGP hijack or DNS
 * poisoning seen from some perspectives shows itself (BR 3.2.2.9), and how a change that has
 * not reached every nameserver shows itself to a person.
 */
#include "acmeva/resultdiff.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* join_strings writes the strings of |l| as "x, y" (quoted when |quote|) into |buf|. */
static void join_strings(const acmeva_rlist *l, int quote, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    if (l->n == 0) {
        snprintf(buf, len, "nothing");
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (off + 1 >= len)
            break;
        int k =
            snprintf(buf + off, len - off, quote ? "%s\"%s\"" : "%s%s", i ? ", " : "", l->v[i].s);
        if (k < 0)
            break;
        off += (size_t)k;
    }
}

static int listed(const acmeva_rlist *l, const acmeva_rstr *x)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].len == x->len && memcmp(l->v[i].s, x->s, x->len) == 0)
            return 1;
    return 0;
}

/* Both lists hold distinct strings (acmeva_resultdoc_read), so equal counts and inclusion
 * make equal sets. caa.records may repeat a record: compared both ways. */
static int same_set(const acmeva_rlist *a, const acmeva_rlist *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (!listed(b, &a->v[i]) || !listed(a, &b->v[i]))
            return 0;
    return 1;
}

static void add_line(acmeva_disagreement_fn emit, void *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_line(acmeva_disagreement_fn emit, void *arg, const char *fmt, ...)
{
    char buf[ACMEVA_DISAGREEMENT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    emit(buf, arg);
}

void acmeva_result_disagreements(const acmeva_resultdoc *pd, const char *ref_name,
                                 const acmeva_resultdoc *sd, const char *name,
                                 acmeva_disagreement_fn emit, void *arg)
{
    if (pd == NULL || sd == NULL || !pd->is_object || !sd->is_object)
        return;
    char a[160], b[160];
    const acmeva_rlist *pl[] = {&pd->addresses, &pd->txt}, *sl[] = {&sd->addresses, &sd->txt};
    static const char *const what[][2] = {{"resolved", "resolved"}, {"saw TXT", "saw"}};
    for (int k = 0; k < 2; k++) {
        if (!same_set(pl[k], sl[k]) && (pl[k]->n > 0 || sl[k]->n > 0)) {
            join_strings(sl[k], k == 1, a, sizeof(a));
            join_strings(pl[k], k == 1, b, sizeof(b));
            add_line(emit, arg, "%s: %s %s where %s %s %s", name, what[k][0], a, ref_name,
                     what[k][1], b);
        }
    }
    if (pd->has_caa && sd->has_caa) {
        const char *pf = pd->caa_found_at, *sf = sd->caa_found_at;
        const acmeva_rlist *pr = &pd->caa_records, *sr = &sd->caa_records;
        /* No "records" and an empty list say the same. */
        int differ = (pf == NULL) != (sf == NULL) || (pf != NULL && strcmp(pf, sf) != 0) ||
                     !(!pd->has_caa_records ? !sd->has_caa_records || sr->n == 0
                                            : sd->has_caa_records && same_set(pr, sr));
        if (differ) {
            join_strings(sr, 1, a, sizeof(a));
            join_strings(pr, 1, b, sizeof(b));
            add_line(emit, arg, "%s: found CAA at %s (%s) where %s found it at %s (%s)", name,
                     sf ? sf : "no name", sd->has_caa_records ? a : "none", ref_name,
                     pf ? pf : "no name", pd->has_caa_records ? b : "none");
        }
    }
    const char *ps = pd->status, *ss = sd->status;
    const char *pt = pd->error_type, *st = sd->error_type;
    if (ps != NULL && ss != NULL &&
        (strcmp(ps, ss) != 0 || (pt != NULL && st != NULL && strcmp(pt, st) != 0))) {
        const char *sdet = sd->error_detail;
        char mine[ACMEVA_DISAGREEMENT_MAX / 2] = "", theirs[96] = "";
        if (st != NULL)
            snprintf(mine, sizeof(mine), " (%s: %s)", st, sdet ? sdet : "");
        if (pt != NULL)
            snprintf(theirs, sizeof(theirs), " (%s)", pt);
        add_line(emit, arg, "%s: %s%s where %s was %s%s", name, ss, mine, ref_name, ps, theirs);
    }
}
