/* fuzz_ics.c - libFuzzer harness: one .ics file.
**
** Each input is written to a file and imported as a calendar's holidays
** through promptly_calendar_open; a calendar that opens is then asked a
** few due dates.  Errors are fine; crashes, leaks and undefined behaviour
** are not.
*/
#include "config.h"

#include "promptly.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (path[0] == '\0') {
    snprintf(path, sizeof(path), "/tmp/pr-fuzz-ics-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
      abort();
    }
    close(fd);
  }
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
    abort();
  }
  promptly_attr spec[] = {
    {"tz", "Europe/Berlin"},
    {"mon", "09:00-17:00"},
    {"fri", "22:00-06:00"},
    {"ics", path},
  };
  promptly_calendar *cal = NULL;
  char err[512];
  if (promptly_calendar_open(spec, 4, &cal, err, sizeof(err)) !=
      PROMPTLY_OK) {
    return 0;
  }
  int64_t start = INT64_C(1795194000000);
  for (int i = 0; i < 4; i++) {
    int64_t due, el;
    if (promptly_calendar_add(cal, start, (int64_t)3600 << (2 * i), &due) ==
        PROMPTLY_OK) {
      promptly_calendar_between(cal, start, due, &el);
    }
    start += INT64_C(86400000) * 97;
  }
  promptly_calendar_close(cal);
  return 0;
}
