/*
 * acmeva-worker: the validation daemon. Reads jobs from the Redis stream
 * acmeva:v1:jobs:<perspective> (consumer group "acmeva"), validates them with the engine and
 * posts each result on the job's replyTo stream (DESIGN.md "Commands", "Redis keys").
 * A thin shell: options here, everything else in worker/queue (acmeva_worker_run).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "acmeva/engine.h"
#include "acmeva/version.h"
#include "queue.h"
#include "resultsig.h"

static const char usage[] =
    "Usage: acmeva-worker [worker options] [daemon options] [engine options]\n"
    "Validates ACME challenges taken from Redis until SIGTERM or SIGINT.\n"
    "\n"
    "Worker options:\n"
    "  --perspective NAME        read acmeva:v1:jobs:NAME; written into every result\n"
    "                            (default \"default\")\n"
    "  --rir RIR                 the regional internet registry of this perspective, written\n"
    "                            into every result (default \"\")\n"
    "  --primary                 this worker is the primary perspective: the dated BR rules\n"
    "                            that bind the primary apply to it. dnssec-at-primary (in\n"
    "                            force since 2026-03-15, or early by the operator's policy)\n"
    "                            then works as --require-dnssec-resolver (docs/worker.md\n"
    "                            \"Policy\")\n"
    "  --signing-key FILE        Ed25519 private key (PKCS#8 PEM, as `openssl genpkey\n"
    "                            -algorithm ed25519` writes it): every result entry gets a\n"
    "                            field \"sig\", the base64url signature of its field \"result\"\n"
    "                            (docs/signed-results.md)\n"
    "  --help                    this text\n"
    "  --version                 print the version and exit\n"
    "\n";

/* parse_args returns 0, 1 for --help, or -1 after one line on stderr. */
static int parse_args(int argc, char **argv, acmeva_worker_options *o, acmeva_engine_config *cfg)
{
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
        if (acmeva_option_value(argc, argv, &i, "--perspective", &v)) {
            if (!acmeva_perspective_ok(v)) {
                fprintf(stderr, "acmeva-worker: --perspective: '%s' is not 1 to 64 bytes of "
                                "[A-Za-z0-9._-]\n", v ? v : "");
                return -1;
            }
            if (acmeva_str_set(&o->perspective, v) < 0 || acmeva_str_set(&cfg->perspective, v) < 0)
                return -1;
            continue;
        }
        if (strcmp(argv[i], "--primary") == 0) {
            o->primary = 1;
            i++;
            continue;
        }
        if (acmeva_option_value(argc, argv, &i, "--signing-key", &v)) {
            char err[512];
            struct stat st;
            if (v == NULL || *v == '\0') {
                fprintf(stderr, "acmeva-worker: --signing-key needs a file\n");
                return -1;
            }
            acmeva_sig_key_free(o->signing_key);
            o->signing_key = acmeva_sig_key_read(v, 1, err, sizeof(err));
            if (o->signing_key == NULL) {
                fprintf(stderr, "acmeva-worker: --signing-key %s\n", err);
                return -1;
            }
            if (stat(v, &st) == 0 && (st.st_mode & 077) != 0)
                fprintf(stderr,
                        "acmeva-worker: warning: %s is readable by group or others; the "
                        "signing key is a secret\n",
                        v);
            continue;
        }
        if (acmeva_option_value(argc, argv, &i, "--rir", &v)) {
            if (v == NULL || (*v != '\0' && !acmeva_perspective_ok(v))) {
                fprintf(stderr, "acmeva-worker: --rir: '%s' is not 0 to 64 bytes of "
                                "[A-Za-z0-9._-]\n", v ? v : "");
                return -1;
            }
            if (acmeva_str_set(&cfg->rir, v) < 0)
                return -1;
            continue;
        }
        int r = acmeva_daemon_option(&o->d, "acmeva-worker", argc, argv, &i);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        r = acmeva_engine_config_option(cfg, argc, argv, &i);
        if (r < 0)
            return -1;
        if (r == 0) {
            fprintf(stderr, "acmeva-worker: unknown option '%s' (see --help)\n", argv[i]);
            return -1;
        }
    }
    return acmeva_daemon_options_check(&o->d, "acmeva-worker");
}

int main(int argc, char **argv)
{
    acmeva_worker_options o;
    acmeva_engine_config cfg;
    if (acmeva_version_option("acmeva-worker", argc, argv))
        return 0;
    acmeva_engine_config_init(&cfg);
    if (acmeva_worker_options_init(&o) < 0) {
        fprintf(stderr, "acmeva-worker: no memory\n");
        return 1;
    }
    int rc = parse_args(argc, argv, &o, &cfg);
    int status;
    if (rc == 1) {
        fputs(usage, stdout);
        fputs(acmeva_daemon_options_usage, stdout);
        fputs("\n", stdout);
        fputs(acmeva_engine_config_usage, stdout);
        status = 0;
    } else if (rc < 0 || cfg.perspective == NULL || cfg.rir == NULL) {
        status = 2;
    } else {
        /* --max-per-destination is a budget of the process, shared by its engines (one a
         * thread): each takes its share. */
        cfg.engine_count = (unsigned)acmeva_daemon_threads(&o.d);
        status = acmeva_worker_run(&o, &cfg);
    }
    acmeva_worker_options_clear(&o);
    acmeva_engine_config_clear(&cfg);
    return status;
}
