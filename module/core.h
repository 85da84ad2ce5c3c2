/* core.h - an instance: its loop, inbound queue, tickets, rules, deadlines.
**
** abi.c checks arguments and versions and calls these; core.c wires the
** units together.  The module creates no thread: the host runs the loop
** with pr_core_run/pr_core_advance on a thread of its choosing, and every
** host callback happens there.  pr_core_submit and pr_core_stop may be
** called from any thread.
*/
#ifndef PR_CORE_H
#define PR_CORE_H

#include "promptly.h"

#include <stddef.h>
#include <stdint.h>

/* Open an instance: copy host (already version-checked, struct_size bytes
** of it), load the rules in rules_dir, start watching the folder. */
int pr_core_open(const promptly_host *host, size_t host_size,
                 const char *rules_dir, promptly **out, char *err,
                 size_t errlen);

/* Validate and copy an event, queue it, wake the loop.  Any thread. */
int pr_core_submit(promptly *p, const promptly_event *ev, char *err,
                   size_t errlen);

int pr_core_run(promptly *p, int32_t mode);
int pr_core_stop(promptly *p);
int pr_core_advance(promptly *p, int64_t t_ms);
int pr_core_reload(promptly *p, char *err, size_t errlen);
int pr_core_close(promptly *p);

/* Tell the ticket's clocks at at_ms (0 = now) through host->trace. */
int pr_core_explain(promptly *p, int64_t ticket, int64_t at_ms);

/* The records of every cycle still open at at_ms (0 = now) to
** host->record (and trace), tickets in id order. */
int pr_core_records_open(promptly *p, int64_t at_ms);

/* Load a rules folder once, reporting each problem through host->log. */
int pr_core_check(const promptly_host *host, size_t host_size,
                  const char *rules_dir, char *err, size_t errlen);

/* Event type names, indexed by PROMPTLY_EV_*. */
const char *pr_event_type_name(int32_t type);
int32_t pr_event_type_find(const char *name);

#endif /* PR_CORE_H */
