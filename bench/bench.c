/*
 * acmeva-bench: a load generator for the acmeva engine. It makes N validation jobs of a chosen
 * mix (http-01, dns-01, tls-alpn-01, dns-account-01, CAA-only) against acmeva-responder and
 * keeps a chosen number of them in flight, either
 *   - in process (--mode inproc): one engine on one libuv loop in this process, as
 *     `acmeva check` runs it, with the job codec (JSON parse, result JSON) timed apart; or
 *   - end to end (--mode e2e): jobs go to Redis with XADD, acmeva-worker processes (spawned
 *     here or already running) validate them, and results come back on a reply stream.
 * It reports validations/s, latency percentiles, CPU time per validation (its own from
 * getrusage; in e2e mode also the workers' and Redis' from /proc/<pid>/stat), peak RSS and
 * RSS per validation in flight, as a table or as JSON (--json).
 *
 * Jobs use the token scheme of acmeva-responder (bench/responder.c): identifier
 * <token>.[<sub>.]<zone>, key authorization token "." base64url(SHA-256("acmeva-bench:" token)).
 * The two files must stay in step.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <hiredis/hiredis.h>
#include <openssl/base64.h>
#include <openssl/sha.h>

#include "acmeva/engine.h"
#include "acmeva/proto.h"
#include "acmeva/version.h"

extern char **environ;

#define MAX_MIX 5
#define MIX_CYCLE_MAX 1000
#define JOB_JSON_MAX 2048
#define TOKEN_LEN 32
#define MAX_WORKERS 64
#define MAX_ENGINE_ARGS 64
#define MAX_WORKER_ARGS 16
#define MAX_MPIC_REMOTES 8
#define DEFAULT_COUNT 10000
#define DURATION_COUNT_CAP 100000000ULL /* -n when only --duration bounds a run */
#define E2E_READ_COUNT 1000
#define E2E_STALL_GRACE_MS 10000 /* no result for deadline + this: the run gives up */
#define WORKER_READY_MS 10000
#define WORKER_STOP_MS 5000

typedef enum { K_HTTP01, K_DNS01, K_TLSALPN01, K_DNSACCOUNT01, K_CAA, K_COUNT } job_kind;
static const char *const kind_names[K_COUNT] = {"http-01", "dns-01", "tls-alpn-01",
                                                "dns-account-01", "caa"};

typedef enum { EXPECT_AUTO, EXPECT_VALID, EXPECT_INVALID, EXPECT_ANY } expect_mode;

typedef struct options {
    int e2e;
    int mpic; /* e2e: remote perspectives behind acmeva-coordinator (0: none) */
    unsigned weights[K_COUNT];
    job_kind cycle[MIX_CYCLE_MAX];
    size_t cycle_len;
    char mix_text[128];
    uint64_t count;
    int count_given;
    uint64_t concurrency;
    double duration_s;
    uint64_t tokens; /* distinct tokens; 0: one per validation */
    uint64_t warmup;
    char zone[254];
    char sub[64];
    char caa_issuer[254];
    int with_caa;
    int64_t deadline_ms;
    double wrong_share;
    uint32_t wrong_threshold;
    expect_mode expect;
    uint64_t nofile;
    int json;
    char label[128];
    uint64_t seed;
    int seed_given;
    uint64_t rss_sample_ms;
    double ramp;            /* validations started per second at most; 0: no limit */
    int no_codec;           /* in process: build job structs directly, write no result JSON */
    int refill_in_callback; /* start the next validation from inside the result callback */
    /* e2e */
    char redis_url[256];
    char worker_redis_url[256]; /* the started workers' --redis; "": the same Redis as ours */
    char redis_host[128];
    int redis_port, redis_db;
    int workers;
    int worker_threads;
    char worker_bin[4096];
    pid_t worker_pids[MAX_WORKERS];
    int n_worker_pids;
    char perspective[65];
    pid_t redis_pid;
    char worker_log[4096];
    /* engine options, parsed here and forwarded to spawned workers */
    char *engine_args[MAX_ENGINE_ARGS];
    int n_engine_args;
    /* more arguments for spawned workers (--worker-arg) */
    const char *worker_args[MAX_WORKER_ARGS];
    int n_worker_args;
} options;

/* Latencies in ms, growable. */
typedef struct lat_list {
    double *v;
    size_t n, cap;
} lat_list;

typedef struct proc_cpu {
    pid_t pid;
    double cpu0, cpu1; /* seconds of user + system time */
    uint64_t hwm_kib;  /* VmHWM */
    int coordinator;   /* acmeva-coordinator (--mpic), reported apart from the workers */
} proc_cpu;

typedef struct report {
    uint64_t completed, valid, invalid, unexpected, lost;
    uint64_t problems[16];
    char *problem_sample[16];
    double wall_s;
    double busy_s;      /* time with at least one validation in flight: the rate's denominator */
    double idle_tail_s; /* from the last result until the loop had nothing left to run */
    double cpu_self_s;
    double gen_s, parse_s, tojson_s; /* job JSON made, parsed; results written */
    lat_list lat;
    double over_deadline_max_ms; /* latest finish past a job's deadline (negative: before) */
    uint64_t baseline_rss, rss_at_max_inflight, max_inflight, peak_rss_sampled;
    long maxrss_kib;
    uint64_t nofile_soft, nofile_hard;
    proc_cpu workers[MAX_WORKERS];
    int n_workers;
    proc_cpu redis;
    int have_redis;
} report;

static options opt;
static report rep;
static uint64_t run_nonce;
static acmeva_engine_config engine_cfg;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("acmeva-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Resident set size now, in bytes (/proc/self/statm). */
static uint64_t rss_now(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = buf, *end;
    strtoull(p, &end, 10); /* size */
    unsigned long long res = strtoull(end, &end, 10);
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* CPU seconds (user + system, all threads) of |pid| from /proc/<pid>/stat, -1 if gone. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (p == NULL)
        return -1;
    p++;
    /* Fields after ")": state is field 3; utime and stime are fields 14 and 15. */
    unsigned long long v[13];
    for (int i = 0; i < 13; i++) {
        while (*p == ' ')
            p++;
        if (i == 0) { /* state: one character */
            p++;
            v[i] = 0;
            continue;
        }
        char *end;
        errno = 0;
        v[i] = strtoull(p, &end, 10);
        if (end == p || errno != 0)
            return -1;
        p = end;
    }
    long tck = sysconf(_SC_CLK_TCK);
    return (double)(v[11] + v[12]) / (double)(tck > 0 ? tck : 100);
}

/* VmHWM (peak RSS) of |pid| in KiB, 0 if unknown. */
static uint64_t proc_hwm_kib(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strstr(buf, "VmHWM:");
    if (p == NULL)
        return 0;
    return strtoull(p + 6, NULL, 10);
}

/* ---- the token scheme (bench/responder.c has the other half) -------------------------------- */

static void b64url(const uint8_t *in, size_t len, char *out)
{
    size_t n = EVP_EncodeBlock((uint8_t *)out, in, len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    out[n] = '\0';
}

static void prefixed_sha256(const char *prefix, const char *tok, uint8_t out[32])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, prefix, strlen(prefix));
    SHA256_Update(&c, tok, strlen(tok));
    SHA256_Final(out, &c);
}

/* The responder gives wrong answers for token T when this holds (--wrong-share). */
static int token_is_wrong(const char *tok)
{
    uint8_t d[32];
    if (opt.wrong_threshold == 0)
        return 0;
    prefixed_sha256("acmeva-bench-wrong:", tok, d);
    uint32_t h = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
    return h < opt.wrong_threshold;
}

