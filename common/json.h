/* json.h: strict JSON front end for cJSON.
 *
 * cJSON 1.7.15 is lenient: it accepts duplicate member names, nests up to
 * 1000 levels, and silently truncates strings at an escaped NUL. Every
 * document openclaw parses from untrusted input goes through
 * oc_json_parse_object(), which first runs one linear validating scan
 * (UTF-8, string escapes, surrogate pairs, no \u0000, bracket balance,
 * depth <= OC_JSON_MAX_DEPTH, no trailing bytes), then parses with cJSON,
 * then refuses duplicate member names in any object.
 *
 * The getters are strict about types: a number where a string is expected
 * (or "123" where a number is expected) is an error, never a conversion.
 * Member lookup is case-sensitive ("Exp" is not "exp").
 * Library code: no logging; errors are negative errno plus a static reason. */
#ifndef OC_JSON_H
#define OC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define OC_JSON_MAX_DEPTH   32  /* nesting of objects/arrays */
#define OC_JSON_MAX_MEMBERS 256 /* members in one object (bounds the duplicate check) */
/* Largest magnitude oc_json_get_int64() accepts: 2^53 - 1, the range where
 * a JSON number parsed as a double is still an exact integer. */
#define OC_JSON_INT_MAX INT64_C(9007199254740991)

/* Validate only (no allocation). Returns 0 or -EINVAL with *ret_reason (a
 * static string) set; ret_reason may be NULL. */
int oc_json_validate(const char *buf, size_t len, const char **ret_why);

/* Validate + parse a document whose top level must be an object. buf need
 * not be NUL-terminated. Returns 0 with a tree to free with cJSON_Delete(),
 * -EINVAL (reason set), or -ENOMEM. */
int oc_json_parse_object(const char *buf, size_t len, cJSON **ret_obj, const char **ret_why);

/* The same for a buffer whose byte buf[len] is a readable NUL (as
 * oc_b64url_decode() produces): no copy is made. -EINVAL if it is not. */
int oc_json_parse_object_nt(const char *buf, size_t len, cJSON **ret_obj, const char **ret_why);

/* Getters on an object's member. All return:
 *   0        found and valid (output set)
 *   -ENOENT  member absent
 *   -EINVAL  present with the wrong type (or a non-integer number)
 *   -ERANGE  number outside [min, max]
 *   -E2BIG   string longer than max_len bytes, or more than max_items items */
int oc_json_get_int64(const cJSON *obj, const char *name, int64_t min, int64_t max,
                      int64_t *ret_value);
int oc_json_get_string(const cJSON *obj, const char *name, size_t max_len, const char **ret_str);
int oc_json_get_bool(const cJSON *obj, const char *name, bool *ret_value);
/* Array of strings. *ret_items is a new array of pointers into the tree
 * (free() only the array, not the strings); n == 0 yields NULL. */
int oc_json_get_string_array(const cJSON *obj, const char *name, size_t max_items, size_t max_len,
                             const char ***ret_items, size_t *ret_n);

/* Member lookup, case-sensitive; NULL if absent or obj is not an object. */
const cJSON *oc_json_member(const cJSON *obj, const char *name);

#endif
