/*
 * The dated Baseline Requirements rules (see brrules.h).
 */
#include "brrules.h"

#include <string.h>

/* UTC midnight of a day, from its number of days since 1970-01-01 (the unit test checks each
 * against the date text beside it). */
#define DAY_MS 86400000LL
#define D(days) ((int64_t)(days)*DAY_MS)

/* BR 3.2.2.9 (multi-perspective issuance corroboration): the minimum number of remote network
 * perspectives that must be asked, phased in by ballot SC067. */
static const acmeva_dated_step min_remotes[] = {
    {D(20346), 2, "2025-09-15"},
    {D(20527), 3, "2026-03-15"},
    {D(20619), 4, "2026-06-15"},
    {D(20802), 5, "2026-12-15"},
};

/* BR 3.2.2.4 as amended by ballot SC085: the primary network perspective validates DNSSEC
 * (1) from 2026-03-15. */
static const acmeva_dated_step dnssec_primary[] = {
    {D(20527), 1, "2026-03-15"},
};

static const acmeva_dated_rule rules[] = {
    {ACMEVA_RULE_MIN_REMOTES, "BR 3.2.2.9", 0, min_remotes,
     sizeof(min_remotes) / sizeof(min_remotes[0])},
    {ACMEVA_RULE_DNSSEC_PRIMARY, "BR 3.2.2.4, ballot SC085", 0, dnssec_primary,
     sizeof(dnssec_primary) / sizeof(dnssec_primary[0])},
};

const acmeva_dated_rule *acmeva_rule_all(size_t *n)
{
    *n = sizeof(rules) / sizeof(rules[0]);
    return rules;
}

const acmeva_dated_rule *acmeva_rule_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof(rules) / sizeof(rules[0]); i++)
        if (strcmp(rules[i].name, name) == 0)
            return &rules[i];
    return NULL;
}

int acmeva_rule_value(const acmeva_dated_rule *r, int64_t now_ms, int early,
                      const acmeva_dated_step **step)
{
    size_t k = 0; /* steps in force */
    while (k < r->n_steps && r->steps[k].from_ms <= now_ms)
        k++;
    if (early && k < r->n_steps)
        k++;
    if (step != NULL)
        *step = k > 0 ? &r->steps[k - 1] : NULL;
    return k > 0 ? r->steps[k - 1].value : r->before;
}
