/* SPDX-License-Identifier: MIT */
/* ctl.h: subcommands of openclawctl. */
#ifndef OC_CTL_H
#define OC_CTL_H

#include <stdbool.h>

struct oc_config;
struct cJSON;

enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_REFUSED = 1,
    CTL_EXIT_USAGE = 2,
};

int ctl_status(int argc, char **argv);
int ctl_verify_token(int argc, char **argv);
int ctl_agent(int argc, char **argv);
int ctl_tpm(int argc, char **argv);
int ctl_cache(int argc, char **argv);
int ctl_enroll(int argc, char **argv);
int ctl_check_config(int argc, char **argv);
int ctl_test_login(int argc, char **argv);
int ctl_audit(int argc, char **argv);
int ctl_seal(int argc, char **argv);
int ctl_token(int argc, char **argv);
int ctl_imds_address(int argc, char **argv);
/* agent list | agent show NAME (argv[0] is the verb), called by ctl_agent(). */
int ctl_agent_info(int argc, char **argv, const char *config, unsigned cflags, bool json);

/* Load the configuration at path (oc_config_load flags cflags). On failure
 * print "who: what is wrong" on stderr and return the -errno, *ret_cfg
 * untouched. */
int ctl_config_load(const char *who, const char *path, unsigned cflags, struct oc_config **ret_cfg);

/* Print o as indented JSON on stdout and free it. 0, or -ENOMEM (o NULL
 * or not printable). */
int ctl_json_print(struct cJSON *o);

#endif /* OC_CTL_H */