/* Token i: 32 lowercase hex characters, a valid base64url token and a valid DNS label. */
static void make_token(uint64_t i, char out[TOKEN_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t k = opt.tokens > 0 ? i % opt.tokens : i;
    for (int j = 0; j < 16; j++) {
        out[j] = hex[(run_nonce >> (60 - 4 * j)) & 15];
        out[16 + j] = hex[(k >> (60 - 4 * j)) & 15];
    }
    out[TOKEN_LEN] = '\0';
}

/* jw: a bounded writer for the jobs make_job builds many thousands of times a second; snprintf
 * was most of the job-making time, which counts against the rate acmeva-bench reports. */
typedef struct jw {
    char *p;
    size_t len, cap;
    int full;
} jw;

static void jw_put(jw *w, const char *s, size_t n)
{
    if (w->full || w->cap - w->len <= n) {
        w->full = 1;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void jw_str(jw *w, const char *s)
{
    jw_put(w, s, strlen(s));
}

static void jw_u64(jw *w, uint64_t v)
{
    char num[24];
    size_t i = sizeof(num);
    do {
        num[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    jw_put(w, num + i, sizeof(num) - i);
}

/*
 * make_job writes job |i| as JSON to |buf| and returns its length (0 when it does not fit).
 * |*expect_valid| says whether the responder will make it pass.
 */
static size_t make_job(uint64_t i, const char *id_prefix, char *buf, size_t cap, job_kind *kind_out,
                       int *expect_valid, const char *reply_to)
{
    char token[TOKEN_LEN + 1], thumb[48];
    uint8_t d[32];
    job_kind kind = opt.cycle[i % opt.cycle_len];
    make_token(i, token);
    jw w = {buf, 0, cap, 0};
    jw_str(&w, "{\"v\":1,\"id\":\"");
    jw_str(&w, id_prefix);
    jw_u64(&w, i);
    jw_str(&w, "\",\"identifier\":{\"type\":\"dns\",\"value\":\"");
    jw_str(&w, token);
    jw_str(&w, ".");
    if (opt.sub[0]) {
        jw_str(&w, opt.sub);
        jw_str(&w, ".");
    }
    jw_str(&w, opt.zone);
    jw_str(&w, "\"}");
    if (kind != K_CAA) {
        prefixed_sha256("acmeva-bench:", token, d);
        b64url(d, sizeof(d), thumb);
        jw_str(&w, ",\"challenge\":{\"type\":\"");
        jw_str(&w, kind_names[kind]);
        jw_str(&w, "\",\"token\":\"");
        jw_str(&w, token);
        jw_str(&w, "\"},\"keyAuthorization\":\"");
        jw_str(&w, token);
        jw_str(&w, ".");
        jw_str(&w, thumb);
        jw_str(&w, "\",\"accountUri\":\"https://ca.example/acme/acct/1\"");
    }
    jw_str(&w, ",\"deadlineMs\":");
    jw_u64(&w, (uint64_t)(wall_ms() + opt.deadline_ms));
    if (kind == K_CAA || opt.with_caa) {
        jw_str(&w, ",\"caa\":{\"issuerDomains\":[\"");
        jw_str(&w, opt.caa_issuer);
        jw_str(&w, "\"]}");
    }
    if (reply_to != NULL) {
        jw_str(&w, ",\"replyTo\":\"");
        jw_str(&w, reply_to);
        jw_str(&w, "\"");
    }
    jw_str(&w, "}");
    *kind_out = kind;
    *expect_valid = !token_is_wrong(token);
    return w.full ? 0 : w.len;
}

static char *dup_or_null(const char *s, int *failed)
{
    char *d = strdup(s);
    if (d == NULL)
        *failed = 1;
    return d;
}

/*
 * make_job_struct builds job |i| as make_job describes it, directly as a parsed job (for
 * --no-codec: the engine alone, without the JSON codec). Returns NULL on no memory.
 */
static acmeva_job *make_job_struct(uint64_t i, const char *id_prefix, int *expect_valid)
{
    static const acmeva_chall_type chall[K_COUNT] = {ACMEVA_CHALL_HTTP01, ACMEVA_CHALL_DNS01,
                                                     ACMEVA_CHALL_TLSALPN01,
                                                     ACMEVA_CHALL_DNSACCOUNT01, ACMEVA_CHALL_NONE};
    char token[TOKEN_LEN + 1], ident[400], thumb[48], id[64], ka[TOKEN_LEN + 50];
    uint8_t d[32];
    int failed = 0;
    job_kind kind = opt.cycle[i % opt.cycle_len];
    make_token(i, token);
    snprintf(ident, sizeof(ident), "%s.%s%s%s", token, opt.sub, opt.sub[0] ? "." : "", opt.zone);
    snprintf(id, sizeof(id), "%s%llu", id_prefix, (unsigned long long)i);
    prefixed_sha256("acmeva-bench:", token, d);
    b64url(d, sizeof(d), thumb);
    snprintf(ka, sizeof(ka), "%s.%s", token, thumb);
    acmeva_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->v = ACMEVA_SCHEMA_MAJOR;
    j->id = dup_or_null(id, &failed);
    j->ident_type = ACMEVA_IDENT_DNS;
    j->ident_value = dup_or_null(ident, &failed);
    j->chall_type = chall[kind];
    if (kind != K_CAA) {
        j->token = dup_or_null(token, &failed);
        j->key_authorization = dup_or_null(ka, &failed);
        j->account_uri = dup_or_null("https://ca.example/acme/acct/1", &failed);
    }
    if (kind == K_CAA || opt.with_caa) {
        j->has_caa = 1;
        j->issuer_domains = calloc(1, sizeof(char *));
        if (j->issuer_domains == NULL)
            failed = 1;
        else {
            j->issuer_domains[0] = dup_or_null(opt.caa_issuer, &failed);
            j->n_issuer_domains = 1;
        }
    }
    j->has_deadline = 1;
    j->deadline_ms = wall_ms() + opt.deadline_ms;
    j->reply_to = dup_or_null(ACMEVA_DEFAULT_REPLY_TO, &failed);
    if (failed) {
        acmeva_job_free(j);
        return NULL;
    }
    *expect_valid = !token_is_wrong(token);
    return j;
}

/* ---- outcomes -------------------------------------------------------------------------------- */

static void lat_add(lat_list *l, double ms)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 65536;
        double *v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL)
            die("out of memory");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = ms;
}

static void count_outcome(int valid, int expect_valid, int problem, const char *detail,
                          double latency_ms)
{
    rep.completed++;
    if (valid)
        rep.valid++;
    else
        rep.invalid++;
    int want = opt.expect == EXPECT_VALID     ? 1
               : opt.expect == EXPECT_INVALID ? 0
               : opt.expect == EXPECT_AUTO    ? expect_valid
                                              : valid;
    if (valid != want)
        rep.unexpected++;
    if (!valid && problem >= 0 && problem < 16) {
        rep.problems[problem]++;
        if (rep.problem_sample[problem] == NULL && detail != NULL)
            rep.problem_sample[problem] = strdup(detail);
    }
    lat_add(&rep.lat, latency_ms);
    double over = latency_ms - (double)opt.deadline_ms;
    if (rep.completed == 1 || over > rep.over_deadline_max_ms)
        rep.over_deadline_max_ms = over;
}

static int problem_from_urn(const char *urn)
{
    for (int t = ACMEVA_PROB_UNAUTHORIZED; t <= ACMEVA_PROB_REJECTED_IDENTIFIER; t++) {
        const char *u = acmeva_problem_urn((acmeva_problem_type)t);
        if (u != NULL && urn != NULL && strcmp(u, urn) == 0)
            return t;
    }
    return 0;
}

/* ---- in-process mode --------------------------------------------------------------------- */

typedef struct slot {
    struct bench_run *run;
    double t0;
    int expect_valid;
    int warm;
    struct slot *next_free;
} slot;

typedef struct bench_run {
    uv_loop_t *loop;
    acmeva_engine *engine;
    slot *slots, *free_slots;
    uint64_t next;   /* index of the next job */
    uint64_t target; /* jobs to start in this phase */
    uint64_t inflight;
    int warm;          /* the warm-up phase: nothing is counted */
    int stop_starting; /* --duration elapsed */
    double phase_t0;   /* when this phase started (for --ramp) */
    uint64_t phase_first;
    /* Busy time (measured phase): intervals with at least one validation in flight. The gap
     * between a result and the refill that starts the next job belongs to the interval, as
     * that job was waiting to start; an interval ends at the result that left nothing. */
    int busy;
    double busy_t0, last_result_t;
    uv_timer_t sample_timer, duration_timer, ramp_timer;
    uv_idle_t refill; /* starts new validations on the next loop iteration */
    int failed_start;
} bench_run;

static void start_jobs(bench_run *run);

static void refill_cb(uv_idle_t *h)
{
    uv_idle_stop(h);
    start_jobs(h->data);
}

static void on_result(acmeva_result *r, void *arg)
{
    slot *s = arg;
    bench_run *run = s->run;
    double t1 = now_s();
    run->inflight--;
    run->last_result_t = t1;
    if (!s->warm) {
        if (!opt.no_codec) {
            /* What a worker would do next: write the result document. */
            double a = now_s();
            char *json = acmeva_result_to_json(r);
            rep.tojson_s += now_s() - a;
            free(json);
        }
        count_outcome(r->valid, s->expect_valid, r->problem.type, r->problem.detail,
                      (t1 - s->t0) * 1000.0);
    }
    acmeva_result_free(r);
    s->next_free = run->free_slots;
    run->free_slots = s;
    /* A worker gets its next job from the network, on a later loop iteration; so does this
     * program by default. Starting it from inside the callback (as `acmeva check` does) lets
     * a fast DNS server keep c-ares reading answers to queries sent from that same read loop. */
    if (opt.refill_in_callback)
        start_jobs(run);
    else
        uv_idle_start(&run->refill, refill_cb);
}

static void ramp_cb(uv_timer_t *t)
{
    start_jobs(t->data);
}

static void start_jobs(bench_run *run)
{
    char buf[JOB_JSON_MAX];
    uint64_t allowed = UINT64_MAX;
    if (opt.ramp > 0) {
        /* --ramp: a start rate, so that a huge concurrency builds up over time instead of
         * sending every DNS query of every validation at the same instant. */
        double due = opt.ramp * (now_s() - run->phase_t0) + 1;
        uint64_t started = run->next - run->phase_first;
        allowed = due > (double)started ? (uint64_t)(due - (double)started) : 0;
        if (allowed == 0 && !run->stop_starting && run->next < run->target &&
            run->free_slots != NULL && !uv_is_active((uv_handle_t *)&run->ramp_timer))
            uv_timer_start(&run->ramp_timer, ramp_cb, 1, 0);
    }
    while (!run->stop_starting && run->next < run->target && run->free_slots != NULL &&
           allowed-- > 0) {
        uint64_t i = run->next++;
        slot *s = run->free_slots;
        run->free_slots = s->next_free;
        job_kind kind;
        acmeva_job *job = NULL;
        acmeva_job_error err;
        memset(&err, 0, sizeof(err));
        int rc;
        double a = now_s(), b, c;
        if (opt.no_codec) {
            job = make_job_struct(i, run->warm ? "warm-" : "b", &s->expect_valid);
            rc = job != NULL ? 0 : -1;
            if (rc != 0)
                snprintf(err.detail, sizeof(err.detail), "out of memory");
            b = c = now_s();
        } else {
            size_t len = make_job(i, run->warm ? "warm-" : "b", buf, sizeof(buf), &kind,
                                  &s->expect_valid, NULL);
            b = now_s();
            rc = len > 0 ? acmeva_job_parse(buf, len, &job, &err) : -1;
            c = now_s();
        }
        if (!run->warm) {
            rep.gen_s += b - a;
            rep.parse_s += c - b;
        }
        if (rc != 0) {
            fprintf(stderr, "acmeva-bench: job %llu does not parse: %s: %s\n",
                    (unsigned long long)i, err.field, err.detail);
            acmeva_job_error_clear(&err);
            run->failed_start = 1;
            run->stop_starting = 1;
            s->next_free = run->free_slots;
            run->free_slots = s;
            return;
        }
        s->run = run;
        s->warm = run->warm;
        s->t0 = now_s();
        if (acmeva_engine_validate(run->engine, job, 1, on_result, s, NULL) != 0) {
            fprintf(stderr, "acmeva-bench: cannot start a validation: out of memory\n");
            run->failed_start = 1;
            run->stop_starting = 1;
            s->next_free = run->free_slots;
            run->free_slots = s;
            return;
        }
        run->inflight++;
        if (!run->warm && !run->busy) {
            run->busy = 1;
            run->busy_t0 = s->t0;
        }
    }
    if (run->busy && run->inflight == 0) {
        rep.busy_s += run->last_result_t - run->busy_t0;
        run->busy = 0;
    }
    if (opt.ramp > 0 && !run->stop_starting && run->next < run->target && run->free_slots != NULL &&
        !uv_is_active((uv_handle_t *)&run->ramp_timer))
        uv_timer_start(&run->ramp_timer, ramp_cb, 1, 0);
    if (run->inflight == 0 && (run->stop_starting || run->next >= run->target)) {
        uv_timer_stop(&run->sample_timer);
        uv_timer_stop(&run->duration_timer);
        uv_timer_stop(&run->ramp_timer);
        uv_idle_stop(&run->refill);
    }
}

static void sample_cb(uv_timer_t *t)
{
    bench_run *run = t->data;
    if (run->warm)
        return;
    uint64_t rss = rss_now();
    if (rss > rep.peak_rss_sampled)
        rep.peak_rss_sampled = rss;
    if (run->inflight > rep.max_inflight) {
        rep.max_inflight = run->inflight;
        rep.rss_at_max_inflight = rss;
    } else if (run->inflight == rep.max_inflight && rss > rep.rss_at_max_inflight) {
        rep.rss_at_max_inflight = rss;
    }
}

static void duration_cb(uv_timer_t *t)
{
    bench_run *run = t->data;
    run->stop_starting = 1;
}

static void run_phase(bench_run *run, uint64_t first, uint64_t count, int warm)
{
    run->next = first;
    run->phase_first = first;
    run->phase_t0 = now_s();
    run->target = first + count;
    run->warm = warm;
    run->stop_starting = 0;
    if (!warm) {
        uv_timer_start(&run->sample_timer, sample_cb, opt.rss_sample_ms, opt.rss_sample_ms);
        if (opt.duration_s > 0)
            uv_timer_start(&run->duration_timer, duration_cb, (uint64_t)(opt.duration_s * 1000.0),
                           0);
    }
    start_jobs(run);
    uv_run(run->loop, UV_RUN_DEFAULT);
    if (!warm) {
        /* The loop returns once no handle is active: anything still armed after the last
         * result (a timer, a socket) shows here, and is not counted in busy_s. */
        if (run->busy) {
            rep.busy_s += run->last_result_t - run->busy_t0;
            run->busy = 0;
        }
        rep.idle_tail_s = run->last_result_t > 0 ? now_s() - run->last_result_t : 0;
    }
}

static int run_inproc(void)
{
    char err[256];
    bench_run run;
    memset(&run, 0, sizeof(run));
    run.loop = uv_default_loop();
    if (acmeva_engine_new(run.loop, &engine_cfg, NULL, &run.engine, err, sizeof(err)) != 0)
        die("%s", err);
    run.slots = calloc(opt.concurrency, sizeof(slot));
    if (run.slots == NULL)
        die("out of memory");
    for (uint64_t i = 0; i < opt.concurrency; i++) {
        run.slots[i].next_free = run.free_slots;
        run.free_slots = &run.slots[i];
    }
    uv_timer_init(run.loop, &run.sample_timer);
    uv_timer_init(run.loop, &run.duration_timer);
    uv_timer_init(run.loop, &run.ramp_timer);
    uv_idle_init(run.loop, &run.refill);
    run.refill.data = &run;
    run.sample_timer.data = &run;
    run.duration_timer.data = &run;
    run.ramp_timer.data = &run;

    /* Warm-up: the same kind of jobs (with the same tokens when --tokens repeats them). */
    if (opt.warmup > 0)
        run_phase(&run, 0, opt.warmup, 1);

    rep.baseline_rss = rss_now();
    double cpu0 = self_cpu_s();
    double t0 = now_s();
    run_phase(&run, opt.warmup, opt.count, 0);
    rep.wall_s = now_s() - t0;
    rep.cpu_self_s = self_cpu_s() - cpu0;
    sample_cb(&run.sample_timer);

    if (acmeva_engine_inflight(run.engine) != 0)
        fprintf(stderr, "acmeva-bench: %zu validations still in flight after the run\n",
                acmeva_engine_inflight(run.engine));
    acmeva_engine_free(run.engine);
    uv_close((uv_handle_t *)&run.sample_timer, NULL);
    uv_close((uv_handle_t *)&run.duration_timer, NULL);
    uv_close((uv_handle_t *)&run.ramp_timer, NULL);
    uv_close((uv_handle_t *)&run.refill, NULL);
    uv_run(run.loop, UV_RUN_DEFAULT);
    uv_loop_close(run.loop);
    free(run.slots);
    return run.failed_start ? -1 : 0;
}

/* ---- end-to-end mode (Redis and acmeva-worker processes) ---------------------------------- */

static int parse_redis_url(const char *url)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0)
        return -1;
    p += 8;
    if (strchr(p, '@') != NULL)
        return -1; /* no credentials: the benchmark runs its own loopback Redis */
    const char *colon = strrchr(p, ':');
    const char *slash = strchr(p, '/');
    size_t hl = colon ? (size_t)(colon - p) : slash ? (size_t)(slash - p) : strlen(p);
    if (hl == 0 || hl >= sizeof(opt.redis_host))
        return -1;
    memcpy(opt.redis_host, p, hl);
    opt.redis_host[hl] = '\0';
    opt.redis_port = 6379;
    opt.redis_db = 0;
    if (colon != NULL) {
        char *end;
        unsigned long port = strtoul(colon + 1, &end, 10);
        if (end == colon + 1 || port == 0 || port > 65535 || (*end != '\0' && *end != '/'))
            return -1;
        opt.redis_port = (int)port;
    }
    if (slash != NULL && slash[1] != '\0') {
        char *end;
        unsigned long db = strtoul(slash + 1, &end, 10);
        if (*end != '\0' || db > 1000)
            return -1;
        opt.redis_db = (int)db;
    }
    return 0;
}

static redisReply *redis_cmd(redisContext *c, const char *what, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (r == NULL)
        die("redis: %s: %s", what, c->errstr);
    return r;
}

static void default_worker_bin(char *out, size_t len)
{
    char self[2048];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            int w = snprintf(out, len, "%s/../acmeva-worker", self);
            if (w > 0 && (size_t)w < len && access(out, X_OK) == 0)
                return;
        }
    }
    snprintf(out, len, "acmeva-worker");
}

