/*  cmd_coordinator.c: `surge coordinator`: drive a fleet over ZeroMQ, coordinator/launch.h. */
#include <stddef.h>

#include "cli/commands.h"
#include "coordinator/launch.h"

int cmd_coordinator(int argc, char **argv)
{
    return launch_main(LAUNCH_COORDINATOR, argc, argv, NULL);
}
