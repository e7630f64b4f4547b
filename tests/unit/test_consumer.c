/* Unit tests of the consumer's held entries (worker/queue/consumer.c): every entry a read
 * delivers is looked up by id before it runs, so that one already running here (resumed,
 * reclaimed, or delivered again after its group was re-created) is not run twice. The index
 * behind the look-up must find every held entry, through its growth, and forget each one
 * released, wherever it sits in its bucket. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "consumer.h"

#define N 5000

static int released;

static void release(acmeva_held *h, int posted)
{
    (void)h;
    (void)posted;
    released++;
}

static const acmeva_consumer_ops ops = {.release = release};

static void entry_id(char *out, size_t len, int i)
{
    /* Stream ids as Redis makes them: the same millisecond for many, then sequence numbers. */
    snprintf(out, len, "1765000000%03d-%d", i / 1000, i % 1000);
}

static void test_index(void)
{
    acmeva_dthread d;
    acmeva_consumer c;
    memset(&d, 0, sizeof(d));
    memset(&c, 0, sizeof(c));
    CHECK(uv_loop_init(&d.loop) == 0);
    c.d = &d;
    c.ops = &ops;
    acmeva_held *hs = calloc(N, sizeof(*hs));
    CHECK(hs != NULL);
    char id[ACMEVA_ENTRY_ID_MAX];
    CHECK(acmeva_consumer_find(&c, "1-0") == NULL); /* nothing held, no index yet */
    for (int i = 0; i < N; i++) {
        entry_id(id, sizeof(id), i);
        acmeva_sentry e = {id, "{}", 2, 0, 1};
        CHECK(acmeva_consumer_hold(&c, &hs[i], &e) == 0);
    }
    CHECK(c.held == N);
    CHECK(c.index_size >= N); /* grown with what it holds: short chains */
    int found = 0;
    for (int i = 0; i < N; i++) {
        entry_id(id, sizeof(id), i);
        found += acmeva_consumer_find(&c, id) == &hs[i];
    }
    CHECK(found == N);
    CHECK(acmeva_consumer_find(&c, "1765000000999-0") == NULL);
    CHECK(acmeva_consumer_find(&c, "") == NULL);
    /* Release every third (heads, middles and tails of chains alike). */
    for (int i = 0; i < N; i += 3)
        acmeva_consumer_drop(&hs[i]);
    int wrong = 0;
    for (int i = 0; i < N; i++) {
        entry_id(id, sizeof(id), i);
        acmeva_held *h = acmeva_consumer_find(&c, id);
        wrong += i % 3 == 0 ? h != NULL : h != &hs[i];
    }
    CHECK(wrong == 0);
    CHECK(released == (N + 2) / 3);
    /* Held again after its release: found again, once. */
    entry_id(id, sizeof(id), 0);
    acmeva_sentry e = {id, NULL, 0, 0, 1};
    memset(&hs[0], 0, sizeof(hs[0]));
    CHECK(acmeva_consumer_hold(&c, &hs[0], &e) == 0);
    CHECK(acmeva_consumer_find(&c, id) == &hs[0]);
    for (int i = 0; i < N; i++)
        if (i == 0 || i % 3 != 0)
            acmeva_consumer_drop(&hs[i]);
    CHECK(c.held == 0 && c.head == NULL);
    for (size_t b = 0; b < c.index_size; b++)
        CHECK(c.index[b] == NULL);
    free(c.index);
    free(hs);
    CHECK(uv_loop_close(&d.loop) == 0);
}

int main(void)
{
    test_index();
    return CHECK_DONE();
}
