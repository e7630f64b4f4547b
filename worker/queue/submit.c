/*
 * `acmeva submit --redis URL [--perspective P | --mpic] (--job FILE|-) [--wait] [--timeout-ms N]`:
 * enqueues NDJSON jobs with XADD acmeva:v1:jobs:<p> * job <line> (DESIGN.md "Commands"), or
 * with --mpic on acmeva:v1:mpic for acmeva-coordinator (DESIGN.md "Multi-perspective
 * corroboration").
 * A CLI, not a validation path: it waits for Redis on the blocking client of rclient.c, the
 * daemons' own transport (TLS with rediss://, DESIGN.md "Channel") on a private loop.
 *
 * With --wait, every job's replyTo is set to a stream unique to this call,
 * acmeva:v1:results:submit:<host>:<pid>:<random>; results are printed as they arrive (one JSON
 * document a line on stdout, the first one per job: delivery is at least once) and the stream
 * is deleted at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "acmeva/proto.h"
#include "daemon.h"
#include "queue.h"
#include "rclient.h"
#include "submit.h"

#define PIPELINE 256      /* XADDs in flight before their replies are read */
#define READ_COUNT "1000" /* results per XREAD */
#define CONNECT_TIMEOUT_MS 5000
#define ERR_MAX 512

static const char submit_usage[] =
    "Usage: acmeva submit [--redis URL] [--perspective P | --mpic] (--job FILE|-) [--wait]\n"
    "                     [--timeout-ms N] [--redis-ca FILE] [--redis-cert FILE --redis-key FILE]\n"
    "Enqueues NDJSON jobs (one a line) on acmeva:v1:jobs:<P> for acmeva-worker.\n"
    "  --redis URL        redis[s]://[user:pass@]host:port[/db] (rediss://: TLS; default\n"
    "                     $ACMEVA_REDIS_URL, else redis://127.0.0.1:6379)\n"
    "  --perspective P    the perspective whose workers get the jobs (default \"default\")\n"
    "  --mpic             enqueue on acmeva:v1:mpic for acmeva-coordinator instead: each job\n"
    "                     is corroborated from several perspectives (BR 3.2.2.9)\n"
    "  --job FILE|-       the jobs; '-' reads stdin. A line that is not a valid job is\n"
    "                     reported on stderr and not enqueued\n"
    "  --wait             print each job's result as it comes back (replyTo is set to a\n"
    "                     stream of this call's own, deleted at the end)\n"
    "  --timeout-ms N     how long --wait waits for all results (default "
    "60000)\n" ACMEVA_REDIS_TLS_USAGE
    "Exit status: 0 all enqueued (and with --wait all valid), 1 some result invalid,\n"
    "2 bad usage, a bad line, a Redis error or a timeout.\n";

typedef struct expect {
    char *id;
    int got;
} expect;

