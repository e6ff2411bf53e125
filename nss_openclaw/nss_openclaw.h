/* SPDX-License-Identifier: MIT */
/*
 * nss_openclaw.h: the entry points of libnss_openclaw.so.2 (glibc's NSS
 * module interface) and the module's constants. Only these functions are
 * exported (nss_openclaw.map).
 */
#ifndef OC_NSS_OPENCLAW_H
#define OC_NSS_OPENCLAW_H

#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <sys/types.h>

#include "conf.h"

/* Tests point the module at another config; read with secure_getenv, so
 * a setuid or setgid program never honours it. Must be an absolute path. */
#define OC_NSS_CONFIG_ENV "OPENCLAW_CONFIG"
/* The cache when the config has no nss_cache key. */
#define OC_NSS_DEFAULT_CACHE OC_DEFAULT_STATE_DIR "/nss.cache"

enum nss_status _nss_openclaw_getpwnam_r(const char *name, struct passwd *pw, char *buf,
                                         size_t buflen, int *errnop);
enum nss_status _nss_openclaw_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen,
                                         int *errnop);
enum nss_status _nss_openclaw_setpwent(int stayopen);
enum nss_status _nss_openclaw_getpwent_r(struct passwd *pw, char *buf, size_t buflen, int *errnop);
enum nss_status _nss_openclaw_endpwent(void);

enum nss_status _nss_openclaw_getgrnam_r(const char *name, struct group *gr, char *buf,
                                         size_t buflen, int *errnop);
enum nss_status _nss_openclaw_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t buflen,
                                         int *errnop);
enum nss_status _nss_openclaw_setgrent(int stayopen);
enum nss_status _nss_openclaw_getgrent_r(struct group *gr, char *buf, size_t buflen, int *errnop);
enum nss_status _nss_openclaw_endgrent(void);

enum nss_status _nss_openclaw_initgroups_dyn(const char *user, gid_t group, long int *start,
                                             long int *size, gid_t **groupsp, long int limit,
                                             int *errnop);

#endif /* OC_NSS_OPENCLAW_H */
