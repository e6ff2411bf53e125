/* SPDX-License-Identifier: MIT */
/* test_nsscache: the NSS cache file format, writer and reader. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper/lib/oc_nsscwrite.h"
#include "nsscache.h"

#define UMIN 100000u

static const char *const roles_a[] = {"Host.Login", "Host.Sudo", "Host.Login"};
static const char *const members_dev[] = {"bob", "alice", "alice"};
static const char *const members_docker[] = {"alice"};

static const struct oc_nssc_user_in users_fix[] = {
        {.name = "bob",
         .uid = UMIN + 2,
         .gid = UMIN + 2,
         .gecos = "Bob Agent",
         .dir = "/home/bob",
         .shell = "/bin/sh",
         .enabled = false},
        {.name = "alice",
         .uid = UMIN + 1,
         .gid = UMIN + 1,
         .gecos = "Alice",
         .dir = "/home/alice",
         .shell = "/bin/bash",
         .enabled = true,
         .roles = roles_a,
         .n_roles = 3},
};

static const struct oc_nssc_group_in groups_fix[] = {
        {.name = "alice", .gid = UMIN + 1},
        {.name = "bob", .gid = UMIN + 2},
        {.name = "devs", .gid = UMIN + 50, .members = members_dev, .n_members = 3},
        {.name = "docker", .gid = 998, .local = true, .members = members_docker, .n_members = 1},
};

static void build_fix(void **img, size_t *len)
{
    assert_int_equal(oc_nssc_build(users_fix, 2, groups_fix, 4, NULL, img, len), 0);
}

static void test_roundtrip(void **state)
{
    void *img;
    size_t len;
    struct oc_nssc c;
    struct oc_nssc_pw pw;
    struct oc_nssc_gr gr;
    const char *s;
    uint32_t gid;

    (void)state;
    build_fix(&img, &len);
    assert_int_equal(oc_nssc_open(img, len, &c), 0);
    assert_int_equal(c.n_users, 2);
    assert_int_equal(c.n_groups, 4);

    assert_int_equal(oc_nssc_pw_by_name(&c, "alice", &pw), 0);
    assert_string_equal(pw.name, "alice");
    assert_string_equal(pw.gecos, "Alice");
    assert_string_equal(pw.dir, "/home/alice");
    assert_string_equal(pw.shell, "/bin/bash");
    assert_int_equal(pw.uid, UMIN + 1);
    assert_int_equal(pw.gid, UMIN + 1);
    assert_int_equal(pw.flags & OC_NSSC_USER_ENABLED, OC_NSSC_USER_ENABLED);
    assert_int_equal(pw.n_roles, 2); /* duplicates dropped */
    struct oc_nssc_pw first;
    assert_int_equal(oc_nssc_pw_at(&c, 0, &first), 0); /* sorted by name */
    assert_ptr_equal(first.name, pw.name);
    assert_int_equal(oc_nssc_pw_role(&c, &pw, 0, &s), 0);
    assert_string_equal(s, "Host.Login");
    assert_int_equal(oc_nssc_pw_role(&c, &pw, 1, &s), 0);
    assert_string_equal(s, "Host.Sudo");
    assert_int_equal(pw.n_gids, 2);
    assert_int_equal(oc_nssc_pw_gid(&c, &pw, 0, &gid), 0);
    assert_int_equal(gid, 998);
    assert_int_equal(oc_nssc_pw_gid(&c, &pw, 1, &gid), 0);
    assert_int_equal(gid, UMIN + 50);
    assert_int_equal(oc_nssc_pw_gid(&c, &pw, 2, &gid), -EBADMSG);
    /* initgroups' accessor reads the same records: gid and local flag */
    uint32_t gflags;
    assert_int_equal(oc_nssc_pw_group_id(&c, &pw, 0, &gid, &gflags), 0);
    assert_int_equal(gid, 998);
    assert_int_equal(gflags, OC_NSSC_GROUP_LOCAL);
    assert_int_equal(oc_nssc_pw_group_id(&c, &pw, 1, &gid, &gflags), 0);
    assert_int_equal(gid, UMIN + 50);
    assert_int_equal(gflags, 0);
    assert_int_equal(oc_nssc_pw_group_id(&c, &pw, 2, &gid, &gflags), -EBADMSG);
    /* a name whose length the caller measured: the same record */
    struct oc_nssc_pw byn;
    assert_int_equal(oc_nssc_pw_by_name_n(&c, "alice", 5, &byn), 0);
    assert_ptr_equal(byn.name, pw.name);
    assert_ptr_equal(byn.dir, pw.dir);
    assert_int_equal(oc_nssc_pw_by_name_n(&c, "carol", 5, &byn), -ENOENT);
    assert_int_equal(oc_nssc_gr_by_name_n(&c, "devs", 4, &gr), 0);
    assert_int_equal(gr.gid, UMIN + 50);

    assert_int_equal(oc_nssc_pw_by_uid(&c, UMIN + 2, &pw), 0);
    assert_string_equal(pw.name, "bob");
    assert_int_equal(pw.flags & OC_NSSC_USER_ENABLED, 0);
    assert_int_equal(pw.n_gids, 1);

    assert_int_equal(oc_nssc_pw_by_name(&c, "carol", &pw), -ENOENT);
    assert_int_equal(oc_nssc_pw_by_uid(&c, UMIN + 3, &pw), -ENOENT);
    assert_int_equal(oc_nssc_pw_by_name(&c, "", &pw), -ENOENT);

    assert_int_equal(oc_nssc_gr_by_name(&c, "devs", &gr), 0);
    assert_int_equal(gr.gid, UMIN + 50);
    assert_int_equal(gr.n_members, 2);
    assert_int_equal(oc_nssc_gr_member(&c, &gr, 0, &s), 0);
    assert_string_equal(s, "alice");
    assert_int_equal(oc_nssc_gr_member(&c, &gr, 1, &s), 0);
    assert_string_equal(s, "bob");
    assert_int_equal(oc_nssc_gr_by_gid(&c, 998, &gr), 0);
    assert_string_equal(gr.name, "docker");
    assert_int_equal(gr.flags & OC_NSSC_GROUP_LOCAL, OC_NSSC_GROUP_LOCAL);
    assert_int_equal(oc_nssc_gr_by_gid(&c, 997, &gr), -ENOENT);

    assert_int_equal(oc_nssc_pw_at(&c, 1, &pw), 0);
    assert_string_equal(pw.name, "bob");
    assert_int_equal(oc_nssc_pw_at(&c, 2, &pw), -ENOENT);
    assert_int_equal(oc_nssc_gr_at(&c, 3, &gr), 0);
    assert_string_equal(gr.name, "docker");
    assert_int_equal(oc_nssc_gr_at(&c, 4, &gr), -ENOENT);
    free(img);
}

