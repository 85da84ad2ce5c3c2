/* replay.c - the records of "promptly report --rules DIR --events FILE"
** and of "--compare DIR2": the history replayed by "promptly run
** --records" of this same binary, and the cycles whose outcome differs
** between two replays.
**
** Invariants.  A replay is "promptly [--module M] run --rules DIR
** --events FILE --records OUT" run as a child of this executable, its
** writes and actions thrown away, its messages on our stderr: a report
** over a replay is, by construction, the report over the records the
** module wrote for it.  Flips are sorted by ticket, metric and cycle, so
** a comparison prints the same every time.
*/
#include "config.h"

#include "cli.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>


int
rep_replay(const char *rules, const char *events, const char *until,
           const char *out)
{
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    fprintf(stderr, "promptly report: cannot find this executable: %s\n",
            strerror(errno));
    return CLI_EXIT_FAIL;
  }
  self[n] = '\0';
  char *argv[16];
  int k = 0;
  argv[k++] = self;
  if (cli_module_path != NULL) {
    argv[k++] = "--module";
    argv[k++] = (char *)cli_module_path;
  }
  argv[k++] = "run";
  argv[k++] = "--rules";
  argv[k++] = (char *)rules;
  argv[k++] = "--events";
  argv[k++] = (char *)events;
  if (until != NULL) {
    argv[k++] = "--until";
    argv[k++] = (char *)until;
  }
  argv[k++] = "--records";
  argv[k++] = (char *)out;
  argv[k] = NULL;

  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "promptly report: fork: %s\n", strerror(errno));
    return CLI_EXIT_FAIL;
  }
  if (pid == 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) {
      _exit(CLI_EXIT_FAIL);
    }
    close(fd);
    execv(self, argv);
    fprintf(stderr, "promptly report: cannot run %s: %s\n", self,
            strerror(errno));
    _exit(CLI_EXIT_FAIL);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      fprintf(stderr, "promptly report: waitpid: %s\n", strerror(errno));
      return CLI_EXIT_FAIL;
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return CLI_EXIT_OK;
  }
  fprintf(stderr,
          "promptly report: the replay of %s under %s failed (%s %d); "
          "nothing is reported\n",
          events, rules, WIFEXITED(status) ? "exit" : "signal",
          WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  return WIFEXITED(status) && WEXITSTATUS(status) == CLI_EXIT_INPUT
           ? CLI_EXIT_INPUT
           : CLI_EXIT_FAIL;
}


static char *
cycle_key(const rep_record *rec)
{
  return g_strdup_printf("%" PRId64 "\x1f%s\x1f%" PRId64, rec->ticket,
                         rec->metric, rec->cycle);
}


static gint
cmp_flip(gconstpointer a, gconstpointer b)
{
  const rep_flip *x = *(rep_flip *const *)a, *y = *(rep_flip *const *)b;
  if (x->ticket != y->ticket) {
    return x->ticket < y->ticket ? -1 : 1;
  }
  int c = strcmp(x->metric, y->metric);
  if (c != 0) {
    return c;
  }
  return (x->cycle > y->cycle) - (x->cycle < y->cycle);
}


static void
add_flip(GPtrArray *out, const rep_record *a, const rep_record *b)
{
  const rep_record *any = a != NULL ? a : b;
  rep_flip *f = g_new0(rep_flip, 1);
  f->ticket = any->ticket;
  f->metric = any->metric;
  f->cycle = any->cycle;
  f->a = a;
  f->b = b;
  g_ptr_array_add(out, f);
}


GPtrArray *
rep_flips(const report *a, const report *b)
{
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  GHashTable *in_b = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                           NULL);
  for (guint i = 0; i < b->selected->len; i++) {
    const rep_record *rec = g_ptr_array_index(b->selected, i);
    g_hash_table_insert(in_b, cycle_key(rec), (gpointer)rec);
  }
  GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                           NULL);
  for (guint i = 0; i < a->selected->len; i++) {
    const rep_record *ra = g_ptr_array_index(a->selected, i);
    char *k = cycle_key(ra);
    const rep_record *rb = g_hash_table_lookup(in_b, k);
    if (rb == NULL || rb->outcome != ra->outcome) {
      add_flip(out, ra, rb);
    }
    g_hash_table_add(seen, k);
  }
  for (guint i = 0; i < b->selected->len; i++) {
    const rep_record *rb = g_ptr_array_index(b->selected, i);
    char *k = cycle_key(rb);
    if (!g_hash_table_contains(seen, k)) {
      add_flip(out, NULL, rb);
    }
    g_free(k);
  }
  g_hash_table_destroy(seen);
  g_hash_table_destroy(in_b);
  g_ptr_array_sort(out, cmp_flip);
  return out;
}
