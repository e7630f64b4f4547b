/*
 * The multi-perspective corroboration rule (worker/queue/mpic.c) and the dated BR table
 * (worker/queue/brrules.c): table-driven over every n from 1 to 12 and the RIR mixes that
 * matter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "brrules.h"
#include "check.h"
#include "mpic.h"

#define P ACMEVA_MPIC_PASS
#define F ACMEVA_MPIC_FAIL
#define W ACMEVA_MPIC_WAITING
#define ARIN ACMEVA_RIR_ARIN
#define RIPE ACMEVA_RIR_RIPE
#define APNIC ACMEVA_RIR_APNIC

static void test_allowed(void)
{
    /* BR 3.2.2.9 "Allowed non-corroborations": 2-5 remotes: 1; 6+: 2. */
    static const int want[13] = {0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2};
    for (int n = 0; n <= 12; n++) {
        CHECK_INT(acmeva_mpic_allowed_failures(n), want[n]);
        CHECK_INT(acmeva_mpic_required(n, 0), n - want[n]);
        /* quorumCount only ever raises what is required. */
        CHECK_INT(acmeva_mpic_required(n, 1), n - want[n] > 1 ? n - want[n] : 1);
        CHECK_INT(acmeva_mpic_required(n, n), n);
    }
}

/* Every n from 1 to 12, remotes alternating ARIN/RIPE, f of them failed, the rest passed. */
static void test_every_n(void)
{
    for (int n = 1; n <= 12; n++) {
        int required = acmeva_mpic_required(n, 0);
        for (int f = 0; f <= n; f++) {
            acmeva_mpic_vote v[12];
            acmeva_rir r[12];
            for (int i = 0; i < n; i++) {
                r[i] = i % 2 == 0 ? ARIN : RIPE;
                v[i] = i < f ? F : P;
            }
            const char *why = NULL;
            acmeva_mpic_outcome o = acmeva_mpic_decide(P, n, required, v, r, &why);
            /* Passing remotes span 2 RIRs unless only one passed, or all that passed are in
             * one RIR (f = n - 1 leaves only the last one). */
            int passes = n - f;
            int spread = 0;
            int seen_arin = 0, seen_ripe = 0;
            for (int i = f; i < n; i++) {
                seen_arin |= r[i] == ARIN;
                seen_ripe |= r[i] == RIPE;
            }
            spread = seen_arin + seen_ripe;
            acmeva_mpic_outcome want =
                f <= acmeva_mpic_allowed_failures(n) && (required < 2 || spread >= 2)
                    ? ACMEVA_MPIC_VALID
                    : ACMEVA_MPIC_INVALID;
            CHECK_MSG(o == want, "n=%d failures=%d passes=%d: outcome %d, want %d", n, f, passes,
                      (int)o, (int)want);
            /* The same votes with a failed primary are always invalid. */
            CHECK_INT(acmeva_mpic_decide(F, n, required, v, r, &why), ACMEVA_MPIC_INVALID);
            CHECK_STR(why, "primary");
        }
    }
}

static void test_rirs(void)
{
    const char *why;
    /* 3 remotes all ARIN: the quorum is met, the spread never can be. */
    acmeva_mpic_vote v3[] = {P, P, P};
    acmeva_rir one[] = {ARIN, ARIN, ARIN};
    CHECK_INT(acmeva_mpic_decide(P, 3, 2, v3, one, &why), ACMEVA_MPIC_INVALID);
    CHECK_STR(why, "rirs");
    /* Even while waiting: no combination can span 2 RIRs. */
    acmeva_mpic_vote w3[] = {W, W, W};
    CHECK_INT(acmeva_mpic_decide(W, 3, 2, w3, one, &why), ACMEVA_MPIC_INVALID);
    CHECK_STR(why, "rirs");
    /* 5 remotes, 4 ARIN passed, the one RIPE failed: 4/5 but one RIR. */
    acmeva_mpic_vote v5[] = {P, P, P, P, F};
    acmeva_rir r5[] = {ARIN, ARIN, ARIN, ARIN, RIPE};
    CHECK_INT(acmeva_mpic_decide(P, 5, 4, v5, r5, &why), ACMEVA_MPIC_INVALID);
    CHECK_STR(why, "rirs");
    /* The RIPE one still waiting: undecided; then it passes: valid. */
    acmeva_mpic_vote w5[] = {P, P, P, P, W};
    CHECK_INT(acmeva_mpic_decide(P, 5, 4, w5, r5, &why), ACMEVA_MPIC_UNDECIDED);
    w5[4] = P;
    CHECK_INT(acmeva_mpic_decide(P, 5, 4, w5, r5, &why), ACMEVA_MPIC_VALID);
    acmeva_rir out[5];
    CHECK_INT(acmeva_mpic_passed_rirs(5, w5, r5, out), 2);
    CHECK_INT(out[0], ARIN);
    CHECK_INT(out[1], RIPE);
    /* An unknown RIR never counts towards the spread. */
    acmeva_rir unk[] = {ARIN, ACMEVA_RIR_UNKNOWN, ARIN};
    CHECK_INT(acmeva_mpic_decide(P, 3, 2, v3, unk, &why), ACMEVA_MPIC_INVALID);
    /* One pass required (a minimum lowered below the BRs): the RIR rule does not apply. */
    acmeva_mpic_vote v1[] = {P};
    acmeva_rir r1[] = {APNIC};
    CHECK_INT(acmeva_mpic_decide(P, 1, 1, v1, r1, &why), ACMEVA_MPIC_VALID);
}

