/* SPDX-License-Identifier: MIT */
/*
 * oc_cred_mi.c: credential = managed-identity, a token from the Azure
 * Instance Metadata Service (IMDS): one GET on the local metadata
 * endpoint, plain http, never proxied, "Metadata: true".
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "helper/creds/oc_credkit.h"
#include "util.h"

static int managed_identity(struct oc_fetch_ctx *ctx, const struct oc_agent *a, const char *scope,
                            oc_fetch_done_fn done, void *arg, struct oc_fetch_error *err)
{
    struct oc_http_request req = {.metadata = true};
    char resource[(OC_PROTO_SCOPE_MAX + 1)];
    char url[OC_HTTP_URL_MAX];
    char *esc, *selv = NULL;
    const char *sel = "";
    int len;

    /* IMDS takes a resource; drop "/.default" from the scope. */
    if (oc_cred_resource(scope, resource, sizeof(resource)) < 0) {
        oc_cred_fail(err, 0, true, "scope too long");
        return -ENOBUFS;
    }
    esc = curl_easy_escape(NULL, resource, 0);
    if (esc == NULL) {
        return -ENOMEM;
    }
    /* At most one selector: client_id, else object_id, else msi_res_id;
     * none selects the system-assigned identity. */
    if (a->mi_client_id[0] != '\0') {
        sel = "&client_id=";
        selv = curl_easy_escape(NULL, a->mi_client_id, 0);
    } else if (a->mi_object_id[0] != '\0') {
        sel = "&object_id=";
        selv = curl_easy_escape(NULL, a->mi_object_id, 0);
    } else if (a->mi_res_id != NULL) {
        sel = "&msi_res_id=";
        selv = curl_easy_escape(NULL, a->mi_res_id, 0);
    }
    len = snprintf(url, sizeof(url),
                   "%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=%s%s%s",
                   ctx->imds_base, esc, sel, selv != NULL ? selv : "");
    curl_free(esc);
    curl_free(selv);
    if (len < 0 || (size_t)len >= sizeof(url)) {
        oc_cred_fail(err, 0, true, "IMDS URL too long");
        return -ENOBUFS;
    }
    req.url = url;
    return oc_cred_token_request(ctx, a, &req, done, arg, err);
}

const struct oc_cred_kind oc_cred_managed_identity = {
        .kind = OC_CRED_MANAGED_IDENTITY,
        .unusable = NULL, /* the selectors are optional */
        .start = managed_identity,
};
