"""Command line entry point: start the tenant, write the state directory,
stop cleanly on SIGTERM/SIGINT."""

import argparse
import json
import os
import signal
import ssl
import sys
import threading
import time

from . import pki
from .model import Directory
from .server import TenantApp, TenantHTTPServer
from .tokens import Config

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SEED = os.path.join(HERE, "seed.json")
DAEMON_READY_TIMEOUT = 30


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="tenant",
        description="Local imitation of a Microsoft Entra ID tenant (tests only; "
                    "listens on 127.0.0.1 only).")
    p.add_argument("--state", required=True, help="state directory (created if needed)")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free)")
    p.add_argument("--seed", default=DEFAULT_SEED, help="seed JSON (default: seed.json)")
    p.add_argument("--issuer-host-v2", default="login.microsoftonline.com")
    p.add_argument("--issuer-host-v1", default="sts.windows.net")
    p.add_argument("--token-lifetime", type=int, default=None,
                   help="fixed access token lifetime in seconds (default random 3600-5400)")
    p.add_argument("--daemon", action="store_true",
                   help="run in the background; return once DIR/ready exists")
    p.add_argument("--verbose", action="store_true", help="log requests to stderr")
    return p.parse_args(argv)


def _write_atomic(path, data, mode=0o644):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _daemonize(state):
    """Fork; the parent waits for DIR/ready and exits.  Returns in the child."""
    ready = os.path.join(state, "ready")
    pid = os.fork()
    if pid > 0:
        deadline = time.monotonic() + DAEMON_READY_TIMEOUT
        while time.monotonic() < deadline:
            if os.path.exists(ready):
                with open(ready) as handle:
                    sys.stdout.write(handle.read().strip() + "\n")
                sys.stdout.flush()
                os._exit(0)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                sys.stderr.write("tenant: background process exited early (status %d); "
                                 "see %s\n" % (status, os.path.join(state, "tenant.log")))
                os._exit(1)
            time.sleep(0.05)
        sys.stderr.write("tenant: not ready after %d s; stopping pid %d\n"
                         % (DAEMON_READY_TIMEOUT, pid))
        os.kill(pid, signal.SIGTERM)
        os._exit(1)
    os.setsid()
    log = os.open(os.path.join(state, "tenant.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                  0o644)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(devnull)
    os.close(log)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    state = os.path.abspath(args.state)
    os.makedirs(state, mode=0o700, exist_ok=True)
    ready_path = os.path.join(state, "ready")
    pid_path = os.path.join(state, "pid")
    _remove(ready_path)
    with open(args.seed) as handle:
        seed = json.load(handle)

    if args.daemon:
        _daemonize(state)

    config = Config(issuer_host_v1=args.issuer_host_v1, issuer_host_v2=args.issuer_host_v2,
                    token_lifetime=args.token_lifetime)
    directory = Directory()
    directory.load_seed(seed, config.now())

    ca_key, ca_cert = pki.new_ca()
    server_key, server_cert = pki.new_server_cert(ca_key, ca_cert)
    _write_atomic(os.path.join(state, "ca.pem"), pki.cert_pem(ca_cert))
    _write_atomic(os.path.join(state, "server.pem"), pki.cert_pem(server_cert))
    _write_atomic(os.path.join(state, "server.key"), pki.key_pem(server_key), 0o600)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(os.path.join(state, "server.pem"),
                            os.path.join(state, "server.key"))

    keyring = pki.KeyRing()
    app = TenantApp(directory, keyring, config, state, verbose=args.verbose)
    server = TenantHTTPServer(app, context, args.port)
    port = server.server_address[1]
    base_url = "https://127.0.0.1:%d" % port
    config.base_url = base_url

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="tenant-http", daemon=True)
    thread.start()
    _write_atomic(pid_path, ("%d\n" % os.getpid()).encode())
    _write_atomic(os.path.join(state, "url"), (base_url + "\n").encode())
    _write_atomic(ready_path, (base_url + "\n").encode())
    sys.stdout.write(base_url + "\n")
    sys.stdout.flush()

    try:
        while not stop.wait(0.5):
            pass
    finally:
        _remove(ready_path)
        server.shutdown()
        server.server_close()
        _remove(pid_path)
    return 0
