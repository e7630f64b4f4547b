/* Unit tests of the metrics registry: shards summed (and min gauges), histograms cumulative with
 * +Inf, _sum and _count, the text exposition format 0.0.4 (HELP, TYPE, label escaping), sparse
 * labelled series, indexes out of range ignored, and writers on other threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "acmeva/engine.h"
#include "acmeva/version.h"
#include "check.h"
#include "metrics.h"

static acmeva_metrics *new_registry(size_t threads, const char *perspective)
{
    const char *p[] = {perspective};
    acmeva_metrics_config cfg = {p, 1};
    acmeva_metrics *m = NULL;
    CHECK_INT(acmeva_metrics_new(&cfg, threads, &m), 0);
    return m;
}

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

#define CHECK_LINE(text, line) CHECK_MSG(has_line((text), (line)), "no line \"%s\" in:\n%s", (line), (text))

static void test_config(void)
{
    acmeva_metrics *m = NULL;
    const char *two[] = {"p1", "p1"};
    acmeva_metrics_config dup = {two, 2}, none = {two, 0};
    CHECK_INT(acmeva_metrics_new(&dup, 1, &m), -1);
    CHECK(m == NULL);
    CHECK_INT(acmeva_metrics_new(&none, 1, &m), -1);
    const char *empty[] = {""};
    acmeva_metrics_config e = {empty, 1};
    CHECK_INT(acmeva_metrics_new(&e, 1, &m), -1);
    acmeva_metrics_free(NULL);
}

/* The problem label values follow acmeva_problem_type, whose URNs end in the same names. */
static void test_problem_labels(void)
{
    acmeva_metrics *m = new_registry(1, "default");
    if (m == NULL)
        return;
    CHECK_INT(acmeva_metrics_label_value(m, ACMEVA_ML_PROBLEM, "none"), ACMEVA_PROB_NONE);
    for (int t = ACMEVA_PROB_NONE + 1; acmeva_problem_urn((acmeva_problem_type)t) != NULL; t++) {
        const char *urn = acmeva_problem_urn((acmeva_problem_type)t);
        const char *name = strrchr(urn, ':') + 1;
        CHECK_MSG(acmeva_metrics_label_value(m, ACMEVA_ML_PROBLEM, name) == t,
                  "problem %s is not label value %d", name, t);
    }
    /* The TLS reasons follow acmeva_tls_failure. */
    CHECK_INT(acmeva_metrics_label_value(m, ACMEVA_ML_TLS_REASON, "timeout"),
              ACMEVA_TLS_FAIL_TIMEOUT);
    CHECK_INT(acmeva_metrics_label_value(m, ACMEVA_ML_TLS_REASON, "alpn"), ACMEVA_TLS_FAIL_ALPN);
    CHECK_INT(acmeva_metrics_label_value(m, ACMEVA_ML_TYPE, "caa"), 5);
    CHECK_INT(acmeva_metrics_label_value(m, ACMEVA_ML_TYPE, "nope"), -1);
    CHECK_INT(acmeva_metrics_label_value(m, ACMEVA_ML_PERSPECTIVE, "default"), 0);
    acmeva_metrics_free(m);
}

