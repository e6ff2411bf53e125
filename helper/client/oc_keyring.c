/* SPDX-License-Identifier: MIT */
/* oc_keyring.c: openclaw-token --keyring, the Secret Service loop (see oc_keyring.h). */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib-unix.h>
#include <libsecret/secret.h>

#include "clock.h"
#include "helper/client/oc_keyring.h"

static const SecretSchema token_schema = {
        .name = OC_KEYRING_SCHEMA,
        .flags = SECRET_SCHEMA_NONE,
        .attributes =
                {
                        {"agent", SECRET_SCHEMA_ATTRIBUTE_STRING},
                        {"scope", SECRET_SCHEMA_ATTRIBUTE_STRING},
                        {NULL, 0},
                },
};

struct keyring_loop {
    GMainLoop *main;
    GDBusConnection *bus;
    oc_keyring_fetch_fn fetch;
    void *ctx;
    int status;
    unsigned failures;
    bool stored; /* an item of ours is in the keyring */
    bool bus_closed;
    int64_t expires_on; /* of the stored token */
    char agent[OC_USER_NAME_MAX + 1];
    char scope[OC_PROTO_SCOPE_MAX + 1];
};

static void stop(struct keyring_loop *l, int status)
{
    l->status = status;
    g_main_loop_quit(l->main);
}

/* Store t (consumed: wiped and freed). 0 or -EIO (message printed). */
static int store(struct keyring_loop *l, struct oc_keyring_token *t)
{
    GError *err = NULL;
    gchar *label = g_strdup_printf("openclaw token of agent %s for %s", t->agent, t->scope);
    gboolean ok = secret_password_store_sync(&token_schema, SECRET_COLLECTION_DEFAULT, label,
                                             t->access_token, NULL, &err, "agent", t->agent,
                                             "scope", t->scope, NULL);
    char when[32] = "?";
    struct tm tm;
    time_t e = (time_t)t->expires_on;

    g_free(label);
    oc_free_wipe_str(t->access_token);
    t->access_token = NULL;
    if (!ok) {
        fprintf(stderr,
                "openclaw-token: cannot store the token in the keyring: %s (is the session's "
                "keyring unlocked?)\n",
                err != NULL ? err->message : "unknown error");
        g_clear_error(&err);
        return -EIO;
    }
    /* Another agent or scope than before: the old item goes. */
    if (l->stored && (strcmp(l->agent, t->agent) != 0 || strcmp(l->scope, t->scope) != 0)) {
        (void)secret_password_clear_sync(&token_schema, NULL, NULL, "agent", l->agent, "scope",
                                         l->scope, NULL);
    }
    l->stored = true;
    l->expires_on = t->expires_on;
    (void)oc_strscpy(l->agent, sizeof(l->agent), t->agent);
    (void)oc_strscpy(l->scope, sizeof(l->scope), t->scope);
    if (gmtime_r(&e, &tm) != NULL) {
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    }
    fprintf(stderr,
            "openclaw-token: keyring: token of agent %s for %s stored, valid until %s UTC\n",
            t->agent, t->scope, when);
    return 0;
}

static gboolean on_timer(gpointer p)
{
    struct keyring_loop *l = p;
    struct oc_keyring_token t;
    enum oc_keyring_fetch r;
    int64_t next;

    memset(&t, 0, sizeof(t));
    r = l->fetch(l->ctx, &t);
    if (r == OC_KEYRING_FETCH_REFUSED) {
        oc_free_wipe_str(t.access_token);
        stop(l, 1);
        return G_SOURCE_REMOVE;
    }
    if (r == OC_KEYRING_FETCH_OK &&
        (!l->stored || t.expires_on != l->expires_on || strcmp(t.agent, l->agent) != 0 ||
         strcmp(t.scope, l->scope) != 0)) {
        if (store(l, &t) < 0) {
            r = OC_KEYRING_FETCH_RETRY;
        }
    }
    oc_free_wipe_str(t.access_token);
    if (r == OC_KEYRING_FETCH_OK) {
        /* Half the remaining lifetime: the daemon refreshes its token at 75-85 %
         * of the lifetime, so a new one is picked up well before expiry. */
        l->failures = 0;
        next = (l->expires_on - oc_now()) / 2;
    } else {
        if (++l->failures >= OC_KEYRING_FAILURES_MAX) {
            fprintf(stderr, "openclaw-token: keyring: giving up after %u failures in a row\n",
                    l->failures);
            stop(l, 1);
            return G_SOURCE_REMOVE;
        }
        next = (int64_t)OC_KEYRING_MIN_SLEEP << (l->failures - 1);
        next = next > OC_KEYRING_BACKOFF_MAX ? OC_KEYRING_BACKOFF_MAX : next;
    }
    next = next < OC_KEYRING_MIN_SLEEP ? OC_KEYRING_MIN_SLEEP : next;
    next = next > OC_KEYRING_MAX_SLEEP ? OC_KEYRING_MAX_SLEEP : next;
    g_timeout_add_seconds((guint)next, on_timer, l);
    return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer p)
{
    stop(p, 0);
    return G_SOURCE_REMOVE;
}

static void on_bus_closed(GDBusConnection *bus, gboolean vanished, GError *error, gpointer p)
{
    struct keyring_loop *l = p;

    (void)bus;
    (void)vanished;
    (void)error;
    fprintf(stderr, "openclaw-token: keyring: the session bus closed; exiting\n");
    l->bus_closed = true;
    stop(l, 0);
}

int oc_keyring_run(oc_keyring_fetch_fn fetch, void *ctx)
{
    const char *addr = getenv("DBUS_SESSION_BUS_ADDRESS");
    struct keyring_loop l;
    GError *err = NULL;

    if (addr == NULL || *addr == '\0') {
        fprintf(stderr, "openclaw-token: --keyring needs the session's D-Bus, and "
                        "DBUS_SESSION_BUS_ADDRESS is not set: run it inside the agent's session "
                        "(with a Secret Service such as gnome-keyring), or use openclaw-token "
                        "without --keyring\n");
        return 2;
    }
    memset(&l, 0, sizeof(l));
    l.fetch = fetch;
    l.ctx = ctx;
    l.bus = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, &err);
    if (l.bus == NULL) {
        fprintf(stderr, "openclaw-token: cannot connect to the session bus: %s\n",
                err != NULL ? err->message : "unknown error");
        g_clear_error(&err);
        return 2;
    }
    /* The shared connection would exit(1) the process when it closes: the
     * loop ends instead, and says why. */
    g_dbus_connection_set_exit_on_close(l.bus, FALSE);
    l.main = g_main_loop_new(NULL, FALSE);
    g_signal_connect(l.bus, "closed", G_CALLBACK(on_bus_closed), &l);
    g_unix_signal_add(SIGTERM, on_signal, &l);
    g_unix_signal_add(SIGINT, on_signal, &l);
    g_unix_signal_add(SIGHUP, on_signal, &l);
    g_idle_add(on_timer, &l);
    g_main_loop_run(l.main);

    /* Leave no token at rest in the keyring once the session is over. */
    if (l.stored && !l.bus_closed && !g_dbus_connection_is_closed(l.bus)) {
        (void)secret_password_clear_sync(&token_schema, NULL, NULL, "agent", l.agent, "scope",
                                         l.scope, NULL);
    }
    g_main_loop_unref(l.main);
    g_object_unref(l.bus);
    return l.status;
}