typedef struct submit {
    acmeva_redis_url url;
    acmeva_redis_tls_options tls;
    char masked[512];
    char stream[sizeof(ACMEVA_JOBS_STREAM_PREFIX) + ACMEVA_PERSPECTIVE_MAX];
    char reply[ACMEVA_REPLY_TO_MAX + 1];
    const char *job_path;
    int wait;
    int64_t timeout_ms;
    acmeva_rclient c;
    int connected;
    char err[ERR_MAX];
    expect *ex;
    size_t n_ex, cap_ex, waiting_for;
    long *inflight_line; /* line numbers of the XADDs whose replies are unread */
    size_t *inflight_ex; /* their index in ex, or SIZE_MAX */
    size_t n_inflight;
    size_t enqueued;
    int bad, invalid;
} submit;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* parse_args returns 0, 1 for --help, or -1 after a line on stderr. */
static int parse_args(submit *s, int argc, char **argv)
{
    const char *perspective = NULL, *url = acmeva_redis_url_default(), *v;
    int mpic = 0, rc;
    int64_t n;
    for (int i = 1; i < argc;) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
        if (acmeva_option_value(argc, argv, &i, "--redis", &v)) {
            if (v == NULL) {
                fprintf(stderr, "acmeva submit: --redis needs a URL\n");
                return -1;
            }
            url = v;
        } else if (acmeva_option_value(argc, argv, &i, "--perspective", &v)) {
            if (!acmeva_perspective_ok(v)) {
                fprintf(stderr, "acmeva submit: --perspective: 1 to 64 bytes of [A-Za-z0-9._-]\n");
                return -1;
            }
            perspective = v;
        } else if (acmeva_option_value(argc, argv, &i, "--job", &v)) {
            if (v == NULL || *v == '\0') {
                fprintf(stderr, "acmeva submit: --job needs a file or -\n");
                return -1;
            }
            s->job_path = v;
        } else if (strcmp(argv[i], "--mpic") == 0) {
            mpic = 1;
            i++;
        } else if (strcmp(argv[i], "--wait") == 0) {
            s->wait = 1;
            i++;
        } else if (acmeva_option_value(argc, argv, &i, "--timeout-ms", &v)) {
            if (acmeva_parse_int(v, 1, 86400000, &n) < 0) {
                fprintf(stderr,
                        "acmeva submit: --timeout-ms: '%s' is not a number from 1 to "
                        "86400000\n",
                        v ? v : "");
                return -1;
            }
            s->timeout_ms = n;
        } else if ((rc = acmeva_redis_tls_option(&s->tls, "acmeva submit", argc, argv, &i)) != 0) {
            if (rc < 0)
                return -1;
        } else {
            fprintf(stderr, "acmeva submit: unknown option '%s' (see --help)\n", argv[i]);
            return -1;
        }
    }
    if (s->job_path == NULL) {
        fprintf(stderr, "acmeva submit: --job FILE|- is required (see --help)\n");
        return -1;
    }
    char err[256];
    if (acmeva_redis_url_parse(url, &s->url, err, sizeof(err)) < 0) {
        fprintf(stderr, "acmeva submit: %s\n", err); /* never repeats the password */
        return -1;
    }
    acmeva_redis_url_masked(&s->url, s->masked, sizeof(s->masked));
    if (acmeva_redis_tls_check(&s->tls, &s->url, err, sizeof(err)) < 0) {
        fprintf(stderr, "acmeva submit: %s\n", err);
        return -1;
    }
    if (mpic && perspective != NULL) {
        fprintf(stderr, "acmeva submit: --mpic and --perspective exclude each other: the "
                        "coordinator picks the perspectives\n");
        acmeva_redis_url_clear(&s->url);
        return -1;
    }
    if (mpic)
        snprintf(s->stream, sizeof(s->stream), "%s", ACMEVA_MPIC_STREAM);
    else
        snprintf(s->stream, sizeof(s->stream), "%s%s", ACMEVA_JOBS_STREAM_PREFIX,
                 perspective ? perspective : "default");
    return 0;
}

/* command runs one command and returns its reply (caller frees), or NULL after a message. */
static redisReply *command(submit *s, int argc, const char **argv, const size_t *lens)
{
    redisReply *r = acmeva_rclient_call(&s->c, argc, argv, lens, s->err, sizeof(s->err));
    if (r == NULL)
        fprintf(stderr, "acmeva submit: %s\n", s->err);
    return r;
}

/* connect_redis connects, authenticates and selects the database (rclient.c), over TLS for a
 * rediss:// URL. The probe reads the stream the jobs go to. */
static int connect_redis(submit *s)
{
    char name[128];
    acmeva_consumer_name(name, sizeof(name), 0);
    char client[160];
    snprintf(client, sizeof(client), "acmeva-submit:%s", name);
    s->connected = 1;
    if (acmeva_rclient_open(&s->c, "acmeva submit", &s->url, &s->tls, s->stream, client, s->err,
                            sizeof(s->err)) < 0) {
        fprintf(stderr, "acmeva submit: %s\n", s->err);
        return -1;
    }
    return 0;
}

/* reply_stream_name makes acmeva:v1:results:submit:<host>:<pid>:<random>, within the
 * replyTo alphabet [A-Za-z0-9._:/-]. */
static int reply_stream_name(submit *s)
{
    char host[64];
    unsigned char rnd[8];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-'))
            *p = '-';
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        fprintf(stderr, "acmeva submit: no random bytes\n");
        return -1;
    }
    char hex[2 * sizeof(rnd) + 1];
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    snprintf(s->reply, sizeof(s->reply), "acmeva:v1:results:submit:%s:%ld:%s", host, (long)getpid(),
             hex);
    return 0;
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

static int add_expect(submit *s, const char *id)
{
    if (s->n_ex == s->cap_ex) {
        size_t cap = s->cap_ex ? 2 * s->cap_ex : 256;
        expect *ex = realloc(s->ex, cap * sizeof(*ex));
        if (ex == NULL)
            return -1;
        s->ex = ex;
        s->cap_ex = cap;
    }
    s->ex[s->n_ex].id = strdup(id);
    if (s->ex[s->n_ex].id == NULL)
        return -1;
    s->ex[s->n_ex].got = 0;
    s->n_ex++;
    return 0;
}

/* drain reads the replies of the XADDs in flight. */
static int drain(submit *s)
{
    for (size_t i = 0; i < s->n_inflight; i++) {
        redisReply *r = acmeva_rclient_next(&s->c, s->err, sizeof(s->err));
        if (r == NULL)
            return -1;
        if (r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "acmeva submit: line %ld: Redis refused the job: %s\n",
                    s->inflight_line[i], r->str);
            s->bad = 1;
            if (s->inflight_ex[i] != SIZE_MAX)
                s->ex[s->inflight_ex[i]].got = -1; /* no result will come */
        } else {
            s->enqueued++;
        }
        freeReplyObject(r);
    }
    s->n_inflight = 0;
    return 0;
}

