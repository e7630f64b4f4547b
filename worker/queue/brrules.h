/*
 * The dated rules of the CA/Browser Forum Baseline Requirements that acmeva enforces, in one
 * table: each rule has a value that changes on fixed dates as the BRs phase it in. An operator
 * may bring a rule's next step in early (the policy field `enforce:<rule>`, DESIGN.md "Live
 * kill switch per method"); nothing can push one back.
 *
 * Pure: no I/O, no allocation, safe from any thread.
 */
#ifndef ACMEVA_BRRULES_H
#define ACMEVA_BRRULES_H

#include <stddef.h>
#include <stdint.h>

/* The rules, by name (the <rule> of `enforce:<rule>`). */
#define ACMEVA_RULE_MIN_REMOTES "min-remote-perspectives" /* BR 3.2.2.9 */
#define ACMEVA_RULE_DNSSEC_PRIMARY "dnssec-at-primary"      /* BR 3.2.2.4 (ballot SC085) */

typedef struct acmeva_dated_step {
    int64_t from_ms; /* unix ms (UTC midnight) from which |value| holds */
    int value;
    const char *date; /* the same day as text, "2026-03-15" */
} acmeva_dated_step;

typedef struct acmeva_dated_rule {
    const char *name;
    const char *cite; /* where the rule comes from */
    int before;       /* the value before the first step */
    const acmeva_dated_step *steps;
    size_t n_steps;
} acmeva_dated_rule;

/* acmeva_rule_find returns the rule called |name|, or NULL. */
const acmeva_dated_rule *acmeva_rule_find(const char *name);

/* acmeva_rule_all returns every rule (|*n| of them). */
const acmeva_dated_rule *acmeva_rule_all(size_t *n);

/*
 * acmeva_rule_value returns the value of |r| at |now_ms|; with |early| set, the value of the
 * step after that one (the next change, brought in early), if there is one. When |step| is not
 * NULL it is set to the step in force (NULL before the first).
 */
int acmeva_rule_value(const acmeva_dated_rule *r, int64_t now_ms, int early,
                      const acmeva_dated_step **step);

#endif