static void test_sum_and_render(void)
{
    acmeva_metrics *m = new_registry(2, "eu\"west\\1\n");
    if (m == NULL)
        return;
    acmeva_mshard *a = acmeva_metrics_thread_shard(m, 0), *b = acmeva_metrics_thread_shard(m, 1);
    CHECK(acmeva_metrics_thread_shard(m, 2) == NULL);
    CHECK(acmeva_metrics_extra_shard(m, ACMEVA_MSHARD_EXTRA) == NULL);
    /* http-01 valid x3 on one thread, x2 on the other; one dns-01 invalid. */
    unsigned valid[] = {0, ACMEVA_MV_VALID, ACMEVA_PROB_NONE, 0};
    unsigned bad[] = {1, ACMEVA_MV_INVALID, ACMEVA_PROB_DNS, 0};
    acmeva_mshard_add(a, ACMEVA_M_VALIDATIONS, valid, 3);
    acmeva_mshard_add(b, ACMEVA_M_VALIDATIONS, valid, 2);
    acmeva_mshard_add(b, ACMEVA_M_VALIDATIONS, bad, 1);
    CHECK_INT(acmeva_metrics_get(m, ACMEVA_M_VALIDATIONS, valid), 5);
    /* Out of range: nothing counted, nothing written outside the shard. */
    unsigned oob[] = {99, 0, 0, 0};
    acmeva_mshard_add(a, ACMEVA_M_VALIDATIONS, oob, 1);
    acmeva_mshard_add(a, ACMEVA_M_VALIDATIONS, NULL, 1);
    acmeva_mshard_add(a, ACMEVA_M_COUNT, NULL, 1);
    /* Gauges: summed, and min over the loop threads for redis_connected. */
    acmeva_mshard_set(a, ACMEVA_M_INFLIGHT, NULL, 7);
    acmeva_mshard_set(b, ACMEVA_M_INFLIGHT, NULL, 4);
    acmeva_mshard_set(a, ACMEVA_M_REDIS_CONNECTED, NULL, 1);
    acmeva_mshard_set(b, ACMEVA_M_REDIS_CONNECTED, NULL, 0);
    CHECK_INT(acmeva_metrics_get(m, ACMEVA_M_INFLIGHT, NULL), 11);
    CHECK_INT(acmeva_metrics_get(m, ACMEVA_M_REDIS_CONNECTED, NULL), 0);
    acmeva_mshard_set(b, ACMEVA_M_REDIS_CONNECTED, NULL, 1);
    CHECK_INT(acmeva_metrics_get(m, ACMEVA_M_REDIS_CONNECTED, NULL), 1);
    /* A histogram: 0.004 and 0.005 fall in le=0.005 (bounds are inclusive), 0.3 in 0.5, 100 in
     * +Inf only. */
    unsigned h[] = {0, ACMEVA_MV_VALID};
    acmeva_mshard_observe(a, ACMEVA_M_VALIDATION_DURATION, h, 0.004);
    acmeva_mshard_observe(a, ACMEVA_M_VALIDATION_DURATION, h, 0.005);
    acmeva_mshard_observe(b, ACMEVA_M_VALIDATION_DURATION, h, 0.3);
    acmeva_mshard_observe(b, ACMEVA_M_VALIDATION_DURATION, h, 100);
    acmeva_mshard_observe(b, ACMEVA_M_VALIDATION_DURATION, h, -1); /* refused */
    /* The audit writer's shard counts too. */
    acmeva_mshard_add(acmeva_metrics_extra_shard(m, ACMEVA_MSHARD_AUDIT), ACMEVA_M_AUDIT_LINES,
                      NULL, 6);

    size_t len = 0;
    char *text = acmeva_metrics_render(m, &len);
    CHECK(text != NULL && strlen(text) == len);
    if (text == NULL) {
        acmeva_metrics_free(m);
        return;
    }
    CHECK_LINE(text, "# TYPE acmeva_validations_total counter");
    CHECK(strstr(text, "# HELP acmeva_validations_total Results answered") != NULL);
    /* The perspective's quote, backslash and newline escaped. */
    CHECK_LINE(text, "acmeva_validations_total{type=\"http-01\",result=\"valid\",problem=\"none\","
                     "perspective=\"eu\\\"west\\\\1\\n\"} 5");
    CHECK_LINE(text, "acmeva_validations_total{type=\"dns-01\",result=\"invalid\",problem=\"dns\","
                     "perspective=\"eu\\\"west\\\\1\\n\"} 1");
    /* Series that counted nothing are left out. */
    CHECK(strstr(text, "acmeva_validations_total{type=\"tls-alpn-01\"") == NULL);
    CHECK_LINE(text, "# TYPE acmeva_validation_duration_seconds histogram");
    CHECK_LINE(text, "acmeva_validation_duration_seconds_bucket{type=\"http-01\",result=\"valid\","
                     "le=\"0.005\"} 2");
    CHECK_LINE(text, "acmeva_validation_duration_seconds_bucket{type=\"http-01\",result=\"valid\","
                     "le=\"0.25\"} 2");
    CHECK_LINE(text, "acmeva_validation_duration_seconds_bucket{type=\"http-01\",result=\"valid\","
                     "le=\"0.5\"} 3");
    CHECK_LINE(text, "acmeva_validation_duration_seconds_bucket{type=\"http-01\",result=\"valid\","
                     "le=\"60\"} 3");
    CHECK_LINE(text, "acmeva_validation_duration_seconds_bucket{type=\"http-01\",result=\"valid\","
                     "le=\"+Inf\"} 4");
    CHECK_LINE(text, "acmeva_validation_duration_seconds_sum{type=\"http-01\",result=\"valid\"} "
                     "100.309");
    CHECK_LINE(text, "acmeva_validation_duration_seconds_count{type=\"http-01\",result=\"valid\"} "
                     "4");
    CHECK_LINE(text, "acmeva_inflight 11");
    CHECK_LINE(text, "acmeva_redis_connected 1");
    CHECK_LINE(text, "acmeva_audit_log_lines_total 6");
    /* Unlabelled families always appear, at zero too; so does the build. */
    CHECK_LINE(text, "acmeva_jobs_received_total 0");
    CHECK_LINE(text, "# TYPE acmeva_dns_query_duration_seconds histogram");
    CHECK_LINE(text, "acmeva_dns_query_duration_seconds_bucket{le=\"0.001\"} 0");
    CHECK_LINE(text, "acmeva_dns_query_duration_seconds_count 0");
    char bi[160];
    snprintf(bi, sizeof(bi), "acmeva_build_info{version=\"%s\"} 1", acmeva_version());
    CHECK_LINE(text, bi);
    /* Every line is a comment or a sample, and ends the document with a newline. */
    CHECK(len > 0 && text[len - 1] == '\n');
    free(text);
    acmeva_metrics_free(m);
}

