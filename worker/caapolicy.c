/*
 * The CAA decision: RFC 8659 §4 (properties, issue/issuewild grammar), RFC 8657 (accounturi,
 * validationmethods), BR 3.2.2.8, with Boulder's stricter readings (va/caa.go). The rules are
 * listed at the top of caapolicy.h.
 */
#include "caapolicy.h"
#include "textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Bytes of a record value quoted in a reason; longer values are cut and marked "...". */
#define CAA_QUOTE_MAX 120

/* ---- RFC 8659 §4.2 value grammar ------------------------------------------------------- */

static int is_wsp(uint8_t c)
{
    return c == ' ' || c == '\t'; /* RFC 5234 WSP */
}

static int is_alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* RFC 8659 §4.2: parameter-value = *(%x21-3A / %x3C-7E) */
static int is_value_char(uint8_t c)
{
    return (c >= 0x21 && c <= 0x3a) || (c >= 0x3c && c <= 0x7e);
}

/*
 * ldh_ok checks label = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT)), and with |dots| a
 * sequence of such labels joined by single dots (issuer-domain-name). Empty input fails.
 */
static int ldh_ok(const uint8_t *s, size_t n, int dots)
{
    if (n == 0)
        return 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || (dots && s[i] == '.')) {
            if (i == start || !is_alnum(s[start]) || !is_alnum(s[i - 1]))
                return 0;
            start = i + 1;
            continue;
        }
        if (!is_alnum(s[i]) && s[i] != '-')
            return 0;
    }
    return 1;
}

int acmeva_caa_issuer_domain_ok(const uint8_t *s, size_t n)
{
    return ldh_ok(s, n, 1);
}

static size_t skip_wsp(const uint8_t *v, size_t len, size_t i)
{
    while (i < len && is_wsp(v[i]))
        i++;
    return i;
}

void acmeva_caa_params_init(acmeva_caa_params *it, const uint8_t *v, size_t len)
{
    it->v = v;
    it->len = v != NULL ? len : 0;
    it->pos = skip_wsp(it->v, it->len, 0);
    it->n = 0;
    it->done = it->pos == it->len; /* "issuer;" and ";" carry no parameters */
}

/* Tags are at most this long in an error text; longer ones are cut there. */
#define ERR_TAG_MAX 40

int acmeva_caa_params_next(acmeva_caa_params *it, acmeva_caa_param_span *p, char *err,
                           size_t errlen)
{
    acmeva_text e;
    acmeva_text_init(&e, err, errlen);
    if (it->done)
        return 0;
    const uint8_t *v = it->v;
    size_t len = it->len, i = it->pos;
    size_t no = it->n + 1;

    /* parameter = parameter-tag *WSP "=" *WSP parameter-value */
    size_t start = i;
    while (i < len && (is_alnum(v[i]) || v[i] == '-'))
        i++;
    if (!ldh_ok(v + start, i - start, 0)) {
        acmeva_text_printf(&e, "parameter %zu: invalid tag", no);
        return ACMEVA_CAA_ESYNTAX;
    }
    p->tag = (const char *)v + start;
    p->tag_len = i - start;
    int shown = p->tag_len > ERR_TAG_MAX ? ERR_TAG_MAX : (int)p->tag_len;
    const char *cut = p->tag_len > ERR_TAG_MAX ? "..." : "";

    i = skip_wsp(v, len, i);
    if (i == len || v[i] != '=') {
        acmeva_text_printf(&e, "parameter %zu (\"%.*s%s\"): expected '='", no, shown, p->tag, cut);
        return ACMEVA_CAA_ESYNTAX;
    }
    i = skip_wsp(v, len, i + 1);
    start = i;
    while (i < len && is_value_char(v[i]))
        i++;
    p->value = (const char *)v + start;
    p->value_len = i - start;
    it->n++;

    i = skip_wsp(v, len, i);
    if (i == len) {
        it->done = 1;
        return 1;
    }
    if (v[i] != ';') {
        acmeva_text_printf(&e, "parameter %zu (\"%.*s%s\"): unexpected byte 0x%02x after the value",
                           no, shown, p->tag, cut, v[i]);
        return ACMEVA_CAA_ESYNTAX;
    }
    i = skip_wsp(v, len, i + 1);
    if (i == len) {
        /* parameters = (parameter *WSP ";" *WSP parameters) / parameter */
        acmeva_text_printf(&e, "';' after the last parameter");
        return ACMEVA_CAA_ESYNTAX;
    }
    it->pos = i;
    return 1;
}

