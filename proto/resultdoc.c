/*
 * A perspective's result document (proto/result.schema.json) as the coordinator reads it, and
 * the same document written again with some top-level members replaced.
 *
 * The coordinator reads six results per MPIC job (DESIGN.md "Multi-perspective
 * corroboration"): a tree of each with json_loadb was most of its cost (bench/README.md, "MPIC:
 * what corroboration costs"). jsonread.c checks the whole document as json_loadb does and
 * hands over only the members named below; tests/fuzz/fuzz_resultdoc.c holds what is kept to
 * jansson's tree of the same bytes. The document came through Redis: it is hostile even though
 * our own writer (result.c) made it, so every list has a cap and every range is checked.
 */
#include <stdlib.h>
#include <string.h>

#include "acmeva/proto.h"
#include "proto_int.h"

/* The contexts of the objects whose members corroboration reads. */
enum { CTX_ROOT = 1, CTX_IDENTIFIER, CTX_ERROR, CTX_CAA, CTX_RECORD };

/* The members, by what the sink does with them (the top-level ones a splice replaces share
 * acmeva_rd_member's numbers). */
enum {
    M_OTHER = ACMEVA_RD_OTHER,
    M_ID = ACMEVA_RD_ID,
    M_STATUS = ACMEVA_RD_STATUS,
    M_ERROR = ACMEVA_RD_ERROR,
    M_ATTEMPT = ACMEVA_RD_ATTEMPT,
    M_STARTED_MS = ACMEVA_RD_STARTED_MS,
    M_DURATION_MS = ACMEVA_RD_DURATION_MS,
    M_MPIC = ACMEVA_RD_MPIC,
    M_POLICY_VERSION = ACMEVA_RD_POLICY_VERSION,
    M_PERSPECTIVE = 100,
    M_RIR,
    M_IDENTIFIER,
    M_CAA,
    M_RECORDS,
    M_IDENT_TYPE,
    M_IDENT_VALUE,
    M_ERROR_TYPE,
    M_ERROR_DETAIL,
    M_CAA_FOUND_AT,
    M_CAA_RECORDS,
    M_ADDRESSES_RESOLVED,
    M_TXT,
};

/* clang-format off */
#define KEY(in, name, member, obj, elem_obj, flags) \
    {in, name, sizeof(name) - 1, member, obj, elem_obj, flags}
/* clang-format on */
#define N ACMEVA_JR_NONE
#define S ACMEVA_JR_STRING
#define E ACMEVA_JR_ELEMENTS

static const acmeva_jr_key result_keys[] = {
    KEY(CTX_ROOT, "id", M_ID, N, N, S),
    KEY(CTX_ROOT, "status", M_STATUS, N, N, S),
    KEY(CTX_ROOT, "perspective", M_PERSPECTIVE, N, N, S),
    KEY(CTX_ROOT, "rir", M_RIR, N, N, S),
    KEY(CTX_ROOT, "identifier", M_IDENTIFIER, CTX_IDENTIFIER, N, 0),
    KEY(CTX_ROOT, "validationRecord", M_RECORDS, N, CTX_RECORD, 0),
    KEY(CTX_ROOT, "error", M_ERROR, CTX_ERROR, N, 0),
    KEY(CTX_ROOT, "caa", M_CAA, CTX_CAA, N, 0),
    KEY(CTX_ROOT, "attempt", M_ATTEMPT, N, N, 0),
    KEY(CTX_ROOT, "startedMs", M_STARTED_MS, N, N, 0),
    KEY(CTX_ROOT, "durationMs", M_DURATION_MS, N, N, 0),
    KEY(CTX_ROOT, "mpic", M_MPIC, N, N, 0),
    KEY(CTX_ROOT, "policyVersion", M_POLICY_VERSION, N, N, 0),
    {CTX_ROOT, NULL, 0, M_OTHER, N, N, 0}, /* every other member, for the splice */
    KEY(CTX_IDENTIFIER, "type", M_IDENT_TYPE, N, N, S),
    KEY(CTX_IDENTIFIER, "value", M_IDENT_VALUE, N, N, S),
    KEY(CTX_ERROR, "type", M_ERROR_TYPE, N, N, S),
    KEY(CTX_ERROR, "detail", M_ERROR_DETAIL, N, N, S),
    KEY(CTX_CAA, "foundAt", M_CAA_FOUND_AT, N, N, S),
    KEY(CTX_CAA, "records", M_CAA_RECORDS, N, N, E),
    KEY(CTX_RECORD, "addressesResolved", M_ADDRESSES_RESOLVED, N, N, E),
    KEY(CTX_RECORD, "records", M_TXT, N, N, E),
};
#undef E
#undef S
#undef N
#undef KEY

