/*
 * A minimal unit-test harness: each CHECK records a pass or a failure (with file and line),
 * and CHECK_DONE() prints the closing line "N passed, N failed" and returns the exit status.
 */
#ifndef ACMEVA_TEST_CHECK_H
#define ACMEVA_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int check_passed_;
static int check_failed_;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_passed_++;                                                                       \
        } else {                                                                                   \
            check_failed_++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_passed_++;                                                                       \
        } else {                                                                                   \
            check_failed_++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_INT(got, want)                                                                       \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        CHECK_MSG(g_ == w_, "%s = %lld, want %lld", #got, g_, w_);                                 \
    } while (0)

#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        CHECK_MSG((g_ == NULL && w_ == NULL) || (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0), \
                  "%s = \"%s\", want \"%s\"", #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)");       \
    } while (0)

/* check_day_ms returns UTC midnight of |date| ("2026-03-15") in unix ms, for the dated rules. */
static inline int64_t check_day_ms(const char *date)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = atoi(date) - 1900;
    tm.tm_mon = atoi(date + 5) - 1;
    tm.tm_mday = atoi(date + 8);
    return (int64_t)timegm(&tm) * 1000;
}

#define CHECK_DONE()                                                                               \
    (printf("%d passed, %d failed\n", check_passed_, check_failed_),                               \
     check_failed_ == 0 && check_passed_ > 0 ? 0 : 1)

#endif
