/* The unit test runner: TEST(name) { ... } registers a test; every module's
 * runner binary (tc_unit_test() in CMake) runs each test in its own process
 * with a time limit and prints "N passed, N failed".
 *   unit_core            run all
 *   unit_core buf        run tests whose name contains "buf"
 *   unit_core --list     list names
 *   unit_core --no-fork  run in-process (for gdb) */
#ifndef TC_TEST_RUNNER_H
#define TC_TEST_RUNNER_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*tc_test_fn)(void);
void tc_test_register(const char *name, const char *file, tc_test_fn fn);
void tc_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
/* A fresh temp directory for this test (removed after the test). */
const char *tc_test_tmpdir(void);
/* Path of a file under the source tree (TC_SOURCE_DIR). Static buffer. */
const char *tc_test_source_path(const char *rel);

#define TEST(name)                                                             \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void register_##name(void)             \
    {                                                                          \
        tc_test_register(#name, __FILE__, test_##name);                        \
    }                                                                          \
    static void test_##name(void)

#define ASSERT(cond)                                                           \
    do {                                                                       \
        if (!(cond))                                                           \
            tc_test_fail(__FILE__, __LINE__, "assertion failed: %s", #cond);   \
    } while (0)

#define ASSERT_EQ(a, b)                                                        \
    do {                                                                       \
        int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                          \
        if (a_ != b_)                                                          \
            tc_test_fail(__FILE__, __LINE__, "%s == %s: %" PRId64 " != %" PRId64, #a, #b, a_, b_); \
    } while (0)

#define ASSERT_NE(a, b)                                                        \
    do {                                                                       \
        int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                          \
        if (a_ == b_)                                                          \
            tc_test_fail(__FILE__, __LINE__, "%s != %s: both %" PRId64, #a, #b, a_); \
    } while (0)

#define ASSERT_TRUE(c) ASSERT(c)
#define ASSERT_FALSE(c) ASSERT(!(c))
#define ASSERT_NULL(p) ASSERT((p) == NULL)
#define ASSERT_NOT_NULL(p) ASSERT((p) != NULL)

#define ASSERT_STR_EQ(a, b)                                                    \
    do {                                                                       \
        const char *a_ = (a), *b_ = (b);                                       \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                 \
            tc_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
                         a_ ? a_ : "(null)", b_ ? b_ : "(null)");              \
    } while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                       \
    do {                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                \
        if (!h_ || !strstr(h_, n_))                                            \
            tc_test_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"", \
                         h_ ? h_ : "(null)", n_);                              \
    } while (0)

/* For tc_status values: prints the status names. */
#define ASSERT_STATUS(got, want)                                               \
    do {                                                                       \
        int g_ = (int)(got), w_ = (int)(want);                                 \
        if (g_ != w_)                                                          \
            tc_test_fail(__FILE__, __LINE__, "%s: status %s, want %s", #got,   \
                         tc_status_code((tc_status)g_), tc_status_code((tc_status)w_)); \
    } while (0)
#define ASSERT_OK(got) ASSERT_STATUS(got, TC_OK)

#endif
