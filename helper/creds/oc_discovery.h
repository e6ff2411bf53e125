/* SPDX-License-Identifier: MIT */
/*
 * oc_discovery.h: OIDC discovery of the authority's endpoints. The
 * document is fetched before every JWKS refresh (oc_fetch_jwks.c),
 * validated, written to <jwks_dir>/openid-configuration.json (0644); its
 * token_endpoint and jwks_uri replace the constructed URLs. Discovery
 * down: the last good document (in memory, else the cached file); none
 * at all: the URLs built from authority and tenant_id, and status says so.
 */
#ifndef OC_DISCOVERY_H
#define OC_DISCOVERY_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "helper/creds/oc_fetch.h"

#define OC_DISCOVERY_FILE "openid-configuration.json"

/* Called once when a discovery request ends (whatever its outcome: the
 * endpoints are then the best known), or with cancelled by oc_fetch_done(). */
typedef void (*oc_discovery_done_fn)(void *arg, bool cancelled);

/* Start the discovery request; dir is the JWKS directory (its cached
 * document is read once, first). 0, or a negative errno when it did not
 * start (done is then never called). */
int oc_discovery_start(struct oc_fetch_ctx *ctx, const char *dir, oc_discovery_done_fn done,
                       void *arg);

/* Discovered endpoints, or NULL (then the constructed URL is used). */
const char *oc_discovery_token_endpoint(const struct oc_fetch_ctx *ctx);
const char *oc_discovery_jwks_uri(const struct oc_fetch_ctx *ctx);

/* For status: {"source":..., "age":..., "token_endpoint":..., "last_error":...}. */
cJSON *oc_discovery_status(const struct oc_fetch_ctx *ctx, int64_t now);

void oc_discovery_free(struct oc_fetch_ctx *ctx);

#endif
