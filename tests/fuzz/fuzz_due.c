/* fuzz_due.c - libFuzzer harness: one line of "promptly due --batch".
**
** The CLI's own line handler (due.c, included here so that its static
** functions are reached) runs on each input, with the module's calendar
** functions linked in instead of dlopen()ed.  Errors are fine; crashes,
** leaks and undefined behaviour are not.
*/
#include "../../module/hosts/cli/due.c"

#include <stdint.h>

/* What main.c gives the rest of the CLI.  cli_due(), which loads the
** module by path, is not called here: the harness links the module in and
** fills due_ctx itself, so loading by path always fails. */
const char *cli_module_path = NULL;
int cli_verbose = 0;

int
cli_module_load(cli_module *m, const char *path)
{
  (void)m;
  (void)path;
  return -1;
}


void
cli_module_unload(cli_module *m)
{
  (void)m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
  due_ctx d;
  memset(&d, 0, sizeof(d));
  d.m.strerror = promptly_strerror;
  d.m.calendar_open = promptly_calendar_open;
  d.m.calendar_add = promptly_calendar_add;
  d.m.calendar_between = promptly_calendar_between;
  d.m.calendar_close = promptly_calendar_close;
  d.cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  FILE *out = fopen("/dev/null", "w");
  if (out == NULL) {
    abort();
  }
  char err[1024];
  /* Twice: the second time through the cache. */
  due_line(&d, text, out, err, sizeof(err));
  due_line(&d, text, out, err, sizeof(err));
  fclose(out);
  cache_clear(&d);
  g_hash_table_destroy(d.cache);
  free(text);
  return 0;
}
