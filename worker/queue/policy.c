/*
 * The operator's policy as one immutable snapshot (see policy.h).
 */
#include "policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Field names longer than this are nobody's: they are only reported, cut. */
#define FIELD_NAME_MAX 64
#define IGNORED_MAX 512
#define LINE_MAX_BYTES (2 * ACMEVA_POLICY_TEXT_MAX + 160)

/* text_new copies |len| bytes of |s| as printable UTF-8 of at most ACMEVA_POLICY_TEXT_MAX
 * bytes: control characters (C0, DEL, C1) and bytes that are not UTF-8 become U+FFFD, a cut
 * text ends in "..." (STYLE.md "Untrusted bytes": it reaches logs and problem details). */
static char *text_new(const char *s, size_t len)
{
    char *out = malloc(ACMEVA_POLICY_TEXT_MAX + 4);
    if (out == NULL)
        return NULL;
    size_t o = 0, i = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (i < len) {
        uint32_t cp;
        size_t k = acmeva_utf8_decode(p + i, len - i, &cp);
        int bad = cp == ACMEVA_UTF8_INVALID || cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
        size_t need = bad ? 3 : k;
        if (o + need > ACMEVA_POLICY_TEXT_MAX - 3) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (bad)
            memcpy(out + o, "\xef\xbf\xbd", 3);
        else
            memcpy(out + o, p + i, k);
        o += need;
        i += k;
    }
    out[o] = '\0';
    return out;
}

/* after returns the part of |f| (|len| bytes) after |prefix|, or NULL. */
static const char *after(const char *f, size_t len, const char *prefix, size_t *rest)
{
    size_t n = strlen(prefix);
    if (len < n || memcmp(f, prefix, n) != 0)
        return NULL;
    *rest = len - n;
    return f + n;
}

/* name_copy copies a field's name part into |buf| when it fits and holds no NUL. */
static int name_copy(char *buf, size_t buflen, const char *s, size_t len)
{
    if (len == 0 || len >= buflen || memchr(s, '\0', len) != NULL)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return 0;
}

/* ignore notes a field this build does not use, for the warning. */
static int ignore(acmeva_policy *p, const char *f, size_t len, const char *why)
{
    char name[FIELD_NAME_MAX + 4];
    char *t = text_new(f, len < FIELD_NAME_MAX ? len : FIELD_NAME_MAX);
    if (t == NULL)
        return -ENOMEM;
    snprintf(name, sizeof(name), "%s%s", t, len > FIELD_NAME_MAX ? "..." : "");
    free(t);
    size_t have = p->ignored ? strlen(p->ignored) : 0;
    if (have >= IGNORED_MAX)
        return 0;
    size_t add = strlen(name) + strlen(why) + 8;
    char *n = realloc(p->ignored, have + add);
    if (n == NULL)
        return -ENOMEM;
    snprintf(n + have, add, "%s%s (%s)", have ? ", " : "", name, why);
    p->ignored = n;
    return 0;
}

/* parse_version reads the decimal counter HINCRBY keeps. */
static int parse_version(const char *s, size_t len, int64_t *out)
{
    char buf[24];
    if (name_copy(buf, sizeof(buf), s, len) < 0)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] < '0' || buf[i] > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (buf[i] - '0');
    }
    *out = v;
    return 0;
}

/* one_field takes one field of the hash into |p|. Returns 0, -EINVAL (a field given twice) or
 * -ENOMEM. */
static int one_field(acmeva_policy *p, const char *f, size_t flen, const char *v, size_t vlen,
                     int *seen_version, char *err, size_t errlen)
{
    char name[FIELD_NAME_MAX + 1];
    size_t rest;
    const char *part;
    if (flen == strlen(ACMEVA_POLICY_VERSION_FIELD) &&
        memcmp(f, ACMEVA_POLICY_VERSION_FIELD, flen) == 0) {
        if (*seen_version) {
            snprintf(err, errlen, "the field version is given twice");
            return -EINVAL;
        }
        *seen_version = 1;
        if (parse_version(v, vlen, &p->version) < 0) {
            p->version = 0;
            return ignore(p, f, flen, "not an integer >= 0");
        }
        return 0;
    }
    if ((part = after(f, flen, ACMEVA_POLICY_DISABLE, &rest)) != NULL) {
        acmeva_chall_type t = name_copy(name, sizeof(name), part, rest) == 0
                                  ? acmeva_chall_type_from_name(name)
                                  : ACMEVA_CHALL_UNKNOWN;
        if (t == ACMEVA_CHALL_UNKNOWN || t == ACMEVA_CHALL_NONE)
            return ignore(p, f, flen, "not a challenge type of this build");
        if (p->disabled[t] != NULL) {
            snprintf(err, errlen, "the field disable:%s is given twice", name);
            return -EINVAL;
        }
        /* An empty reason still disables: the field is the switch, the value its note. */
        p->disabled[t] = vlen > 0 ? text_new(v, vlen) : strdup("no reason given");
        return p->disabled[t] != NULL ? 0 : -ENOMEM;
    }
    if ((part = after(f, flen, ACMEVA_POLICY_ENFORCE, &rest)) != NULL) {
        size_t n = 0;
        const acmeva_dated_rule *all = acmeva_rule_all(&n);
        const acmeva_dated_rule *r =
            name_copy(name, sizeof(name), part, rest) == 0 ? acmeva_rule_find(name) : NULL;
        if (r == NULL)
            return ignore(p, f, flen, "not a dated rule of this build");
        size_t i = (size_t)(r - all);
        if (p->enforce[i] != NULL) {
            snprintf(err, errlen, "the field enforce:%s is given twice", name);
            return -EINVAL;
        }
        p->enforce[i] = vlen > 0 ? text_new(v, vlen) : strdup("");
        return p->enforce[i] != NULL ? 0 : -ENOMEM;
    }
    return ignore(p, f, flen, "unknown field");
}

