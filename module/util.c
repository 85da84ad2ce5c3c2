/* util.c - checked allocation, a growable string buffer, error messages. */
#include "config.h"

#include "util.h"
#include "promptly.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
pr_strdup(const char *s)
{
  if (s == NULL) {
    return NULL;
  }
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d != NULL) {
    memcpy(d, s, n);
  }
  return d;
}


int
pr_err(char *buf, size_t len, int err, const char *fmt, ...)
{
  if (buf != NULL && len > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
  }
  return err;
}


const char *
pr_strerror(int err)
{
  switch (err) {
  case PROMPTLY_OK: return "success";
  case PROMPTLY_EINVAL: return "invalid argument or malformed input";
  case PROMPTLY_ENOMEM: return "out of memory";
  case PROMPTLY_EVERSION: return "ABI version mismatch";
  case PROMPTLY_EIO: return "input/output or system error";
  case PROMPTLY_ERULE: return "rule error";
  case PROMPTLY_ENOTSUP: return "not supported";
  case PROMPTLY_ESTATE: return "not allowed in this state";
  case PROMPTLY_ENOBUFS: return "buffer too small";
  case PROMPTLY_ERANGE: return "out of range";
  default: return "unknown error";
  }
}


void
pr_buf_init(pr_buf *b)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}


void
pr_buf_free(pr_buf *b)
{
  free(b->data);
  pr_buf_init(b);
}


static int
buf_reserve(pr_buf *b, size_t extra)
{
  if (b->len + extra + 1 <= b->cap) {
    return PROMPTLY_OK;
  }
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) {
    cap *= 2;
  }
  char *d = realloc(b->data, cap);
  if (d == NULL) {
    return PROMPTLY_ENOMEM;
  }
  b->data = d;
  b->cap = cap;
  return PROMPTLY_OK;
}


int
pr_buf_append(pr_buf *b, const char *s, size_t n)
{
  if (buf_reserve(b, n) != PROMPTLY_OK) {
    return PROMPTLY_ENOMEM;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return PROMPTLY_OK;
}


int
pr_buf_printf(pr_buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || buf_reserve(b, (size_t)n) != PROMPTLY_OK) {
    return PROMPTLY_ENOMEM;
  }
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return PROMPTLY_OK;
}


const char *
pr_buf_cstr(pr_buf *b)
{
  return b->data != NULL ? b->data : "";
}


/* Howard Hinnant's civil-date algorithms (public domain arithmetic). */
int64_t
pr_days_from_civil(int64_t y, unsigned m, unsigned d)
{
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}


void
pr_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}


void
pr_iso_format(int64_t at_ms, char out[PR_ISO_LEN])
{
  int64_t s = at_ms >= 0 ? at_ms / 1000 : -((-at_ms + 999) / 1000);
  int ms = (int)(at_ms - s * 1000);
  int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
  int64_t sod = s - days * 86400;
  int64_t y;
  unsigned m, d;
  pr_civil_from_days(days, &y, &m, &d);
  if (ms != 0) {
    snprintf(out, PR_ISO_LEN, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
             (long long)y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60),
             (int)(sod % 60), ms);
  } else {
    snprintf(out, PR_ISO_LEN, "%04lld-%02u-%02uT%02d:%02d:%02dZ",
             (long long)y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60),
             (int)(sod % 60));
  }
}