/* spawn_proc starts acmeva-worker (|coord| 0) for |perspective| (and |rir| when not NULL), or
 * acmeva-coordinator with |extra| as its options. */
static pid_t spawn_proc(const char *redis_url, int index, int coord, const char *perspective,
                        const char *rir, const char *const *extra, int n_extra)
{
    char threads[16], inflight[24], bin[PATH_MAX];
    const char *argv[24 + MAX_ENGINE_ARGS + MAX_WORKER_ARGS + 2 * MAX_MPIC_REMOTES];
    int argc = 0;
    snprintf(threads, sizeof(threads), "%d", opt.worker_threads);
    uint64_t per_thread = opt.concurrency / (uint64_t)(opt.workers * opt.worker_threads) + 64;
    snprintf(inflight, sizeof(inflight), "%llu",
             (unsigned long long)(per_thread < 1000 ? 1000 : per_thread));
    snprintf(bin, sizeof(bin), "%s", opt.worker_bin);
    if (coord) {
        /* acmeva-coordinator sits beside acmeva-worker. */
        char *slash = strrchr(bin, '/');
        size_t at = slash ? (size_t)(slash + 1 - bin) : 0;
        snprintf(bin + at, sizeof(bin) - at, "acmeva-coordinator");
    }
    argv[argc++] = bin;
    argv[argc++] = "--redis";
    argv[argc++] = redis_url;
    if (!coord) {
        argv[argc++] = "--perspective";
        argv[argc++] = perspective;
        if (rir != NULL) {
            argv[argc++] = "--rir";
            argv[argc++] = rir;
        }
    }
    argv[argc++] = "--threads";
    argv[argc++] = threads;
    argv[argc++] = "--max-inflight";
    argv[argc++] = inflight;
    for (int i = 0; !coord && i < opt.n_engine_args; i++)
        argv[argc++] = opt.engine_args[i];
    for (int i = 0; !coord && i < opt.n_worker_args; i++)
        argv[argc++] = opt.worker_args[i];
    for (int i = 0; i < n_extra; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, opt.worker_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, opt.worker_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t pid;
    int rc = strchr(bin, '/') != NULL
                 ? posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, environ)
                 : posix_spawnp(&pid, bin, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        die("cannot start %s %d (%s): %s", coord ? "coordinator" : "worker", index, bin,
            strerror(rc));
    return pid;
}

static void stop_workers(pid_t *pids, int n)
{
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGTERM);
    double until = now_s() + WORKER_STOP_MS / 1000.0;
    for (int i = 0; i < n; i++) {
        for (;;) {
            int st;
            pid_t r = waitpid(pids[i], &st, WNOHANG);
            if (r == pids[i] || r < 0)
                break;
            if (now_s() > until) {
                kill(pids[i], SIGKILL);
                waitpid(pids[i], &st, 0);
                break;
            }
            usleep(10000);
        }
    }
}

