/*
 * Fuzz target for the CAA decision (worker/caapolicy.c).
 *
 * Input: byte 0 picks the request (bit 0 wildcard, bit 1 no challenge type, bit 2 no account
 * URI, bits 3-4 the challenge type); the rest is parsed whole as an issue value, then split
 * on '\n' into at most 8 records, each "<flags byte><tag> <value>", which are decided.
 * Checked: the parser's output stays in bounds and survives a print/parse round trip, the
 * decision is 0 or 1, does not depend on the reason buffer, and a critical unknown record
 * always forbids; a refusal notes ACMEVA_CAA_WANTS_METHOD only when the request has no method.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caapolicy.h"

#define MAX_RECS 8

static const char *const issuers[] = {"ca.example", "ca2.example"};
static const char *const methods[] = {"http-01", "dns-01", "tls-alpn-01", "dns-account-01"};

static void check_value(const acmeva_caa_value *v)
{
    if (v->n_params > ACMEVA_CAA_MAX_PARAMS)
        abort();
    if (memchr(v->issuer, '\0', sizeof(v->issuer)) == NULL)
        abort();
    for (size_t i = 0; i < v->n_params; i++) {
        const acmeva_caa_param *p = &v->params[i];
        if (memchr(p->tag, '\0', sizeof(p->tag)) == NULL || p->tag[0] == '\0')
            abort();
        if (memchr(p->value, '\0', sizeof(p->value)) == NULL)
            abort();
        if (strchr(p->value, ';') != NULL || strchr(p->value, ' ') != NULL)
            abort();
    }
}

/* Print a parsed value back in canonical form and parse it again: same result. */
static void round_trip(const acmeva_caa_value *v)
{
    static char
        buf[ACMEVA_CAA_MAX_ISSUER + 2 +
            ACMEVA_CAA_MAX_PARAMS * (ACMEVA_CAA_MAX_PARAM_TAG + ACMEVA_CAA_MAX_PARAM_VALUE + 3)];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "%s", v->issuer);
    for (size_t i = 0; i < v->n_params; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s=%s", i == 0 ? ";" : "; ",
                              v->params[i].tag, v->params[i].value);
    if (n >= sizeof(buf))
        abort();
    static acmeva_caa_value again;
    if (acmeva_caa_value_parse((const uint8_t *)buf, n, &again) != 0)
        abort();
    if (strcmp(again.issuer, v->issuer) != 0 || again.n_params != v->n_params)
        abort();
    for (size_t i = 0; i < v->n_params; i++) {
        if (strcmp(again.params[i].tag, v->params[i].tag) != 0 ||
            strcmp(again.params[i].value, v->params[i].value) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t opt = data[0];
    data++;
    size--;

    static acmeva_caa_value v;
    char err[128];
    int rc = acmeva_caa_value_parse_err(data, size, &v, err, sizeof(err));
    if (rc != 0 && rc != ACMEVA_CAA_ESYNTAX && rc != ACMEVA_CAA_ELIMIT)
        abort();
    if (rc != 0 && (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0'))
        abort();
    if (rc == 0) {
        check_value(&v);
        round_trip(&v);
    }

    acmeva_caa_record recs[MAX_RECS + 1];
    size_t n = 0, pos = 0;
    while (pos < size && n < MAX_RECS) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl != NULL ? (size_t)(nl - data) : size;
        const uint8_t *r = data + pos;
        size_t rlen = end - pos;
        acmeva_caa_record *rec = &recs[n++];
        memset(rec, 0, sizeof(*rec));
        if (rlen > 0) {
            rec->flags = r[0];
            const uint8_t *sp = memchr(r + 1, ' ', rlen - 1);
            size_t tlen = sp != NULL ? (size_t)(sp - (r + 1)) : rlen - 1;
            rec->tag = (const char *)r + 1;
            rec->tag_len = tlen;
            rec->value = sp != NULL ? sp + 1 : r + rlen;
            rec->value_len = sp != NULL ? rlen - 1 - tlen - 1 : 0;
        }
        pos = end + 1;
    }

    acmeva_caa_request req = {issuers, 2, opt & 1, (opt & 4) ? NULL : "https://ca.example/acct/1",
                              (opt & 2) ? NULL : methods[(opt >> 3) & 3]};
    char reason[256];
    memset(reason, 'x', sizeof(reason));
    int permits = acmeva_caa_permits(recs, n, &req, reason, sizeof(reason));
    if (permits != 0 && permits != 1)
        abort();
    if (memchr(reason, '\0', sizeof(reason)) == NULL)
        abort();
    if (acmeva_caa_permits(recs, n, &req, NULL, 0) != permits)
        abort();
    /* A refusal is noted as wanting the method only when the request has none. */
    unsigned notes = 0;
    if (acmeva_caa_decide(recs, n, &req, NULL, 0, &notes) != permits)
        abort();
    if ((notes & ACMEVA_CAA_WANTS_METHOD) && (permits || req.method != NULL))
        abort();

    /* RFC 8659 §4.1: whatever else is there, a critical unknown property forbids. */
    recs[n].flags = ACMEVA_CAA_FLAG_CRITICAL;
    recs[n].tag = "zzunknown";
    recs[n].tag_len = 9;
    recs[n].value = (const uint8_t *)"";
    recs[n].value_len = 0;
    if (acmeva_caa_permits(recs, n + 1, &req, reason, sizeof(reason)) != 0)
        abort();
    return 0;
}
