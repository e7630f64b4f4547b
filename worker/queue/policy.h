/*
 * The operator's policy (DESIGN.md "Live kill switch per method"): what the Redis hash
 * acmeva:v1:policy says, as one immutable snapshot.
 *
 *   disable:<challenge type>  the method is switched off; the value is the reason
 *   enforce:<rule>            the next step of a dated BR rule (brrules.h) is in force now,
 *                             before its date; the value is a note
 *   version                   a counter that every change raises (acmeva policy: HINCRBY);
 *                             results carry it as policyVersion
 *
 * A snapshot is made once (acmeva_policy_parse) and never changed: the thread that reads the
 * hash hands it to every event-loop thread (policywatch.h), each of which holds a reference
 * of its own, so that a thread reads the policy in force with no lock and no atomic operation
 * on its hot path. The last reference frees it, on whichever thread drops it.
 *
 * The hash is written by operators, but it comes from Redis: it is parsed with bounds (field
 * count, name and value lengths), reasons and notes are cut and made printable before they
 * reach a log line, an audit line or a problem detail, and fields this build does not know
 * are kept aside for a warning, never guessed at.
 */
#ifndef ACMEVA_POLICY_H
#define ACMEVA_POLICY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "acmeva/proto.h"
#include "brrules.h"

#define ACMEVA_POLICY_KEY "acmeva:v1:policy"
#define ACMEVA_POLICY_CHANNEL "acmeva:v1:policy"
#define ACMEVA_POLICY_VERSION_FIELD "version"
#define ACMEVA_POLICY_DISABLE "disable:"
#define ACMEVA_POLICY_ENFORCE "enforce:"
/* Bytes of a reason or a note kept (longer ones are cut at a character and end in "..."). */
#define ACMEVA_POLICY_TEXT_MAX 256
/* A hash with more fields than this is refused whole: the last policy stays in force. */
#define ACMEVA_POLICY_FIELDS_MAX 128
/* Dated rules a snapshot can hold (brrules.c has fewer). */
#define ACMEVA_POLICY_RULES_MAX 8

typedef struct acmeva_policy {
    atomic_int refs;
    int64_t version; /* the field "version"; 0 when absent or not a number */
    /* The reason of disable:<type>, by acmeva_chall_type (NONE and UNKNOWN never); NULL: the
     * method is enabled. Printable UTF-8. */
    char *disabled[ACMEVA_CHALL_UNKNOWN];
    /* By the index of the rule in acmeva_rule_all: the note of enforce:<rule> (NULL: not
     * enforced), and the rule as it stands at the snapshot's time: its value, the step that
     * gives it (NULL before the first), and whether that step is in force early. */
    size_t n_rules;
    char *enforce[ACMEVA_POLICY_RULES_MAX];
    int rule_value[ACMEVA_POLICY_RULES_MAX];
    const acmeva_dated_step *rule_step[ACMEVA_POLICY_RULES_MAX];
    int rule_early[ACMEVA_POLICY_RULES_MAX];
    /* Fields this build does not use (another build's, or a typo), comma-separated for a
     * warning; NULL when none. */
    char *ignored;
} acmeva_policy;

/*
 * acmeva_policy_parse makes a snapshot of the |n| fields of the hash (|fields|[i] = |values|[i],
 * |flens| and |vlens| their lengths; the bytes need no NUL), with the dated rules evaluated at
 * |now_ms|. An empty hash (n 0) is the empty policy: version 0, every method enabled. Returns 0
 * and a new snapshot (one reference, the caller's) in |*out|; -EINVAL for a hash that cannot be
 * a policy (more than ACMEVA_POLICY_FIELDS_MAX fields, a field given twice), with a sentence in
 * |err|; or -ENOMEM.
 */
int acmeva_policy_parse(const char *const *fields, const size_t *flens, const char *const *values,
                        const size_t *vlens, size_t n, int64_t now_ms, acmeva_policy **out,
                        char *err, size_t errlen);

/* acmeva_policy_get1 takes one more reference to |p| and returns it (any thread). */
acmeva_policy *acmeva_policy_get1(acmeva_policy *p);

/* acmeva_policy_free drops one reference to |p| and frees it with the last (any thread).
 * NULL is a no-op. */
void acmeva_policy_free(acmeva_policy *p);

/* acmeva_policy_disabled returns the reason |t| is disabled for, or NULL when it is enabled
 * (always for NONE, a CAA-only job, and UNKNOWN). Borrowed from |p|. */
const char *acmeva_policy_disabled(const acmeva_policy *p, acmeva_chall_type t);

/*
 * acmeva_policy_rule returns the value of the dated rule |name| in force in |p| (by date, or the
 * next step when enforce:<name> brings it in early) and sets |*early| (may be NULL) to 1 when
 * that value is in force early. Returns -1 for a rule brrules.c does not have.
 */
int acmeva_policy_rule(const acmeva_policy *p, const char *name, int *early);

/* acmeva_policy_same returns 1 when |a| and |b| say the same (version, methods, rules in force
 * and their notes, ignored fields). NULL equals only NULL. */
int acmeva_policy_same(const acmeva_policy *a, const acmeva_policy *b);

/*
 * acmeva_policy_changes lists what changed from |old| (NULL: nothing was in force, the first
 * read) to |cur|, one sentence each ("http-01 disabled: <reason>", "version 3 -> 4", ...), into
 * |out| (which it empties first). Returns 0 or -ENOMEM.
 */
int acmeva_policy_changes(const acmeva_policy *old, const acmeva_policy *cur, acmeva_strlist *out);

/*
 * acmeva_policy_json_new writes |p| as one JSON object (for the audit log):
 * {"version":N,"disabled":{"<type>":"<reason>"},"enforced":{"<rule>":"<note>"},
 *  "rules":{"<rule>":{"value":V,"since":"<date>"|null,"early":bool}}}. Returns a new string or
 * NULL on no memory.
 */
char *acmeva_policy_json_new(const acmeva_policy *p);

#endif