int acmeva_caa_value_parse_err(const uint8_t *v, size_t len, acmeva_caa_value *out, char *err,
                               size_t errlen)
{
    acmeva_text e;
    acmeva_text_init(&e, err, errlen);
    if (out == NULL || (v == NULL && len > 0)) {
        acmeva_text_printf(&e, "invalid arguments");
        return ACMEVA_CAA_EINVAL;
    }
    out->issuer[0] = '\0';
    out->n_params = 0;

    size_t i = skip_wsp(v, len, 0);
    size_t start = i;
    while (i < len && !is_wsp(v[i]) && v[i] != ';')
        i++;
    if (i > start) {
        if (i - start > ACMEVA_CAA_MAX_ISSUER) {
            acmeva_text_printf(&e, "issuer-domain-name longer than %d bytes",
                               ACMEVA_CAA_MAX_ISSUER);
            return ACMEVA_CAA_ELIMIT;
        }
        if (!ldh_ok(v + start, i - start, 1)) {
            acmeva_text_printf(&e, "invalid issuer-domain-name");
            return ACMEVA_CAA_ESYNTAX;
        }
        memcpy(out->issuer, v + start, i - start);
        out->issuer[i - start] = '\0';
    }
    i = skip_wsp(v, len, i);
    if (i == len)
        return 0;
    if (v[i] != ';') {
        acmeva_text_printf(&e, "expected ';' after the issuer-domain-name, got byte 0x%02x", v[i]);
        return ACMEVA_CAA_ESYNTAX;
    }

    acmeva_caa_params it;
    acmeva_caa_params_init(&it, v + i + 1, len - i - 1);
    acmeva_caa_param_span sp;
    int rc;
    while ((rc = acmeva_caa_params_next(&it, &sp, err, errlen)) == 1) {
        /* The decision compares every parameter with every other: the caps bound that work. */
        if (sp.tag_len > ACMEVA_CAA_MAX_PARAM_TAG) {
            acmeva_text_printf(&e, "parameter %zu: tag longer than %d bytes", it.n,
                               ACMEVA_CAA_MAX_PARAM_TAG);
            return ACMEVA_CAA_ELIMIT;
        }
        if (out->n_params == ACMEVA_CAA_MAX_PARAMS) {
            acmeva_text_printf(&e, "more than %d parameters", ACMEVA_CAA_MAX_PARAMS);
            return ACMEVA_CAA_ELIMIT;
        }
        acmeva_caa_param *p = &out->params[out->n_params];
        memcpy(p->tag, sp.tag, sp.tag_len);
        p->tag[sp.tag_len] = '\0';
        if (sp.value_len > ACMEVA_CAA_MAX_PARAM_VALUE) {
            acmeva_text_printf(&e, "parameter %zu (\"%s\"): value longer than %d bytes", it.n,
                               p->tag, ACMEVA_CAA_MAX_PARAM_VALUE);
            return ACMEVA_CAA_ELIMIT;
        }
        memcpy(p->value, sp.value, sp.value_len);
        p->value[sp.value_len] = '\0';
        out->n_params++;
    }
    return rc;
}

int acmeva_caa_value_parse(const uint8_t *value, size_t len, acmeva_caa_value *out)
{
    return acmeva_caa_value_parse_err(value, len, out, NULL, 0);
}

/* ---- the decision ---------------------------------------------------------------------- */

typedef enum {
    CAA_TAG_UNKNOWN = 0,
    CAA_TAG_ISSUE,
    CAA_TAG_ISSUEWILD,
    CAA_TAG_IGNORED, /* understood, with no bearing on TLS issuance by this CA */
} caa_tag_kind;

static int tag_is(const char *tag, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len == n && strncasecmp(tag, name, n) == 0;
}

/* RFC 8659 §4.1: "Matching of tags is case insensitive." */
static caa_tag_kind classify_tag(const char *tag, size_t len)
{
    if (tag == NULL || len == 0 || memchr(tag, '\0', len) != NULL)
        return CAA_TAG_UNKNOWN;
    if (tag_is(tag, len, "issue"))
        return CAA_TAG_ISSUE;
    if (tag_is(tag, len, "issuewild"))
        return CAA_TAG_ISSUEWILD;
    /* iodef: RFC 8659 §4.4 (reports are not sent, the tag is understood). issuemail:
     * RFC 9495 (S/MIME only). issuevmc: Mark Certificate (VMC) requirements. contactemail
     * and contactphone: BR Appendix A (contacts for other validation methods). */
    static const char *const ignored[] = {"iodef", "issuemail", "issuevmc", "contactemail",
                                          "contactphone"};
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
        if (tag_is(tag, len, ignored[i]))
            return CAA_TAG_IGNORED;
    }
    return CAA_TAG_UNKNOWN;
}