/* eval_rules sets every rule's value in force at |now_ms|: by date, or the next step early. */
static void eval_rules(acmeva_policy *p, int64_t now_ms)
{
    const acmeva_dated_rule *all = acmeva_rule_all(&p->n_rules);
    for (size_t i = 0; i < p->n_rules; i++) {
        const acmeva_dated_step *by_date = NULL, *step = NULL;
        acmeva_rule_value(&all[i], now_ms, 0, &by_date);
        p->rule_value[i] = acmeva_rule_value(&all[i], now_ms, p->enforce[i] != NULL, &step);
        p->rule_step[i] = step;
        p->rule_early[i] = step != by_date;
    }
}

int acmeva_policy_parse(const char *const *fields, const size_t *flens, const char *const *values,
                        const size_t *vlens, size_t n, int64_t now_ms, acmeva_policy **out,
                        char *err, size_t errlen)
{
    *out = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    char dummy[8];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (n > ACMEVA_POLICY_FIELDS_MAX) {
        snprintf(err, errlen, "%zu fields, more than the %d a policy may have", n,
                 ACMEVA_POLICY_FIELDS_MAX);
        return -EINVAL;
    }
    size_t n_rules = 0;
    acmeva_rule_all(&n_rules);
    if (n_rules > ACMEVA_POLICY_RULES_MAX)
        return -EINVAL; /* brrules.c outgrew the snapshot: a build error, caught by the tests */
    acmeva_policy *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    atomic_init(&p->refs, 1);
    int seen_version = 0, rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = one_field(p, fields[i], flens[i], values[i], vlens[i], &seen_version, err, errlen);
    if (rc != 0) {
        acmeva_policy_free(p);
        return rc;
    }
    eval_rules(p, now_ms);
    *out = p;
    return 0;
}

