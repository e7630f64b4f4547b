/*
 * The Redis layer of acmeva: the daemons (`acmeva-worker`, `acmeva-coordinator`) and the
 * pieces they share with the CLI (`acmeva submit`). The validation engine knows nothing of
 * Redis; every Redis detail lives here. DESIGN.md "Redis keys" fixes the names. One concern a
 * file (STYLE.md "Daemons are small mains over shared parts"):
 *   redisurl.c     redis:// and rediss:// URLs, reconnect backoff (pure)
 *   redistls.c     the TLS side of the channel: options, the client SSL_CTX, start-up notes
 *   log.c          log lines
 *   options.c      the options every daemon shares
 *   redisconn.c    one Redis connection: TCP or TLS, reconnect, reply timeout, keepalive
 *   rclient.c      a blocking client for the CLIs, on a private loop over redisconn.c
 *   resultsig.c    Ed25519 signatures of result entries
 *   verify.c       acmeva verify
 *   streamreader.c the consumer side of a stream: group, reads, resumes, claims
 *   outbox.c       results posted with their acknowledgements
 *   daemon.c       threads, signals, grace period
 *   metrics.c      Prometheus metric families, per-thread shards, the text format
 *   httpd.c        the HTTP/1.1 server of the operations endpoints
 *   auditlog.c     the audit log: a writer thread, lines written before results are posted
 *   ops.c          metrics, endpoints and audit log wired to a daemon
 *   strbuf.c       a growable text buffer (scrapes, audit lines)
 *   policy.c       the operator's policy (acmeva:v1:policy) as one immutable snapshot
 *   policywatch.c  the policy's reader on a daemon's main loop, handing snapshots to threads
 *   policycli.c    acmeva policy
 *   worker.c       acmeva-worker: entries to validations, validations to results
 *   submit.c       acmeva submit
 */
#ifndef ACMEVA_QUEUE_H
#define ACMEVA_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "acmeva/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* DESIGN.md "Redis keys (schema major 1)". */
#define ACMEVA_JOBS_STREAM_PREFIX "acmeva:v1:jobs:"
#define ACMEVA_GROUP "acmeva"
#define ACMEVA_DEAD_STREAM "acmeva:v1:dead"
#define ACMEVA_DEFAULT_REDIS_URL "redis://127.0.0.1:6379"
/* The environment variable that replaces the default URL: it keeps a password out of the
 * process's command line (which any local user can read in /proc). --redis still wins. */
#define ACMEVA_REDIS_URL_ENV "ACMEVA_REDIS_URL"

/* acmeva_redis_url_default returns $ACMEVA_REDIS_URL when it is set and not empty, else
 * ACMEVA_DEFAULT_REDIS_URL. The string is borrowed. */
const char *acmeva_redis_url_default(void);
#define ACMEVA_PERSPECTIVE_MAX 64

/* A parsed redis[s]://[user:pass@]host[:port][/db] URL. Every string is owned. */
typedef struct acmeva_redis_url {
    int tls;        /* rediss://: TLS (DESIGN.md "Channel") */
    char *host;     /* a name, an IPv4 address or an IPv6 address (without brackets) */
    uint16_t port;  /* default 6379 */
    char *user;     /* NULL: no user (AUTH pass) */
    char *password; /* NULL: no AUTH */
    int db;         /* default 0 */
} acmeva_redis_url;

/*
 * acmeva_redis_url_parse parses a redis:// or rediss:// |url| into |out| (which it initialises
 * first). User and password may be percent-encoded. Returns 0, or a negative error after writing
 * one line (which never contains the password) to |err|; |out| then holds nothing to free.
 */
int acmeva_redis_url_parse(const char *url, acmeva_redis_url *out, char *err, size_t errlen);

/* acmeva_redis_url_clear frees what |u| owns and leaves it empty. NULL is a no-op. */
void acmeva_redis_url_clear(acmeva_redis_url *u);

/*
 * acmeva_redis_url_masked writes |u| as a URL whose password is replaced by "***"
 * ("redis://user:***@host:port/db", or rediss://), for logs. Returns 0, or -1 when |buf| is too
 * small (it then holds a truncated, still masked, string).
 */
int acmeva_redis_url_masked(const acmeva_redis_url *u, char *buf, size_t len);

/* acmeva_redis_url_is_loopback returns 1 when |u| names this machine: "localhost", an address
 * in 127.0.0.0/8, ::1, or ::ffff:127.x.x.x. */
int acmeva_redis_url_is_loopback(const acmeva_redis_url *u);

/*
 * acmeva_backoff_ms returns the delay before reconnect attempt |failures| (0 for the first
 * retry): 100 ms doubling up to a cap of 5 s, with "equal jitter": a value in [d/2, d]
 * picked by |rnd| (any random 32 bits), so that workers that lost Redis together do not all
 * come back at the same instant.
 */
