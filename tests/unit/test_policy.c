/*
 * The operator's policy snapshot (worker/queue/policy.c): the fields of acmeva:v1:policy, the
 * bounds on what Redis hands over, the dated rules brought in early, comparison, the change
 * sentences and the audit JSON.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "policy.h"

/* parse takes "field", "value", ... (NULL-terminated) as NUL-terminated strings. */
static int parse_at(int64_t now, acmeva_policy **out, char *err, size_t errlen, const char **kv)
{
    const char *f[64], *v[64];
    size_t fl[64], vl[64], n = 0;
    for (; kv[2 * n] != NULL; n++) {
        f[n] = kv[2 * n];
        v[n] = kv[2 * n + 1];
        fl[n] = strlen(f[n]);
        vl[n] = strlen(v[n]);
    }
    return acmeva_policy_parse(f, fl, v, vl, n, now, out, err, errlen);
}

#define PARSE(now, out, ...)                                                                       \
    parse_at((now), (out), err, sizeof(err), (const char *[]){__VA_ARGS__, NULL})

static void test_empty(void)
{
    acmeva_policy *p = NULL;
    char err[128];
    CHECK_INT(acmeva_policy_parse(NULL, NULL, NULL, NULL, 0, check_day_ms("2026-12-05"), &p, err,
                                  sizeof(err)),
              0);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK_INT(p->version, 0);
    for (int t = ACMEVA_CHALL_NONE; t <= ACMEVA_CHALL_UNKNOWN; t++)
        CHECK(acmeva_policy_disabled(p, (acmeva_chall_type)t) == NULL);
    int early = -1;
    /* By date on 2026-12-05: 4 remotes (since 2026-06-15), DNSSEC at the primary. */
    CHECK_INT(acmeva_policy_rule(p, ACMEVA_RULE_MIN_REMOTES, &early), 4);
    CHECK_INT(early, 0);
    CHECK_INT(acmeva_policy_rule(p, ACMEVA_RULE_DNSSEC_PRIMARY, &early), 1);
    CHECK_INT(acmeva_policy_rule(p, "no-such-rule", &early), -1);
    CHECK(p->ignored == NULL);
    acmeva_policy_free(p);
    acmeva_policy_free(NULL);
}

static void test_fields(void)
{
    acmeva_policy *p = NULL;
    char err[128];
    CHECK_INT(PARSE(check_day_ms("2026-12-05"), &p, "version", "17", "disable:http-01",
                    "redirect flaw, advisory 7", "disable:dns-persist-01", "",
                    "enforce:min-remote-perspectives", "adopting SC067 step 4 early", "disable:caa",
                    "x", "disable:tls-sni-01", "gone", "enforce:nope", "y", "colour", "blue"),
              0);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK_INT(p->version, 17);
    CHECK_STR(acmeva_policy_disabled(p, ACMEVA_CHALL_HTTP01), "redirect flaw, advisory 7");
    CHECK_STR(acmeva_policy_disabled(p, ACMEVA_CHALL_DNSPERSIST01), "no reason given");
    CHECK(acmeva_policy_disabled(p, ACMEVA_CHALL_DNS01) == NULL);
    /* A CAA-only job is never switched off by a challenge type. */
    CHECK(acmeva_policy_disabled(p, ACMEVA_CHALL_NONE) == NULL);
    int early = 0;
    CHECK_INT(acmeva_policy_rule(p, ACMEVA_RULE_MIN_REMOTES, &early), 5);
    CHECK_INT(early, 1);
    CHECK(p->ignored != NULL && strstr(p->ignored, "disable:caa") != NULL &&
          strstr(p->ignored, "disable:tls-sni-01") != NULL &&
          strstr(p->ignored, "enforce:nope") != NULL && strstr(p->ignored, "colour") != NULL);
    acmeva_policy *q = acmeva_policy_get1(p);
    CHECK(q == p);
    acmeva_policy_free(q);
    CHECK_INT(p->version, 17); /* still held */

    /* The day the step comes by date, the same field brings nothing more: not early. */
    acmeva_policy *later = NULL;
    CHECK_INT(PARSE(check_day_ms("2026-12-15"), &later, "enforce:min-remote-perspectives", "n"), 0);
    if (later != NULL) {
        CHECK_INT(acmeva_policy_rule(later, ACMEVA_RULE_MIN_REMOTES, &early), 5);
        CHECK_INT(early, 0);
        acmeva_policy_free(later);
    }
    /* Before a rule's first step, enforcing it brings the first step. */
    CHECK_INT(PARSE(check_day_ms("2026-03-14"), &later, "enforce:dnssec-at-primary", ""), 0);
    if (later != NULL) {
        CHECK_INT(acmeva_policy_rule(later, ACMEVA_RULE_DNSSEC_PRIMARY, &early), 1);
        CHECK_INT(early, 1);
        acmeva_policy_free(later);
    }
    acmeva_policy_free(p);
}

