/* util.c - checked allocation, a growable string buffer, error messages. */
#include "config.h"

#include "util.h"
#include "promptly.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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


size_t
pr_utf8_seq(const unsigned char *s, size_t n)
{
  if (n == 0) {
    return 0;
  }
  unsigned c = s[0];
  if (c < 0x80) {
    return 1;
  }
  size_t len;
  unsigned min, cp;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2, min = 0x80, cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3, min = 0x800, cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4, min = 0x10000, cp = c & 0x07;
  } else {
    return 0;
  }
  if (n < len) {
    return 0;
  }
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return len;
}


int
pr_utf8_valid(const char *s, size_t n, size_t *bad)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    size_t k = u[i] == 0 ? 0 : pr_utf8_seq(u + i, n - i);
    if (k == 0) {
      if (bad != NULL) {
        *bad = i;
      }
      return 0;
    }
    i += k;
  }
  return 1;
}


/* The code point of a valid sequence of k bytes. */
static unsigned
utf8_decode(const unsigned char *s, size_t k)
{
  static const unsigned lead_mask[] = {0, 0x7f, 0x1f, 0x0f, 0x07};
  unsigned cp = s[0] & lead_mask[k];
  for (size_t i = 1; i < k; i++) {
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  return cp;
}


size_t
pr_text_line(const char *s, size_t n, char *out, size_t outlen)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t o = 0, i = 0;
  if (outlen == 0) {
    return 0;
  }
  /* cut: the last piece boundary that leaves room for "..." and NUL. */
  size_t cut = 0;
  while (i < n) {
    char piece[16];
    size_t plen;
    size_t k = pr_utf8_seq(u + i, n - i);
    unsigned cp = k > 0 ? utf8_decode(u + i, k) : 0;
    if (k == 0) {
      plen = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", u[i]);
      k = 1;
    } else if (cp == '\n' || cp == '\r' || cp == '\t') {
      piece[0] = '\\';
      piece[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
      plen = 2;
    } else if (cp < 0x20 || cp == 0x7f) {
      plen = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", cp);
    } else if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029) {
      plen = (size_t)snprintf(piece, sizeof(piece), "\\u%04x", cp);
    } else {
      memcpy(piece, u + i, k);
      plen = k;
    }
    if (o + plen > outlen - 1) {
      o = cut;
      if (outlen > 4) {
        memcpy(out + o, "...", 3);
        o += 3;
      }
      break;
    }
    memcpy(out + o, piece, plen);
    o += plen;
    i += k;
    if (outlen >= 4 && o <= outlen - 4) {
      cut = o;
    }
  }
  out[o] = '\0';
  return o;
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


int
pr_read_file(const char *path, size_t max, char **out, size_t *len,
             char *why, size_t whylen)
{
  *out = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return pr_err(why, whylen, PROMPTLY_EIO, "%s", strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return pr_err(why, whylen, PROMPTLY_EIO, "%s", strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return pr_err(why, whylen, PROMPTLY_EIO, "not a regular file");
  }
  if ((uintmax_t)st.st_size > (uintmax_t)max) {
    close(fd);
    return pr_err(why, whylen, PROMPTLY_EIO,
                  "too large (%lld bytes, at most %zu)",
                  (long long)st.st_size, max);
  }
  pr_buf b;
  pr_buf_init(&b);
  char chunk[8192];
  int rc = PROMPTLY_OK;
  for (;;) {
    ssize_t got = read(fd, chunk, sizeof(chunk));
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      rc = pr_err(why, whylen, PROMPTLY_EIO, "%s", strerror(errno));
      break;
    }
    if (got == 0) {
      break;
    }
    if (b.len + (size_t)got > max) {
      rc = pr_err(why, whylen, PROMPTLY_EIO,
                  "too large (more than %zu bytes)", max);
      break;
    }
    if (pr_buf_append(&b, chunk, (size_t)got) != PROMPTLY_OK) {
      rc = pr_err(why, whylen, PROMPTLY_ENOMEM, "out of memory");
      break;
    }
  }
  close(fd);
  if (rc == PROMPTLY_OK && pr_buf_append(&b, "", 0) != PROMPTLY_OK) {
    rc = pr_err(why, whylen, PROMPTLY_ENOMEM, "out of memory");
  }
  if (rc != PROMPTLY_OK) {
    pr_buf_free(&b);
    return rc;
  }
  *len = b.len;
  *out = b.data;
  return PROMPTLY_OK;
}
