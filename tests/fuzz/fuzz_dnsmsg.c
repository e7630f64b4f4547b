/*
 * Fuzz target for the DNS message codec (worker/dnsmsg.c). The input is parsed as a
 * response; on success every answer goes through each typed reader. The input is also taken
 * as a query name: when the builder accepts it, the query it builds must parse back to the
 * same (lowercased) name, or the target aborts.
 */
#include "dnsmsg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_answers(const acmeva_dns_msg *m)
{
    static char txt[70000];
    char target[256];
    acmeva_caa_rr caa;
    uint8_t addr[16];
    int family;

    if (m->n_answers > ACMEVA_DNS_MAX_RECORDS)
        abort();
    for (size_t i = 0; i < m->n_answers; i++) {
        const acmeva_dns_rr *rr = &m->answers[i];
        if (strlen(rr->owner) > ACMEVA_DNS_MAX_NAME_TEXT)
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
    (void)acmeva_dns_rcode_name(m->rcode);
    (void)acmeva_dns_matches_query(m, m->id, m->qname, m->qtype);
}

static void check_query_roundtrip(const uint8_t *data, size_t size, acmeva_dns_msg *m)
{
    char name[300];
    if (size >= sizeof(name))
        return;
    memcpy(name, data, size);
    name[size] = '\0';
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (data == NULL)
        return 0;
    acmeva_dns_msg *m = malloc(sizeof(*m));
    if (m == NULL)
        return 0;
    if (acmeva_dns_parse(data, size, m) == 0)
        check_answers(m);
    check_query_roundtrip(data, size, m);
    free(m);
    return 0;
}
