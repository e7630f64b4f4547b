/*
 * proto/resultdoc.c and proto/mpicjob.c: what the coordinator keeps of a perspective's result
 * (lists first come, distinct, capped; strings only; nothing of a document that is not JSON),
 * the splice that makes the MPIC result (members replaced where they stand, dropped, added at
 * the end; every other byte copied), and the sub-jobs written from a job's bytes.
 * tests/fuzz/fuzz_resultdoc.c and fuzz_mpicjob.c hold the same against jansson on any input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmeva/proto.h"
#include "check.h"

static const char result[] =
    "{\"v\":1,\"id\":\"j/mpic:00:r1\",\"status\":\"invalid\","
    "\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},"
    "\"validationRecord\":[{\"addressesResolved\":[\"::1\",\"127.0.0.1\",\"::1\"],"
    "\"records\":[\"t\"]},{\"addressesResolved\":[\"127.0.0.2\",7,\"127.0.0.1\"]}],"
    "\"error\":{\"type\":\"urn:ietf:params:acme:error:dns\",\"detail\":\"d\\u00e9\",\"status\":400}"
    ","
    "\"caa\":{\"status\":\"valid\",\"foundAt\":null,\"records\":[\"x\",1,\"x\"],\"error\":null},"
    "\"perspective\":\"r1\",\"rir\":\"ARIN\",\"worker\":\"h\",\"attempt\":1,\"startedMs\":5,"
    "\"durationMs\":1.25e1}";

static void test_read(void)
{
    acmeva_resultdoc d;
    CHECK_INT(acmeva_resultdoc_read(&d, result, strlen(result)), 0);
    CHECK(d.is_object);
    CHECK(d.id != NULL && strcmp(d.id, "j/mpic:00:r1") == 0);
    CHECK(d.status != NULL && strcmp(d.status, "invalid") == 0);
    CHECK(d.perspective != NULL && strcmp(d.perspective, "r1") == 0);
    CHECK(d.ident_value != NULL && strcmp(d.ident_value, "a.example") == 0);
    CHECK(d.error_type != NULL && strcmp(d.error_type, "urn:ietf:params:acme:error:dns") == 0);
    CHECK(d.error_detail != NULL && strcmp(d.error_detail, "d\xc3\xa9") == 0);
    CHECK(d.caa_found_at == NULL && d.has_caa && d.has_caa_records);
    CHECK(d.has_duration && d.duration_ms == 12.5);
    CHECK_INT(d.duration_end - d.duration_at, 6);
    /* Distinct, in the order they first came, strings only. */
    CHECK_INT(d.addresses.n, 3);
    CHECK(d.addresses.n == 3 && strcmp(d.addresses.v[0].s, "::1") == 0 &&
          strcmp(d.addresses.v[1].s, "127.0.0.1") == 0 &&
          strcmp(d.addresses.v[2].s, "127.0.0.2") == 0);
    CHECK_INT(d.txt.n, 1);
    /* caa.records as they are, repeats kept, strings only. */
    CHECK_INT(d.caa_records.n, 2);
    CHECK_INT(d.n_members, 13);
    acmeva_resultdoc_clear(&d);

    /* Nothing of what is not JSON, or of a duplicate key anywhere. */
    const char *bad[] = {"{\"id\":\"a\",\"id\":\"b\"}", "{\"id\":\"a\"",
                         "{\"id\":\"a\",\"caa\":{\"records\":[],\"records\":[]}}",
                         "{\"id\":\"a\"}x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(acmeva_resultdoc_read(&d, bad[i], strlen(bad[i])) < 0);
        CHECK(d.id == NULL && !d.is_object && d.n_members == 0);
        acmeva_resultdoc_clear(&d);
    }
    /* Not an object: read, but nothing to use. */
    CHECK_INT(acmeva_resultdoc_read(&d, "[\"id\"]", 6), 0);
    CHECK(!d.is_object && d.id == NULL);
    acmeva_resultdoc_clear(&d);
}

static void test_cap(void)
{
    char buf[8192];
    size_t o = 0;
    o += (size_t)snprintf(buf + o, sizeof(buf) - o,
                          "{\"validationRecord\":[{\"addressesResolved\":[");
    for (int i = 0; i < ACMEVA_RESULTDOC_LIST_MAX + 10; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\"10.0.0.%d\"", i ? "," : "", i);
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, ",\"10.0.0.1\"]}]}");
    acmeva_resultdoc d;
    CHECK_INT(acmeva_resultdoc_read(&d, buf, o), 0);
    CHECK_INT(d.addresses.n, ACMEVA_RESULTDOC_LIST_MAX);
    CHECK_INT(d.addresses.more, 10); /* the repeat of a kept one is not counted */
    acmeva_resultdoc_clear(&d);
}

