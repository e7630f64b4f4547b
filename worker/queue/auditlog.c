/*
 * The audit log: a writer thread, a bounded queue, and the lines (see auditlog.h).
 */
#include "auditlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "queue.h"
#include "strbuf.h"

#define IOV_BATCH 256
/* Error lines from the writer at most this often: loud, not a flood. */
#define ERROR_LOG_EVERY_MS 1000

typedef struct item item;
struct item {
    item *next;
    char *line;
    size_t len;
    acmeva_audit_done_cb cb;
    void *arg;
    size_t loop;
    int ok;
};

typedef struct aloop {
    uv_async_t async;
    /* Lines a loop submits wait in its own list (no lock) until the prepare handle, before the
     * loop next waits for I/O, hands them all to the writer at once: one lock and one wake-up
     * per loop turn instead of one per line. A wake-up per line made the writer take batches
     * of one line, with a writev, a context switch and a uv_async each (bench/README.md
     * "Metrics and the audit log"). */
    uv_prepare_t prepare;
    item *pend_head, *pend_tail; /* the loop's thread only */
    size_t pend_n;
    int open; /* between acmeva_audit_loop_init and _close; the loop's thread only */
    acmeva_audit *a;
    size_t index;
    int inited, closed; /* under a->lock */
    item *done_head, *done_tail;
} aloop;

struct acmeva_audit {
    char *path;
    int fd;
    int is_stdout, regular, sync;
    uv_mutex_t lock;
    uv_cond_t cond;
    uv_thread_t tid;
    int thread_started;
    item *head, *tail; /* queued, under lock */
    size_t queued, capacity;
    /* Lines submitted and not yet taken by the writer, pending in a loop's list or queued:
     * what |capacity| bounds. */
    atomic_size_t backlog;
    int stop, reopen; /* under lock */
    atomic_int failing;
    int torn; /* writer only: the last write ended inside a line */
    uint64_t last_error_log_ms;
    aloop *loops;
    size_t n_loops;
    acmeva_mshard *shard;
};

/* ---- the lines ----------------------------------------------------------------------------- */

typedef acmeva_strbuf lbuf;
#define put acmeva_strbuf_put
#define puts_ acmeva_strbuf_puts

/* put_str writes |s| as a JSON string, or null. The values are ASCII by construction (ids,
 * names, URNs); any other byte is written as an escape, so the line stays one valid line. */
static void put_str(lbuf *b, const char *s)
{
    if (s == NULL) {
        puts_(b, "null");
        return;
    }
    put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[8];
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            p++;
        if (p > run)
            put(b, (const char *)run, (size_t)(p - run)); /* the plain bytes at once */
        if (*p == '\0')
            break;
        if (*p == '"' || *p == '\\') {
            e[0] = '\\';
            e[1] = (char)*p;
            put(b, e, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(e, sizeof(e), "\\u%04x", *p);
            put(b, e, 6);
        } else { /* >= 0x80 */
            put(b, "\\ufffd", 6);
        }
    }
    put(b, "\"", 1);
}

static void key(lbuf *b, const char *k)
{
    put(b, ",\"", 2);
    puts_(b, k);
    put(b, "\":", 2);
}

