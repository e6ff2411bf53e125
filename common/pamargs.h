/* SPDX-License-Identifier: MIT */
/*
 * pamargs.h: the arguments pam_openclaw.so accepts, in one table that the
 * module and `openclawctl check-config` both use, so the checker accepts
 * exactly what the module accepts and says the same about the rest.
 */
#ifndef OC_PAMARGS_H
#define OC_PAMARGS_H

#include <stddef.h>
#include <stdint.h>

#define OC_PAM_ARG_LEN_MAX        1024 /* bytes in one argument, with its NUL */
#define OC_PAM_ARG_ROLES_MAX      16   /* roles in one require_role= */
#define OC_PAM_ARG_PROMPT_MAX     128  /* bytes of prompt= text */
#define OC_PAM_HELPER_MAX_AGE_MAX 86400
#define OC_PAM_HELPER_TIMEOUT_MAX 30

enum oc_pam_arg_id {
    OC_PAM_ARG_CONFIG,
    OC_PAM_ARG_DEBUG,
    OC_PAM_ARG_USE_FIRST_PASS,
    OC_PAM_ARG_TRY_FIRST_PASS,
    OC_PAM_ARG_NODELAY,
    OC_PAM_ARG_MODE_HELPER,
    OC_PAM_ARG_MODE_TOKEN,
    OC_PAM_ARG_HELPER_MAX_AGE,
    OC_PAM_ARG_HELPER_TIMEOUT,
    OC_PAM_ARG_PROMPT,
    OC_PAM_ARG_REQUIRE_ROLE,
};

struct oc_pam_arg {
    const char *name; /* "debug"; with a value: "config=" */
    enum oc_pam_arg_id id;
    const char *usage; /* "config=/PATH" */
    uint32_t min, max; /* a number: its bounds */
};

/*
 * Look up one module argument. Returns 0 with *ret_def, *ret_value (the
 * text after '=', or NULL for a flag) and, for a number, *ret_number;
 * -E2BIG when it is too long, -ENOENT when it is not an argument of the
 * module, -EINVAL when its value is malformed. On failure why (if not
 * NULL) says what to write instead, naming the known arguments.
 */
int oc_pam_arg_parse(const char *arg, const struct oc_pam_arg **ret_def, const char **ret_value,
                     uint32_t *ret_number, char *why, size_t why_len);

/* "config=/PATH debug ... helper_timeout=SECONDS": every argument. */
const char *oc_pam_arg_usage(void);

#endif /* OC_PAMARGS_H */
