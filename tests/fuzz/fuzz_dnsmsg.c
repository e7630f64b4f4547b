/*
 * Fuzz target for the DNS message codec (worker/dnsmsg.c). The input is parsed as a
 * response; on success every answer goes through each typed reader, its Extended DNS Errors
 * are checked to lie inside the message, and the CNAME-chain filter runs on it. The input is
 * also matched as a reply against a query of its own id (acmeva_dns_match_reply) and taken
 * as a query name: when the builder accepts it, the query it builds must parse back to the
 * same (lowercased) name, also after random letter case (0x20), or the target aborts.
 */
#include "dnsmsg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int inside(const acmeva_dns_msg *m, const uint8_t *p, size_t n)
{
    uintptr_t base = (uintptr_t)m->msg, at = (uintptr_t)p;
    return at >= base && at - base <= m->msg_len && m->msg_len - (at - base) >= n;
}

static void check_answers(acmeva_dns_msg *m)
{
    static char txt[70000];
    char target[256], owner[256];
    acmeva_caa_rr caa;
    uint8_t addr[16];
    int family;

    if (m->n_answers > ACMEVA_DNS_MAX_RECORDS || m->n_ede > ACMEVA_DNS_MAX_EDE)
        abort();
    for (size_t i = 0; i < m->n_answers; i++) {
        const acmeva_dns_rr *rr = &m->answers[i];
        /* Every owner was checked by the parse: presenting it cannot fail. */
        if (acmeva_dns_rr_owner(m, rr, owner) != 0 || strlen(owner) > ACMEVA_DNS_MAX_NAME_TEXT)
            abort();
        if (!inside(m, rr->rdata, rr->rdlen))
            abort();
        int n = acmeva_dns_txt_join(rr->rdata, rr->rdlen, txt, sizeof(txt));
        if (n > (int)rr->rdlen)
            abort();
        if (acmeva_dns_caa_parse(rr->rdata, rr->rdlen, &caa) == 0 &&
            (caa.tag_len == 0 || 2 + caa.tag_len + caa.value_len != rr->rdlen))
            abort();
        (void)acmeva_dns_addr(rr, &family, addr);
        if (acmeva_dns_cname_target(m, rr, target) == 0 &&
            strlen(target) > ACMEVA_DNS_MAX_NAME_TEXT)
            abort();
    }
    for (size_t i = 0; i < m->n_ede; i++) {
        if (!inside(m, m->ede[i].text, m->ede[i].text_len) ||
            acmeva_dns_ede_name(m->ede[i].code) == NULL)
            abort();
        (void)acmeva_dns_ede_is_dnssec(m->ede[i].code);
    }
    (void)acmeva_dns_rcode_name(m->rcode);

    /* The chain filter keeps a subset: records of the question's type, or CNAMEs, of class
     * IN, owned by the question name or a name the chain reached. */
    size_t before = m->n_answers;
    if (acmeva_dns_answer_chain(m) != 0 || m->n_answers > before ||
        m->n_answers + m->n_answers_ignored != before)
        abort();
    for (size_t i = 0; i < m->n_answers; i++) {
        const acmeva_dns_rr *rr = &m->answers[i];
        if (rr->klass != ACMEVA_DNS_CLASS_IN ||
            (rr->type != m->qtype && rr->type != ACMEVA_DNS_CNAME))
            abort();
    }
    /* With no CNAME in the answer, the chain is the question name alone. */
    int has_cname = 0;
    for (size_t i = 0; i < m->n_answers; i++)
        has_cname |= m->answers[i].type == ACMEVA_DNS_CNAME;
    for (size_t i = 0; i < m->n_answers && !has_cname; i++)
        if (acmeva_dns_rr_owner(m, &m->answers[i], owner) != 0 || strcmp(owner, m->qname) != 0)
            abort();
}

/* The input as a reply to a query for "Fuzz.Example" of its own id: a reply that counts must
 * carry the query's question byte for byte. */
static void check_match(const uint8_t *data, size_t size, acmeva_dns_msg *m)
{
    uint8_t q[512];
    uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
    int n = acmeva_dns_build_query(q, sizeof(q), id, "Fuzz.Example", ACMEVA_DNS_TXT, 1232);
    if (n <= 0)
        abort();
    size_t qsec = (size_t)n - 12 - 11; /* the question: the query minus header and OPT */
    if (acmeva_dns_match_reply(q, (size_t)n, data, size, m) == 0 &&
        (size < 12 + qsec || memcmp(data + 12, q + 12, qsec) != 0 || m->n_questions != 1))
        abort();
}

static void check_query_roundtrip(const uint8_t *data, size_t size, acmeva_dns_msg *m)
{
    char name[300];
    if (size >= sizeof(name))
        return;
    memcpy(name, data, size);
    name[size] = '\0';
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            /* 0x20 on the same name: the case changes, nothing else does. */
            char before[300];
            memcpy(before, name, sizeof(before));
            acmeva_dns_0x20(name, data, size);
            for (size_t i = 0; i < size; i++) {
                char a = before[i], b = name[i];
                if (a >= 'A' && a <= 'Z')
                    a = (char)(a - 'A' + 'a');
                if (b >= 'A' && b <= 'Z')
                    b = (char)(b - 'A' + 'a');
                if (a != b)
                    abort();
            }
        }
        uint8_t q[512];
        int n = acmeva_dns_build_query(q, sizeof(q), 0x1234, name, ACMEVA_DNS_TXT, 1232);
        if (n < 0)
            return;
        if (acmeva_dns_parse(q, (size_t)n, m) != 0 || m->qr || !m->rd || !m->ad || !m->edns ||
            m->n_questions != 1 || m->qtype != ACMEVA_DNS_TXT)
            abort();
        size_t len = strlen(name);
        if (len > 0 && name[len - 1] == '.')
            len--;
        if (strlen(m->qname) != len)
            abort();
        for (size_t i = 0; i < len; i++) {
            char c = name[i];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if (c != m->qname[i])
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (data == NULL)
        return 0;
    acmeva_dns_msg *m = malloc(sizeof(*m));
    if (m == NULL)
        return 0;
    if (acmeva_dns_parse(data, size, m) == 0)
        check_answers(m);
    check_match(data, size, m);
    check_query_roundtrip(data, size, m);
    free(m);
    return 0;
}
