/* abi.c - the exported functions: check arguments and versions, then hand
** off to core.c.  No business logic lives here. */
#include "config.h"

#include "promptly.h"
#include "core.h"
#include "ruletest.h"
#include "rules.h"
#include "util.h"

#include <stddef.h>
#include <string.h>

/* The smallest host struct ABI 1.0 accepts: everything up to do_action. */
#define HOST_V1_0_SIZE \
  (offsetof(promptly_host, do_action) + sizeof(((promptly_host *)0)->do_action))
#define EVENT_V1_0_SIZE \
  (offsetof(promptly_event, source) + sizeof(((promptly_event *)0)->source))

static int
check_host(const promptly_host *host, char *err, size_t errlen)
{
  if (host == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "host: NULL");
  }
  uint32_t major = host->abi_version >> 16;
  if (major != PROMPTLY_ABI_MAJOR) {
    return pr_err(err, errlen, PROMPTLY_EVERSION,
                  "host built for ABI %u.%u, module has %u.%u",
                  (unsigned)major, (unsigned)(host->abi_version & 0xffff),
                  (unsigned)PROMPTLY_ABI_MAJOR, (unsigned)PROMPTLY_ABI_MINOR);
  }
  if (host->struct_size < HOST_V1_0_SIZE) {
    return pr_err(err, errlen, PROMPTLY_EVERSION,
                  "host struct is %u bytes, ABI 1.0 needs at least %zu",
                  (unsigned)host->struct_size, (size_t)HOST_V1_0_SIZE);
  }
  return PROMPTLY_OK;
}


PROMPTLY_API uint32_t
promptly_abi_version(void)
{
  return PROMPTLY_ABI_VERSION;
}


PROMPTLY_API const char *
promptly_version(void)
{
  return PACKAGE_VERSION;
}


PROMPTLY_API const char *
promptly_strerror(int err)
{
  return pr_strerror(err);
}


PROMPTLY_API int32_t
promptly_event_type(const char *name)
{
  return pr_event_type_find(name);
}


PROMPTLY_API const char *
promptly_event_type_name(int32_t type)
{
  return pr_event_type_name(type);
}


PROMPTLY_API int
promptly_open(const promptly_host *host, const char *rules_dir,
              promptly **out, char *errbuf, size_t errlen)
{
  if (out == NULL) {
    return pr_err(errbuf, errlen, PROMPTLY_EINVAL, "out: NULL");
  }
  *out = NULL;
  int rc = check_host(host, errbuf, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (rules_dir == NULL || rules_dir[0] == '\0') {
    return pr_err(errbuf, errlen, PROMPTLY_EINVAL, "rules folder: not given");
  }
  return pr_core_open(host, host->struct_size, rules_dir, out, errbuf,
                      errlen);
}


PROMPTLY_API int
promptly_submit(promptly *p, const promptly_event *ev, char *errbuf,
                size_t errlen)
{
  if (p == NULL || ev == NULL) {
    return pr_err(errbuf, errlen, PROMPTLY_EINVAL, "instance or event: NULL");
  }
  if (ev->struct_size < EVENT_V1_0_SIZE) {
    return pr_err(errbuf, errlen, PROMPTLY_EVERSION,
                  "event struct is %u bytes, ABI 1.0 needs %zu",
                  (unsigned)ev->struct_size, (size_t)EVENT_V1_0_SIZE);
  }
  return pr_core_submit(p, ev, errbuf, errlen);
}


PROMPTLY_API int
promptly_run(promptly *p, int32_t mode)
{
  if (p == NULL) {
    return PROMPTLY_EINVAL;
  }
  return pr_core_run(p, mode);
}


PROMPTLY_API int
promptly_stop(promptly *p)
{
  if (p == NULL) {
    return PROMPTLY_EINVAL;
  }
  return pr_core_stop(p);
}


PROMPTLY_API int
promptly_advance(promptly *p, int64_t t_ms)
{
  if (p == NULL) {
    return PROMPTLY_EINVAL;
  }
  return pr_core_advance(p, t_ms);
}


PROMPTLY_API int
promptly_reload(promptly *p, char *errbuf, size_t errlen)
{
  if (p == NULL) {
    return pr_err(errbuf, errlen, PROMPTLY_EINVAL, "instance: NULL");
  }
  return pr_core_reload(p, errbuf, errlen);
}


PROMPTLY_API int
promptly_explain(promptly *p, int64_t ticket, int64_t at_ms)
{
  if (p == NULL || ticket <= 0 || at_ms < 0) {
    return PROMPTLY_EINVAL;
  }
  return pr_core_explain(p, ticket, at_ms);
}


PROMPTLY_API int
promptly_records_open(promptly *p, int64_t at_ms)
{
  if (p == NULL || at_ms < 0) {
    return PROMPTLY_EINVAL;
  }
  return pr_core_records_open(p, at_ms);
}


PROMPTLY_API int
promptly_close(promptly *p)
{
  if (p == NULL) {
    return PROMPTLY_EINVAL;
  }
  return pr_core_close(p);
}


PROMPTLY_API int
promptly_check(const promptly_host *host, const char *rules_dir,
               char *errbuf, size_t errlen)
{
  int rc = check_host(host, errbuf, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (rules_dir == NULL || rules_dir[0] == '\0') {
    return pr_err(errbuf, errlen, PROMPTLY_EINVAL, "rules folder: not given");
  }
  return pr_core_check(host, host->struct_size, rules_dir, errbuf, errlen);
}


PROMPTLY_API int
promptly_test(const promptly_host *host, const char *rules_dir,
              uint32_t *cases, uint32_t *failed, char *errbuf, size_t errlen)
{
  int rc = check_host(host, errbuf, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (rules_dir == NULL || rules_dir[0] == '\0') {
    return pr_err(errbuf, errlen, PROMPTLY_EINVAL, "rules folder: not given");
  }
  return pr_ruletest_folder(host, host->struct_size, rules_dir, cases, failed,
                            errbuf, errlen);
}


PROMPTLY_API int
promptly_why(const promptly_host *host, const char *rules_dir,
             const promptly_attr *attrs, uint32_t n_attrs, char *errbuf,
             size_t errlen)
{
  int rc = check_host(host, errbuf, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (rules_dir == NULL || rules_dir[0] == '\0') {
    return pr_err(errbuf, errlen, PROMPTLY_EINVAL, "rules folder: not given");
  }
  if (attrs == NULL && n_attrs > 0) {
    return pr_err(errbuf, errlen, PROMPTLY_EINVAL, "attrs: NULL");
  }
  for (uint32_t i = 0; i < n_attrs; i++) {
    if (attrs[i].name == NULL || attrs[i].value == NULL) {
      return pr_err(errbuf, errlen, PROMPTLY_EINVAL,
                    "attrs[%u]: NULL name or value", (unsigned)i);
    }
  }
  _Static_assert(sizeof(pr_kv) == sizeof(promptly_attr), "same layout");
  return pr_rules_why_folder(host, host->struct_size, rules_dir,
                             (const pr_kv *)(const void *)attrs, n_attrs,
                             errbuf, errlen);
}
