/*
 * Tests of the engine's answer to no memory (worker/engine.c, DESIGN.md "Hardening"): a
 * validation that cannot allocate what its result needs ends with serverInternal and
 * result->local_failure set, never with a result that blames or clears the subscriber.
 *
 * Every allocation the engine and the codec make goes through the wrappers below (the test is
 * linked with -Wl,--wrap for malloc, calloc, realloc and strdup, see tests/CMakeLists.txt), so
 * that one chosen allocation fails: the first, then the second, and so on until a run needs no
 * more. Each job here is decided without a packet sent (an IP identifier: CAA is not checked,
 * and the address is reserved), so the test never dials.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "acmeva/engine.h"
#include "check.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);

static long alloc_calls; /* allocations seen since fail_at was set */
static long fail_at;     /* the allocation to fail, from 1; 0: none */

static int should_fail(void)
{
    return fail_at > 0 && ++alloc_calls == fail_at;
}

void *__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return should_fail() ? NULL : __real_strdup(s);
}

typedef struct outcome {
    int done;
    int started; /* acmeva_engine_validate returned 0 */
    int valid;
    acmeva_problem_type type;
    int local_failure;
    int has_perspective;
} outcome;

static void on_result(acmeva_result *r, void *arg)
{
    outcome *o = arg;
    o->done = 1;
    o->valid = r->valid;
    o->type = r->problem.type;
    o->local_failure = r->local_failure;
    o->has_perspective = r->perspective != NULL && strcmp(r->perspective, "p1") == 0;
    acmeva_result_free(r);
}

/* run_one validates |json| on |e| with allocation |fail| failing (0: none). */
static outcome run_one(uv_loop_t *loop, acmeva_engine *e, const char *json, long fail)
{
    outcome o = {0};
    acmeva_job *job = NULL;
    acmeva_job_error err;
    int rc = acmeva_job_parse(json, strlen(json), &job, &err);
    CHECK_MSG(rc == 0, "job refused: %s", err.detail);
    acmeva_job_error_clear(&err);
    if (rc != 0)
        return o;
    alloc_calls = 0;
    fail_at = fail;
    if (acmeva_engine_validate(e, job, 1, on_result, &o, NULL) == 0) {
        o.started = 1;
        for (int i = 0; i < 1000 && !o.done; i++)
            uv_run(loop, UV_RUN_ONCE);
    }
    fail_at = 0;
    return o;
}

/* sweep runs |json| once without faults (it must end |want_valid| with problem |want|), then
 * once for each allocation it makes, that one failing. |checks| says whether the job gets as
 * far as running a check (else every fault is a refusal at once). */
static void sweep(const char *name, const char *json, int want_valid, acmeva_problem_type want,
                  int checks)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    acmeva_engine_config cfg;
    acmeva_engine_config_init(&cfg);
    cfg.resolvers[cfg.n_resolvers++] = strdup("127.0.0.1:9"); /* never asked: no DNS here */
    free(cfg.perspective);
    cfg.perspective = strdup("p1");
    acmeva_engine *e = NULL;
    char errbuf[256];
    CHECK_MSG(acmeva_engine_new(&loop, &cfg, NULL, &e, errbuf, sizeof(errbuf)) == 0, "%s", errbuf);
    if (e == NULL)
        return;

    outcome base = run_one(&loop, e, json, 0);
    CHECK_MSG(base.done && base.valid == want_valid && base.type == want && !base.local_failure &&
                  base.has_perspective,
              "%s without faults: valid %d problem %d local %d", name, base.valid, (int)base.type,
              base.local_failure);

    long n;
    int failed_sync = 0, failed_local = 0;
    for (n = 1; n < 2000; n++) {
        outcome o = run_one(&loop, e, json, n);
        if (alloc_calls < n) {
            /* this run made fewer than n allocations: nothing failed, all were tried */
            CHECK_MSG(o.done && o.valid == base.valid && o.type == base.type && !o.local_failure,
                      "%s: a run without a fault differs", name);
            break;
        }
        if (!o.started) {
            failed_sync++; /* refused at once, as acmeva_engine_validate may on no memory */
            continue;
        }
        CHECK_MSG(o.done, "%s: allocation %ld failed and no result came", name, n);
        CHECK_MSG(!o.valid && o.type == ACMEVA_PROB_SERVER_INTERNAL && o.local_failure,
                  "%s: allocation %ld failed: valid %d problem %d local_failure %d (want "
                  "serverInternal, local)",
                  name, n, o.valid, (int)o.type, o.local_failure);
        failed_local++;
    }
    CHECK_MSG(n > 1 && n < 2000, "%s: %ld allocations", name, n - 1);
    CHECK_MSG(!checks || failed_local > 0, "%s: no fault reached a result (%d refused at once)",
              name, failed_sync);
    printf("%s: %ld allocations, %d refused at once, %d ended serverInternal\n", name, n - 1,
           failed_sync, failed_local);

    acmeva_engine_free(e);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    acmeva_engine_config_clear(&cfg);
}

#define TOK "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
#define KA TOK ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"

int main(void)
{
    sweep("CAA for an IP identifier",
          "{\"v\":1,\"id\":\"caa-ip\",\"identifier\":{\"type\":\"ip\",\"value\":\"192.0.2.1\"},"
          "\"caa\":{}}",
          1, ACMEVA_PROB_NONE, 1);
    sweep("http-01 to a reserved address",
          "{\"v\":1,\"id\":\"h\",\"identifier\":{\"type\":\"ip\",\"value\":\"10.0.0.1\"},"
          "\"challenge\":{\"type\":\"http-01\",\"token\":\"" TOK "\"},\"keyAuthorization\":\"" KA
          "\"}",
          0, ACMEVA_PROB_CONNECTION, 1);
    /* A job picked up after its deadline is not validated (DESIGN.md "Job"), and so never
     * valid: its problem is serverInternal, and it is not this machine's failure. */
    sweep("a job past its deadline",
          "{\"v\":1,\"id\":\"late\",\"identifier\":{\"type\":\"ip\",\"value\":\"192.0.2.1\"},"
          "\"caa\":{},\"deadlineMs\":1}",
          0, ACMEVA_PROB_SERVER_INTERNAL, 0);
    sweep("tls-alpn-01 to a reserved address, with CAA",
          "{\"v\":1,\"id\":\"t\",\"identifier\":{\"type\":\"ip\",\"value\":\"10.0.0.1\"},"
          "\"challenge\":{\"type\":\"tls-alpn-01\",\"token\":\"" TOK
          "\"},\"keyAuthorization\":\"" KA "\",\"caa\":{}}",
          0, ACMEVA_PROB_CONNECTION, 1);
    return CHECK_DONE();
}
