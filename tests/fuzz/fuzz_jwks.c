/* fuzz_jwks.c: libFuzzer target for the JWKS parser (oc_jwks_parse) and
 * key lookup. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "jwks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_jwks *jwks = NULL;

    if (oc_jwks_parse((const char *)data, size, &jwks, NULL) < 0) {
        return 0;
    }
    for (size_t i = 0; i < jwks->n_keys; i++) {
        if (oc_jwks_find(jwks, jwks->keys[i].kid, false) == NULL) {
            __builtin_trap();
        }
    }
    for (size_t i = 0; i < jwks->n_skipped; i++) {
        (void)oc_jwks_find_skipped(jwks, jwks->skipped[i].kid);
    }
    (void)oc_jwks_find(jwks, "x", true);
    oc_jwks_free(jwks);
    return 0;
}
