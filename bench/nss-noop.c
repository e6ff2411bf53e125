/* SPDX-License-Identifier: MIT */
/*
 * libnss_ocnoop.so.2: the glibc floor for bench/nss. Every lookup answers
 * NOTFOUND at once, with no system call and no memory access beyond its
 * arguments, so a lookup through glibc's dispatch with "passwd: ocnoop"
 * costs exactly what glibc itself costs. Built for the benchmark only,
 * never installed.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stddef.h>

#define NOOP_EXPORT __attribute__((visibility("default")))

NOOP_EXPORT enum nss_status _nss_ocnoop_getpwnam_r(const char *name, struct passwd *pw, char *buf,
                                                   size_t len, int *errnop);
NOOP_EXPORT enum nss_status _nss_ocnoop_getpwuid_r(uid_t uid, struct passwd *pw, char *buf,
                                                   size_t len, int *errnop);
NOOP_EXPORT enum nss_status _nss_ocnoop_getgrnam_r(const char *name, struct group *gr, char *buf,
                                                   size_t len, int *errnop);
NOOP_EXPORT enum nss_status _nss_ocnoop_getgrgid_r(gid_t gid, struct group *gr, char *buf,
                                                   size_t len, int *errnop);
NOOP_EXPORT enum nss_status _nss_ocnoop_initgroups_dyn(const char *user, gid_t group,
                                                       long int *start, long int *size,
                                                       gid_t **groupsp, long int limit,
                                                       int *errnop);

enum nss_status _nss_ocnoop_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len,
                                       int *errnop)
{
    (void)name, (void)pw, (void)buf, (void)len;
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}

enum nss_status _nss_ocnoop_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len,
                                       int *errnop)
{
    (void)uid, (void)pw, (void)buf, (void)len;
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}

enum nss_status _nss_ocnoop_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len,
                                       int *errnop)
{
    (void)name, (void)gr, (void)buf, (void)len;
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}

enum nss_status _nss_ocnoop_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len,
                                       int *errnop)
{
    (void)gid, (void)gr, (void)buf, (void)len;
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}

enum nss_status _nss_ocnoop_initgroups_dyn(const char *user, gid_t group, long int *start,
                                           long int *size, gid_t **groupsp, long int limit,
                                           int *errnop)
{
    (void)user, (void)group, (void)start, (void)size, (void)groupsp, (void)limit;
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}
