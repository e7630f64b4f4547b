/*
 * `acmeva verify --key FILE`: checks signed result entries read as NDJSON on standard input
 * (DESIGN.md "Channel"; the format is docs/signed-results.md).
 */
#ifndef ACMEVA_VERIFY_H
#define ACMEVA_VERIFY_H

/*
 * acmeva_verify_main runs `acmeva verify` with |argv| (argv[0] is "verify"). Returns the exit
 * status: 0 when every entry verifies, 1 when one does not, 2 for bad usage, a key that cannot
 * be read, or a line that is not an entry (the other lines are still checked).
 */
int acmeva_verify_main(int argc, char **argv);

#endif