int64_t acmeva_backoff_ms(unsigned failures, uint32_t rnd);

/*
 * acmeva_read_line reads one NDJSON line of at most |cap| - 1 bytes from |f| into |buf|
 * (NUL-terminated, newline and a CR before it dropped). A longer line is consumed whole and
 * flagged in |*too_long|, never grown into. Returns 0 at end of input, 1 for a line.
 */
int acmeva_read_line(FILE *f, char *buf, size_t cap, size_t *len, int *too_long);

/* acmeva_perspective_ok returns 1 when |s| is a usable perspective name:
 * 1..ACMEVA_PERSPECTIVE_MAX bytes of [A-Za-z0-9._-] (it becomes part of a Redis key). */
int acmeva_perspective_ok(const char *s);

/* ---- TLS to Redis (DESIGN.md "Channel"; redistls.c) ---------------------------------------- */

/* The system bundle of trusted CAs on Debian: the default of --redis-ca. BoringSSL's own
 * default (/etc/ssl/cert.pem) does not exist there, so it is loaded by name. */
#define ACMEVA_SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/* The TLS options of every program that talks to Redis. Strings are owned. */
typedef struct acmeva_redis_tls_options {
    char *ca_file;   /* --redis-ca: PEM CA certificates; NULL: the system bundle */
    char *cert_file; /* --redis-cert: PEM client certificate chain (mutual TLS) */
    char *key_file;  /* --redis-key: its PEM private key */
} acmeva_redis_tls_options;

/* acmeva_redis_tls_usage is the --help text of the options below (ACMEVA_REDIS_TLS_USAGE, for
 * usage texts built at compile time). */
#define ACMEVA_REDIS_TLS_USAGE                                                                     \
    "  --redis-ca FILE           rediss://: PEM certificates of the CAs that may sign the\n"       \
    "                            Redis server's certificate (default: the system bundle,\n"        \
    "                            " ACMEVA_SYSTEM_CA_BUNDLE ")\n"                                   \
    "  --redis-cert FILE         rediss://: PEM client certificate (and chain) for mutual TLS\n"   \
    "  --redis-key FILE          rediss://: the PEM private key of --redis-cert\n"
extern const char acmeva_redis_tls_usage[];

/*
 * acmeva_redis_tls_option tries to consume --redis-ca, --redis-cert or --redis-key at argv[*i]
 * for program |prog| (for messages). Returns 1 and advances *i when it was one, 0 when
 * argv[*i] is another option, -1 after one line on stderr for a missing value.
 */
int acmeva_redis_tls_option(acmeva_redis_tls_options *o, const char *prog, int argc, char **argv,
                            int *i);

/* acmeva_redis_tls_options_clear frees what |o| owns. NULL is a no-op. */
void acmeva_redis_tls_options_clear(acmeva_redis_tls_options *o);

/*
 * acmeva_redis_tls_check checks the TLS options against the URL: --redis-cert and --redis-key
 * go together, and none of them goes with a plain redis:// URL (a certificate given for a
 * channel that would not use it is a mistake, not a preference). Returns 0, or -1 with one
 * sentence in |err|.
 */
int acmeva_redis_tls_check(const acmeva_redis_tls_options *o, const acmeva_redis_url *u, char *err,
                           size_t errlen);

/*
 * acmeva_redis_tls_ctx_new makes the client SSL_CTX of a rediss:// URL in |*out| (NULL for a
 * redis:// URL): TLS 1.2 at least, forward-secret AEAD suites for TLS 1.2, the server
 * certificate verified against --redis-ca (or the system bundle; the host name is checked per
 * connection by redisconn.c), and the client certificate chain and key for mutual TLS, checked
 * to match. Shared read-only by every thread. Returns 0, or -1 with one sentence in |err|
 * naming the file and what is wrong with it (never any key material).
 */
int acmeva_redis_tls_ctx_new(const acmeva_redis_url *u, const acmeva_redis_tls_options *o,
                             void **out, char *err, size_t errlen);

/* acmeva_redis_tls_ctx_free releases a context from acmeva_redis_tls_ctx_new. NULL is a no-op. */
void acmeva_redis_tls_ctx_free(void *ctx);

/*
 * acmeva_redis_channel_note tells the operator at start what to know about the channel: a
 * warning for a plain redis:// URL to a host that is not loopback (DESIGN.md "Channel"), and for
 * rediss:// one info line (CA file, client certificate subject and expiry), with a warning when
 * the client certificate has expired or expires within 30 days. |cli| 1: warnings only, as
 * "<prog>: warning: ..." lines on stderr (the CLIs); 0: log lines (the daemons).
 */
