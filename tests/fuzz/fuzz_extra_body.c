/*  fuzz_extra_body: a plan's `extra_body` (JSON from the coordinator, merged into every
    request body by worker/target.c) and a prompt of any bytes. Any input: the worker's
    targets are built or refused with a reason, never a crash, an out-of-bounds access or
    a leak; and when they are built, every request body is one JSON object that holds
    each extra field exactly as given (extra wins) and still names the model unless
    extra overrides it.

    Input layout: the extra body JSON, a NUL, the prompt (raw bytes; a NUL ends it). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/engine_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *text = malloc(size + 2);
    memcpy(text, data, size);
    text[size] = text[size + 1] = '\0';
    const char *extra_text = text;
    const char *prompt = text + strlen(text) + 1;
    if (prompt > text + size)
        prompt = "";
    const char *urls[] = {"http://user:pw@127.0.0.1:1/?key=k", "https://[::1]:8443/base/"};
    const char *prompts[] = {prompt, "fixed"};
    engine_config_t config;
    memset(&config, 0, sizeof config);
    config.target_urls = urls;
    config.target_count = 2;
    config.model = "m";
    config.stream = (size & 1) != 0;
    config.include_usage = true;
    config.max_tokens = 16;
    config.api = (size & 2) ? ENGINE_API_CHAT : ENGINE_API_COMPLETIONS;
    config.extra_body_json = extra_text;
    config.prompts = prompts;
    config.prompt_count = 2;

    targets_t targets;
    char err[512];
    json_t *extra = json_loads(extra_text, 0, NULL);
    if (targets_init(&targets, &config, err, sizeof err) == 0) {
        if (*extra_text && !json_is_object(extra)) {
            fprintf(stderr, "an extra body that is not a JSON object was accepted\n");
            abort();
        }
        for (int i = 0; i < targets.body_count; i++) {
            json_error_t jerr;
            json_t *body = json_loadb(targets.bodies[i], targets.body_lens[i], 0, &jerr);
            if (!json_is_object(body)) {
                fprintf(stderr, "body %d is not a JSON object (%s): %s\n", i, jerr.text,
                        targets.bodies[i]);
                abort();
            }
            const char *key;
            json_t *value;
            json_object_foreach(extra, key, value)
            {
                if (!json_equal(json_object_get(body, key), value)) {
                    fprintf(stderr, "extra field %s lost in body %d: %s\n", key, i,
                            targets.bodies[i]);
                    abort();
                }
            }
            const char *model = json_string_value(json_object_get(body, "model"));
            if (!json_object_get(extra, "model") && !(model && strcmp(model, "m") == 0)) {
                fprintf(stderr, "body %d lost the model: %s\n", i, targets.bodies[i]);
                abort();
            }
            json_decref(body);
        }
        targets_free(&targets);
    }
    json_decref(extra);
    free(text);
    return 0;
}
