/* SPDX-License-Identifier: MIT */
/*
 * oc_mi_env.c: the environment that points an agent session's Azure SDKs
 * at openclawd's managed-identity endpoint (see oc_mi.h). Config only: no
 * sockets, no libcurl, so any part that answers session-open can link it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "helper/daemon/oc_mi.h"

int oc_mi_session_env(const struct oc_config *config, const char **ret_name, char *value,
                      size_t len)
{
    const struct oc_mi_endpoint *ep = &config->global.mi_endpoint;
    int n;

    if (!ep->set || ep->imds) {
        return -ENOENT; /* imds: the SDKs' default address is the endpoint */
    }
    n = snprintf(value, len, "http://%s", ep->text);
    if (n < 0 || (size_t)n >= len) {
        return -ENOBUFS;
    }
    *ret_name = OC_MI_ENV_NAME;
    return 0;
}
