/* SPDX-License-Identifier: MIT */
/*
 * oc_store.h: openclawd's tokens at rest, bound to this host's TPM.
 *
 * A 32-byte random data key is sealed to the TPM in <state_dir>/tokens.key
 * (made on first use, mode 0600); it is unsealed once at start and kept in
 * memory. <state_dir>/tokens.db (mode 0600, format in oc_tokenstore.h and
 * docs/tokenstore.md) holds every still-valid token, AES-256-GCM under that
 * key, written atomically after tokens were obtained and at exit, read once
 * at start. A copied state directory is useless on another machine: its
 * tokens.key does not unseal there. Every failure is one log line and the
 * tokens are acquired fresh; nothing here can stop the daemon.
 */
#ifndef OC_STORE_H
#define OC_STORE_H

#include "conf.h"
#include "helper/daemon/oc_tokens.h"

#define OC_STORE_KEY_FILE "tokens.key"
#define OC_STORE_DB_FILE  "tokens.db"

struct oc_store;

/*
 * Unseal (or create) the data key in state_dir. *ret_store is NULL when
 * tokens are not persisted in this run (no TPM reachable, the key cannot be
 * unsealed for a reason that may pass): that is logged once, here.
 */
void oc_store_open(const struct oc_config *config, const char *state_dir,
                   struct oc_store **ret_store);

/* Read tokens.db into t: only entries of configured, usable agents with the
 * same app id and tenant that stay valid for more than OC_TOKEN_MIN_VALIDITY.
 * An unreadable file is logged, removed, and the tokens acquired fresh. */
void oc_store_load(struct oc_store *s, struct oc_tokens *t);

/* Write tokens.db when t->dirty (a token was obtained since the last write). */
void oc_store_flush(struct oc_store *s, struct oc_tokens *t);

/* Wipe the data key and free; NULL is fine. */
void oc_store_close(struct oc_store *s);

#endif
