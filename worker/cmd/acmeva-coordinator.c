/*
 * acmeva-coordinator: multi-perspective issuance corroboration (DESIGN.md "Multi-perspective
 * corroboration (MPIC)"). Reads MPIC jobs from acmeva:v1:mpic, fans them out to the primary and
 * the remote perspectives, decides by BR 3.2.2.9 and posts one result per job. A thin shell:
 * options here, everything else in worker/queue (acmeva_coordinator_run).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acmeva/engine.h"
#include "acmeva/version.h"
#include "mpic.h"
#include "queue.h"
#include "resultsig.h"

static const char usage[] =
    "Usage: acmeva-coordinator --remote NAME:RIR... [coordinator options] [daemon options]\n"
    "Corroborates each validation from several network perspectives (BR 3.2.2.9): reads\n"
    "acmeva:v1:mpic, asks the primary and the remote perspectives (acmeva-worker processes)\n"
    "through acmeva:v1:jobs:<NAME>, decides, and posts one result on each job's replyTo.\n"
    "\n"
    "Coordinator options:\n"
    "  --primary NAME            the primary perspective (default \"primary\")\n"
    "  --remote NAME:RIR         a remote perspective and its RIR (ARIN RIPE APNIC LACNIC\n"
    "                            AFRINIC); repeatable, at most 32\n"
    "  --perspective-count N     remotes asked per job (default: all); a subset is chosen per\n"
    "                            identifier, deterministically, with --selection-key-file\n"
    "  --selection-key-file F    a secret of 16 to 64 bytes that picks the subset, so that\n"
    "                            nobody without it can predict which perspectives will look\n"
    "  --min-remotes N           refuse to start with fewer remotes per job (default: the BR\n"
    "                            minimum on today's date: 3 from 2026-03-15, 4 from\n"
    "                            2026-06-15, 5 from 2026-12-15); lower only for tests\n"
    "  --slow-remote-ms N        once the outcome is decided, how long stragglers may still\n"
    "                            answer before the result is posted (default 2000)\n"
    "  --parallel                ask the primary and the remotes at once (default: the\n"
    "                            remotes only after the primary passed)\n"
    "  --timeout-ms N            the deadline of a job that has none, and the cap of any\n"
    "                            job's deadline (default 30000)\n"
    "  --perspective-key NAME=FILE  the Ed25519 public key (PEM) of perspective NAME (the\n"
    "                            primary or a remote): its results must carry a valid \"sig\"\n"
    "                            (acmeva-worker --signing-key); one that is unsigned or badly\n"
    "                            signed counts as failed. Repeatable\n"
    "  --version                 print the version and exit\n"
    "  --help                    this text\n"
    "\n";

static int number(const char *opt, const char *v, int64_t min, int64_t max, int64_t *out)
{
    if (acmeva_parse_int(v, min, max, out) < 0) {
        fprintf(stderr, "acmeva-coordinator: %s: '%s' is not a number from %lld to %lld\n", opt,
                v ? v : "", (long long)min, (long long)max);
        return -1;
    }
    return 0;
}

/* read_key reads the selection key: the file's bytes (16 to 64), readable by its owner only. */
static int read_key(const char *path, acmeva_coordinator_options *o)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "acmeva-coordinator: --selection-key-file %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
        fprintf(stderr, "acmeva-coordinator: warning: %s is readable by group or others; the "
                        "selection key is a secret\n",
                path);
    uint8_t buf[65];
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n < 16 || n > 64) {
        fprintf(stderr, "acmeva-coordinator: --selection-key-file %s: want 16 to 64 bytes of "
                        "secret (e.g. head -c 32 /dev/urandom > FILE)\n",
                path);
        return -1;
    }
    memcpy(o->selection_key, buf, (size_t)n);
    o->selection_key_len = (size_t)n;
    return 0;
}

/* perspective_key reads --perspective-key NAME=FILE. Returns 0, or -1 after a line on stderr. */
static int perspective_key(acmeva_coordinator_options *o, const char *v)
{
    const char *eq = v ? strchr(v, '=') : NULL;
    char name[ACMEVA_PERSPECTIVE_MAX + 1], err[512];
    size_t len = eq ? (size_t)(eq - v) : 0;
    if (eq == NULL || len == 0 || len > ACMEVA_PERSPECTIVE_MAX || eq[1] == '\0') {
        fprintf(stderr, "acmeva-coordinator: --perspective-key: '%s' is not NAME=FILE\n",
                v ? v : "");
        return -1;
    }
    memcpy(name, v, len);
    name[len] = '\0';
    if (!acmeva_perspective_ok(name)) {
        fprintf(stderr,
                "acmeva-coordinator: --perspective-key: '%s' is not 1 to 64 bytes of "
                "[A-Za-z0-9._-]\n",
                name);
        return -1;
    }
    for (int i = 0; i < o->n_keys; i++)
        if (strcmp(o->keys[i].name, name) == 0) {
            fprintf(stderr, "acmeva-coordinator: --perspective-key: %s is given twice\n", name);
            return -1;
        }
    if (o->n_keys == (int)(sizeof(o->keys) / sizeof(o->keys[0]))) {
        fprintf(stderr, "acmeva-coordinator: --perspective-key: at most %d\n", o->n_keys);
        return -1;
    }
    void *key = acmeva_sig_key_read(eq + 1, 0, err, sizeof(err));
    char *dup = strdup(name);
    if (key == NULL || dup == NULL) {
        fprintf(stderr, "acmeva-coordinator: --perspective-key %s\n", key ? "no memory" : err);
        acmeva_sig_key_free(key);
        free(dup);
        return -1;
    }
    o->keys[o->n_keys].name = dup;
    o->keys[o->n_keys].key = key;
    o->n_keys++;
    return 0;
}