/* list_add keeps |v| in |l| (only when |distinct| and it is not there yet), up to the cap. */
static int list_add(acmeva_rlist *l, const acmeva_jv *v, int distinct)
{
    if (distinct)
        for (size_t i = 0; i < l->n; i++)
            if (l->v[i].len == v->len && memcmp(l->v[i].s, v->s, v->len) == 0)
                return 0;
    if (l->n == ACMEVA_RESULTDOC_LIST_MAX) {
        l->more++;
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        acmeva_rstr *nv = realloc(l->v, cap * sizeof(*nv));
        if (nv == NULL)
            return -1;
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = (acmeva_rstr){v->s, v->len};
    return 0;
}

int acmeva_span_add(acmeva_rd_span **spans, size_t *n, size_t *cap, int member, size_t at,
                    size_t end)
{
    if (*n == *cap) {
        /* Each member takes at least 4 bytes of input ("":0), so this stays below the input. */
        size_t c = *cap ? *cap * 2 : 16;
        acmeva_rd_span *ns = realloc(*spans, c * sizeof(*ns));
        if (ns == NULL)
            return -1;
        *spans = ns;
        *cap = c;
    }
    (*spans)[(*n)++] = (acmeva_rd_span){(acmeva_rd_member)member, at, end};
    return 0;
}

static const char *str_or_null(const acmeva_jv *v)
{
    return v->type == ACMEVA_JV_STRING ? v->s : NULL;
}

static int result_sink(void *arg, const acmeva_jr_key *k, int element, const acmeva_jv *v,
                       size_t key_at)
{
    acmeva_resultdoc *doc = arg;
    if (element) {
        if (v->type != ACMEVA_JV_STRING)
            return 0; /* the lists are of strings (result.schema.json "stringList") */
        acmeva_rlist *l = k->member == M_CAA_RECORDS ? &doc->caa_records
                          : k->member == M_TXT       ? &doc->txt
                                                     : &doc->addresses;
        return list_add(l, v, k->member != M_CAA_RECORDS);
    }
    if (k->in == CTX_ROOT &&
        acmeva_span_add(&doc->members, &doc->n_members, &doc->cap_members,
                        k->member < M_PERSPECTIVE ? k->member : M_OTHER, key_at, v->end) < 0)
        return -1;
    switch (k->member) {
    case M_ID:
        doc->id = str_or_null(v);
        break;
    case M_STATUS:
        doc->status = str_or_null(v);
        break;
    case M_PERSPECTIVE:
        doc->perspective = str_or_null(v);
        break;
    case M_RIR:
        doc->rir = str_or_null(v);
        break;
    case M_IDENT_TYPE:
        doc->ident_type = str_or_null(v);
        break;
    case M_IDENT_VALUE:
        doc->ident_value = str_or_null(v);
        break;
    case M_ERROR_TYPE:
        doc->error_type = str_or_null(v);
        break;
    case M_ERROR_DETAIL:
        doc->error_detail = str_or_null(v);
        break;
    case M_CAA_FOUND_AT:
        doc->caa_found_at = str_or_null(v);
        break;
    case M_CAA:
        doc->has_caa = 1;
        break;
    case M_CAA_RECORDS:
        doc->has_caa_records = 1;
        break;
    case M_DURATION_MS:
        if (v->type == ACMEVA_JV_INTEGER || v->type == ACMEVA_JV_REAL) {
            doc->has_duration = 1;
            doc->duration_ms = v->d;
            doc->duration_at = v->at;
            doc->duration_end = v->end;
        }
        break;
    default:
        break;
    }
    return 0;
}

static const acmeva_jr_schema result_schema = {
    result_keys, sizeof(result_keys) / sizeof(result_keys[0]), CTX_ROOT, result_sink};

int acmeva_resultdoc_read(acmeva_resultdoc *doc, const char *buf, size_t len)
{
    memset(doc, 0, sizeof(*doc));
    acmeva_jr_out out;
    int rc = acmeva_json_read(&result_schema, doc, buf, len, &out);
    doc->strings = out.strings;
    doc->error = (int)out.error;
    if (rc < 0) {
        /* Nothing of a document that is not JSON may be used. */
        acmeva_resultdoc_clear(doc);
        doc->error = (int)out.error;
        return -1;
    }
    doc->is_object = out.root == ACMEVA_JV_OBJECT;
    return 0;
}

void acmeva_resultdoc_clear(acmeva_resultdoc *doc)
{
    if (doc == NULL)
        return;
    free(doc->addresses.v);
    free(doc->txt.v);
    free(doc->caa_records.v);
    free(doc->members);
    free(doc->strings);
    memset(doc, 0, sizeof(*doc));
}

static void put_member(acmeva_jbuf *out, int *first, const acmeva_rd_edit *e)
{
    acmeva_jbuf_key(out, first, e->name);
    acmeva_jbuf_put(out, e->value, e->len);
}

int acmeva_json_splice(const char *buf, const acmeva_rd_span *members, size_t n_members,
                       const acmeva_rd_edit *edits, size_t n, acmeva_jbuf *out)
{
    int used[16] = {0}; /* which edits found their member */
    if (buf == NULL || n > sizeof(used) / sizeof(used[0]))
        return -1;
    int first = 1;
    acmeva_jbuf_put(out, "{", 1);
    for (size_t i = 0; i < n_members; i++) {
        const acmeva_rd_span *m = &members[i];
        const acmeva_rd_edit *e = NULL;
        for (size_t j = 0; m->member != ACMEVA_RD_OTHER && j < n && e == NULL; j++)
            if (edits[j].member == m->member) {
                e = &edits[j];
                used[j] = 1;
            }
        if (e == NULL) {
            if (!first)
                acmeva_jbuf_put(out, ",", 1);
            first = 0;
            acmeva_jbuf_put(out, buf + m->at, m->end - m->at);
        } else if (e->value != NULL) {
            put_member(out, &first, e);
        }
    }
    for (size_t j = 0; j < n; j++)
        if (!used[j] && edits[j].value != NULL)
            put_member(out, &first, &edits[j]);
    acmeva_jbuf_put(out, "}", 1);
    return 0;
}

int acmeva_resultdoc_splice(const acmeva_resultdoc *doc, const char *buf,
                            const acmeva_rd_edit *edits, size_t n, acmeva_jbuf *out)
{
    if (!doc->is_object)
        return -1;
    return acmeva_json_splice(buf, doc->members, doc->n_members, edits, n, out);
}
