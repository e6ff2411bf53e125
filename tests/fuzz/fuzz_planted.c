/* SPDX-License-Identifier: MIT */
/*
 * fuzz_planted: the fuzz harness's negative control, never a real target.
 * It carries a planted bug that the sanitizers must report and
 * tests/fuzz/run-fuzz.sh must fail on (scripts/test.sh runs it and passes
 * only when run-fuzz.sh fails with the expected report):
 *   OC_PLANTED=oob (default)  a heap read one byte past the input's copy
 *   OC_PLANTED=ub             a signed overflow, compiled recoverable, so
 *                             only run-fuzz.sh's "runtime error" check can
 *                             see it (the process itself exits 0)
 */
#include "config.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile int sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *mode = getenv("OC_PLANTED");

    if (mode != NULL && strcmp(mode, "ub") == 0) {
        volatile int big = INT_MAX;
        sink = big + (int)(size % 2 + 1);
        return 0;
    }
    uint8_t *copy = malloc(size + 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    sink = copy[size + 1]; /* the planted out-of-bounds read */
    free(copy);
    return 0;
}
