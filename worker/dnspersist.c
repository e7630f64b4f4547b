/*
 * dns-persist-01 records (draft-ietf-acme-dns-persist-02, BR 3.2.2.4.22). The rules are listed
 * at the top of dnspersist.h; the parameter grammar is RFC 8659 §4.2's, shared with CAA.
 */
#include "dnspersist.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/base64.h>
#include <openssl/sha.h>

#include "caapolicy.h"
#include "textbuf.h"

#define PERSIST_QUOTE_MAX 120 /* record bytes quoted in a reason; longer ones are cut */

/* ---- issuer-domain-name ----------------------------------------------------------------- */

static int is_wsp(char c)
{
    return c == ' ' || c == '\t'; /* RFC 5234 WSP */
}

static int is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * issuer_span finds the issuer-domain-name of a record: the bytes before the first ';' (or
 * all of them), WSP trimmed, one trailing dot dropped (draft §9.2 step 4). Sets [*b, *e) and
 * *semi (the offset of the first ';', |len| when there is none).
 */
static void issuer_span(const char *txt, size_t len, size_t *b, size_t *e, size_t *semi)
{
    const char *p = len > 0 ? memchr(txt, ';', len) : NULL;
    size_t end = p != NULL ? (size_t)(p - txt) : len;
    *semi = end;
    size_t start = 0;
    while (start < end && is_wsp(txt[start]))
        start++;
    while (end > start && is_wsp(txt[end - 1]))
        end--;
    if (end > start && txt[end - 1] == '.')
        end--;
    *b = start;
    *e = end;
}

/* draft §4.2, §7.6: issuer names compare after normalization (ASCII lowercase, no trailing
 * dot); the configured names are normalized the same way here. */
static int issuer_is_ours(const char *s, size_t n, const char *const *issuers, size_t n_issuers)
{
    if (n == 0 || issuers == NULL)
        return 0;
    for (size_t i = 0; i < n_issuers; i++) {
        const char *d = issuers[i];
        if (d == NULL)
            continue;
        size_t dn = strlen(d);
        if (dn > 0 && d[dn - 1] == '.')
            dn--;
        if (dn == n && strncasecmp(s, d, n) == 0)
            return 1;
    }
    return 0;
}

/* ---- parameters ------------------------------------------------------------------------- */

/* tag_is: whether parameter |p| has the tag |name|, without case (RFC 8659 §4.1). */
static int tag_is(const acmeva_caa_param_span *p, const char *name)
{
    return p->tag_len == strlen(name) && strncasecmp(p->tag, name, p->tag_len) == 0;
}

/* draft §4.1 item 5: a base-10 integer. Like Boulder's strconv.ParseInt: an optional sign,
 * then digits, within int64. */
static int parse_unix_seconds(const char *s, size_t n, int64_t *out)
{
    const char *end = s + n;
    int neg = 0;
    if (s < end && (*s == '+' || *s == '-'))
        neg = *s++ == '-';
    if (s == end)
        return -1;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t mag = 0;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        uint64_t d = (uint64_t)(*s - '0');
        if (mag > (limit - d) / 10)
            return -1;
        mag = mag * 10 + d;
    }
    if (neg)
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    else
        *out = (int64_t)mag;
    return 0;
}