/* Wait until |want| consumers of the group read the stream (each worker thread is one). */
static void wait_consumers(redisContext *c, const char *stream, const char *group,
                           long long want)
{
    double until = now_s() + WORKER_READY_MS / 1000.0;
    while (now_s() < until) {
        const char *argv[] = {"XINFO", "CONSUMERS", stream, group};
        redisReply *r = redisCommandArgv(c, 4, argv, NULL);
        long long n = r != NULL && r->type == REDIS_REPLY_ARRAY ? (long long)r->elements : 0;
        if (r != NULL)
            freeReplyObject(r);
        if (n >= want)
            return;
        usleep(20000);
    }
    fprintf(stderr, "acmeva-bench: warning: fewer than %lld consumers after %d ms\n", want,
            WORKER_READY_MS);
}

static int run_e2e(void)
{
    char stream[128], reply_to[128], url[300];
    redisContext *c =
        redisConnectWithTimeout(opt.redis_host, opt.redis_port, (struct timeval){5, 0});
    if (c == NULL || c->err)
        die("cannot connect to Redis at %s:%d: %s", opt.redis_host, opt.redis_port,
            c ? c->errstr : "no memory");
    if (opt.redis_db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", opt.redis_db);
        const char *argv[] = {"SELECT", db};
        freeReplyObject(redis_cmd(c, "SELECT", 2, argv));
    }
    snprintf(stream, sizeof(stream), "acmeva:v1:jobs:%s", opt.perspective);
    if (opt.mpic > 0)
        snprintf(stream, sizeof(stream), "acmeva:v1:mpic");
    snprintf(reply_to, sizeof(reply_to), "acmeva:v1:results:bench:%ld:%llx", (long)getpid(),
             (unsigned long long)run_nonce);
    snprintf(url, sizeof(url), "redis://%s:%d/%d", opt.redis_host, opt.redis_port, opt.redis_db);
    if (opt.worker_redis_url[0] != '\0')
        snprintf(url, sizeof(url), "%s", opt.worker_redis_url);
    /* The groups exist before any job is added, so that no job precedes them ("$"). */
    char streams[1 + MAX_MPIC_REMOTES][160], names[1 + MAX_MPIC_REMOTES][sizeof(opt.perspective) + 16];
    int n_persp = opt.mpic > 0 ? 1 + opt.mpic : 1;
    for (int p = 0; p < n_persp; p++) {
        if (opt.mpic > 0 && p == 0)
            snprintf(names[p], sizeof(names[p]), "%s-primary", opt.perspective);
        else if (opt.mpic > 0)
            snprintf(names[p], sizeof(names[p]), "%s-r%d", opt.perspective, p);
        else
            snprintf(names[p], sizeof(names[p]), "%s", opt.perspective);
        snprintf(streams[p], sizeof(streams[p]), "acmeva:v1:jobs:%.80s", names[p]);
        const char *mk[] = {"XGROUP", "CREATE", streams[p], "acmeva", "$", "MKSTREAM"};
        redisReply *r = redis_cmd(c, "XGROUP CREATE", 6, mk);
        if (r->type == REDIS_REPLY_ERROR && strstr(r->str, "BUSYGROUP") == NULL)
            die("XGROUP CREATE %s: %s", streams[p], r->str);
        freeReplyObject(r);
    }
    if (opt.mpic > 0) {
        const char *mk[] = {"XGROUP", "CREATE", stream, "acmeva-coordinator", "$", "MKSTREAM"};
        redisReply *r = redis_cmd(c, "XGROUP CREATE", 6, mk);
        if (r->type == REDIS_REPLY_ERROR && strstr(r->str, "BUSYGROUP") == NULL)
            die("XGROUP CREATE %s: %s", stream, r->str);
        freeReplyObject(r);
    }

    pid_t spawned[MAX_WORKERS];
    int n_spawned = 0;
    if (opt.n_worker_pids == 0) {
        /* MPIC: every perspective gets --workers processes; the remotes spread over three
         * RIRs, and one coordinator asks them all. */
        static const char *const rirs[] = {"ARIN", "RIPE", "APNIC"};
        for (int p = 0; p < n_persp; p++)
            for (int i = 0; i < opt.workers && n_spawned < MAX_WORKERS - 1; i++) {
                pid_t pid = spawn_proc(url, n_spawned, 0, names[p],
                                       opt.mpic > 0 ? rirs[p % 3] : NULL, NULL, 0);
                spawned[n_spawned++] = pid;
            }
        for (int p = 0; p < n_persp; p++)
            wait_consumers(c, streams[p], "acmeva", (long long)opt.workers * opt.worker_threads);
        if (opt.mpic > 0) {
            const char *extra[8 + 2 * MAX_MPIC_REMOTES];
            char remotes[MAX_MPIC_REMOTES][96], minr[16];
            int n_extra = 0;
            extra[n_extra++] = "--primary";
            extra[n_extra++] = names[0];
            for (int p = 1; p < n_persp; p++) {
                snprintf(remotes[p - 1], sizeof(remotes[p - 1]), "%s:%s", names[p], rirs[p % 3]);
                extra[n_extra++] = "--remote";
                extra[n_extra++] = remotes[p - 1];
            }
            /* Any number of remotes, for measuring: the BR minimum is not the point here. */
            snprintf(minr, sizeof(minr), "%d", opt.mpic);
            extra[n_extra++] = "--min-remotes";
            extra[n_extra++] = minr;
            pid_t pid = spawn_proc(url, n_spawned, 1, NULL, NULL, extra, n_extra);
            spawned[n_spawned++] = pid;
            wait_consumers(c, stream, "acmeva-coordinator", opt.worker_threads);
        }
        for (int i = 0; i < n_spawned; i++) {
            rep.workers[rep.n_workers].coordinator = opt.mpic > 0 && i == n_spawned - 1;
            rep.workers[rep.n_workers++].pid = spawned[i];
        }
    } else {
        for (int i = 0; i < opt.n_worker_pids; i++)
            rep.workers[rep.n_workers++].pid = opt.worker_pids[i];
    }

    uint64_t total = opt.warmup + opt.count;
    double *t_submit = calloc(total, sizeof(double));
    unsigned char *expect = calloc(total, 1);
    unsigned char *done = calloc(total, 1);
    if (t_submit == NULL || expect == NULL || done == NULL)
        die("out of memory");

    uint64_t next = 0, inflight = 0, finished_warm = 0;
    char last_id[64] = "0-0";
    char buf[JOB_JSON_MAX];
    int stop_starting = 0, phase_warm = opt.warmup > 0;
    double t0 = 0, cpu0 = 0, last_progress = now_s(), last_result = 0;
    uint64_t end_index = total;

    if (!phase_warm) {
        rep.baseline_rss = rss_now();
        for (int i = 0; i < rep.n_workers; i++)
            rep.workers[i].cpu0 = proc_cpu_s(rep.workers[i].pid);
        if (rep.have_redis)
            rep.redis.cpu0 = proc_cpu_s(rep.redis.pid);
        cpu0 = self_cpu_s();
        t0 = now_s();
    }
    for (;;) {
        uint64_t phase_end = phase_warm ? opt.warmup : end_index;
        if (!phase_warm && opt.duration_s > 0 && !stop_starting && now_s() - t0 > opt.duration_s)
            stop_starting = 1;
        /* Submit up to the concurrency, pipelined. */
        uint64_t appended = 0;
        while (!stop_starting && next < phase_end && inflight < opt.concurrency) {
            job_kind kind;
            int ev;
            double a = now_s();
            size_t len = make_job(next, next < opt.warmup ? "warm-" : "b", buf, sizeof(buf), &kind,
                                  &ev, reply_to);
            if (next >= opt.warmup)
                rep.gen_s += now_s() - a;
            if (len == 0)
                die("job %llu too long", (unsigned long long)next);
            expect[next] = (unsigned char)ev;
            t_submit[next] = now_s();
            const char *argv[] = {"XADD", stream, "*", "job", buf};
            size_t lens[] = {4, strlen(stream), 1, 3, len};
            if (redisAppendCommandArgv(c, 5, argv, lens) != REDIS_OK)
                die("redis: %s", c->errstr);
            appended++;
            next++;
            inflight++;
        }
        for (uint64_t k = 0; k < appended; k++) {
            void *rr = NULL;
            if (redisGetReply(c, &rr) != REDIS_OK || rr == NULL)
                die("redis: XADD: %s", c->errstr);
            redisReply *x = rr;
            if (x->type == REDIS_REPLY_ERROR)
                die("redis: XADD: %s", x->str);
            freeReplyObject(x);
        }
        if (inflight == 0 && (stop_starting || next >= phase_end)) {
            if (!phase_warm)
                break;
            /* Warm-up done: the measured phase starts now. */
            phase_warm = 0;
            rep.baseline_rss = rss_now();
            for (int i = 0; i < rep.n_workers; i++)
                rep.workers[i].cpu0 = proc_cpu_s(rep.workers[i].pid);
            if (rep.have_redis)
                rep.redis.cpu0 = proc_cpu_s(rep.redis.pid);
            cpu0 = self_cpu_s();
            t0 = now_s();
            continue;
        }
        /* Read results. */
        char count[16];
        snprintf(count, sizeof(count), "%d", E2E_READ_COUNT);
        const char *xr[] = {"XREAD", "COUNT", count, "BLOCK", "100", "STREAMS", reply_to, last_id};
        redisReply *res = redis_cmd(c, "XREAD", 8, xr);
        double t_read = now_s();
        if (res->type == REDIS_REPLY_ARRAY && res->elements == 1 &&
            res->element[0]->elements == 2) {
            redisReply *entries = res->element[0]->element[1];
            for (size_t e = 0; e < entries->elements; e++) {
                redisReply *ent = entries->element[e];
                if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2)
                    continue;
                snprintf(last_id, sizeof(last_id), "%s", ent->element[0]->str);
                redisReply *fields = ent->element[1];
                for (size_t f = 0; f + 1 < fields->elements; f += 2) {
                    if (strcmp(fields->element[f]->str, "result") != 0)
                        continue;
                    /* The codec's one-pass reader, not a jansson tree: this process shares its
                     * core with the worker and Redis, and building a tree of every result was
                     * most of its time, which the end-to-end rate paid for. */
                    acmeva_resultdoc doc;
                    int ok = acmeva_resultdoc_read(&doc, fields->element[f + 1]->str,
                                                   fields->element[f + 1]->len) == 0 &&
                             doc.is_object;
                    const char *id = ok ? doc.id : NULL;
                    const char *status = ok ? doc.status : NULL;
                    const char *urn = ok ? doc.error_type : NULL;
                    const char *detail = ok ? doc.error_detail : NULL;
                    uint64_t idx = UINT64_MAX;
                    int warm = id != NULL && strncmp(id, "warm-", 5) == 0;
                    const char *digits = id == NULL     ? NULL
                                         : warm         ? id + 5
                                         : id[0] == 'b' ? id + 1
                                                        : NULL;
                    if (digits != NULL && digits[0] >= '0' && digits[0] <= '9') {
                        char *end;
                        errno = 0;
                        unsigned long long v = strtoull(digits, &end, 10);
                        if (errno == 0 && *end == '\0')
                            idx = v; /* an id this run did not make stays UINT64_MAX */
                    }
                    if (idx < total && !done[idx]) {
                        done[idx] = 1;
                        inflight--;
                        last_progress = t_read;
                        if (warm)
                            finished_warm++;
                        else
                            last_result = t_read;
                        if (!warm)
                            count_outcome(status != NULL && strcmp(status, "valid") == 0,
                                          expect[idx], problem_from_urn(urn), detail,
                                          (t_read - t_submit[idx]) * 1000.0);
                    }
                    acmeva_resultdoc_clear(&doc);
                }
            }
        }
        freeReplyObject(res);
        if (t_read - last_progress > (double)(opt.deadline_ms + E2E_STALL_GRACE_MS) / 1000.0) {
            fprintf(stderr, "acmeva-bench: no result for %.1f s: %llu results missing\n",
                    t_read - last_progress, (unsigned long long)inflight);
            rep.lost = inflight;
            break;
        }
    }
    rep.wall_s = now_s() - t0;
    /* Jobs are in flight from the first XADD until the last result is read. */
    rep.busy_s = last_result > t0 ? last_result - t0 : 0;
    rep.idle_tail_s = last_result > t0 ? now_s() - last_result : 0;
    rep.cpu_self_s = self_cpu_s() - cpu0;
    for (int i = 0; i < rep.n_workers; i++) {
        rep.workers[i].cpu1 = proc_cpu_s(rep.workers[i].pid);
        rep.workers[i].hwm_kib = proc_hwm_kib(rep.workers[i].pid);
    }
    if (rep.have_redis) {
        rep.redis.cpu1 = proc_cpu_s(rep.redis.pid);
        rep.redis.hwm_kib = proc_hwm_kib(rep.redis.pid);
    }
    if (n_spawned > 0)
        stop_workers(spawned, n_spawned);
    /* Leave nothing behind: the reply stream always, the job stream when it is ours. */
    const char *del_reply[] = {"DEL", reply_to};
    freeReplyObject(redis_cmd(c, "DEL", 2, del_reply));
    if (n_spawned > 0) {
        const char *del_jobs[] = {"DEL", stream};
        freeReplyObject(redis_cmd(c, "DEL", 2, del_jobs));
    }
    redisFree(c);
    free(t_submit);
    free(expect);
    free(done);
    return rep.lost > 0 ? -1 : 0;
}