void acmeva_redis_channel_note(const char *prog, int cli, const acmeva_redis_url *u,
                               const acmeva_redis_tls_options *o, const void *ssl_ctx);

/* ---- logging (stderr, one line per event) -------------------------------------------------- */

typedef enum {
    ACMEVA_LOG_TEXT = 0, /* 2025-01-01T00:00:00.000Z info msg k=v k="v w" */
    ACMEVA_LOG_JSON,     /* {"time":"...","level":"info","msg":"...","k":"v"} */
} acmeva_log_format;

typedef enum { ACMEVA_LF_STR, ACMEVA_LF_INT, ACMEVA_LF_DBL } acmeva_log_kind;

/* One key/value of a log line (left out when |key| is NULL). Strings are escaped on output (they
 * may carry bytes from the queue or from Redis). A NULL string is written as null (JSON) or "-"
 * (text). */
typedef struct acmeva_log_field {
    const char *key;
    acmeva_log_kind kind;
    const char *s;
    int64_t i;
    double d;
} acmeva_log_field;

#define ACMEVA_LS(k, v) ((acmeva_log_field){(k), ACMEVA_LF_STR, (v), 0, 0})
#define ACMEVA_LI(k, v) ((acmeva_log_field){(k), ACMEVA_LF_INT, NULL, (int64_t)(v), 0})
#define ACMEVA_LD(k, v) ((acmeva_log_field){(k), ACMEVA_LF_DBL, NULL, 0, (double)(v)})

/* acmeva_log_time writes the time now as log lines and the audit log show it: UTC, RFC 3339
 * with milliseconds ("2025-01-01T00:00:00.123Z"). |len| of 32 bytes is enough. */
void acmeva_log_time(char *buf, size_t len);

/* acmeva_log_set_format picks the format of every later line (default text). Call it before
 * any thread logs. */
void acmeva_log_set_format(acmeva_log_format f);

/* acmeva_log writes one line with |level| ("info", "warn", "error"), |msg| and |n| fields to
 * stderr in a single write(2), so that lines of concurrent threads never interleave. */
void acmeva_log(const char *level, const char *msg, const acmeva_log_field *fields, size_t n);

#define ACMEVA_LOG(level, msg, ...)                                                                \
    acmeva_log((level), (msg), (const acmeva_log_field[]){__VA_ARGS__},                            \
               sizeof((const acmeva_log_field[]){__VA_ARGS__}) / sizeof(acmeva_log_field))
#define ACMEVA_LOG0(level, msg) acmeva_log((level), (msg), NULL, 0)

/* ---- the daemons ----------------------------------------------------------------------------- */

/* The options every daemon that reads a stream shares (acmeva-worker, acmeva-coordinator):
 * DESIGN.md "Commands", "Hardening", "Channel". */
typedef struct acmeva_daemon_options {
    acmeva_redis_url redis;
    acmeva_redis_tls_options tls; /* --redis-ca, --redis-cert, --redis-key */
    int threads;              /* event-loop threads; default: the number of cores */
    int64_t max_inflight;     /* per thread: entries held (running or awaiting their ack) */
    int64_t claim_idle_ms;    /* 0: 2 x the engine timeout */
    int64_t max_deliveries;   /* an entry delivered more often than this is dead-lettered */
    int64_t grace_ms;         /* shutdown grace period */
    int64_t results_maxlen;   /* XADD MAXLEN ~ of the result and dead-letter streams */
    int64_t block_ms;         /* XREADGROUP BLOCK; default 1000 */
    int64_t redis_timeout_ms; /* no reply for this long with commands outstanding: reconnect */
    char *reply_prefix;       /* a job's replyTo must start with it */
    /* Operations (ops.h): NULL when not asked for. */
    char *metrics_listen; /* --metrics-listen HOST:PORT */
    char *audit_log;      /* --audit-log FILE, "-" for stdout */
    int audit_sync;       /* --audit-sync on|off: fdatasync after each batch; default on */
} acmeva_daemon_options;

/* acmeva_daemon_options_init sets every default (redis://127.0.0.1:6379 or
 * $ACMEVA_REDIS_URL, the number of cores, 1000 in flight, 5 deliveries, 10 s grace, 1000000
 * results, 15 s reply timeout, reply prefix acmeva:v1:results). Returns 0 or -1 on no memory. */
int acmeva_daemon_options_init(acmeva_daemon_options *o);
/* acmeva_daemon_options_clear frees what |o| owns. */
void acmeva_daemon_options_clear(acmeva_daemon_options *o);

/*
 * acmeva_daemon_option tries to consume the daemon option at argv[*i] for the program |prog|
 * (for messages). Returns 1 and advances *i when it was one, 0 when argv[*i] is another option,
 * -1 after one line on stderr for a bad value.
 */
