/*
 * The audit log (DESIGN.md "Operations", BR 5.4.1: a CA records every validation): one JSON
 * line per result a daemon posts, written BEFORE the result is posted.
 *
 * Event loops never touch the disk: they submit lines to a bounded queue (a loop's lines of one
 * turn are handed over together, before the loop next waits for I/O), and one writer thread
 * writes them in batches (writev), optionally followed by fdatasync, then tells each loop
 * through a uv_async which of its lines are written; only then does the loop post those
 * results. A line that could not be written is reported as failed (never dropped silently):
 * its result is not posted, the job stays pending for another delivery, an error line is
 * logged, acmeva_audit_log_write_errors_total counts it, and the log reports itself failing
 * (readiness 503) until a later write succeeds or the file is reopened.
 *
 * acmeva_audit_reopen (SIGHUP) makes the writer reopen the file by name before its next batch,
 * for log rotation: move the file, send SIGHUP, and new lines go to a new file.
 */
#ifndef ACMEVA_AUDITLOG_H
#define ACMEVA_AUDITLOG_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "metrics.h"

typedef struct acmeva_audit acmeva_audit;

/* acmeva_audit_done_cb runs on the submitting loop: |ok| 1 when the line is written (and
 * synced, with sync on), 0 when it could not be. */
typedef void (*acmeva_audit_done_cb)(void *arg, int ok);

/*
 * acmeva_audit_new opens |path| ("-": standard output) for appending (created 0640 when
 * missing) and starts the writer thread. |sync|: fdatasync after each batch (regular files
 * only). |capacity| bounds the lines queued at once; |n_loops| is the number of event loops
 * that submit (each registers with acmeva_audit_loop_init). |shard| (the audit shard of the
 * metrics, may be NULL) is written by the writer thread only. Returns 0, or -1 after writing a
 * sentence to |err|.
 */
int acmeva_audit_new(const char *path, int sync, size_t capacity, size_t n_loops,
                     acmeva_mshard *shard, acmeva_audit **out, char *err, size_t errlen);

/* acmeva_audit_loop_init registers event loop |i| (its uv_async lives in |a|). Call it before
 * the loop runs, or on its thread. Returns 0 or a libuv error. */
int acmeva_audit_loop_init(acmeva_audit *a, size_t i, uv_loop_t *loop);

/* acmeva_audit_loop_close ends loop |i|'s registration on its thread: no done callback runs
 * for it afterwards (lines still queued or pending on the loop are written all the same). Run
 * the loop afterwards (its handles close). */
void acmeva_audit_loop_close(acmeva_audit *a, size_t i);

/*
 * acmeva_audit_submit queues |line| (|len| bytes ending in '\n'; taken: freed by the log) from
 * loop |i|, on that loop's thread; the writer gets it when the loop's turn ends. |cb| runs
 * later on that loop, never inside this call. Returns 0, or -1 when |capacity| lines wait
 * already (submitted and not yet taken by the writer), loop |i| is not registered, or memory
 * runs out (|line| is freed and |cb| never runs).
 */
int acmeva_audit_submit(acmeva_audit *a, size_t i, char *line, size_t len,
                        acmeva_audit_done_cb cb, void *arg);

/*
 * acmeva_audit_note queues |line| (|len| bytes ending in '\n'; taken) from any thread, with no
 * completion: for events that must not wait on the disk (a policy change is in force at once,
 * whether or not its line can be written; a failed write is logged and counted by the writer
 * as for any line). Returns 0, or -1 when the queue is full or memory runs out (|line| is
 * freed).
 */
int acmeva_audit_note(acmeva_audit *a, char *line, size_t len);

/* acmeva_audit_reopen asks the writer to reopen the file before its next batch (any thread;
 * "-" is not reopened). */
void acmeva_audit_reopen(acmeva_audit *a);

/* acmeva_audit_failing returns 1 from a failed write until a later write succeeds or the file
 * is reopened (any thread). */
int acmeva_audit_failing(const acmeva_audit *a);

/* acmeva_audit_free writes what is still queued, stops the writer thread and closes the file.
 * Call it after every loop has closed its registration. NULL is a no-op. */
void acmeva_audit_free(acmeva_audit *a);

/* What one audit line says. Every string is borrowed; NULL ones are written as null. */
typedef struct acmeva_audit_record {
    const char *event;       /* "validation"; the coordinator's "mpic" */
    const char *id;          /* the job id */
    const char *ident_type;  /* "dns", "ip" */
    const char *ident_value;
    const char *method;      /* the challenge type, NULL for a CAA-only job */
    int caa;                 /* a CAA check was part of the job */
    const char *perspective;
    const char *rir;
    const char *status;      /* "valid", "invalid" */
    const char *problem;     /* the problem type URN, NULL when valid */
    const char *entry;       /* the stream entry id */
    int attempt;
    const char *worker;      /* host:pid:thread */
    /* The result document exactly as it is posted (JSON text, written as it is): its
     * validationRecord holds the URLs, addresses resolved, used and tried, resolvers and DNSSEC
     * status, its caa object the CAA outcome. */
    const char *result_json;
    /* Optional: one more member, |extra_key| with the JSON value |extra_json| written as it is
     * (the coordinator's "mpic": each perspective's result and the quorum). */
    const char *extra_key;
    const char *extra_json;
} acmeva_audit_record;

/*
 * acmeva_audit_line_new writes |r| as one line of JSON ending in '\n', with "time" (now, UTC,
 * RFC 3339 with milliseconds) first. Strings are escaped (control bytes and non-ASCII bytes
 * cannot break the line: the first as \u00XX, the second as U+FFFD escapes). Returns a new
 * buffer (|*len| bytes, NUL-terminated) or NULL on no memory.
 */
char *acmeva_audit_line_new(const acmeva_audit_record *r, size_t *len);

/* What one audit line of a policy change says (event "policy"). Strings are borrowed. */
typedef struct acmeva_audit_policy_record {
    const char *program;           /* "acmeva-worker", "acmeva-coordinator" */
    const char *process;           /* host:pid */
    int64_t version;               /* the policy's version now in force */
    const acmeva_strlist *changes; /* one sentence per change (acmeva_policy_changes) */
    const char *policy_json;       /* the policy now in force, JSON text written as it is */
} acmeva_audit_policy_record;

/*
 * acmeva_audit_policy_line_new writes |r| as one line of JSON ending in '\n':
 * {"time":...,"event":"policy","program":...,"process":...,"version":N,"changes":[...],
 * "policy":{...}}, escaped like acmeva_audit_line_new. Returns a new buffer (|*len| bytes,
 * NUL-terminated) or NULL on no memory.
 */
char *acmeva_audit_policy_line_new(const acmeva_audit_policy_record *r, size_t *len);

#endif
