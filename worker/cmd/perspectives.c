/*
 * acmeva check --perspectives (see perspectives.h): one engine per perspective on one loop,
 * every job on each, the results gathered and compared with the first perspective's.
 */
#include "perspectives.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmeva/proto.h"
#include "acmeva/resultdiff.h"

#define FILE_MAX_BYTES (64 * 1024)
#define LINE_MAX_BYTES 1024

typedef struct perspective {
    char name[ACMEVA_PERSPECTIVE_NAME_MAX + 1];
    char resolver[256];
    acmeva_engine_config cfg;
    acmeva_engine *engine;
} perspective;

typedef struct gather gather;

/* One perspective's part of one job: where its result goes. */
typedef struct slot {
    gather *g;
    size_t i;
    acmeva_validation *v; /* running, NULL once answered */
} slot;

/* One job on every perspective. */
struct gather {
    acmeva_perspectives *p;
    gather *prev, *next;
    size_t pending;
    acmeva_perspectives_cb cb;
    void *arg;
    slot slots[ACMEVA_MAX_PERSPECTIVES];
    json_t *results[ACMEVA_MAX_PERSPECTIVES];
    acmeva_resultdoc docs[ACMEVA_MAX_PERSPECTIVES]; /* what the comparison reads of each */
    int has_doc[ACMEVA_MAX_PERSPECTIVES];
};

struct acmeva_perspectives {
    perspective v[ACMEVA_MAX_PERSPECTIVES];
    size_t n;
    gather *running;
    size_t inflight;
};

/* ---- the file ------------------------------------------------------------------------------ */

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > ACMEVA_PERSPECTIVE_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

