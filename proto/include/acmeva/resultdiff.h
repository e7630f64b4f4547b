/*
 * Where two results of one job differ: what a perspective saw that another did not (the
 * addresses a name resolved to, the TXT values, the CAA record set, the outcome). The
 * coordinator writes these lines into an MPIC result's "disagreements" (DESIGN.md "Multi-
 * perspective corroboration"), and acmeva check --perspectives prints them: one wording for
 * the same question, asked by a CA or by a person.
 */
#ifndef ACMEVA_RESULTDIFF_H
#define ACMEVA_RESULTDIFF_H

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest line acmeva_result_disagreements writes, in bytes; longer ones are cut. */
#define ACMEVA_DISAGREEMENT_MAX 400

/*
 * acmeva_result_collect appends to the array |out| the strings of member |key| (an array of
 * strings, e.g. "addressesResolved" or "records") of every validation record of the result
 * document |result|, each once, in the order first seen. Borrowed arguments; no-op on
 * documents of another shape.
 */
void acmeva_result_collect(const json_t *result, const char *key, json_t *out);

/*
 * acmeva_result_disagreements appends to the array |lines| one string per way the result
 * |other| (of the perspective named |name|) differs from the reference result |ref| (of the
 * perspective called |ref_name|, e.g. "the primary"):
 *   "<name>: resolved <addresses> where <ref_name> resolved <addresses>"
 *   "<name>: saw TXT "<v>", ... where <ref_name> saw "<v>", ..."
 *   "<name>: found CAA at <name> (<records>) where <ref_name> found it at <name> (<records>)"
 *   "<name>: <status> (<type>: <detail>) where <ref_name> was <status> (<type>)"
 * Sets compare without order; "nothing", "none" and "no name" stand for what is absent. Lines
 * are cut at ACMEVA_DISAGREEMENT_MAX bytes. Nothing is appended when either result is NULL.
 */
void acmeva_result_disagreements(const json_t *ref, const char *ref_name, const json_t *other,
                                 const char *name, json_t *lines);

#ifdef __cplusplus
}
#endif

#endif
