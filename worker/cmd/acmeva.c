/*
 * acmeva: the command-line shell over the engine.
 *   acmeva check  validates jobs locally, with no Redis (DESIGN.md "Commands")
 *   acmeva submit enqueues jobs on Redis (worker/queue/submit.c)
 *   acmeva verify checks signed result entries (worker/queue/verify.c)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "acmeva/engine.h"
#include "acmeva/proto.h"
#include "acmeva/version.h"
#include "diagnose.h"
#include "perspectives.h"
#ifdef ACMEVA_HAVE_QUEUE
#include "policycli.h"
#include "submit.h"
#include "verify.h"
#endif

#define CHECK_DEFAULT_MAX_INFLIGHT 1000
#define CHECK_READ_CHUNK (64 * 1024)
/* The descriptors a run needs before it can validate anything: libuv's loop takes six (its
 * signal pipes, epoll and wakeup descriptors), then one DNS socket and one connection. With
 * fewer free, libuv aborts the process (it cannot make its first pipe) or the event loop
 * cannot start: refuse with a clear line first. With a few more, the validations that find no
 * descriptor free end as serverInternal local failures instead. */
#define CHECK_MIN_FREE_FDS 8

static const char check_usage[] =
    "usage: acmeva check [engine options] [--max-inflight N] [--dns-stats] [--format text|json]\n"
    "                    [--all-addresses] [--perspectives FILE]\n"
    "                    (--job FILE|- | --type T --identifier V [--token T]\n"
    "                     [--key-authorization KA] [--account-uri U] [--caa] [--id ID])\n"
    "\n"
    "Validates ACME challenges locally, with no Redis. --job reads NDJSON (one job a line,\n"
    "the schema of proto/job.schema.json) from FILE or standard input and runs the jobs\n"
    "concurrently, at most --max-inflight at once (default 1000). The flags form builds one\n"
    "job: --type is http-01, dns-01, tls-alpn-01, dns-account-01 or dns-persist-01 (or\n"
    "omitted with --caa for a CAA-only check); the identifier is an IP when it is IP text.\n"
    "--caa adds a CAA check against the --issuer-domain values.\n"
    "\n"
    "Prints one result a line as JSON on standard output as each finishes (logs and errors\n"
    "go to standard error). Exit status: 0 when all are valid, 1 when any is invalid, 2 for\n"
    "bad usage or bad input (a batch with a bad line still runs its other jobs), and 2 with\n"
    "no job run when --require-dnssec-resolver finds no resolver that validates DNSSEC.\n"
    "\n"
    "--format text prints, for each job, a diagnosis for people: the verdict first, then each\n"
    "step the validation took (names looked up and their answers with their DNSSEC status,\n"
    "addresses tried and what happened at each, redirect hops with their status codes, the\n"
    "start of the body, the certificate seen, where CAA was found and which record decided),\n"
    "then the problem with its most likely cause and what to change. --format json prints the\n"
    "result documents. Default: text when standard output is a terminal, json otherwise (so\n"
    "scripts and pipes get JSON). Colour only on a terminal, and never when NO_COLOR is set.\n"
    "\n"
    "--all-addresses validates http-01 and tls-alpn-01 against every address the identifier\n"
    "resolves to (A and AAAA, at most 32), each on its own, after the validation as a CA does it\n"
    "(first IPv6, then IPv4), all within the job's deadline; the result lists each address's\n"
    "outcome (addressChecks) and is valid only when every address passed: a load balancer with\n"
    "a member that serves an old file shows up.\n"
    "\n"
    "--perspectives FILE runs every job through several resolvers at once, one engine each:\n"
    "FILE has one perspective a line, \"NAME RESOLVER\" (RESOLVER as --resolver takes it;\n"
    "'#' starts a comment), 2 to 16 of them. For each job it prints where their views differ\n"
    "from the first perspective's (addresses, TXT values, CAA records, outcome), in the words\n"
    "of acmeva-coordinator's disagreements: as JSON, one line per job {\"v\", \"id\", \"status\",\n"
    "\"perspectives\": [{\"name\", \"resolver\", \"result\"}], \"disagreements\"}; as text, each\n"
    "perspective's outcome, the differences, then each one's diagnosis. Valid (exit 0) only\n"
    "when every perspective is. Not with --resolver, --require-dnssec-resolver or --dns-stats.\n"
    "\n"
    "--dns-stats writes the engine's DNS counters (queries by type and response code,\n"
    "replies dropped by reason, tries, time) at the end, as one line of JSON on standard\n"
    "error: {\"dnsStats\":{...}} (README.md shows its fields).\n"
    "\n";

