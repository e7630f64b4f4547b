/*
 * The policy reader of a daemon and its hand-over to the event-loop threads (see
 * policywatch.h).
 */
#include "policywatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "queue.h"

#define CHANGES_MAX 2048
/* Read failures are logged at 1, 2, 4, 8, ... in a row, and at least this often. */
#define ERROR_LOG_EVERY_MS 60000

struct acmeva_policy_watch {
    char program[64];
    char process[160]; /* host:pid, for the audit log */
    const acmeva_rconn_settings *rs_in;
    acmeva_rconn_settings rs; /* the process's, with the policy key as the readiness probe */
    acmeva_rconn reader, sub;
    uv_timer_t poll;
    uv_loop_t *loop;
    int started, stopped;
    int reading; /* an HGETALL is outstanding */
    int again;   /* a message came while it was: read once more after it */
    int loaded;  /* a policy was read */
    int subscribe_refused;
    acmeva_policy *cur; /* the main loop's reference to the policy in force */
    unsigned failures;
    uint64_t last_error_log_ms;
    char error[320];     /* why the last read failed ("" once one succeeded) */
    char not_ready[400]; /* acmeva_policy_watch_not_ready's sentence */
    acmeva_mshard *shard;
    acmeva_audit *audit;
    uv_mutex_t lock; /* the slots' inited, closed and pending */
    acmeva_policy_slot *slots;
    size_t n_slots;
};

/* ---- handing snapshots to the threads ------------------------------------------------------ */

static void slot_async_cb(uv_async_t *h)
{
    acmeva_policy_slot *s = h->data;
    uv_mutex_lock(&s->w->lock);
    acmeva_policy *p = s->closed ? NULL : s->pending;
    s->pending = NULL;
    uv_mutex_unlock(&s->w->lock);
    if (p == NULL)
        return;
    acmeva_policy *old = s->cur;
    s->cur = p;
    if (s->cb != NULL)
        s->cb(s->arg, old, p);
    acmeva_policy_free(old);
}

acmeva_policy_slot *acmeva_policy_slot_init(acmeva_policy_watch *w, size_t i, uv_loop_t *loop,
                                            acmeva_policy_changed_cb cb, void *arg)
{
    if (w == NULL || i >= w->n_slots)
        return NULL;
    acmeva_policy_slot *s = &w->slots[i];
    s->w = w;
    s->cb = cb;
    s->arg = arg;
    s->cur = NULL;
    if (uv_async_init(loop, &s->async, slot_async_cb) != 0)
        return NULL;
    s->async.data = s;
    uv_mutex_lock(&w->lock);
    s->inited = 1;
    s->closed = 0;
    /* A thread that joins after the first read gets the policy in force at once. */
    if (w->cur != NULL && s->pending == NULL) {
        s->pending = acmeva_policy_get1(w->cur);
        uv_async_send(&s->async);
    }
    uv_mutex_unlock(&w->lock);
    return s;
}

void acmeva_policy_slot_close(acmeva_policy_slot *s)
{
    if (s == NULL || s->w == NULL)
        return;
    acmeva_policy_watch *w = s->w;
    uv_mutex_lock(&w->lock);
    if (!s->inited || s->closed) {
        uv_mutex_unlock(&w->lock);
        return;
    }
    s->closed = 1;
    acmeva_policy *p = s->pending;
    s->pending = NULL;
    /* Closed under the lock: the main loop sends to an async only under it, after this. */
    uv_close((uv_handle_t *)&s->async, NULL);
    uv_mutex_unlock(&w->lock);
    acmeva_policy_free(p);
    acmeva_policy_free(s->cur);
    s->cur = NULL;
}

/* publish hands |p| to every thread: the newest snapshot replaces one not yet taken. */
static void publish(acmeva_policy_watch *w, acmeva_policy *p)
{
    acmeva_policy *old = w->cur;
    uv_mutex_lock(&w->lock);
    w->cur = p;
    for (size_t i = 0; i < w->n_slots; i++) {
        acmeva_policy_slot *s = &w->slots[i];
        if (!s->inited || s->closed)
            continue;
        acmeva_policy *stale = s->pending;
        s->pending = acmeva_policy_get1(p);
        acmeva_policy_free(stale);
        uv_async_send(&s->async);
    }
    uv_mutex_unlock(&w->lock);
    acmeva_policy_free(old);
}