static char *splice(const char *doc, const acmeva_rd_edit *e, size_t n)
{
    acmeva_resultdoc d;
    acmeva_jbuf out = {0};
    char *s = NULL;
    if (acmeva_resultdoc_read(&d, doc, strlen(doc)) == 0 &&
        acmeva_resultdoc_splice(&d, doc, e, n, &out) == 0)
        s = acmeva_jbuf_finish(&out);
    acmeva_jbuf_clear(&out);
    acmeva_resultdoc_clear(&d);
    return s;
}

static void test_splice(void)
{
    const acmeva_rd_edit e[] = {
        {ACMEVA_RD_ID, "id", "\"job\"", 5},
        {ACMEVA_RD_ATTEMPT, "attempt", "2", 1},
        {ACMEVA_RD_STATUS, "status", "\"valid\"", 7},
        {ACMEVA_RD_ERROR, "error", NULL, 0},
        {ACMEVA_RD_MPIC, "mpic", "{}", 2},
    };
    /* Replaced where they stand, dropped, the missing ones added at the end in their order;
     * every other member byte for byte, white space and escapes included. */
    char *s = splice(" { \"v\" : 1 , \"\\u0069d\":\"x\",\"status\":\"invalid\",\"error\":{},"
                     "\"z\":[1, \"\\/\"] } ",
                     e, 5);
    CHECK_MSG(s != NULL && strcmp(s, "{\"v\" : 1,\"id\":\"job\",\"status\":\"valid\",\"z\":[1, "
                                     "\"\\/\"],\"attempt\":2,\"mpic\":{}}") == 0,
              "%s", s ? s : "(null)");
    free(s);
    s = splice("{}", e, 5);
    CHECK_MSG(s != NULL && strcmp(s, "{\"id\":\"job\",\"attempt\":2,\"status\":\"valid\","
                                     "\"mpic\":{}}") == 0,
              "%s", s ? s : "(null)");
    free(s);
    /* A document that is not an object cannot be spliced. */
    CHECK(splice("[1]", e, 5) == NULL);
}

static void test_subjob(void)
{
    const char *job = "{\"v\":1,\"id\":\"a\",\"mpic\":{\"perspectiveCount\":5,\"quorumCount\":4.0},"
                      "\"replyTo\":\"acmeva:v1:results\",\"x\":\"\\u00e9\"}";
    acmeva_mpicjob d;
    CHECK_INT(acmeva_mpicjob_read(&d, job, strlen(job)), 0);
    CHECK(d.has_mpic && d.mpic_is_object);
    CHECK(d.perspective_count.present && d.perspective_count.is_integer &&
          d.perspective_count.value == 5);
    CHECK(d.quorum_count.present && !d.quorum_count.is_integer); /* 4.0 is a real */
    size_t blen = 0, slen = 0;
    char *body = acmeva_mpicjob_subjob_body(&d, job, "r:s", 42, &blen);
    CHECK_MSG(
        body != NULL &&
            strcmp(body, "{\"v\":1,\"replyTo\":\"r:s\",\"x\":\"\\u00e9\",\"deadlineMs\":42}") == 0,
        "%s", body ? body : "(null)");
    char *sj = body ? acmeva_mpicjob_subjob(body, blen, "a/mpic:1:r1", &slen) : NULL;
    CHECK_MSG(sj != NULL && slen == strlen(sj) &&
                  strcmp(sj,
                         "{\"id\":\"a/mpic:1:r1\",\"v\":1,\"replyTo\":\"r:s\",\"x\":\"\\u00e9\","
                         "\"deadlineMs\":42}") == 0,
              "%s", sj ? sj : "(null)");
    free(sj);
    free(body);
    acmeva_mpicjob_clear(&d);
    /* A job of only an id and mpic: the body is {} plus the coordinator's members. */
    CHECK_INT(acmeva_mpicjob_read(&d, "{\"id\":\"a\"}", 10), 0);
    body = acmeva_mpicjob_subjob_body(&d, "{\"id\":\"a\"}", "r", 1, &blen);
    CHECK(body != NULL && strcmp(body, "{\"replyTo\":\"r\",\"deadlineMs\":1}") == 0);
    free(body);
    acmeva_mpicjob_clear(&d);
    sj = acmeva_mpicjob_subjob("{}", 2, "i", &slen);
    CHECK(sj != NULL && strcmp(sj, "{\"id\":\"i\"}") == 0);
    free(sj);
}

int main(void)
{
    test_read();
    test_cap();
    test_splice();
    test_subjob();
    return CHECK_DONE();
}