char *acmeva_audit_line_new(const acmeva_audit_record *r, size_t *len)
{
    lbuf b = {NULL, 0, 0, 0, 0};
    char t[48];
    acmeva_log_time(t, sizeof(t));
    puts_(&b, "{\"time\":");
    put_str(&b, t);
    key(&b, "event");
    put_str(&b, r->event);
    key(&b, "id");
    put_str(&b, r->id);
    key(&b, "identifier");
    if (r->ident_type != NULL) {
        puts_(&b, "{\"type\":");
        put_str(&b, r->ident_type);
        puts_(&b, ",\"value\":");
        put_str(&b, r->ident_value);
        puts_(&b, "}");
    } else {
        puts_(&b, "null");
    }
    key(&b, "method");
    put_str(&b, r->method);
    key(&b, "caa");
    puts_(&b, r->caa ? "true" : "false");
    key(&b, "perspective");
    put_str(&b, r->perspective);
    key(&b, "rir");
    put_str(&b, r->rir);
    key(&b, "status");
    put_str(&b, r->status);
    key(&b, "problem");
    put_str(&b, r->problem);
    key(&b, "entry");
    put_str(&b, r->entry);
    key(&b, "attempt");
    char num[24];
    snprintf(num, sizeof(num), "%d", r->attempt);
    puts_(&b, num);
    key(&b, "worker");
    put_str(&b, r->worker);
    if (r->extra_key != NULL && r->extra_json != NULL) {
        key(&b, r->extra_key);
        puts_(&b, r->extra_json);
    }
    key(&b, "result");
    puts_(&b, r->result_json ? r->result_json : "null");
    puts_(&b, "}\n");
    return acmeva_strbuf_take(&b, len);
}

char *acmeva_audit_policy_line_new(const acmeva_audit_policy_record *r, size_t *len)
{
    lbuf b = {NULL, 0, 0, 0, 0};
    char t[48], num[24];
    acmeva_log_time(t, sizeof(t));
    puts_(&b, "{\"time\":");
    put_str(&b, t);
    key(&b, "event");
    put_str(&b, "policy");
    key(&b, "program");
    put_str(&b, r->program);
    key(&b, "process");
    put_str(&b, r->process);
    key(&b, "version");
    snprintf(num, sizeof(num), "%lld", (long long)r->version);
    puts_(&b, num);
    key(&b, "changes");
    put(&b, "[", 1);
    for (size_t i = 0; r->changes != NULL && i < r->changes->n; i++) {
        if (i > 0)
            put(&b, ",", 1);
        put_str(&b, r->changes->v[i]);
    }
    put(&b, "]", 1);
    key(&b, "policy");
    puts_(&b, r->policy_json ? r->policy_json : "null");
    puts_(&b, "}\n");
    return acmeva_strbuf_take(&b, len);
}

/* ---- the writer thread ----------------------------------------------------------------------- */

static int open_file(acmeva_audit *a, int *fd, char *err, size_t errlen)
{
    if (a->is_stdout) {
        *fd = STDOUT_FILENO;
        return 0;
    }
    *fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (*fd < 0) {
        snprintf(err, errlen, "cannot open the audit log %s: %s", a->path, strerror(errno));
        return -1;
    }
    return 0;
}

static int is_regular(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

static void do_reopen(acmeva_audit *a)
{
    if (a->is_stdout)
        return;
    char err[512];
    int fd;
    if (open_file(a, &fd, err, sizeof(err)) < 0) {
        /* Keep writing where we did: the lines still reach a file. */
        ACMEVA_LOG("error", "audit log not reopened; writing to the file held so far",
                   ACMEVA_LS("error", err));
        return;
    }
    close(a->fd);
    a->fd = fd;
    a->regular = is_regular(fd);
    a->torn = 0;
    atomic_store(&a->failing, 0);
    ACMEVA_LOG("info", "audit log reopened", ACMEVA_LS("path", a->path));
}

/* write_batch writes the lines from |head| on; returns how many of them are whole in the file
 * (all of them on success) and sets |*err| to the errno of a failure (0 if none). */
static size_t write_batch(acmeva_audit *a, item *head, int *err)
{
    *err = 0;
    size_t whole = 0, off = 0;
    item *cur = head;
    if (a->torn) {
        /* The last failed write stopped inside a line: end that fragment first, so that every
         * later line is a line of its own. */
        ssize_t w = write(a->fd, "\n", 1);
        if (w != 1) {
            *err = w < 0 ? errno : EIO;
            return 0;
        }
        a->torn = 0;
    }
    while (cur != NULL) {
        struct iovec iov[IOV_BATCH];
        int k = 0;
        for (item *it = cur; it != NULL && k < IOV_BATCH; it = it->next, k++) {
            size_t o = it == cur ? off : 0;
            iov[k].iov_base = it->line + o;
            iov[k].iov_len = it->len - o;
        }
        ssize_t w = writev(a->fd, iov, k);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            *err = w < 0 ? errno : EIO;
            a->torn = off > 0;
            return whole;
        }
        size_t left = (size_t)w;
        while (left > 0 && cur != NULL) {
            size_t rem = cur->len - off;
            if (left >= rem) {
                left -= rem;
                off = 0;
                cur = cur->next;
                whole++;
            } else {
                off += left;
                left = 0;
            }
        }
    }
    if (a->sync && a->regular && fdatasync(a->fd) != 0) {
        *err = errno;
        return 0; /* written, but not known to be on disk: none of them counts */
    }
    return whole;
}

