/* run.c - "promptly run": JSON-lines events in, the module's writes and
** actions out as JSON lines, in virtual time (a replay) or live.
**
** Virtual time (the default) is one thread: each event is submitted and
** the instance advanced to the event's instant, so the module handles
** events and deadlines in time order, each at its own instant.
**
** Live (--live): a reader thread parses and submits lines as they arrive
** while the main thread runs the instance's loop.  The reader waits on the
** input and on a self-pipe, which wakes it for --strict, for the end of the
** loop and for SIGINT/SIGTERM; it stops the loop at the end of the input or
** at the --until instant.  The module calls write_fields and do_action on
** the main thread only, so stdout has one writer; log may come from both.
**
** Restarts (--done, --record): the module asks for each action with an
** idempotency key and leaves the dedupe to the host (promptly.h,
** do_action).  --done FILE lists the keys a previous run carried out, one
** per line: such an action is not printed again.  --record FILE appends
** the key of each action printed, flushed line by line after the action's
** line, so that a run killed at any point lost at most the record of the
** action it was printing (printed again on restart: at least once).
**
** Records (--records FILE): the module's outcome record of each cycle that
** ends is appended to FILE as it comes (the bytes the module hands over,
** one line each); at the end of the input, the records of the cycles
** still open (outcome active or paused) follow, as of --until or the last
** event.  SLA events (--sla-events FILE, ABI 1.2): the module's lines of
** what a person reads in a ticket's history, appended the same way.
*/
#include "config.h"

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

/* A longer input line is reported and skipped, never buffered whole. */
#define RUN_MAX_LINE ((size_t)1 << 20)
#define RUN_READ_SIZE 65536
#define RUN_NO_TIME INT64_MAX

/* --- Reading lines -------------------------------------------------------- */

typedef struct line_reader {
  int fd;
  char *buf;
  size_t cap;
  size_t start;  /* first byte not returned yet */
  size_t end;    /* end of the bytes read */
  int eof;
  int skipping;  /* inside a line longer than RUN_MAX_LINE */
} line_reader;

enum {
  LR_ERROR = -1,
  LR_EOF = 0,
  LR_LINE = 1,
  LR_WOKEN = 2,    /* the self-pipe is readable */
  LR_TIMEOUT = 3,  /* the deadline passed */
  LR_READY = 4     /* the input is readable */
};


static int64_t
real_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* Wait until fd (ignored if -1) is readable, wake_fd is readable or the
** real clock reaches deadline_ms.  The self-pipe wins over input. */
static int
wait_readable(int fd, int wake_fd, int64_t deadline_ms)
{
  for (;;) {
    int timeout = -1;
    if (deadline_ms != RUN_NO_TIME) {
      int64_t left = deadline_ms - real_now_ms();
      if (left <= 0) {
        return LR_TIMEOUT;
      }
      timeout = left > INT_MAX ? INT_MAX : (int)left;
    }
    struct pollfd pf[2] = {
      {.fd = fd, .events = POLLIN},
      {.fd = wake_fd, .events = POLLIN},
    };
    int n = poll(pf, 2, timeout);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return LR_ERROR;
    }
    if (pf[1].revents != 0) {
      return LR_WOKEN;
    }
    if (pf[0].revents != 0) {
      return LR_READY;
    }
  }
}


/* The next line, NUL-terminated in place, without its "\n" (or "\r\n").
** *too_long is set for a line that was cut (its text is then empty).  With
** wake_fd -1 and no deadline this is a plain blocking read. */
static int
lr_next(line_reader *lr, int wake_fd, int64_t deadline_ms, char **line,
        size_t *len, int *too_long)
{
  for (;;) {
    char *nl = NULL;
    if (lr->end > lr->start) {
      nl = memchr(lr->buf + lr->start, '\n', lr->end - lr->start);
    }
    if (nl != NULL || (lr->eof && (lr->end > lr->start || lr->skipping))) {
      size_t stop = nl != NULL ? (size_t)(nl - lr->buf) : lr->end;
      *line = lr->buf + lr->start;
      *len = stop - lr->start;
      if (*len > 0 && (*line)[*len - 1] == '\r') {
        *len -= 1;
      }
      (*line)[*len] = '\0';
      *too_long = lr->skipping;
      if (lr->skipping) {
        *len = 0;
        (*line)[0] = '\0';
      }
      lr->skipping = 0;
      lr->start = nl != NULL ? stop + 1 : lr->end;
      return LR_LINE;
    }
    if (lr->eof) {
      return LR_EOF;
    }

    /* No whole line yet: drop what is too long, make room, read more. */
    if (lr->end - lr->start >= RUN_MAX_LINE) {
      lr->skipping = 1;
      lr->start = lr->end = 0;
    } else if (lr->start > 0) {
      memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
      lr->end -= lr->start;
      lr->start = 0;
    }
    size_t need = lr->end + RUN_READ_SIZE + 1;
    if (lr->cap < need) {
      size_t cap = lr->cap * 2 > need ? lr->cap * 2 : need;
      char *buf = realloc(lr->buf, cap);
      if (buf == NULL) {
        errno = ENOMEM;
        return LR_ERROR;
      }
      lr->buf = buf;
      lr->cap = cap;
    }
    if (wake_fd >= 0 || deadline_ms != RUN_NO_TIME) {
      int w = wait_readable(lr->fd, wake_fd, deadline_ms);
      if (w != LR_READY) {
        return w;
      }
    }
    ssize_t n = read(lr->fd, lr->buf + lr->end, lr->cap - lr->end - 1);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        /* A non-blocking input (inherited): wait instead of spinning. */
        int w = wait_readable(lr->fd, wake_fd, deadline_ms);
        if (w != LR_READY) {
          return w;
        }
        continue;
      }
      return LR_ERROR;
    }
    if (n == 0) {
      lr->eof = 1;
    } else {
      lr->end += (size_t)n;
    }
  }
}


