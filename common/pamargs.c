/* SPDX-License-Identifier: MIT */
/* pamargs.c: the table of pam_openclaw.so's arguments (see pamargs.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pamargs.h"
#include "util.h"

#define OC_PAM_ARGS_USAGE                                                                          \
    "config=/PATH debug use_first_pass try_first_pass nodelay prompt=TEXT require_role=ROLES "     \
    "mode=token|helper helper_max_age=SECONDS helper_timeout=SECONDS"

static const struct oc_pam_arg oc_pam_args[] = {
        {"config=", OC_PAM_ARG_CONFIG, "config=/PATH", 0, 0},
        {"debug", OC_PAM_ARG_DEBUG, "debug", 0, 0},
        {"use_first_pass", OC_PAM_ARG_USE_FIRST_PASS, "use_first_pass", 0, 0},
        {"try_first_pass", OC_PAM_ARG_TRY_FIRST_PASS, "try_first_pass", 0, 0},
        {"nodelay", OC_PAM_ARG_NODELAY, "nodelay", 0, 0},
        {"mode=helper", OC_PAM_ARG_MODE_HELPER, "mode=helper", 0, 0},
        {"mode=token", OC_PAM_ARG_MODE_TOKEN, "mode=token", 0, 0},
        {"helper_max_age=", OC_PAM_ARG_HELPER_MAX_AGE, "helper_max_age=SECONDS", 0,
         OC_PAM_HELPER_MAX_AGE_MAX},
        {"helper_timeout=", OC_PAM_ARG_HELPER_TIMEOUT, "helper_timeout=SECONDS", 1,
         OC_PAM_HELPER_TIMEOUT_MAX},
        {"prompt=", OC_PAM_ARG_PROMPT, "prompt=TEXT", 1, OC_PAM_ARG_PROMPT_MAX},
        {"require_role=", OC_PAM_ARG_REQUIRE_ROLE, "require_role=ROLES", 1, OC_PAM_ARG_ROLES_MAX},
};

const char *oc_pam_arg_usage(void)
{
    return OC_PAM_ARGS_USAGE;
}

static int count_roles(const char *text)
{
    struct oc_list_iter it = OC_LIST_ITER_INIT(text);
    const char *item;
    size_t len;
    int r, n = 0;

    while ((r = oc_list_next(&it, &item, &len)) > 0) {
        n++;
    }
    return r < 0 ? r : n;
}

int oc_pam_arg_parse(const char *arg, const struct oc_pam_arg **ret_def, const char **ret_value,
                     uint32_t *ret_number, char *why, size_t why_len)
{
    const struct oc_pam_arg *d = NULL;
    const char *v = NULL;
    char tmp[1];
    size_t n;
    int roles;

    if (why == NULL) {
        why = tmp;
        why_len = sizeof(tmp);
    }
    why[0] = '\0';
    if (arg == NULL) {
        (void)snprintf(why, why_len, "an empty argument");
        return -EINVAL;
    }
    if (strlen(arg) >= OC_PAM_ARG_LEN_MAX) {
        (void)snprintf(why, why_len, "longer than %d bytes", OC_PAM_ARG_LEN_MAX - 1);
        return -E2BIG;
    }
    for (size_t i = 0; i < sizeof(oc_pam_args) / sizeof(oc_pam_args[0]); i++) {
        n = strlen(oc_pam_args[i].name);
        if (oc_pam_args[i].name[n - 1] == '=' ? strncmp(arg, oc_pam_args[i].name, n) == 0
                                              : strcmp(arg, oc_pam_args[i].name) == 0) {
            d = &oc_pam_args[i];
            v = oc_pam_args[i].name[n - 1] == '=' ? arg + n : NULL;
            break;
        }
    }
    if (d == NULL) {
        (void)snprintf(why, why_len, "unknown argument (known: %s); see pam_openclaw(8)",
                       OC_PAM_ARGS_USAGE);
        return -ENOENT;
    }
    switch (d->id) {
    case OC_PAM_ARG_CONFIG:
        if (v[0] != '/') {
            (void)snprintf(why, why_len, "give an absolute path, e.g. config=/etc/openclaw/x.conf");
            return -EINVAL;
        }
        break;
    case OC_PAM_ARG_HELPER_MAX_AGE:
    case OC_PAM_ARG_HELPER_TIMEOUT:
        if (oc_parse_u32(v, d->min, d->max, ret_number) < 0) {
            (void)snprintf(why, why_len, "give seconds from %u to %u", (unsigned)d->min,
                           (unsigned)d->max);
            return -EINVAL;
        }
        break;
    case OC_PAM_ARG_PROMPT:
        n = strlen(v);
        if (n < d->min || n > d->max) {
            (void)snprintf(why, why_len, "give a prompt of 1 to %u bytes", (unsigned)d->max);
            return -EINVAL;
        }
        break;
    case OC_PAM_ARG_REQUIRE_ROLE:
        roles = count_roles(v);
        if (roles < (int)d->min || roles > (int)d->max) {
            (void)snprintf(why, why_len,
                           "give one or more roles separated by commas (at most %u), e.g. "
                           "require_role=Host.Sudo",
                           (unsigned)d->max);
            return -EINVAL;
        }
        break;
    default:
        break;
    }
    *ret_def = d;
    *ret_value = v;
    return 0;
}