static void report_error(acmeva_audit *a, int err, size_t lines)
{
    uint64_t now = acmeva_mono_ms();
    int was = atomic_exchange(&a->failing, 1);
    if (!was || now - a->last_error_log_ms >= ERROR_LOG_EVERY_MS) {
        a->last_error_log_ms = now;
        ACMEVA_LOG("error", "audit log write failed; these results are not posted and their jobs stay pending",
                   ACMEVA_LS("path", a->is_stdout ? "-" : a->path), ACMEVA_LS("error", strerror(err)),
                   ACMEVA_LI("lines", (int64_t)lines));
    }
    if (a->shard != NULL)
        acmeva_mshard_add(a->shard, ACMEVA_M_AUDIT_WRITE_ERRORS, NULL, 1);
}

static void writer_main(void *arg)
{
    acmeva_audit *a = arg;
    uv_mutex_lock(&a->lock);
    for (;;) {
        while (a->head == NULL && !a->stop && !a->reopen)
            uv_cond_wait(&a->cond, &a->lock);
        int reopen = a->reopen;
        a->reopen = 0;
        item *batch = a->head;
        size_t n = a->queued;
        a->head = a->tail = NULL;
        a->queued = 0;
        atomic_fetch_sub(&a->backlog, n);
        if (batch == NULL && !reopen && a->stop)
            break;
        uv_mutex_unlock(&a->lock);

        if (reopen)
            do_reopen(a);
        if (a->shard != NULL)
            acmeva_mshard_set(a->shard, ACMEVA_M_AUDIT_WAITING, NULL, (int64_t)n);
        int err = 0;
        size_t whole = batch != NULL ? write_batch(a, batch, &err) : 0;
        if (err != 0)
            report_error(a, err, n - whole);
        else if (batch != NULL && atomic_exchange(&a->failing, 0))
            ACMEVA_LOG0("info", "audit log writes succeed again");
        if (a->shard != NULL) {
            acmeva_mshard_add(a->shard, ACMEVA_M_AUDIT_LINES, NULL, whole);
            acmeva_mshard_set(a->shard, ACMEVA_M_AUDIT_WAITING, NULL, 0);
        }

        uv_mutex_lock(&a->lock);
        size_t i = 0;
        for (item *it = batch, *next; it != NULL; it = next, i++) {
            next = it->next;
            it->next = NULL;
            it->ok = i < whole;
            aloop *l = it->loop < a->n_loops ? &a->loops[it->loop] : NULL;
            free(it->line);
            it->line = NULL;
            if (l == NULL || l->closed || !l->inited) { /* a note, or a loop that is gone */
                free(it);
                continue;
            }
            if (l->done_tail != NULL)
                l->done_tail->next = it;
            else
                l->done_head = it;
            l->done_tail = it;
        }
        /* Sent under the lock: a loop closes its async only under the lock, after closed. */
        for (size_t k = 0; k < a->n_loops; k++)
            if (a->loops[k].done_head != NULL && !a->loops[k].closed)
                uv_async_send(&a->loops[k].async);
    }
    uv_mutex_unlock(&a->lock);
}

/* ---- the loops' side ----------------------------------------------------------------------- */