/* add_line reads one line "NAME RESOLVER" into a new perspective. Returns 0 or -1 (|err|). */
static int add_line(acmeva_perspectives *p, const acmeva_engine_config *base, char *line,
                    const char *path, int lineno, char *err, size_t errlen)
{
    char *name = line + strspn(line, " \t");
    size_t name_len = strcspn(name, " \t");
    char *res = name + name_len + strspn(name + name_len, " \t");
    size_t res_len = strcspn(res, " \t");
    char *rest = res + res_len + strspn(res + res_len, " \t");
    if (name_len == 0 || name[0] == '#')
        return 0; /* a blank line or a comment */
    if (res_len == 0 || *rest != '\0') {
        snprintf(err, errlen, "%s:%d: want \"NAME RESOLVER\"", path, lineno);
        return -1;
    }
    if (!name_ok(name, name_len)) {
        snprintf(err, errlen,
                 "%s:%d: a perspective name is 1 to %d characters of letters, digits, '.', '_' "
                 "and '-'",
                 path, lineno, ACMEVA_PERSPECTIVE_NAME_MAX);
        return -1;
    }
    name[name_len] = '\0';
    res[res_len] = '\0';
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->v[i].name, name) == 0) {
            snprintf(err, errlen, "%s:%d: perspective %s named twice", path, lineno, name);
            return -1;
        }
    }
    if (p->n == ACMEVA_MAX_PERSPECTIVES) {
        snprintf(err, errlen, "%s:%d: more than %d perspectives", path, lineno,
                 ACMEVA_MAX_PERSPECTIVES);
        return -1;
    }
    perspective *x = &p->v[p->n];
    if (acmeva_engine_config_copy(&x->cfg, base) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->n++; /* from here on, freed with |p| */
    snprintf(x->name, sizeof(x->name), "%s", name);
    snprintf(x->resolver, sizeof(x->resolver), "%s", res);
    for (size_t i = 0; i < x->cfg.n_resolvers; i++)
        free(x->cfg.resolvers[i]);
    x->cfg.n_resolvers = 0;
    /* The resolver is read as --resolver reads it, with the same checks. */
    char opt[] = "--resolver";
    char *argv[] = {opt, res, NULL};
    int i = 0;
    if (acmeva_engine_config_option(&x->cfg, 2, argv, &i) != 1) {
        snprintf(err, errlen, "%s:%d: not a resolver address: %s", path, lineno, res);
        return -1;
    }
    free(x->cfg.perspective);
    x->cfg.perspective = strdup(name);
    if (x->cfg.perspective == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int acmeva_perspectives_load(const char *path, const acmeva_engine_config *base,
                             acmeva_perspectives **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    acmeva_perspectives *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char line[LINE_MAX_BYTES + 2];
    int lineno = 0, rc = 0;
    size_t total = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        size_t n = strlen(line);
        total += n;
        if (total > FILE_MAX_BYTES) {
            snprintf(err, errlen, "%s: larger than %d bytes", path, FILE_MAX_BYTES);
            rc = -1;
            break;
        }
        if (n > 0 && line[n - 1] != '\n' && !feof(f)) {
            snprintf(err, errlen, "%s:%d: longer than %d bytes", path, lineno, LINE_MAX_BYTES);
            rc = -1;
            break;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        rc = add_line(p, base, line, path, lineno, err, errlen);
    }
    fclose(f);
    if (rc == 0 && p->n < 2) {
        snprintf(err, errlen, "%s: name at least two perspectives (\"NAME RESOLVER\" a line)",
                 path);
        rc = -1;
    }
    if (rc != 0) {
        acmeva_perspectives_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

int acmeva_perspectives_start(acmeva_perspectives *p, uv_loop_t *loop, char *err, size_t errlen)
{
    for (size_t i = 0; i < p->n; i++) {
        char why[256];
        if (acmeva_engine_new(loop, &p->v[i].cfg, NULL, &p->v[i].engine, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "perspective %s: %s", p->v[i].name, why);
            return -1;
        }
    }
    return 0;
}

/* ---- one job on every perspective ------------------------------------------------------------ */

static void gather_unlink(gather *g)
{
    acmeva_perspectives *p = g->p;
    if (g->prev != NULL)
        g->prev->next = g->next;
    else
        p->running = g->next;
    if (g->next != NULL)
        g->next->prev = g->prev;
    p->inflight--;
}

static void gather_free(gather *g)
{
    for (size_t i = 0; i < g->p->n; i++) {
        acmeva_validation_cancel(g->slots[i].v);
        json_decref(g->results[i]);
        if (g->has_doc[i])
            acmeva_resultdoc_clear(&g->docs[i]);
    }
    free(g);
}

static void add_disagreement(const char *line, void *arg)
{
    json_array_append_new(arg, json_string(line));
}

/* gather_done builds the job's document once every perspective answered, and reports it. */
static void gather_done(gather *g)
{
    acmeva_perspectives *p = g->p;
    json_t *list = json_array(), *lines = json_array();
    int all_valid = 1;
    for (size_t i = 0; i < p->n; i++) {
        const char *st = json_string_value(json_object_get(g->results[i], "status"));
        all_valid &= st != NULL && strcmp(st, "valid") == 0;
        json_array_append_new(list, json_pack("{s:s, s:s, s:O}", "name", p->v[i].name, "resolver",
                                              p->v[i].resolver, "result",
                                              g->results[i] ? g->results[i] : json_null()));
        if (i > 0 && g->has_doc[0] && g->has_doc[i])
            acmeva_result_disagreements(&g->docs[0], p->v[0].name, &g->docs[i], p->v[i].name,
                                        add_disagreement, lines);
    }
    json_t *id = json_object_get(g->results[0], "id");
    json_t *doc = json_pack("{s:i, s:O, s:s, s:o, s:o}", "v", ACMEVA_SCHEMA_MAJOR, "id",
                            id ? id : json_null(), "status", all_valid ? "valid" : "invalid",
                            "perspectives", list, "disagreements", lines);
    acmeva_perspectives_cb cb = g->cb;
    void *arg = g->arg;
    gather_unlink(g);
    gather_free(g);
    cb(doc, arg);
}

static void on_result(acmeva_result *r, void *arg)
{
    slot *s = arg;
    gather *g = s->g;
    char *js = acmeva_result_to_json(r);
    acmeva_result_free(r);
    s->v = NULL;
    g->results[s->i] = js != NULL ? json_loads(js, 0, NULL) : NULL;
    if (js != NULL) {
        g->has_doc[s->i] = 1;
        acmeva_resultdoc_read(&g->docs[s->i], js, strlen(js));
    }
    free(js);
    if (g->results[s->i] == NULL) /* no memory: still an answer, written as null */
        fprintf(stderr, "acmeva: out of memory writing a result\n");
    if (--g->pending == 0)
        gather_done(g);
}

int acmeva_perspectives_validate(acmeva_perspectives *p, const char *line, size_t len,
                                 acmeva_perspectives_cb cb, void *arg)
{
    gather *g = calloc(1, sizeof(*g));
    acmeva_job *jobs[ACMEVA_MAX_PERSPECTIVES] = {0};
    if (g == NULL)
        return -1;
    g->p = p;
    g->cb = cb;
    g->arg = arg;
    /* One parse per engine: an engine takes its job. All first, so that nothing starts when
     * one cannot be made. */
    for (size_t i = 0; i < p->n; i++) {
        if (acmeva_job_parse(line, len, &jobs[i], NULL) != 0) {
            for (size_t k = 0; k < i; k++)
                acmeva_job_free(jobs[k]);
            free(g);
            return -1;
        }
    }
    g->next = p->running;
    if (p->running != NULL)
        p->running->prev = g;
    p->running = g;
    p->inflight++;
    g->pending = p->n;
    size_t refused = 0;
    for (size_t i = 0; i < p->n; i++) {
        g->slots[i].g = g;
        g->slots[i].i = i;
        if (acmeva_engine_validate(p->v[i].engine, jobs[i], 1, on_result, &g->slots[i],
                                   &g->slots[i].v) != 0) {
            /* No memory: the engine freed the job; this perspective answers null. An engine
             * never calls back from inside acmeva_engine_validate, so only refusals count
             * down here. */
            g->slots[i].v = NULL;
            g->pending--;
            refused++;
        }
    }
    if (refused == p->n) {
        gather_unlink(g);
        gather_free(g);
        return -1;
    }
    return 0;
}

size_t acmeva_perspectives_inflight(const acmeva_perspectives *p)
{
    return p->inflight;
}

void acmeva_perspectives_free(acmeva_perspectives *p)
{
    if (p == NULL)
        return;
    while (p->running != NULL) {
        gather *g = p->running;
        gather_unlink(g);
        gather_free(g);
    }
    for (size_t i = 0; i < p->n; i++) {
        acmeva_engine_free(p->v[i].engine);
        acmeva_engine_config_clear(&p->v[i].cfg);
    }
    free(p);
}