static void test_deterministic(void **state)
{
    void *a, *b;
    size_t la, lb;
    struct oc_nssc_user_in u[2] = {users_fix[1], users_fix[0]};
    struct oc_nssc_group_in g[4] = {groups_fix[3], groups_fix[1], groups_fix[2], groups_fix[0]};

    (void)state;
    build_fix(&a, &la);
    assert_int_equal(oc_nssc_build(u, 2, g, 4, NULL, &b, &lb), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(b);

    /* An explicit seed changes the tables, not the answers. */
    uint8_t seed[OC_NSSC_SEED_SIZE];
    memset(seed, 0xa5, sizeof(seed));
    assert_int_equal(oc_nssc_build(u, 2, g, 4, seed, &b, &lb), 0);
    assert_int_equal(la, lb);
    assert_memory_not_equal(a, b, la);
    struct oc_nssc c;
    struct oc_nssc_pw pw;
    assert_int_equal(oc_nssc_open(b, lb, &c), 0);
    assert_int_equal(oc_nssc_pw_by_name(&c, "bob", &pw), 0);
    assert_int_equal(pw.uid, UMIN + 2);
    free(a);
    free(b);
}

static void test_empty(void **state)
{
    void *img;
    size_t len;
    struct oc_nssc c;
    struct oc_nssc_pw pw;
    struct oc_nssc_gr gr;

    (void)state;
    assert_int_equal(oc_nssc_build(NULL, 0, NULL, 0, NULL, &img, &len), 0);
    assert_int_equal(oc_nssc_open(img, len, &c), 0);
    assert_int_equal(oc_nssc_pw_by_name(&c, "x", &pw), -ENOENT);
    assert_int_equal(oc_nssc_pw_by_uid(&c, 5, &pw), -ENOENT);
    assert_int_equal(oc_nssc_gr_by_name(&c, "x", &gr), -ENOENT);
    assert_int_equal(oc_nssc_gr_by_gid(&c, 5, &gr), -ENOENT);
    assert_int_equal(oc_nssc_pw_at(&c, 0, &pw), -ENOENT);
    free(img);
}

static void test_writer_refuses(void **state)
{
    void *img = NULL;
    size_t len;
    struct oc_nssc_user_in u[2] = {users_fix[0], users_fix[1]};
    struct oc_nssc_group_in g[4] = {groups_fix[0], groups_fix[1], groups_fix[2], groups_fix[3]};
    static const char *const ghost[] = {"ghost"};

    (void)state;
    u[1].name = "bob"; /* duplicate name */
    assert_int_equal(oc_nssc_build(u, 2, NULL, 0, NULL, &img, &len), -EINVAL);
    u[1] = users_fix[1];
    u[1].uid = u[0].uid; /* duplicate uid */
    assert_int_equal(oc_nssc_build(u, 2, NULL, 0, NULL, &img, &len), -EINVAL);
    u[1] = users_fix[1];
    u[1].uid = 0;
    assert_int_equal(oc_nssc_build(u, 2, NULL, 0, NULL, &img, &len), -EINVAL);
    u[1] = users_fix[1];
    u[1].gecos = "evil:0:0";
    assert_int_equal(oc_nssc_build(u, 2, NULL, 0, NULL, &img, &len), -EINVAL);
    u[1] = users_fix[1];
    u[1].dir = "/home/a\nroot::0:0::/:/bin/sh";
    assert_int_equal(oc_nssc_build(u, 2, NULL, 0, NULL, &img, &len), -EINVAL);
    u[1] = users_fix[1];
    u[1].name = "Root/..";
    assert_int_equal(oc_nssc_build(u, 2, NULL, 0, NULL, &img, &len), -EINVAL);
    u[1] = users_fix[1];
    u[1].shell = NULL;
    assert_int_equal(oc_nssc_build(u, 2, NULL, 0, NULL, &img, &len), -EINVAL);
    u[1] = users_fix[1];

    g[2].members = ghost; /* member that is not a user */
    g[2].n_members = 1;
    assert_int_equal(oc_nssc_build(u, 2, g, 4, NULL, &img, &len), -EINVAL);
    g[2] = groups_fix[2];
    g[2].gid = g[3].gid; /* duplicate gid */
    assert_int_equal(oc_nssc_build(u, 2, g, 4, NULL, &img, &len), -EINVAL);
    g[2] = groups_fix[2];
    g[2].gid = 0;
    assert_int_equal(oc_nssc_build(u, 2, g, 4, NULL, &img, &len), -EINVAL);
    assert_null(img);
}

static void test_reader_refuses(void **state)
{
    void *img;
    size_t len;
    struct oc_nssc c;
    uint8_t *p;

    (void)state;
    build_fix(&img, &len);
    p = img;

    /* Every truncation, including an empty file. */
    for (size_t n = 0; n < len; n++) {
        assert_int_not_equal(oc_nssc_open(p, n, &c), 0);
    }
    assert_int_equal(oc_nssc_open(NULL, 0, &c), -EBADMSG);

    /* Every single-bit flip is caught (checksum or structure), except in
     * the replaced word: a later writer changes it in place. */
    for (size_t i = 0; i < len; i++) {
        bool replaced_word = i >= OC_NSSC_REPLACED_OFFSET && i < OC_NSSC_REPLACED_OFFSET + 4;
        for (int bit = 0; bit < 8; bit++) {
            p[i] ^= (uint8_t)(1u << bit);
            if (replaced_word) {
                assert_int_equal(oc_nssc_open(p, len, &c), 0);
                assert_int_not_equal(oc_nssc_replaced(&c), 0);
            } else {
                assert_int_not_equal(oc_nssc_open(p, len, &c), 0);
            }
            p[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(oc_nssc_open(p, len, &c), 0);

    /* Wrong version, even with a fixed checksum. */
    uint32_t v = OC_NSSC_VERSION + 1;
    memcpy(p + 8, &v, 4);
    uint64_t ck = oc_nssc_checksum(p, len);
    memcpy(p + OC_NSSC_CHECKSUM_OFFSET, &ck, 8);
    assert_int_equal(oc_nssc_open(p, len, &c), -EPROTONOSUPPORT);
    free(img);
}

/* Corrupt the structure but fix the checksum: lookups must not crash. */
static void test_corrupt_structure(void **state)
{
    void *img;
    size_t len;
    struct oc_nssc c;
    struct oc_nssc_pw pw;
    struct oc_nssc_gr gr;

    (void)state;
    build_fix(&img, &len);
    uint8_t *p = img;
    for (size_t i = OC_NSSC_HEADER_SIZE - 64; i < len; i += 1) {
        for (unsigned v = 0; v < 4; v++) {
            uint8_t save = p[i];
            static const uint8_t vals[] = {0x00, 0xff, 0x01, 0x7f};
            p[i] = vals[v];
            uint64_t ck = oc_nssc_checksum(p, len);
            memcpy(p + OC_NSSC_CHECKSUM_OFFSET, &ck, 8);
            if (oc_nssc_open(p, len, &c) == 0) {
                (void)oc_nssc_pw_by_name(&c, "alice", &pw);
                (void)oc_nssc_pw_by_name(&c, "bob", &pw);
                (void)oc_nssc_pw_by_uid(&c, UMIN + 1, &pw);
                (void)oc_nssc_gr_by_name(&c, "devs", &gr);
                (void)oc_nssc_gr_by_gid(&c, 998, &gr);
                for (uint32_t k = 0; k < c.n_users; k++) {
                    if (oc_nssc_pw_at(&c, k, &pw) == 0) {
                        uint32_t g;
                        for (uint32_t j = 0; j < pw.n_gids; j++) {
                            (void)oc_nssc_pw_gid(&c, &pw, j, &g);
                        }
                    }
                }
            }
            p[i] = save;
        }
    }
    free(img);
}

/* A probe never runs forever and never trusts a slot: a table with no
 * empty slot (the writer always leaves one) is reported after one round;
 * a slot whose key matches but whose record has another id, or whose ref
 * points outside the data area, is corruption; a name slot whose key
 * matches another name's record is passed over. */
static void fix_checksum(uint8_t *p, size_t len)
{
    uint64_t ck = oc_nssc_checksum(p, len);
    memcpy(p + OC_NSSC_CHECKSUM_OFFSET, &ck, 8);
}

static void test_probe_bounds(void **state)
{
    void *img;
    size_t len;
    struct oc_nssc c;
    struct oc_nssc_pw pw;
    struct oc_nssc_gr gr;

    (void)state;
    build_fix(&img, &len);
    uint8_t *p = img;
    assert_int_equal(oc_nssc_open(p, len, &c), 0);
    assert_true(c.user_slots > c.n_users && c.group_slots > c.n_groups);
    uint8_t *save = malloc(len);
    assert_non_null(save);
    memcpy(save, p, len);

    /* Every slot of both user tables filled with alice's ref and a key
     * nobody has: a miss goes round once and stops (-EBADMSG). */
    uint32_t alice;
    memcpy(&alice, p + c.users_off, 4); /* the index table is in name order */
    for (uint32_t i = 0; i < c.user_slots; i++) {
        uint32_t key = 0xdeadbeefu;
        memcpy(p + c.pw_name_off + 8 * i, &key, 4);
        memcpy(p + c.pw_name_off + 8 * i + 4, &alice, 4);
        memcpy(p + c.pw_uid_off + 8 * i, &key, 4);
        memcpy(p + c.pw_uid_off + 8 * i + 4, &alice, 4);
    }
    fix_checksum(p, len);
    assert_int_equal(oc_nssc_open(p, len, &c), 0);
    assert_int_equal(oc_nssc_pw_by_name(&c, "nobody-here", &pw), -EBADMSG);
    assert_int_equal(oc_nssc_pw_by_name(&c, "alice", &pw), -EBADMSG);
    assert_int_equal(oc_nssc_pw_by_uid(&c, 4242, &pw), -EBADMSG);

    /* The key of bob's uid in every uid slot, pointing at alice: a key
     * that does not match its record is corruption, not an answer. */
    memcpy(p, save, len);
    assert_int_equal(oc_nssc_open(p, len, &c), 0);
    assert_int_equal(oc_nssc_pw_by_name(&c, "bob", &pw), 0);
    uint32_t bob_uid = pw.uid;
    for (uint32_t i = 0; i < c.user_slots; i++) {
        memcpy(p + c.pw_uid_off + 8 * i, &bob_uid, 4);
        memcpy(p + c.pw_uid_off + 8 * i + 4, &alice, 4);
    }
    fix_checksum(p, len);
    assert_int_equal(oc_nssc_open(p, len, &c), 0);
    assert_int_equal(oc_nssc_pw_by_uid(&c, bob_uid, &pw), -EBADMSG);

    /* A name slot with the right key and a ref past the data area. */
    memcpy(p, save, len);
    assert_int_equal(oc_nssc_open(p, len, &c), 0);
    for (uint32_t i = 0; i < c.group_slots; i++) {
        uint32_t ref;
        memcpy(&ref, p + c.gr_name_off + 8 * i + 4, 4);
        if (ref != 0) {
            ref = c.strings_size; /* just past the end */
            memcpy(p + c.gr_name_off + 8 * i + 4, &ref, 4);
        }
    }
    fix_checksum(p, len);
    assert_int_equal(oc_nssc_open(p, len, &c), 0);
    assert_int_equal(oc_nssc_gr_by_name(&c, "devs", &gr), -EBADMSG);

    /* Every name slot holding bob's key and ref: looking up a name whose
     * key differs reads no record; alice's key is not there, so no alice
     * (-ENOENT is impossible without an empty slot: -EBADMSG), and bob is
     * found at the first slot. */
    memcpy(p, save, len);
    assert_int_equal(oc_nssc_open(p, len, &c), 0);
    uint32_t bob_key = 0, bob_ref = 0;
    for (uint32_t i = 0; i < c.user_slots; i++) {
        uint32_t ref;
        memcpy(&ref, p + c.pw_name_off + 8 * i + 4, 4);
        if (ref != 0 && ref != alice) {
            memcpy(&bob_key, p + c.pw_name_off + 8 * i, 4);
            bob_ref = ref;
        }
    }
    assert_int_not_equal(bob_ref, 0);
    for (uint32_t i = 0; i < c.user_slots; i++) {
        memcpy(p + c.pw_name_off + 8 * i, &bob_key, 4);
        memcpy(p + c.pw_name_off + 8 * i + 4, &bob_ref, 4);
    }
    fix_checksum(p, len);
    assert_int_equal(oc_nssc_open(p, len, &c), 0);
    assert_int_equal(oc_nssc_pw_by_name(&c, "bob", &pw), 0);
    assert_string_equal(pw.name, "bob");
    assert_int_equal(oc_nssc_pw_by_name(&c, "alice", &pw), -EBADMSG);

    /* Slot counts the reader refuses: no more slots than records. */
    memcpy(p, save, len);
    uint32_t n;
    memcpy(&n, p + 52, 4); /* users */
    memcpy(p + 60, &n, 4); /* user slots = users: no empty slot */
    fix_checksum(p, len);
    assert_int_equal(oc_nssc_open(p, len, &c), -EBADMSG);
    free(save);
    free(img);
}

static void test_write_file(void **state)
{
    char dir[] = "/tmp/test_nsscache.XXXXXX";
    char path[256];
    void *img;
    size_t len;
    struct stat st;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/nss.cache", dir);
    build_fix(&img, &len);
    mode_t old = umask(077);
    assert_int_equal(oc_nssc_write_file(path, img, len), 0);
    umask(old);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal((size_t)st.st_size, len);
    ino_t ino = st.st_ino;

    /* Replacement is a new inode (readers holding the old map keep it). */
    assert_int_equal(oc_nssc_write_file(path, img, len), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_not_equal(st.st_ino, ino);

    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *back = malloc(len);
    assert_int_equal(fread(back, 1, len, f), len);
    fclose(f);
    assert_memory_equal(back, img, len);
    free(back);

    assert_int_equal(oc_nssc_write_file("/nonexistent-dir/x/nss.cache", img, len), -ENOENT);
    assert_int_equal(oc_nssc_write_file("", img, len), -EINVAL);
    unlink(path);
    assert_int_equal(rmdir(dir), 0); /* no temporary file left behind */
    free(img);
}

static void *map_file(const char *path, size_t len, int *ret_fd)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    void *a = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(a != MAP_FAILED);
    *ret_fd = fd;
    return a;
}

/*
 * The replaced word through its states: 0 in a new file; 1 in the old file
 * once a writer renamed another over it, seen through a reader's existing
 * read-only mapping; counting on when two writers both mark it; never
 * back to 0. The checksum does not cover it. Files that are not caches of
 * this version are left alone.
 */
static void test_replaced_states(void **state)
{
    char dir[] = "/tmp/test_nsscache.XXXXXX";
    char path[256], other[256];
    void *img;
    size_t len;
    struct oc_nssc c, c2;
    int fd, fd2;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/nss.cache", dir);
    snprintf(other, sizeof(other), "%s/other", dir);
    build_fix(&img, &len);
    assert_int_equal(oc_nssc_open(img, len, &c), 0);
    assert_int_equal(oc_nssc_replaced(&c), 0); /* built: live */

    assert_int_equal(oc_nssc_write_file(path, img, len), 0);
    void *a = map_file(path, len, &fd);
    assert_int_equal(oc_nssc_open(a, len, &c), 0);
    assert_int_equal(oc_nssc_replaced(&c), 0); /* at the path: live */

    /* replaced: the old mapping says so, the new file does not */
    assert_int_equal(oc_nssc_write_file(path, img, len), 0);
    assert_int_equal(oc_nssc_replaced(&c), 1);
    assert_int_equal(oc_nssc_open(a, len, &c), 0); /* still a valid image */
    void *b = map_file(path, len, &fd2);
    assert_int_equal(oc_nssc_open(b, len, &c2), 0);
    assert_int_equal(oc_nssc_replaced(&c2), 0);
    assert_int_equal(oc_nssc_checksum(a, len), oc_nssc_checksum(b, len));

    /* marked again (two writers raced): counts on */
    char fdpath[64];
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
    int rw = open(fdpath, O_RDWR | O_CLOEXEC); /* the unlinked old file */
    assert_true(rw >= 0);
    assert_int_equal(oc_nssc_mark_replaced(rw), 0);
    assert_int_equal(oc_nssc_replaced(&c), 2);
    /* the top of the counter wraps to 1, never to 0 ("live") */
    uint32_t top = UINT32_MAX;
    assert_int_equal(pwrite(rw, &top, 4, OC_NSSC_REPLACED_OFFSET), 4);
    assert_int_equal(oc_nssc_mark_replaced(rw), 0);
    assert_int_equal(oc_nssc_replaced(&c), 1);
    close(rw);

    /* not a cache, a short file, an old version, a FIFO: untouched */
    FILE *f = fopen(other, "wb");
    assert_non_null(f);
    fputs("just text, long enough to hold a header or more of it ....................."
          "..........................................................................\n",
          f);
    fclose(f);
    rw = open(other, O_RDWR | O_CLOEXEC);
    assert_int_equal(oc_nssc_mark_replaced(rw), -EBADMSG);
    assert_int_equal(ftruncate(rw, 10), 0);
    assert_int_equal(oc_nssc_mark_replaced(rw), -EBADMSG);
    uint8_t *v1 = malloc(len);
    memcpy(v1, img, len);
    uint32_t one = 1;
    memcpy(v1 + 8, &one, 4);
    assert_int_equal(pwrite(rw, v1, len, 0), (ssize_t)len);
    assert_int_equal(oc_nssc_mark_replaced(rw), -EBADMSG);
    uint8_t back[OC_NSSC_HEADER_SIZE];
    assert_int_equal(pread(rw, back, sizeof(back), 0), (ssize_t)sizeof(back));
    assert_memory_equal(back, v1, sizeof(back));
    close(rw);
    free(v1);
    assert_int_equal(oc_nssc_mark_replaced(-1), -EBADF);
    /* a text file replaced through the same function is not marked */
    assert_int_equal(oc_nssc_write_file(other, "x\n", 2), 0);

    munmap(a, len);
    munmap(b, len);
    close(fd);
    close(fd2);
    unlink(path);
    unlink(other);
    assert_int_equal(rmdir(dir), 0);
    free(img);
}

/* What a hit reads lies together: each user's record, the refs of its
 * few groups and its own strings in one run of the data area that touches
 * no more cache lines than its size needs, then its private group's record;
 * a group read through a user's list is the group of that gid. The hash
 * tables hold the key in the slot: uid and gid themselves. */
static void test_hit_locality(void **state)
{
    enum { N = 3000, TEAM = 100 };
    struct oc_nssc_user_in *u = calloc(N, sizeof(*u));
    struct oc_nssc_group_in *g = calloc(N + N / TEAM, sizeof(*g));
    char(*names)[16] = calloc(N, 16);
    char(*homes)[32] = calloc(N, 32);
    char(*gecos)[32] = calloc(N, 32);
    char(*teams)[16] = calloc(N / TEAM, 16);
    const char **members = calloc(N, sizeof(*members));
    void *img;
    size_t len;
    struct oc_nssc c;

    (void)state;
    for (unsigned i = 0; i < N; i++) {
        snprintf(names[i], 16, "agent-%05u", i);
        snprintf(homes[i], 32, "/home/%s", names[i]);
        snprintf(gecos[i], 32, "Agent %u of the test", i);
        u[i] = (struct oc_nssc_user_in){.name = names[i],
                                        .uid = UMIN + i,
                                        .gid = UMIN + i,
                                        .gecos = gecos[i],
                                        .dir = homes[i],
                                        .shell = "/bin/sh",
                                        .enabled = true};
        g[i] = (struct oc_nssc_group_in){.name = names[i], .gid = UMIN + i};
        members[i] = names[i];
    }
    for (unsigned t = 0; t < N / TEAM; t++) {
        snprintf(teams[t], 16, "team-%u", t);
        g[N + t] = (struct oc_nssc_group_in){.name = teams[t],
                                             .gid = UMIN + N + t,
                                             .members = members + t * TEAM,
                                             .n_members = TEAM};
    }
    assert_int_equal(oc_nssc_build(u, N, g, N + N / TEAM, NULL, &img, &len), 0);
    assert_int_equal(oc_nssc_open(img, len, &c), 0);
    const uint8_t *p = img;
    for (unsigned i = 0; i < N; i++) {
        struct oc_nssc_pw pw;
        struct oc_nssc_gr gr;
        uint32_t rec;
        assert_int_equal(oc_nssc_pw_by_uid(&c, UMIN + i, &pw), 0);
        memcpy(&rec, p + c.users_off + 4 * i, 4);       /* names sort like uids here */
        size_t at = c.strings_off + rec, end = at + 44; /* the record */
        /* the group refs right after the record */
        assert_int_equal(pw.n_gids, 1);
        assert_int_equal(c.strings_off + pw.gids, end);
        end += 4;
        assert_ptr_equal(pw.name, (const char *)p + end);
        end += strlen(pw.name) + 1;
        assert_ptr_equal(pw.gecos, (const char *)p + end);
        end += strlen(pw.gecos) + 1;
        assert_ptr_equal(pw.dir, (const char *)p + end);
        end += strlen(pw.dir) + 1;
        size_t lines = (end - at + 63) / 64;
        assert_true((at % 64) + (end - at) <= lines * 64);
        /* the private group's record right after the strings (4-aligned) */
        size_t grp = (end + 3) & ~(size_t)3;
        assert_int_equal(oc_nssc_pw_group(&c, &pw, 0, &gr), 0);
        assert_int_equal(gr.gid, UMIN + N + i / TEAM);
        assert_string_equal(gr.name, teams[i / TEAM]);
        assert_int_equal(oc_nssc_gr_by_gid(&c, UMIN + i, &gr), 0);
        assert_ptr_equal(gr.name, pw.name);
        memcpy(&rec, p + c.groups_off + 4 * i, 4); /* agent-* sort before team-* */
        assert_int_equal(c.strings_off + rec, grp);
    }
    /* Every uid and gid is its own slot's key, and the slot's ref is its
     * record. */
    for (uint32_t t = 0; t < 2; t++) {
        uint32_t slots = t == 0 ? c.user_slots : c.group_slots, used = 0;
        const uint8_t *tab = p + (t == 0 ? c.pw_uid_off : c.gr_gid_off);
        for (uint32_t i = 0; i < slots; i++) {
            uint32_t key, ref, id;
            memcpy(&key, tab + 8 * i, 4);
            memcpy(&ref, tab + 8 * i + 4, 4);
            if (ref == 0) {
                continue;
            }
            used++;
            memcpy(&id, p + c.strings_off + ref + (t == 0 ? 16 : 4), 4); /* uid, gid */
            assert_int_equal(key, id);
        }
        assert_int_equal(used, t == 0 ? c.n_users : c.n_groups);
        assert_true(slots > used && slots <= used + used / 4 + 1);
    }
    free(img);
    free(u);
    free(g);
    free(names);
    free(homes);
    free(gecos);
    free(teams);
    free(members);
}

/* A user in many groups keeps its strings next to its record: more
 * than 8 group refs go after the strings, up to 8 right after the record. */
static void test_many_groups(void **state)
{
    static const char *const names[] = {"alice", "bob"};
    struct oc_nssc_user_in u[2];
    struct oc_nssc_group_in g[9];
    char gname[9][8];
    const char *both[] = {"alice", "bob"};
    void *img;
    size_t len;
    struct oc_nssc c;
    struct oc_nssc_pw pw;

    (void)state;
    for (unsigned i = 0; i < 2; i++) {
        u[i] = (struct oc_nssc_user_in){.name = names[i],
                                        .uid = UMIN + i + 1,
                                        .gid = UMIN + i + 1,
                                        .dir = "/home/x",
                                        .shell = "/bin/sh"};
    }
    for (unsigned k = 0; k < 9; k++) {
        snprintf(gname[k], sizeof(gname[k]), "g%u", k);
        /* alice is in all nine, bob in the first eight */
        g[k] = (struct oc_nssc_group_in){.name = gname[k],
                                         .gid = UMIN + 100 + k,
                                         .members = both,
                                         .n_members = k < 8 ? 2 : 1};
    }
    assert_int_equal(oc_nssc_build(u, 2, g, 9, NULL, &img, &len), 0);
    assert_int_equal(oc_nssc_open(img, len, &c), 0);
    const char *base = (const char *)img + c.strings_off;
    assert_int_equal(oc_nssc_pw_by_name(&c, "alice", &pw), 0);
    assert_int_equal(pw.n_gids, 9);
    assert_true(base + pw.gids > pw.dir);
    for (uint32_t k = 0; k < 9; k++) {
        uint32_t gid;
        assert_int_equal(oc_nssc_pw_gid(&c, &pw, k, &gid), 0);
        assert_int_equal(gid, UMIN + 100 + k);
    }
    assert_int_equal(oc_nssc_pw_by_name(&c, "bob", &pw), 0);
    assert_int_equal(pw.n_gids, 8);
    assert_ptr_equal(base + pw.gids + 4 * 8, pw.name); /* record, refs, name */
    free(img);
}

/* Many entries: all found, sizes sane (the cache must stay compact). */
static void test_many(void **state)
{
    enum { N = 20000 };
    struct oc_nssc_user_in *u = calloc(N, sizeof(*u));
    struct oc_nssc_group_in *g = calloc(N, sizeof(*g));
    char(*names)[16] = calloc(N, 16);
    char(*homes)[32] = calloc(N, 32);
    void *img;
    size_t len, raw = 0;
    struct oc_nssc c;

    (void)state;
    for (unsigned i = 0; i < N; i++) {
        snprintf(names[i], 16, "agent-%05u", i);
        snprintf(homes[i], 32, "/home/%s", names[i]);
        u[i] = (struct oc_nssc_user_in){.name = names[i],
                                        .uid = UMIN + i,
                                        .gid = UMIN + i,
                                        .gecos = names[i],
                                        .dir = homes[i],
                                        .shell = "/bin/sh",
                                        .enabled = true};
        g[i] = (struct oc_nssc_group_in){.name = names[i], .gid = UMIN + i};
        raw += (size_t)snprintf(NULL, 0, "%s:*:%u:%u:%s:%s:%s\n", names[i], UMIN + i, UMIN + i,
                                names[i], homes[i], "/bin/sh");
        raw += (size_t)snprintf(NULL, 0, "%s:*:%u:\n", names[i], UMIN + i);
    }
    assert_int_equal(oc_nssc_build(u, N, g, N, NULL, &img, &len), 0);
    assert_int_equal(oc_nssc_open(img, len, &c), 0);
    for (unsigned i = 0; i < N; i++) {
        struct oc_nssc_pw pw;
        struct oc_nssc_gr gr;
        assert_int_equal(oc_nssc_pw_by_name(&c, names[i], &pw), 0);
        assert_int_equal(pw.uid, UMIN + i);
        assert_int_equal(oc_nssc_pw_by_uid(&c, UMIN + i, &pw), 0);
        assert_string_equal(pw.name, names[i]);
        assert_int_equal(oc_nssc_gr_by_gid(&c, UMIN + i, &gr), 0);
        assert_string_equal(gr.name, names[i]);
    }
    print_message("# %d agents: cache %zu bytes, raw passwd+group %zu bytes (%.2fx)\n", N, len, raw,
                  (double)len / (double)raw);
    /* Sequential ids and similar names spread over the slots: no long run
     * of occupied slots (a probe that reads them all would be slow). At a
     * load of 0.8 random keys give runs of a few dozen. */
    const uint8_t *p = img;
    const uint32_t offs[] = {c.pw_name_off, c.pw_uid_off, c.gr_name_off, c.gr_gid_off};
    for (size_t t = 0; t < 4; t++) {
        uint32_t slots = t < 2 ? c.user_slots : c.group_slots, run = 0, longest = 0;
        for (uint32_t i = 0; i < slots; i++) {
            uint32_t ref;
            memcpy(&ref, p + offs[t] + 8 * (size_t)i + 4, 4);
            run = ref != 0 ? run + 1 : 0;
            longest = run > longest ? run : longest;
        }
        print_message("# table %zu: longest run of occupied slots %u of %u\n", t, longest, slots);
        assert_true(longest < 200);
    }
    assert_true(len <= 2 * raw);
    free(img);
    free(u);
    free(g);
    free(names);
    free(homes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_roundtrip),      cmocka_unit_test(test_deterministic),
            cmocka_unit_test(test_empty),          cmocka_unit_test(test_writer_refuses),
            cmocka_unit_test(test_reader_refuses), cmocka_unit_test(test_corrupt_structure),
            cmocka_unit_test(test_probe_bounds),   cmocka_unit_test(test_many_groups),
            cmocka_unit_test(test_write_file),     cmocka_unit_test(test_replaced_states),
            cmocka_unit_test(test_many),           cmocka_unit_test(test_hit_locality),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