static void test_hostile(void)
{
    acmeva_policy *p = NULL;
    char err[128];
    /* A version that is not a counter counts as 0 and is reported, never guessed at. */
    CHECK_INT(PARSE(0, &p, "version", "-3"), 0);
    if (p != NULL) {
        CHECK_INT(p->version, 0);
        CHECK(p->ignored != NULL && strstr(p->ignored, "version") != NULL);
        acmeva_policy_free(p);
    }
    CHECK_INT(PARSE(0, &p, "version", "99999999999999999999"), 0);
    if (p != NULL) {
        CHECK_INT(p->version, 0);
        acmeva_policy_free(p);
    }
    /* Fields given twice cannot come from a hash: refused whole. */
    CHECK_INT(PARSE(0, &p, "disable:dns-01", "a", "disable:dns-01", "b"), -EINVAL);
    CHECK(p == NULL);
    CHECK(strstr(err, "twice") != NULL);
    CHECK_INT(PARSE(0, &p, "version", "1", "version", "2"), -EINVAL);

    /* Control characters, invalid UTF-8 and a long reason: printable and cut. */
    char reason[2000];
    memset(reason, 'r', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    memcpy(reason, "a\nb\x1b[31m\xff\xc3\xa9", 11);
    CHECK_INT(PARSE(0, &p, "disable:tls-alpn-01", reason), 0);
    if (p != NULL) {
        const char *r = acmeva_policy_disabled(p, ACMEVA_CHALL_TLSALPN01);
        CHECK(r != NULL && strlen(r) <= ACMEVA_POLICY_TEXT_MAX);
        CHECK(r != NULL && strncmp(r,
                                   "a\xef\xbf\xbd"
                                   "b\xef\xbf\xbd[31m\xef\xbf\xbd\xc3\xa9",
                                   17) == 0);
        CHECK(r != NULL && strcmp(r + strlen(r) - 3, "...") == 0);
        for (const unsigned char *c = (const unsigned char *)r; r != NULL && *c; c++)
            CHECK(*c >= 0x20 && *c != 0x7f);
        acmeva_policy_free(p);
    }
    /* A field name with a NUL, or far too long, is nobody's. */
    const char f1[] = "disable:http-01\0x";
    const char *fs[] = {f1};
    size_t fl[] = {sizeof(f1) - 1}, vl[] = {1};
    const char *vs[] = {"y"};
    CHECK_INT(acmeva_policy_parse(fs, fl, vs, vl, 1, 0, &p, err, sizeof(err)), 0);
    if (p != NULL) {
        CHECK(acmeva_policy_disabled(p, ACMEVA_CHALL_HTTP01) == NULL);
        CHECK(p->ignored != NULL);
        acmeva_policy_free(p);
    }
    /* Too many fields: refused whole. */
    const char *many[ACMEVA_POLICY_FIELDS_MAX + 1];
    size_t ml[ACMEVA_POLICY_FIELDS_MAX + 1];
    for (size_t i = 0; i <= ACMEVA_POLICY_FIELDS_MAX; i++) {
        many[i] = "x";
        ml[i] = 1;
    }
    CHECK_INT(acmeva_policy_parse(many, ml, many, ml, ACMEVA_POLICY_FIELDS_MAX + 1, 0, &p, err,
                                  sizeof(err)),
              -EINVAL);
    CHECK(strstr(err, "fields") != NULL);
}

static void test_same_and_changes(void)
{
    acmeva_policy *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    char err[128];
    int64_t now = check_day_ms("2026-12-05");
    PARSE(now, &a, "version", "3");
    PARSE(now, &b, "version", "4", "disable:http-01", "advisory 7");
    PARSE(now, &c, "version", "4", "disable:http-01", "advisory 7");
    PARSE(now, &d, "version", "5", "enforce:min-remote-perspectives", "early");
    CHECK(a && b && c && d);
    if (!(a && b && c && d))
        return;
    CHECK(acmeva_policy_same(b, c));
    CHECK(!acmeva_policy_same(a, b));
    CHECK(acmeva_policy_same(NULL, NULL) && !acmeva_policy_same(a, NULL));

    acmeva_strlist l = {0};
    CHECK_INT(acmeva_policy_changes(NULL, a, &l), 0);
    CHECK(l.n >= 3); /* first read: the version and every rule in force */
    CHECK_STR(l.v[0], "version 3 (first read)");
    CHECK_INT(acmeva_policy_changes(a, b, &l), 0);
    CHECK_INT(l.n, 2);
    if (l.n == 2) {
        CHECK_STR(l.v[0], "version 3 -> 4");
        CHECK_STR(l.v[1], "http-01 disabled: advisory 7");
    }
    CHECK_INT(acmeva_policy_changes(b, c, &l), 0);
    CHECK_INT(l.n, 0);
    CHECK_INT(acmeva_policy_changes(b, d, &l), 0);
    int found_enabled = 0, found_rule = 0;
    for (size_t i = 0; i < l.n; i++) {
        found_enabled |= strcmp(l.v[i], "http-01 enabled again") == 0;
        found_rule |= strstr(l.v[i], "min-remote-perspectives in force: 5 (the step of "
                                     "2026-12-15, in force early)") != NULL;
    }
    CHECK(found_enabled && found_rule);
    CHECK_INT(acmeva_policy_changes(d, a, &l), 0);
    CHECK(l.n > 0 && strstr(l.v[0], "lower") != NULL);

    /* A date that passes changes what is in force, with the same fields. */
    acmeva_policy *e = NULL;
    PARSE(check_day_ms("2026-12-15"), &e, "version", "3");
    if (e != NULL) {
        CHECK(!acmeva_policy_same(a, e));
        CHECK_INT(acmeva_policy_changes(a, e, &l), 0);
        CHECK_INT(l.n, 1);
        if (l.n == 1)
            CHECK(strstr(l.v[0], "5 (since 2026-12-15)") != NULL);
        acmeva_policy_free(e);
    }
    acmeva_strlist_clear(&l);

    char *js = acmeva_policy_json_new(b);
    json_t *o = js ? json_loads(js, 0, NULL) : NULL;
    CHECK(o != NULL);
    if (o != NULL) {
        CHECK_INT(json_integer_value(json_object_get(o, "version")), 4);
        CHECK_STR(json_string_value(json_object_get(json_object_get(o, "disabled"), "http-01")),
                  "advisory 7");
        json_t *r = json_object_get(json_object_get(o, "rules"), ACMEVA_RULE_MIN_REMOTES);
        CHECK_INT(json_integer_value(json_object_get(r, "value")), 4);
        CHECK_STR(json_string_value(json_object_get(r, "since")), "2026-06-15");
        CHECK(json_is_false(json_object_get(r, "early")));
        json_decref(o);
    }
    free(js);
    acmeva_policy_free(a);
    acmeva_policy_free(b);
    acmeva_policy_free(c);
    acmeva_policy_free(d);
}

int main(void)
{
    test_empty();
    test_fields();
    test_hostile();
    test_same_and_changes();
    return CHECK_DONE();
}
