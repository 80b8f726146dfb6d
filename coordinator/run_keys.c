/*  run_keys.c: a `surge run`'s own CURVE keys (see run_keys.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coordinator/run_keys.h"
#include "proto/curve.h"

int run_keys_create(run_keys_t *self, char *err, size_t err_size)
{
    memset(self, 0, sizeof *self);
    const char *tmp = getenv("TMPDIR");
    char templ[sizeof self->dir];
    snprintf(templ, sizeof templ, "%s/surge-run-keys-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(templ)) { /* mode 0700 */
        snprintf(err, err_size, "cannot make a private directory for the run's keys (%s): %s",
                 templ, strerror(errno));
        return -1;
    }
    snprintf(self->dir, sizeof self->dir, "%s", templ);
    snprintf(self->coordinator_cert, sizeof self->coordinator_cert, "%s/coordinator.key_secret",
             self->dir);
    snprintf(self->coordinator_public, sizeof self->coordinator_public, "%s/coordinator.key",
             self->dir);
    snprintf(self->workers_dir, sizeof self->workers_dir, "%s/workers", self->dir);
    snprintf(self->worker_cert, sizeof self->worker_cert, "%s/worker.key_secret",
             self->workers_dir);
    snprintf(self->operators_dir, sizeof self->operators_dir, "%s/operators", self->dir);
    if (curve_keygen(self->dir, "coordinator", err, err_size) != 0 ||
        curve_keygen(self->workers_dir, "worker", err, err_size) != 0 ||
        curve_keygen(self->operators_dir, "operator", err, err_size) != 0) {
        run_keys_remove(self);
        return -1;
    }
    return 0;
}

/* Copies src to dst, which must not exist, created with mode. */
static int copy_file(const char *src, const char *dst, mode_t mode, char *err, size_t err_size)
{
    FILE *in = fopen(src, "rb");
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    FILE *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
    int rc = in && out ? 0 : -1;
    char chunk[4096];
    size_t n;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, in)) > 0)
        rc = fwrite(chunk, 1, n, out) == n ? 0 : -1;
    if (rc != 0)
        snprintf(err, err_size, "cannot write %s: %s", dst, strerror(errno));
    if (in)
        fclose(in);
    if (out)
        rc |= fclose(out);
    else if (fd >= 0)
        close(fd);
    return rc;
}

int run_keys_publish_ctl(run_keys_t *self, const char *out_dir, char *err, size_t err_size)
{
    char src[sizeof self->operators_dir + 32];
    snprintf(src, sizeof src, "%s/operator.key_secret", self->operators_dir);
    snprintf(self->published[0], sizeof self->published[0], "%s/ctl.key_secret", out_dir);
    snprintf(self->published[1], sizeof self->published[1], "%s/ctl.coordinator.key", out_dir);
    /* A stale pair from a killed run would be another run's: replace it. */
    unlink(self->published[0]);
    unlink(self->published[1]);
    if (copy_file(src, self->published[0], 0600, err, err_size) != 0) {
        self->published[0][0] = '\0';
        return -1;
    }
    return copy_file(self->coordinator_public, self->published[1], 0644, err, err_size);
}

void run_keys_remove(run_keys_t *self)
{
    if (self->published[0][0])
        unlink(self->published[0]);
    self->published[0][0] = '\0';
    if (!self->dir[0])
        return;
    static const char *const files[] = {"coordinator.key",        "coordinator.key_secret",
                                        "workers/worker.key",     "workers/worker.key_secret",
                                        "operators/operator.key", "operators/operator.key_secret"};
    char path[sizeof self->dir + 64];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", self->dir, files[i]);
        unlink(path);
    }
    rmdir(self->workers_dir);
    rmdir(self->operators_dir);
    rmdir(self->dir);
    self->dir[0] = '\0';
}
