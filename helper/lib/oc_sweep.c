/* SPDX-License-Identifier: MIT */
/* oc_sweep.c: see oc_sweep.h. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helper/lib/oc_sweep.h"

#define SWEEP_SUFFIX 6 /* mkstemp's XXXXXX */

static bool temp_of(const char *entry, const char *name)
{
    size_t ln = strlen(name), le = strlen(entry);

    if (le != 1 + ln + 1 + SWEEP_SUFFIX || entry[0] != '.' || memcmp(entry + 1, name, ln) != 0 ||
        entry[1 + ln] != '.') {
        return false;
    }
    for (const char *p = entry + 2 + ln; *p != '\0'; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        if (!ok) {
            return false;
        }
    }
    return true;
}

size_t oc_sweep_temp(const char *dir, const char *const *names, size_t n_names)
{
    size_t removed = 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (dfd < 0) {
        return 0;
    }
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        for (size_t i = 0; i < n_names; i++) {
            struct stat st;
            if (temp_of(e->d_name, names[i]) &&
                fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
                unlinkat(dfd, e->d_name, 0) == 0) {
                removed++;
            }
        }
    }
    closedir(d);
    return removed;
}
