/* json.c: strict JSON front end for cJSON (see json.h). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define FAIL(why)                                                                                  \
    do {                                                                                           \
        reason = (why);                                                                            \
        goto fail;                                                                                 \
    } while (0)

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Reads 4 hex digits at p[0..3]; -1 if not hex or out of bounds. */
static long hex4(const uint8_t *p, size_t avail)
{
    long v = 0;

    if (avail < 4) {
        return -1;
    }
    for (int k = 0; k < 4; k++) {
        int h = hexval(p[k]);
        if (h < 0) {
            return -1;
        }
        v = (v << 4) | h;
    }
    return v;
}

/* Length of a valid UTF-8 multi-byte sequence starting at p (lead >= 0x80),
 * or 0 if invalid (overlong, surrogate, > U+10FFFF, truncated). */
static size_t utf8_seq(const uint8_t *p, size_t avail)
{
    uint8_t c = p[0];
    uint8_t lo = 0x80, hi = 0xbf;
    size_t n;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) {
            lo = 0xa0; /* overlong */
        } else if (c == 0xed) {
            hi = 0x9f; /* UTF-16 surrogates */
        }
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) {
            lo = 0x90; /* overlong */
        } else if (c == 0xf4) {
            hi = 0x8f; /* > U+10FFFF */
        }
    } else {
        return 0;
    }
    if (avail < n) {
        return 0;
    }
    if (p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t k = 2; k < n; k++) {
        if (p[k] < 0x80 || p[k] > 0xbf) {
            return 0;
        }
    }
    return n;
}

/* RFC 8259 number grammar; returns the length consumed, 0 if malformed. */
static size_t number_len(const uint8_t *p, size_t avail)
{
    size_t i = 0;

    if (i < avail && p[i] == '-') {
        i++;
    }
    if (i >= avail) {
        return 0;
    }
    if (p[i] == '0') {
        i++;
    } else if (p[i] >= '1' && p[i] <= '9') {
        while (i < avail && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
    } else {
        return 0;
    }
    if (i < avail && p[i] == '.') {
        size_t start = ++i;
        while (i < avail && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
        if (i == start) {
            return 0;
        }
    }
    if (i < avail && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < avail && (p[i] == '+' || p[i] == '-')) {
            i++;
        }
        size_t start = i;
        while (i < avail && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
        if (i == start) {
            return 0;
        }
    }
    return i;
}

int oc_json_validate(const char *buf, size_t len, const char **ret_why)
{
    const uint8_t *p = (const uint8_t *)buf;
    const char *reason = NULL;
    uint64_t is_object = 0; /* bit d set: level d is an object */
    unsigned depth = 0;
    bool started = false, done = false;
    size_t i = 0;

    if (buf == NULL) {
        FAIL("no document");
    }
    while (i < len) {
        uint8_t c = p[i];

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            i++;
            continue;
        }
        if (done) {
            FAIL("trailing data after the document");
        }
        if (!started && c != '{' && c != '[') {
            FAIL("document is not an object or array");
        }
        switch (c) {
        case '{':
        case '[':
            if (depth >= OC_JSON_MAX_DEPTH) {
                FAIL("nesting deeper than 32 levels");
            }
            if (c == '{') {
                is_object |= UINT64_C(1) << depth;
            } else {
                is_object &= ~(UINT64_C(1) << depth);
            }
            depth++;
            started = true;
            i++;
            break;
        case '}':
        case ']':
            if (depth == 0) {
                FAIL("unbalanced brackets");
            }
            depth--;
            if (((is_object >> depth) & 1) != (c == '}' ? 1u : 0u)) {
                FAIL("mismatched brackets");
            }
            if (depth == 0) {
                done = true;
            }
            i++;
            break;
        case ',':
        case ':':
            i++;
            break;
        case '"':
            i++;
            for (;;) {
                if (i >= len) {
                    FAIL("unterminated string");
                }
                c = p[i];
                if (c == '"') {
                    i++;
                    break;
                }
                if (c < 0x20) {
                    FAIL("control character in string");
                }
                if (c < 0x80 && c != '\\') {
                    i++;
                    continue;
                }
                if (c >= 0x80) {
                    size_t n = utf8_seq(p + i, len - i);
                    if (n == 0) {
                        FAIL("invalid UTF-8 in string");
                    }
                    i += n;
                    continue;
                }
                /* escape */
                if (i + 1 >= len) {
                    FAIL("unterminated escape");
                }
                c = p[i + 1];
                if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                    c == 'r' || c == 't') {
                    i += 2;
                    continue;
                }
                if (c != 'u') {
                    FAIL("invalid escape in string");
                }
                long cp = hex4(p + i + 2, len - i - 2);
                if (cp < 0) {
                    FAIL("invalid \\u escape");
                }
                if (cp == 0) {
                    FAIL("\\u0000 in string");
                }
                i += 6;
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    FAIL("unpaired low surrogate in string");
                }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    long lo;
                    if (i + 1 >= len || p[i] != '\\' || p[i + 1] != 'u') {
                        FAIL("unpaired high surrogate in string");
                    }
                    lo = hex4(p + i + 2, len - i - 2);
                    if (lo < 0xdc00 || lo > 0xdfff) {
                        FAIL("unpaired high surrogate in string");
                    }
                    i += 6;
                }
            }
            break;
        case 't':
        case 'f':
        case 'n': {
            const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
            size_t n = strlen(lit);
            if (len - i < n || memcmp(p + i, lit, n) != 0) {
                FAIL("invalid literal");
            }
            i += n;
            break;
        }
        default:
            if (c == '-' || (c >= '0' && c <= '9')) {
                size_t n = number_len(p + i, len - i);
                if (n == 0) {
                    FAIL("invalid number");
                }
                i += n;
                /* "01" would otherwise reach cJSON, which reads it as 1 */
                if (i < len && p[i] != ',' && p[i] != '}' && p[i] != ']' && p[i] != ' ' &&
                    p[i] != '\t' && p[i] != '\n' && p[i] != '\r') {
                    FAIL("invalid number");
                }
                break;
            }
            FAIL("unexpected character");
        }
    }
    if (!done) {
        FAIL(started ? "truncated document" : "empty document");
    }
    return 0;