/* ---- reading the hash ------------------------------------------------------------------------ */

static void read_policy(acmeva_policy_watch *w);

/* read_failed keeps the policy in force and says why, loudly the first time and then at 1, 2,
 * 4, 8, ... failures in a row, and at least once a minute. */
static void read_failed(acmeva_policy_watch *w, const char *why)
{
    snprintf(w->error, sizeof(w->error), "%s", why);
    w->failures++;
    uint64_t now = acmeva_mono_ms();
    if ((w->failures & (w->failures - 1)) != 0 && now - w->last_error_log_ms < ERROR_LOG_EVERY_MS)
        return;
    w->last_error_log_ms = now;
    ACMEVA_LOG("error",
               w->loaded ? "cannot read the operator's policy; the last one read stays in force"
                         : "cannot read the operator's policy; taking no jobs until it is read",
               ACMEVA_LS("key", ACMEVA_POLICY_KEY), ACMEVA_LS("error", why),
               ACMEVA_LI("version", w->cur ? w->cur->version : 0),
               ACMEVA_LI("failures", w->failures));
}

/* show sets the main loop's gauges of the policy in force. */
static void show(acmeva_policy_watch *w, const acmeva_policy *p)
{
    for (int t = ACMEVA_CHALL_NONE + 1; t < ACMEVA_CHALL_UNKNOWN; t++)
        acmeva_mshard_set(w->shard, ACMEVA_M_POLICY_METHOD_DISABLED,
                          (const unsigned[]){(unsigned)t - 1},
                          acmeva_policy_disabled(p, (acmeva_chall_type)t) != NULL);
    for (size_t i = 0; i < p->n_rules; i++) {
        acmeva_mshard_set(w->shard, ACMEVA_M_POLICY_RULE_VALUE, (const unsigned[]){(unsigned)i},
                          p->rule_value[i]);
        acmeva_mshard_set(w->shard, ACMEVA_M_POLICY_RULE_EARLY, (const unsigned[]){(unsigned)i},
                          p->rule_early[i]);
    }
}

/* record logs a change once for the process and writes its audit line. */
static void record(acmeva_policy_watch *w, const acmeva_policy *old, const acmeva_policy *p)
{
    acmeva_strlist changes = {0};
    char joined[CHANGES_MAX] = "";
    if (acmeva_policy_changes(old, p, &changes) < 0) {
        acmeva_strlist_clear(&changes);
        snprintf(joined, sizeof(joined), "(no memory to describe the change)");
    }
    size_t off = 0;
    for (size_t i = 0; i < changes.n && off + 1 < sizeof(joined); i++) {
        int k = snprintf(joined + off, sizeof(joined) - off, "%s%s", i ? "; " : "", changes.v[i]);
        if (k < 0)
            break;
        off += (size_t)k;
    }
    int lower = old != NULL && p->version < old->version;
    ACMEVA_LOG(lower ? "warn" : "info", old == NULL ? "policy read" : "policy changed",
               ACMEVA_LS("key", ACMEVA_POLICY_KEY), ACMEVA_LI("version", p->version),
               ACMEVA_LS("changes", joined));
    if (w->audit != NULL) {
        char *pj = acmeva_policy_json_new(p);
        acmeva_audit_policy_record rec = {w->program, w->process, p->version, &changes, pj};
        size_t len = 0;
        char *line = pj ? acmeva_audit_policy_line_new(&rec, &len) : NULL;
        free(pj);
        /* The change is in force whatever the disk does: a line that cannot be queued is
         * said here, one that cannot be written is said and counted by the writer. */
        if (line == NULL || acmeva_audit_note(w->audit, line, len) < 0)
            ACMEVA_LOG("error", "cannot queue the audit line of a policy change",
                       ACMEVA_LI("version", p->version));
    }
    acmeva_strlist_clear(&changes);
}