typedef struct pending_line {
    struct pending_line *next;
    size_t len;
    int too_long;
    char data[];
} pending_line;

typedef struct check_run {
    uv_loop_t *loop;
    acmeva_engine *engine;
    acmeva_engine_config cfg;
    size_t max_inflight;
    int dns_stats;
    acmeva_perspectives *persp; /* --perspectives: the engines that run every job */
    /* output: the result documents, or a diagnosis for people (--format) */
    int text;
    unsigned diag_flags;
    size_t printed;
    /* input */
    int fd;
    uv_stream_t *stream; /* pipe or tty */
    uv_fs_t fs_req;
    char *chunk;
    int64_t file_off;
    int reading, input_done;
    char *line;
    size_t line_len, line_cap;
    int line_too_long;
    pending_line *head, *tail;
    size_t n_pending;
    /* the jobs to start once the DNSSEC resolver check passed (--require-dnssec-resolver) */
    const char *job_path;
    char *flags_job;
    /* outcome */
    size_t started, finished;
    int any_invalid, bad_input;
    int refused; /* no resolver validates DNSSEC: no job was run */
} check_run;

static void pump(check_run *run);
static void input_resume(check_run *run);

/* print_text writes the diagnosis of the result document |json| (--format text), jobs
 * separated by a blank line. Returns 0, or -1 on no memory. */
static int print_text(check_run *run, const char *json)
{
    json_t *doc = json_loads(json, 0, NULL);
    char *text = doc ? acmeva_diagnose_text(doc, run->diag_flags) : NULL;
    json_decref(doc);
    if (text == NULL)
        return -1;
    if (run->printed++ > 0)
        fputc('\n', stdout);
    fputs(text, stdout);
    fflush(stdout);
    free(text);
    return 0;
}

static void print_result(check_run *run, acmeva_result *r)
{
    char *json = acmeva_result_to_json(r);
    if (json == NULL || (run->text && print_text(run, json) != 0)) {
        fprintf(stderr, "acmeva: out of memory writing a result\n");
        run->bad_input = 1;
        free(json);
        return;
    }
    if (!run->text) {
        fputs(json, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    free(json);
    if (!r->valid)
        run->any_invalid = 1;
}

/* on_perspectives prints one job's outcome on every perspective (--perspectives). */
static void on_perspectives(json_t *doc, void *arg)
{
    check_run *run = arg;
    char *out = NULL;
    if (doc != NULL)
        out = run->text ? acmeva_diagnose_perspectives_text(doc, run->diag_flags)
                        : json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15));
    if (out == NULL) {
        fprintf(stderr, "acmeva: out of memory writing a result\n");
        run->bad_input = 1;
    } else {
        if (run->text && run->printed++ > 0)
            fputc('\n', stdout);
        fputs(out, stdout);
        if (!run->text)
            fputc('\n', stdout);
        fflush(stdout);
    }
    const char *st = json_string_value(json_object_get(doc, "status"));
    if (st == NULL || strcmp(st, "valid") != 0)
        run->any_invalid = 1;
    free(out);
    json_decref(doc);
    run->finished++;
    pump(run);
}

static size_t check_inflight(const check_run *run)
{
    return run->persp != NULL ? acmeva_perspectives_inflight(run->persp)
                              : acmeva_engine_inflight(run->engine);
}

static void on_result(acmeva_result *r, void *arg)
{
    check_run *run = arg;
    print_result(run, r);
    acmeva_result_free(r);
    run->finished++;
    pump(run);
}

