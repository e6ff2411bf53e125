/* SPDX-License-Identifier: MIT */
/*
 * oc_tokenstore.h: the file format of openclawd's tokens at rest
 * (<state_dir>/tokens.db). Pure code: no TPM, no file I/O, no logging;
 * the daemon side (the data key sealed to the TPM, reading and writing
 * the file) is oc_store.c. docs/tokenstore.md documents the layout.
 *
 * File = header (OC_TOKENSTORE_HEADER_SIZE bytes, integers big-endian):
 *    0  4  magic "OCTS"
 *    4  2  format version (OC_TOKENSTORE_VERSION)
 *    6  2  header size (OC_TOKENSTORE_HEADER_SIZE)
 *    8  4  flags (0)
 *   12  4  ciphertext length C
 *   16  8  key id: SHA-256("openclaw tokens.db key id" || data key), first 8 bytes
 *   24 12  nonce (fresh random for every write)
 *   36  4  reserved, zero
 * then C bytes of AES-256-GCM ciphertext and the 16-byte tag; the whole
 * header is the additional authenticated data. Nothing follows the tag.
 *
 * Payload (the plaintext, integers big-endian):
 *    4  entry count N (at most OC_TOKENSTORE_ENTRIES_MAX)
 *   36  tenant id (lowercase GUID)
 *    8  written (seconds since the epoch)
 *   N times: 1 name length + name, 36 app id, 2 scope length + scope,
 *            2 token length + token, 8 expires_on, 8 obtained
 * Nothing follows the last entry.
 */
#ifndef OC_TOKENSTORE_H
#define OC_TOKENSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h" /* OC_USER_NAME_MAX, OC_GUID_SIZE */

#define OC_TOKENSTORE_MAGIC       "OCTS"
#define OC_TOKENSTORE_VERSION     1
#define OC_TOKENSTORE_HEADER_SIZE 40
#define OC_TOKENSTORE_KEY_SIZE    32
#define OC_TOKENSTORE_KEYID_SIZE  8
#define OC_TOKENSTORE_NONCE_SIZE  12
#define OC_TOKENSTORE_TAG_SIZE    16
#define OC_TOKENSTORE_GUID_LEN    36

/* Caps on everything the file controls. */
#define OC_TOKENSTORE_ENTRIES_MAX  1024          /* = OC_TOKENS_MAX */
#define OC_TOKENSTORE_SCOPE_MAX    1024          /* = OC_PROTO_SCOPE_MAX */
#define OC_TOKENSTORE_TOKEN_MAX    (16 * 1024)   /* = OC_TOKEN_MAX */
#define OC_TOKENSTORE_LIFETIME_MAX (7 * 86400)   /* longest expires_in accepted */
#define OC_TOKENSTORE_PAYLOAD_MAX  (4096 * 1024) /* whole plaintext */
#define OC_TOKENSTORE_FILE_MAX                                                                     \
    (OC_TOKENSTORE_HEADER_SIZE + OC_TOKENSTORE_PAYLOAD_MAX + OC_TOKENSTORE_TAG_SIZE)

struct oc_tokenstore_header {
    uint16_t version;
    uint32_t flags;
    uint32_t ciphertext_len;
    uint8_t key_id[OC_TOKENSTORE_KEYID_SIZE];
    uint8_t nonce[OC_TOKENSTORE_NONCE_SIZE];
};

struct oc_stored_token {
    char agent[OC_USER_NAME_MAX + 1];
    char app_id[OC_GUID_SIZE];
    char *scope;        /* malloc'd */
    char *access_token; /* malloc'd; wiped by oc_tokenstore_free() */
    int64_t expires_on;
    int64_t obtained;
};

struct oc_tokenstore {
    char tenant_id[OC_GUID_SIZE];
    int64_t written;
    struct oc_stored_token *items;
    size_t n;
    size_t payload_len; /* bytes oc_tokenstore_build() will produce (kept by _add) */
};

/*
 * Parse the header of a whole file of len bytes: magic, version, sizes
 * (the file must be exactly header + ciphertext + tag). -EINVAL (not a
 * token store, truncated, trailing bytes), -EPROTONOSUPPORT (another
 * version). why receives a short reason.
 */
int oc_tokenstore_header_parse(const uint8_t *file, size_t len,
                               struct oc_tokenstore_header *ret_header, const char **ret_why);

/* The key id of a data key (stored in the header to tell "another key" from corruption). */
void oc_tokenstore_key_id(const uint8_t key[OC_TOKENSTORE_KEY_SIZE],
                          uint8_t ret_id[OC_TOKENSTORE_KEYID_SIZE]);

/*
 * Decrypt a whole file with the data key: header checks as above, then
 * -EKEYREJECTED (written under another data key), -EBADMSG (the GCM tag
 * does not verify: modified or corrupt). The plaintext is a new buffer
 * (oc_free_wipe(p, len) it).
 */
int oc_tokenstore_decrypt(const uint8_t key[OC_TOKENSTORE_KEY_SIZE], const uint8_t *file,
                          size_t len, uint8_t **ret_payload, size_t *ret_len, const char **ret_why);

/* Encrypt a payload into a whole file (fresh random nonce); free() the result. */
int oc_tokenstore_encrypt(const uint8_t key[OC_TOKENSTORE_KEY_SIZE], const uint8_t *payload,
                          size_t len, uint8_t **ret_file, size_t *ret_len);

/*
 * Parse a decrypted payload strictly: every length capped and checked,
 * names valid user names, ids GUIDs, scopes and tokens printable ASCII,
 * obtained < expires_on <= obtained + OC_TOKENSTORE_LIFETIME_MAX, no
 * duplicate (agent, scope), nothing after the last entry. -EBADMSG with
 * why, or -ENOMEM. Free the result with oc_tokenstore_free().
 */
int oc_tokenstore_parse(const uint8_t *payload, size_t len, struct oc_tokenstore *ret,
                        const char **ret_why);

/* Serialize (the entries are checked as the parser would). oc_free_wipe(p, len) the result. */
int oc_tokenstore_build(const struct oc_tokenstore *ts, uint8_t **ret_payload, size_t *ret_len);

/* Append one entry (copies the strings); -EINVAL for an entry the parser
 * would refuse, -ENOSPC past OC_TOKENSTORE_ENTRIES_MAX or _PAYLOAD_MAX. */
int oc_tokenstore_add(struct oc_tokenstore *ts, const char *agent, const char *app_id,
                      const char *scope, const char *access_token, int64_t expires_on,
                      int64_t obtained);

/* Wipe the tokens and free everything; the struct is left empty. */
void oc_tokenstore_free(struct oc_tokenstore *ts);

#endif
