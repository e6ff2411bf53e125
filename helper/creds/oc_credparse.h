/* SPDX-License-Identifier: MIT */
/*
 * oc_credparse.h: the parsers behind openclawd's two-step credentials and
 * OIDC discovery, free of I/O so that they can be fuzzed
 * (tests/fuzz/fuzz_credparse.c):
 *   - the Azure Arc challenge, "WWW-Authenticate: Basic realm=PATH", and
 *     the syntax of that realm path;
 *   - the authority's OIDC discovery document.
 * Nothing here reads a file or logs.
 */
#ifndef OC_CREDPARSE_H
#define OC_CREDPARSE_H

#include <stddef.h>

#include "conf.h" /* OC_CONFIG_PATH_MAX */

#define OC_CHALLENGE_MAX  (OC_CONFIG_PATH_MAX + 64) /* a WWW-Authenticate value */
#define OC_ARC_KEY_SUFFIX ".key"
#define OC_DISCOVERY_MAX  (64u * 1024u) /* a discovery document (Entra's: about 2 KiB) */

/*
 * The realm of an Arc challenge: value is the WWW-Authenticate header
 * value, "Basic realm=PATH" (scheme and parameter name in any case, PATH
 * optionally in double quotes, printable ASCII, nothing after it). The
 * path is copied to ret_path. 0, or -EBADMSG / -ENAMETOOLONG with *ret_why.
 */
int oc_arc_challenge_realm(const char *value, char *ret_path, size_t len, const char **ret_why);

/*
 * The realm path's syntax: absolute, canonical (no empty, "." or ".."
 * component, no trailing slash), directly inside dir (itself absolute,
 * without a trailing slash), a name ending ".key" not starting with ".".
 * Symlinks are the caller's business (the file system). 0 or -EPERM with
 * *ret_why.
 */
int oc_arc_realm_check(const char *path, const char *dir, const char **ret_why);

/* tmpl with every "{tenantid}" replaced by tid. 0 or -ENAMETOOLONG. */
int oc_issuer_expand(const char *tmpl, const char *tid, char *buf, size_t len);

struct oc_discovery {
    char token_endpoint[OC_CONFIG_PATH_MAX + 1];
    char jwks_uri[OC_CONFIG_PATH_MAX + 1];
};

/*
 * Validate a v2 discovery document: a strict JSON object of at most
 * OC_DISCOVERY_MAX bytes whose "issuer" is exactly issuer, and whose
 * "token_endpoint" and "jwks_uri" are https URLs ("https://" in lower
 * case; printable ASCII, no query, fragment, braces, backslash or user
 * info, at most OC_CONFIG_PATH_MAX bytes) on the same origin (scheme,
 * host, port; compared byte-wise) as authority. 0 with *ret filled, or
 * -EBADMSG with *ret_why.
 */
int oc_discovery_parse(const char *buf, size_t len, const char *issuer, const char *authority,
                       struct oc_discovery *ret, const char **ret_why);

#endif
