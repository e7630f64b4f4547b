/*
 * `acmeva policy`: shows and edits the operator's policy, the Redis hash acmeva:v1:policy
 * (DESIGN.md "Live kill switch per method"; policy.h says what its fields mean).
 */
#ifndef ACMEVA_POLICYCLI_H
#define ACMEVA_POLICYCLI_H

/*
 * acmeva_policy_main runs `acmeva policy` with |argv| (argv[0] is "policy"). Returns the exit
 * status: 0 when the policy was shown, changed, or already said what was asked; 2 for bad usage
 * or a Redis error (nothing changed then).
 */
int acmeva_policy_main(int argc, char **argv);

#endif
