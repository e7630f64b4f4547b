/*
 * Differential fuzz target for the result document reader and splice (proto/resultdoc.c),
 * with jansson as the oracle: the coordinator reads every perspective's result with it, and
 * those results came through Redis. The input (at most ACMEVA_RESULT_MAX_BYTES) is read by
 * acmeva_resultdoc_read and by json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY).
 *
 * Checked: both accept or both refuse (the reader never accepts what jansson refuses). When
 * both accept and the document is an object, every value the coordinator uses agrees with
 * jansson's tree: the strings id, status, perspective, rir, identifier.type/value,
 * error.type/detail and caa.foundAt (looked up only through parents that are objects), whether
 * caa and caa.records are there, durationMs (whether it is a number, its value, and that its
 * text is that number), and the three lists, computed from the tree by the rule of proto.h
 * (strings only, first come, at most ACMEVA_RESULTDOC_LIST_MAX, distinct where said). Every
 * top-level member's byte range is one member of the tree ({range} parses to an object whose
 * one member is the tree's), and they are all of them. Then the document is spliced with a
 * fixed set of edits (id replaced, status dropped, attempt replaced, mpic added or replaced):
 * the output must parse, with no duplicate key, to the tree with those edits. Any difference
 * aborts.
 *
 * The one meant difference of the reader (a raw NUL byte is always refused; jansson loses one
 * after a number or a literal) is handled as in fuzz_jobdoc.c. The input is copied into a
 * buffer of its exact size, so that a read past its end is caught by AddressSanitizer.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "acmeva/proto.h"
#include "jobdoc_oracle.h"

static json_t *get0(json_t *obj, const char *key)
{
    return json_is_object(obj) ? json_object_get(obj, key) : NULL;
}

static void same_string(const char *mine, json_t *j)
{
    if (!json_is_string(j)) {
        if (mine != NULL)
            abort();
        return;
    }
    size_t n = json_string_length(j);
    if (mine == NULL || strlen(mine) != n || memcmp(mine, json_string_value(j), n) != 0)
        abort();
}

/* The reference lists: the string elements of |arrays|' arrays, first come, capped. */
typedef struct ref_list {
    json_t *v[ACMEVA_RESULTDOC_LIST_MAX];
    size_t n, more;
} ref_list;

static void ref_add(ref_list *l, json_t *v, int distinct)
{
    if (!json_is_string(v))
        return;
    for (size_t i = 0; distinct && i < l->n; i++)
        if (json_equal(l->v[i], v))
            return;
    if (l->n == ACMEVA_RESULTDOC_LIST_MAX)
        l->more++;
    else
        l->v[l->n++] = v;
}

static void same_list(const acmeva_rlist *mine, const ref_list *ref)
{
    if (mine->n != ref->n || mine->more != ref->more)
        abort();
    for (size_t i = 0; i < ref->n; i++) {
        size_t n = json_string_length(ref->v[i]);
        if (mine->v[i].len != n || memcmp(mine->v[i].s, json_string_value(ref->v[i]), n) != 0 ||
            mine->v[i].s[n] != '\0')
            abort();
    }
}

static void same_lists(const acmeva_resultdoc *doc, json_t *root)
{
    static ref_list addrs, txt, caa;
    addrs.n = addrs.more = txt.n = txt.more = caa.n = caa.more = 0;
    json_t *recs = get0(root, "validationRecord"), *rec, *v;
    size_t i, j;
    if (json_is_array(recs))
        json_array_foreach(recs, i, rec)
        {
            json_t *a = get0(rec, "addressesResolved"), *t = get0(rec, "records");
            if (json_is_array(a))
                json_array_foreach(a, j, v) ref_add(&addrs, v, 1);
            if (json_is_array(t))
                json_array_foreach(t, j, v) ref_add(&txt, v, 1);
        }
    json_t *cr = get0(get0(root, "caa"), "records");
    if (json_is_array(cr))
        json_array_foreach(cr, j, v) ref_add(&caa, v, 0);
    same_list(&doc->addresses, &addrs);
    same_list(&doc->txt, &txt);
    same_list(&doc->caa_records, &caa);
}

static json_t *parse(const char *buf, size_t len)
{
    return json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
}

