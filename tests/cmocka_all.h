/* cmocka_all.h - the includes cmocka needs, in the order it needs them. */
#ifndef PR_CMOCKA_ALL_H
#define PR_CMOCKA_ALL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>

#endif
