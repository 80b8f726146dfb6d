/*  cmd_run.c: `surge run`: coordinator + local workers (+ local sim), coordinator/launch.h. */
#include "cli/commands.h"
#include "coordinator/launch.h"

int cmd_run(int argc, char **argv)
{
    return launch_main(LAUNCH_RUN, argc, argv);
}
