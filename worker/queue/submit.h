/*
 * `acmeva submit`: enqueues NDJSON jobs on acmeva:v1:jobs:<perspective> for acmeva-worker
 * and, with --wait, prints their results as they come back (DESIGN.md "Commands").
 */
#ifndef ACMEVA_SUBMIT_H
#define ACMEVA_SUBMIT_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * acmeva_submit_main runs `acmeva submit` with |argv| (argv[0] is "submit"). Returns the exit
 * status: 0 when every job was enqueued (and, with --wait, every result is valid), 1 when
 * --wait saw an invalid result, 2 for bad usage, a bad input line (reported on stderr and not
 * enqueued; the other lines still are), a Redis error, or a timeout waiting for results.
 */
int acmeva_submit_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