static void run_line(check_run *run, const char *data, size_t len, int too_long)
{
    acmeva_job *job = NULL;
    acmeva_job_error err;
    memset(&err, 0, sizeof(err));
    int rc;
    if (too_long) {
        snprintf(err.detail, sizeof(err.detail), "job larger than %d bytes", ACMEVA_JOB_MAX_BYTES);
        rc = -1;
    } else {
        rc = acmeva_job_parse(data, len, &job, &err);
    }
    if (rc != 0) {
        acmeva_result *r = acmeva_result_new_malformed(&err);
        if (r != NULL) {
            r->perspective = strdup(run->cfg.perspective);
            r->rir = strdup(run->cfg.rir);
            r->worker = strdup(run->cfg.worker_id);
        }
        fprintf(stderr, "acmeva: malformed job%s%s: %s\n", err.id ? " " : "", err.id ? err.id : "",
                err.detail);
        if (r != NULL)
            print_result(run, r);
        acmeva_result_free(r);
        acmeva_job_error_clear(&err);
        run->bad_input = 1;
        return;
    }
    run->started++;
    if (run->persp != NULL) {
        /* Every perspective parses the job anew: each engine takes its own. */
        acmeva_job_free(job);
        if (acmeva_perspectives_validate(run->persp, data, len, on_perspectives, run) != 0) {
            fprintf(stderr, "acmeva: cannot start a validation: out of memory\n");
            run->started--;
            run->bad_input = 1;
        }
        return;
    }
    if (acmeva_engine_validate(run->engine, job, 1, on_result, run, NULL) != 0) {
        fprintf(stderr, "acmeva: cannot start a validation: out of memory\n");
        run->started--;
        run->bad_input = 1;
    }
}

/* Start queued jobs while there is room; resume reading when the queue runs low. */
static void pump(check_run *run)
{
    while (run->head != NULL && check_inflight(run) < run->max_inflight) {
        pending_line *p = run->head;
        run->head = p->next;
        if (run->head == NULL)
            run->tail = NULL;
        run->n_pending--;
        run_line(run, p->data, p->len, p->too_long);
        free(p);
    }
    if (!run->input_done && !run->reading && run->n_pending < run->max_inflight)
        input_resume(run);
}

static void queue_line(check_run *run, const char *data, size_t len, int too_long)
{
    while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == ' ' || data[len - 1] == '\t'))
        len--;
    size_t skip = 0;
    while (skip < len && (data[skip] == ' ' || data[skip] == '\t'))
        skip++;
    if (len == skip && !too_long)
        return; /* blank lines are allowed between jobs */
    pending_line *p = malloc(sizeof(*p) + (too_long ? 0 : len - skip));
    if (p == NULL) {
        fprintf(stderr, "acmeva: out of memory\n");
        run->bad_input = 1;
        return;
    }
    p->next = NULL;
    p->too_long = too_long;
    p->len = too_long ? 0 : len - skip;
    if (!too_long)
        memcpy(p->data, data + skip, p->len);
    if (run->tail != NULL)
        run->tail->next = p;
    else
        run->head = p;
    run->tail = p;
    run->n_pending++;
}

/* Split input into lines; a line over the job size cap is reported, never buffered whole. */
static void consume(check_run *run, const char *buf, size_t n)
{
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(buf + i, '\n', n - i);
        size_t take = nl ? (size_t)(nl - (buf + i)) : n - i;
        if (!run->line_too_long) {
            if (run->line_len + take > ACMEVA_JOB_MAX_BYTES + 2) {
                run->line_too_long = 1;
                run->line_len = 0;
            } else {
                if (run->line_len + take > run->line_cap) {
                    size_t cap = run->line_cap ? run->line_cap : 4096;
                    while (cap < run->line_len + take)
                        cap *= 2;
                    char *nl2 = realloc(run->line, cap);
                    if (nl2 == NULL) {
                        run->line_too_long = 1;
                        run->line_len = 0;
                        goto next;
                    }
                    run->line = nl2;
                    run->line_cap = cap;
                }
                memcpy(run->line + run->line_len, buf + i, take);
                run->line_len += take;
            }
        }
    next:
        i += take;
        if (nl != NULL) {
            queue_line(run, run->line, run->line_len, run->line_too_long);
            run->line_len = 0;
            run->line_too_long = 0;
            i++;
        }
    }
}

