#!/usr/bin/python3
# azure_identity_client.py mi|default SCOPE [CLIENT_ID]: the Azure SDK for
# Python as Debian packages it (python3-azure: azure.identity), unmodified,
# asks for a token the way an application does:
#   mi       ManagedIdentityCredential([client_id=CLIENT_ID]).get_token(SCOPE)
#   default  DefaultAzureCredential([managed_identity_client_id=CLIENT_ID])
#            .get_token(SCOPE), every credential kind left in its chain
# Nothing points it anywhere: the caller's environment decides (no
# AZURE_POD_IDENTITY_AUTHORITY_HOST: Azure IMDS's own address).
#
# Prints one JSON line: the claims that identify the token (never the
# token itself) or the error, and which SDK ran ("sdk"). Exit status 0
# with a token, 1 without, 2 on a usage error. For tests only.
import base64
import json
import sys
import time


def claims(jwt):
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[1] not in ("mi", "default"):
        print("usage: azure_identity_client.py mi|default SCOPE [CLIENT_ID]", file=sys.stderr)
        return 2
    kind, scope = sys.argv[1], sys.argv[2]
    client_id = sys.argv[3] if len(sys.argv) == 4 else None
    import azure.identity
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    ran = {"sdk": "azure-identity " + getattr(azure.identity, "__version__", "unknown"),
           "python": "%d.%d.%d" % sys.version_info[:3]}
    start = time.monotonic()
    try:
        if kind == "mi":
            cred = (ManagedIdentityCredential(client_id=client_id) if client_id
                    else ManagedIdentityCredential())
        else:
            cred = (DefaultAzureCredential(managed_identity_client_id=client_id) if client_id
                    else DefaultAzureCredential())
        tok = cred.get_token(scope)
        c = claims(tok.token)
        out = {"ok": True, "appid": c.get("appid") or c.get("azp"), "oid": c.get("oid"),
               "aud": c.get("aud"), "tid": c.get("tid"),
               "expires_in": int(tok.expires_on - time.time())}
        rc = 0
    except Exception as e:  # the SDK's own error, whatever its class
        out = {"ok": False, "name": type(e).__name__, "message": str(e)[:1500]}
        rc = 1
    out["seconds"] = round(time.monotonic() - start, 2)
    out.update(ran)
    print(json.dumps(out))
    return rc


if __name__ == "__main__":
    sys.exit(main())