/* --- Keys carried out before (--done) -------------------------------------- */

/* A sorted array of keys, searched with bsearch: loaded once, read-only. */
typedef struct key_set {
  char **v;
  size_t n;
  size_t cap;
} key_set;


static int
cmp_key(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}


static void
key_set_free(key_set *ks)
{
  for (size_t i = 0; i < ks->n; i++) {
    free(ks->v[i]);
  }
  free(ks->v);
  memset(ks, 0, sizeof(*ks));
}


static int
key_set_has(const key_set *ks, const char *key)
{
  return ks->n > 0 &&
         bsearch(&key, ks->v, ks->n, sizeof(*ks->v), cmp_key) != NULL;
}


/* Load the keys of path, one per line (a trailing "\r" and blank lines
** are ignored); a missing file is no keys if missing_ok.  0, or -1 with
** the reason on stderr. */
static int
key_set_load(key_set *ks, const char *path, int missing_ok)
{
  FILE *f = fopen(path, "re");
  if (f == NULL && errno == ENOENT && missing_ok) {
    return 0;
  }
  if (f == NULL) {
    fprintf(stderr, "promptly: cannot open the done keys %s: %s\n", path,
            strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t linecap = 0;
  ssize_t len;
  int rc = 0;
  while ((len = getline(&line, &linecap, f)) >= 0) {
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
      line[--len] = '\0';
    }
    if (len == 0) {
      continue;
    }
    if (ks->n == ks->cap) {
      size_t cap = ks->cap ? ks->cap * 2 : 64;
      char **v = realloc(ks->v, cap * sizeof(*v));
      if (v == NULL) {
        rc = -1;
        break;
      }
      ks->v = v;
      ks->cap = cap;
    }
    ks->v[ks->n] = strdup(line);
    if (ks->v[ks->n] == NULL) {
      rc = -1;
      break;
    }
    ks->n++;
  }
  if (rc != 0) {
    fprintf(stderr, "promptly: %s: out of memory\n", path);
  } else if (ferror(f)) {
    fprintf(stderr, "promptly: cannot read the done keys %s: %s\n", path,
            strerror(errno));
    rc = -1;
  }
  free(line);
  fclose(f);
  if (rc == 0 && ks->n > 1) {
    qsort(ks->v, ks->n, sizeof(*ks->v), cmp_key);
  }
  return rc;
}


/* --- The run -------------------------------------------------------------- */

typedef struct run_ctx {
  cli_module m;
  promptly *p;
  int live;
  int strict;
  int64_t until_ms;     /* RUN_NO_TIME when not given */
  int64_t vnow_ms;      /* virtual time: the instant of the current event */
  int64_t last_at_ms;   /* virtual time: the last accepted event's instant */
  long lineno;
  line_reader in;
  int wake[2];          /* live: the self-pipe that wakes the reader */
  atomic_int bad;       /* bad input: lines, events the module refused */
  atomic_int halted;    /* --strict met bad input: stop at once */
  atomic_int failed;    /* an I/O or module error: exit 1 */
  atomic_int rule_failed;  /* a rule failed on a ticket: exit 1, at the end */
  int opening;          /* inside promptly_open (main thread only) */
  char open_error[1024];  /* the first error logged while opening */
  int64_t explain;      /* explain: the ticket told about; 0 = plain run */
  key_set done;         /* --done: keys carried out before */
  FILE *record;         /* --record: where carried-out keys are appended */
  int record_failed;    /* --record could not be written: no more actions */
  const char *record_path;
  long skipped;         /* actions not printed: their key was done */
  FILE *records;        /* --records: outcome records, JSON lines */
  const char *records_path;
  FILE *sla_events;     /* --sla-events: SLA events, JSON lines */
  const char *sla_events_path;
} run_ctx;

/* The write end of the self-pipe, for the signal handler. */
static volatile int run_signal_fd = -1;


static void
on_signal(int sig)
{
  (void)sig;
  int saved = errno;
  if (run_signal_fd >= 0) {
    ssize_t n = write(run_signal_fd, "s", 1);
    (void)n;
  }
  errno = saved;
}


static void
wake_reader(run_ctx *r)
{
  if (r->live && r->wake[1] >= 0) {
    ssize_t n = write(r->wake[1], "w", 1);
    (void)n;  /* A full pipe is already readable: the wakeup is there. */
  }
}


/* Bad input was met: count it, and with --strict stop everything now. */
static void
count_bad(run_ctx *r)
{
  atomic_fetch_add(&r->bad, 1);
  if (r->strict) {
    atomic_store(&r->halted, 1);
    if (r->live && r->p != NULL) {
      r->m.stop(r->p);
      wake_reader(r);
    }
  }
}


static void bad_line(run_ctx *r, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

static void
bad_line(run_ctx *r, const char *fmt, ...)
{
  char why[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  fprintf(stderr, "promptly: line %ld: %s\n", r->lineno, why);
  count_bad(r);
}


/* Does a module message name one of our events ("line 9: ...")? */
static int
names_input_line(const char *msg)
{
  if (strncmp(msg, "line ", 5) != 0) {
    return 0;
  }
  const char *s = msg + 5;
  if (*s < '0' || *s > '9') {
    return 0;
  }
  while (*s >= '0' && *s <= '9') {
    s++;
  }
  return *s == ':';
}


/* --- Host callbacks ------------------------------------------------------- */

/* Any thread.  The module reports an event it refused later (an update of
** an unknown ticket) as a warning led by the event's source: bad input. */
static void
on_log(void *ud, int32_t level, const char *msg)
{
  run_ctx *r = ud;
  cli_print_log(level, msg);
  if (r->opening && level == PROMPTLY_LOG_ERROR && r->open_error[0] == '\0') {
    snprintf(r->open_error, sizeof(r->open_error), "%s", msg);
  }
  if (level == PROMPTLY_LOG_WARN && names_input_line(msg)) {
    count_bad(r);
  }
  /* An error while running (a rule that failed on a ticket, out of
  ** memory) fails the run, but only at its end: the module went on as it
  ** could (the ticket fell through to the next rule), and so does the
  ** replay, as a host must. */
  if (level == PROMPTLY_LOG_ERROR && !r->opening) {
    atomic_store(&r->rule_failed, 1);
  }
}


static int64_t
on_now(void *ud)
{
  run_ctx *r = ud;
  return r->vnow_ms;
}


/* Print one output line: {"at": ..., "ticket": ..., what: body, ...}. */
static int32_t
emit(run_ctx *r, json_t *out)
{
  char *s = out != NULL ? json_dumps(out, JSON_PRESERVE_ORDER) : NULL;
  json_decref(out);
  if (s == NULL) {
    fprintf(stderr, "promptly: error: cannot encode an output line\n");
    atomic_store(&r->failed, 1);
    return -1;
  }
  int ok = fputs(s, stdout) >= 0 && putchar('\n') != EOF && fflush(stdout) == 0;
  free(s);
  if (!ok) {
    fprintf(stderr, "promptly: error: stdout: %s\n", strerror(errno));
    atomic_store(&r->failed, 1);
    return -1;
  }
  return 0;
}


static json_t *
out_head(int64_t ticket, int64_t at_ms)
{
  char iso[CLI_ISO_LEN];
  cli_format_iso(at_ms, iso);
  json_t *out = json_object();
  if (out == NULL || json_object_set_new(out, "at", json_string(iso)) != 0 ||
      json_object_set_new(out, "ticket", json_integer(ticket)) != 0) {
    json_decref(out);
    return NULL;
  }
  return out;
}


/* The pairs as a JSON object; NULL if a name or value is not UTF-8. */
static json_t *
pairs_object(const promptly_attr *a, uint32_t n)
{
  json_t *o = json_object();
  for (uint32_t i = 0; o != NULL && i < n; i++) {
    if (json_object_set_new(o, a[i].name, json_string(a[i].value)) != 0) {
      json_decref(o);
      o = NULL;
    }
  }
  return o;
}


static int32_t
on_write(void *ud, int64_t ticket, int64_t at_ms, const promptly_attr *fields,
         uint32_t n_fields)
{
  run_ctx *r = ud;
  if (r->explain != 0) {
    return 0;  /* The trace tells the ticket's story. */
  }
  json_t *out = out_head(ticket, at_ms);
  json_t *w = pairs_object(fields, n_fields);
  if (out == NULL || w == NULL) {
    fprintf(stderr,
            "promptly: error: ticket %lld: a field to write is not UTF-8\n",
            (long long)ticket);
    json_decref(out);
    json_decref(w);
    return -1;
  }
  json_object_set_new(out, "write", w);
  return emit(r, out);
}


/* --record: the key of an action just carried out, one line, flushed. */
static int32_t
record_key(run_ctx *r, const char *key)
{
  if (r->record == NULL || key == NULL) {
    return 0;
  }
  if (fprintf(r->record, "%s\n", key) < 0 || fflush(r->record) != 0) {
    /* The action is out but a restart would not know it: stop here. */
    fprintf(stderr, "promptly: error: --record %s: %s\n", r->record_path,
            strerror(errno));
    fclose(r->record);
    r->record = NULL;
    r->record_failed = 1;
    atomic_store(&r->failed, 1);
    if (r->live) {
      r->m.stop(r->p);
      wake_reader(r);
    }
  }
  return 0;
}


static int32_t
on_action(void *ud, int64_t ticket, int64_t at_ms, const char *action,
          const promptly_attr *args, uint32_t n_args, const char *key)
{
  run_ctx *r = ud;
  if (r->explain != 0) {
    return 0;
  }
  if (key != NULL && key_set_has(&r->done, key)) {
    r->skipped++;
    return 0;  /* Carried out before this run: done already. */
  }
  if (r->record_failed) {
    /* A restart could not know of it: not done (the module says which). */
    return -1;
  }
  json_t *out = out_head(ticket, at_ms);
  json_t *a = pairs_object(args, n_args);
  json_t *name = json_string(action != NULL ? action : "");
  json_t *k = key != NULL ? json_string(key) : json_null();
  if (out == NULL || a == NULL || name == NULL || k == NULL) {
    fprintf(stderr,
            "promptly: error: ticket %lld: an action that is not UTF-8\n",
            (long long)ticket);
    json_decref(out);
    json_decref(a);
    json_decref(name);
    json_decref(k);
    return -1;
  }
  json_object_set_new(out, "action", name);
  json_object_set_new(out, "args", a);
  json_object_set_new(out, "key", k);
  if (emit(r, out) != 0) {
    return -1;
  }
  record_key(r, key);
  return 0;
}


/* --records, --sla-events: one line the module handed over, its bytes and
** a newline; a failed write closes the file and fails the run. */
static void
put_line(run_ctx *r, FILE **f, const char *opt, const char *path,
         const char *json)
{
  if (*f == NULL) {
    return;
  }
  if (fputs(json, *f) < 0 || fputc('\n', *f) == EOF) {
    fprintf(stderr, "promptly: error: %s %s: %s\n", opt, path,
            strerror(errno));
    fclose(*f);
    *f = NULL;
    atomic_store(&r->failed, 1);
  }
}


/* --records: one outcome record. */
static void
on_record(void *ud, int64_t ticket, int64_t at_ms, const char *json)
{
  (void)ticket;
  (void)at_ms;
  run_ctx *r = ud;
  put_line(r, &r->records, "--records", r->records_path, json);
}


/* --sla-events: one SLA event. */
static void
on_sla_event(void *ud, int64_t ticket, int64_t at_ms, const char *json)
{
  (void)ticket;
  (void)at_ms;
  run_ctx *r = ud;
  put_line(r, &r->sla_events, "--sla-events", r->sla_events_path, json);
}


/* An output file of an option, or NULL after saying why. */
static FILE *
open_out(const char *opt, const char *path)
{
  FILE *f = fopen(path, "we");
  if (f == NULL) {
    fprintf(stderr, "promptly: cannot open %s %s: %s\n", opt, path,
            strerror(errno));
  }
  return f;
}


/* Close an output file of an option: 0, or -1 after saying why. */
static int
close_out(FILE **f, const char *opt, const char *path)
{
  int rc = 0;
  if (*f != NULL && fclose(*f) != 0) {
    fprintf(stderr, "promptly: error: %s %s: %s\n", opt, path,
            strerror(errno));
    rc = -1;
  }
  *f = NULL;
  return rc;
}


static int stop_reading(run_ctx *r);

/* --records: the cycles still open at the end of the input, as of at. */
static void
records_at_end(run_ctx *r, int64_t at)
{
  if (r->records == NULL || stop_reading(r)) {
    return;
  }
  if (r->m.records_open == NULL) {
    fprintf(stderr, "promptly: error: --records: the module %s predates "
            "ABI 1.1 (no open-cycle records)\n", r->m.path);
    atomic_store(&r->failed, 1);
    return;
  }
  int rc = r->m.records_open(r->p, at > 0 ? at : 0);
  if (rc != PROMPTLY_OK) {
    fprintf(stderr, "promptly: error: --records: %s\n", r->m.strerror(rc));
    atomic_store(&r->failed, 1);
  }
}


static void
on_trace(void *ud, int64_t ticket, int64_t at_ms, const char *line)
{
  run_ctx *r = ud;
  if (ticket != r->explain) {
    return;
  }
  char iso[CLI_ISO_LEN];
  cli_format_iso(at_ms, iso);
  printf("%s  %s\n", iso, line);
}


/* --- Events --------------------------------------------------------------- */

typedef struct run_event {
  json_t *root;           /* owns every string of ev */
  promptly_attr *attrs;
  promptly_event ev;
  int has_at;
  int reload;             /* {"at": ..., "reload": true}: no event */
  char source[32];
} run_event;


static void
run_event_free(run_event *e)
{
  json_decref(e->root);
  free(e->attrs);
}


static const char *
json_kind(const json_t *v)
{
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a number";
  case JSON_TRUE: return "true";
  case JSON_FALSE: return "false";
  default: return "null";
  }
}


/* Turn attrs into strings in place: numbers and booleans become their
** text, anything else is an error naming "attrs.NAME". */
static int
parse_attrs(json_t *attrs, run_event *e, char *why, size_t whylen)
{
  if (!json_is_object(attrs)) {
    snprintf(why, whylen, "attrs: must be an object, not %s",
             json_kind(attrs));
    return -1;
  }
  size_t n = json_object_size(attrs);
  e->attrs = calloc(n > 0 ? n : 1, sizeof(*e->attrs));
  if (e->attrs == NULL) {
    snprintf(why, whylen, "out of memory");
    return -1;
  }
  uint32_t i = 0;
  for (void *it = json_object_iter(attrs); it != NULL;
       it = json_object_iter_next(attrs, it)) {
    const char *name = json_object_iter_key(it);
    json_t *v = json_object_iter_value(it);
    if (!json_is_string(v)) {
      char text[64];
      if (json_is_integer(v)) {
        snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
      } else if (json_is_real(v)) {
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        snprintf(text, sizeof(text), "%s", s != NULL ? s : "");
        free(s);
      } else if (json_is_boolean(v)) {
        snprintf(text, sizeof(text), "%s", json_is_true(v) ? "true" : "false");
      } else {
        snprintf(why, whylen, "attrs.%s: must be a string, not %s", name,
                 json_kind(v));
        return -1;
      }
      v = json_string(text);
      if (v == NULL || json_object_iter_set_new(attrs, it, v) != 0) {
        snprintf(why, whylen, "out of memory");
        return -1;
      }
    }
    e->attrs[i].name = name;
    e->attrs[i].value = json_string_value(v);
    i++;
  }
  e->ev.attrs = e->attrs;
  e->ev.n_attrs = i;
  return 0;
}


/* Parse one input line.  0, or -1 with the reason in why. */
static int
parse_event(run_ctx *r, const char *line, size_t len, run_event *e,
            char *why, size_t whylen)
{
  memset(e, 0, sizeof(*e));
  e->ev.struct_size = sizeof(e->ev);
  snprintf(e->source, sizeof(e->source), "line %ld", r->lineno);
  e->ev.source = e->source;

  json_error_t jerr;
  e->root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
  if (e->root == NULL) {
    snprintf(why, whylen, "malformed JSON at column %d: %s", jerr.column,
             jerr.text);
    return -1;
  }
  if (!json_is_object(e->root)) {
    snprintf(why, whylen, "not a JSON object but %s", json_kind(e->root));
    return -1;
  }
  const char *key;
  json_t *v;
  /* {"at": ..., "reload": true}: reload the rules folder at that instant
  ** (virtual time), as a hot reload would. */
  if ((v = json_object_get(e->root, "reload")) != NULL) {
    json_object_foreach(e->root, key, v) {
      if (strcmp(key, "reload") != 0 && strcmp(key, "at") != 0) {
        snprintf(why, whylen,
                 "unknown key '%s' (a reload line has at and reload)", key);
        return -1;
      }
    }
    if (!json_is_true(json_object_get(e->root, "reload"))) {
      snprintf(why, whylen, "reload: must be true");
      return -1;
    }
    e->reload = 1;
  }
  json_object_foreach(e->root, key, v) {
    if (e->reload) {
      break;
    }
    if (strcmp(key, "ticket") != 0 && strcmp(key, "at") != 0 &&
        strcmp(key, "type") != 0 && strcmp(key, "attrs") != 0) {
      snprintf(why, whylen,
               "unknown key '%s' (an event has ticket, at, type, attrs)", key);
      return -1;
    }
  }

  if (e->reload) {
    goto at;
  }
  v = json_object_get(e->root, "type");
  if (v == NULL) {
    snprintf(why, whylen, "type: missing");
    return -1;
  }
  if (!json_is_string(v)) {
    snprintf(why, whylen, "type: must be a string, not %s", json_kind(v));
    return -1;
  }
  int32_t type = r->m.event_type(json_string_value(v));
  if (type < 0) {
    snprintf(why, whylen, "type: unknown event type '%s'",
             json_string_value(v));
    return -1;
  }
  e->ev.type = type;

  v = json_object_get(e->root, "ticket");
  if (v == NULL) {
    snprintf(why, whylen, "ticket: missing");
    return -1;
  }
  if (!json_is_integer(v) || json_integer_value(v) <= 0) {
    snprintf(why, whylen, "ticket: must be a positive integer");
    return -1;
  }
  e->ev.ticket = (int64_t)json_integer_value(v);

at:
  v = json_object_get(e->root, "at");
  if (v != NULL) {
    if (!json_is_string(v)) {
      snprintf(why, whylen, "at: must be an ISO 8601 string, not %s",
               json_kind(v));
      return -1;
    }
    if (cli_parse_iso(json_string_value(v), &e->ev.at_ms) != 0) {
      snprintf(why, whylen, "at: not an ISO 8601 instant");
      return -1;
    }
    /* 0 means "now" to the module: the epoch itself cannot be given. */
    if (e->ev.at_ms <= 0) {
      snprintf(why, whylen, "at: must be after 1970-01-01T00:00:00Z");
      return -1;
    }
    e->has_at = 1;
  }
  if (e->reload) {
    return 0;
  }

  v = json_object_get(e->root, "attrs");
  if (v != NULL) {
    return parse_attrs(v, e, why, whylen);
  }
  return 0;
}


/* Blank lines and comments are no events. */
static int
skip_line(const char *line)
{
  while (*line == ' ' || *line == '\t') {
    line++;
  }
  return *line == '\0' || *line == '#';
}


static int
submit(run_ctx *r, run_event *e)
{
  char err[1024] = "";
  int rc = r->m.submit(r->p, &e->ev, err, sizeof(err));
  if (rc != PROMPTLY_OK) {
    bad_line(r, "%s", err[0] != '\0' ? err : r->m.strerror(rc));
    return -1;
  }
  return 0;
}


static void
virtual_line(run_ctx *r, const char *line, size_t len)
{
  run_event e;
  char why[1024];
  if (parse_event(r, line, len, &e, why, sizeof(why)) != 0) {
    bad_line(r, "%s", why);
  } else if (!e.has_at) {
    bad_line(r, "at: missing (every event needs one without --live)");
  } else if (e.ev.at_ms < r->last_at_ms) {
    char at[CLI_ISO_LEN], prev[CLI_ISO_LEN];
    cli_format_iso(e.ev.at_ms, at);
    cli_format_iso(r->last_at_ms, prev);
    bad_line(r, "at: %s is before the previous event's %s", at, prev);
  } else if (r->explain != 0 && r->until_ms != RUN_NO_TIME &&
             e.ev.at_ms > r->until_ms) {
    /* explain --at: what came later has not happened yet. */
  } else if (e.reload) {
    /* At its instant, after what came due up to it (under the rules
    ** before it); a failed load keeps the rules, as a hot reload does. */
    r->vnow_ms = e.ev.at_ms;
    int rc = r->m.advance(r->p, e.ev.at_ms);
    if (rc == PROMPTLY_OK) {
      r->last_at_ms = e.ev.at_ms;
      char err[1024] = "";
      int lrc = r->m.reload(r->p, err, sizeof(err));
      if (lrc != PROMPTLY_OK) {
        bad_line(r, "reload: %s", err[0] != '\0' ? err : r->m.strerror(lrc));
      }
    } else {
      fprintf(stderr, "promptly: error: line %ld: advance: %s\n",
              r->lineno, r->m.strerror(rc));
      atomic_store(&r->failed, 1);
    }
  } else {
    r->vnow_ms = e.ev.at_ms;
    if (submit(r, &e) == 0) {
      r->last_at_ms = e.ev.at_ms;
      int rc = r->m.advance(r->p, e.ev.at_ms);
      if (rc != PROMPTLY_OK) {
        fprintf(stderr, "promptly: error: line %ld: advance: %s\n",
                r->lineno, r->m.strerror(rc));
        atomic_store(&r->failed, 1);
      }
    }
  }
  run_event_free(&e);
}


static void
live_line(run_ctx *r, const char *line, size_t len)
{
  run_event e;
  char why[1024];
  if (parse_event(r, line, len, &e, why, sizeof(why)) != 0) {
    bad_line(r, "%s", why);
  } else if (e.reload) {
    bad_line(r, "reload: only in virtual time (without --live; a live "
                "run reloads when the folder changes)");
  } else {
    submit(r, &e);
  }
  run_event_free(&e);
}


static int
stop_reading(run_ctx *r)
{
  return atomic_load(&r->halted) || atomic_load(&r->failed);
}


/* Read every line; in live mode also wait on the self-pipe and --until.
** Returns when the input ends, the run halts, or (live) it is woken. */
static void
read_events(run_ctx *r)
{
  int wake_fd = r->live ? r->wake[0] : -1;
  int64_t deadline = r->live ? r->until_ms : RUN_NO_TIME;
  while (!stop_reading(r)) {
    char *line = NULL;
    size_t len = 0;
    int too_long = 0;
    int rc = lr_next(&r->in, wake_fd, deadline, &line, &len, &too_long);
    if (rc == LR_ERROR) {
      fprintf(stderr, "promptly: error: reading the events: %s\n",
              strerror(errno));
      atomic_store(&r->failed, 1);
      return;
    }
    if (rc == LR_EOF) {
      /* Live with --until: the run goes on until that instant. */
      if (r->live && deadline != RUN_NO_TIME) {
        wait_readable(-1, wake_fd, deadline);
      }
      return;
    }
    if (rc != LR_LINE) {
      return;  /* Woken, or --until came. */
    }
    r->lineno++;
    if (too_long) {
      bad_line(r, "longer than %zu bytes", RUN_MAX_LINE);
    } else if (strlen(line) != len) {
      bad_line(r, "contains a NUL byte");
    } else if (!skip_line(line)) {
      if (r->live) {
        live_line(r, line, len);
      } else {
        virtual_line(r, line, len);
      }
    }
  }
}


static void *
reader_main(void *arg)
{
  run_ctx *r = arg;
  read_events(r);
  r->m.stop(r->p);
  return NULL;
}


static int
run_live(run_ctx *r)
{
  if (pipe(r->wake) != 0) {
    fprintf(stderr, "promptly: error: pipe: %s\n", strerror(errno));
    r->wake[0] = r->wake[1] = -1;
    return -1;
  }
  for (int i = 0; i < 2; i++) {
    fcntl(r->wake[i], F_SETFD, FD_CLOEXEC);
  }
  /* Neither the signal handler nor a callback may block on a full pipe. */
  fcntl(r->wake[1], F_SETFL, fcntl(r->wake[1], F_GETFL) | O_NONBLOCK);

  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  run_signal_fd = r->wake[1];
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  pthread_t reader;
  int err = pthread_create(&reader, NULL, reader_main, r);
  if (err != 0) {
    fprintf(stderr, "promptly: error: cannot start the reader: %s\n",
            strerror(err));
    atomic_store(&r->failed, 1);
  } else {
    int rc = r->m.run(r->p, PROMPTLY_RUN_DEFAULT);
    if (rc < 0) {
      fprintf(stderr, "promptly: error: the loop: %s\n", r->m.strerror(rc));
      atomic_store(&r->failed, 1);
    }
    wake_reader(r);
    pthread_join(reader, NULL);
    /* promptly_stop only promises that the loop returns soon: events
    ** submitted just before it may still be queued.  Handle them, as the
    ** ABI says to, until NOWAIT reports nothing pending. */
    for (int i = 0; i < 1000 && !atomic_load(&r->halted); i++) {
      rc = r->m.run(r->p, PROMPTLY_RUN_NOWAIT);
      if (rc <= 0) {
        break;
      }
    }
  }

  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  run_signal_fd = -1;
  close(r->wake[0]);
  close(r->wake[1]);
  r->wake[0] = r->wake[1] = -1;
  return 0;
}


static void explain_now(run_ctx *r);

static void
run_virtual(run_ctx *r)
{
  read_events(r);
  if (stop_reading(r) || r->until_ms == RUN_NO_TIME) {
    explain_now(r);
    if (r->last_at_ms != INT64_MIN) {
      records_at_end(r, r->last_at_ms);
    }
    return;
  }
  if (r->until_ms < r->last_at_ms) {
    char until[CLI_ISO_LEN], last[CLI_ISO_LEN];
    cli_format_iso(r->until_ms, until);
    cli_format_iso(r->last_at_ms, last);
    fprintf(stderr, "promptly: --until %s is before the last event (%s)\n",
            until, last);
    count_bad(r);
    return;
  }
  r->vnow_ms = r->until_ms;
  int rc = r->m.advance(r->p, r->until_ms);
  if (rc != PROMPTLY_OK) {
    fprintf(stderr, "promptly: error: advance to --until: %s\n",
            r->m.strerror(rc));
    atomic_store(&r->failed, 1);
  }
  explain_now(r);
  records_at_end(r, r->until_ms);
}


/* explain: the state of the ticket's clocks at the end of the replay. */
static void
explain_now(run_ctx *r)
{
  if (r->explain == 0 || stop_reading(r)) {
    return;
  }
  int64_t at = r->until_ms != RUN_NO_TIME ? r->until_ms : r->last_at_ms;
  if (at == INT64_MIN) {
    fprintf(stderr, "promptly explain: no events\n");
    count_bad(r);
    return;
  }
  int rc = r->m.explain(r->p, r->explain, at);
  if (rc == PROMPTLY_EINVAL) {
    fprintf(stderr, "promptly explain: ticket %lld: no such ticket in the "
            "events (or merged or deleted by then)\n",
            (long long)r->explain);
    count_bad(r);
  } else if (rc != PROMPTLY_OK) {
    fprintf(stderr, "promptly error: explain: %s\n", r->m.strerror(rc));
    atomic_store(&r->failed, 1);
  }
}


/* --- The command ---------------------------------------------------------- */

static void
run_usage(FILE *f)
{
  fputs("usage: promptly run --rules DIR [--events FILE|-] "
        "[--until ISO8601]\n"
        "                    [--live] [--strict] [--done FILE] "
        "[--record FILE]\n"
        "                    [--module PATH] [-v]\n"
        "  --done FILE    keys of actions carried out before, one per line:\n"
        "                 those actions are not printed again\n"
        "  --record FILE  append the key of each action printed, one per "
        "line\n"
        "                 (give both the same FILE to resume after a "
        "restart)\n"
        "  --records FILE write the outcome record of every SLA cycle, one "
        "JSON line\n"
        "                 each; cycles still open at the end come last\n"
        "  --sla-events FILE  write each SLA event a person reads (at "
        "risk, breached,\n"
        "                 paused, met, ...; each with the rule's "
        "file:line), one\n"
        "                 JSON line each\n",
        f);
}


static int run_with(const char *rules, const char *events, const char *until,
                    const char *module, int live, int strict,
                    int64_t explain, const char *done, const char *record,
                    const char *records, const char *sla_events);

int
cli_run(int argc, char **argv)
{
  const char *rules = NULL;
  const char *events = NULL;
  const char *until = NULL;
  const char *module = NULL;
  const char *done = NULL;
  const char *record = NULL;
  const char *records = NULL;
  const char *sla_events = NULL;
  int live = 0;
  int strict = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int got = 0;
    if ((got = cli_opt_value(argc, argv, &i, "--rules", &rules)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--events", &events)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--until", &until)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--done", &done)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--record", &record)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--records", &records)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--sla-events",
                             &sla_events)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--module", &module)) != 0) {
      if (got < 0) {
        return CLI_EXIT_INPUT;
      }
    } else if (strcmp(a, "--live") == 0) {
      live = 1;
    } else if (strcmp(a, "--strict") == 0) {
      strict = 1;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      cli_verbose++;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      run_usage(stdout);
      return CLI_EXIT_OK;
    } else {
      fprintf(stderr, "promptly run: unexpected argument '%s'\n", a);
      run_usage(stderr);
      return CLI_EXIT_INPUT;
    }
  }
  if (rules == NULL) {
    fprintf(stderr, "promptly run: --rules DIR is required\n");
    run_usage(stderr);
    return CLI_EXIT_INPUT;
  }
  return run_with(rules, events, until, module, live, strict, 0, done,
                  record, records, sla_events);
}