acmeva_policy *acmeva_policy_get1(acmeva_policy *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void acmeva_policy_free(acmeva_policy *p)
{
    /* Release: what this thread did with the snapshot happens before the free elsewhere. */
    if (p == NULL || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < ACMEVA_CHALL_UNKNOWN; i++)
        free(p->disabled[i]);
    for (size_t i = 0; i < ACMEVA_POLICY_RULES_MAX; i++)
        free(p->enforce[i]);
    free(p->ignored);
    free(p);
}

const char *acmeva_policy_disabled(const acmeva_policy *p, acmeva_chall_type t)
{
    if (p == NULL || t <= ACMEVA_CHALL_NONE || t >= ACMEVA_CHALL_UNKNOWN)
        return NULL;
    return p->disabled[t];
}

int acmeva_policy_rule(const acmeva_policy *p, const char *name, int *early)
{
    size_t n = 0;
    const acmeva_dated_rule *all = acmeva_rule_all(&n);
    const acmeva_dated_rule *r = acmeva_rule_find(name);
    if (early != NULL)
        *early = 0;
    if (r == NULL || p == NULL || (size_t)(r - all) >= p->n_rules)
        return -1;
    size_t i = (size_t)(r - all);
    if (early != NULL)
        *early = p->rule_early[i];
    return p->rule_value[i];
}

static int str_same(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int acmeva_policy_same(const acmeva_policy *a, const acmeva_policy *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    if (a->version != b->version || a->n_rules != b->n_rules || !str_same(a->ignored, b->ignored))
        return 0;
    for (size_t i = 0; i < ACMEVA_CHALL_UNKNOWN; i++)
        if (!str_same(a->disabled[i], b->disabled[i]))
            return 0;
    for (size_t i = 0; i < a->n_rules; i++)
        if (!str_same(a->enforce[i], b->enforce[i]) || a->rule_value[i] != b->rule_value[i] ||
            a->rule_step[i] != b->rule_step[i] || a->rule_early[i] != b->rule_early[i])
            return 0;
    return 1;
}

static int add_line(acmeva_strlist *out, const char *line)
{
    return acmeva_strlist_add(out, line, strlen(line)) == 0 ? 0 : -ENOMEM;
}

/* rule_state writes how rule |i| stands in |p|: "4 (since 2026-06-15)", with "early" when the
 * step is in force before its date. */
static void rule_state(const acmeva_policy *p, size_t i, char *buf, size_t len)
{
    const acmeva_dated_step *s = p->rule_step[i];
    if (s == NULL)
        snprintf(buf, len, "%d (before its first step)", p->rule_value[i]);
    else if (p->rule_early[i])
        snprintf(buf, len, "%d (the step of %s, in force early)", p->rule_value[i], s->date);
    else
        snprintf(buf, len, "%d (since %s)", p->rule_value[i], s->date);
}

int acmeva_policy_changes(const acmeva_policy *old, const acmeva_policy *cur, acmeva_strlist *out)
{
    char line[LINE_MAX_BYTES], st[96];
    size_t n = 0;
    const acmeva_dated_rule *all = acmeva_rule_all(&n);
    acmeva_strlist_clear(out);
    if (old == NULL || old->version != cur->version) {
        if (old == NULL)
            snprintf(line, sizeof(line), "version %lld (first read)", (long long)cur->version);
        else
            snprintf(line, sizeof(line), "version %lld -> %lld%s", (long long)old->version,
                     (long long)cur->version,
                     cur->version < old->version ? " (lower: was the hash lost or rewritten?)"
                                                 : "");
        if (add_line(out, line) < 0)
            return -ENOMEM;
    }
    for (int t = ACMEVA_CHALL_NONE + 1; t < ACMEVA_CHALL_UNKNOWN; t++) {
        const char *was = old ? old->disabled[t] : NULL, *now = cur->disabled[t];
        const char *name = acmeva_chall_type_name((acmeva_chall_type)t);
        if (str_same(was, now))
            continue;
        if (now == NULL)
            snprintf(line, sizeof(line), "%s enabled again", name);
        else if (was == NULL)
            snprintf(line, sizeof(line), "%s disabled: %s", name, now);
        else
            snprintf(line, sizeof(line), "%s still disabled, reason now: %s", name, now);
        if (add_line(out, line) < 0)
            return -ENOMEM;
    }
    for (size_t i = 0; i < cur->n_rules && i < n; i++) {
        const char *was = old ? old->enforce[i] : NULL, *now = cur->enforce[i];
        if (!str_same(was, now)) {
            if (now == NULL)
                snprintf(line, sizeof(line), "%s no longer enforced early", all[i].name);
            else if (was == NULL)
                snprintf(line, sizeof(line), "%s enforced early%s%s", all[i].name,
                         now[0] ? ": " : "", now);
            else
                snprintf(line, sizeof(line), "%s still enforced early, note now: %s", all[i].name,
                         now);
            if (add_line(out, line) < 0)
                return -ENOMEM;
        }
        /* What is in force, when that changed (an enforce field, or a date that passed). */
        if (old == NULL || old->rule_value[i] != cur->rule_value[i] ||
            old->rule_step[i] != cur->rule_step[i] || old->rule_early[i] != cur->rule_early[i]) {
            rule_state(cur, i, st, sizeof(st));
            snprintf(line, sizeof(line), "%s in force: %s (%s)", all[i].name, st, all[i].cite);
            if (add_line(out, line) < 0)
                return -ENOMEM;
        }
    }
    if (!str_same(old ? old->ignored : NULL, cur->ignored) && cur->ignored != NULL) {
        snprintf(line, sizeof(line), "fields ignored: %s", cur->ignored);
        if (add_line(out, line) < 0)
            return -ENOMEM;
    }
    return 0;
}

char *acmeva_policy_json_new(const acmeva_policy *p)
{
    size_t n = 0;
    const acmeva_dated_rule *all = acmeva_rule_all(&n);
    json_t *o = json_object(), *dis = json_object(), *enf = json_object(), *rules = json_object();
    char *out = NULL;
    if (o == NULL || dis == NULL || enf == NULL || rules == NULL)
        goto out;
    for (int t = ACMEVA_CHALL_NONE + 1; t < ACMEVA_CHALL_UNKNOWN; t++)
        if (p->disabled[t] != NULL)
            json_object_set_new(dis, acmeva_chall_type_name((acmeva_chall_type)t),
                                json_string(p->disabled[t]));
    for (size_t i = 0; i < p->n_rules && i < n; i++) {
        if (p->enforce[i] != NULL)
            json_object_set_new(enf, all[i].name, json_string(p->enforce[i]));
        json_object_set_new(rules, all[i].name,
                            json_pack("{s:i, s:s?, s:b}", "value", p->rule_value[i], "since",
                                      p->rule_step[i] ? p->rule_step[i]->date : NULL, "early",
                                      p->rule_early[i]));
    }
    json_object_set_new(o, "version", json_integer((json_int_t)p->version));
    json_object_set(o, "disabled", dis);
    json_object_set(o, "enforced", enf);
    json_object_set(o, "rules", rules);
    if (p->ignored != NULL)
        json_object_set_new(o, "ignored", json_string(p->ignored));
    out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
    json_decref(o);
    json_decref(dis);
    json_decref(enf);
    json_decref(rules);
    return out;
}