static void hgetall_cb(acmeva_rconn *c, redisReply *r, void *priv)
{
    acmeva_policy_watch *w = priv;
    w->reading = 0;
    if (r == NULL || w->stopped)
        return; /* the connection went (it logs that and reconnects) or we are stopping */
    char why[300];
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, sizeof(why), "HGETALL %s: %.200s", ACMEVA_POLICY_KEY,
                 r->str ? r->str : "error");
        read_failed(w, why);
        return;
    }
    size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0 || n > ACMEVA_POLICY_FIELDS_MAX) {
        snprintf(why, sizeof(why), "HGETALL %s: %s", ACMEVA_POLICY_KEY,
                 r->type == REDIS_REPLY_ARRAY ? "more fields than a policy may have"
                                              : "not a list of fields and values");
        read_failed(w, why);
        return;
    }
    const char *f[ACMEVA_POLICY_FIELDS_MAX], *v[ACMEVA_POLICY_FIELDS_MAX];
    size_t fl[ACMEVA_POLICY_FIELDS_MAX], vl[ACMEVA_POLICY_FIELDS_MAX];
    for (size_t i = 0; i < n; i++) {
        redisReply *k = r->element[2 * i], *x = r->element[2 * i + 1];
        if (k->type != REDIS_REPLY_STRING || x->type != REDIS_REPLY_STRING) {
            snprintf(why, sizeof(why), "HGETALL %s: a field or value that is not a string",
                     ACMEVA_POLICY_KEY);
            read_failed(w, why);
            return;
        }
        f[i] = k->str;
        fl[i] = k->len;
        v[i] = x->str;
        vl[i] = x->len;
    }
    acmeva_policy *p = NULL;
    char err[200];
    int rc = acmeva_policy_parse(f, fl, v, vl, n, acmeva_wall_ms(), &p, err, sizeof(err));
    if (rc < 0) {
        snprintf(why, sizeof(why), "%s: %s", ACMEVA_POLICY_KEY, rc == -ENOMEM ? "no memory" : err);
        read_failed(w, why);
        return;
    }
    w->failures = 0;
    w->error[0] = '\0';
    w->loaded = 1;
    if (acmeva_policy_same(w->cur, p)) {
        acmeva_policy_free(p);
    } else {
        record(w, w->cur, p);
        show(w, p);
        publish(w, p);
    }
    if (w->again) {
        w->again = 0;
        read_policy(w);
    }
    (void)c;
}

static void read_policy(acmeva_policy_watch *w)
{
    if (w->stopped)
        return;
    if (w->reading) {
        w->again = 1; /* what the message announced may have come after that read was served */
        return;
    }
    if (!acmeva_rconn_ready(&w->reader))
        return; /* read when it is ready again (on_ready) */
    const char *argv[] = {"HGETALL", ACMEVA_POLICY_KEY};
    if (acmeva_rconn_command(&w->reader, hgetall_cb, w, 2, argv, NULL) == 0)
        w->reading = 1;
}

static void poll_cb(uv_timer_t *h)
{
    acmeva_policy_watch *w = h->data;
    if (!w->reading)
        read_policy(w);
}

static void reader_ready(acmeva_rconn *c)
{
    read_policy(c->data);
}

static void reader_lost(acmeva_rconn *c)
{
    acmeva_policy_watch *w = c->data;
    w->reading = 0;
    if (!w->loaded)
        snprintf(w->error, sizeof(w->error), "%s", c->last_error);
}

/* ---- the channel ------------------------------------------------------------------------------
 */

static void subscribe_cb(acmeva_rconn *c, redisReply *r, void *priv)
{
    acmeva_policy_watch *w = priv;
    if (r == NULL || w->stopped)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        /* Not fatal: the periodic read still brings every change within its period. */
        if (!w->subscribe_refused)
            ACMEVA_LOG("warn",
                       "cannot subscribe to the policy channel; changes are seen by the "
                       "periodic read only",
                       ACMEVA_LS("channel", ACMEVA_POLICY_CHANNEL), ACMEVA_LS("error", r->str),
                       ACMEVA_LI("poll_ms", ACMEVA_POLICY_POLL_MS));
        w->subscribe_refused = 1;
        return;
    }
    w->subscribe_refused = 0;
    (void)c;
}

static void sub_ready(acmeva_rconn *c)
{
    acmeva_policy_watch *w = c->data;
    const char *argv[] = {"SUBSCRIBE", ACMEVA_POLICY_CHANNEL};
    acmeva_rconn_command(c, subscribe_cb, w, 2, argv, NULL);
    /* A message published while the subscriber was away is lost: read now. */
    read_policy(w);
}