static void test_dns_copy(void)
{
    acmeva_metrics *m = new_registry(1, "default");
    if (m == NULL)
        return;
    acmeva_mshard *s = acmeva_metrics_thread_shard(m, 0);
    uint64_t q[5][10] = {{0}};
    uint64_t dropped[7] = {0};
    uint64_t buckets[14] = {0};
    q[0][0] = 10; /* A NOERROR */
    q[2][3] = 2;  /* TXT NXDOMAIN */
    q[4][7] = 1;  /* other timeout */
    dropped[3] = 4;
    buckets[0] = 9;
    buckets[13] = 4;
    CHECK_INT(acmeva_mshard_dns_stats(s, &q[0][0], 5, 10, dropped, 7, buckets, 14, 12.5), 0);
    CHECK_INT(acmeva_mshard_dns_stats(s, &q[0][0], 5, 9, dropped, 7, buckets, 14, 1), -1);
    CHECK_INT(acmeva_mshard_dns_stats(s, &q[0][0], 5, 10, dropped, 7, buckets, 13, 1), -1);
    size_t len;
    char *text = acmeva_metrics_render(m, &len);
    if (text != NULL) {
        CHECK_LINE(text, "acmeva_dns_queries_total{qtype=\"A\",rcode=\"NOERROR\"} 10");
        CHECK_LINE(text, "acmeva_dns_queries_total{qtype=\"TXT\",rcode=\"NXDOMAIN\"} 2");
        CHECK_LINE(text, "acmeva_dns_queries_total{qtype=\"other\",rcode=\"timeout\"} 1");
        CHECK_LINE(text, "acmeva_dns_replies_dropped_total{reason=\"wrong_case\"} 4");
        CHECK_LINE(text, "acmeva_dns_query_duration_seconds_bucket{le=\"0.001\"} 9");
        CHECK_LINE(text, "acmeva_dns_query_duration_seconds_bucket{le=\"10\"} 9");
        CHECK_LINE(text, "acmeva_dns_query_duration_seconds_bucket{le=\"+Inf\"} 13");
        CHECK_LINE(text, "acmeva_dns_query_duration_seconds_sum 12.5");
        CHECK_LINE(text, "acmeva_dns_query_duration_seconds_count 13");
    }
    free(text);
    acmeva_metrics_free(m);
}

/* The coordinator's families: counted per perspective and RIR. */
static void test_mpic(void)
{
    const char *p[] = {"primary", "p1", "p2"};
    acmeva_metrics_config cfg = {p, 3};
    acmeva_metrics *m = NULL;
    CHECK_INT(acmeva_metrics_new(&cfg, 1, &m), 0);
    if (m == NULL)
        return;
    acmeva_mshard *s = acmeva_metrics_thread_shard(m, 0);
    int p2 = acmeva_metrics_label_value(m, ACMEVA_ML_PERSPECTIVE, "p2");
    int ripe = acmeva_metrics_label_value(m, ACMEVA_ML_RIR, "RIPE");
    CHECK(p2 == 2 && ripe == 2);
    acmeva_mshard_add(s, ACMEVA_M_MPIC_DECISIONS, (const unsigned[]){ACMEVA_MV_INVALID}, 1);
    acmeva_mshard_add(s, ACMEVA_M_MPIC_PERSPECTIVE_RESULTS,
                      (const unsigned[]){(unsigned)p2, (unsigned)ripe, ACMEVA_MV_TIMEOUT}, 1);
    size_t len;
    char *text = acmeva_metrics_render(m, &len);
    if (text != NULL) {
        CHECK_LINE(text, "acmeva_mpic_decisions_total{result=\"invalid\"} 1");
        CHECK_LINE(text, "acmeva_mpic_perspective_results_total{perspective=\"p2\",rir=\"RIPE\","
                         "result=\"timeout\"} 1");
    }
    free(text);
    acmeva_metrics_free(m);
}

/* Writers on their own threads while the main thread renders: the sums come out exact. */
typedef struct writer_arg {
    acmeva_mshard *s;
    int n;
} writer_arg;

