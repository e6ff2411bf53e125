/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the openclaw.conf parser. Every accepted input is
 * also run through the lookups, identity mapping and policy matchers, so
 * whatever the parser lets through is exercised by its consumers.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "idmap.h"
#include "policy.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct oc_config *cfg)
{
    struct oc_idmap_entry *entries = NULL;
    char buf[OC_CONFIG_PATH_MAX * 2];
    size_t i, n = 0;

    for (i = 0; i < cfg->n_services; i++) {
        const struct oc_service *s = &cfg->services[i];
        struct tm tm = {.tm_wday = (int)(i % 7), .tm_hour = (int)(i % 24), .tm_min = 30};

        (void)oc_config_service(cfg, s->name);
        (void)oc_netlist_match(&s->allow_networks, "10.1.2.3");
        (void)oc_netlist_match(&s->allow_networks, "::ffff:192.0.2.1");
        (void)oc_netlist_match(&s->allow_networks, "2001:db8::1");
        (void)oc_timewin_match(&s->allow_time, &tm);
    }
    for (i = 0; i < cfg->n_agents; i++) {
        const struct oc_agent *a = &cfg->agents[i];

        if (oc_config_agent_by_app_id(cfg, a->app_id) == NULL ||
            oc_config_agent_by_name(cfg, a->name) == NULL) {
            abort(); /* every parsed agent must be found again */
        }
        if (oc_config_home(cfg, a->name, buf, sizeof(buf)) == 0 && buf[0] != '/') {
            abort();
        }
        if (a->display_name != NULL) {
            char slug[OC_USER_NAME_MAX + 1];

            if (oc_idmap_slug(a->display_name, NULL, slug, sizeof(slug)) != 0 ||
                !oc_valid_user_name(slug)) {
                abort();
            }
        }
    }
    for (i = 0; i < cfg->n_roles; i++) {
        (void)oc_config_role_group(cfg, cfg->roles[i].role);
    }
    if (oc_idmap_assign(cfg, &entries, &n, buf, sizeof(buf)) == 0) {
        for (i = 0; i < n; i++) {
            if (entries[i].uid < cfg->global.uid_min || entries[i].uid > cfg->global.uid_max) {
                abort();
            }
        }
        free(entries);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_config *cfg = NULL;
    struct oc_config_error err;
    char line[1024];

    if (oc_config_parse((const char *)data, size, "fuzz.conf", 0, &cfg, &err) == 0) {
        exercise(cfg);
        oc_config_free(cfg);
    } else {
        /* Messages must stay printable text whatever the input. */
        (void)oc_config_error_format(&err, line, sizeof(line));
        if (!oc_utf8_valid(err.msg, strnlen(err.msg, sizeof(err.msg)), NULL)) {
            abort();
        }
    }
    return 0;
}