static void sub_message(acmeva_rconn *c, redisReply *msg)
{
    /* The payload is only a nudge: the hash is what counts. */
    read_policy(c->data);
    (void)msg;
}

/* ---- the watcher ------------------------------------------------------------------------------
 */

int acmeva_policy_watch_new(const char *program, const acmeva_rconn_settings *rs, size_t n_loops,
                            acmeva_mshard *shard, acmeva_audit *audit, acmeva_policy_watch **out)
{
    *out = NULL;
    acmeva_policy_watch *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    w->slots = calloc(n_loops ? n_loops : 1, sizeof(acmeva_policy_slot));
    if (w->slots == NULL || uv_mutex_init(&w->lock) != 0) {
        free(w->slots);
        free(w);
        return -ENOMEM;
    }
    w->n_slots = n_loops;
    snprintf(w->program, sizeof(w->program), "%s", program);
    acmeva_consumer_name(w->process, sizeof(w->process), 0);
    char *colon = strrchr(w->process, ':');
    if (colon != NULL)
        *colon = '\0'; /* host:pid: the process, not one of its threads */
    w->rs_in = rs;
    w->shard = shard;
    w->audit = audit;
    snprintf(w->error, sizeof(w->error), "not connected to Redis yet");
    *out = w;
    return 0;
}

int acmeva_policy_watch_start(acmeva_policy_watch *w, uv_loop_t *loop)
{
    char rname[sizeof(w->process) + 16], sname[sizeof(w->process) + 16];
    w->loop = loop;
    w->rs = *w->rs_in;
    w->rs.probe_key = ACMEVA_POLICY_KEY; /* the one key every daemon's user may read */
    w->rs.quiet = 0;                     /* its own lines: it is the only one on this loop */
    snprintf(rname, sizeof(rname), "%s:policy", w->process);
    snprintf(sname, sizeof(sname), "%s:policy-sub", w->process);
    int rc = acmeva_rconn_init(&w->reader, loop, &w->rs, "policy", -1, rname, reader_ready,
                               reader_lost, w);
    if (rc != 0)
        return rc;
    rc = acmeva_rconn_init(&w->sub, loop, &w->rs, "policy-sub", -1, sname, sub_ready, NULL, w);
    if (rc != 0) {
        acmeva_rconn_close(&w->reader);
        return rc;
    }
    acmeva_rconn_set_push(&w->sub, sub_message);
    uv_timer_init(loop, &w->poll);
    w->poll.data = w;
    w->started = 1;
    uv_timer_start(&w->poll, poll_cb, ACMEVA_POLICY_POLL_MS, ACMEVA_POLICY_POLL_MS);
    acmeva_rconn_start(&w->reader);
    acmeva_rconn_start(&w->sub);
    return 0;
}

void acmeva_policy_watch_stop(acmeva_policy_watch *w)
{
    if (w == NULL || !w->started || w->stopped)
        return;
    w->stopped = 1;
    acmeva_rconn_close(&w->reader);
    acmeva_rconn_close(&w->sub);
    uv_close((uv_handle_t *)&w->poll, NULL);
}

const char *acmeva_policy_watch_not_ready(acmeva_policy_watch *w)
{
    if (w == NULL || w->loaded)
        return NULL;
    /* Why: the read refused, else why the connection is not up. */
    const char *why = w->error;
    if (w->failures == 0 && w->started && w->reader.state != ACMEVA_RCONN_READY &&
        w->reader.last_error[0] != '\0')
        why = w->reader.last_error;
    snprintf(w->not_ready, sizeof(w->not_ready),
             "not ready: the operator's policy (%s) has not been read yet: %s\n", ACMEVA_POLICY_KEY,
             why[0] ? why : "reading");
    return w->not_ready;
}

void acmeva_policy_watch_free(acmeva_policy_watch *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->n_slots; i++) {
        acmeva_policy_free(w->slots[i].pending);
        acmeva_policy_free(w->slots[i].cur);
    }
    acmeva_policy_free(w->cur);
    uv_mutex_destroy(&w->lock);
    free(w->slots);
    free(w);
}
