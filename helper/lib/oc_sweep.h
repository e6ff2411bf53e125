/* SPDX-License-Identifier: MIT */
/*
 * oc_sweep.h: remove the temporary files a killed openclawd left behind.
 *
 * Every file the daemon replaces (keys.json, the NSS cache, ...) is written
 * as ".NAME.XXXXXX" in the same directory and renamed over NAME. A daemon
 * killed between the two leaves the temporary file; the next start removes
 * those of its own names (regular files only, never following a symlink),
 * so kills cannot fill the directory. The files readers open are never
 * touched.
 */
#ifndef OC_SWEEP_H
#define OC_SWEEP_H

#include <stddef.h>

/* Remove dir/.NAME.XXXXXX for each NAME (XXXXXX: 6 characters of mkstemp's
 * alphabet). Returns how many files were removed; errors are ignored (a
 * missing directory is normal on the first start). */
size_t oc_sweep_temp(const char *dir, const char *const *names, size_t n_names);

#endif
