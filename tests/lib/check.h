/*  check.h: the project's tiny test harness.

    A test program is a list of functions named for what they prove, run by
    CHECK_MAIN. A failed CHECK prints file:line and the expression and marks the
    current test failed; the program exits non-zero if any test failed, 77 if all
    were skipped (ctest's SKIP_RETURN_CODE).

        static void test_merge_equals_union_of_samples(void) { CHECK(a == b); }
        CHECK_MAIN(test_merge_equals_union_of_samples)
*/
#ifndef SURGE_CHECK_H
#define SURGE_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef void(check_fn)(void);

void check_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void check_skip(const char *why);
int check_run(const char *prog, const char *names, check_fn **fns, int count);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            check_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                                    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            check_fail(__FILE__, __LINE__, __VA_ARGS__);                                           \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                         \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ != check_b_)                                                                  \
            check_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, check_a_, check_b_);  \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0)                             \
            check_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,                   \
                       check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");            \
    } while (0)

/* Returns from the current test function when `cond` is false (after recording it). */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            check_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);                                  \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_MAIN(...)                                                                            \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        (void)argc;                                                                                \
        check_fn *fns[] = {__VA_ARGS__};                                                           \
        return check_run(argv[0], #__VA_ARGS__, fns, (int)(sizeof fns / sizeof fns[0]));           \
    }

#endif