/* reserve takes a place in the backlog for one line: 0, or -1 when |capacity| lines are
 * waiting already. */
static int reserve(acmeva_audit *a)
{
    if (atomic_fetch_add(&a->backlog, 1) >= a->capacity) {
        atomic_fetch_sub(&a->backlog, 1);
        return -1;
    }
    return 0;
}

/* queue_locked appends the |n| lines from |head| to |tail| to the writer's queue and wakes the
 * writer. Under a->lock. */
static void queue_locked(acmeva_audit *a, item *head, item *tail, size_t n)
{
    if (a->tail != NULL)
        a->tail->next = head;
    else
        a->head = head;
    a->tail = tail;
    a->queued += n;
    uv_cond_signal(&a->cond);
}

/* hand_over gives the lines pending on loop |l| to the writer. On the loop's thread. */
static void hand_over(aloop *l)
{
    if (l->pend_head == NULL)
        return;
    acmeva_audit *a = l->a;
    uv_mutex_lock(&a->lock);
    queue_locked(a, l->pend_head, l->pend_tail, l->pend_n);
    uv_mutex_unlock(&a->lock);
    l->pend_head = l->pend_tail = NULL;
    l->pend_n = 0;
}

static void prepare_cb(uv_prepare_t *h)
{
    hand_over(h->data);
    uv_prepare_stop(h);
}

int acmeva_audit_submit(acmeva_audit *a, size_t i, char *line, size_t len, acmeva_audit_done_cb cb,
                        void *arg)
{
    aloop *l = i < a->n_loops ? &a->loops[i] : NULL;
    if (l == NULL || !l->open || reserve(a) < 0) {
        free(line);
        return -1;
    }
    item *it = malloc(sizeof(*it));
    if (it == NULL) {
        atomic_fetch_sub(&a->backlog, 1);
        free(line);
        return -1;
    }
    *it = (item){NULL, line, len, cb, arg, i, 0};
    if (l->pend_tail != NULL)
        l->pend_tail->next = it;
    else
        l->pend_head = it;
    l->pend_tail = it;
    if (l->pend_n++ == 0)
        uv_prepare_start(&l->prepare, prepare_cb);
    return 0;
}

int acmeva_audit_note(acmeva_audit *a, char *line, size_t len)
{
    if (reserve(a) < 0) {
        free(line);
        return -1;
    }
    item *it = malloc(sizeof(*it));
    if (it == NULL) {
        atomic_fetch_sub(&a->backlog, 1);
        free(line);
        return -1;
    }
    *it = (item){NULL, line, len, NULL, NULL, SIZE_MAX, 0};
    uv_mutex_lock(&a->lock);
    if (a->stop) {
        uv_mutex_unlock(&a->lock);
        atomic_fetch_sub(&a->backlog, 1);
        free(line);
        free(it);
        return -1;
    }
    queue_locked(a, it, it, 1);
    uv_mutex_unlock(&a->lock);
    return 0;
}

static void done_cb(uv_async_t *h)
{
    aloop *l = h->data;
    acmeva_audit *a = l->a;
    uv_mutex_lock(&a->lock);
    item *it = l->closed ? NULL : l->done_head;
    if (!l->closed)
        l->done_head = l->done_tail = NULL;
    uv_mutex_unlock(&a->lock);
    while (it != NULL) {
        item *next = it->next;
        it->cb(it->arg, it->ok);
        free(it);
        it = next;
    }
}

int acmeva_audit_loop_init(acmeva_audit *a, size_t i, uv_loop_t *loop)
{
    if (i >= a->n_loops)
        return UV_EINVAL;
    aloop *l = &a->loops[i];
    l->a = a;
    l->index = i;
    int rc = uv_async_init(loop, &l->async, done_cb);
    if (rc != 0)
        return rc;
    l->async.data = l;
    rc = uv_prepare_init(loop, &l->prepare);
    if (rc != 0) {
        uv_close((uv_handle_t *)&l->async, NULL);
        return rc;
    }
    l->prepare.data = l;
    l->open = 1;
    uv_mutex_lock(&a->lock);
    l->inited = 1;
    l->closed = 0;
    uv_mutex_unlock(&a->lock);
    return 0;
}

