/* fuzz_events.c - libFuzzer harness: events through the ABI.
**
** Each input is a sequence of events, one a line:
**   TYPE TICKET SECONDS name=value;name=value...
** (TYPE an event type name such as "create", TICKET and SECONDS decimal;
** SECONDS after the previous event).  A fresh instance on the default
** rules (PROMPTLY_RULES, else the source tree's rules/) takes them through
** promptly_submit and virtual time, then runs a week further.  Refused
** events are fine; what must never happen is a crash, a leak, undefined
** behaviour, or a callback string that is not one line of UTF-8.
*/
#include "config.h"

#include "promptly.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
must_be_text(const char *s)
{
  if (s != NULL && (!pr_utf8_valid(s, strlen(s), NULL) ||
                    strchr(s, '\n') != NULL)) {
    abort();
  }
}


static void
on_log(void *ud, int32_t level, const char *msg)
{
  (void)ud;
  (void)level;
  must_be_text(msg);
}


static int32_t
on_write(void *ud, int64_t ticket, int64_t at_ms, const promptly_attr *f,
         uint32_t n)
{
  (void)ud;
  (void)ticket;
  (void)at_ms;
  for (uint32_t i = 0; i < n; i++) {
    must_be_text(f[i].name);
    must_be_text(f[i].value);
  }
  return 0;
}


static int32_t
on_action(void *ud, int64_t ticket, int64_t at_ms, const char *action,
          const promptly_attr *args, uint32_t n, const char *key)
{
  (void)ud;
  (void)ticket;
  (void)at_ms;
  must_be_text(action);
  must_be_text(key);
  for (uint32_t i = 0; i < n; i++) {
    must_be_text(args[i].name);
    must_be_text(args[i].value);
  }
  return 0;
}


static const char *
rules_dir(void)
{
  const char *d = getenv("PROMPTLY_RULES");
  return d != NULL ? d : PR_FUZZ_SRCDIR "/rules";
}


#define MAX_ATTRS 16

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > 65536) {
    return 0;
  }
  char *text = malloc(size + 1);
  if (text == NULL) {
    return 0;
  }
  memcpy(text, data, size);
  text[size] = '\0';

  promptly_host host;
  memset(&host, 0, sizeof(host));
  host.struct_size = sizeof(host);
  host.abi_version = PROMPTLY_ABI_VERSION;
  host.log = on_log;
  host.write_fields = on_write;
  host.do_action = on_action;
  promptly *p = NULL;
  char err[512];
  if (promptly_open(&host, rules_dir(), &p, err, sizeof(err)) != PROMPTLY_OK) {
    fprintf(stderr, "fuzz_events: %s\n", err);
    abort();
  }
  int64_t at = INT64_C(1795194000000); /* 2026-11-20T17:00:00Z */
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    char type[32] = "";
    long long ticket = 0, secs = 0;
    int used = 0;
    if (sscanf(line, "%31s %lld %lld%n", type, &ticket, &secs, &used) < 3) {
      continue;
    }
    promptly_attr attrs[MAX_ATTRS];
    uint32_t n = 0;
    char *rest = line + used;
    while (*rest == ' ') {
      rest++;
    }
    char *s2 = NULL;
    for (char *kv = strtok_r(rest, ";", &s2); kv != NULL && n < MAX_ATTRS;
         kv = strtok_r(NULL, ";", &s2)) {
      char *eq = strchr(kv, '=');
      if (eq == NULL) {
        continue;
      }
      *eq = '\0';
      attrs[n].name = kv;
      attrs[n].value = eq + 1;
      n++;
    }
    if (secs > 0 && secs < INT64_C(100000000)) {
      at += secs * 1000;
    }
    promptly_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.struct_size = sizeof(ev);
    ev.type = promptly_event_type(type);
    ev.ticket = ticket;
    ev.at_ms = at;
    ev.attrs = attrs;
    ev.n_attrs = n;
    err[0] = '\0';
    if (promptly_submit(p, &ev, err, sizeof(err)) == PROMPTLY_OK) {
      promptly_advance(p, at);
    }
    /* The reason a host gets for a refused event is text too. */
    must_be_text(err);
  }
  promptly_advance(p, at + INT64_C(7) * 86400 * 1000);
  promptly_close(p);
  free(text);
  return 0;
}
