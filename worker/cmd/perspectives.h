/*
 * acmeva check --perspectives FILE: the same job through several resolvers at once, and where
 * their views differ. The multi-perspective question a CA asks (BR 3.2.2.9), asked locally:
 * each line of FILE names a perspective and its resolver, each perspective gets an engine of
 * its own on the one loop, every job runs on each of them, and once all have answered the
 * results are compared with the first perspective's in the coordinator's words
 * (acmeva_result_disagreements).
 */
#ifndef ACMEVA_PERSPECTIVES_H
#define ACMEVA_PERSPECTIVES_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "acmeva/engine.h"

#define ACMEVA_MAX_PERSPECTIVES 16     /* lines of a perspectives file */
#define ACMEVA_PERSPECTIVE_NAME_MAX 64 /* bytes of a name: [A-Za-z0-9._-] */

typedef struct acmeva_perspectives acmeva_perspectives;

/*
 * acmeva_perspectives_cb receives the outcome of one job on every perspective, once all have
 * answered: |doc| (owned by the callee) is {"v": 1, "id", "status" ("valid" when every
 * perspective's result is), "perspectives": [{"name", "resolver", "result"}],
 * "disagreements": [...]}, the results in the file's order.
 */
typedef void (*acmeva_perspectives_cb)(json_t *doc, void *arg);

/*
 * acmeva_perspectives_load reads the perspectives file |path|: one perspective a line, "NAME
 * RESOLVER" (RESOLVER as --resolver takes it: IP or IP:PORT, [IPv6]:PORT), blank lines and
 * lines starting with '#' skipped; 2 to ACMEVA_MAX_PERSPECTIVES of them, names unique. Each
 * perspective's engine configuration is |base| (copied) with that one resolver and that name
 * as its perspective. Returns 0 and sets |*out|, or -1 with one line in |err| naming the file
 * line at fault.
 */
int acmeva_perspectives_load(const char *path, const acmeva_engine_config *base,
                             acmeva_perspectives **out, char *err, size_t errlen);

/* acmeva_perspectives_start creates the engines on |loop|. Returns 0, or -1 with |err|. */
int acmeva_perspectives_start(acmeva_perspectives *p, uv_loop_t *loop, char *err, size_t errlen);

/*
 * acmeva_perspectives_validate runs the job |line| (|len| bytes of JSON, already known to
 * parse) on every perspective. |cb| runs once, later, from the loop, when all have answered.
 * Returns 0, or -1 when it could not start (no memory, or a job that does not parse), and
 * then |cb| never runs.
 */
int acmeva_perspectives_validate(acmeva_perspectives *p, const char *line, size_t len,
                                 acmeva_perspectives_cb cb, void *arg);

/* acmeva_perspectives_inflight returns how many jobs are running (each on every perspective). */
size_t acmeva_perspectives_inflight(const acmeva_perspectives *p);

/* acmeva_perspectives_free cancels what runs (no callback), frees the engines (run the loop
 * afterwards until their handles are closed) and |p|. NULL is a no-op. */
void acmeva_perspectives_free(acmeva_perspectives *p);

#endif
