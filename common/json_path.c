/*  json_path.c: dot paths into JSON (see json_path.h). */
#include "common/json_path.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The element of an array named by a part of digits, or NULL. */
static const json_t *array_at(const json_t *array, const char *part, size_t len)
{
    if (len == 0 || strspn(part, "0123456789") < len)
        return NULL;
    size_t index = 0;
    for (size_t i = 0; i < len; i++) {
        if (index > (SIZE_MAX - 9) / 10)
            return NULL; /* past any array's end */
        index = index * 10 + (size_t)(part[i] - '0');
    }
    return json_array_get(array, index);
}

const json_t *json_path(const json_t *root, const char *path)
{
    const json_t *node = root;
    const char *part = path ? path : "";
    while (node && *part) {
        const char *dot = strchr(part, '.');
        size_t len = dot ? (size_t)(dot - part) : strlen(part);
        if (len == 0)
            return NULL;
        if (json_is_array(node))
            node = array_at(node, part, len);
        else if (json_is_object(node))
            node = json_object_getn(node, part, len);
        else
            return NULL;
        if (dot && !dot[1])
            return NULL; /* "a." */
        part = dot ? dot + 1 : part + len;
    }
    return node;
}

double json_path_number(const json_t *root, const char *path)
{
    const json_t *v = json_path(root, path);
    return json_is_number(v) ? json_number_value(v) : NAN;
}