static void
explain_usage(FILE *f)
{
  fputs("usage: promptly explain --rules DIR --events FILE|- --ticket N "
        "[--at ISO8601]\n"
        "                        [--module PATH] [-v]\n",
        f);
}


int
cli_explain(int argc, char **argv)
{
  const char *rules = NULL, *events = NULL, *at = NULL, *module = NULL;
  const char *ticket = NULL;
  for (int i = 1; i < argc; i++) {
    int got = 0;
    if ((got = cli_opt_value(argc, argv, &i, "--rules", &rules)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--events", &events)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--ticket", &ticket)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--at", &at)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--module", &module)) != 0) {
      if (got < 0) {
        return CLI_EXIT_INPUT;
      }
    } else if (strcmp(argv[i], "-v") == 0) {
      cli_verbose++;
    } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      explain_usage(stdout);
      return CLI_EXIT_OK;
    } else {
      fprintf(stderr, "promptly explain: unexpected argument '%s'\n",
              argv[i]);
      explain_usage(stderr);
      return CLI_EXIT_INPUT;
    }
  }
  char *end = NULL;
  long long id = ticket != NULL ? strtoll(ticket, &end, 10) : 0;
  if (rules == NULL || events == NULL || ticket == NULL || *end != '\0' ||
      id <= 0) {
    fprintf(stderr, "promptly explain: --rules, --events and a positive "
            "--ticket are required\n");
    explain_usage(stderr);
    return CLI_EXIT_INPUT;
  }
  return run_with(rules, events, at, module, 0, 0, (int64_t)id, NULL, NULL,
                  NULL, NULL);
}