int acmeva_daemon_option(acmeva_daemon_options *o, const char *prog, int argc, char **argv,
                         int *i);

/* acmeva_daemon_options_check checks the options against each other and the engine's
 * |timeout_ms|. Returns 0, or -1 after one line on stderr. */
int acmeva_daemon_options_check(const acmeva_daemon_options *o, const char *prog);

/* acmeva_daemon_threads returns the event-loop threads |o| asks for: --threads, else the
 * number of cores, within 1..256. */
int acmeva_daemon_threads(const acmeva_daemon_options *o);

/* acmeva_daemon_options_usage is the --help text of the daemon options. */
extern const char acmeva_daemon_options_usage[];

/* acmeva_reply_to_allowed returns 1 when a job's |reply_to| starts with |prefix| (DESIGN.md
 * "Channel": any other stream could be another perspective's jobs stream). */
int acmeva_reply_to_allowed(const char *prefix, const char *reply_to);

/* The options of acmeva-worker (DESIGN.md "Commands"). */
typedef struct acmeva_worker_options {
    acmeva_daemon_options d;
    char *perspective; /* the jobs stream is ACMEVA_JOBS_STREAM_PREFIX<perspective> */
    void *signing_key; /* --signing-key: Ed25519 (resultsig.h), owned; NULL: results unsigned */
    int primary;       /* --primary: the primary perspective; the dated rules that bind it
                          (dnssec-at-primary) apply */
} acmeva_worker_options;

/* acmeva_worker_options_init sets every default (perspective "default", the daemon
 * defaults). Returns 0 or -1 on no memory. */
int acmeva_worker_options_init(acmeva_worker_options *o);
/* acmeva_worker_options_clear frees what |o| owns. */
void acmeva_worker_options_clear(acmeva_worker_options *o);

/*
 * acmeva_worker_run runs the daemon until SIGTERM or SIGINT: |o->d.threads| threads, each with
 * its own libuv loop, engine (on |cfg|, shared read-only with one shared SSL_CTX) and Redis
 * connections. Logs its effective configuration first. Returns the process exit status:
 * 0 after a signal and an orderly stop, 1 when it could not start.
 */
int acmeva_worker_run(const acmeva_worker_options *o, const acmeva_engine_config *cfg);

/* ---- the coordinator (DESIGN.md "Multi-perspective corroboration") ------------------------ */

#define ACMEVA_MPIC_STREAM "acmeva:v1:mpic"
#define ACMEVA_MPIC_GROUP "acmeva-coordinator"
#define ACMEVA_COORD_MAX_REMOTES 32

typedef struct acmeva_remote_option {
    char *name; /* the perspective: its jobs stream is ACMEVA_JOBS_STREAM_PREFIX<name> */
    char *rir;  /* ARIN RIPE APNIC LACNIC AFRINIC */
} acmeva_remote_option;

/* --perspective-key NAME=FILE: the results of perspective NAME must be signed by this key. */
typedef struct acmeva_perspective_key {
    char *name;
    void *key; /* an Ed25519 public key (resultsig.h), owned */
} acmeva_perspective_key;

typedef struct acmeva_coordinator_options {
    acmeva_daemon_options d;
    char *primary; /* default "primary" */
    acmeva_remote_option remotes[ACMEVA_COORD_MAX_REMOTES];
    int n_remotes;
    int perspective_count; /* remotes per job; 0: all */
    uint8_t selection_key[64];
    size_t selection_key_len; /* 0: no --selection-key-file */
    int min_remotes;          /* -1: the BR minimum on today's date */
    int64_t slow_remote_ms;   /* default 2000 */
    int parallel;
    int64_t timeout_ms; /* the deadline of a job that has none, and the cap; default 30000 */
    acmeva_perspective_key keys[ACMEVA_COORD_MAX_REMOTES + 1]; /* the primary's and remotes' */
    int n_keys;
} acmeva_coordinator_options;

/* acmeva_coordinator_options_init sets every default. Returns 0 or -1 on no memory. */
int acmeva_coordinator_options_init(acmeva_coordinator_options *o);
/* acmeva_coordinator_options_clear frees what |o| owns and wipes the selection key. */
void acmeva_coordinator_options_clear(acmeva_coordinator_options *o);

/*
 * acmeva_coordinator_run runs acmeva-coordinator until SIGTERM or SIGINT. Returns the exit
 * status: 0 after an orderly stop, 1 when it could not start (too few remotes for the BR
 * minimum, no memory, ...).
 */
int acmeva_coordinator_run(const acmeva_coordinator_options *o);

#ifdef __cplusplus
}
#endif

#endif
