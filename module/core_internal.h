/* core_internal.h - what the files of an instance share: struct promptly
** and the functions one file calls in another.  core.c: the instance, its
** loop, tickets and their events, rules, deadlines, running, open and
** close; core_outbound.c: what goes to the host (fields, actions, outcome
** records, SLA events); core_explain.c: explanations and the records of
** open cycles; core_queue.c: checking, copying and queueing submitted
** events.  Not an interface: core.h is.  The instance's invariants are in
** core.c's opening comment.
*/
#ifndef PR_CORE_INTERNAL_H
#define PR_CORE_INTERNAL_H

#include "core.h"
#include "deadlines.h"
#include "rules.h"
#include "sla.h"
#include "sla_events.h"
#include "tickets.h"
#include "util.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* Limits on what one event may carry. */
#define PR_MAX_ATTRS     256
#define PR_MAX_ATTR_NAME 128
#define PR_MAX_EVENT     (8u << 20)

typedef struct pr_qevent {
  struct pr_qevent *next;
  int32_t type;
  int64_t ticket;
  int64_t at_ms;
  const char *source;  /* "" when the host gave none */
  uint32_t n;
  pr_kv attrs[];       /* strings follow in the same allocation */
} pr_qevent;

struct promptly {
  promptly_host host;  /* zero-extended copy of what the host passed */
  char *rules_dir;
  pr_rules *rules;

  uv_loop_t loop;
  uv_async_t wakeup;
  uv_timer_t timer;     /* the earliest deadline, in live time */
  uv_timer_t debounce;  /* hot reload */
  uv_fs_event_t watch;
  int watching;

  uv_mutex_t qlock;     /* guards qhead, qtail */
  pr_qevent *qhead;
  pr_qevent *qtail;

  atomic_int stop_requested;
  atomic_int busy;      /* a run, advance or close is under way */

  int virtual_time;     /* set by the first advance */
  int64_t vnow_ms;

  pr_tickets tickets;
  pr_deadlines deadlines;
  pr_buf attrs_buf;     /* the attributes handed to a record being built */

  /* SLA events of the change being handled (host.sla_event only), and
  ** what paused the ticket's clocks before it (the site of a resume). */
  pr_sla_evts events;
  char ev_status[64];
  uint32_t ev_holds;
  uint32_t ev_cond_first;

  /* Tickets merged (into > 0) or deleted (into = 0), sorted by id, so that
  ** a later event for one is named for what it is. */
  struct gone_ticket {
    int64_t id;
    int64_t into;
    int64_t at_ms;
  } *gone;
  size_t n_gone;
  size_t cap_gone;
};

/* core.c */
void core_acts_init(promptly *p, pr_sla_actions *a);
void core_arm_timer(promptly *p);
void core_log(promptly *p, int level, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
pr_sla_pick core_current_pick(const pr_ticket *t);
int core_enter(promptly *p);
void core_fire(promptly *p, const pr_deadline *d);
void core_fire_due(promptly *p);
const struct gone_ticket *core_gone_find(const promptly *p, int64_t id);
void core_handle_event(promptly *p, const pr_qevent *ev, int64_t at_ms);
void core_leave(promptly *p);
int64_t core_now_ms(promptly *p);
void core_oom(promptly *p, int64_t ticket);
int core_set_priority(pr_ticket *t, const char *id);
void core_sla_event(promptly *p, pr_ticket *t, int32_t kind,
                    const char *status, int64_t at_ms, pr_sla_actions *acts);
const pr_sla_set *core_sla_set(const promptly *p);
void core_trace(promptly *p, const pr_ticket *t, int64_t at_ms,
                const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));
void core_trace_policies(promptly *p, const pr_ticket *t,
                         const pr_sla_pick *pick, int64_t at_ms);

/* core_outbound.c */
int core_apply_priority_action(promptly *p, pr_ticket *t,
                               const pr_sla_action *a);
void core_carry_out(promptly *p, pr_ticket *t, pr_sla_actions *acts);
pr_sla_evt *core_event_add(promptly *p, const pr_ticket *t, int32_t kind,
                           int64_t at_ms, const char *metric, uint32_t cycle,
                           const char *site);
void core_events_begin(promptly *p, const pr_ticket *t);
void core_events_emit(promptly *p, const pr_ticket *t);
int core_events_on(const promptly *p);
void core_hand_records(promptly *p, const pr_ticket *t, pr_sla_actions *acts);
void core_publish(promptly *p, pr_ticket *t, int64_t at_ms);
void core_at_risk_turns(promptly *p, const pr_ticket *t, int64_t at_ms);

/* core_queue.c */
void core_drain_live(promptly *p);
void core_free_list(pr_qevent *list);
void core_on_wakeup(uv_async_t *h);
void core_queue_put_back(promptly *p, pr_qevent *list);
pr_qevent *core_queue_take_all(promptly *p);

#endif /* PR_CORE_INTERNAL_H */
