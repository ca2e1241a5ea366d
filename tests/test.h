/* SPDX-License-Identifier: MIT */
/*
 * A minimal test harness: CHECK* macros report the failing expression with file:line and
 * make the test exit non-zero; TEST() cases run in order from main via RUN().
 */
#ifndef UVSOCK_TEST_H
#define UVSOCK_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static const char *test_current = "";

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: [%s] CHECK failed: %s\n", __FILE__, __LINE__, test_current,    \
                    #cond);                                                                        \
            test_failures++;                                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ != vb_) {                                                                          \
            fprintf(stderr, "%s:%d: [%s] CHECK_EQ failed: %s == %s (%lld != %lld)\n", __FILE__,    \
                    __LINE__, test_current, #a, #b, va_, vb_);                                     \
            test_failures++;                                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* A uvsock status check that names the status on failure. */
#define CHECK_STATUS(expr, want)                                                                   \
    do {                                                                                           \
        int got_ = (expr);                                                                         \
        if (got_ != (want)) {                                                                      \
            fprintf(stderr, "%s:%d: [%s] %s returned %s, want %s\n", __FILE__, __LINE__,           \
                    test_current, #expr, uvsock_status_str(got_), uvsock_status_str(want));        \
            test_failures++;                                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define TEST(name) static void name(void)

#define RUN(name)                                                                                  \
    do {                                                                                           \
        int before_ = test_failures;                                                               \
        test_current = #name;                                                                      \
        name();                                                                                    \
        printf("%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #name);                      \
        fflush(stdout);                                                                            \
    } while (0)

#define TEST_EXIT()                                                                                \
    do {                                                                                           \
        printf("%d failure(s)\n", test_failures);                                                  \
        return test_failures ? 1 : 0;                                                              \
    } while (0)

#endif