/* ---- the report ------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const lat_list *l, double p)
{
    if (l->n == 0)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(l->n - 1) + 0.5);
    return l->v[i < l->n ? i : l->n - 1];
}

static void print_report(void)
{
    qsort(rep.lat.v, rep.lat.n, sizeof(double), cmp_double);
    double n = rep.completed > 0 ? (double)rep.completed : 1;
    /* Only the time with work in flight counts, so an idle stretch at the end (or, with
     * --ramp, between starts) does not dilute the rate. */
    double span = rep.busy_s > 0 ? rep.busy_s : rep.wall_s;
    double rate = span > 0 ? (double)rep.completed / span : 0;
    double codec_s = rep.parse_s + rep.tojson_s;
    double worker_cpu = 0, coord_cpu = 0;
    uint64_t worker_hwm = 0;
    int n_coord = 0;
    for (int i = 0; i < rep.n_workers; i++) {
        double c = rep.workers[i].cpu0 >= 0 && rep.workers[i].cpu1 >= 0
                       ? rep.workers[i].cpu1 - rep.workers[i].cpu0
                       : 0;
        if (rep.workers[i].coordinator) {
            coord_cpu += c;
            n_coord++;
        } else {
            worker_cpu += c;
        }
        worker_hwm += rep.workers[i].hwm_kib;
    }
    double redis_cpu = rep.have_redis ? rep.redis.cpu1 - rep.redis.cpu0 : 0;
    /* Every process of the run: what one validation (with --mpic, one corroborated
     * validation) costs the machine. */
    double all_cpu = rep.cpu_self_s + worker_cpu + coord_cpu + redis_cpu;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    rep.maxrss_kib = ru.ru_maxrss;
    double rss_per =
        rep.max_inflight > 0 && rep.rss_at_max_inflight > rep.baseline_rss
            ? (double)(rep.rss_at_max_inflight - rep.baseline_rss) / (double)rep.max_inflight
            : 0;
    /* The engine's own share in process: everything but making, parsing and writing JSON. */
    double engine_s = rep.cpu_self_s - rep.gen_s - codec_s;

    if (opt.json) {
        json_t *j = json_object();
        json_t *problems = json_object();
        for (int t = 1; t < 16; t++) {
            if (rep.problems[t] == 0)
                continue;
            const char *urn = acmeva_problem_urn((acmeva_problem_type)t);
            const char *name = urn ? strrchr(urn, ':') + 1 : "unknown";
            json_object_set_new(problems, name,
                                json_pack("{s:I,s:s?}", "count", (json_int_t)rep.problems[t],
                                          "sample", rep.problem_sample[t]));
        }
        json_object_set_new(j, "label", json_string(opt.label));
        json_object_set_new(j, "mode", json_string(opt.e2e ? "e2e" : "inproc"));
        json_object_set_new(j, "mpicRemotes", json_integer(opt.mpic));
        json_object_set_new(j, "codec", json_boolean(!opt.no_codec));
        json_object_set_new(j, "mix", json_string(opt.mix_text));
        json_object_set_new(j, "concurrency", json_integer((json_int_t)opt.concurrency));
        json_object_set_new(j, "deadline_ms", json_integer(opt.deadline_ms));
        json_object_set_new(j, "completed", json_integer((json_int_t)rep.completed));
        json_object_set_new(j, "valid", json_integer((json_int_t)rep.valid));
        json_object_set_new(j, "invalid", json_integer((json_int_t)rep.invalid));
        json_object_set_new(j, "unexpected", json_integer((json_int_t)rep.unexpected));
        json_object_set_new(j, "lost", json_integer((json_int_t)rep.lost));
        json_object_set_new(j, "problems", problems);
        json_object_set_new(j, "wall_s", json_real(rep.wall_s));
        json_object_set_new(j, "busy_s", json_real(rep.busy_s));
        json_object_set_new(j, "idle_tail_ms", json_real(rep.idle_tail_s * 1000.0));
        json_object_set_new(j, "rate_per_s", json_real(rate));
        json_object_set_new(j, "latency_ms",
                            json_pack("{s:f,s:f,s:f,s:f}", "p50", pct(&rep.lat, 50), "p90",
                                      pct(&rep.lat, 90), "p99", pct(&rep.lat, 99), "max",
                                      rep.lat.n ? rep.lat.v[rep.lat.n - 1] : 0.0));
        json_object_set_new(j, "over_deadline_max_ms", json_real(rep.over_deadline_max_ms));
        json_t *cpu = json_object();
        json_object_set_new(cpu, "self_s", json_real(rep.cpu_self_s));
        json_object_set_new(cpu, "self_s_per_1000", json_real(rep.cpu_self_s / n * 1000.0));
        json_object_set_new(cpu, "self_us_per_validation", json_real(rep.cpu_self_s / n * 1e6));
        json_object_set_new(cpu, "gen_us_per_validation", json_real(rep.gen_s / n * 1e6));
        if (!opt.e2e) {
            json_object_set_new(cpu, "codec_us_per_validation", json_real(codec_s / n * 1e6));
            json_object_set_new(cpu, "engine_us_per_validation", json_real(engine_s / n * 1e6));
        } else {
            json_object_set_new(cpu, "workers_s", json_real(worker_cpu));
            json_object_set_new(cpu, "workers_s_per_1000", json_real(worker_cpu / n * 1000.0));
            json_object_set_new(cpu, "workers_us_per_validation", json_real(worker_cpu / n * 1e6));
            if (n_coord > 0) {
                json_object_set_new(cpu, "coordinator_s", json_real(coord_cpu));
                json_object_set_new(cpu, "coordinator_us_per_validation",
                                    json_real(coord_cpu / n * 1e6));
            }
            if (rep.have_redis) {
                json_object_set_new(cpu, "redis_s", json_real(redis_cpu));
                json_object_set_new(cpu, "redis_us_per_validation", json_real(redis_cpu / n * 1e6));
            }
            json_object_set_new(cpu, "all_us_per_validation", json_real(all_cpu / n * 1e6));
        }
        json_object_set_new(j, "cpu", cpu);
        json_t *mem = json_object();
        json_object_set_new(mem, "peak_rss_kib", json_integer(rep.maxrss_kib));
        json_object_set_new(mem, "baseline_rss_bytes", json_integer((json_int_t)rep.baseline_rss));
        json_object_set_new(mem, "max_inflight", json_integer((json_int_t)rep.max_inflight));
        json_object_set_new(mem, "rss_at_max_inflight_bytes",
                            json_integer((json_int_t)rep.rss_at_max_inflight));
        json_object_set_new(mem, "rss_per_inflight_bytes", json_real(rss_per));
        if (opt.e2e)
            json_object_set_new(mem, "workers_peak_rss_kib", json_integer((json_int_t)worker_hwm));
        json_object_set_new(mem, "nofile_soft", json_integer((json_int_t)rep.nofile_soft));
        json_object_set_new(mem, "nofile_hard", json_integer((json_int_t)rep.nofile_hard));
        json_object_set_new(j, "memory", mem);
        char *s = json_dumps(j, JSON_COMPACT);
        if (s != NULL)
            puts(s);
        free(s);
        json_decref(j);
        return;
    }

    printf("acmeva-bench %s  mode=%s%s  mix=%s  concurrency=%llu  deadline=%lld ms\n", opt.label,
           opt.e2e ? "e2e" : "inproc", opt.no_codec ? " (no codec)" : "", opt.mix_text,
           (unsigned long long)opt.concurrency, (long long)opt.deadline_ms);
    printf("  %-22s %llu (valid %llu, invalid %llu, unexpected %llu, lost %llu)\n", "completed",
           (unsigned long long)rep.completed, (unsigned long long)rep.valid,
           (unsigned long long)rep.invalid, (unsigned long long)rep.unexpected,
           (unsigned long long)rep.lost);
    for (int t = 1; t < 16; t++) {
        if (rep.problems[t] == 0)
            continue;
        const char *urn = acmeva_problem_urn((acmeva_problem_type)t);
        printf("  %-22s %llu, e.g. \"%s\"\n", urn ? strrchr(urn, ':') + 1 : "unknown",
               (unsigned long long)rep.problems[t],
               rep.problem_sample[t] ? rep.problem_sample[t] : "");
    }
    printf("  %-22s %.3f s, of which %.3f s with validations in flight; idle tail %.1f ms\n",
           "wall", rep.wall_s, rep.busy_s, rep.idle_tail_s * 1000.0);
    printf("  %-22s %.1f validations/s\n", "rate", rate);
    printf("  %-22s p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", "latency (ms)", pct(&rep.lat, 50),
           pct(&rep.lat, 90), pct(&rep.lat, 99), rep.lat.n ? rep.lat.v[rep.lat.n - 1] : 0.0);
    printf("  %-22s %.3f s = %.3f s per 1,000 = %.1f us per validation\n", "cpu (this process)",
           rep.cpu_self_s, rep.cpu_self_s / n * 1000.0, rep.cpu_self_s / n * 1e6);
    if (!opt.e2e)
        printf("  %-22s engine %.1f us, codec %.1f us (parse %.1f, result JSON %.1f), "
               "job making %.1f us per validation\n",
               "cpu split", engine_s / n * 1e6, codec_s / n * 1e6, rep.parse_s / n * 1e6,
               rep.tojson_s / n * 1e6, rep.gen_s / n * 1e6);
    else {
        printf("  %-22s %.3f s = %.3f s per 1,000 = %.1f us per validation (%d processes)\n",
               "cpu (workers)", worker_cpu, worker_cpu / n * 1000.0, worker_cpu / n * 1e6,
               rep.n_workers - n_coord);
        if (n_coord > 0)
            printf("  %-22s %.3f s = %.1f us per validation\n", "cpu (coordinator)", coord_cpu,
                   coord_cpu / n * 1e6);
        if (rep.have_redis)
            printf("  %-22s %.3f s = %.1f us per validation\n", "cpu (redis-server)", redis_cpu,
                   redis_cpu / n * 1e6);
        printf("  %-22s %.1f us per validation (this process, workers%s%s)\n", "cpu (all)",
               all_cpu / n * 1e6, n_coord > 0 ? ", coordinator" : "",
               rep.have_redis ? ", redis-server" : "");
    }
    printf("  %-22s %ld KiB (this process)", "peak rss", rep.maxrss_kib);
    if (opt.e2e)
        printf(", %llu KiB (workers)", (unsigned long long)worker_hwm);
    printf("\n");
    if (!opt.e2e)
        printf("  %-22s %llu in flight: %.0f bytes each (rss %.1f MiB over a baseline of "
               "%.1f MiB)\n",
               "rss per in-flight", (unsigned long long)rep.max_inflight, rss_per,
               (double)(rep.rss_at_max_inflight > rep.baseline_rss
                            ? rep.rss_at_max_inflight - rep.baseline_rss
                            : 0) /
                   1048576.0,
               (double)rep.baseline_rss / 1048576.0);
    printf("  %-22s %.1f ms (latest finish relative to the job deadline)\n", "past deadline",
           rep.over_deadline_max_ms);
}