fail:
    if (ret_why != NULL) {
        *ret_why = reason;
    }
    return -EINVAL;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

#define SMALL_OBJECT 32 /* members compared pairwise; larger objects are sorted */

/* Refuses duplicate member names anywhere; depth is bounded by the validator
 * and members per object by OC_JSON_MAX_MEMBERS, so the work is bounded. */
static int check_duplicates(const cJSON *node, const char **ret_why)
{
    const char *small[SMALL_OBJECT];
    const char **names = small;
    size_t n = 0;
    int r = 0;

    for (const cJSON *c = node->child; c != NULL; c = c->next) {
        if (c->child != NULL) {
            r = check_duplicates(c, ret_why);
            if (r < 0) {
                return r;
            }
        }
        n++;
    }
    if (!cJSON_IsObject(node) || n < 2) {
        return 0;
    }
    if (n > OC_JSON_MAX_MEMBERS) {
        *ret_why = "object has too many members";
        return -EINVAL;
    }
    if (n > SMALL_OBJECT) {
        names = malloc(n * sizeof(*names));
        if (names == NULL) {
            *ret_why = "out of memory";
            return -ENOMEM;
        }
    }
    n = 0;
    for (const cJSON *c = node->child; c != NULL; c = c->next) {
        if (c->string == NULL) {
            *ret_why = "member without a name";
            r = -EINVAL;
            goto out;
        }
        names[n++] = c->string;
    }
    if (names == small) {
        for (size_t a = 1; a < n; a++) {
            for (size_t b = 0; b < a; b++) {
                if (names[a][0] == names[b][0] && strcmp(names[a], names[b]) == 0) {
                    *ret_why = "duplicate member name";
                    r = -EINVAL;
                    goto out;
                }
            }
        }
    } else {
        qsort(names, n, sizeof(names[0]), cmp_names);
        for (size_t k = 1; k < n; k++) {
            if (strcmp(names[k - 1], names[k]) == 0) {
                *ret_why = "duplicate member name";
                r = -EINVAL;
                goto out;
            }
        }
    }
out:
    if (names != small) {
        free(names);
    }
    return r;
}

/* Validate, parse, check duplicates. buf[len] must be a readable NUL when
 * terminated is true (saves a copy); otherwise a terminated copy is made. */
