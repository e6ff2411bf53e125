/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the directory cache file parser (common/directory.c).
 * Every accepted input is formatted again, re-parsed (it must be accepted
 * and give the same agents) and run through the lookups.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define UID_MIN 1879048192u
#define UID_MAX 2147352575u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_dir *d = NULL, *again = NULL;
    const char *why = NULL;
    char *text = NULL;
    size_t len = 0;

    if (oc_dir_parse((const char *)data, size, UID_MIN, UID_MAX, &d, &why) < 0) {
        return 0;
    }
    for (size_t i = 0; i < d->n_agents; i++) {
        const struct oc_dir_agent *a = &d->agents[i];

        if (a->uid < UID_MIN || a->uid > UID_MAX || oc_dir_by_name(d, a->name) != a ||
            oc_dir_by_app_id(d, a->app_id) != a) {
            abort();
        }
        (void)oc_dir_agent_has_role(a, "Host.Login");
    }
    if (oc_dir_format(d, &text, &len) == 0) {
        if (oc_dir_parse(text, len, UID_MIN, UID_MAX, &again, &why) < 0 ||
            again->n_agents != d->n_agents) {
            abort();
        }
        oc_dir_free(again);
        free(text);
    }
    oc_dir_free(d);
    return 0;
}