/* ---- options --------------------------------------------------------------------------------- */

static const char usage[] =
    "usage: acmeva-bench [options] [engine options]\n"
    "\n"
    "Runs validations against acmeva-responder and reports their rate, latency, CPU time\n"
    "and memory. Engine options (--resolver, --http-port, --tls-port,\n"
    "--allow-private-addresses, ...) point the engine at the responder; in e2e mode they are\n"
    "passed on to the workers this program starts. --version prints the version.\n"
    "\n"
    "  --mode inproc|e2e        in this process (default), or through Redis and acmeva-worker\n"
    "  --mix SPEC               job types and weights, e.g. http-01=3,dns-01=1 (types: http-01,\n"
    "                           dns-01, tls-alpn-01, dns-account-01, caa; default http-01)\n"
    "  -n, --count N            validations measured (default 10000)\n"
    "  -c, --concurrency N      validations in flight at once (default 100)\n"
    "  --duration S             stop starting validations after S seconds (then -n defaults\n"
    "                           to no limit)\n"
    "  --warmup N               validations run first and not measured (default 0)\n"
    "  --no-codec               in process: hand the engine parsed jobs and write no result\n"
    "                           JSON (the engine alone; default: parse and write as a worker)\n"
    "  --refill-in-callback     start the next validation from inside the result callback, as\n"
    "                           `acmeva check` does (default: on the next loop iteration, as a\n"
    "                           worker gets its next job)\n"
    "  --ramp R                 start at most R validations per second (in process; default:\n"
    "                           no limit, all of --concurrency at once)\n"
    "  --tokens K               distinct tokens, reused in turn (default: one per job)\n"
    "  --seed S                 token prefix (default: from the time and pid)\n"
    "  --zone Z                 the responder's zone (default bench.test)\n"
    "  --sub LABEL              identifiers <token>.LABEL.<zone> (\"tarpit\": no DNS answer)\n"
    "  --caa-issuer D           caa.issuerDomains of jobs (default ca.example)\n"
    "  --with-caa               add a CAA check to every challenge job\n"
    "  --deadline-ms N          each job's deadlineMs is its start + N (default 30000)\n"
    "  --wrong-share F          the responder's --wrong-share: predicts which jobs fail\n"
    "  --expect auto|valid|invalid|any   outcome counted as expected (default auto: valid\n"
    "                           unless the token is one the responder answers wrongly)\n"
    "  --nofile N               raise RLIMIT_NOFILE to N (capped at the hard limit; default:\n"
    "                           concurrency + 1024)\n"
    "  --rss-sample-ms N        RSS sampling period (default 50)\n"
    "  --label TEXT             a name for this run in the report\n"
    "  --json                   print the report as one line of JSON\n"
    "e2e mode:\n"
    "  --redis URL              redis://host:port[/db] (default redis://127.0.0.1:6379)\n"
    "  --workers N              acmeva-worker processes to start (default 1; with --mpic,\n"
    "                           per perspective)\n"
    "  --mpic N                 multi-perspective: the jobs go to acmeva:v1:mpic, and a\n"
    "                           primary and N remote perspectives (workers) and one\n"
    "                           acmeva-coordinator are started (1..8); the coordinator's\n"
    "                           CPU is reported apart, and cpu (all) sums every process\n"
    "  --worker-threads N       --threads of each (default 1)\n"
    "  --worker-arg ARG         one more argument for each started worker (repeatable, at\n"
    "                           most 16; e.g. --worker-arg --audit-log --worker-arg FILE)\n"
    "  --worker-bin PATH        (default: acmeva-worker of this build, else from PATH)\n"
    "  --worker-redis URL       the started workers' --redis, e.g. rediss://localhost:PORT on\n"
    "                           the TLS port of the same redis-server (default: --redis)\n"
    "  --worker-arg ARG         one more argument for the started workers (repeatable), e.g.\n"
    "                           --worker-arg --redis-ca --worker-arg ca.pem\n"
    "  --worker-log FILE        their standard output and error (default /dev/null)\n"
    "  --worker-pid PID         use a running worker instead (repeatable; measures its CPU)\n"
    "  --perspective P          job stream acmeva:v1:jobs:P (default: bench-<pid> for\n"
    "                           started workers, \"default\" for running ones)\n"
    "  --redis-pid PID          also measure the CPU time of redis-server\n"
    "\n"
    "Exit status: 0 when every validation ended as expected, 1 otherwise, 2 for bad usage.\n"
    "\n";

