/* SPDX-License-Identifier: MIT */
/* fuzz_tpmblob: the TPM blob parser (tpm/blob.c) on arbitrary bytes. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tpm/blob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_tpmblob b;
    const char *why = NULL;
    uint8_t *copy, *again = NULL;
    size_t again_len = 0;

    /* Most mutations die at the checksum; fix it up half of the time so the
     * field and TPM structure checks behind it are reached too. */
    copy = malloc(size > 0 ? size : 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    if (size > 0 && (data[size - 1] & 1) != 0) {
        (void)oc_tpmblob_update_checksum(copy, size);
    }
    if (oc_tpmblob_parse(copy, size, &b, &why) == 0) {
        /* whatever parses must be writable again */
        if (oc_tpmblob_write(&b, &again, &again_len) != 0 || again_len == 0) {
            abort();
        }
        free(again);
    } else if (why == NULL) {
        abort();
    }
    free(copy);
    return 0;
}
