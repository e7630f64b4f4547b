/*
 * An MPIC job (DESIGN.md "Multi-perspective corroboration") as the coordinator reads it beside
 * acmeva_job_parse, and the sub-jobs written from its bytes.
 *
 * The job's own rules are job.c's; what the coordinator needs besides is the optional "mpic"
 * object (open-mpic's orchestration parameters) and the job's bytes with "id" and "mpic" left
 * out and "replyTo" and "deadlineMs" replaced. A jansson tree of the job and json_dumps of it
 * were a fifth of the coordinator's instructions per MPIC job (bench/README.md, "MPIC: what
 * corroboration costs"); jsonread.c reads the job once, and the body is spliced from its bytes.
 * tests/fuzz/fuzz_mpicjob.c holds both to jansson.
 */
#include <stdlib.h>
#include <string.h>

#include "acmeva/proto.h"
#include "proto_int.h"

enum { CTX_ROOT = 1, CTX_MPIC };
enum { M_COUNT = 100, M_QUORUM, M_MPIC_OBJECT };

/* clang-format off */
#define KEY(in, name, member, obj) {in, name, sizeof(name) - 1, member, obj, ACMEVA_JR_NONE, 0}
/* clang-format on */
static const acmeva_jr_key mpicjob_keys[] = {
    KEY(CTX_ROOT, "id", ACMEVA_RD_ID, ACMEVA_JR_NONE),
    KEY(CTX_ROOT, "mpic", ACMEVA_RD_MPIC, CTX_MPIC),
    KEY(CTX_ROOT, "replyTo", ACMEVA_RD_REPLY_TO, ACMEVA_JR_NONE),
    KEY(CTX_ROOT, "deadlineMs", ACMEVA_RD_DEADLINE_MS, ACMEVA_JR_NONE),
    {CTX_ROOT, NULL, 0, ACMEVA_RD_OTHER, ACMEVA_JR_NONE, ACMEVA_JR_NONE, 0},
    KEY(CTX_MPIC, "perspectiveCount", M_COUNT, ACMEVA_JR_NONE),
    KEY(CTX_MPIC, "quorumCount", M_QUORUM, ACMEVA_JR_NONE),
};
#undef KEY

static int mpicjob_sink(void *arg, const acmeva_jr_key *k, int element, const acmeva_jv *v,
                        size_t key_at)
{
    acmeva_mpicjob *doc = arg;
    (void)element; /* no entry asks for elements */
    if (k->member == M_COUNT || k->member == M_QUORUM) {
        acmeva_mpic_param *p = k->member == M_COUNT ? &doc->perspective_count : &doc->quorum_count;
        p->present = 1;
        p->is_integer = v->type == ACMEVA_JV_INTEGER;
        p->value = v->i;
        return 0;
    }
    if (k->member == ACMEVA_RD_MPIC) {
        doc->has_mpic = 1;
        doc->mpic_is_object = v->type == ACMEVA_JV_OBJECT;
    }
    return acmeva_span_add(&doc->members, &doc->n_members, &doc->cap_members, k->member, key_at,
                           v->end);
}

static const acmeva_jr_schema mpicjob_schema = {
    mpicjob_keys, sizeof(mpicjob_keys) / sizeof(mpicjob_keys[0]), CTX_ROOT, mpicjob_sink};

int acmeva_mpicjob_read(acmeva_mpicjob *doc, const char *buf, size_t len)
{
    memset(doc, 0, sizeof(*doc));
    acmeva_jr_out out;
    int rc = acmeva_json_read(&mpicjob_schema, doc, buf, len, &out);
    doc->strings = out.strings;
    if (rc < 0) {
        acmeva_mpicjob_clear(doc);
        doc->error = (int)out.error;
        return -1;
    }
    doc->is_object = out.root == ACMEVA_JV_OBJECT;
    return 0;
}

void acmeva_mpicjob_clear(acmeva_mpicjob *doc)
{
    if (doc == NULL)
        return;
    free(doc->members);
    free(doc->strings);
    memset(doc, 0, sizeof(*doc));
}

char *acmeva_mpicjob_subjob_body(const acmeva_mpicjob *doc, const char *buf, const char *reply_to,
                                 int64_t deadline_ms, size_t *len)
{
    if (!doc->is_object)
        return NULL;
    acmeva_jbuf v = {0}, out = {0};
    acmeva_jbuf_put_str(&v, reply_to);
    size_t reply_end = v.len;
    acmeva_jbuf_put_int(&v, deadline_ms);
    char *body = NULL;
    if (!v.failed) {
        const acmeva_rd_edit edits[] = {
            {ACMEVA_RD_ID, "id", NULL, 0},
            {ACMEVA_RD_MPIC, "mpic", NULL, 0},
            {ACMEVA_RD_REPLY_TO, "replyTo", v.p, reply_end},
            {ACMEVA_RD_DEADLINE_MS, "deadlineMs", v.p + reply_end, v.len - reply_end},
        };
        if (acmeva_json_splice(buf, doc->members, doc->n_members, edits, 4, &out) == 0) {
            *len = out.len;
            body = acmeva_jbuf_finish(&out);
        }
    }
    acmeva_jbuf_clear(&v);
    acmeva_jbuf_clear(&out);
    return body;
}

char *acmeva_mpicjob_subjob(const char *body, size_t blen, const char *id, size_t *len)
{
    static const char open[] = "{\"id\":\"";
    size_t ilen = strlen(id), olen = sizeof(open) - 1;
    if (blen < 2 || body[0] != '{')
        return NULL;
    int empty = blen == 2; /* "{}": no comma after the id */
    size_t n = olen + ilen + 1 + !empty + (blen - 1);
    char *s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    char *p = s;
    memcpy(p, open, olen);
    p += olen;
    memcpy(p, id, ilen);
    p += ilen;
    *p++ = '"';
    if (!empty)
        *p++ = ',';
    memcpy(p, body + 1, blen - 1);
    s[n] = '\0';
    *len = n;
    return s;
}
