/* SPDX-License-Identifier: MIT */
/* ctl_localdb.c: /etc/passwd, /etc/group and login.defs for openclawctl. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper/ctl/ctl_localdb.h"
#include "util.h"

static FILE *open_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    FILE *f;

    if (fd < 0) {
        return NULL;
    }
    f = fdopen(fd, "r");
    if (f == NULL) {
        close(fd);
    }
    return f;
}

/* name:x:ID:... lines; comments and malformed lines skipped. */
static int read_db(const char *path, struct ctl_local_entry **ret, size_t *ret_n, bool *ret_read)
{
    FILE *f = open_read(path);
    char line[4096];
    unsigned ln = 0;
    size_t cap = 0;

    if (f == NULL) {
        return 0;
    }
    *ret_read = true;
    while (fgets(line, sizeof(line), f) != NULL && *ret_n < CTL_LOCALDB_MAX) {
        char *c1, *c2, *c3;
        uint32_t id;
        ln++;
        c1 = strchr(line, ':');
        if (line[0] == '#' || line[0] == '+' || line[0] == '-' || c1 == NULL || c1 == line) {
            continue;
        }
        c2 = strchr(c1 + 1, ':');
        if (c2 == NULL) {
            continue;
        }
        c3 = strpbrk(c2 + 1, ":\n");
        if (c3 != NULL) {
            *c3 = '\0';
        }
        *c1 = '\0';
        if (oc_parse_u32(c2 + 1, 0, UINT32_MAX, &id) < 0) {
            continue;
        }
        if (*ret_n == cap) {
            size_t ncap = cap == 0 ? 64 : cap * 2;
            struct ctl_local_entry *n = realloc(*ret, ncap * sizeof(*n));
            if (n == NULL) {
                fclose(f);
                return -ENOMEM;
            }
            *ret = n;
            cap = ncap;
        }
        (*ret)[*ret_n].name = strdup(line);
        if ((*ret)[*ret_n].name == NULL) {
            fclose(f);
            return -ENOMEM;
        }
        (*ret)[*ret_n].id = id;
        (*ret)[*ret_n].line = ln;
        (*ret_n)++;
    }
    fclose(f);
    return 0;
}

static void read_login_defs(struct ctl_localdb *db)
{
    FILE *f = open_read(db->login_defs_path);
    char line[1024];
    unsigned ln = 0;
    bool sys_max_set = false;
    static const char *const keys[] = {"UID_MIN", "UID_MAX", "SYS_UID_MIN", "SYS_UID_MAX"};
    uint32_t *vals[] = {&db->uid_min, &db->uid_max, &db->sys_uid_min, &db->sys_uid_max};
    unsigned *lines[] = {&db->uid_min_line, &db->uid_max_line, &db->sys_uid_min_line,
                         &db->sys_uid_max_line};

    db->uid_min = 1000;
    db->uid_max = 60000;
    db->sys_uid_min = 101;
    if (f != NULL) {
        db->login_defs_read = true;
        while (fgets(line, sizeof(line), f) != NULL && ln < 100000) {
            char *save = NULL, *k, *v;
            uint32_t n;
            ln++;
            k = strtok_r(line, " \t\r\n", &save);
            v = k != NULL ? strtok_r(NULL, " \t\r\n", &save) : NULL;
            if (k == NULL || k[0] == '#' || v == NULL || oc_parse_u32(v, 0, UINT32_MAX, &n) < 0) {
                continue;
            }
            for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                if (strcmp(k, keys[i]) == 0) {
                    *vals[i] = n;
                    *lines[i] = ln;
                    sys_max_set |= i == 3;
                }
            }
        }
        fclose(f);
    }
    if (!sys_max_set) {
        db->sys_uid_max = db->uid_min > 0 ? db->uid_min - 1 : 0; /* shadow's default */
    }
}

int ctl_localdb_load(struct ctl_localdb *db)
{
    int r;

    if (db->passwd_path == NULL) {
        db->passwd_path = CTL_PASSWD_PATH;
    }
    if (db->group_path == NULL) {
        db->group_path = CTL_GROUP_PATH;
    }
    if (db->login_defs_path == NULL) {
        db->login_defs_path = CTL_LOGIN_DEFS_PATH;
    }
    read_login_defs(db);
    r = read_db(db->passwd_path, &db->users, &db->n_users, &db->passwd_read);
    if (r == 0) {
        r = read_db(db->group_path, &db->groups, &db->n_groups, &db->group_read);
    }
    return r;
}

static void free_entries(struct ctl_local_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].name);
    }
    free(e);
}

void ctl_localdb_free(struct ctl_localdb *db)
{
    free_entries(db->users, db->n_users);
    free_entries(db->groups, db->n_groups);
    db->users = db->groups = NULL;
    db->n_users = db->n_groups = 0;
}

static const struct ctl_local_entry *find(const struct ctl_local_entry *e, size_t n,
                                          const char *name, uint32_t id)
{
    for (size_t i = 0; i < n; i++) {
        if (name != NULL ? strcmp(e[i].name, name) == 0 : e[i].id == id) {
            return &e[i];
        }
    }
    return NULL;
}

const struct ctl_local_entry *ctl_localdb_user(const struct ctl_localdb *db, const char *name)
{
    return find(db->users, db->n_users, name, 0);
}

const struct ctl_local_entry *ctl_localdb_uid(const struct ctl_localdb *db, uint32_t uid)
{
    return find(db->users, db->n_users, NULL, uid);
}

const struct ctl_local_entry *ctl_localdb_group(const struct ctl_localdb *db, const char *name)
{
    return find(db->groups, db->n_groups, name, 0);
}

const struct ctl_local_entry *ctl_localdb_gid(const struct ctl_localdb *db, uint32_t gid)
{
    return find(db->groups, db->n_groups, NULL, gid);
}
