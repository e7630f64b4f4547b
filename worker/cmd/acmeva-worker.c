/*
 * acmeva-worker: the validation daemon. Reads jobs from the Redis stream
 * acmeva:v1:jobs:<perspective> (consumer group "acmeva"), validates them with the engine and
 * posts each result on the job's replyTo stream (DESIGN.md "Commands", "Redis keys").
 * A thin shell: options here, everything else in worker/queue (acmeva_worker_run).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmeva/engine.h"
#include "queue.h"

static const char usage[] =
    "Usage: acmeva-worker [worker options] [engine options]\n"
    "Validates ACME challenges taken from Redis until SIGTERM or SIGINT.\n"
    "\n"
    "Worker options:\n"
    "  --redis URL               redis://[user:pass@]host:port[/db]\n"
    "                            (default $ACMEVA_REDIS_URL, else redis://127.0.0.1:6379;\n"
    "                            the variable keeps a password off the command line)\n"
    "  --perspective NAME        read acmeva:v1:jobs:NAME; written into every result\n"
    "                            (default \"default\")\n"
    "  --rir RIR                 the regional internet registry of this perspective, written\n"
    "                            into every result (default \"\")\n"
    "  --threads N               event-loop threads (default: the number of cores)\n"
    "  --max-inflight N          jobs a thread holds at once, running or awaiting their\n"
    "                            acknowledgement (default 1000)\n"
    "  --claim-idle-ms N         claim jobs pending longer than this on another consumer\n"
    "                            (default: twice --timeout-ms)\n"
    "  --max-deliveries N        dead-letter a job delivered more often than this\n"
    "                            (default 5)\n"
    "  --grace-ms N              on SIGTERM/SIGINT, time to finish the jobs in flight\n"
    "                            (default 10000)\n"
    "  --results-maxlen N        XADD MAXLEN ~ N on result and dead-letter streams\n"
    "                            (default 1000000)\n"
    "  --log-format json|text    log lines on stderr (default text)\n"
    "  --help                    this text\n"
    "\n";

static int bad(const char *opt, const char *v, const char *want)
{
    fprintf(stderr, "acmeva-worker: %s: '%s' is not %s\n", opt, v ? v : "", want);
    return -1;
}

static int number(const char *opt, const char *v, int64_t min, int64_t max, int64_t *out)
{
    if (acmeva_parse_int(v, min, max, out) < 0) {
        char want[96];
        snprintf(want, sizeof(want), "a number from %lld to %lld", (long long)min, (long long)max);
        return bad(opt, v, want);
    }
    return 0;
}

static int set_string(char **dst, const char *v)
{
    char *s = strdup(v);
    if (s == NULL)
        return -1;
    free(*dst);
    *dst = s;
    return 0;
}

/* parse_args returns 0, 1 for --help, or -1 after one line on stderr. */
static int parse_args(int argc, char **argv, acmeva_worker_options *o, acmeva_engine_config *cfg)
{
    int64_t n;
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
        if (acmeva_option_value(argc, argv, &i, "--redis", &v)) {
            char err[256];
            acmeva_redis_url u;
            if (v == NULL)
                return bad("--redis", v, "a redis:// URL");
            if (acmeva_redis_url_parse(v, &u, err, sizeof(err)) < 0) {
                /* The message never repeats the URL: it may hold a password. */
                fprintf(stderr, "acmeva-worker: %s\n", err);
                return -1;
            }
            acmeva_redis_url_clear(&o->redis);
            o->redis = u;
        } else if (acmeva_option_value(argc, argv, &i, "--perspective", &v)) {
            if (!acmeva_perspective_ok(v))
                return bad("--perspective", v, "1 to 64 bytes of [A-Za-z0-9._-]");
            if (set_string(&o->perspective, v) < 0 || set_string(&cfg->perspective, v) < 0)
                return -1;
        } else if (acmeva_option_value(argc, argv, &i, "--rir", &v)) {
            if (v == NULL || (*v != '\0' && !acmeva_perspective_ok(v)))
                return bad("--rir", v, "0 to 64 bytes of [A-Za-z0-9._-]");
            if (set_string(&cfg->rir, v) < 0)
                return -1;
        } else if (acmeva_option_value(argc, argv, &i, "--threads", &v)) {
            if (number("--threads", v, 1, 256, &n) < 0)
                return -1;
            o->threads = (int)n;
        } else if (acmeva_option_value(argc, argv, &i, "--max-inflight", &v)) {
            if (number("--max-inflight", v, 1, 100000, &o->max_inflight) < 0)
                return -1;
        } else if (acmeva_option_value(argc, argv, &i, "--claim-idle-ms", &v)) {
            if (number("--claim-idle-ms", v, 100, 86400000, &o->claim_idle_ms) < 0)
                return -1;
        } else if (acmeva_option_value(argc, argv, &i, "--max-deliveries", &v)) {
            if (number("--max-deliveries", v, 1, 1000, &o->max_deliveries) < 0)
                return -1;
        } else if (acmeva_option_value(argc, argv, &i, "--grace-ms", &v)) {
            if (number("--grace-ms", v, 0, 3600000, &o->grace_ms) < 0)
                return -1;
        } else if (acmeva_option_value(argc, argv, &i, "--results-maxlen", &v)) {
            if (number("--results-maxlen", v, 1, INT64_MAX / 2, &o->results_maxlen) < 0)
                return -1;
        } else if (acmeva_option_value(argc, argv, &i, "--log-format", &v)) {
            if (v != NULL && strcmp(v, "json") == 0)
                acmeva_log_set_format(ACMEVA_LOG_JSON);
            else if (v != NULL && strcmp(v, "text") == 0)
                acmeva_log_set_format(ACMEVA_LOG_TEXT);
            else
                return bad("--log-format", v, "json or text");
        } else {
            int r = acmeva_engine_config_option(cfg, argc, argv, &i);
            if (r < 0)
                return -1;
            if (r == 0) {
                fprintf(stderr, "acmeva-worker: unknown option '%s' (see --help)\n", argv[i]);
                return -1;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    acmeva_worker_options o;
    acmeva_engine_config cfg;
    acmeva_engine_config_init(&cfg);
    if (acmeva_worker_options_init(&o) < 0) {
        fprintf(stderr, "acmeva-worker: no memory\n");
        return 1;
    }
    int rc = parse_args(argc, argv, &o, &cfg);
    int status;
    if (rc == 1) {
        fputs(usage, stdout);
        fputs(acmeva_engine_config_usage, stdout);
        status = 0;
    } else if (rc < 0 || cfg.perspective == NULL || cfg.rir == NULL) {
        status = 2;
    } else {
        status = acmeva_worker_run(&o, &cfg);
    }
    acmeva_worker_options_clear(&o);
    acmeva_engine_config_clear(&cfg);
    return status;
}