static void input_end(check_run *run)
{
    run->input_done = 1;
    run->reading = 0;
    if (run->line_len > 0 || run->line_too_long)
        queue_line(run, run->line, run->line_len, run->line_too_long);
    run->line_len = 0;
    if (run->stream != NULL)
        uv_close((uv_handle_t *)run->stream, (uv_close_cb)free);
    run->stream = NULL;
}

static void stream_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    check_run *run = h->data;
    buf->base = run->chunk;
    buf->len = CHECK_READ_CHUNK;
}

static void stream_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    check_run *run = s->data;
    if (n < 0) {
        if (n != UV_EOF) {
            fprintf(stderr, "acmeva: reading jobs: %s\n", uv_strerror((int)n));
            run->bad_input = 1;
        }
        input_end(run);
    } else if (n > 0) {
        consume(run, buf->base, (size_t)n);
        if (run->n_pending >= run->max_inflight) {
            uv_read_stop(s);
            run->reading = 0;
        }
    }
    pump(run);
}

static void file_read_cb(uv_fs_t *req)
{
    check_run *run = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    run->reading = 0;
    if (n < 0) {
        fprintf(stderr, "acmeva: reading jobs: %s\n", uv_strerror((int)n));
        run->bad_input = 1;
        input_end(run);
    } else if (n == 0) {
        input_end(run);
    } else {
        run->file_off += n;
        consume(run, run->chunk, (size_t)n);
    }
    pump(run);
}

static void input_resume(check_run *run)
{
    if (run->stream != NULL) {
        if (uv_read_start(run->stream, stream_alloc, stream_read) == 0)
            run->reading = 1;
        return;
    }
    uv_buf_t b = uv_buf_init(run->chunk, CHECK_READ_CHUNK);
    run->fs_req.data = run;
    if (uv_fs_read(run->loop, &run->fs_req, run->fd, &b, 1, run->file_off, file_read_cb) == 0)
        run->reading = 1;
    else
        input_end(run);
}

static int input_open(check_run *run, const char *path)
{
    if (strcmp(path, "-") == 0) {
        run->fd = 0;
    } else {
        run->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (run->fd < 0) {
            fprintf(stderr, "acmeva: cannot open %s: %s\n", path, strerror(errno));
            return -1;
        }
    }
    run->chunk = malloc(CHECK_READ_CHUNK);
    if (run->chunk == NULL)
        return -1;
    uv_handle_type t = uv_guess_handle(run->fd);
    if (t != UV_NAMED_PIPE && t != UV_TTY)
        return 0; /* a regular file: read with uv_fs_read */
    union {
        uv_pipe_t pipe;
        uv_tty_t tty;
    } *h = malloc(sizeof(*h));
    if (h == NULL)
        return -1;
    int rc = t == UV_TTY ? uv_tty_init(run->loop, &h->tty, run->fd, 1)
                         : uv_pipe_init(run->loop, &h->pipe, 0);
    if (rc != 0) {
        free(h);
        return -1;
    }
    run->stream = (uv_stream_t *)h;
    run->stream->data = run;
    if (t == UV_NAMED_PIPE && uv_pipe_open(&h->pipe, run->fd) != 0) {
        /* The handle is registered with the loop: it is freed from its close callback. */
        uv_close((uv_handle_t *)h, (uv_close_cb)free);
        run->stream = NULL;
        return -1;
    }
    return 0;
}

/* print_dns_stats writes the engine's DNS counters as one JSON line on stderr (--dns-stats):
 * what a metrics exporter would publish, for tests and for a look by hand. */
