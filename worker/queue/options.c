/*
 * The options every daemon shares (acmeva-worker, acmeva-coordinator): one parser, one --help
 * text, so that the two daemons cannot drift apart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmeva/proto.h"
#include "httpd.h"
#include "queue.h"
#include "resultsig.h"

#define DEFAULT_BLOCK_MS 1000
#define DEFAULT_REDIS_TIMEOUT_MS 15000

const char acmeva_daemon_options_usage[] =
    "Daemon options:\n"
    "  --redis URL               redis[s]://[user:pass@]host:port[/db] (rediss://: TLS)\n"
    "                            (default $ACMEVA_REDIS_URL, else redis://127.0.0.1:6379;\n"
    "                            the variable keeps a password off the command line)\n"
    "  --threads N               event-loop threads (default: the number of cores)\n"
    "  --max-inflight N          entries a thread holds at once, running or awaiting their\n"
    "                            acknowledgement (default 1000)\n"
    "  --claim-idle-ms N         claim entries pending longer than this on another consumer\n"
    "                            (default: twice --timeout-ms)\n"
    "  --max-deliveries N        dead-letter an entry delivered more often than this\n"
    "                            (default 5)\n"
    "  --grace-ms N              on SIGTERM/SIGINT, time to finish the work in flight\n"
    "                            (default 10000)\n"
    "  --results-maxlen N        XADD MAXLEN ~ N on result and dead-letter streams\n"
    "                            (default 1000000)\n"
    "  --redis-timeout-ms N      a Redis connection with commands outstanding that receives\n"
    "                            nothing for N ms is dropped and opened again; must exceed the\n"
    "                            1000 ms blocking read (default 15000)\n"
    "  --reply-prefix P          a job's replyTo must start with P, else the job is malformed\n"
    "                            (default acmeva:v1:results)\n"
    "  --log-format json|text    log lines on stderr (default text)\n"
    "  --metrics-listen HOST:PORT  serve /metrics (Prometheus), /healthz and /readyz over\n"
    "                            HTTP on IPv4:PORT or [IPv6]:PORT (default: off)\n"
    "  --audit-log FILE          one JSON line per result, written before the result is\n"
    "                            posted (BR 5.4.1); '-' for stdout; SIGHUP reopens it\n"
    "  --audit-sync on|off       fdatasync the audit log after each batch of lines\n"
    "                            (default on)\n" ACMEVA_REDIS_TLS_USAGE;

int acmeva_daemon_options_init(acmeva_daemon_options *o)
{
    memset(o, 0, sizeof(*o));
    char err[256];
    if (acmeva_redis_url_parse(acmeva_redis_url_default(), &o->redis, err, sizeof(err)) < 0)
        return -1;
    o->reply_prefix = strdup(ACMEVA_DEFAULT_REPLY_TO);
    if (o->reply_prefix == NULL) {
        acmeva_redis_url_clear(&o->redis);
        return -1;
    }
    o->threads = 0;
    o->max_inflight = 1000;
    o->claim_idle_ms = 0;
    o->max_deliveries = 5;
    o->grace_ms = 10000;
    o->results_maxlen = 1000000;
    o->block_ms = DEFAULT_BLOCK_MS;
    o->redis_timeout_ms = DEFAULT_REDIS_TIMEOUT_MS;
    o->audit_sync = 1;
    return 0;
}

void acmeva_daemon_options_clear(acmeva_daemon_options *o)
{
    acmeva_redis_url_clear(&o->redis);
    acmeva_redis_tls_options_clear(&o->tls);
    free(o->reply_prefix);
    o->reply_prefix = NULL;
    free(o->metrics_listen);
    free(o->audit_log);
    o->metrics_listen = o->audit_log = NULL;
}

static int bad(const char *prog, const char *opt, const char *v, const char *want)
{
    fprintf(stderr, "%s: %s: '%s' is not %s\n", prog, opt, v ? v : "", want);
    return -1;
}

static int number(const char *prog, const char *opt, const char *v, int64_t min, int64_t max,
                  int64_t *out)
{
    if (acmeva_parse_int(v, min, max, out) < 0) {
        char want[96];
        snprintf(want, sizeof(want), "a number from %lld to %lld", (long long)min, (long long)max);
        return bad(prog, opt, v, want);
    }
    return 1;
}

/* set_str replaces |*dst| with a copy of |v|. Returns 1, or -1 on no memory. */
static int set_str(char **dst, const char *v)
{
    char *s = strdup(v);
    if (s == NULL)
        return -1;
    free(*dst);
    *dst = s;
    return 1;
}

/* reply_prefix_ok: the prefix is itself a usable replyTo (the job schema's alphabet). */
static int reply_prefix_ok(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n == 0 || n > ACMEVA_REPLY_TO_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '/' || c == '-'))
            return 0;
    }
    return 1;
}