int acmeva_persist_parse(const char *txt, size_t len, acmeva_persist_value *out, char *err,
                         size_t errlen)
{
    acmeva_text e;
    acmeva_text_init(&e, err, errlen);
    if (out == NULL || (txt == NULL && len > 0)) {
        acmeva_text_printf(&e, "invalid arguments");
        return ACMEVA_PERSIST_EINVAL;
    }
    if (txt == NULL)
        txt = "";
    memset(out, 0, sizeof(*out));

    size_t b, end, semi;
    issuer_span(txt, len, &b, &end, &semi);
    if (b == end) {
        acmeva_text_printf(&e, "missing issuer-domain-name");
        return ACMEVA_PERSIST_ESYNTAX;
    }
    if (end - b > ACMEVA_PERSIST_MAX_ISSUER ||
        !acmeva_caa_issuer_domain_ok((const uint8_t *)txt + b, end - b)) {
        acmeva_text_printf(&e, "invalid issuer-domain-name ");
        acmeva_text_quote(&e, (const uint8_t *)(txt + b), end - b, PERSIST_QUOTE_MAX);
        return ACMEVA_PERSIST_ESYNTAX;
    }
    for (size_t i = b; i < end; i++) {
        char c = txt[i];
        out->issuer[i - b] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out->issuer[end - b] = '\0';

    /* The rest is "; parameters" of the RFC 8659 §4.2 issue-value (draft §4.1 item 1), read
     * one parameter at a time: only the known tags are kept, so unknown ones cost their bytes
     * (which DNS bounds) and nothing else, however many there are (§4.1 item 1: ignored). */
    enum { SEEN_ACCOUNTURI = 1, SEEN_POLICY = 2, SEEN_PERSIST_UNTIL = 4 };
    unsigned seen = 0;
    acmeva_caa_params it;
    if (semi < len)
        acmeva_caa_params_init(&it, (const uint8_t *)txt + semi + 1, len - semi - 1);
    else
        acmeva_caa_params_init(&it, NULL, 0);
    acmeva_caa_param_span p;
    int rc;
    char perr[128];
    while ((rc = acmeva_caa_params_next(&it, &p, perr, sizeof(perr))) == 1) {
        unsigned tag = tag_is(&p, "accounturi")     ? SEEN_ACCOUNTURI
                       : tag_is(&p, "policy")       ? SEEN_POLICY
                       : tag_is(&p, "persistUntil") ? SEEN_PERSIST_UNTIL
                                                    : 0;
        if (tag == 0)
            continue; /* draft §4.1 item 1: unknown tags are ignored */
        /* draft §9.3.1: a duplicated parameter is malformed; RFC 8659 §4.1: tags without
         * case. */
        if (seen & tag) {
            acmeva_text_printf(&e, "parameter \"%.*s\" repeated", (int)p.tag_len, p.tag);
            return ACMEVA_PERSIST_ESYNTAX;
        }
        seen |= tag;
        if (tag == SEEN_ACCOUNTURI) {
            if (p.value_len >= sizeof(out->account_uri)) {
                acmeva_text_printf(&e, "accounturi longer than %zu bytes",
                                   sizeof(out->account_uri) - 1);
                return ACMEVA_PERSIST_ESYNTAX;
            }
            memcpy(out->account_uri, p.value, p.value_len);
            out->account_uri[p.value_len] = '\0';
            out->has_account_uri = 1;
        } else if (tag == SEEN_POLICY) {
            /* draft §4.1 item 4: values compare without case; any other value is as if the
             * parameter were absent. */
            out->policy_wildcard = p.value_len == 8 && strncasecmp(p.value, "wildcard", 8) == 0;
        } else if (parse_unix_seconds(p.value, p.value_len, &out->persist_until) != 0) {
            acmeva_text_printf(&e, "persistUntil ");
            acmeva_text_quote(&e, (const uint8_t *)p.value, p.value_len, PERSIST_QUOTE_MAX);
            acmeva_text_printf(&e, " is not a base-10 integer");
            return ACMEVA_PERSIST_ESYNTAX;
        } else {
            out->has_persist_until = 1;
        }
    }
    if (rc < 0) {
        acmeva_text_printf(&e, "parameters: %s", perr);
        return ACMEVA_PERSIST_ESYNTAX;
    }

    /* draft §4.1 item 3, §9.3.1: accounturi is mandatory. */
    if (!out->has_account_uri) {
        acmeva_text_printf(&e, "missing mandatory accounturi parameter");
        return ACMEVA_PERSIST_ESYNTAX;
    }
    if (out->account_uri[0] == '\0') {
        acmeva_text_printf(&e, "empty accounturi parameter");
        return ACMEVA_PERSIST_ESYNTAX;
    }
    return 0;
}

/* ---- judgement -------------------------------------------------------------------------- */

acmeva_persist_verdict acmeva_persist_judge(const char *txt, size_t len, const char *const *issuers,
                                            size_t n_issuers, const char *account_uri, int wildcard,
                                            int64_t now_s, char *why, size_t why_len)
{
    acmeva_text w;
    acmeva_text_init(&w, why, why_len);
    if (txt == NULL && len > 0) {
        acmeva_text_printf(&w, "no record");
        return ACMEVA_PERSIST_OTHER_ISSUER;
    }
    if (txt == NULL)
        txt = "";

    /* draft §4.3.2 step 2: records for other issuers are ignored. */
    size_t b, e, semi;
    issuer_span(txt, len, &b, &e, &semi);
    if (!issuer_is_ours(txt + b, e - b, issuers, n_issuers)) {
        acmeva_text_printf(&w, "issuer-domain-name ");
        acmeva_text_quote(&w, (const uint8_t *)(txt + b), e - b, PERSIST_QUOTE_MAX);
        acmeva_text_printf(&w, " is not this CA's");
        return ACMEVA_PERSIST_OTHER_ISSUER;
    }

    acmeva_persist_value v;
    if (acmeva_persist_parse(txt, len, &v, why, why_len) != 0)
        return ACMEVA_PERSIST_MALFORMED;

    /* draft §4.1 item 3, §4.2: simple string comparison, no normalization. */
    if (account_uri == NULL) {
        acmeva_text_printf(&w, "no account URI to compare accounturi with");
        return ACMEVA_PERSIST_MISMATCH;
    }
    if (strcmp(v.account_uri, account_uri) != 0) {
        acmeva_text_printf(&w, "accounturi mismatch: expected ");
        acmeva_text_quote(&w, (const uint8_t *)(account_uri), strlen(account_uri),
                          PERSIST_QUOTE_MAX);
        acmeva_text_printf(&w, ", got ");
        acmeva_text_quote(&w, (const uint8_t *)(v.account_uri), strlen(v.account_uri),
                          PERSIST_QUOTE_MAX);
        return ACMEVA_PERSIST_MISMATCH;
    }
    /* draft §5: only policy=wildcard extends a record to wildcard names. */
    if (wildcard && !v.policy_wildcard) {
        acmeva_text_printf(&w, "a wildcard identifier needs policy=wildcard");
        return ACMEVA_PERSIST_MISMATCH;
    }
    /* draft §4.1 item 5: after T the record is not valid for new validations. */
    if (v.has_persist_until && now_s > v.persist_until) {
        acmeva_text_printf(&w, "persistUntil %lld is in the past (now %lld)",
                           (long long)v.persist_until, (long long)now_s);
        return ACMEVA_PERSIST_MISMATCH;
    }
    acmeva_text_printf(&w, "record for issuer %s matches", v.issuer);
    return ACMEVA_PERSIST_MATCH;
}

/* ---- draft-02 hashed account URI -------------------------------------------------------- */

static int is_b64url(char c)
{
    return is_alnum(c) || c == '-' || c == '_';
}

int acmeva_persist_hashed_account_uri(const char *prefix, const char *domain,
                                      const char *thumbprint, const char *account_url, char *out,
                                      size_t outlen)
{
    if (out != NULL && outlen > 0)
        out[0] = '\0';
    if (prefix == NULL || domain == NULL || thumbprint == NULL || account_url == NULL ||
        out == NULL || outlen == 0)
        return ACMEVA_PERSIST_EINVAL;
    size_t dn = strlen(domain);
    if (dn == 0 || dn > 255) /* one length octet (draft §4.1 item 3.1) */
        return ACMEVA_PERSIST_EINVAL;
    /* draft §4.1 item 3.3: the 43 octets of the unpadded base64url JWK thumbprint. */
    if (strlen(thumbprint) != 43)
        return ACMEVA_PERSIST_EINVAL;
    for (size_t i = 0; i < 43; i++) {
        if (!is_b64url(thumbprint[i]))
            return ACMEVA_PERSIST_EINVAL;
    }

    uint8_t lenbyte = (uint8_t)dn;
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, &lenbyte, 1);
    SHA256_Update(&ctx, domain, dn);
    SHA256_Update(&ctx, thumbprint, 43);
    SHA256_Update(&ctx, account_url, strlen(account_url));
    SHA256_Final(digest, &ctx);

    uint8_t b64[45]; /* 44 characters (one '=') and a NUL */
    EVP_EncodeBlock(b64, digest, sizeof(digest));
    char hash[44];
    for (size_t i = 0; i < 43; i++) {
        char c = (char)b64[i];
        hash[i] = c == '+' ? '-' : c == '/' ? '_' : c; /* RFC 4648 §5 */
    }
    hash[43] = '\0';
    int n = snprintf(out, outlen, "%ssha-256/%s", prefix, hash);
    if (n < 0 || (size_t)n >= outlen) {
        out[0] = '\0';
        return ACMEVA_PERSIST_ENOSPC;
    }
    return 0;
}
