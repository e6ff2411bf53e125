/* SPDX-License-Identifier: MIT */
/*
 * bench/table.h: one row of the combined benchmark table.
 *
 * bench/run sets OC_BENCH_TABLE to a file; each benchmark appends its
 * figures there as markdown rows of six cells (component, figure,
 * openclaw, peer measured in the same run, ratio, goal), and bench/run
 * prints them under one header. Without OC_BENCH_TABLE nothing is
 * written: the programs still print their own tables. Nothing here
 * judges a figure; the goal cell only says whether this run met it.
 */
#ifndef OC_BENCH_TABLE_H
#define OC_BENCH_TABLE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Append "| component | cells |" (cells: five '|'-separated cells given
 * by fmt) to $OC_BENCH_TABLE. Errors only warn: a benchmark still prints
 * its own output. */
static inline void __attribute__((format(printf, 2, 3)))
bench_row(const char *component, const char *fmt, ...)
{
    const char *path = getenv("OC_BENCH_TABLE");
    if (path == NULL || path[0] == '\0') {
        return;
    }
    FILE *f = fopen(path, "a");
    if (f == NULL) {
        fprintf(stderr, "bench: cannot append to %s (OC_BENCH_TABLE)\n", path);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(f, "| %s | ", component);
    vfprintf(f, fmt, ap);
    fprintf(f, " |\n");
    va_end(ap);
    if (fclose(f) != 0) {
        fprintf(stderr, "bench: cannot write %s (OC_BENCH_TABLE)\n", path);
    }
}

/* "1 234 567" style grouping for figures in the table (thin-space free:
 * plain spaces, as in docs/performance.md). */
static inline const char *bench_num(char *buf, size_t len, double v)
{
    char digits[32];
    snprintf(digits, sizeof(digits), "%.0f", v);
    size_t n = 0, d = 0;
    for (; digits[d] != '\0'; d++) {
        size_t left = 0;
        for (size_t k = d; digits[k] != '\0'; k++) {
            left++;
        }
        if (d > 0 && digits[d - 1] != '-' && left % 3 == 0 && n + 1 < len) {
            buf[n++] = ' ';
        }
        if (n + 1 < len) {
            buf[n++] = digits[d];
        }
    }
    buf[n] = '\0';
    return buf;
}

#endif
