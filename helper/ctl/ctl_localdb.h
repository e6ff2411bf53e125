/* SPDX-License-Identifier: MIT */
/*
 * ctl_localdb.h: the host's own account files as openclawctl reads them
 * (check-config, test-login): /etc/passwd and /etc/group entries with their
 * line numbers, and login.defs' uid ranges. Read from files, not through
 * NSS, so that an agent served by libnss_openclaw is never mistaken for a
 * local user, and so that tests can give fixture files.
 */
#ifndef OC_CTL_LOCALDB_H
#define OC_CTL_LOCALDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_PASSWD_PATH     "/etc/passwd"
#define CTL_GROUP_PATH      "/etc/group"
#define CTL_LOGIN_DEFS_PATH "/etc/login.defs"
#define CTL_LOCALDB_MAX     100000 /* entries read from one file */

struct ctl_local_entry {
    char *name;
    uint32_t id; /* uid or gid */
    unsigned line;
};

struct ctl_localdb {
    const char *passwd_path;
    const char *group_path;
    const char *login_defs_path;
    struct ctl_local_entry *users;
    size_t n_users;
    struct ctl_local_entry *groups;
    size_t n_groups;
    bool passwd_read, group_read, login_defs_read;
    /* login.defs, with shadow's defaults for what it does not set; the
     * lines are 0 for a default. */
    uint32_t uid_min, uid_max, sys_uid_min, sys_uid_max;
    unsigned uid_min_line, uid_max_line, sys_uid_min_line, sys_uid_max_line;
};

/* Read the three files (paths NULL: the defaults). A missing or unreadable
 * file leaves its *_read false. 0, or -ENOMEM. */
int ctl_localdb_load(struct ctl_localdb *db);
void ctl_localdb_free(struct ctl_localdb *db);

const struct ctl_local_entry *ctl_localdb_user(const struct ctl_localdb *db, const char *name);
const struct ctl_local_entry *ctl_localdb_uid(const struct ctl_localdb *db, uint32_t uid);
const struct ctl_local_entry *ctl_localdb_group(const struct ctl_localdb *db, const char *name);
const struct ctl_local_entry *ctl_localdb_gid(const struct ctl_localdb *db, uint32_t gid);

#endif /* OC_CTL_LOCALDB_H */
