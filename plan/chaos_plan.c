/*  chaos_plan.c: the plan's chaos actions (chaos_plan.h); plan_yaml.c reads them. */
#include <stdlib.h>

#include "plan/chaos_plan.h"

void chaos_plan_destroy(chaos_plan_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    chaos_plan_t *self = *self_p;
    for (int i = 0; i < self->count; i++) {
        chaos_action_spec_t *a = &self->actions[i];
        free(a->phase);
        for (int k = 0; a->argv && a->argv[k]; k++)
            free(a->argv[k]);
        free(a->argv);
        free(a->shell);
        free(a->name);
        free(a->mark);
    }
    free(self->actions);
    free(self);
    *self_p = NULL;
}