/* with_reply_to returns |line| re-encoded with "replyTo" set to our stream, or NULL. */
static char *with_reply_to(const submit *s, const char *line, size_t len)
{
    json_error_t je;
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return NULL;
    char *out = NULL;
    if (json_object_set_new(root, "replyTo", json_string(s->reply)) == 0)
        out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return out;
}

static int enqueue_all(submit *s, FILE *in)
{
    char *buf = malloc(ACMEVA_JOB_MAX_BYTES + 2);
    if (buf == NULL)
        return -1;
    size_t len;
    int too_long;
    long lineno = 0;
    int rc = 0;
    while (rc == 0 && acmeva_read_line(in, buf, ACMEVA_JOB_MAX_BYTES + 2, &len, &too_long)) {
        lineno++;
        if (too_long) {
            fprintf(stderr, "acmeva submit: line %ld: longer than %d bytes, not enqueued\n", lineno,
                    ACMEVA_JOB_MAX_BYTES);
            s->bad = 1;
            continue;
        }
        if (is_blank(buf, len))
            continue;
        acmeva_job *job = NULL;
        acmeva_job_error err;
        if (acmeva_job_parse(buf, len, &job, &err) < 0) {
            /* The detail names the field ("identifier.value: ..."). */
            fprintf(stderr, "acmeva submit: line %ld%s%s%s: %s, not enqueued\n", lineno,
                    err.id ? " (id " : "", err.id ? err.id : "", err.id ? ")" : "", err.detail);
            acmeva_job_error_clear(&err);
            s->bad = 1;
            continue;
        }
        char *payload = buf, *owned = NULL;
        size_t plen = len, ex_index = SIZE_MAX;
        if (s->wait) {
            owned = with_reply_to(s, buf, len);
            if (owned == NULL || strlen(owned) > ACMEVA_JOB_MAX_BYTES ||
                add_expect(s, job->id) < 0) {
                fprintf(stderr, "acmeva submit: line %ld: cannot set replyTo, not enqueued\n",
                        lineno);
                free(owned);
                acmeva_job_free(job);
                s->bad = 1;
                continue;
            }
            payload = owned;
            plen = strlen(owned);
            ex_index = s->n_ex - 1;
        }
        acmeva_job_free(job);
        const char *argv[] = {"XADD", s->stream, "*", "job", payload};
        size_t lens[] = {4, strlen(s->stream), 1, 3, plen};
        if (acmeva_rclient_send(&s->c, 5, argv, lens) < 0) {
            snprintf(s->err, sizeof(s->err), "%.190s: %.300s", s->masked,
                     s->c.conn.last_error[0] ? s->c.conn.last_error : "cannot send");
            free(owned);
            rc = -1;
            break;
        }
        free(owned);
        s->inflight_line[s->n_inflight] = lineno;
        s->inflight_ex[s->n_inflight] = ex_index;
        if (++s->n_inflight == PIPELINE)
            rc = drain(s);
    }
    if (rc == 0)
        rc = drain(s);
    free(buf);
    return rc;
}

static int cmp_expect(const void *a, const void *b)
{
    return strcmp(((const expect *)a)->id, ((const expect *)b)->id);
}

/* take_expect marks one not-yet-answered job with |id| as answered. Returns 1, or 0 when
 * no job waits for it (a duplicate delivery, or an id that is not ours). */
