/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for openclawd's tokens.db (helper/daemon/oc_tokenstore.c).
 * The first byte picks what the rest of the input is:
 *   0: a whole file for the header parser;
 *   1: a decrypted payload for the payload parser; whatever it accepts
 *      must serialize back to exactly the same bytes (the format is
 *      canonical, so a lenient parser shows up as a difference);
 *   2: a whole file decrypted under a fixed data key, then parsed
 *      (corpus/tokenstore holds files made under that key);
 *   3: a payload encrypted and decrypted again: the same bytes come back.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helper/daemon/oc_tokenstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 32 bytes of 0x42: the key the seed files are encrypted with. */
static const uint8_t fuzz_key[OC_TOKENSTORE_KEY_SIZE] = {
        0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
        0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
        0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42};

static void parse_and_rebuild(const uint8_t *p, size_t len)
{
    struct oc_tokenstore ts;
    const char *why = NULL;
    uint8_t *out = NULL;
    size_t out_len = 0;

    if (oc_tokenstore_parse(p, len, &ts, &why) != 0) {
        if (why == NULL) {
            abort(); /* every refusal says why */
        }
        return;
    }
    if (oc_tokenstore_build(&ts, &out, &out_len) != 0 || out_len != len ||
        memcmp(out, p, len) != 0 || out_len != ts.payload_len) {
        abort();
    }
    free(out);
    oc_tokenstore_free(&ts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_tokenstore_header h;
    const char *why = NULL;
    uint8_t *p = NULL, *f = NULL;
    size_t plen = 0, flen = 0;

    if (size < 1 || size > OC_TOKENSTORE_FILE_MAX) {
        return 0;
    }
    switch (data[0] % 4) {
    case 0:
        (void)oc_tokenstore_header_parse(data + 1, size - 1, &h, &why);
        break;
    case 1:
        parse_and_rebuild(data + 1, size - 1);
        break;
    case 2:
        if (oc_tokenstore_decrypt(fuzz_key, data + 1, size - 1, &p, &plen, &why) == 0) {
            parse_and_rebuild(p, plen);
            free(p);
        }
        break;
    default:
        if (oc_tokenstore_encrypt(fuzz_key, data + 1, size - 1, &f, &flen) == 0) {
            if (oc_tokenstore_decrypt(fuzz_key, f, flen, &p, &plen, &why) != 0 ||
                plen != size - 1 || memcmp(p, data + 1, plen) != 0) {
                abort();
            }
            free(p);
            free(f);
        }
        break;
    }
    return 0;
}
