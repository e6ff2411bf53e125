/* SPDX-License-Identifier: MIT */
/*
 * policy.h: allowed source networks and allowed time windows.
 *
 * Pure functions over fixed-size structures: no allocation, no name
 * resolution, no clock (the caller passes the broken-down local time).
 */
#ifndef OC_POLICY_H
#define OC_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Most networks in one allow_networks list. */
#define OC_NETLIST_MAX 64
/* Longest single network item ("ffff:...:ffff/128" is 43 characters). */
#define OC_NET_TEXT_MAX 64
/* Most windows in one allow_time list. */
#define OC_TIMEWIN_MAX 32
/* Longest allow_time text we parse. */
#define OC_TIMEWIN_TEXT_MAX 1024

struct oc_net {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix; /* 0..32 or 0..128 */
};

struct oc_netlist {
    bool any; /* "any": no network restriction at all */
    size_t n;
    struct oc_net nets[OC_NETLIST_MAX];
};

/*
 * Parse one network: an IPv4 or IPv6 address, optionally "/PREFIX".
 * A bare address is a host (/32 or /128). Returns 0, -EINVAL (syntax),
 * -ERANGE (prefix too long for the family) or -EDOM (address has bits
 * set beyond the prefix, e.g. 10.0.0.1/8: write 10.0.0.0/8).
 */
int oc_net_parse(const char *text, struct oc_net *ret_net);

/*
 * Parse a list of networks separated by commas and/or whitespace, or the
 * single word "any". Returns 0, an error of oc_net_parse(), -EINVAL
 * (empty list, empty item, "any" mixed with networks) or -E2BIG (more
 * than OC_NETLIST_MAX items).
 */
int oc_netlist_parse(const char *text, struct oc_netlist *ret_list);

/* A list equal to "any". */
void oc_netlist_init_any(struct oc_netlist *list);

/*
 * Whether the textual address addr (PAM_RHOST) is inside the list.
 * addr must be a numeric IPv4 or IPv6 address; an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) also matches IPv4 networks. Unless the list
 * is "any" (which matches everything, including a missing address), a
 * host name, a scoped address (fe80::1%eth0), NULL or "" never matches:
 * the name in PAM_RHOST comes from a reverse lookup the client can
 * influence, and resolving it again is spoofable, so we never do it.
 */
bool oc_netlist_match(const struct oc_netlist *list, const char *addr);

/*
 * Time windows, e.g. "Mo-Fr 08:00-18:00, Sa 10:00-12:00".
 *   list  := "always" | window { "," window }
 *   window:= days " " HH:MM "-" HH:MM
 *   days  := day | day "-" day | "Al" (all) | "Wk" (Mo-Fr) | "Wd" (Sa,Su)
 *   day   := Mo Tu We Th Fr Sa Su (any case)
 * Start is inclusive, end exclusive; end may be 24:00. A window whose end
 * is before its start crosses midnight: "Fr 22:00-06:00" is Friday 22:00
 * to Saturday 06:00. Day ranges may wrap ("Fr-Mo").
 */
struct oc_timerange {
    uint8_t days;   /* bit d set: window starts on tm_wday d (0 = Sunday) */
    uint16_t start; /* minutes since midnight, 0..1439 */
    uint16_t end;   /* minutes since midnight, 1..1440, != start */
};

struct oc_timewin {
    bool always;
    size_t n;
    struct oc_timerange r[OC_TIMEWIN_MAX];
};

/*
 * Parse a time-window list. Returns 0, -EINVAL (syntax; start == end),
 * -E2BIG (too many windows or text longer than OC_TIMEWIN_TEXT_MAX).
 */
int oc_timewin_parse(const char *text, struct oc_timewin *ret_win);

/* A window list equal to "always". */
void oc_timewin_init_always(struct oc_timewin *win);

/*
 * Whether the local time tm (tm_wday, tm_hour, tm_min; from localtime_r)
 * falls inside a window. An out-of-range tm never matches.
 */
bool oc_timewin_match(const struct oc_timewin *win, const struct tm *tm);

#endif /* OC_POLICY_H */
