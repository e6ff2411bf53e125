/* fuzz_jwt.c: libFuzzer target for the token verification path.
 *
 * Each input is run through oc_verify_token() against a small fixed key set
 * (built once, in-process, from the constant below: the public halves of
 * two unit-test fixture keys). Because the fuzzer cannot forge signatures,
 * an input that is itself a JSON object is also run through the claim rules
 * (oc_verify_claims()) as if it were an authenticated payload. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "entra.h"
#include "json.h"
#include "jwks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_jwks_doc[] =
        "{\"keys\":["
        "{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"FM-I9ZRoL0lnbQbyBeilB76EkhI\","
        "\"issuer\":\"https://login.microsoftonline.com/{tenantid}/v2.0\","
        "\"e\":\"AQAB\",\"n\":\"tjoG_TIlrdXxg1NdJcGqTuAjlf8idsfA9SKGoevh_cZ1JqpUpo7qmESLuougz0_"
        "G7T5Furz9zs-qCdVjZwaIFsSCsS2W6qglc-YtR6UGTR3cVboBiFl9uC0R0dVkqF5o1SmigOTtM-fRU_"
        "7nsczRj7lv4NN40Jc78OdlaCEXWsaoOSle1YVjwXfJZLHk7AlH0LD0HtIYPgl01y_NL2Y0uiEk0mCokflLHP-"
        "lyCVHTH02HjaN8sWuEF8D9fm9wcBJh3tLbpdoQLlbKIsZh_"
        "A3ymtA6B9MO9pACb9WJvHzw7bcG71ghb27ME1Pp46P7uF7phzGwycJbWPnvowISsy0wQ\"},"
        "{\"kty\":\"EC\",\"use\":\"sig\",\"crv\":\"P-256\",\"kid\":\"ec-p256-HRZDdZKAGn0Z\","
        "\"x\":\"4tnL9eiTTDTg5h6RwJSq1KqdHwtpHNhYDfSi1KYUBEI\",\"y\":"
        "\"u2CSK4WYMed08k0rGR0M9sxS7HHQEQs3pGle9By3RPQ\"}]}";

static const char *const fuzz_audiences[] = {"api://openclaw-host.example",
                                             "6e3c5a1d-0b2f-4c7e-9d8a-1f2e3d4c5b6a"};

static struct oc_jwks *fuzz_keys;

static struct oc_verify_policy fuzz_policy(void)
{
    struct oc_verify_policy p = {
            .tenant_id = "8f0c1a2b-3d4e-4f50-9a6b-7c8d9e0f1a2b",
            .issuer_v1 = "https://sts.windows.net/{tenantid}/",
            .issuer_v2 = "https://login.microsoftonline.com/{tenantid}/v2.0",
            .audiences = fuzz_audiences,
            .n_audiences = 2,
            .alg_mask = 0,
            .now = 1750000600,
            .clock_skew = 300,
            .max_token_age = 86400,
    };
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_verify_policy p = fuzz_policy();
    struct oc_verify_result *res = NULL;
    struct oc_verify_report rep = {.explain = (size % 3) == 0};
    cJSON *claims = NULL;

    if (fuzz_keys == NULL &&
        oc_jwks_parse(fuzz_jwks_doc, sizeof(fuzz_jwks_doc) - 1, &fuzz_keys, NULL) < 0) {
        abort();
    }
    if (oc_verify_token((const char *)data, size, fuzz_keys, &p, &res, &rep) == 0) {
        oc_verify_result_free(res);
        res = NULL;
    }
    if (oc_json_parse_object((const char *)data, size, &claims, NULL) == 0) {
        const char *issuer = size % 2 == 0 ? fuzz_keys->keys[0].issuer : NULL;
        if (oc_verify_claims(claims, issuer, &p, &res, &rep) == 0) {
            oc_verify_result_free(res);
        }
    }
    return 0;
}
