/*
 * Multi-perspective issuance corroboration: the rule (CA/B Forum BR 3.2.2.9) as pure
 * functions, so that the coordinator's decision is a table-driven unit test.
 *
 * - The primary perspective must pass.
 * - Of n remote perspectives, at most 1 may fail when n <= 5 and at most 2 when n >= 6
 *   (BR 3.2.2.9 table "Allowed non-corroborations"); a job's quorumCount can only raise the
 *   passes required, never lower them.
 * - The passing remotes must span at least 2 RIRs (ARIN, RIPE, APNIC, LACNIC, AFRINIC). With a
 *   single pass required (only when an operator lowered the minimum below the BRs) there is
 *   nothing to span and the RIR rule does not apply.
 * - A remote that has not answered by the deadline has failed; a remote passes only when its
 *   whole job (challenge and CAA) is valid.
 *
 * Pure: no I/O, no allocation, safe from any thread.
 */
#ifndef ACMEVA_MPIC_H
#define ACMEVA_MPIC_H

#include <stddef.h>
#include <stdint.h>

#define ACMEVA_MPIC_MAX_REMOTES 32

typedef enum {
    ACMEVA_RIR_UNKNOWN = 0,
    ACMEVA_RIR_ARIN,
    ACMEVA_RIR_RIPE,
    ACMEVA_RIR_APNIC,
    ACMEVA_RIR_LACNIC,
    ACMEVA_RIR_AFRINIC,
} acmeva_rir;

/* acmeva_rir_parse maps "ARIN", "RIPE", "APNIC", "LACNIC", "AFRINIC" (exactly) to their value;
 * anything else is ACMEVA_RIR_UNKNOWN. */
acmeva_rir acmeva_rir_parse(const char *s);
/* acmeva_rir_name returns the name of |r| ("" for unknown). */
const char *acmeva_rir_name(acmeva_rir r);

/* The answer of one perspective as the rule sees it. */
typedef enum {
    ACMEVA_MPIC_WAITING = 0, /* asked, no answer yet */
    ACMEVA_MPIC_PASS,
    ACMEVA_MPIC_FAIL, /* invalid, unsigned, badly signed, or no answer by the deadline */
} acmeva_mpic_vote;

typedef enum {
    ACMEVA_MPIC_UNDECIDED = 0,
    ACMEVA_MPIC_VALID,
    ACMEVA_MPIC_INVALID,
} acmeva_mpic_outcome;

/* acmeva_mpic_allowed_failures returns the non-corroborations BR 3.2.2.9 allows among |n|
 * remotes: 0 for n <= 1, 1 for 2..5, 2 for 6 or more. */
int acmeva_mpic_allowed_failures(int n);

/* acmeva_mpic_required returns the passes required among |n| remotes: n minus the allowed
 * failures, raised to |quorum_count| when that is larger (0: none given). Never more than n
 * is asked by the caller, which refuses a quorumCount above the remotes asked. */
int acmeva_mpic_required(int n, int quorum_count);

/*
 * acmeva_mpic_decide returns the outcome as far as the votes known now fix it: VALID once the
 * primary passed and enough remotes passed across 2 RIRs; INVALID once the primary failed or no
 * combination of the remotes still waiting can reach the quorum; UNDECIDED otherwise.
 * |votes| and |rirs| have |n| entries. |why| (when not NULL) gets a short reason for INVALID:
 * "primary", "quorum" or "rirs".
 */
acmeva_mpic_outcome acmeva_mpic_decide(acmeva_mpic_vote primary, int n, int required,
                                       const acmeva_mpic_vote *votes, const acmeva_rir *rirs,
                                       const char **why);

/* acmeva_mpic_passed_rirs writes the distinct RIRs of the passing remotes into |out| (in enum
 * order) and returns how many. */
size_t acmeva_mpic_passed_rirs(int n, const acmeva_mpic_vote *votes, const acmeva_rir *rirs,
                               acmeva_rir out[5]);

/*
 * acmeva_mpic_select picks |count| of the |n| remotes for |identifier|, deterministically from
 * a secret |key| (HMAC-SHA256(key, identifier || 0 || name) ranks them), so that an attacker who
 * does not know the key cannot predict which perspectives will look, while retries and other
 * coordinators pick the same ones. When the top |count| all share one RIR and another RIR is
 * available, the lowest ranked pick is swapped for the best ranked remote of another RIR, so
 * that the 2-RIR rule stays reachable. Writes the chosen indices, ascending, to |out|. Returns
 * 0, or -1 when count is not in 1..n or n exceeds ACMEVA_MPIC_MAX_REMOTES.
 */
int acmeva_mpic_select(const char *const *names, const acmeva_rir *rirs, int n, int count,
                       const uint8_t *key, size_t key_len, const char *identifier, int *out);

#endif
