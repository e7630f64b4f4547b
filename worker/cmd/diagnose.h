/*
 * The readable diagnosis of a validation (acmeva check --format text): from a result document
 * to text for a person. The verdict comes first, then each step the validation took (names
 * looked up and their answers with their DNSSEC status, the addresses tried in order and what
 * happened at each, every redirect hop with its status code, the start of the body, the
 * certificate seen, where CAA was found and which record decided), then the problem in plain
 * words with its most likely cause and what to change, picked from a catalogue of the
 * failures operators meet most.
 *
 * Pure: the input is a parsed result (jansson), the output a string; no I/O, so that every
 * explanation can be tested from a document. Everything taken from the document is printed
 * terminal-safe (control bytes and invisible characters escaped), whoever wrote it.
 */
#ifndef ACMEVA_DIAGNOSE_H
#define ACMEVA_DIAGNOSE_H

#include <jansson.h>

/* Flags of acmeva_diagnose_text. ACMEVA_DIAG_COLOR: ANSI colours and bold (the shell sets it
 * only for a terminal, and never with NO_COLOR). */
#define ACMEVA_DIAG_COLOR 1u

/*
 * acmeva_diagnose_text returns the diagnosis of |result| (a result document of
 * proto/result.schema.json, borrowed; a document that lacks fields still gets a diagnosis of
 * what it holds) as a new NUL-terminated text ending in a newline, which the caller frees.
 * Returns NULL on no memory.
 */
char *acmeva_diagnose_text(const json_t *result, unsigned flags);

/*
 * acmeva_diagnose_cause returns the name of the catalogue entry that explains |result|: for an
 * invalid result the failure ("firewall", "redirect-port", "html-page",
 * "caa-other-ca", "cname-no-txt", "txt-wrong", "dnssec-bogus", "servfail", "no-acme-tls",
 * ... ; "other" when none fits), "valid" for a valid one. The string is static.
 */
const char *acmeva_diagnose_cause(const json_t *result);

/*
 * acmeva_diagnose_perspectives_text returns the text of one job run through several resolvers
 * (acmeva check --perspectives): |doc| is {"id", "status", "perspectives": [{"name",
 * "resolver", "result"}], "disagreements": [...]}, the first perspective being the one the
 * others are compared with. The verdict comes first, then each perspective's outcome, the
 * differences, and the diagnosis of each perspective. New text, or NULL on no memory.
 */
char *acmeva_diagnose_perspectives_text(const json_t *doc, unsigned flags);

#endif