static void test_early(void)
{
    const char *why;
    /* 6 remotes (2 allowed failures): a third failure decides at once, whatever is waiting. */
    acmeva_mpic_vote v[] = {F, F, F, W, W, W};
    acmeva_rir r[] = {ARIN, RIPE, APNIC, ARIN, RIPE, APNIC};
    CHECK_INT(acmeva_mpic_decide(P, 6, 4, v, r, &why), ACMEVA_MPIC_INVALID);
    CHECK_STR(why, "quorum");
    /* 4 of 6 passed across 2 RIRs: valid before the last two answer. */
    acmeva_mpic_vote v2[] = {P, P, P, P, W, W};
    CHECK_INT(acmeva_mpic_decide(P, 6, 4, v2, r, &why), ACMEVA_MPIC_VALID);
    /* The primary still waiting (--parallel): never valid before it passes. */
    CHECK_INT(acmeva_mpic_decide(W, 6, 4, v2, r, &why), ACMEVA_MPIC_UNDECIDED);
    /* quorumCount 6 of 6: one failure decides. */
    acmeva_mpic_vote v3[] = {P, P, F, W, W, W};
    CHECK_INT(acmeva_mpic_decide(P, 6, 6, v3, r, &why), ACMEVA_MPIC_INVALID);
}

static void test_select(void)
{
    const char *names[] = {"p1", "p2", "p3", "p4", "p5", "p6", "p7"};
    acmeva_rir rirs[] = {ARIN, ARIN, ARIN, ARIN, ARIN, ARIN, RIPE};
    const uint8_t key[] = "0123456789abcdef0123456789abcdef";
    int a[7], b[7];
    /* Deterministic: the same key and identifier give the same set. */
    CHECK_INT(acmeva_mpic_select(names, rirs, 7, 3, key, 32, "example.com", a), 0);
    CHECK_INT(acmeva_mpic_select(names, rirs, 7, 3, key, 32, "example.com", b), 0);
    CHECK(memcmp(a, b, 3 * sizeof(int)) == 0);
    /* Every pick spans 2 RIRs: the only RIPE remote is always among them. */
    int distinct_sets = 0, prev[3] = {-1, -1, -1};
    for (int i = 0; i < 50; i++) {
        char ident[32];
        snprintf(ident, sizeof(ident), "n%d.example", i);
        CHECK_INT(acmeva_mpic_select(names, rirs, 7, 3, key, 32, ident, a), 0);
        int has_ripe = 0;
        for (int j = 0; j < 3; j++) {
            has_ripe |= a[j] == 6;
            CHECK(j == 0 || a[j] > a[j - 1]); /* ascending, distinct */
        }
        CHECK_MSG(has_ripe, "%s: no RIPE remote picked", ident);
        if (memcmp(a, prev, sizeof(prev)) != 0)
            distinct_sets++;
        memcpy(prev, a, sizeof(prev));
    }
    /* Not the same set for every name. */
    CHECK(distinct_sets > 5);
    /* Another key picks differently for some names. */
    const uint8_t key2[] = "fedcba9876543210fedcba9876543210";
    int differ = 0;
    for (int i = 0; i < 20; i++) {
        char ident[32];
        snprintf(ident, sizeof(ident), "k%d.example", i);
        acmeva_mpic_select(names, rirs, 7, 3, key, 32, ident, a);
        acmeva_mpic_select(names, rirs, 7, 3, key2, 32, ident, b);
        differ += memcmp(a, b, 3 * sizeof(int)) != 0;
    }
    CHECK(differ > 0);
    /* All of them: every index. */
    CHECK_INT(acmeva_mpic_select(names, rirs, 7, 7, key, 32, "x", a), 0);
    for (int i = 0; i < 7; i++)
        CHECK_INT(a[i], i);
    CHECK_INT(acmeva_mpic_select(names, rirs, 7, 8, key, 32, "x", a), -1);
    CHECK_INT(acmeva_mpic_select(names, rirs, 7, 0, key, 32, "x", a), -1);
}

