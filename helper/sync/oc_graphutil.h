/* SPDX-License-Identifier: MIT */
/*
 * oc_graphutil.h: the pure parts of openclawd's directory sync, kept apart
 * so they are unit-tested without a network: OData filter building with
 * escaping, Graph date-times, and the naming rules of synced agents
 * (docs/directory.md). Libc only, no logging.
 */
#ifndef OC_GRAPHUTIL_H
#define OC_GRAPHUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/*
 * The query parameter value for `$filter=PROP eq 'VALUE'`: VALUE quoted as
 * an OData string literal (every ' doubled), then the whole expression
 * percent-encoded (only A-Z a-z 0-9 - . _ ~ stay as they are). prop must be
 * a plain identifier (letters, digits, '/', '_'). 0, -EINVAL or -ENOBUFS.
 */
int oc_odata_eq_filter(const char *prop, const char *value, char *buf, size_t len);

/* Percent-encode s for a URL path segment or query value (RFC 3986 unreserved kept). */
int oc_url_encode(const char *s, char *buf, size_t len);

/* Graph date-time ("2024-01-01T00:00:00Z", optional fraction, Z or +hh:mm) to epoch seconds. */
int oc_graph_time(const char *s, int64_t *ret);

/*
 * The first-seen name for a display name: the display name must be plain
 * (ASCII letters, digits, space, '-', '_', starting with a letter); it is
 * lowercased, spaces and '_' become '-', runs of '-' collapse, trailing
 * '-' go; at most OC_USER_NAME_MAX characters. Anything else (path
 * characters, dots, non-ASCII, control characters, too long) is -EINVAL:
 * the caller uses oc_dir_fallback_name(). Reserved names are the caller's
 * check (oc_dir_reserved_name()).
 */
int oc_dir_slug(const char *display_name, char out[OC_USER_NAME_MAX + 1]);

/* Names that are never given to a synced agent (system accounts and groups). */
bool oc_dir_reserved_name(const char *name);

/* "oc-" + the first 8 hex digits of the object id. */
void oc_dir_fallback_name(const char *object_id, char out[OC_USER_NAME_MAX + 1]);

/* A display name made safe for the passwd GECOS field: printable ASCII
 * without ':', other bytes become '?', cut to len - 1. */
void oc_dir_gecos(const char *in, char *out, size_t len);

#endif