static int num(const char *o, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    int64_t n;
    if (v == NULL || *v == '\0' || *v == '-') {
        fprintf(stderr, "acmeva-bench: %s needs a number\n", o);
        return -1;
    }
    /* every bound here is at most INT64_MAX (UINT64_MAX >> 1) */
    if (acmeva_parse_int(v, (int64_t)min, (int64_t)max, &n) < 0) {
        fprintf(stderr, "acmeva-bench: %s: '%s' is not a number from %llu to %llu\n", o, v,
                (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = (uint64_t)n;
    return 0;
}

static int fraction(const char *o, const char *v, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double f = v ? strtod(v, &end) : 0;
    if (v == NULL || errno != 0 || *end != '\0' || !(f >= min && f <= max)) {
        fprintf(stderr, "acmeva-bench: %s: a number from %g to %g\n", o, min, max);
        return -1;
    }
    *out = f;
    return 0;
}

/* parse_mix reads "type[=weight],..." and lays out one cycle of kinds by smooth weighted
 * round robin, so that the kinds interleave in proportion to their weights. */
static int parse_mix(const char *spec)
{
    unsigned total = 0;
    memset(opt.weights, 0, sizeof(opt.weights));
    if (strlen(spec) >= sizeof(opt.mix_text))
        return -1;
    for (const char *p = spec; *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t name_len = eq ? (size_t)(eq - p) : len;
        unsigned long w = 1;
        if (eq != NULL) {
            char wbuf[8];
            size_t wl = len - name_len - 1;
            char *wend;
            if (wl == 0 || wl >= sizeof(wbuf))
                return -1;
            memcpy(wbuf, eq + 1, wl);
            wbuf[wl] = '\0';
            w = strtoul(wbuf, &wend, 10);
            if (*wend != '\0' || w > 100)
                return -1;
        }
        int k;
        for (k = 0; k < K_COUNT; k++)
            if (strlen(kind_names[k]) == name_len && memcmp(p, kind_names[k], name_len) == 0)
                break;
        if (k == K_COUNT)
            return -1;
        opt.weights[k] += (unsigned)w;
        total += (unsigned)w;
        p = end ? end + 1 : p + len;
    }
    if (total == 0 || total > MIX_CYCLE_MAX)
        return -1;
    int cur[K_COUNT] = {0};
    opt.cycle_len = 0;
    for (unsigned i = 0; i < total; i++) {
        int best = -1;
        for (int k = 0; k < K_COUNT; k++) {
            cur[k] += (int)opt.weights[k];
            if (opt.weights[k] > 0 && (best < 0 || cur[k] > cur[best]))
                best = k;
        }
        cur[best] -= (int)total;
        opt.cycle[opt.cycle_len++] = (job_kind)best;
    }
    snprintf(opt.mix_text, sizeof(opt.mix_text), "%s", spec);
    return 0;
}

static int parse_args(int argc, char **argv)
{
    opt.count = DEFAULT_COUNT;
    opt.concurrency = 100;
    opt.deadline_ms = 30000;
    opt.rss_sample_ms = 50;
    opt.workers = 1;
    opt.worker_threads = 1;
    snprintf(opt.zone, sizeof(opt.zone), "bench.test");
    snprintf(opt.caa_issuer, sizeof(opt.caa_issuer), "ca.example");
    snprintf(opt.redis_url, sizeof(opt.redis_url), "redis://127.0.0.1:6379");
    snprintf(opt.worker_log, sizeof(opt.worker_log), "/dev/null");
    parse_mix("http-01");
    for (int i = 1; i < argc;) {
        int i0 = i;
        int r = acmeva_engine_config_option(&engine_cfg, argc, argv, &i);
        if (r < 0)
            return -1;
        if (r > 0) {
            for (int k = i0; k < i && opt.n_engine_args < MAX_ENGINE_ARGS; k++)
                opt.engine_args[opt.n_engine_args++] = argv[k];
            continue;
        }
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        int flag = 1;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            fputs(acmeva_engine_config_usage, stdout);
            exit(0);
        } else if (strcmp(a, "--json") == 0) {
            opt.json = 1;
        } else if (strcmp(a, "--with-caa") == 0) {
            opt.with_caa = 1;
        } else if (strcmp(a, "--no-codec") == 0) {
            opt.no_codec = 1;
        } else if (strcmp(a, "--refill-in-callback") == 0) {
            opt.refill_in_callback = 1;
        } else {
            flag = 0;
        }
        if (flag) {
            i++;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "acmeva-bench: %s needs a value (see --help)\n", a);
            return -1;
        }
        if (strcmp(a, "--mode") == 0) {
            if (strcmp(v, "inproc") != 0 && strcmp(v, "e2e") != 0) {
                fprintf(stderr, "acmeva-bench: --mode: inproc or e2e\n");
                return -1;
            }
            opt.e2e = strcmp(v, "e2e") == 0;
        } else if (strcmp(a, "--mix") == 0) {
            if (parse_mix(v) != 0) {
                fprintf(stderr, "acmeva-bench: --mix: type[=weight],... with types http-01, "
                                "dns-01, tls-alpn-01, dns-account-01, caa\n");
                return -1;
            }
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--count") == 0) {
            if (num(a, v, 1, DURATION_COUNT_CAP, &opt.count))
                return -1;
            opt.count_given = 1;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--concurrency") == 0) {
            if (num(a, v, 1, 1000000, &opt.concurrency))
                return -1;
        } else if (strcmp(a, "--duration") == 0) {
            if (fraction(a, v, 0.001, 3600, &opt.duration_s))
                return -1;
        } else if (strcmp(a, "--ramp") == 0) {
            if (fraction(a, v, 1, 1e9, &opt.ramp))
                return -1;
        } else if (strcmp(a, "--warmup") == 0) {
            if (num(a, v, 0, 10000000, &opt.warmup))
                return -1;
        } else if (strcmp(a, "--tokens") == 0) {
            if (num(a, v, 1, UINT64_MAX >> 1, &opt.tokens))
                return -1;
        } else if (strcmp(a, "--seed") == 0) {
            if (num(a, v, 0, UINT64_MAX >> 1, &opt.seed))
                return -1;
            opt.seed_given = 1;
        } else if (strcmp(a, "--zone") == 0 || strcmp(a, "--caa-issuer") == 0) {
            char probe[300];
            snprintf(probe, sizeof(probe), "%s", v);
            if (!acmeva_is_dns_name(probe, 0) || strlen(v) > 200) {
                fprintf(stderr, "acmeva-bench: %s: a lowercase DNS name\n", a);
                return -1;
            }
            snprintf(a[2] == 'z' ? opt.zone : opt.caa_issuer, sizeof(opt.zone), "%s", v);
        } else if (strcmp(a, "--sub") == 0) {
            size_t l = strlen(v);
            int ok = l > 0 && l < sizeof(opt.sub);
            for (size_t k = 0; ok && k < l; k++)
                ok = (v[k] >= 'a' && v[k] <= 'z') || (v[k] >= '0' && v[k] <= '9') ||
                     (v[k] == '-' && k > 0 && k + 1 < l);
            if (!ok) {
                fprintf(stderr, "acmeva-bench: --sub: one lowercase DNS label\n");
                return -1;
            }
            snprintf(opt.sub, sizeof(opt.sub), "%s", v);
        } else if (strcmp(a, "--deadline-ms") == 0) {
            if (num(a, v, 1, 3600000, &n))
                return -1;
            opt.deadline_ms = (int64_t)n;
        } else if (strcmp(a, "--wrong-share") == 0) {
            if (fraction(a, v, 0, 1, &opt.wrong_share))
                return -1;
        } else if (strcmp(a, "--expect") == 0) {
            if (strcmp(v, "auto") == 0)
                opt.expect = EXPECT_AUTO;
            else if (strcmp(v, "valid") == 0)
                opt.expect = EXPECT_VALID;
            else if (strcmp(v, "invalid") == 0)
                opt.expect = EXPECT_INVALID;
            else if (strcmp(v, "any") == 0)
                opt.expect = EXPECT_ANY;
            else {
                fprintf(stderr, "acmeva-bench: --expect: auto, valid, invalid or any\n");
                return -1;
            }
        } else if (strcmp(a, "--nofile") == 0) {
            if (num(a, v, 64, 100000000, &opt.nofile))
                return -1;
        } else if (strcmp(a, "--rss-sample-ms") == 0) {
            if (num(a, v, 1, 60000, &opt.rss_sample_ms))
                return -1;
        } else if (strcmp(a, "--label") == 0) {
            snprintf(opt.label, sizeof(opt.label), "%s", v);
        } else if (strcmp(a, "--redis") == 0) {
            snprintf(opt.redis_url, sizeof(opt.redis_url), "%s", v);
        } else if (strcmp(a, "--mpic") == 0) {
            if (num(a, v, 1, MAX_MPIC_REMOTES, &n))
                return -1;
            opt.mpic = (int)n;
        } else if (strcmp(a, "--workers") == 0) {
            if (num(a, v, 1, MAX_WORKERS, &n))
                return -1;
            opt.workers = (int)n;
        } else if (strcmp(a, "--worker-arg") == 0) {
            if (opt.n_worker_args >= MAX_WORKER_ARGS) {
                fprintf(stderr, "acmeva-bench: at most %d --worker-arg\n", MAX_WORKER_ARGS);
                return -1;
            }
            opt.worker_args[opt.n_worker_args++] = v;
        } else if (strcmp(a, "--worker-threads") == 0) {
            if (num(a, v, 1, 256, &n))
                return -1;
            opt.worker_threads = (int)n;
        } else if (strcmp(a, "--worker-bin") == 0) {
            snprintf(opt.worker_bin, sizeof(opt.worker_bin), "%s", v);
        } else if (strcmp(a, "--worker-redis") == 0) {
            snprintf(opt.worker_redis_url, sizeof(opt.worker_redis_url), "%s", v);
        } else if (strcmp(a, "--worker-log") == 0) {
            snprintf(opt.worker_log, sizeof(opt.worker_log), "%s", v);
        } else if (strcmp(a, "--worker-pid") == 0 || strcmp(a, "--redis-pid") == 0) {
            if (num(a, v, 1, 4194304, &n))
                return -1;
            if (a[2] == 'r') {
                rep.redis.pid = (pid_t)n;
                rep.have_redis = 1;
            } else if (opt.n_worker_pids < MAX_WORKERS) {
                opt.worker_pids[opt.n_worker_pids++] = (pid_t)n;
            }
        } else if (strcmp(a, "--perspective") == 0) {
            size_t l = strlen(v);
            int ok = l > 0 && l < sizeof(opt.perspective);
            for (size_t k = 0; ok && k < l; k++)
                ok = (v[k] >= 'A' && v[k] <= 'Z') || (v[k] >= 'a' && v[k] <= 'z') ||
                     (v[k] >= '0' && v[k] <= '9') || v[k] == '.' || v[k] == '_' || v[k] == '-';
            if (!ok) {
                fprintf(stderr, "acmeva-bench: --perspective: 1 to 64 of [A-Za-z0-9._-]\n");
                return -1;
            }
            snprintf(opt.perspective, sizeof(opt.perspective), "%s", v);
        } else {
            fprintf(stderr, "acmeva-bench: unknown option '%s' (see --help)\n", a);
            return -1;
        }
        i += 2;
    }
    if (opt.duration_s > 0 && !opt.count_given)
        opt.count = DURATION_COUNT_CAP;
    double th = opt.wrong_share * 4294967296.0;
    opt.wrong_threshold = th >= 4294967295.0 ? UINT32_MAX : (uint32_t)th;
    if (opt.e2e && opt.no_codec) {
        fprintf(stderr, "acmeva-bench: --no-codec is for --mode inproc\n");
        return -1;
    }
    if (opt.e2e) {
        if (parse_redis_url(opt.redis_url) != 0) {
            fprintf(stderr, "acmeva-bench: --redis: redis://host:port[/db] without credentials\n");
            return -1;
        }
        if (opt.perspective[0] == '\0') {
            if (opt.n_worker_pids > 0)
                snprintf(opt.perspective, sizeof(opt.perspective), "default");
            else
                snprintf(opt.perspective, sizeof(opt.perspective), "bench-%ld", (long)getpid());
        }
        if (opt.worker_bin[0] == '\0')
            default_worker_bin(opt.worker_bin, sizeof(opt.worker_bin));
        if (opt.count > 100000000ULL / 2)
            opt.count = 100000000ULL / 2; /* e2e keeps per-job arrays */
    }
    if (opt.label[0] == '\0')
        snprintf(opt.label, sizeof(opt.label), "%s", opt.mix_text);
    return 0;
}

/* Raise the soft limit on open files: every validation in flight holds a socket. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    uint64_t want = opt.nofile ? opt.nofile : opt.concurrency + 1024;
    rlim_t target = (rlim_t)want;
    if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max) {
        /* Only a privileged process may raise the hard limit; try, then settle. */
        struct rlimit up = {target, target};
        if (setrlimit(RLIMIT_NOFILE, &up) != 0) {
            fprintf(stderr,
                    "acmeva-bench: warning: RLIMIT_NOFILE hard limit is %llu, below the %llu "
                    "wanted: validations beyond it fail to open a socket\n",
                    (unsigned long long)rl.rlim_max, (unsigned long long)want);
            target = rl.rlim_max;
        }
    }
    if (target > rl.rlim_cur) {
        struct rlimit nl = {target, rl.rlim_max > target ? rl.rlim_max : target};
        setrlimit(RLIMIT_NOFILE, &nl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    rep.nofile_soft = rl.rlim_cur;
    rep.nofile_hard = rl.rlim_max;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (acmeva_version_option("acmeva-bench", argc, argv))
        return 0;
    acmeva_engine_config_init(&engine_cfg);
    if (parse_args(argc, argv) != 0) {
        acmeva_engine_config_clear(&engine_cfg);
        return 2;
    }
    run_nonce = opt.seed_given ? opt.seed : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
    raise_nofile();
    int rc = opt.e2e ? run_e2e() : run_inproc();
    print_report();
    int status = rc != 0 || rep.unexpected > 0 || rep.completed == 0 ? 1 : 0;
    for (int t = 0; t < 16; t++)
        free(rep.problem_sample[t]);
    free(rep.lat.v);
    acmeva_engine_config_clear(&engine_cfg);
    return status;
}