static void writer(void *arg)
{
    writer_arg *w = arg;
    for (int i = 0; i < w->n; i++) {
        acmeva_mshard_add(w->s, ACMEVA_M_JOBS_RECEIVED, NULL, 1);
        acmeva_mshard_observe(w->s, ACMEVA_M_DNS_QUERY_DURATION, NULL, 0.002);
    }
}

static void test_threads(void)
{
    enum { T = 4, N = 200000 };
    acmeva_metrics *m = new_registry(T, "default");
    if (m == NULL)
        return;
    uv_thread_t tid[T];
    writer_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i].s = acmeva_metrics_thread_shard(m, (size_t)i);
        args[i].n = N;
        CHECK_INT(uv_thread_create(&tid[i], writer, &args[i]), 0);
    }
    for (int k = 0; k < 20; k++) {
        size_t len;
        free(acmeva_metrics_render(m, &len));
    }
    for (int i = 0; i < T; i++)
        uv_thread_join(&tid[i]);
    CHECK_INT(acmeva_metrics_get(m, ACMEVA_M_JOBS_RECEIVED, NULL), (long long)T * N);
    size_t len;
    char *text = acmeva_metrics_render(m, &len);
    char want[96];
    snprintf(want, sizeof(want), "acmeva_dns_query_duration_seconds_count %d", T * N);
    if (text != NULL)
        CHECK_LINE(text, want);
    free(text);
    acmeva_metrics_free(m);
}

/* The policy's families: the version in force on every thread (the lowest), refusals by type,
 * a gauge per method (every method listed) and per dated rule (named from brrules.c). */
static void test_policy(void)
{
    acmeva_metrics *m = new_registry(2, "default");
    if (m == NULL)
        return;
    acmeva_mshard *a = acmeva_metrics_thread_shard(m, 0), *b = acmeva_metrics_thread_shard(m, 1);
    acmeva_mshard *main_shard = acmeva_metrics_extra_shard(m, ACMEVA_MSHARD_MAIN);
    acmeva_mshard_set(a, ACMEVA_M_POLICY_VERSION, NULL, 8);
    acmeva_mshard_set(b, ACMEVA_M_POLICY_VERSION, NULL, 7);
    CHECK_INT(acmeva_metrics_get(m, ACMEVA_M_POLICY_VERSION, NULL), 7);
    acmeva_mshard_add(a, ACMEVA_M_POLICY_REFUSALS, (const unsigned[]){ACMEVA_CHALL_DNS01 - 1}, 2);
    int method = acmeva_metrics_label_value(m, ACMEVA_ML_METHOD, "tls-alpn-01");
    CHECK_INT(method, ACMEVA_CHALL_TLSALPN01 - 1);
    CHECK_INT(acmeva_metrics_label_value(m, ACMEVA_ML_METHOD, "caa"), -1);
    acmeva_mshard_set(main_shard, ACMEVA_M_POLICY_METHOD_DISABLED,
                      (const unsigned[]){(unsigned)method}, 1);
    int rule = acmeva_metrics_label_value(m, ACMEVA_ML_RULE, "min-remote-perspectives");
    CHECK(rule >= 0);
    acmeva_mshard_set(main_shard, ACMEVA_M_POLICY_RULE_VALUE, (const unsigned[]){(unsigned)rule},
                      5);
    acmeva_mshard_set(main_shard, ACMEVA_M_POLICY_RULE_EARLY, (const unsigned[]){(unsigned)rule},
                      1);
    size_t len;
    char *text = acmeva_metrics_render(m, &len);
    if (text != NULL) {
        CHECK_LINE(text, "acmeva_policy_version 7");
        CHECK_LINE(text, "acmeva_policy_refusals_total{type=\"dns-01\"} 2");
        CHECK_LINE(text, "acmeva_policy_method_disabled{type=\"tls-alpn-01\"} 1");
        CHECK_LINE(text, "acmeva_policy_method_disabled{type=\"http-01\"} 0");
        CHECK_LINE(text, "acmeva_policy_method_disabled{type=\"dns-persist-01\"} 0");
        CHECK(strstr(text, "acmeva_policy_method_disabled{type=\"caa\"}") == NULL);
        CHECK_LINE(text, "acmeva_policy_rule_value{rule=\"min-remote-perspectives\"} 5");
        CHECK_LINE(text, "acmeva_policy_rule_early{rule=\"min-remote-perspectives\"} 1");
        CHECK_LINE(text, "acmeva_policy_rule_early{rule=\"dnssec-at-primary\"} 0");
    }
    free(text);
    acmeva_metrics_free(m);
}

int main(void)
{
    test_policy();
    test_config();
    test_problem_labels();
    test_sum_and_render();
    test_dns_copy();
    test_mpic();
    test_threads();
    return CHECK_DONE();
}
