/* SPDX-License-Identifier: MIT */
/* prompt.c: chunked token conversation (see prompt.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_ext.h>

#include "jwt.h"
#include "pam_openclaw/prompt.h"
#include "util.h"

int oc_prompt_token(pam_handle_t *pamh, const char *base, char **ret_tok, size_t *ret_len)
{
    char *tok;
    size_t len = 0;
    int r = 0;

    tok = malloc(OC_TOKEN_MAX + 1);
    if (tok == NULL) {
        return -ENOMEM;
    }
    for (unsigned round = 0; round <= OC_TOKEN_MAX / OC_PROMPT_CHUNK + 1; round++) {
        char *resp = NULL;
        size_t n;

        if (pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &resp, "%s [%zu]: ", base, len) != PAM_SUCCESS) {
            r = -EIO;
            break;
        }
        if (resp == NULL) {
            r = -EIO;
            break;
        }
        n = strlen(resp);
        if (n > OC_TOKEN_MAX - len) {
            oc_free_wipe(resp, n);
            r = -E2BIG;
            break;
        }
        memcpy(tok + len, resp, n);
        len += n;
        oc_free_wipe(resp, n);
        if (n != OC_PROMPT_CHUNK) {
            break; /* short (or whole-token) answer: the end */
        }
        if (len == OC_TOKEN_MAX) {
            r = -E2BIG;
            break;
        }
    }
    if (r < 0) {
        oc_free_wipe(tok, OC_TOKEN_MAX + 1);
        return r;
    }
    while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r' || tok[len - 1] == ' ')) {
        len--;
    }
    tok[len] = '\0';
    *ret_tok = tok;
    *ret_len = len;
    return 0;
}
