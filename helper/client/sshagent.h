/* SPDX-License-Identifier: MIT */
/*
 * sshagent.h: `openclaw-token --ssh-agent`, an ssh-agent whose only keys
 * are the calling agent's TPM keys, held by openclawd (docs/ssh.md).
 *
 * It runs as the agent's uid, listens on a socket in a private directory
 * (0700) and accepts only connections whose SO_PEERCRED uid is its own.
 * It speaks the ssh-agent protocol (draft-miller-ssh-agent): a message is
 * a 4-byte big-endian length (1..OC_SSHAGENT_MSG_MAX) and that many
 * bytes, the first being the type. Two requests are served, by asking
 * openclawd (ssh-identities, ssh-sign), and OpenSSH's
 * session-bind@openssh.com extension, verified here (sshkey_verify.h) and
 * kept per connection, with the --destination host keys deciding which
 * sign requests reach openclawd; every other type is answered
 * SSH_AGENT_FAILURE. A malformed request of a served type, or a length
 * over the cap, ends the connection, but for a malformed session-bind:
 * answered SSH_AGENT_FAILURE, and that connection signs nothing more. The
 * agent holds no key and no secret.
 *
 * The codec below has no state (fuzzed by
 * tests/fuzz/fuzz_sshagent.c, tested by tests/unit/test_sshagent.c).
 */
#ifndef OC_SSHAGENT_H
#define OC_SSHAGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest ssh-agent message accepted (the length field's value). */
#define OC_SSHAGENT_MSG_MAX (256u * 1024u)
/* Identities forwarded from openclawd at most. */
#define OC_SSHAGENT_IDS_MAX 16u
/* Longest comment of an identity. */
#define OC_SSHAGENT_COMMENT_MAX 256u

/* Message numbers (draft-miller-ssh-agent 5.1). */
#define OC_SSH_AGENT_FAILURE             5
#define OC_SSH_AGENTC_REQUEST_IDENTITIES 11
#define OC_SSH_AGENT_IDENTITIES_ANSWER   12
#define OC_SSH_AGENTC_SIGN_REQUEST       13
#define OC_SSH_AGENT_SIGN_RESPONSE       14
#define OC_SSH_AGENT_SUCCESS             6
#define OC_SSH_AGENTC_EXTENSION          27
/* OpenSSH's extension binding a connection to an ssh session (PROTOCOL.agent). */
#define OC_SSH_SESSION_BIND   "session-bind@openssh.com"
#define OC_SSH_SESSION_ID_MAX 64u

struct oc_sshagent_msg {
    uint8_t type;
    /* SSH_AGENTC_SIGN_REQUEST only; pointers into the parsed message */
    const uint8_t *key;
    size_t key_len;
    const uint8_t *data;
    size_t data_len;
    uint32_t flags;
    /* SSH_AGENTC_EXTENSION session-bind@openssh.com only (session_bind
     * set): string hostkey, string session id (1..64 bytes), string
     * signature, bool forwarding, nothing after */
    bool session_bind;
    const uint8_t *hostkey;
    size_t hostkey_len;
    const uint8_t *session_id;
    size_t session_id_len;
    const uint8_t *signature; /* the host key's signature over the session id */
    size_t signature_len;
    bool forwarding;
};

/*
 * Parse one message body (after the length field). 0 with *ret set: a
 * well-formed REQUEST_IDENTITIES (exactly the type byte) or SIGN_REQUEST
 * (string key, string data, uint32 flags, nothing after), an EXTENSION
 * (session_bind set for a well-formed session-bind@openssh.com), or any
 * other type (ret->type says which; the caller answers SSH_AGENT_FAILURE).
 * -EINVAL: empty, or a served type with a malformed body.
 */
int oc_sshagent_parse(const uint8_t *msg, size_t len, struct oc_sshagent_msg *ret);

/* Incremental message reader (same contract as oc_proto_reader_feed(): the
 * completed body is malloc()ed; -EMSGSIZE on a length of 0 or over the cap). */
struct oc_sshagent_reader {
    uint8_t hdr[4];
    size_t hdr_have;
    uint8_t *body;
    size_t body_len;
    size_t body_have;
};
void oc_sshagent_reader_init(struct oc_sshagent_reader *r);
void oc_sshagent_reader_reset(struct oc_sshagent_reader *r);
int oc_sshagent_reader_feed(struct oc_sshagent_reader *r, const uint8_t *data, size_t len,
                            size_t *ret_used, uint8_t **ret_body, size_t *ret_len);

struct oc_sshagent_identity {
    uint8_t *blob;
    size_t blob_len;
    char comment[OC_SSHAGENT_COMMENT_MAX + 1];
};

/* Complete messages, length field included, in a new buffer (free()). */
int oc_sshagent_build_failure(uint8_t **ret_msg, size_t *ret_len);
int oc_sshagent_build_identities(const struct oc_sshagent_identity *ids, size_t n,
                                 uint8_t **ret_msg, size_t *ret_len);
int oc_sshagent_build_sign_response(const uint8_t *sig, size_t sig_len, uint8_t **ret_msg,
                                    size_t *ret_len);

/* ---- the agent process ---- */

struct oc_sshagent_options {
    const char *daemon_socket; /* openclawd's socket */
    const char *socket_dir;    /* parent of the private directory; NULL: $XDG_RUNTIME_DIR or /tmp */
    bool foreground;           /* do not fork; still print the variables */
    /* --destination: a file of the host keys the agent's key may be used
     * at (see oc_sshagent_load_destinations()); NULL: no constraint */
    const char *destination_file;
};

/* Host keys in a --destination file at most. */
#define OC_SSHAGENT_DEST_MAX 1024u

/* A set of allowed destination host keys (ssh public key blobs). */
struct oc_sshagent_dests {
    uint8_t **keys;
    size_t *lens;
    size_t n;
};

/*
 * Read a destination file: one host public key a line, in a .pub file's
 * form ("TYPE BASE64 [comment]") or a known_hosts line's ("HOSTS TYPE
 * BASE64 [comment]"; host names are not looked at). Empty lines and lines
 * starting with '#' are skipped. A line that is neither, a marker line
 * (@cert-authority, @revoked), a key of an unsupported type, more than
 * OC_SSHAGENT_DEST_MAX keys or none at all: -EINVAL with the 1-based line
 * number in *ret_line (0: the file as a whole) and a phrase in *ret_why.
 * Other errors: -errno of opening or reading.
 */
int oc_sshagent_load_destinations(const char *path, struct oc_sshagent_dests *ret, size_t *ret_line,
                                  const char **ret_why);
void oc_sshagent_free_destinations(struct oc_sshagent_dests *d);
bool oc_sshagent_dest_listed(const struct oc_sshagent_dests *d, const uint8_t *key, size_t len);

/* Run the agent until SIGTERM/SIGINT/SIGHUP or until the session it was
 * started in ends (its session leader exits; a session leader itself
 * watches its parent). Returns the exit status (0, 1 setup failed). */
int oc_sshagent_run(const struct oc_sshagent_options *opt);

#endif