static void print_dns_stats(const acmeva_dns_stats *st)
{
    json_t *queries = json_array(), *dropped = json_object();
    for (int t = 0; t < ACMEVA_DNS_STAT_QTYPES; t++)
        for (int o = 0; o < ACMEVA_DNS_STAT_OUTCOMES; o++)
            if (st->queries[t][o] > 0)
                json_array_append_new(queries, json_pack("{s:s,s:s,s:I}", "qtype",
                                                         acmeva_dns_stat_qtype_name(t), "rcode",
                                                         acmeva_dns_stat_outcome_name(o), "count",
                                                         (json_int_t)st->queries[t][o]));
    for (int d = 0; d < ACMEVA_DNS_DROP_REASONS; d++)
        json_object_set_new(dropped, acmeva_dns_drop_reason_name(d),
                            json_integer((json_int_t)st->dropped[d]));
    json_t *doc = json_pack("{s:{s:o,s:o,s:I,s:I,s:I,s:f}}", "dnsStats", "queries", queries,
                            "dropped", dropped, "udpTries", (json_int_t)st->udp_tries, "tcpTries",
                            (json_int_t)st->tcp_tries, "tryTimeouts", (json_int_t)st->try_timeouts,
                            "durationSecondsSum", st->duration_seconds_sum);
    char *line = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (line != NULL)
        fprintf(stderr, "%s\n", line);
    free(line);
    json_decref(doc);
}

/* How many descriptors are free right now, counted up to |want| by opening them (and closing
 * them again). Returns |want| when it cannot tell (no /dev/null): the loop's own errors are
 * still reported. */
static int free_descriptors(int want)
{
    int fds[CHECK_MIN_FREE_FDS], n = 0, short_of_fds = 0;
    while (n < want && n < CHECK_MIN_FREE_FDS) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            short_of_fds = errno == EMFILE || errno == ENFILE;
            break;
        }
        fds[n++] = fd;
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
    return short_of_fds ? n : want;
}