static int take_expect(submit *s, const char *id)
{
    size_t lo = 0, hi = s->n_ex;
    while (lo < hi) { /* the first element >= id */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->ex[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < s->n_ex && strcmp(s->ex[i].id, id) == 0; i++) {
        if (s->ex[i].got == 0) {
            s->ex[i].got = 1;
            return 1;
        }
    }
    return 0;
}

/* handle_result prints one result document if it answers a job we wait for. */
static void handle_result(submit *s, const char *doc, size_t len)
{
    char err[256];
    if (acmeva_result_check_json(doc, len, err, sizeof(err)) != 0) {
        fprintf(stderr, "acmeva submit: a result that breaks the schema (%s), ignored\n", err);
        return;
    }
    json_error_t je;
    json_t *root = json_loadb(doc, len, 0, &je);
    if (root == NULL)
        return;
    const char *id = json_string_value(json_object_get(root, "id"));
    const char *status = json_string_value(json_object_get(root, "status"));
    if (id != NULL && take_expect(s, id)) {
        s->waiting_for--;
        if (status == NULL || strcmp(status, "valid") != 0)
            s->invalid = 1;
        fwrite(doc, 1, len, stdout);
        fputc('\n', stdout);
    }
    json_decref(root);
}

static int wait_results(submit *s)
{
    qsort(s->ex, s->n_ex, sizeof(*s->ex), cmp_expect);
    s->waiting_for = 0;
    for (size_t i = 0; i < s->n_ex; i++)
        if (s->ex[i].got == 0)
            s->waiting_for++;
    char last[64] = "0-0";
    int64_t deadline = mono_ms() + s->timeout_ms;
    while (s->waiting_for > 0) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            break;
        char block[24];
        snprintf(block, sizeof(block), "%lld", (long long)left);
        acmeva_rclient_set_timeout(&s->c, left + 5000);
        const char *argv[] = {"XREAD", "COUNT",   READ_COUNT, "BLOCK",
                              block,   "STREAMS", s->reply,   last};
        redisReply *r = command(s, 8, argv, NULL);
        if (r == NULL)
            return -1;
        if (r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "acmeva submit: XREAD: %s\n", r->str);
            freeReplyObject(r);
            return -1;
        }
        /* nil: BLOCK timed out; else [[stream, [[id, [field, value, ...]], ...]]] */
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
            r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
            r->element[0]->element[1]->type == REDIS_REPLY_ARRAY) {
            redisReply *entries = r->element[0]->element[1];
            for (size_t i = 0; i < entries->elements; i++) {
                redisReply *e = entries->element[i];
                if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
                    e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= sizeof(last))
                    continue;
                memcpy(last, e->element[0]->str, e->element[0]->len);
                last[e->element[0]->len] = '\0';
                redisReply *f = e->element[1];
                for (size_t j = 0; f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements; j += 2)
                    if (f->element[j]->type == REDIS_REPLY_STRING &&
                        strcmp(f->element[j]->str, "result") == 0 &&
                        f->element[j + 1]->type == REDIS_REPLY_STRING)
                        handle_result(s, f->element[j + 1]->str, f->element[j + 1]->len);
            }
            fflush(stdout);
        }
        freeReplyObject(r);
    }
    if (s->waiting_for > 0) {
        fprintf(stderr, "acmeva submit: timed out after %lld ms: %zu of %zu results missing\n",
                (long long)s->timeout_ms, s->waiting_for, s->n_ex);
        return 1;
    }
    return 0;
}

int acmeva_submit_main(int argc, char **argv)
{
    submit s;
    memset(&s, 0, sizeof(s));
    s.timeout_ms = 60000;
    int status = 2;
    FILE *in = NULL;
    int rc = parse_args(&s, argc, argv);
    if (rc == 1) {
        fputs(submit_usage, stdout);
        status = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    s.inflight_line = calloc(PIPELINE, sizeof(long));
    s.inflight_ex = calloc(PIPELINE, sizeof(size_t));
    if (s.inflight_line == NULL || s.inflight_ex == NULL)
        goto out;
    if (strcmp(s.job_path, "-") == 0) {
        in = stdin;
    } else if ((in = fopen(s.job_path, "r")) == NULL) {
        fprintf(stderr, "acmeva submit: %s: %s\n", s.job_path, strerror(errno));
        goto out;
    }
    if (connect_redis(&s) < 0 || (s.wait && reply_stream_name(&s) < 0))
        goto out;
    if (enqueue_all(&s, in) < 0) {
        fprintf(stderr, "acmeva submit: %s\n", s.err);
        goto out;
    }
    fprintf(stderr, "acmeva submit: enqueued %zu job%s on %s\n", s.enqueued,
            s.enqueued == 1 ? "" : "s", s.stream);
    int timed_out = 0;
    if (s.wait) {
        int w = wait_results(&s);
        /* Delete the reply stream whatever happened (a late result may create it again; such
         * a stream holds only results and is safe to delete). */
        acmeva_rclient_set_timeout(&s.c, CONNECT_TIMEOUT_MS);
        const char *del[] = {"DEL", s.reply};
        redisReply *r = command(&s, 2, del, NULL);
        freeReplyObject(r);
        if (w < 0)
            goto out;
        timed_out = w > 0;
    }
    status = s.bad || timed_out ? 2 : (s.invalid ? 1 : 0);
out:
    if (in != NULL && in != stdin)
        fclose(in);
    if (s.connected)
        acmeva_rclient_close(&s.c);
    for (size_t i = 0; i < s.n_ex; i++)
        free(s.ex[i].id);
    free(s.ex);
    free(s.inflight_line);
    free(s.inflight_ex);
    acmeva_redis_url_clear(&s.url);
    acmeva_redis_tls_options_clear(&s.tls);
    return status;
}
