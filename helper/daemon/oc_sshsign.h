/* SPDX-License-Identifier: MIT */
/*
 * oc_sshsign.h: openclawd's ssh-identities and ssh-sign requests, the
 * daemon half of the agent ssh-agent (docs/ssh.md).
 *
 * The TPM stays with the daemon: `openclaw-token --ssh-agent`, running as
 * the agent's uid, speaks the ssh-agent protocol to ssh and forwards the
 * two requests here. The identity of an agent is the public key of its
 * `tpm-certificate` key (key_file, the key already loaded for client
 * assertions); a signature is one TPM command over the SHA-256 digest of
 * the data (SHA-512 for rsa-sha2-512), wrapped in the ssh signature format (RFC 4253 6.6, RFC 5656
 * 3.1.2, RFC 8332 3). The key is also the agent's Entra credential, so
 * only SSH is signed: a userauth request for the agent's own key or an
 * SSHSIG blob in an allowed namespace (oc_ssh_signable_check); anything
 * else is refused "not-ssh". Every signature is logged (agent, uid, pid,
 * key fingerprint, algorithm, what was signed), never the data.
 *
 * The wire formats are in oc_sshwire.h (tested without a TPM).
 */
#ifndef OC_SSHSIGN_H
#define OC_SSHSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "helper/daemon/oc_request.h"
#include "helper/lib/oc_sshwire.h"

struct oc_fetch_ctx;
struct oc_decide;

/* ssh-agent sign flags (draft-miller-ssh-agent 4.5.1). */
#define OC_SSH_AGENT_RSA_SHA2_256 0x02u
#define OC_SSH_AGENT_RSA_SHA2_512 0x04u

/* Log function of the daemon (one line, no trailing newline). */
typedef void (*oc_sshsign_log_fn)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * ssh-identities: the answer for a peer whose uid maps to agent (or -1):
 * {"ok":true,"identities":[{"key":B64URL,"comment":TEXT}]}; an empty list
 * for a peer without an agent or an agent without a TPM key; an error
 * object ("unusable") when the key cannot be loaded. NULL: out of memory.
 */
cJSON *oc_sshsign_identities(struct oc_fetch_ctx *fetch, ssize_t agent, uint32_t peer_uid,
                             int32_t peer_pid, oc_sshsign_log_fn log);

/*
 * ssh-sign: sign args->data with the TPM key of agent (the peer's own;
 * -1 or a root peer: "denied", *ret_close set), once oc_decide() allows
 * it (else its error code: locked, locked-out, disabled). Answer
 * {"ok":true,"algorithm":NAME,"signature":B64URL} or an error object
 * (denied, no-such-key, unsupported, unusable). NULL: out of memory.
 */
cJSON *oc_sshsign_sign(struct oc_fetch_ctx *fetch, struct oc_decide *decide, ssize_t agent,
                       uint32_t peer_uid, int32_t peer_pid, const struct oc_ssh_args *args,
                       oc_sshsign_log_fn log, bool *ret_close);

#endif