static const acmeva_caa_param *find_param(const acmeva_caa_value *v, const char *tag)
{
    for (size_t i = 0; i < v->n_params; i++) {
        if (strcasecmp(v->params[i].tag, tag) == 0)
            return &v->params[i];
    }
    return NULL;
}

/* RFC 8657 §4: value = [*(label ",") label], label = 1*(ALPHA / DIGIT / "-"). Like Boulder,
 * an empty list is refused as well: it could never contain the job's method anyway. */
static int methods_ok(const char *list)
{
    size_t label = 0;
    for (const char *p = list;; p++) {
        if (*p == ',' || *p == '\0') {
            if (label == 0)
                return 0;
            if (*p == '\0')
                return 1;
            label = 0;
            continue;
        }
        if (!is_alnum((uint8_t)*p) && *p != '-')
            return 0;
        label++;
    }
}

static int methods_contain(const char *list, const char *method)
{
    size_t mlen = strlen(method);
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (n == mlen && memcmp(p, method, n) == 0)
            return 1;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

/*
 * value_permits applies the per-record rules of caapolicy.h to a parsed value. Returns 1 when
 * the record permits this CA; else 0 with the reason in |why|. |*ours| is set when the record
 * names one of the CA's issuer domains (used to pick the most telling reason for the log), and
 * |*wants_method| when the record failed only because the request has no method.
 */
static int value_permits(const acmeva_caa_value *v, const acmeva_caa_request *req, acmeva_text *why,
                         int *ours, int *wants_method)
{
    *ours = 0;
    *wants_method = 0;
    /* RFC 8659 §4.2: an empty issuer-domain-name grants no one ("issue ;"). */
    if (v->issuer[0] == '\0') {
        acmeva_text_printf(why, "empty issuer-domain-name permits no CA");
        return 0;
    }
    /* RFC 8659 §4.2: the issuer-domain-name is a domain name, and RFC 4343 §3 compares those
     * without ASCII case, on the record's side and on the CA's alike. The grammar admits only
     * LDH labels, so no other folding applies. */
    int match = 0;
    for (size_t i = 0; i < req->n_issuer_domains && !match; i++) {
        const char *d = req->issuer_domains != NULL ? req->issuer_domains[i] : NULL;
        match = d != NULL && strcasecmp(v->issuer, d) == 0;
    }
    if (!match) {
        acmeva_text_printf(why, "issuer-domain-name \"%s\" is not this CA's", v->issuer);
        return 0;
    }
    *ours = 1;

    /* RFC 8657 §3 (two accounturi make a record unsatisfiable), extended to every
     * parameter: a repeated parameter has no single meaning. */
    for (size_t i = 0; i < v->n_params; i++) {
        for (size_t j = i + 1; j < v->n_params; j++) {
            if (strcasecmp(v->params[i].tag, v->params[j].tag) == 0) {
                acmeva_text_printf(why, "parameter \"%s\" repeated", v->params[i].tag);
                return 0;
            }
        }
    }

    /* RFC 8657 §3: the account URI must match exactly (simple string comparison). */
    const acmeva_caa_param *acct = find_param(v, "accounturi");
    if (acct != NULL) {
        if (req->account_uri == NULL) {
            acmeva_text_printf(why, "accounturi is set and the job has no account URI");
            return 0;
        }
        if (strcmp(acct->value, req->account_uri) != 0) {
            acmeva_text_printf(why, "accounturi \"%s\" is not the job's account", acct->value);
            return 0;
        }
    }

    /* RFC 8657 §4: the challenge type must be listed. */
    const acmeva_caa_param *vm = find_param(v, "validationmethods");
    if (vm != NULL) {
        if (!methods_ok(vm->value)) {
            acmeva_text_printf(why, "validationmethods \"%s\" is malformed", vm->value);
            return 0;
        }
        if (req->method == NULL) {
            /* RFC 8657 §4: an unknown method cannot be one the record lists. Every other
             * rule of the record held, so knowing the method would have decided it. */
            acmeva_text_printf(why, "validationmethods is set and the job names no method");
            *wants_method = 1;
            return 0;
        }
        if (!methods_contain(vm->value, req->method)) {
            acmeva_text_printf(why, "validationmethods \"%s\" does not allow %s", vm->value,
                               req->method);
            return 0;
        }
    }
    return 1;
}

int acmeva_caa_permits(const acmeva_caa_record *recs, size_t n, const acmeva_caa_request *req,
                       char *reason, size_t reason_len)
{
    return acmeva_caa_decide(recs, n, req, reason, reason_len, NULL);
}

int acmeva_caa_decide(const acmeva_caa_record *recs, size_t n, const acmeva_caa_request *req,
                      char *reason, size_t reason_len, unsigned *notes)
{
    acmeva_text r;
    acmeva_text_init(&r, reason, reason_len);
    if (notes != NULL)
        *notes = 0;
    if (req == NULL || (recs == NULL && n > 0)) {
        acmeva_text_printf(&r, "invalid arguments");
        return 0;
    }
    if (n == 0) {
        acmeva_text_printf(&r, "no CAA records");
        return 1;
    }

    size_t n_issue = 0, n_wild = 0;
    for (size_t i = 0; i < n; i++) {
        caa_tag_kind k = classify_tag(recs[i].tag, recs[i].tag_len);
        if (k == CAA_TAG_ISSUE)
            n_issue++;
        else if (k == CAA_TAG_ISSUEWILD)
            n_wild++;
        else if (k == CAA_TAG_UNKNOWN &&
                 (recs[i].flags & (ACMEVA_CAA_FLAG_CRITICAL | ACMEVA_CAA_FLAG_CRITICAL_ALIAS))) {
            /* RFC 8659 §4.1: a critical property with an unknown tag forbids issuance. */
            acmeva_text_printf(&r, "unknown critical property ");
            acmeva_text_quote(&r, (const uint8_t *)recs[i].tag,
                              recs[i].tag != NULL ? recs[i].tag_len : 0, CAA_QUOTE_MAX);
            acmeva_text_printf(&r, " (flags %u) forbids issuance", (unsigned)recs[i].flags);
            return 0;
        }
    }

    /* RFC 8659 §4.3: issuewild is ignored for non-wildcard names and, when present, takes
     * the place of issue for wildcard names. */
    caa_tag_kind want = CAA_TAG_ISSUE;
    if (req->wildcard && n_wild > 0)
        want = CAA_TAG_ISSUEWILD;
    const char *want_name = want == CAA_TAG_ISSUE ? "issue" : "issuewild";
    if ((want == CAA_TAG_ISSUE ? n_issue : n_wild) == 0) {
        acmeva_text_printf(&r,
                           req->wildcard ? "no issue or issuewild records" : "no issue records");
        return 1;
    }

    acmeva_caa_value val;
    char why_buf[256], best_buf[256];
    int best_rank = -1, wants_method_any = 0;
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        if (classify_tag(recs[i].tag, recs[i].tag_len) != want)
            continue;
        acmeva_text why;
        acmeva_text_init(&why, why_buf, sizeof(why_buf));
        int ours = 0, wants_method = 0;
        char perr[128];
        if (recs[i].value == NULL && recs[i].value_len > 0) {
            acmeva_text_printf(&why, "no value");
        } else if (acmeva_caa_value_parse_err(recs[i].value, recs[i].value_len, &val, perr,
                                              sizeof(perr)) != 0) {
            /* RFC 8659 §4.2: a value that does not parse is like an empty issuer. */
            acmeva_text_printf(&why, "malformed value (%s)", perr);
        } else if (value_permits(&val, req, &why, &ours, &wants_method)) {
            acmeva_text_printf(&r, "%s record ", want_name);
            acmeva_text_quote(&r, recs[i].value, recs[i].value_len, CAA_QUOTE_MAX);
            acmeva_text_printf(&r, " permits issuance");
            return 1;
        }
        wants_method_any |= wants_method;
        if (ours > best_rank) {
            best_rank = ours;
            best = i;
            memcpy(best_buf, why_buf, sizeof(best_buf));
        }
    }
    if (notes != NULL && wants_method_any)
        *notes |= ACMEVA_CAA_WANTS_METHOD;
    acmeva_text_printf(&r, "no %s record permits issuance by this CA; %s record ", want_name,
                       want_name);
    acmeva_text_quote(&r, recs[best].value, recs[best].value != NULL ? recs[best].value_len : 0,
                      CAA_QUOTE_MAX);
    acmeva_text_printf(&r, ": %s", best_buf);
    return 0;
}
