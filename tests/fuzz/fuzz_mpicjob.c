/*
 * Differential fuzz target for the MPIC job reader and the sub-jobs written from a job's bytes
 * (proto/mpicjob.c), with jansson as the oracle. The input (at most ACMEVA_JOB_MAX_BYTES) is
 * read by acmeva_mpicjob_read and by json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY).
 *
 * Checked: both accept or both refuse. When both accept and the document is an object: whether
 * "mpic" is there and an object, and mpic.perspectiveCount and mpic.quorumCount (there, an
 * integer, its value) agree with the tree; the sub-job body parses, with no duplicate key, to
 * the tree without "id" and "mpic" and with "replyTo" and "deadlineMs" set; and the sub-job
 * made from the body with an id parses to that plus the id. Any difference aborts. A raw NUL
 * byte is handled as in fuzz_jobdoc.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "acmeva/proto.h"
#include "jobdoc_oracle.h"

static void same_param(const acmeva_mpic_param *p, json_t *mpic, const char *key)
{
    json_t *v = json_is_object(mpic) ? json_object_get(mpic, key) : NULL;
    if (p->present != (v != NULL) || p->is_integer != json_is_integer(v) ||
        (p->is_integer && p->value != (int64_t)json_integer_value(v)))
        abort();
}

static json_t *parse(const char *buf, size_t len)
{
    return json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
}

static void same_subjob(const acmeva_mpicjob *doc, const char *buf, json_t *root)
{
    static const char reply[] = "acmeva:v1:results:mpic:h:1:0";
    size_t blen = 0, slen = 0;
    char *body = acmeva_mpicjob_subjob_body(doc, buf, reply, 1764435600000, &blen);
    if (body == NULL)
        return; /* no memory */
    json_t *want = json_deep_copy(root), *got = parse(body, blen);
    if (want == NULL) {
        json_decref(got);
        free(body);
        return;
    }
    json_object_del(want, "id");
    json_object_del(want, "mpic");
    json_object_set_new(want, "replyTo", json_string(reply));
    json_object_set_new(want, "deadlineMs", json_integer(1764435600000));
    if (got == NULL || strlen(body) != blen || !json_equal(got, want))
        abort();
    json_decref(got);
    char *sj = acmeva_mpicjob_subjob(body, blen, "job/mpic:0123456789abcdef:r1", &slen);
    if (sj != NULL) {
        json_object_set_new(want, "id", json_string("job/mpic:0123456789abcdef:r1"));
        got = parse(sj, slen);
        if (got == NULL || strlen(sj) != slen || !json_equal(got, want))
            abort();
        json_decref(got);
        free(sj);
    }
    json_decref(want);
    free(body);
}

static void same_document(const acmeva_mpicjob *doc, const char *buf, json_t *root)
{
    if (doc->is_object != json_is_object(root))
        abort();
    if (!doc->is_object) {
        if (acmeva_mpicjob_subjob_body(doc, buf, "r", 1, &(size_t){0}) != NULL)
            abort(); /* only an object has sub-jobs */
        return;
    }
    json_t *mpic = json_object_get(root, "mpic");
    if (doc->has_mpic != (mpic != NULL) || doc->mpic_is_object != json_is_object(mpic))
        abort();
    same_param(&doc->perspective_count, mpic, "perspectiveCount");
    same_param(&doc->quorum_count, mpic, "quorumCount");
    same_subjob(doc, buf, root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = oracle_copy(data, &size, ACMEVA_JOB_MAX_BYTES);
    if (buf == NULL)
        return 0;

    acmeva_mpicjob doc;
    int rc = acmeva_mpicjob_read(&doc, buf, size);
    json_error_t jerr;
    json_t *root = json_loadb(buf, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);

    /* A refusal leaves nothing to use; positions are jsonread.c's (fuzz_jobdoc.c). */
    int verdict = oracle_verdict(buf, size, rc, doc.error, 1, 1, root, &jerr);
    if (verdict == ORACLE_ACCEPTED)
        same_document(&doc, buf, root);
    else if (verdict == ORACLE_REFUSED && (doc.is_object || doc.n_members != 0))
        abort();

    json_decref(root);
    acmeva_mpicjob_clear(&doc);
    oracle_free(buf, size);
    return 0;
}
