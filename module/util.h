/* util.h - checked allocation, a growable string buffer, error messages.
**
** Nothing domain-specific.  All hidden (pr_ prefix, not exported).
*/
#ifndef PR_UTIL_H
#define PR_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* A name/value pair with the layout of promptly_attr. */
typedef struct pr_kv {
  const char *name;
  const char *value;
} pr_kv;

/* strdup that returns NULL on NULL input or on failure. */
char *pr_strdup(const char *s);

/* Format into a caller-owned error buffer; buf may be NULL, len may be 0.
** Always NUL-terminates when len > 0.  Returns err, so that a failing
** function can say: return pr_err(buf, len, PROMPTLY_EINVAL, "...", ...). */
int pr_err(char *buf, size_t len, int err, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));

/* A static description of a PROMPTLY_E* code. */
const char *pr_strerror(int err);

/* A growable NUL-terminated byte buffer. */
typedef struct pr_buf {
  char *data;  /* NUL-terminated when len > 0 or after pr_buf_cstr */
  size_t len;
  size_t cap;
} pr_buf;

void pr_buf_init(pr_buf *b);
void pr_buf_free(pr_buf *b);
int pr_buf_append(pr_buf *b, const char *s, size_t n);  /* 0 or ENOMEM */
int pr_buf_printf(pr_buf *b, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
const char *pr_buf_cstr(pr_buf *b);  /* "" when empty */

/* The length of the valid UTF-8 sequence at s[0..n) (1 to 4), or 0 if
** the bytes there are not one (overlong forms, surrogates and code points
** over U+10FFFF are not). */
size_t pr_utf8_seq(const unsigned char *s, size_t n);

/* Whether s[0..n) is valid UTF-8 without NUL; if not and bad is not NULL,
** *bad is the offset of the first offending byte. */
int pr_utf8_valid(const char *s, size_t n, size_t *bad);

/* s[0..n) as one printable line of valid UTF-8 in out (outlen > 0, always
** NUL-terminated): newline, carriage return and tab become \n \r \t, other
** control characters (C0, DEL, C1, U+2028, U+2029) and bytes that are not
** UTF-8 become \xNN (bytes) or \uNNNN; a backslash stays as it is.  Cut
** at a character boundary with "..." when it does not fit.  Returns the
** length written. */
size_t pr_text_line(const char *s, size_t n, char *out, size_t outlen);

/* Read a whole regular file of at most max bytes into *out (malloc'd,
** NUL-terminated, *len bytes before the NUL).  Opened without blocking and
** checked on the open descriptor: a FIFO, a device (/dev/zero), a folder
** are refused before anything is read; a file that grows while it is read
** is cut off at max.  EIO (or ENOMEM) with the reason alone in why ("not a
** regular file", "too large (N bytes, at most M)", strerror). */
int pr_read_file(const char *path, size_t max, char **out, size_t *len,
                 char *why, size_t whylen);

/* ISO 8601 UTC with seconds and "Z" ("2026-11-20T17:00:00Z"); milliseconds
** are added only when not zero.  out must hold PR_ISO_LEN bytes. */
#define PR_ISO_LEN 32
void pr_iso_format(int64_t at_ms, char out[PR_ISO_LEN]);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t pr_days_from_civil(int64_t y, unsigned m, unsigned d);
void pr_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif /* PR_UTIL_H */
