/*
 * Where two results of one job differ: what a perspective saw that another did not (the
 * addresses a name resolved to, the TXT values, the CAA record set, the outcome). The
 * coordinator writes these lines into an MPIC result's "disagreements" (DESIGN.md "Multi-
 * perspective corroboration"), and acmeva check --perspectives prints them: one wording for
 * the same question, asked by a CA or by a person. Both compare what acmeva_resultdoc_read
 * kept of each result (proto.h), so that the coordinator builds no tree of any result.
 */
#ifndef ACMEVA_RESULTDIFF_H
#define ACMEVA_RESULTDIFF_H

#include "acmeva/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest line acmeva_result_disagreements writes, in bytes; longer ones are cut. */
#define ACMEVA_DISAGREEMENT_MAX 400

/* Called with each line, NUL-terminated, at most ACMEVA_DISAGREEMENT_MAX - 1 bytes. */
typedef void (*acmeva_disagreement_fn)(const char *line, void *arg);

/*
 * acmeva_result_disagreements calls |emit| once per way the result |other| (of the perspective
 * named |name|) differs from the reference result |ref| (of the perspective called |ref_name|,
 * e.g. "the primary"), in this order:
 *   "<name>: resolved <addresses> where <ref_name> resolved <addresses>"
 *   "<name>: saw TXT "<v>", ... where <ref_name> saw "<v>", ..."
 *   "<name>: found CAA at <name> (<records>) where <ref_name> found it at <name> (<records>)"
 *   "<name>: <status> (<type>: <detail>) where <ref_name> was <status> (<type>)"
 * Sets compare without order; "nothing", "none" and "no name" stand for what is absent. Lines
 * are cut at ACMEVA_DISAGREEMENT_MAX bytes. Nothing is emitted when either result is NULL or
 * was not an object.
 */
void acmeva_result_disagreements(const acmeva_resultdoc *ref, const char *ref_name,
                                 const acmeva_resultdoc *other, const char *name,
                                 acmeva_disagreement_fn emit, void *arg);

#ifdef __cplusplus
}
#endif

#endif