static int
run_with(const char *rules, const char *events, const char *until,
         const char *module, int live, int strict, int64_t explain,
         const char *done, const char *record, const char *records,
         const char *sla_events)
{
  run_ctx ctx;
  run_ctx *r = &ctx;
  memset(r, 0, sizeof(*r));
  r->live = live;
  r->strict = strict;
  r->explain = explain;
  r->until_ms = RUN_NO_TIME;
  r->last_at_ms = INT64_MIN;
  r->vnow_ms = real_now_ms();  /* Before the first event, no virtual time. */
  r->wake[0] = r->wake[1] = -1;
  atomic_init(&r->bad, 0);
  atomic_init(&r->halted, 0);
  atomic_init(&r->failed, 0);
  atomic_init(&r->rule_failed, 0);
  if (until != NULL) {
    if (cli_parse_iso(until, &r->until_ms) != 0) {
      fprintf(stderr, "promptly %s: '%s' is not an ISO 8601 instant\n",
              explain != 0 ? "explain: --at" : "run: --until", until);
      return CLI_EXIT_INPUT;
    }
    if (live && r->until_ms <= real_now_ms()) {
      fprintf(stderr, "promptly run: --until %s is in the past\n", until);
      return CLI_EXIT_INPUT;
    }
  }

  /* The done keys are read in full before --record opens: the same file
  ** may be given to both, and then need not exist yet (a first start). */
  int status = CLI_EXIT_FAIL;
  if (done != NULL &&
      key_set_load(&r->done, done,
                   record != NULL && strcmp(done, record) == 0) != 0) {
    goto out_keys;
  }
  if (record != NULL) {
    r->record_path = record;
    r->record = fopen(record, "ae");
    if (r->record == NULL) {
      fprintf(stderr, "promptly: cannot open --record %s: %s\n", record,
              strerror(errno));
      goto out_keys;
    }
  }

  if (records != NULL) {
    r->records_path = records;
    if ((r->records = open_out("--records", records)) == NULL) {
      goto out_keys;
    }
  }
  if (sla_events != NULL) {
    r->sla_events_path = sla_events;
    if ((r->sla_events = open_out("--sla-events", sla_events)) == NULL) {
      goto out_keys;
    }
  }

  r->in.fd = STDIN_FILENO;
  if (events != NULL && strcmp(events, "-") != 0) {
    r->in.fd = open(events, O_RDONLY | O_CLOEXEC);
    if (r->in.fd < 0) {
      fprintf(stderr, "promptly: cannot open the events %s: %s\n", events,
              strerror(errno));
      goto out_keys;
    }
  }

  if (cli_module_load(&r->m, module) != 0) {
    goto out_input;
  }
  promptly_host host;
  memset(&host, 0, sizeof(host));
  host.struct_size = sizeof(host);
  host.abi_version = PROMPTLY_ABI_VERSION;
  host.user_data = r;
  host.log = on_log;
  host.now_ms = live ? NULL : on_now;
  host.write_fields = on_write;
  host.do_action = on_action;
  host.trace = explain != 0 ? on_trace : NULL;
  host.record = records != NULL ? on_record : NULL;
  host.sla_event = sla_events != NULL ? on_sla_event : NULL;

  char err[1024] = "";
  r->opening = 1;
  int rc = r->m.open(&host, rules, &r->p, err, sizeof(err));
  r->opening = 0;
  if (rc != PROMPTLY_OK) {
    /* A broken rule file was logged already, as file:line: message. */
    if (err[0] == '\0' || strcmp(err, r->open_error) != 0) {
      fprintf(stderr, "promptly: %s\n",
              err[0] != '\0' ? err : r->m.strerror(rc));
    }
    goto out_module;
  }

  if (live) {
    if (run_live(r) != 0) {
      atomic_store(&r->failed, 1);
    }
    records_at_end(r, 0);
  } else {
    run_virtual(r);
  }

  rc = r->m.close(r->p);
  if (rc != PROMPTLY_OK) {
    fprintf(stderr, "promptly: error: close: %s\n", r->m.strerror(rc));
    atomic_store(&r->failed, 1);
  }
  r->p = NULL;
  if (atomic_load(&r->failed) || atomic_load(&r->rule_failed)) {
    status = CLI_EXIT_FAIL;
  } else if (atomic_load(&r->bad) > 0) {
    status = CLI_EXIT_INPUT;
  } else {
    status = CLI_EXIT_OK;
  }

out_module:
  cli_module_unload(&r->m);
out_input:
  if (r->in.fd != STDIN_FILENO) {
    close(r->in.fd);
  }
  free(r->in.buf);
  r->in.buf = NULL;
out_keys:
  if (r->record != NULL && fclose(r->record) != 0) {
    fprintf(stderr, "promptly: error: --record %s: %s\n", record,
            strerror(errno));
    status = CLI_EXIT_FAIL;
  }
  r->record = NULL;
  if (close_out(&r->records, "--records", records) != 0) {
    status = CLI_EXIT_FAIL;
  }
  if (close_out(&r->sla_events, "--sla-events", sla_events) != 0) {
    status = CLI_EXIT_FAIL;
  }
  if (r->skipped > 0 && cli_verbose > 0) {
    fprintf(stderr, "promptly: info: %ld action(s) not printed: done "
            "before (--done)\n", r->skipped);
  }
  key_set_free(&r->done);
  return status;
}