static int parse_args(int argc, char **argv, acmeva_coordinator_options *o)
{
    int64_t n;
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
        if (strcmp(argv[i], "--parallel") == 0) {
            o->parallel = 1;
            i++;
        } else if (acmeva_option_value(argc, argv, &i, "--primary", &v)) {
            if (!acmeva_perspective_ok(v)) {
                fprintf(stderr, "acmeva-coordinator: --primary: '%s' is not 1 to 64 bytes of "
                                "[A-Za-z0-9._-]\n",
                        v ? v : "");
                return -1;
            }
            if (acmeva_str_set(&o->primary, v) < 0)
                return -1;
        } else if (acmeva_option_value(argc, argv, &i, "--remote", &v)) {
            const char *colon = v ? strrchr(v, ':') : NULL;
            char name[ACMEVA_PERSPECTIVE_MAX + 1];
            size_t len = colon ? (size_t)(colon - v) : 0;
            if (colon == NULL || len == 0 || len > ACMEVA_PERSPECTIVE_MAX ||
                acmeva_rir_parse(colon + 1) == ACMEVA_RIR_UNKNOWN) {
                fprintf(stderr, "acmeva-coordinator: --remote: '%s' is not NAME:RIR with RIR one "
                                "of ARIN RIPE APNIC LACNIC AFRINIC\n",
                        v ? v : "");
                return -1;
            }
            memcpy(name, v, len);
            name[len] = '\0';
            if (!acmeva_perspective_ok(name)) {
                fprintf(stderr, "acmeva-coordinator: --remote: '%s' is not 1 to 64 bytes of "
                                "[A-Za-z0-9._-]\n",
                        name);
                return -1;
            }
            if (o->n_remotes == ACMEVA_COORD_MAX_REMOTES) {
                fprintf(stderr, "acmeva-coordinator: --remote: at most %d\n",
                        ACMEVA_COORD_MAX_REMOTES);
                return -1;
            }
            acmeva_remote_option *r = &o->remotes[o->n_remotes];
            r->name = strdup(name);
            r->rir = strdup(colon + 1);
            if (r->name == NULL || r->rir == NULL) {
                free(r->name);
                free(r->rir);
                return -1;
            }
            o->n_remotes++;
        } else if (acmeva_option_value(argc, argv, &i, "--perspective-count", &v)) {
            if (number("--perspective-count", v, 1, ACMEVA_COORD_MAX_REMOTES, &n) < 0)
                return -1;
            o->perspective_count = (int)n;
        } else if (acmeva_option_value(argc, argv, &i, "--selection-key-file", &v)) {
            if (v == NULL || read_key(v, o) < 0)
                return -1;
        } else if (acmeva_option_value(argc, argv, &i, "--min-remotes", &v)) {
            if (number("--min-remotes", v, 1, ACMEVA_COORD_MAX_REMOTES, &n) < 0)
                return -1;
            o->min_remotes = (int)n;
        } else if (acmeva_option_value(argc, argv, &i, "--slow-remote-ms", &v)) {
            if (number("--slow-remote-ms", v, 0, 600000, &o->slow_remote_ms) < 0)
                return -1;
        } else if (acmeva_option_value(argc, argv, &i, "--perspective-key", &v)) {
            if (perspective_key(o, v) < 0)
                return -1;
        } else if (acmeva_option_value(argc, argv, &i, "--timeout-ms", &v)) {
            if (number("--timeout-ms", v, 100, 3600000, &o->timeout_ms) < 0)
                return -1;
        } else {
            int r = acmeva_daemon_option(&o->d, "acmeva-coordinator", argc, argv, &i);
            if (r < 0)
                return -1;
            if (r == 0) {
                fprintf(stderr, "acmeva-coordinator: unknown option '%s' (see --help)\n",
                        argv[i]);
                return -1;
            }
        }
    }
    return acmeva_daemon_options_check(&o->d, "acmeva-coordinator");
}

int main(int argc, char **argv)
{
    if (acmeva_version_option("acmeva-coordinator", argc, argv))
        return 0;
    acmeva_coordinator_options o;
    if (acmeva_coordinator_options_init(&o) < 0) {
        fprintf(stderr, "acmeva-coordinator: no memory\n");
        return 1;
    }
    int rc = parse_args(argc, argv, &o), status;
    if (rc == 1) {
        fputs(usage, stdout);
        fputs(acmeva_daemon_options_usage, stdout);
        status = 0;
    } else if (rc < 0) {
        status = 2;
    } else {
        status = acmeva_coordinator_run(&o);
    }
    acmeva_coordinator_options_clear(&o);
    return status;
}
