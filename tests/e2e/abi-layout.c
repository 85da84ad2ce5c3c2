/* abi-layout.c - print the x86_64 layout of the ABI structs that the RT
** binding (rt-promptly) packs by hand, in the format of
** "rt-promptly --print-layout", so that run-rt-e2e.sh can diff the two. */
#include <stddef.h>
#include <stdio.h>

#include "promptly.h"

#define F(type, m) printf(" %s@%zu", #m, offsetof(type, m))

int
main(void)
{
  printf("promptly_host %zu", sizeof(promptly_host));
  F(promptly_host, struct_size);
  F(promptly_host, abi_version);
  F(promptly_host, user_data);
  F(promptly_host, log);
  F(promptly_host, now_ms);
  F(promptly_host, write_fields);
  F(promptly_host, do_action);
  printf("\npromptly_event %zu", sizeof(promptly_event));
  F(promptly_event, struct_size);
  F(promptly_event, type);
  F(promptly_event, ticket);
  F(promptly_event, at_ms);
  F(promptly_event, attrs);
  F(promptly_event, n_attrs);
  F(promptly_event, reserved);
  F(promptly_event, source);
  printf("\npromptly_attr %zu", sizeof(promptly_attr));
  F(promptly_attr, name);
  F(promptly_attr, value);
  printf("\n");
  return 0;
}