static int parse_object(const char *buf, size_t len, bool terminated, cJSON **ret_obj,
                        const char **ret_why)
{
    const char *reason = NULL;
    char *copy = NULL;
    cJSON *root = NULL;
    int r;

    if (ret_obj == NULL) {
        return -EINVAL;
    }
    r = oc_json_validate(buf, len, &reason);
    if (r < 0) {
        goto fail;
    }
    if (!terminated) {
        /* cJSON's require_null_terminated needs the NUL inside buffer_length */
        copy = malloc(len + 1);
        if (copy == NULL) {
            r = -ENOMEM;
            reason = "out of memory";
            goto fail;
        }
        memcpy(copy, buf, len);
        copy[len] = '\0';
        buf = copy;
    }
    root = cJSON_ParseWithLengthOpts(buf, len + 1, NULL, 1);
    if (root == NULL) {
        r = -EINVAL;
        reason = "malformed JSON";
        goto fail;
    }
    if (!cJSON_IsObject(root)) {
        r = -EINVAL;
        reason = "document is not an object";
        goto fail;
    }
    r = check_duplicates(root, &reason);
    if (r < 0) {
        goto fail;
    }
    free(copy);
    *ret_obj = root;
    return 0;
fail:
    cJSON_Delete(root);
    free(copy);
    if (ret_why != NULL) {
        *ret_why = reason;
    }
    return r;
}

int oc_json_parse_object(const char *buf, size_t len, cJSON **ret_obj, const char **ret_why)
{
    return parse_object(buf, len, false, ret_obj, ret_why);
}

int oc_json_parse_object_nt(const char *buf, size_t len, cJSON **ret_obj, const char **ret_why)
{
    if (buf == NULL || buf[len] != '\0') {
        return -EINVAL;
    }
    return parse_object(buf, len, true, ret_obj, ret_why);
}

const cJSON *oc_json_member(const cJSON *obj, const char *name)
{
    if (obj == NULL || name == NULL || !cJSON_IsObject(obj)) {
        return NULL;
    }
    for (const cJSON *c = obj->child; c != NULL; c = c->next) {
        if (c->string != NULL && c->string[0] == name[0] && strcmp(c->string, name) == 0) {
            return c;
        }
    }
    return NULL;
}

int oc_json_get_int64(const cJSON *obj, const char *name, int64_t min, int64_t max,
                      int64_t *ret_value)
{
    const cJSON *m = oc_json_member(obj, name);
    double d;

    if (m == NULL) {
        return -ENOENT;
    }
    if (!cJSON_IsNumber(m)) {
        return -EINVAL;
    }
    d = m->valuedouble;
    if (!isfinite(d) || d > (double)OC_JSON_INT_MAX || d < -(double)OC_JSON_INT_MAX) {
        return -ERANGE;
    }
    if (d != trunc(d)) {
        return -EINVAL;
    }
    int64_t v = (int64_t)d;
    if (v < min || v > max) {
        return -ERANGE;
    }
    *ret_value = v;
    return 0;
}

int oc_json_get_string(const cJSON *obj, const char *name, size_t max_len, const char **ret_str)
{
    const cJSON *m = oc_json_member(obj, name);

    if (m == NULL) {
        return -ENOENT;
    }
    if (!cJSON_IsString(m) || m->valuestring == NULL) {
        return -EINVAL;
    }
    if (strnlen(m->valuestring, max_len + 1) > max_len) {
        return -E2BIG;
    }
    *ret_str = m->valuestring;
    return 0;
}

int oc_json_get_bool(const cJSON *obj, const char *name, bool *ret_value)
{
    const cJSON *m = oc_json_member(obj, name);

    if (m == NULL) {
        return -ENOENT;
    }
    if (!cJSON_IsBool(m)) {
        return -EINVAL;
    }
    *ret_value = cJSON_IsTrue(m);
    return 0;
}

int oc_json_get_string_array(const cJSON *obj, const char *name, size_t max_items, size_t max_len,
                             const char ***ret_items, size_t *ret_n)
{
    const cJSON *m = oc_json_member(obj, name);
    const char **items = NULL;
    size_t n = 0;

    if (m == NULL) {
        return -ENOENT;
    }
    if (!cJSON_IsArray(m)) {
        return -EINVAL;
    }
    for (const cJSON *c = m->child; c != NULL; c = c->next) {
        if (!cJSON_IsString(c) || c->valuestring == NULL) {
            return -EINVAL;
        }
        if (strnlen(c->valuestring, max_len + 1) > max_len) {
            return -E2BIG;
        }
        if (++n > max_items) {
            return -E2BIG;
        }
    }
    if (n > 0) {
        size_t k = 0;
        items = calloc(n, sizeof(*items));
        if (items == NULL) {
            return -ENOMEM;
        }
        for (const cJSON *c = m->child; c != NULL; c = c->next) {
            items[k++] = c->valuestring;
        }
    }
    *ret_items = items;
    *ret_n = n;
    return 0;
}
