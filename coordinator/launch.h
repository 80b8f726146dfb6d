/*  launch.h: `surge run` and `surge coordinator`, the whole command behind the thin cli/
    files: options, the plan (file or flags), the local fleet of `run` (worker processes
    and, for sim:// targets, a local `surge sim`), signals, and the coordinator run.
    docs/fleet.md describes every option. */
#ifndef SURGE_COORDINATOR_LAUNCH_H
#define SURGE_COORDINATOR_LAUNCH_H

typedef enum {
    LAUNCH_RUN = 0,     /* embedded: coordinator + local workers (+ local sim) */
    LAUNCH_COORDINATOR, /* coordinator only; workers join over the network */
} launch_mode_t;

/* The model a simulator profile serves ("meta-llama/Llama-3.1-8B-Instruct"), or NULL
   when there is no such profile. Given by the caller (cli/, which may know the simulator;
   the coordinator does not depend on it). */
typedef const char *(launch_sim_model_fn)(const char *profile);

/* Parses argv (argv[0] is the subcommand's name) and runs; returns an exit code.
   sim_model may be NULL (then a sim:// run without --model uses the plan's default). */
int launch_main(launch_mode_t mode, int argc, char **argv, launch_sim_model_fn *sim_model);

#endif
