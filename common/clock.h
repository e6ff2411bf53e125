/* SPDX-License-Identifier: MIT */
/*
 * clock.h: the one source of wall-clock time in openclaw.
 *
 * Every expiry, skew and lockout decision asks oc_now(). Tests move time
 * with oc_clock_set() in-process, or, only in builds configured with
 * --enable-test-hooks, through the environment variable
 * OPENCLAW_TEST_NOW (seconds since the epoch, read with secure_getenv so
 * a setuid/setgid caller never honours it). Production builds do not
 * contain the environment hook at all.
 */
#ifndef OC_CLOCK_H
#define OC_CLOCK_H

#include <stdint.h>

/* Environment variable read by test builds only. */
#define OC_CLOCK_TEST_ENV "OPENCLAW_TEST_NOW"

/*
 * Seconds since the epoch (CLOCK_REALTIME), or the value set by
 * oc_clock_set(), or (test builds) OPENCLAW_TEST_NOW when it holds a
 * valid integer; an invalid value there is ignored.
 */
int64_t oc_now(void);

/* Pin oc_now() to t in this process (tests). Thread-safe (atomic). */
void oc_clock_set(int64_t t);
/* Undo oc_clock_set(). */
void oc_clock_reset(void);

#endif /* OC_CLOCK_H */
