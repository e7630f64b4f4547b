/*
 * Fuzz target for the operator's policy snapshot (worker/queue/policy.c), whose fields come from
 * the Redis hash acmeva:v1:policy.
 *
 * Input: the first 8 bytes are the time (unix ms, for the dated rules); the rest is split on
 * '\n' into at most 160 fields, each "<name>\t<value>" (no tab: an empty value). Checked: the
 * parse ends in 0, -EINVAL or -ENOMEM; a snapshot's reasons and notes are printable UTF-8 of at
 * most ACMEVA_POLICY_TEXT_MAX bytes; it equals itself, its change list from nothing and to
 * itself are made (the latter empty), and its audit JSON reads back with its version.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy.h"

#define MAX_FIELDS 160

static void check_text(const char *s)
{
    if (s == NULL)
        return;
    size_t n = strlen(s);
    if (n > ACMEVA_POLICY_TEXT_MAX)
        abort();
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = acmeva_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (cp == ACMEVA_UTF8_INVALID || cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
            abort();
        i += k;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    int64_t now = 0;
    memcpy(&now, data, 8);
    now &= 0x3fffffffffffLL; /* within a few thousand years of 1970 */
    const char *in = (const char *)data + 8;
    size_t len = size - 8;
    const char *f[MAX_FIELDS], *v[MAX_FIELDS];
    size_t fl[MAX_FIELDS], vl[MAX_FIELDS], n = 0;
    for (size_t i = 0; i < len && n < MAX_FIELDS;) {
        const char *line = in + i;
        const char *end = memchr(line, '\n', len - i);
        size_t ll = end ? (size_t)(end - line) : len - i;
        const char *tab = memchr(line, '\t', ll);
        f[n] = line;
        fl[n] = tab ? (size_t)(tab - line) : ll;
        v[n] = tab ? tab + 1 : line + ll;
        vl[n] = tab ? ll - fl[n] - 1 : 0;
        n++;
        i += ll + 1;
    }
    acmeva_policy *p = NULL;
    char err[160];
    int rc = acmeva_policy_parse(f, fl, v, vl, n, now, &p, err, sizeof(err));
    if (rc != 0) {
        if ((rc != -EINVAL && rc != -ENOMEM) || p != NULL)
            abort();
        return 0;
    }
    if (p->version < 0)
        abort();
    for (int t = 0; t < ACMEVA_CHALL_UNKNOWN; t++)
        check_text(p->disabled[t]);
    for (size_t i = 0; i < p->n_rules; i++)
        check_text(p->enforce[i]);
    if (!acmeva_policy_same(p, p))
        abort();
    acmeva_strlist l = {0};
    if (acmeva_policy_changes(NULL, p, &l) == 0 && l.n == 0)
        abort(); /* a first read always says the version */
    if (acmeva_policy_changes(p, p, &l) == 0 && l.n != 0)
        abort();
    acmeva_strlist_clear(&l);
    char *js = acmeva_policy_json_new(p);
    if (js != NULL) {
        json_t *o = json_loads(js, 0, NULL);
        if (o == NULL || json_integer_value(json_object_get(o, "version")) != p->version)
            abort();
        json_decref(o);
        free(js);
    }
    acmeva_policy_free(p);
    return 0;
}
