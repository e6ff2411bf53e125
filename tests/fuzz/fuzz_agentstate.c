/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for openclawd's lock file, STATE_DIR/locked-agents
 * (helper/daemon/oc_agentstate.c): admin locks and reported lockouts. Whatever
 * the parser makes of the input, the text written for that state must
 * parse back to the same state and be written again byte for byte.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helper/daemon/oc_agentstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_AGENTS 3
#define NOW      1700000000

static struct oc_agent agents[N_AGENTS] = {
        {.name = "agent-alpha"}, {.name = "agent-beta"}, {.name = "a"}};
static const struct oc_config cfg = {.agents = agents, .n_agents = N_AGENTS};

struct state {
    struct oc_agentstate s;
    bool locked[N_AGENTS];
    int64_t lockout_until[N_AGENTS];
    uint32_t sessions[N_AGENTS];
};

static void state_init(struct state *st)
{
    memset(st, 0, sizeof(*st));
    st->s.n = N_AGENTS;
    st->s.locked = st->locked;
    st->s.lockout_until = st->lockout_until;
    st->s.sessions = st->sessions;
    st->s.lock_file = (char *)"locked-agents (fuzz)";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct state a, b;
    char *in, *text1 = NULL, *text2 = NULL;
    size_t len1 = 0, len2 = 0;

    if (size > OC_AGENTSTATE_FILE_MAX) {
        return 0;
    }
    in = malloc(size + 1);
    if (in == NULL) {
        return 0;
    }
    memcpy(in, data, size);
    in[size] = '\0';
    state_init(&a);
    oc_agentstate_parse(&a.s, &cfg, in, size);
    free(in);
    if (oc_agentstate_format(&a.s, &cfg, NOW, &text1, &len1) < 0) {
        return 0;
    }
    if (strlen(text1) != len1) {
        abort();
    }
    state_init(&b);
    oc_agentstate_parse(&b.s, &cfg, text1, len1);
    for (size_t i = 0; i < N_AGENTS; i++) {
        /* a lockout that ended by NOW is not written: it reads back as none */
        int64_t want = a.lockout_until[i] > NOW ? a.lockout_until[i] : 0;
        if (a.locked[i] != b.locked[i] || b.lockout_until[i] != want) {
            abort();
        }
    }
    free(text1);
    text1 = NULL;
    if (oc_agentstate_format(&a.s, &cfg, NOW, &text1, &len1) < 0 ||
        oc_agentstate_format(&b.s, &cfg, NOW, &text2, &len2) < 0 || len1 != len2 ||
        memcmp(text1, text2, len1) != 0) {
        abort();
    }
    free(text1);
    free(text2);
    return 0;
}