int acmeva_daemon_option(acmeva_daemon_options *o, const char *prog, int argc, char **argv,
                         int *i)
{
    const char *v = NULL;
    int64_t n;
    if (acmeva_option_value(argc, argv, i, "--redis", &v)) {
        char err[256];
        acmeva_redis_url u;
        if (v == NULL)
            return bad(prog, "--redis", v, "a redis:// or rediss:// URL");
        if (acmeva_redis_url_parse(v, &u, err, sizeof(err)) < 0) {
            /* The message never repeats the URL: it may hold a password. */
            fprintf(stderr, "%s: %s\n", prog, err);
            return -1;
        }
        acmeva_redis_url_clear(&o->redis);
        o->redis = u;
        return 1;
    }
    int tls = acmeva_redis_tls_option(&o->tls, prog, argc, argv, i);
    if (tls != 0)
        return tls;
    if (acmeva_option_value(argc, argv, i, "--threads", &v)) {
        if (number(prog, "--threads", v, 1, 256, &n) < 0)
            return -1;
        o->threads = (int)n;
        return 1;
    }
    if (acmeva_option_value(argc, argv, i, "--max-inflight", &v))
        return number(prog, "--max-inflight", v, 1, 100000, &o->max_inflight);
    if (acmeva_option_value(argc, argv, i, "--claim-idle-ms", &v))
        return number(prog, "--claim-idle-ms", v, 100, 86400000, &o->claim_idle_ms);
    if (acmeva_option_value(argc, argv, i, "--max-deliveries", &v))
        return number(prog, "--max-deliveries", v, 1, 1000, &o->max_deliveries);
    if (acmeva_option_value(argc, argv, i, "--grace-ms", &v))
        return number(prog, "--grace-ms", v, 0, 3600000, &o->grace_ms);
    if (acmeva_option_value(argc, argv, i, "--results-maxlen", &v))
        return number(prog, "--results-maxlen", v, 1, INT64_MAX / 2, &o->results_maxlen);
    if (acmeva_option_value(argc, argv, i, "--redis-timeout-ms", &v))
        return number(prog, "--redis-timeout-ms", v, 100, 3600000, &o->redis_timeout_ms);
    if (acmeva_option_value(argc, argv, i, "--reply-prefix", &v)) {
        if (!reply_prefix_ok(v))
            return bad(prog, "--reply-prefix", v, "1 to 256 bytes of [A-Za-z0-9._:/-]");
        return set_str(&o->reply_prefix, v);
    }
    if (acmeva_option_value(argc, argv, i, "--metrics-listen", &v)) {
        struct sockaddr_storage ss;
        char err[256];
        if (v == NULL || acmeva_httpd_listen_parse(v, &ss, err, sizeof(err)) < 0)
            return bad(prog, "--metrics-listen", v, "IPv4:PORT or [IPv6]:PORT");
        return set_str(&o->metrics_listen, v);
    }
    if (acmeva_option_value(argc, argv, i, "--audit-log", &v)) {
        if (v == NULL || *v == '\0')
            return bad(prog, "--audit-log", v, "a file name or '-'");
        return set_str(&o->audit_log, v);
    }
    if (acmeva_option_value(argc, argv, i, "--audit-sync", &v)) {
        if (v != NULL && (strcmp(v, "on") == 0 || strcmp(v, "off") == 0)) {
            o->audit_sync = strcmp(v, "on") == 0;
            return 1;
        }
        return bad(prog, "--audit-sync", v, "on or off");
    }
    if (acmeva_option_value(argc, argv, i, "--log-format", &v)) {
        if (v != NULL && strcmp(v, "json") == 0)
            acmeva_log_set_format(ACMEVA_LOG_JSON);
        else if (v != NULL && strcmp(v, "text") == 0)
            acmeva_log_set_format(ACMEVA_LOG_TEXT);
        else
            return bad(prog, "--log-format", v, "json or text");
        return 1;
    }
    return 0;
}

int acmeva_daemon_options_check(const acmeva_daemon_options *o, const char *prog)
{
    char err[256];
    if (acmeva_redis_tls_check(&o->tls, &o->redis, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    /* A blocked XREADGROUP legitimately keeps its connection silent for --block-ms: the reply
     * timeout must leave room for it, or every idle reader would be dropped. */
    if (o->redis_timeout_ms <= o->block_ms) {
        fprintf(stderr, "%s: --redis-timeout-ms %lld must be longer than the %lld ms blocking read\n",
                prog, (long long)o->redis_timeout_ms, (long long)o->block_ms);
        return -1;
    }
    return 0;
}

int acmeva_daemon_threads(const acmeva_daemon_options *o)
{
    int n = o->threads > 0 ? o->threads : (int)uv_available_parallelism();
    return n < 1 ? 1 : n > 256 ? 256 : n;
}

int acmeva_reply_to_allowed(const char *prefix, const char *reply_to)
{
    return prefix != NULL && reply_to != NULL && strncmp(reply_to, prefix, strlen(prefix)) == 0;
}

int acmeva_worker_options_init(acmeva_worker_options *o)
{
    memset(o, 0, sizeof(*o));
    if (acmeva_daemon_options_init(&o->d) < 0)
        return -1;
    o->perspective = strdup("default");
    if (o->perspective == NULL) {
        acmeva_daemon_options_clear(&o->d);
        return -1;
    }
    return 0;
}

void acmeva_worker_options_clear(acmeva_worker_options *o)
{
    acmeva_daemon_options_clear(&o->d);
    free(o->perspective);
    o->perspective = NULL;
    acmeva_sig_key_free(o->signing_key); /* BoringSSL wipes the key as it frees it */
    o->signing_key = NULL;
}
