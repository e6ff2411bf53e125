/* SPDX-License-Identifier: MIT */
/* oc_agentstate.c: sessions per agent and persisted admin locks (see oc_agentstate.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "helper/daemon/oc_agentstate.h"
#include "util.h"

static ssize_t agent_index(const struct oc_config *cfg, const char *name, size_t len)
{
    for (size_t i = 0; i < cfg->n_agents; i++) {
        if (strlen(cfg->agents[i].name) == len && memcmp(cfg->agents[i].name, name, len) == 0) {
            return (ssize_t)i;
        }
    }
    return -1;
}

void oc_agentstate_parse(struct oc_agentstate *s, const struct oc_config *cfg, char *buf,
                         size_t have)
{
    for (char *line = buf, *nl; line < buf + have; line = nl + 1) {
        nl = strchr(line, '\n');
        if (nl == NULL) {
            nl = buf + have;
        }
        *nl = '\0';
        if (line[0] == '\0' || line[0] == '#') {
            continue;
        }
        /* "NAME" (admin lock) or "NAME lockout-until=EPOCH" (a lockout
         * pam_openclaw reported; INT64_MAX: until agent-unlock) */
        char *sp = strchr(line, ' ');
        int64_t until = 0;
        if (sp != NULL) {
            *sp = '\0';
            if (strncmp(sp + 1, "lockout-until=", 14) != 0 ||
                oc_parse_i64(sp + 15, 1, INT64_MAX, &until) < 0) {
                fprintf(stderr,
                        "openclawd: %s: a line for '%.64s' is not 'NAME' nor 'NAME "
                        "lockout-until=EPOCH'; ignored\n",
                        s->lock_file, oc_valid_user_name(line) ? line : "(invalid name)");
                continue;
            }
        }
        ssize_t a = agent_index(cfg, line, strlen(line));
        if (a < 0) {
            fprintf(stderr,
                    "openclawd: %s names '%.64s', which is not a configured agent; ignored (it "
                    "is dropped when the file is next written)\n",
                    s->lock_file, oc_valid_user_name(line) ? line : "(invalid name)");
            continue;
        }
        if (sp != NULL) {
            s->lockout_until[a] = until;
        } else {
            s->locked[a] = true;
        }
    }
}

/* Read the lock file into s->locked. Absent: 0. */
static int load_locks(struct oc_agentstate *s, const struct oc_config *cfg, char *err,
                      size_t errlen)
{
    char *buf = NULL;
    size_t have = 0;
    struct stat st;
    int fd, r = 0;

    fd = open(s->lock_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT) {
            return 0;
        }
        r = -errno;
        (void)snprintf(err, errlen, "%s: %s", s->lock_file, strerror(errno));
        return r;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > OC_AGENTSTATE_FILE_MAX) {
        (void)snprintf(err, errlen, "%s: not a regular file of at most %u bytes", s->lock_file,
                       OC_AGENTSTATE_FILE_MAX);
        close(fd);
        return -EINVAL;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    while (have < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        have += (size_t)n;
    }
    close(fd);
    buf[have] = '\0';
    oc_agentstate_parse(s, cfg, buf, have);
    free(buf);
    return r;
}

int oc_agentstate_init(struct oc_agentstate *s, const struct oc_config *cfg, const char *state_dir,
                       char *why, size_t why_len)
{
    size_t n = cfg->n_agents > 0 ? cfg->n_agents : 1;
    int r;

    memset(s, 0, sizeof(*s));
    s->n = cfg->n_agents;
    s->sessions = calloc(n, sizeof(*s->sessions));
    s->locked = calloc(n, sizeof(*s->locked));
    s->lockout_until = calloc(n, sizeof(*s->lockout_until));
    if (s->sessions == NULL || s->locked == NULL || s->lockout_until == NULL ||
        asprintf(&s->lock_file, "%s/%s", state_dir, OC_AGENTSTATE_FILE) < 0) {
        s->lock_file = NULL;
        oc_agentstate_free(s);
        (void)snprintf(why, why_len, "out of memory");
        return -ENOMEM;
    }
    r = load_locks(s, cfg, why, why_len);
    if (r < 0) {
        oc_agentstate_free(s);
    }
    return r;
}

void oc_agentstate_free(struct oc_agentstate *s)
{
    free(s->sessions);
    free(s->locked);
    free(s->lockout_until);
    free(s->lock_file);
    memset(s, 0, sizeof(*s));
}

/* "lockout-until=" and an int64 */
#define LOCKOUT_SUFFIX_MAX (1 + 14 + 20)

int oc_agentstate_format(const struct oc_agentstate *s, const struct oc_config *cfg, int64_t now,
                         char **ret_buf, size_t *ret_len)
{
    size_t len = 0, off = 0;
    char *buf;

    /* one locked agent's name a line; a lockout still running: the name
     * and its end */
    for (size_t i = 0; i < s->n; i++) {
        if (s->locked[i]) {
            len += strlen(cfg->agents[i].name) + 1;
        }
        if (s->lockout_until[i] > now) {
            len += strlen(cfg->agents[i].name) + LOCKOUT_SUFFIX_MAX + 1;
        }
    }
    buf = malloc(len + 1);
    if (buf == NULL) {
        return -ENOMEM;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < s->n; i++) {
        if (s->locked[i]) {
            off += (size_t)snprintf(buf + off, len + 1 - off, "%s\n", cfg->agents[i].name);
        }
        if (s->lockout_until[i] > now) {
            off += (size_t)snprintf(buf + off, len + 1 - off, "%s lockout-until=%lld\n",
                                    cfg->agents[i].name, (long long)s->lockout_until[i]);
        }
    }
    *ret_buf = buf;
    *ret_len = off;
    return 0;
}

static int save_locks(const struct oc_agentstate *s, const struct oc_config *cfg)
{
    size_t len = 0;
    char *buf = NULL;
    int r;

    r = oc_agentstate_format(s, cfg, oc_now(), &buf, &len);
    if (r < 0) {
        return r;
    }
    /* ".locked-agents.XXXXXX" next to the file, like every file the daemon
     * replaces (oc_sweep.h removes those a killed daemon left behind) */
    r = oc_replace_file(s->lock_file, NULL, buf, len, 0600, (uid_t)-1, (gid_t)-1);
    free(buf);
    return r;
}

int oc_agentstate_set_locked(struct oc_agentstate *s, const struct oc_config *cfg, size_t a,
                             bool locked)
{
    if (a >= s->n) {
        return -EINVAL;
    }
    s->locked[a] = locked;
    if (!locked) {
        s->lockout_until[a] = 0;
    }
    return save_locks(s, cfg);
}

int oc_agentstate_set_lockout(struct oc_agentstate *s, const struct oc_config *cfg, size_t a,
                              int64_t until)
{
    if (a >= s->n) {
        return -EINVAL;
    }
    s->lockout_until[a] = until;
    return save_locks(s, cfg);
}

uint32_t oc_agentstate_session(struct oc_agentstate *s, size_t a, int delta)
{
    if (a >= s->n) {
        return 0;
    }
    if (delta > 0 && s->sessions[a] < OC_AGENTSTATE_SESSIONS_MAX) {
        s->sessions[a]++;
    } else if (delta < 0 && s->sessions[a] > 0) {
        s->sessions[a]--;
    }
    return s->sessions[a];
}
