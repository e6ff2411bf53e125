/* SPDX-License-Identifier: MIT */
/*
 * prompt.h: the token conversation and its continuation protocol.
 *
 * Stock OpenSSH clients cut one keyboard-interactive answer at 1023
 * bytes, sudo refuses any answer of PAM_MAX_RESP_SIZE (512) bytes or more,
 * while access tokens are 1.5-3 KB. So the module
 * asks for the token in chunks, each echo-off prompt carrying the offset
 * of the chunk it wants:
 *
 *     "Entra token [0]: "      -> bytes 0..499 of the token
 *     "Entra token [500]: "    -> bytes 500..999
 *     ...
 *
 * An answer of exactly OC_PROMPT_CHUNK bytes asks for the next chunk; any
 * other length (shorter, including empty, or longer: a client that sent
 * the whole token at once) ends the token. A token whose length is a
 * multiple of the chunk size ends with an empty answer. The total is capped
 * at OC_TOKEN_MAX. A stateless answerer (openclaw-askpass) finds the last
 * "[N]" in the prompt and prints bytes N..N+499 of the token.
 */
#ifndef OC_PAM_PROMPT_H
#define OC_PAM_PROMPT_H

#include <stddef.h>

#include <security/pam_modules.h>

#define OC_PROMPT_DEFAULT  "Entra token"
#define OC_PROMPT_BASE_MAX 128 /* bytes of prompt= text */
/* Bytes asked per prompt: below Linux-PAM's PAM_MAX_RESP_SIZE (512), which
 * sudo enforces on every answer; ssh keeps 1023 bytes of an answer. */
#define OC_PROMPT_CHUNK 500
/* An answer of exactly this length was probably cut by the client. */
#define OC_PROMPT_TRUNCATED_LEN 1023

/*
 * Ask for the token. On success *ret_tok (wipe and free with
 * oc_free_wipe(tok, len)) holds len bytes + NUL, trailing whitespace
 * removed. Returns 0, -E2BIG (more than OC_TOKEN_MAX), -ENOMEM, or -EIO
 * (the conversation failed).
 */
int oc_prompt_token(pam_handle_t *pamh, const char *base, char **ret_tok, size_t *ret_len);

#endif
