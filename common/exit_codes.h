/*  exit_codes.h: the process exit codes every surge command uses (docs/reference.md). */
#ifndef SURGE_EXIT_CODES_H
#define SURGE_EXIT_CODES_H

#define SURGE_EXIT_OK      0 /* success */
#define SURGE_EXIT_VERDICT 1 /* the plan ran but a verdict failed (SLA violated) */
#define SURGE_EXIT_USAGE   2 /* bad usage or invalid plan (message names file:line:col) */
#define SURGE_EXIT_RUNTIME 3 /* runtime failure */

#endif