void acmeva_audit_loop_close(acmeva_audit *a, size_t i)
{
    if (a == NULL || i >= a->n_loops)
        return;
    aloop *l = &a->loops[i];
    if (l->open) {
        /* Written all the same; their done callbacks do not run. */
        hand_over(l);
        l->open = 0;
        uv_close((uv_handle_t *)&l->prepare, NULL);
    }
    uv_mutex_lock(&a->lock);
    if (!l->inited || l->closed) {
        uv_mutex_unlock(&a->lock);
        return;
    }
    l->closed = 1;
    item *it = l->done_head;
    l->done_head = l->done_tail = NULL;
    uv_close((uv_handle_t *)&l->async, NULL);
    uv_mutex_unlock(&a->lock);
    while (it != NULL) {
        item *next = it->next;
        free(it);
        it = next;
    }
}

void acmeva_audit_reopen(acmeva_audit *a)
{
    uv_mutex_lock(&a->lock);
    a->reopen = 1;
    uv_cond_signal(&a->cond);
    uv_mutex_unlock(&a->lock);
}

int acmeva_audit_failing(const acmeva_audit *a)
{
    return atomic_load(&((acmeva_audit *)a)->failing);
}

int acmeva_audit_new(const char *path, int sync, size_t capacity, size_t n_loops,
                     acmeva_mshard *shard, acmeva_audit **out, char *err, size_t errlen)
{
    *out = NULL;
    acmeva_audit *a = calloc(1, sizeof(*a));
    if (a == NULL || (a->path = strdup(path)) == NULL ||
        (a->loops = calloc(n_loops ? n_loops : 1, sizeof(aloop))) == NULL) {
        snprintf(err, errlen, "no memory");
        if (a != NULL) {
            free(a->path);
            free(a);
        }
        return -1;
    }
    a->n_loops = n_loops;
    a->capacity = capacity > 0 ? capacity : 1;
    atomic_init(&a->backlog, 0);
    a->sync = sync;
    a->shard = shard;
    a->is_stdout = strcmp(path, "-") == 0;
    atomic_init(&a->failing, 0);
    if (open_file(a, &a->fd, err, errlen) < 0) {
        free(a->loops);
        free(a->path);
        free(a);
        return -1;
    }
    a->regular = is_regular(a->fd);
    uv_mutex_init(&a->lock);
    uv_cond_init(&a->cond);
    if (uv_thread_create(&a->tid, writer_main, a) != 0) {
        snprintf(err, errlen, "cannot start the audit log writer thread");
        acmeva_audit_free(a);
        return -1;
    }
    a->thread_started = 1;
    *out = a;
    return 0;
}

void acmeva_audit_free(acmeva_audit *a)
{
    if (a == NULL)
        return;
    if (a->thread_started) {
        uv_mutex_lock(&a->lock);
        a->stop = 1;
        uv_cond_signal(&a->cond);
        uv_mutex_unlock(&a->lock);
        uv_thread_join(&a->tid);
    }
    for (size_t i = 0; i < a->n_loops; i++) {
        item *it = a->loops[i].done_head;
        while (it != NULL) {
            item *next = it->next;
            free(it);
            it = next;
        }
        /* Pending only when a loop was never closed: against the contract, but not a leak. */
        for (it = a->loops[i].pend_head; it != NULL;) {
            item *next = it->next;
            free(it->line);
            free(it);
            it = next;
        }
    }
    while (a->head != NULL) {
        item *next = a->head->next;
        free(a->head->line);
        free(a->head);
        a->head = next;
    }
    if (!a->is_stdout && a->fd >= 0)
        close(a->fd);
    uv_cond_destroy(&a->cond);
    uv_mutex_destroy(&a->lock);
    free(a->loops);
    free(a->path);
    free(a);
}
