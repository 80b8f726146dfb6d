/*  test_json_path.c: common/json_path.h, the one dot-path lookup: object keys, array
    indexes where the node is an array, and NULL (never a guess) for anything else. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "common/json_path.h"

static json_t *doc(void)
{
    json_t *d = json_loads("{\"ttft_ms\": {\"p99\": 812.5, \"p50\": null},"
                           " \"requests\": {\"errors\": 3},"
                           " \"instances\": [{\"input\": \"a\"}, {\"input\": \"b\"}],"
                           " \"name\": \"run\", \"\": 1,"
                           " \"a.b\": 7, \"long_key_long_key_long_key_long_key_long_key_long_key_"
                           "long_key_x\": 9}",
                           0, NULL);
    return d;
}

static void test_dots_walk_object_keys(void)
{
    json_t *d = doc();
    REQUIRE(d);
    CHECK(json_path_number(d, "ttft_ms.p99") == 812.5);
    CHECK(json_path_number(d, "requests.errors") == 3);
    CHECK_STR_EQ(json_string_value(json_path(d, "name")), "run");
    CHECK(json_path_number(d, "long_key_long_key_long_key_long_key_long_key_long_key_long_key_x") ==
          9);
    json_decref(d);
}

static void test_on_an_array_a_part_is_an_index(void)
{
    json_t *d = doc();
    REQUIRE(d);
    CHECK_STR_EQ(json_string_value(json_path(d, "instances.0.input")), "a");
    CHECK_STR_EQ(json_string_value(json_path(d, "instances.1.input")), "b");
    CHECK(json_path(d, "instances.2.input") == NULL);
    CHECK(json_path(d, "instances.-1.input") == NULL);
    CHECK(json_path(d, "instances.x.input") == NULL);
    CHECK(json_path(d, "instances.99999999999999999999999.input") == NULL);
    json_decref(d);
}

static void test_the_empty_path_is_the_document_itself(void)
{
    json_t *d = doc();
    REQUIRE(d);
    CHECK(json_path(d, "") == d);
    CHECK(json_path(d, NULL) == d);
    CHECK(json_path(NULL, "name") == NULL);
    json_decref(d);
}

static void test_missing_empty_or_dangling_parts_give_nothing(void)
{
    json_t *d = doc();
    REQUIRE(d);
    const char *none[] = {"nope",     "ttft_ms.p95", "ttft_ms..p99",         ".ttft_ms",
                          "ttft_ms.", "name.length", "requests.errors.more", "a.b"};
    for (int i = 0; i < (int)(sizeof none / sizeof none[0]); i++)
        CHECK_MSG(json_path(d, none[i]) == NULL, "'%s' found", none[i]);
    json_decref(d);
}

static void test_a_number_is_nan_where_the_value_is_not_one(void)
{
    json_t *d = doc();
    REQUIRE(d);
    CHECK(isnan(json_path_number(d, "ttft_ms.p50"))); /* null: a histogram with no sample */
    CHECK(isnan(json_path_number(d, "name")));
    CHECK(isnan(json_path_number(d, "ttft_ms")));
    CHECK(isnan(json_path_number(d, "absent.path")));
    json_decref(d);
}

CHECK_MAIN(test_dots_walk_object_keys, test_on_an_array_a_part_is_an_index,
           test_the_empty_path_is_the_document_itself,
           test_missing_empty_or_dangling_parts_give_nothing,
           test_a_number_is_nan_where_the_value_is_not_one)
