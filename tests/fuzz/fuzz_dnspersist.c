/*
 * Fuzz target for dns-persist-01 record judgement (worker/dnspersist.c).
 *
 * Input: byte 0 picks the request (bit 0 wildcard, bit 1 no account URI); the rest is one TXT
 * value. Checked: the verdict is one of the four, |why| is terminated, and the verdict agrees
 * with acmeva_persist_parse: MALFORMED exactly when a record naming our issuer does not parse,
 * MATCH only for a parsed record with the right account, policy and persistUntil, and a parsed
 * record parses the same with 40 unknown parameters appended.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnspersist.h"

#define ACCT "https://ca.example/acct/123"
#define NOW INT64_C(1700000000)

static const char *const issuers[] = {"authority.example", "ca.example.net"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t opt = data[0];
    const char *txt = (const char *)data + 1;
    size_t len = size - 1;
    int wildcard = opt & 1;
    const char *acct = (opt & 2) ? NULL : ACCT;

    char why[200];
    memset(why, 'x', sizeof(why));
    acmeva_persist_verdict verdict =
        acmeva_persist_judge(txt, len, issuers, 2, acct, wildcard, NOW, why, sizeof(why));
    if (memchr(why, '\0', sizeof(why)) == NULL)
        abort();
    if (acmeva_persist_judge(txt, len, issuers, 2, acct, wildcard, NOW, NULL, 0) != verdict)
        abort();

    static acmeva_persist_value v;
    char err[200];
    int rc = acmeva_persist_parse(txt, len, &v, err, sizeof(err));
    if (rc != 0 && rc != ACMEVA_PERSIST_ESYNTAX)
        abort();
    if (rc == 0) {
        /* a parsed record has a lowercase LDH issuer and a non-empty account URI */
        size_t n = strlen(v.issuer);
        if (n == 0 || n > ACMEVA_PERSIST_MAX_ISSUER || v.account_uri[0] == '\0')
            abort();
        for (size_t i = 0; i < n; i++) {
            char c = v.issuer[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
                abort();
        }
        if (memchr(v.account_uri, '\0', sizeof(v.account_uri)) == NULL)
            abort();

        /* draft §4.1 item 1: unknown parameters change nothing, however many are added. */
        static char more[70000];
        static acmeva_persist_value w;
        if (len + 40 * 8 < sizeof(more)) {
            memcpy(more, txt, len);
            size_t o = len;
            for (int i = 0; i < 40; i++)
                o += (size_t)snprintf(more + o, sizeof(more) - o, "; zz%d=%d", i, i);
            if (acmeva_persist_parse(more, o, &w, NULL, 0) != 0 ||
                strcmp(w.issuer, v.issuer) != 0 || strcmp(w.account_uri, v.account_uri) != 0 ||
                w.policy_wildcard != v.policy_wildcard ||
                w.has_persist_until != v.has_persist_until || w.persist_until != v.persist_until)
                abort();
        }
    }

    switch (verdict) {
    case ACMEVA_PERSIST_MATCH:
        if (rc != 0 || acct == NULL || strcmp(v.account_uri, acct) != 0)
            abort();
        if (wildcard && !v.policy_wildcard)
            abort();
        if (v.has_persist_until && v.persist_until < NOW)
            abort();
        break;
    case ACMEVA_PERSIST_MALFORMED:
        if (rc == 0)
            abort();
        break;
    case ACMEVA_PERSIST_MISMATCH:
        if (rc != 0)
            abort();
        break;
    case ACMEVA_PERSIST_OTHER_ISSUER:
        break;
    default:
        abort();
    }
    return 0;
}
