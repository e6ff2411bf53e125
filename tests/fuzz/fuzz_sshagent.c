/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the ssh-agent input path of `openclaw-token
 * --ssh-agent`: the byte stream from ssh is split into messages by the
 * incremental reader (in chunks whose sizes come from the input itself),
 * and each message goes through the strict parser, exactly as the agent
 * does. A parsed sign request must point inside its message; a parsed
 * session-bind@openssh.com goes through the host key signature check
 * (helper/client/sshkey_verify.c), which must say why when it refuses.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "helper/client/sshagent.h"
#include "helper/client/sshkey_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_msg(const uint8_t *body, size_t len)
{
    struct oc_sshagent_msg m;

    if (oc_sshagent_parse(body, len, &m) != 0) {
        return;
    }
    if (m.type != body[0]) {
        abort();
    }
    if (m.type == OC_SSH_AGENTC_SIGN_REQUEST) {
        if (m.key < body || m.key_len == 0 || m.key + m.key_len > body + len ||
            m.data < m.key + m.key_len || m.data + m.data_len + 4 != body + len) {
            abort();
        }
    } else if (m.type == OC_SSH_AGENTC_REQUEST_IDENTITIES && len != 1) {
        abort();
    } else if (m.session_bind) {
        const char *why = NULL;
        if (oc_sshkey_verify(m.hostkey, m.hostkey_len, m.signature, m.signature_len, m.session_id,
                             m.session_id_len, &why) != 0 &&
            why == NULL) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_sshagent_reader r;
    size_t off = 1;
    unsigned chunk;

    if (size < 1) {
        return 0;
    }
    chunk = (unsigned)data[0] % 17 + 1;
    oc_sshagent_reader_init(&r);
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk, used = 0, len = 0;
        uint8_t *body = NULL;
        int rc = oc_sshagent_reader_feed(&r, data + off, n, &used, &body, &len);

        if (used == 0 && rc == 0) {
            abort(); /* no progress would hang the agent */
        }
        off += used;
        if (rc < 0) {
            break;
        }
        if (rc == 1) {
            check_msg(body, len);
            free(body);
        }
    }
    oc_sshagent_reader_reset(&r);
    /* the whole input as one message body too */
    if (size > 1) {
        check_msg(data + 1, size - 1);
    }
    return 0;
}
