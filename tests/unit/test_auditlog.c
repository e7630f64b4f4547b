/* Unit tests of the audit log (worker/queue/auditlog.c): every line submitted is written, in
 * order, before its done callback says so; the lines a loop submits in one turn reach the
 * writer together (one batch, one completion); the bound counts lines not yet taken by the
 * writer wherever they wait; lines still pending when a loop closes are written all the same;
 * and the JSON strings of a line are escaped so that it stays one valid line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auditlog.h"
#include "check.h"

#define LINES 64

static char path[64];
static int done_n, done_ok, first_turn = -1, same_turn = 1, in_order = 1;
static int turn; /* loop iterations, counted by a check handle */

static void count_turn(uv_check_t *h)
{
    (void)h;
    turn++;
}

static void done(void *arg, int ok)
{
    int i = (int)(intptr_t)arg;
    in_order &= i == done_n;
    done_n++;
    done_ok += ok;
    if (first_turn < 0)
        first_turn = turn;
    same_turn &= turn == first_turn;
}

static int timed_out;

static void watchdog(uv_timer_t *t)
{
    (void)t;
    timed_out = 1;
}

/* until_done runs |loop| until |want| callbacks ran, or 10 s (a broken writer) passed. */
static void until_done(uv_loop_t *loop, int want)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, watchdog, 10000, 0);
    while (done_n < want && !timed_out)
        uv_run(loop, UV_RUN_ONCE);
    CHECK(!timed_out);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* submit_line submits a copy of the line |s| from loop |loop|. */
static int submit_line(acmeva_audit *a, size_t loop, const char *s, acmeva_audit_done_cb cb,
                       void *arg)
{
    size_t len = strlen(s);
    char *line = malloc(len + 1);
    memcpy(line, s, len + 1);
    return acmeva_audit_submit(a, loop, line, len, cb, arg);
}

static int note_line(acmeva_audit *a, const char *s)
{
    size_t len = strlen(s);
    char *line = malloc(len + 1);
    memcpy(line, s, len + 1);
    return acmeva_audit_note(a, line, len);
}

static int file_lines(char lines[][32], int max)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int n = 0;
    while (n < max && fgets(lines[n], 32, f) != NULL)
        n++;
    fclose(f);
    return n;
}

static void test_batch_and_bound(void)
{
    uv_loop_t loop;
    CHECK(uv_loop_init(&loop) == 0);
    uv_check_t check;
    uv_check_init(&loop, &check);
    uv_check_start(&check, count_turn);
    uv_unref((uv_handle_t *)&check);

    acmeva_audit *a = NULL;
    char err[256];
    CHECK(acmeva_audit_new(path, 1, LINES, 1, NULL, &a, err, sizeof(err)) == 0);
    CHECK(acmeva_audit_loop_init(a, 0, &loop) == 0);

    /* One turn's worth of lines, up to the bound: the loop hands them to the writer together
     * at the end of its turn, so none is taken before the loop runs, however long the turn
     * lasts (the pause gives a writer woken per line the time to take them all), and the bound
     * counts them all and refuses one more. */
    for (int i = 0; i < LINES; i++) {
        char s[32];
        snprintf(s, sizeof(s), "line %d\n", i);
        CHECK(submit_line(a, 0, s, done, (void *)(intptr_t)i) == 0);
    }
    nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    CHECK(submit_line(a, 0, "over the bound\n", done, (void *)(intptr_t)LINES) == -1);
    CHECK(submit_line(a, 1, "no such loop\n", done, NULL) == -1);
    CHECK(done_n == 0); /* never from inside the submit */

    until_done(&loop, LINES);
    CHECK(done_n == LINES);
    CHECK(done_ok == LINES);
    CHECK(in_order);
    CHECK_MSG(same_turn, "the lines of one turn completed over several turns: not one batch");

    char lines[LINES + 8][32];
    CHECK(file_lines(lines, LINES + 8) == LINES); /* written (and synced) before the callback */
    int match = 0;
    for (int i = 0; i < LINES; i++) {
        char s[32];
        snprintf(s, sizeof(s), "line %d\n", i);
        match += strcmp(lines[i], s) == 0;
    }
    CHECK(match == LINES);

    /* The bound is free again once the writer took the lines. */
    CHECK(submit_line(a, 0, "after\n", done, (void *)(intptr_t)LINES) == 0);
    until_done(&loop, LINES + 1);
    CHECK(done_n == LINES + 1);

    /* Lines still pending when the loop closes: written all the same, no callback. */
    for (int i = 0; i < 3; i++)
        CHECK(submit_line(a, 0, "pending\n", done, NULL) == 0);
    acmeva_audit_loop_close(a, 0);
    CHECK(note_line(a, "note\n") == 0);
    uv_close((uv_handle_t *)&check, NULL);
    uv_run(&loop, UV_RUN_DEFAULT); /* the log's handles close */
    acmeva_audit_free(a);
    CHECK(done_n == LINES + 1);
    CHECK(file_lines(lines, LINES + 8) == LINES + 5);
    CHECK(strcmp(lines[LINES + 1], "pending\n") == 0);
    CHECK(strcmp(lines[LINES + 3], "pending\n") == 0);
    CHECK(strcmp(lines[LINES + 4], "note\n") == 0);
    CHECK(uv_loop_close(&loop) == 0);
}

static void test_line_escapes(void)
{
    acmeva_audit_record r = {0};
    r.event = "validation";
    r.id = "a\"b\\c\x01\x1f\x7f\xc3\xa9-plain text of some length/with:punct=ok";
    r.ident_type = "dns";
    r.ident_value = "example.com";
    r.status = "valid";
    r.attempt = 3;
    r.result_json = "{\"v\":1}";
    size_t len = 0;
    char *line = acmeva_audit_line_new(&r, &len);
    CHECK(line != NULL);
    if (line == NULL)
        return;
    CHECK(len == strlen(line));
    CHECK(line[len - 1] == '\n' && strchr(line, '\n') == line + len - 1);
    CHECK(strstr(line, "\"id\":\"a\\\"b\\\\c\\u0001\\u001f\\u007f\\ufffd\\ufffd-plain text of "
                       "some length/with:punct=ok\"")
          != NULL);
    CHECK(strstr(line, "\"identifier\":{\"type\":\"dns\",\"value\":\"example.com\"}") != NULL);
    CHECK(strstr(line, "\"method\":null") != NULL);
    CHECK(strstr(line, "\"attempt\":3") != NULL);
    CHECK(strstr(line, "\"result\":{\"v\":1}}\n") != NULL);
    r.id = "";
    free(line);
    line = acmeva_audit_line_new(&r, &len);
    CHECK(line != NULL && strstr(line, "\"id\":\"\"") != NULL);
    free(line);
}

int main(void)
{
    snprintf(path, sizeof(path), "/tmp/acmeva-test-audit-%ld.log", (long)getpid());
    unlink(path);
    test_batch_and_bound();
    test_line_escapes();
    unlink(path);
    return CHECK_DONE();
}
