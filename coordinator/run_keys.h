/*  run_keys.h: the CURVE keys of one `surge run`, so that only its own processes join it.

    A loopback fleet socket admits every local process, so `surge run` makes three key
    pairs for each run (docs/security.md, "Local runs"): the coordinator's, one its local
    workers share, and an operator's for `surge ctl`. They live in a private directory
    (mode 0700, under $TMPDIR or /tmp) that only the run's user can read; the workers are
    given the paths of their secret certificate and of the coordinator's public one (paths,
    never keys, on their command line). The operator's secret certificate is published in
    the results directory as ctl.key_secret (mode 0600) beside ctl.coordinator.key, so the
    run's owner, and nobody else, can `surge ctl --results DIR ...`. Everything secret is
    removed when the run ends.
*/
#ifndef SURGE_RUN_KEYS_H
#define SURGE_RUN_KEYS_H

#include <stddef.h>

typedef struct {
    char dir[256];                /* the private directory; "" when not made */
    char coordinator_cert[300];   /* DIR/coordinator.key_secret */
    char coordinator_public[300]; /* DIR/coordinator.key */
    char workers_dir[300];        /* DIR/workers: the admitted worker key */
    char worker_cert[320];        /* DIR/workers/worker.key_secret */
    char operators_dir[300];      /* DIR/operators: the admitted operator key */
    char published[2][4200];      /* what run_keys_publish_ctl wrote into the results dir */
} run_keys_t;

/* Makes the directory and the three pairs. 0, or -1 with a reason in err. */
int run_keys_create(run_keys_t *self, char *err, size_t err_size);
/* Writes OUT_DIR/ctl.key_secret (0600, the operator's pair) and OUT_DIR/ctl.coordinator.key.
   0, or -1 with a reason in err. */
int run_keys_publish_ctl(run_keys_t *self, const char *out_dir, char *err, size_t err_size);
/* Removes the private directory and the published secret (the public key stays). */
void run_keys_remove(run_keys_t *self);

#endif
