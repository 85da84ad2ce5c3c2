/* fuzz_rules.c - libFuzzer harness: one rule file.
**
** Each input becomes 10-fuzz.lua, alone in a rules folder, and is loaded
** with promptly_check.  Problems are fine; what must never happen is a
** crash, a leak, undefined behaviour, a hang past the sandbox's budgets,
** more than PR_PROBLEMS_MAX + 1 problem lines, or a problem line that is
** not one line of UTF-8.
*/
#include "config.h"

#include "problems.h"
#include "promptly.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lines;

static void
on_log(void *ud, int32_t level, const char *msg)
{
  (void)ud;
  if (level == PROMPTLY_LOG_ERROR || level == PROMPTLY_LOG_WARN) {
    lines++;
  }
  if (!pr_utf8_valid(msg, strlen(msg), NULL) || strchr(msg, '\n') != NULL) {
    abort();
  }
}


static char dir[64];
static char file[128];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (dir[0] == '\0') {
    snprintf(dir, sizeof(dir), "/tmp/pr-fuzz-rules-XXXXXX");
    if (mkdtemp(dir) == NULL) {
      abort();
    }
    snprintf(file, sizeof(file), "%s/10-fuzz.lua", dir);
  }
  FILE *f = fopen(file, "wb");
  if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
    abort();
  }
  promptly_host host;
  memset(&host, 0, sizeof(host));
  host.struct_size = sizeof(host);
  host.abi_version = PROMPTLY_ABI_VERSION;
  host.log = on_log;
  char err[512];
  lines = 0;
  promptly_check(&host, dir, err, sizeof(err));
  /* Problems, then possibly "and N more problems", then promptly.warn
  ** lines: at most PR_SANDBOX_LOGS_SPAN + 1 of those. */
  if (lines > PR_PROBLEMS_MAX + 1 + 201) {
    abort();
  }
  return 0;
}
