/*  cmd_run.c: `surge run`: coordinator + local workers (+ local sim), coordinator/launch.h. */
#include <stddef.h>

#include "cli/commands.h"
#include "coordinator/launch.h"
#include "simulator/sim.h"

/* The model a sim:// target serves, for a run that names no --model. */
static const char *sim_model(const char *profile)
{
    const sim_profile_t *p = sim_profile_find(profile);
    return p ? p->model : NULL;
}

int cmd_run(int argc, char **argv)
{
    return launch_main(LAUNCH_RUN, argc, argv, sim_model);
}
