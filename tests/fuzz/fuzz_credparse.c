/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for what a remote endpoint feeds openclawd's two-step
 * credentials and discovery: the first byte picks the Azure Arc challenge
 * (WWW-Authenticate value -> realm -> realm path check) or the OIDC
 * discovery document. Accepted output is checked against the promises of
 * oc_credparse.h; a broken promise aborts.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helper/creds/oc_credparse.h"

#define FUZZ_DIR       "/var/opt/azcmagent/tokens"
#define FUZZ_AUTHORITY "https://login.example.test:8443"
#define FUZZ_ISSUER    "https://login.example.test/11111111-2222-3333-4444-555555555555/v2.0"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_realm(const char *value)
{
    char path[OC_CONFIG_PATH_MAX + 1];
    const char *why = NULL;
    size_t n;

    if (oc_arc_challenge_realm(value, path, sizeof(path), &why) < 0) {
        if (why == NULL) {
            abort();
        }
        return;
    }
    n = strlen(path);
    if (n == 0 || n > OC_CONFIG_PATH_MAX) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        if (path[i] <= ' ' || path[i] >= 0x7f || path[i] == '"' || path[i] == ',') {
            abort();
        }
    }
    why = NULL;
    if (oc_arc_realm_check(path, FUZZ_DIR, &why) < 0) {
        if (why == NULL) {
            abort();
        }
        return;
    }
    /* Accepted: directly in the directory, a *.key name, nothing to climb out with. */
    if (strncmp(path, FUZZ_DIR "/", sizeof(FUZZ_DIR)) != 0 ||
        strchr(path + sizeof(FUZZ_DIR), '/') != NULL || strstr(path, "/..") != NULL ||
        n < sizeof(FUZZ_DIR) + 4 || strcmp(path + n - 4, ".key") != 0) {
        abort();
    }
}

static void check_discovery(const char *buf, size_t len)
{
    struct oc_discovery d;
    const char *why = NULL;

    if (oc_discovery_parse(buf, len, FUZZ_ISSUER, FUZZ_AUTHORITY, &d, &why) < 0) {
        if (why == NULL) {
            abort();
        }
        return;
    }
    if (strncmp(d.token_endpoint, FUZZ_AUTHORITY, strlen(FUZZ_AUTHORITY)) != 0 ||
        strncmp(d.jwks_uri, FUZZ_AUTHORITY, strlen(FUZZ_AUTHORITY)) != 0 ||
        (d.token_endpoint[strlen(FUZZ_AUTHORITY)] != '\0' &&
         d.token_endpoint[strlen(FUZZ_AUTHORITY)] != '/') ||
        (d.jwks_uri[strlen(FUZZ_AUTHORITY)] != '\0' && d.jwks_uri[strlen(FUZZ_AUTHORITY)] != '/')) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    if (size < 1) {
        return 0;
    }
    s = malloc(size);
    if (s == NULL) {
        return 0;
    }
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] & 1) {
        check_realm(s);
    } else {
        check_discovery(s, size - 1);
    }
    free(s);
    return 0;
}
