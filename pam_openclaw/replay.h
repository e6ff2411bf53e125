/* SPDX-License-Identifier: MIT */
/*
 * replay.h: one-time tokens. A token's uti (else jti) is remembered until
 * the token's exp in uti.db of the failure tally's directory (opened and
 * checked by oc_tally_dir_open(); the file through oc_tally_file_open():
 * root's, regular, one link, no symlink), flock'd, fixed-size records,
 * capped at OC_REPLAY_MAX live entries; expired entries are dropped on
 * every write. A full store refuses (fails closed).
 */
#ifndef OC_PAM_REPLAY_H
#define OC_PAM_REPLAY_H

#include <stdint.h>

#define OC_REPLAY_FILE   "uti.db"
#define OC_REPLAY_MAX    4096
#define OC_REPLAY_ID_MAX 128

/*
 * Remember id until exp in uti.db of the checked directory dirfd.
 * 0 (first use), -EEXIST (seen before and not yet expired), -ENOSPC
 * (store full of live entries), -EINVAL, or -errno.
 */
int oc_replay_use(int dirfd, const char *id, int64_t exp, int64_t now);

#endif
