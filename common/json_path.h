/*  json_path.h: the one dot-path lookup into a JSON document, for results, summaries,
    ctl answers and dataset rows alike.

        json_path(summary, "ttft_ms.p99")        an object's key, then its key
        json_path(row, "instances.0.input")      on an array, a part is an index
        json_path(doc, "")                       the document itself

    Each part between dots is an object's key, or, where the node is an array, a decimal
    index (digits only). A key cannot contain a dot. An empty part ("a..b", "a."), a
    missing key, an index past the end, or a part below a string or number gives NULL.
*/
#ifndef SURGE_JSON_PATH_H
#define SURGE_JSON_PATH_H

#include <jansson.h>

/* The value at path, borrowed from root (NULL root: NULL). */
const json_t *json_path(const json_t *root, const char *path);

/* The number (integer or real) at path, or NAN when there is none. */
double json_path_number(const json_t *root, const char *path);

#endif