static void same_members(const acmeva_resultdoc *doc, const char *buf, json_t *root)
{
    static const struct {
        const char *name;
        acmeva_rd_member member;
    } names[] = {{"id", ACMEVA_RD_ID},
                 {"status", ACMEVA_RD_STATUS},
                 {"error", ACMEVA_RD_ERROR},
                 {"attempt", ACMEVA_RD_ATTEMPT},
                 {"startedMs", ACMEVA_RD_STARTED_MS},
                 {"durationMs", ACMEVA_RD_DURATION_MS},
                 {"mpic", ACMEVA_RD_MPIC},
                 {"policyVersion", ACMEVA_RD_POLICY_VERSION}};
    if (doc->n_members != json_object_size(root))
        abort();
    for (size_t i = 0; i < doc->n_members; i++) {
        const acmeva_rd_span *m = &doc->members[i];
        if (m->at >= m->end || buf[m->at] != '"')
            abort();
        char *one = malloc(m->end - m->at + 2);
        if (one == NULL)
            continue;
        one[0] = '{';
        memcpy(one + 1, buf + m->at, m->end - m->at);
        one[m->end - m->at + 1] = '}';
        json_t *o = parse(one, m->end - m->at + 2);
        free(one);
        if (o == NULL || json_object_size(o) != 1)
            abort();
        const char *key = json_object_iter_key(json_object_iter(o));
        if (!json_equal(json_object_get(o, key), json_object_get(root, key)))
            abort();
        int named = 0;
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
            if (strcmp(key, names[k].name) == 0) {
                named = 1;
                if (m->member != names[k].member)
                    abort();
            }
        if (!named && m->member != ACMEVA_RD_OTHER)
            abort();
        json_decref(o);
    }
}

static void same_splice(const acmeva_resultdoc *doc, const char *buf, json_t *root)
{
    static const char mpic[] = "{\"quorum\":\"1/1\",\"x\":[1,\"\\u00e9\"]}";
    const acmeva_rd_edit edits[] = {
        {ACMEVA_RD_ID, "id", "\"job-1\"", 7},
        {ACMEVA_RD_STATUS, "status", NULL, 0},
        {ACMEVA_RD_ATTEMPT, "attempt", "3", 1},
        {ACMEVA_RD_MPIC, "mpic", mpic, sizeof(mpic) - 1},
    };
    acmeva_jbuf out = {0};
    if (acmeva_resultdoc_splice(doc, buf, edits, 4, &out) != 0)
        abort();
    size_t len = out.len;
    char *text = acmeva_jbuf_finish(&out);
    if (text == NULL)
        return; /* no memory, or more than ACMEVA_RESULT_MAX_BYTES */
    json_t *got = parse(text, len);
    free(text);
    json_t *want = json_deep_copy(root);
    if (want == NULL) {
        json_decref(got);
        return;
    }
    json_object_set_new(want, "id", json_string("job-1"));
    json_object_del(want, "status");
    json_object_set_new(want, "attempt", json_integer(3));
    json_object_set_new(want, "mpic", parse(mpic, sizeof(mpic) - 1));
    if (got == NULL || !json_equal(got, want))
        abort();
    json_decref(got);
    json_decref(want);
}

static void same_document(const acmeva_resultdoc *doc, const char *buf, json_t *root)
{
    if (doc->is_object != json_is_object(root))
        abort();
    if (!doc->is_object)
        return;
    same_string(doc->id, get0(root, "id"));
    same_string(doc->status, get0(root, "status"));
    same_string(doc->perspective, get0(root, "perspective"));
    same_string(doc->rir, get0(root, "rir"));
    same_string(doc->ident_type, get0(get0(root, "identifier"), "type"));
    same_string(doc->ident_value, get0(get0(root, "identifier"), "value"));
    same_string(doc->error_type, get0(get0(root, "error"), "type"));
    same_string(doc->error_detail, get0(get0(root, "error"), "detail"));
    same_string(doc->caa_found_at, get0(get0(root, "caa"), "foundAt"));
    if (doc->has_caa != (get0(root, "caa") != NULL) ||
        doc->has_caa_records != (get0(get0(root, "caa"), "records") != NULL))
        abort();
    json_t *dur = get0(root, "durationMs");
    if (doc->has_duration != json_is_number(dur))
        abort();
    if (doc->has_duration) {
        double want = json_number_value(dur);
        if (doc->duration_ms != want || signbit(doc->duration_ms) != signbit(want))
            abort();
        json_t *text = parse(buf + doc->duration_at, doc->duration_end - doc->duration_at);
        if (text == NULL || !json_equal(text, dur))
            abort();
        json_decref(text);
    }
    same_lists(doc, root);
    same_members(doc, buf, root);
    same_splice(doc, buf, root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = oracle_copy(data, &size, ACMEVA_RESULT_MAX_BYTES);
    if (buf == NULL)
        return 0;

    acmeva_resultdoc doc;
    int rc = acmeva_resultdoc_read(&doc, buf, size);
    json_error_t jerr;
    json_t *root = json_loadb(buf, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);

    /* A refusal leaves nothing to use; positions are jsonread.c's (fuzz_jobdoc.c). */
    int verdict = oracle_verdict(buf, size, rc, doc.error, 1, 1, root, &jerr);
    if (verdict == ORACLE_ACCEPTED)
        same_document(&doc, buf, root);
    else if (verdict == ORACLE_REFUSED && (doc.is_object || doc.id != NULL || doc.n_members != 0))
        abort();

    json_decref(root);
    acmeva_resultdoc_clear(&doc);
    oracle_free(buf, size);
    return 0;
}
