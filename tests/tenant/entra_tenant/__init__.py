"""A local imitation of a Microsoft Entra ID tenant, for tests only.

It serves OIDC discovery, JWKS, the v1/v2 token endpoints, a Microsoft Graph
subset, managed identity endpoints (IMDS and Azure Arc) and a test control
API over HTTPS on the loopback interface.  It must never be used in
production and never listens on anything but 127.0.0.1.
"""
