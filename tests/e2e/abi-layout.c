/* abi-layout.c - print the x86_64 layout of the ABI structs that the RT
** binding (rt-promptly) packs by hand, one line per member,
** "struct.member offset size", then "struct size N", the format of
** "rt-promptly --print-layout".  run-rt-e2e.sh checks that every member
** the binding packs sits where the C compiler puts it, and that the
** binding's struct is no longer than the header's (members appended to
** the header after the binding was written are absent for the module). */
#include <stddef.h>
#include <stdio.h>

#include "promptly.h"

#define M(type, m)                                                      \
  printf("%s.%s %zu %zu\n", #type, #m, offsetof(type, m),               \
         sizeof(((type *)0)->m))
#define S(type) printf("%s size %zu\n", #type, sizeof(type))

int
main(void)
{
  M(promptly_host, struct_size);
  M(promptly_host, abi_version);
  M(promptly_host, user_data);
  M(promptly_host, log);
  M(promptly_host, now_ms);
  M(promptly_host, write_fields);
  M(promptly_host, do_action);
  M(promptly_host, trace);
  M(promptly_host, record);
  M(promptly_host, sla_event);
  S(promptly_host);
  M(promptly_event, struct_size);
  M(promptly_event, type);
  M(promptly_event, ticket);
  M(promptly_event, at_ms);
  M(promptly_event, attrs);
  M(promptly_event, n_attrs);
  M(promptly_event, reserved);
  M(promptly_event, source);
  S(promptly_event);
  M(promptly_attr, name);
  M(promptly_attr, value);
  S(promptly_attr);
  return 0;
}