/* Build one job from flags, as JSON, so that it meets exactly the rules of a queued job. */
static char *job_from_flags(const char *type, const char *ident, const char *token, const char *ka,
                            const char *account, const char *id, int caa)
{
    uint8_t buf[16];
    json_t *j = json_object();
    json_object_set_new(j, "v", json_integer(ACMEVA_SCHEMA_MAJOR));
    json_object_set_new(j, "id", json_string(id ? id : "cli"));
    int is_ip = inet_pton(AF_INET, ident, buf) == 1 || inet_pton(AF_INET6, ident, buf) == 1;
    json_object_set_new(j, "identifier",
                        json_pack("{s:s,s:s}", "type", is_ip ? "ip" : "dns", "value", ident));
    if (type != NULL) {
        json_t *c = json_pack("{s:s}", "type", type);
        if (token != NULL)
            json_object_set_new(c, "token", json_string(token));
        json_object_set_new(j, "challenge", c);
    }
    if (ka != NULL)
        json_object_set_new(j, "keyAuthorization", json_string(ka));
    if (account != NULL)
        json_object_set_new(j, "accountUri", json_string(account));
    if (caa)
        json_object_set_new(j, "caa", json_object());
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* check_start starts reading the jobs (a file or standard input) or runs the one job built
 * from the flags. */
static void check_start(check_run *run)
{
    if (run->job_path != NULL) {
        if (input_open(run, run->job_path) != 0) {
            run->bad_input = 1;
            return;
        }
        input_resume(run);
        return;
    }
    run->input_done = 1;
    queue_line(run, run->flags_job, strlen(run->flags_job), 0);
    pump(run);
}

/* dnssec_checked runs the jobs once a resolver validates DNSSEC, or refuses to run any
 * (--require-dnssec-resolver; DESIGN.md "DNSSEC"). */
static void dnssec_checked(void *arg, const acmeva_dnssec_report *rep)
{
    check_run *run = arg;
    if (rep->validating == 0) {
        fprintf(stderr,
                "acmeva: --require-dnssec-resolver: no resolver validates DNSSEC, so no job was "
                "run: %s\n",
                rep->detail);
        run->refused = 1;
        return;
    }
    if (rep->validating < rep->resolvers)
        fprintf(stderr,
                "acmeva: warning: not every resolver validates DNSSEC (answers from those are "
                "recorded insecure): %s\n",
                rep->detail);
    check_start(run);
}

static int check_main(int argc, char **argv)
{
    check_run run;
    uv_loop_t loop;
    const char *job_path = NULL, *type = NULL, *ident = NULL, *token = NULL, *ka = NULL;
    const char *account = NULL, *id = NULL, *format = NULL, *persp_path = NULL;
    int caa = 0, rc = 2;
    char err[256];
    memset(&run, 0, sizeof(run));
    run.max_inflight = CHECK_DEFAULT_MAX_INFLIGHT;
    run.fd = -1;
    acmeva_engine_config_init(&run.cfg);

    for (int i = 1; i < argc;) {
        int r = acmeva_engine_config_option(&run.cfg, argc, argv, &i);
        if (r < 0)
            goto out;
        if (r > 0)
            continue;
        const char *a = argv[i], *v = NULL;
        const struct {
            const char *name;
            const char **dst;
        } strings[] = {{"--job", &job_path},
                       {"--type", &type},
                       {"--identifier", &ident},
                       {"--token", &token},
                       {"--key-authorization", &ka},
                       {"--account-uri", &account},
                       {"--id", &id},
                       {"--format", &format},
                       {"--perspectives", &persp_path}};
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(check_usage, stdout);
            fputs(acmeva_engine_config_usage, stdout);
            rc = 0;
            goto out;
        }
        if (strcmp(a, "--caa") == 0) {
            caa = 1;
            i++;
            continue;
        }
        if (strcmp(a, "--dns-stats") == 0) {
            run.dns_stats = 1;
            i++;
            continue;
        }
        if (strcmp(a, "--all-addresses") == 0) {
            run.cfg.all_addresses = 1;
            i++;
            continue;
        }
        if (acmeva_option_value(argc, argv, &i, "--max-inflight", &v)) {
            int64_t n;
            if (acmeva_parse_int(v, 1, 1000000, &n) < 0) {
                fprintf(stderr, "acmeva: --max-inflight: a number from 1 to 1000000\n");
                goto out;
            }
            run.max_inflight = n;
            continue;
        }
        size_t k;
        for (k = 0; k < sizeof(strings) / sizeof(strings[0]); k++)
            if (acmeva_option_value(argc, argv, &i, strings[k].name, &v))
                break;
        if (k == sizeof(strings) / sizeof(strings[0])) {
            fprintf(stderr, "acmeva check: unknown option '%s' (see --help)\n", a);
            goto out;
        }
        if (v == NULL) {
            fprintf(stderr, "acmeva check: %s needs a value\n", strings[k].name);
            goto out;
        }
        *strings[k].dst = v;
    }
    /* Scripts and pipes keep the result documents; a person at a terminal gets the text.
     * Colour only on a terminal, and never with NO_COLOR set (https://no-color.org). */
    if (format != NULL && strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
        fprintf(stderr, "acmeva check: --format is text or json\n");
        goto out;
    }
    int tty = isatty(STDOUT_FILENO);
    run.text = format != NULL ? strcmp(format, "text") == 0 : tty;
    const char *no_color = getenv("NO_COLOR");
    if (run.text && tty && (no_color == NULL || no_color[0] == '\0'))
        run.diag_flags |= ACMEVA_DIAG_COLOR;
    if (persp_path != NULL &&
        (run.cfg.n_resolvers > 0 || run.cfg.require_dnssec || run.dns_stats)) {
        fprintf(stderr, "acmeva check: --perspectives names the resolvers; it does not go with "
                        "--resolver, --require-dnssec-resolver or --dns-stats\n");
        goto out;
    }
    if ((job_path != NULL) == (ident != NULL)) {
        fprintf(stderr, "acmeva check: give either --job FILE|- or --identifier (see --help)\n");
        goto out;
    }
    if (job_path != NULL && (type || token || ka || account || id || caa)) {
        fprintf(stderr, "acmeva check: --job cannot be combined with the flags of one job\n");
        goto out;
    }

    int nfree = free_descriptors(CHECK_MIN_FREE_FDS);
    if (nfree < CHECK_MIN_FREE_FDS) {
        struct rlimit lim;
        getrlimit(RLIMIT_NOFILE, &lim);
        fprintf(stderr,
                "acmeva: too few file descriptors: %d free under the limit of %llu, %d needed "
                "(raise it with ulimit -n)\n",
                nfree, (unsigned long long)lim.rlim_cur, CHECK_MIN_FREE_FDS);
        goto out;
    }
    int rl = uv_loop_init(&loop);
    if (rl != 0) {
        fprintf(stderr, "acmeva: cannot start the event loop: %s\n", uv_strerror(rl));
        goto out;
    }
    run.loop = &loop;
    if (persp_path != NULL) {
        if (acmeva_perspectives_load(persp_path, &run.cfg, &run.persp, err, sizeof(err)) != 0 ||
            acmeva_perspectives_start(run.persp, run.loop, err, sizeof(err)) != 0) {
            fprintf(stderr, "acmeva check: --perspectives: %s\n", err);
            acmeva_perspectives_free(run.persp);
            uv_run(run.loop, UV_RUN_DEFAULT);
            goto out;
        }
    } else if (acmeva_engine_new(run.loop, &run.cfg, NULL, &run.engine, err, sizeof(err)) != 0) {
        fprintf(stderr, "acmeva: %s\n", err);
        goto out;
    }
    run.job_path = job_path;
    if (job_path == NULL &&
        (run.flags_job = job_from_flags(type, ident, token, ka, account, id, caa)) == NULL) {
        fprintf(stderr, "acmeva: out of memory\n");
        acmeva_engine_free(run.engine);
        acmeva_perspectives_free(run.persp);
        uv_run(run.loop, UV_RUN_DEFAULT);
        goto out;
    }
    if (run.cfg.require_dnssec) {
        /* Nothing is validated before a resolver was found to validate DNSSEC. */
        int r = acmeva_dnssec_check_start(run.engine, dnssec_checked, &run, NULL);
        if (r != 0) {
            fprintf(stderr, "acmeva: --require-dnssec-resolver: cannot check the resolvers: %s\n",
                    uv_strerror(r));
            run.refused = 1;
        }
    } else {
        check_start(&run);
    }
    uv_run(run.loop, UV_RUN_DEFAULT);
    if (run.dns_stats)
        print_dns_stats(acmeva_engine_dns_stats(run.engine));
    acmeva_engine_free(run.engine);
    acmeva_perspectives_free(run.persp);
    uv_run(run.loop, UV_RUN_DEFAULT);
    rc = run.bad_input || run.refused ? 2 : run.any_invalid ? 1 : 0;

out:
    if (run.fd > 0)
        close(run.fd);
    free(run.chunk);
    free(run.line);
    free(run.flags_job);
    while (run.head != NULL) {
        pending_line *p = run.head;
        run.head = p->next;
        free(p);
    }
    acmeva_engine_config_clear(&run.cfg);
    if (run.loop != NULL)
        uv_loop_close(run.loop);
    return rc;
}

