/* SPDX-License-Identifier: MIT */
/* clock.c: wall-clock time with test overrides (see clock.h). */
#include "config.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "util.h"

/* Set by oc_clock_set(); valid only while clock_pinned is true. */
static _Atomic int64_t clock_value;
static atomic_bool clock_pinned;

void oc_clock_set(int64_t t)
{
    atomic_store(&clock_value, t);
    atomic_store(&clock_pinned, true);
}

void oc_clock_reset(void)
{
    atomic_store(&clock_pinned, false);
}

#ifdef OC_TEST_HOOKS
static bool clock_from_env(int64_t *ret_now)
{
    const char *s = secure_getenv(OC_CLOCK_TEST_ENV);
    int64_t v;

    if (s == NULL || oc_parse_i64(s, 0, INT64_MAX, &v) < 0) {
        return false;
    }
    *ret_now = v;
    return true;
}
#endif

int64_t oc_now(void)
{
    struct timespec ts;

    if (atomic_load(&clock_pinned)) {
        return atomic_load(&clock_value);
    }
#ifdef OC_TEST_HOOKS
    {
        int64_t v;

        if (clock_from_env(&v)) {
            return v;
        }
    }
#endif
    if (clock_gettime(CLOCK_REALTIME, &ts) < 0) {
        /* Cannot happen for CLOCK_REALTIME; fall back to time(). */
        return (int64_t)time(NULL);
    }
    return (int64_t)ts.tv_sec;
}