static void test_rir_names(void)
{
    CHECK_INT(acmeva_rir_parse("ARIN"), ARIN);
    CHECK_INT(acmeva_rir_parse("AFRINIC"), ACMEVA_RIR_AFRINIC);
    CHECK_INT(acmeva_rir_parse("arin"), ACMEVA_RIR_UNKNOWN);
    CHECK_INT(acmeva_rir_parse(""), ACMEVA_RIR_UNKNOWN);
    CHECK_INT(acmeva_rir_parse(NULL), ACMEVA_RIR_UNKNOWN);
    CHECK_STR(acmeva_rir_name(ACMEVA_RIR_LACNIC), "LACNIC");
}

static void test_dated(void)
{
    size_t n;
    const acmeva_dated_rule *all = acmeva_rule_all(&n);
    CHECK(n >= 2);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < all[i].n_steps; j++)
            CHECK_MSG(all[i].steps[j].from_ms == check_day_ms(all[i].steps[j].date),
                      "%s step %zu: from_ms does not match %s", all[i].name, j,
                      all[i].steps[j].date);
    const acmeva_dated_rule *r = acmeva_rule_find(ACMEVA_RULE_MIN_REMOTES);
    CHECK(r != NULL);
    if (r == NULL)
        return;
    /* BR 3.2.2.9: 2 from 2025-09-15, 3 from 2026-03-15, 4 from 2026-06-15, 5 from 2026-12-15. */
    CHECK_INT(acmeva_rule_value(r, check_day_ms("2025-09-14"), 0, NULL), 0);
    CHECK_INT(acmeva_rule_value(r, check_day_ms("2025-09-15"), 0, NULL), 2);
    CHECK_INT(acmeva_rule_value(r, check_day_ms("2026-03-14") + 86399999, 0, NULL), 2);
    CHECK_INT(acmeva_rule_value(r, check_day_ms("2026-03-15"), 0, NULL), 3);
    CHECK_INT(acmeva_rule_value(r, check_day_ms("2026-12-05"), 0, NULL), 4);
    CHECK_INT(acmeva_rule_value(r, check_day_ms("2026-12-15"), 0, NULL), 5);
    CHECK_INT(acmeva_rule_value(r, check_day_ms("2030-01-01"), 0, NULL), 5);
    /* Brought in early: the next step now; nothing beyond the last. */
    const acmeva_dated_step *st = NULL;
    CHECK_INT(acmeva_rule_value(r, check_day_ms("2026-12-05"), 1, &st), 5);
    CHECK(st != NULL && strcmp(st->date, "2026-12-15") == 0);
    CHECK_INT(acmeva_rule_value(r, check_day_ms("2030-01-01"), 1, NULL), 5);
    const acmeva_dated_rule *d = acmeva_rule_find(ACMEVA_RULE_DNSSEC_PRIMARY);
    CHECK(d != NULL);
    if (d != NULL) {
        CHECK_INT(acmeva_rule_value(d, check_day_ms("2026-03-14"), 0, NULL), 0);
        CHECK_INT(acmeva_rule_value(d, check_day_ms("2026-03-14"), 1, NULL), 1);
        CHECK_INT(acmeva_rule_value(d, check_day_ms("2026-03-15"), 0, NULL), 1);
    }
    CHECK(acmeva_rule_find("no-such-rule") == NULL);
}

int main(void)
{
    test_allowed();
    test_every_n();
    test_rirs();
    test_early();
    test_select();
    test_rir_names();
    test_dated();
    return CHECK_DONE();
}
