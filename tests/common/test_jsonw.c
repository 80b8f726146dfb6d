/*  Proves the JSON writer emits valid, parseable JSON whatever bytes it is given. */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "common/jsonw.h"

static json_t *parse(const buf_t *b)
{
    json_error_t err;
    json_t *doc = json_loadb(b->data, b->len, 0, &err);
    if (!doc)
        fprintf(stderr, "    jansson: %s at %d:%d in %s\n", err.text, err.line, err.column,
                b->data);
    return doc;
}

static void test_nested_objects_and_arrays_parse_back(void)
{
    buf_t b;
    buf_init(&b);
    jsonw_t w;
    jsonw_init(&w, &b);
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "name", "ramp");
    jsonw_key(&w, "levels");
    jsonw_array_begin(&w);
    for (int i = 0; i < 3; i++)
        jsonw_int(&w, i * 10);
    jsonw_array_end(&w);
    jsonw_key(&w, "ttft_ms");
    jsonw_object_begin(&w);
    jsonw_kv_double(&w, "p99", 451.25);
    jsonw_kv_double(&w, "nan", NAN);
    jsonw_object_end(&w);
    jsonw_kv_bool(&w, "ok", true);
    jsonw_key(&w, "lost_at_s");
    jsonw_null(&w);
    jsonw_object_end(&w);
    json_t *doc = parse(&b);
    REQUIRE(doc);
    CHECK_STR_EQ(json_string_value(json_object_get(doc, "name")), "ramp");
    CHECK_INT_EQ(json_array_size(json_object_get(doc, "levels")), 3);
    CHECK(json_integer_value(json_array_get(json_object_get(doc, "levels"), 2)) == 20);
    json_t *ttft = json_object_get(doc, "ttft_ms");
    CHECK(fabs(json_number_value(json_object_get(ttft, "p99")) - 451.25) < 1e-9);
    CHECK(json_is_null(json_object_get(ttft, "nan")));
    CHECK(json_is_true(json_object_get(doc, "ok")));
    CHECK(json_is_null(json_object_get(doc, "lost_at_s")));
    json_decref(doc);
    buf_free(&b);
}

static void test_hostile_bytes_are_escaped_into_valid_json(void)
{
    const char hostile[] = "quote\" back\\ nl\n ctl\x01 bad\xff\xfe utf8\xc3\xa9 trunc\xe2\x82";
    buf_t b;
    buf_init(&b);
    jsonw_t w;
    jsonw_init(&w, &b);
    jsonw_array_begin(&w);
    jsonw_string_len(&w, hostile, sizeof hostile - 1);
    jsonw_array_end(&w);
    json_t *doc = parse(&b);
    REQUIRE(doc);
    const char *s = json_string_value(json_array_get(doc, 0));
    REQUIRE(s);
    CHECK(strstr(s, "quote\" back\\ nl\n ctl\x01 bad") == s);
    CHECK(strstr(s, "utf8\xc3\xa9") != NULL);
    CHECK(strstr(s, "\xEF\xBF\xBD") != NULL);
    json_decref(doc);
    buf_free(&b);
}

static void test_doubles_round_trip_within_six_decimals(void)
{
    double values[] = {0, -0.0, 1, 0.5, 123456.789012, 1e-7, 3.5e20, -42.125};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        buf_t b;
        buf_init(&b);
        jsonw_t w;
        jsonw_init(&w, &b);
        jsonw_double(&w, values[i]);
        json_t *doc = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
        CHECK_MSG(doc != NULL, "not JSON: %s", b.data);
        if (doc) {
            double back = json_number_value(doc);
            CHECK_MSG(fabs(back - values[i]) <= 1e-6 * fmax(1, fabs(values[i])), "%s", b.data);
            json_decref(doc);
        }
        buf_free(&b);
    }
}

CHECK_MAIN(test_nested_objects_and_arrays_parse_back,
           test_hostile_bytes_are_escaped_into_valid_json,
           test_doubles_round_trip_within_six_decimals)