static const char main_usage[] =
    "usage: acmeva <command> [options]\n"
    "\n"
    "Commands:\n"
    "  check   validate ACME challenges locally, with no Redis\n"
    "  submit  enqueue jobs on a Redis stream for acmeva-worker (and wait for results)\n"
    "  verify  check the signatures of result entries (acmeva-worker --signing-key)\n"
    "  policy  show or change the operator's policy: switch a validation method off or on\n"
    "          across the fleet, bring a dated BR rule in early\n"
    "\n"
    "Run 'acmeva <command> --help' for the options of a command, 'acmeva --version' for the\n"
    "version.\n";

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (acmeva_version_option("acmeva", argc, argv))
        return 0;
    if (argc < 2) {
        fputs(main_usage, stderr);
        return 2;
    }
    if (strcmp(argv[1], "check") == 0)
        return check_main(argc - 1, argv + 1);
#ifdef ACMEVA_HAVE_QUEUE
    if (strcmp(argv[1], "submit") == 0)
        return acmeva_submit_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0)
        return acmeva_verify_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "policy") == 0)
        return acmeva_policy_main(argc - 1, argv + 1);
#else
    if (strcmp(argv[1], "submit") == 0 || strcmp(argv[1], "verify") == 0 ||
        strcmp(argv[1], "policy") == 0) {
        fprintf(stderr, "acmeva: this build has no Redis queue support\n");
        return 2;
    }
#endif
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(main_usage, stdout);
        return 0;
    }
    fprintf(stderr, "acmeva: unknown command '%s'\n", argv[1]);
    fputs(main_usage, stderr);
    return 2;
}
