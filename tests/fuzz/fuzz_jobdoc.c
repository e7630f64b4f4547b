/*
 * Differential fuzz target for the job document reader (proto/jobdoc.c), with jansson as the
 * oracle. The input (at most the job size cap, ACMEVA_JOB_MAX_BYTES: a longer input is cut
 * there) is read by acmeva_jobdoc_read and by json_loadb(JSON_REJECT_DUPLICATES |
 * JSON_DECODE_ANY), the codec's reference.
 *
 * Checked: both accept or both refuse. A refusal carries an error category and a position
 * from line 1, column 1; an acceptance carries ACMEVA_JSON_OK. When both accept, the type of
 * the document's value agrees, and so does every member the job schema knows, looked up in
 * jansson's tree along the same path (only through parents that are objects): its type, its
 * string bytes and length, its integer value; and so do the element count of
 * caa.issuerDomains and each of its first ACMEVA_JOB_ISSUER_DOMAINS_MAX elements. Any
 * difference aborts.
 *
 * One difference is meant: an input with a raw NUL byte is always refused by the reader, while
 * jansson's lexer loses a NUL read ahead right after a number or a literal and accepts such a
 * document ("1\0", {"a":1\0}). For those inputs only the reader's refusal is checked.
 *
 * The input is copied into a buffer of its exact size, so that a read past its end is caught
 * by AddressSanitizer in the replay build too (libFuzzer hands over exact-size buffers, the
 * replay driver does not).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobdoc_oracle.h"

static void same_document(const acmeva_jobdoc *doc, json_t *root)
{
    if (doc->root != jansson_type(root))
        abort();
    for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
        if (!same_value(&doc->m[known[k].m], member_get0(root, known[k].parent, known[k].key)))
            abort();

    json_t *domains = member_get0(root, "caa", "issuerDomains");
    size_t n = json_is_array(domains) ? json_array_size(domains) : 0;
    if (doc->n_issuer_domains != n)
        abort();
    for (size_t i = 0; i < n && i < ACMEVA_JOB_ISSUER_DOMAINS_MAX; i++)
        if (!same_value(&doc->issuer_domains[i], json_array_get(domains, i)))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = oracle_copy(data, &size, ACMEVA_JOB_MAX_BYTES);
    if (buf == NULL)
        return 0;

    acmeva_jobdoc doc;
    int rc = acmeva_jobdoc_read(&doc, buf, size);
    json_error_t jerr;
    json_t *root = json_loadb(buf, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);

    if (oracle_verdict(buf, size, rc, doc.error, doc.line, doc.column, root, &jerr) ==
        ORACLE_ACCEPTED)
        same_document(&doc, root);

    json_decref(root);
    acmeva_jobdoc_clear(&doc);
    oracle_free(buf, size);
    return 0;
}
