/* sla_events.h - the SLA events a person reads (ABI 1.2, promptly.h
** "SLA events"): collected while the core handles one change of a ticket,
** merged, and handed to the host as one JSON line each.
**
** The core adds what it saw (a field that changed, an exception applied,
** the actions of a ladder step handed out or held); pr_sla_evts_emit
** joins each step to the breach or at-risk event of the same metric and
** cycle in the same change (a notify at "100%" belongs to the breach it
** announces), orders them, and clears the list.  The collector keeps its
** memory between changes.  Loop thread only; used only when the host has
** the sla_event callback, so that other hosts pay nothing.
*/
#ifndef PR_SLA_EVENTS_H
#define PR_SLA_EVENTS_H

#include "sla.h"
#include "util.h"

#include <stdint.h>

/* Kinds, in the order a change's events are handed out. */
#define PR_SLA_EVK_APPLIED          0  /* a policy applies (it had none) */
#define PR_SLA_EVK_POLICY           1  /* another policy applies */
#define PR_SLA_EVK_EXCEPTION        2
#define PR_SLA_EVK_EXCEPTION_UNDONE 3
#define PR_SLA_EVK_PAUSED           4
#define PR_SLA_EVK_RESUMED          5
#define PR_SLA_EVK_AT_RISK          6
#define PR_SLA_EVK_BREACHED         7
#define PR_SLA_EVK_MET              8
#define PR_SLA_EVK_STEP             9  /* a ladder step or wait timer */
#define PR_SLA_EVK_MET_LATE        10  /* a breached cycle ended (answered) */
#define PR_SLA_EVK_COUNT           11

typedef struct pr_sla_evt {
  int32_t kind;                 /* PR_SLA_EVK_* */
  int64_t at_ms;
  char metric[PR_SLA_NAME_MAX]; /* "" for none; "wait" for a wait timer */
  uint32_t cycle;               /* 0 for none */
  char site[128];               /* "file:line", "" for none */
  char policy[256];             /* "" for none */
  char due[PR_ISO_LEN];         /* "" for none */
  char threshold[40];           /* a step's label, "" for none */
  char exception[PR_SLA_NAME_MAX];
  char reached_at[PR_ISO_LEN];  /* a step held for quiet hours */
  char *reason;                 /* an exception's; NULL for none */
  pr_buf actions;               /* JSON objects, ", "-joined */
  uint32_t n_actions;
  int32_t merged;               /* a step joined to another event */
} pr_sla_evt;

typedef struct pr_sla_evts {
  pr_sla_evt *v;
  uint32_t n;
  uint32_t cap;
} pr_sla_evts;

typedef void (*pr_sla_evt_fn)(void *ud, int64_t ticket, int64_t at_ms,
                                const char *json);

void pr_sla_evts_init(pr_sla_evts *e);
void pr_sla_evts_free(pr_sla_evts *e);

/* A new event of kind at at_ms for metric (NULL: none) and cycle, made at
** site (NULL: none); its other strings empty.  NULL when out of memory
** (the event is lost, the list is as it was). */
pr_sla_evt *pr_sla_evts_add(pr_sla_evts *e, int32_t kind,
                                int64_t at_ms, const char *metric,
                                uint32_t cycle, const char *site);

/* Copy src (NULL: "") into one of an event's strings, truncated. */
void pr_sla_evt_put(char *dst, size_t len, const char *src);

/* An action of a ladder step (or wait timer) declared at site: handed to
** the host now (held 0; one held for quiet hours and delivered now
** carries its reached_at), or held for quiet hours until a->at_ms (held
** 1, a notice at the instant it was reached).  The actions of one step,
** metric, cycle and instant make one step event.  0 or ENOMEM. */
int pr_sla_evts_action(pr_sla_evts *e, const pr_sla_action *a,
                         const char *site, int held);

/* Join the steps to their breach or at-risk events, hand every event to
** fn as JSON (priority: the ticket's level id now, NULL for none), in
** kind order (stable), and empty the list. */
void pr_sla_evts_emit(pr_sla_evts *e, int64_t ticket,
                        const char *priority, pr_sla_evt_fn fn, void *ud);

#endif /* PR_SLA_EVENTS_H */
