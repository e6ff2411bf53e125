"""Error shapes of the imitated services (Entra token service, Microsoft
Graph, the managed identity endpoints)."""

import datetime
import uuid


def entra_timestamp(now=None) -> str:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%d %H:%M:%SZ")


class AadError(Exception):
    """An error of the Entra token service (login.microsoftonline.com)."""

    def __init__(self, status, error, code, message, headers=None):
        super().__init__("AADSTS%d: %s" % (code, message))
        self.status = status
        self.error = error
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self, correlation_id=None) -> dict:
        trace_id = str(uuid.uuid4())
        correlation_id = correlation_id or str(uuid.uuid4())
        stamp = entra_timestamp()
        description = ("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s"
                       % (self.code, self.message, trace_id, correlation_id, stamp))
        # Entra separates those trailer parts with CR LF.
        description = description.replace(" Trace ID:", "\r\nTrace ID:") \
                                 .replace(" Correlation ID:", "\r\nCorrelation ID:") \
                                 .replace(" Timestamp:", "\r\nTimestamp:")
        return {"error": self.error,
                "error_description": description,
                "error_codes": [self.code],
                "timestamp": stamp,
                "trace_id": trace_id,
                "correlation_id": correlation_id,
                "error_uri": "https://login.microsoftonline.com/error?code=%d" % self.code}


class GraphError(Exception):
    """An error of Microsoft Graph."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self, client_request_id=None) -> dict:
        request_id = str(uuid.uuid4())
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        return {"error": {"code": self.code, "message": self.message,
                          "innerError": {"date": now, "request-id": request_id,
                                         "client-request-id": client_request_id or request_id}}}


class ImdsError(Exception):
    """An error of the managed identity endpoint (IMDS / Azure Arc)."""

    def __init__(self, status, error, description, headers=None):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


class ControlError(Exception):
    """A bad request to the test control API."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


# Shorthands for the Entra errors this imitation produces.

def missing_parameter(name):
    return AadError(400, "invalid_request", 900144,
                    "The request body must contain the following parameter: '%s'." % name)


def invalid_scope(scope):
    return AadError(400, "invalid_scope", 70011,
                    "The provided request must include a 'scope' input parameter. The "
                    "provided value for the input parameter 'scope' is not valid. The "
                    "scope %s is not valid. Client credential flows must have a scope "
                    "value with /.default suffixed to the resource identifier "
                    "(application ID URI)." % scope)


def app_not_found(client_id, tenant_name):
    return AadError(400, "unauthorized_client", 700016,
                    "Application with identifier '%s' was not found in the directory "
                    "'%s'. This can happen if the application has not been installed by "
                    "the administrator of the tenant or consented to by any user in the "
                    "tenant. You may have sent your authentication request to the wrong "
                    "tenant." % (client_id, tenant_name))


def app_disabled(app_id, name):
    return AadError(400, "unauthorized_client", 7000112,
                    "Application '%s'(%s) is disabled." % (app_id, name))


def invalid_secret(app_id):
    return AadError(401, "invalid_client", 7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the "
                    "request is the client secret value, not the client secret ID, for a "
                    "secret added to app '%s'." % app_id)


def expired_secret(app_id):
    return AadError(401, "invalid_client", 7000222,
                    "The provided client secret keys for app '%s' are expired. Visit the "
                    "Azure portal to create new keys for your app: "
                    "https://aka.ms/NewClientSecret, or consider using certificate "
                    "credentials for added security: https://aka.ms/certCreds." % app_id)


def no_credential():
    return AadError(401, "invalid_client", 7000218,
                    "The request body must contain the following parameter: "
                    "'client_assertion' or 'client_secret'.")


def assertion_signature(detail):
    return AadError(401, "invalid_client", 700027,
                    "Client assertion failed signature validation. %s" % detail)


def assertion_time(detail):
    return AadError(401, "invalid_client", 700024,
                    "Client assertion is not within its valid time range. %s" % detail)


def assertion_malformed(detail):
    return AadError(401, "invalid_client", 50027,
                    "JWT token is invalid or malformed. %s" % detail)


def assertion_client_mismatch(detail):
    return AadError(401, "invalid_client", 700021,
                    "Client assertion application identifier doesn't match 'client_id' "
                    "parameter. %s" % detail)


def exchange_refused(detail):
    return AadError(401, "invalid_client", 50013,
                    "Assertion failed signature validation or is not valid for this "
                    "token exchange. %s" % detail)


def resource_not_found(resource, tenant_name):
    return AadError(400, "invalid_resource", 500011,
                    "The resource principal named %s was not found in the tenant named "
                    "%s. This can happen if the application has not been installed by the "
                    "administrator of the tenant or consented to by any user in the "
                    "tenant. You might have sent your authentication request to the "
                    "wrong tenant." % (resource, tenant_name))
