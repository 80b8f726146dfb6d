/*  test_workload.c: dataset loaders on small files of each format written here (and on
    $SURGE_DATASETS when present), malformed files reported with file and line, templates,
    length distributions, the mix, composed input lengths, unique prefixes, and /tokenize
    calibration against a real `surge sim`. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "common/buf.h"
#include "plan/workload.h"

static char tmpdir[64];

static const char *write_file(const char *name, const char *content)
{
    static char path[256];
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/surge-workload-XXXXXX");
        if (!mkdtemp(tmpdir))
            abort();
    }
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(content, 1, strlen(content), f);
    fclose(f);
    return path;
}

static int load(const char *path, dataset_format_t format, const char *field, prompt_list_t *out,
                char *err, size_t err_size)
{
    dataset_spec_t spec = {.path = (char *)path, .format = format, .field = (char *)field};
    return dataset_load(&spec, out, err, err_size);
}

static void test_alpaca_json_gives_instruction_and_input(void)
{
    const char *path =
        write_file("alpaca.json", "[\n"
                                  " {\"instruction\": \"Add the numbers\", \"input\": "
                                  "\"2 and 3\", \"output\": \"5\"},\n"
                                  " {\"instruction\": \"Name a colour\", \"input\": "
                                  "\"\", \"output\": \"blue\"}\n]\n");
    prompt_list_t out = {0};
    char err[256];
    CHECK(load(path, DATASET_AUTO, NULL, &out, err, sizeof err) == 0);
    REQUIRE(out.count == 2);
    CHECK_STR_EQ(out.items[0], "Add the numbers\n\n2 and 3");
    CHECK_STR_EQ(out.items[1], "Name a colour");
    prompt_list_free(&out);
}

static void test_sharegpt_gives_the_first_human_turn(void)
{
    const char *path = write_file(
        "sharegpt.json",
        "[{\"id\": \"a\", \"conversations\": [{\"from\": \"system\", \"value\": \"be nice\"},"
        " {\"from\": \"human\", \"value\": \"Why is the sea salty?\"},"
        " {\"from\": \"gpt\", \"value\": \"Rivers.\"}, {\"from\": \"human\", \"value\": "
        "\"more\"}]},"
        " {\"id\": \"b\", \"conversations\": [{\"from\": \"gpt\", \"value\": \"only a bot\"}]},"
        " {\"id\": \"c\", \"conversations\": [{\"from\": \"user\", \"value\": \"Hi there\"}]}]");
    prompt_list_t out = {0};
    char err[256];
    CHECK(load(path, DATASET_AUTO, NULL, &out, err, sizeof err) == 0);
    REQUIRE(out.count == 2); /* the conversation without a human turn is skipped */
    CHECK_STR_EQ(out.items[0], "Why is the sea salty?");
    CHECK_STR_EQ(out.items[1], "Hi there");
    prompt_list_free(&out);
}

static void test_jsonl_with_a_named_dot_path_and_optional_input(void)
{
    const char *path =
        write_file("tasks.jsonl",
                   "{\"instruction\": \"Sort these\", \"instances\": [{\"input\": \"3 1 2\"}]}\n"
                   "\n"
                   "{\"instruction\": \"Say hi\", \"instances\": [{\"input\": \"\"}]}\r\n");
    prompt_list_t out = {0};
    char err[256];
    dataset_spec_t spec = {
        .path = (char *)path, .field = "instruction", .input_field = "instances.0.input"};
    CHECK_MSG(dataset_load(&spec, &out, err, sizeof err) == 0, "%s", err);
    REQUIRE(out.count == 2);
    CHECK_STR_EQ(out.items[0], "Sort these\n\n3 1 2");
    CHECK_STR_EQ(out.items[1], "Say hi");
    prompt_list_free(&out);

    /* without a field, the first of prompt/text/question/instruction the first row has */
    path = write_file("q.jsonl", "{\"question\": \"How far?\", \"answer\": \"far\"}\n");
    CHECK(load(path, DATASET_AUTO, NULL, &out, err, sizeof err) == 0);
    REQUIRE(out.count == 1);
    CHECK_STR_EQ(out.items[0], "How far?");
    prompt_list_free(&out);
}

static void test_plain_text_one_prompt_per_line(void)
{
    const char *path = write_file("p.txt", "first\r\n\n   \nsecond line\nthird");
    prompt_list_t out = {0};
    char err[256];
    CHECK(load(path, DATASET_AUTO, NULL, &out, err, sizeof err) == 0);
    REQUIRE(out.count == 3);
    CHECK_STR_EQ(out.items[0], "first");
    CHECK_STR_EQ(out.items[2], "third");
    prompt_list_free(&out);
    /* limit keeps the first N */
    dataset_spec_t spec = {.path = (char *)path, .limit = 2};
    CHECK(dataset_load(&spec, &out, err, sizeof err) == 0);
    CHECK_INT_EQ(out.count, 2);
    prompt_list_free(&out);
}

/* The load fails with a message starting with the file name and containing `what`. */
static void expect_dataset_error(const char *name, const char *content, dataset_format_t format,
                                 const char *field, const char *what)
{
    const char *path = write_file(name, content);
    char want[512];
    snprintf(want, sizeof want, "%s%s", path, what);
    prompt_list_t out = {0};
    char err[512] = "";
    CHECK_MSG(load(path, format, field, &out, err, sizeof err) != 0, "%s loaded", name);
    CHECK_MSG(strstr(err, want) == err, "expected '%s' in: %s", want, err);
    prompt_list_free(&out);
}

static void test_malformed_datasets_name_the_file_and_line(void)
{
    expect_dataset_error("broken.jsonl", "{\"prompt\": \"a\"}\n{\"prompt\": \"b\"\n", DATASET_AUTO,
                         NULL, ":2:");
    expect_dataset_error("broken2.jsonl", "{\"prompt\": \"a\"}\n{\"prompt\": 3}\n", DATASET_JSONL,
                         "prompt", ":2: expected a string at 'prompt'");
    expect_dataset_error("nofield.jsonl", "{\"x\": \"a\"}\n", DATASET_JSONL, NULL,
                         ":1: no prompt field");
    expect_dataset_error("array.jsonl", "[1, 2]\n", DATASET_JSONL, "prompt",
                         ":1: expected a JSON object on each line");
    expect_dataset_error("bad.json", "[{\"instruction\": \"a\"},\n {\"instruction\": ]\n",
                         DATASET_AUTO, NULL, ":2:");
    expect_dataset_error("alpaca-bad.json", "[{\"instruction\": \"a\"}, {\"instruction\": 5}]",
                         DATASET_ALPACA, NULL,
                         ": entry 2: expected an object with a string "
                         "'instruction'");
    expect_dataset_error("share-bad.json", "[{\"conversations\": \"no\"}]", DATASET_SHAREGPT, NULL,
                         ": entry 1: expected an object with a 'conversations' array");
    expect_dataset_error("share-turn.json", "[{\"conversations\": [{\"from\": 1}]}]",
                         DATASET_SHAREGPT, NULL, ": entry 1: turn 1: expected");
    expect_dataset_error("what.json", "[{\"foo\": 1}]", DATASET_AUTO, NULL,
                         ": entry 1: cannot tell the format");
    expect_dataset_error("obj.json", "{\"a\": 1}", DATASET_ALPACA, NULL,
                         ":1:1: expected a JSON array");
    expect_dataset_error("bin.txt", "ok\nbad \xff\xfe here\n", DATASET_TEXT, NULL,
                         ":2: not valid UTF-8");
    expect_dataset_error("empty.txt", "\n\n  \n", DATASET_TEXT, NULL, ": no prompt found");

    prompt_list_t out = {0};
    char err[256];
    dataset_spec_t spec = {.path = "/nonexistent/x.txt"};
    CHECK(dataset_load(&spec, &out, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "/nonexistent/x.txt: cannot open"), "%s", err);
    /* a NUL byte in text */
    const char nul[] = "a\0b\n";
    CHECK(dataset_load_bytes(&spec, "nul.txt", nul, sizeof nul - 1, &out, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "nul.txt:1: a NUL byte"), "%s", err);
}

static void test_shared_datasets_load_when_present(void)
{
    const char *dir = getenv("SURGE_DATASETS");
    char path[512];
    snprintf(path, sizeof path, "%s/gsm8k-test.jsonl", dir ? dir : "");
    if (!dir || access(path, R_OK) != 0) {
        check_skip("$SURGE_DATASETS (../shared/datasets) not present");
        return;
    }
    static const struct {
        const char *file, *field, *input_field;
        int rows;
    } sets[] = {{"gsm8k-test.jsonl", "question", NULL, 1319},
                {"humaneval.jsonl", "prompt", NULL, 164},
                {"alpaca-seed-tasks.jsonl", "instruction", "instances.0.input", 175}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, sets[i].file);
        dataset_spec_t spec = {.path = path,
                               .field = (char *)sets[i].field,
                               .input_field = (char *)sets[i].input_field};
        prompt_list_t out = {0};
        char err[512];
        CHECK_MSG(dataset_load(&spec, &out, err, sizeof err) == 0, "%s", err);
        CHECK_MSG(out.count == sets[i].rows, "%s: %d prompts, expected %d", sets[i].file, out.count,
                  sets[i].rows);
        prompt_list_free(&out);
    }
}

static void test_templates_fill_every_placeholder_from_its_values(void)
{
    workload_spec_t *spec = workload_spec_new();
    workload_class_t *cls = &spec->defaults;
    template_spec_t *t = workload_class_add_template(cls, "Summarize {topic} in {n} words {{ok}}");
    template_var_t *topic = template_add_var(t, "topic");
    template_var_add_value(topic, "tides");
    template_var_add_value(topic, "bees");
    template_var_t *n = template_add_var(t, "n");
    template_var_add_value(n, "50");
    char err[200];
    CHECK(template_check(t, err, sizeof err) == 0);
    uint64_t rng = 7;
    int seen_tides = 0, seen_bees = 0;
    for (int i = 0; i < 50; i++) {
        char *text = template_fill(t, &rng);
        REQUIRE(text);
        seen_tides += strcmp(text, "Summarize tides in 50 words {ok}") == 0;
        seen_bees += strcmp(text, "Summarize bees in 50 words {ok}") == 0;
        free(text);
    }
    CHECK(seen_tides > 0 && seen_bees > 0 && seen_tides + seen_bees == 50);

    template_spec_t *bad = workload_class_add_template(cls, "Hello {who}");
    CHECK(template_check(bad, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "{who} has no values"), "%s", err);
    CHECK(template_fill(bad, &rng) == NULL);
    template_spec_t *lone = workload_class_add_template(cls, "a } b");
    CHECK(template_check(lone, err, sizeof err) != 0);
    workload_spec_destroy(&spec);
}

static void test_length_distributions_respect_their_bounds_and_mean(void)
{
    uint64_t rng = 3;
    length_dist_t normal = {
        .kind = LENGTH_NORMAL, .mean = 200, .stddev = 50, .min = 150, .max = 400};
    double sum = 0;
    int at_min = 0;
    for (int i = 0; i < 20000; i++) {
        int v = length_dist_sample(&normal, &rng);
        CHECK(v >= 150 && v <= 400);
        at_min += v == 150;
        sum += v;
    }
    /* clipping (not redrawing) puts the lower tail's mass on min: P(z < -1) ~ 15.9% */
    CHECK_MSG(at_min > 20000 * 0.14 && at_min < 20000 * 0.18, "%d at min", at_min);
    double mean = sum / 20000;
    /* E[max(X, 150)] = 150 Phi(-1) + 200 (1 - Phi(-1)) + 50 phi(-1) = 204.2 */
    CHECK_MSG(mean > 203 && mean < 205.5, "clipped mean %.1f, expected 204.2", mean);
    length_dist_t uniform = {.kind = LENGTH_UNIFORM, .min = 10, .max = 12};
    int seen[3] = {0};
    for (int i = 0; i < 300; i++) {
        int v = length_dist_sample(&uniform, &rng);
        REQUIRE(v >= 10 && v <= 12);
        seen[v - 10]++;
    }
    CHECK(seen[0] > 50 && seen[1] > 50 && seen[2] > 50);
    length_dist_t fixed = {.kind = LENGTH_FIXED, .mean = 64};
    CHECK_INT_EQ(length_dist_sample(&fixed, &rng), 64);
    length_dist_t none = {0};
    CHECK_INT_EQ(length_dist_sample(&none, &rng), 0);
    char err[128];
    length_dist_t bad = {.kind = LENGTH_UNIFORM, .min = 5, .max = 1};
    CHECK(length_dist_check(&bad, err, sizeof err) != 0);
}

static void test_mix_holds_its_weights_exactly_and_is_deterministic(void)
{
    workload_spec_t *spec = workload_spec_new();
    workload_class_t *chat = workload_spec_add_class(spec, "chat");
    chat->weight = 70;
    workload_class_t *code = workload_spec_add_class(spec, "code");
    code->weight = 20;
    code->output_tokens = (length_dist_t){.kind = LENGTH_FIXED, .mean = 99};
    workload_class_t *summ = workload_spec_add_class(spec, "summarization");
    summ->weight = 10;
    spec->pool_size = 1000;
    workload_options_t options = {.seed = 5};
    char err[256];
    workload_t *a = workload_build(spec, &options, err, sizeof err);
    workload_t *b = workload_build(spec, &options, err, sizeof err);
    REQUIRE(a && b);
    CHECK_INT_EQ(a->count, 1000);
    CHECK_INT_EQ(a->class_count, 3);
    CHECK_STR_EQ(a->class_names[2], "summarization");
    int per_class[3] = {0};
    int prompts_count;
    const default_prompt_t *prompts = default_prompts(&prompts_count);
    for (int i = 0; i < a->count; i++) {
        const workload_item_t *it = &a->items[i];
        per_class[it->class_index]++;
        CHECK_STR_EQ(it->prompt, b->items[i].prompt); /* same seed, same pool */
        CHECK(it->max_tokens == (it->class_index == 1 ? 99 : 0));
        /* each class draws from the default prompts of its own category */
        const char *want = a->class_names[it->class_index];
        bool found = false;
        for (int k = 0; k < prompts_count && !found; k++)
            found =
                strcmp(prompts[k].text, it->prompt) == 0 && strcmp(prompts[k].category, want) == 0;
        CHECK_MSG(found, "item %d of class %s is not one of its prompts", i, want);
    }
    CHECK(per_class[0] == 700 && per_class[1] == 200 && per_class[2] == 100);
    /* interleaved: the first 100 items already hold every class */
    int early[3] = {0};
    for (int i = 0; i < 100; i++)
        early[a->items[i].class_index]++;
    CHECK(early[0] > 0 && early[1] > 0 && early[2] > 0);
    workload_destroy(&a);
    workload_destroy(&b);
    workload_spec_destroy(&spec);
}

static void test_input_lengths_are_reached_by_composing_real_text(void)
{
    workload_spec_t *spec = workload_spec_new();
    workload_set_string(&spec->defaults.builtin, "all");
    spec->defaults.input_tokens = (length_dist_t){.kind = LENGTH_FIXED, .mean = 500};
    spec->pool_size = 20;
    workload_options_t options = {.chars_per_token = 4.0, .seed = 9};
    char err[256];
    workload_t *w = workload_build(spec, &options, err, sizeof err);
    REQUIRE(w);
    for (int i = 0; i < w->count; i++) {
        size_t len = strlen(w->items[i].prompt);
        CHECK_INT_EQ(w->items[i].input_tokens, 500);
        /* 500 tokens x 4 chars, cut at a word boundary: within one word of the budget */
        CHECK_MSG(len <= 2000 && len > 2000 - 40, "item %d: %zu chars", i, len);
        CHECK(w->items[i].prompt[len - 1] != ' ');
    }
    workload_destroy(&w);

    /* shorter targets truncate the prompt at a word boundary */
    spec->defaults.input_tokens = (length_dist_t){.kind = LENGTH_FIXED, .mean = 5};
    w = workload_build(spec, &options, err, sizeof err);
    REQUIRE(w);
    for (int i = 0; i < w->count; i++) {
        size_t len = strlen(w->items[i].prompt);
        CHECK_MSG(len <= 20 && len > 0, "item %d: %zu chars: %s", i, len, w->items[i].prompt);
    }
    workload_destroy(&w);
    workload_spec_destroy(&spec);
}

static void test_unique_prefix_makes_every_start_distinct(void)
{
    workload_spec_t *spec = workload_spec_new();
    prompt_list_add(&spec->defaults.prompts, "same prompt", 11);
    spec->pool_size = 200;
    spec->unique_prefix = true;
    workload_options_t options = {.nonce = "run7"};
    char err[256];
    workload_t *w = workload_build(spec, &options, err, sizeof err);
    REQUIRE(w);
    for (int i = 0; i < w->count; i++) {
        char want[64];
        snprintf(want, sizeof want, "[run7-%d] same prompt", i);
        CHECK_STR_EQ(w->items[i].prompt, want);
    }
    workload_destroy(&w);
    spec->unique_prefix = false;
    w = workload_build(spec, &options, err, sizeof err);
    REQUIRE(w);
    CHECK_STR_EQ(w->items[5].prompt, "same prompt");
    workload_destroy(&w);
    workload_spec_destroy(&spec);
}

static void test_default_prompts_cover_three_categories(void)
{
    int count;
    const default_prompt_t *p = default_prompts(&count);
    int chat = 0, code = 0, summ = 0;
    for (int i = 0; i < count; i++) {
        chat += strcmp(p[i].category, "chat") == 0;
        code += strcmp(p[i].category, "code") == 0;
        summ += strcmp(p[i].category, "summarization") == 0;
        for (int k = 0; k < i; k++)
            CHECK_MSG(strcmp(p[i].text, p[k].text) != 0, "prompt %d repeats %d", i, k);
    }
    CHECK(count >= 60);
    CHECK(chat >= 20 && code >= 15 && summ >= 10);
    CHECK_INT_EQ(chat + code + summ, count);
}

static void test_workload_errors_name_the_source(void)
{
    workload_spec_t *spec = workload_spec_new();
    workload_class_add_dataset(&spec->defaults, "/nonexistent/prompts.txt");
    char err[256];
    CHECK(workload_build(spec, NULL, err, sizeof err) == NULL);
    CHECK_MSG(strstr(err, "/nonexistent/prompts.txt: cannot open"), "%s", err);
    workload_spec_destroy(&spec);

    spec = workload_spec_new();
    workload_spec_add_class(spec, "a")->weight = 0;
    CHECK(workload_build(spec, NULL, err, sizeof err) == NULL);
    CHECK_MSG(strstr(err, "weights add up to 0"), "%s", err);
    workload_spec_destroy(&spec);
}

/* /tokenize against a real simulated node: the ratio is the simulator's (one token per 4
   bytes of text) within rounding. */
static void test_tokenize_calibration_against_surge_sim(void)
{
    const char *surge = getenv("SURGE_BIN");
    if (!surge || access(surge, X_OK) != 0) {
        check_skip("SURGE_BIN not set");
        return;
    }
    char err[256];
    double ratio = -1;
    for (int attempt = 0; attempt < 5 && ratio < 0; attempt++) {
        int port = 20000 + (int)(getpid() % 20000) + attempt * 7;
        char listen[64], url[64];
        snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
        snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            freopen("/dev/null", "w", stderr);
            execl(surge, surge, "sim", "--listen", listen, "--profile", "tiny", (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < 50 && ratio < 0; i++) { /* up to 5 s for the server to listen */
            usleep(100000);
            ratio =
                workload_calibrate_chars_per_token(url, "surge-sim-tiny", 2000, err, sizeof err);
        }
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    CHECK_MSG(ratio > 3.5 && ratio < 4.5, "chars per token %.3f (%s)", ratio, err);

    /* no server: a reason, not a crash */
    CHECK(workload_calibrate_chars_per_token("http://127.0.0.1:1", NULL, 500, err, sizeof err) < 0);
    CHECK(strstr(err, "127.0.0.1:1/tokenize") != NULL);
}

/* Conversations (issue 20): a ShareGPT file and a JSONL `messages` file give whole
   conversations, the user turns in order; the dataset's answers are not kept. */
static void test_sharegpt_and_jsonl_messages_give_whole_conversations_of_user_turns(void)
{
    const char *sharegpt =
        write_file("conv.json",
                   "[{\"conversations\": [{\"from\": \"system\", \"value\": \"be nice\"},"
                   " {\"from\": \"human\", \"value\": \"Why is the sea salty?\"},"
                   " {\"from\": \"gpt\", \"value\": \"Rivers.\"}, {\"from\": \"human\", \"value\": "
                   "\"And the Dead Sea?\"}]},"
                   " {\"conversations\": [{\"from\": \"gpt\", \"value\": \"only a bot\"}]},"
                   " {\"conversations\": [{\"from\": \"user\", \"value\": \"Hi there\"}]}]");
    conversation_list_t out = {0};
    char err[256];
    dataset_spec_t spec = {.path = (char *)sharegpt};
    CHECK_MSG(dataset_load_conversations(&spec, &out, err, sizeof err) == 0, "%s", err);
    REQUIRE(out.count == 2); /* the one without a human turn is skipped */
    REQUIRE(out.items[0].user_turns.count == 2);
    CHECK_STR_EQ(out.items[0].user_turns.items[0], "Why is the sea salty?");
    CHECK_STR_EQ(out.items[0].user_turns.items[1], "And the Dead Sea?");
    REQUIRE(out.items[1].user_turns.count == 1);
    CHECK_STR_EQ(out.items[1].user_turns.items[0], "Hi there");
    conversation_list_free(&out);

    const char *jsonl = write_file(
        "conv.jsonl",
        "{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", "
        "\"content\": \"one\"}, {\"role\": \"assistant\", \"content\": \"a\"}, "
        "{\"role\": \"user\", \"content\": \"two\"}]}\n\n"
        "{\"messages\": [{\"role\": \"user\", \"content\": \"alone\"}]}\n");
    spec.path = (char *)jsonl;
    CHECK_MSG(dataset_load_conversations(&spec, &out, err, sizeof err) == 0, "%s", err);
    REQUIRE(out.count == 2);
    REQUIRE(out.items[0].user_turns.count == 2);
    CHECK_STR_EQ(out.items[0].user_turns.items[1], "two");
    CHECK_STR_EQ(out.items[1].user_turns.items[0], "alone");
    conversation_list_free(&out);

    /* errors name the file and the line or entry */
    spec.path = (char *)write_file("bad.jsonl", "{\"messages\": [{\"role\": \"user\", "
                                                "\"content\": \"ok\"}]}\n{\"messages\": 3}\n");
    CHECK(dataset_load_conversations(&spec, &out, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "bad.jsonl:2: expected an object with an array"), "%s", err);
    conversation_list_free(&out);
    spec.path = (char *)write_file("bad.json", "[{\"conversations\": [{\"from\": \"human\"}]}]");
    CHECK(dataset_load_conversations(&spec, &out, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "bad.json: entry 1: turn 1: expected"), "%s", err);
    conversation_list_free(&out);
    spec.path = (char *)write_file("plain.txt", "one prompt\n");
    CHECK(dataset_load_conversations(&spec, &out, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "not text"), "%s", err);
    conversation_list_free(&out);
}

/* A turn past WORKLOAD_MAX_TURNS is dropped, so one conversation's turns stay bounded. */
static void test_dataset_conversations_keep_at_most_the_turn_cap(void)
{
    buf_t text;
    buf_init(&text);
    buf_append_str(&text, "{\"messages\": [");
    for (int i = 0; i < WORKLOAD_MAX_TURNS + 10; i++)
        buf_printf(&text, "%s{\"role\": \"user\", \"content\": \"turn %d\"}", i ? ", " : "", i + 1);
    buf_append_str(&text, "]}\n");
    dataset_spec_t spec = {.format = DATASET_JSONL};
    conversation_list_t out = {0};
    char err[256];
    CHECK(dataset_load_conversations_bytes(&spec, "long.jsonl", text.data, text.len, &out, err,
                                           sizeof err) == 0);
    REQUIRE(out.count == 1);
    CHECK_INT_EQ(out.items[0].user_turns.count, WORKLOAD_MAX_TURNS);
    conversation_list_free(&out);
    buf_free(&text);
}

/* workload_build with conversations: the dataset's conversations, their user turns as the
   pool (a JSONL `messages` file has no prompt field of its own), and a system prompt and
   shared prefix of about the asked length. */
static void test_workload_with_conversations_builds_turns_and_shared_texts(void)
{
    workload_spec_t *spec = workload_spec_new();
    workload_class_add_dataset(&spec->defaults,
                               write_file("w.jsonl", "{\"messages\": [{\"role\": \"user\", "
                                                     "\"content\": \"first\"}, {\"role\": "
                                                     "\"user\", \"content\": \"second\"}]}\n"));
    spec->conversations.enabled = true;
    spec->conversations.system_prompt_tokens = 100;
    spec->conversations.shared_prefix_tokens = 500;
    spec->conversations.shared_prefix_fraction = 0.5;
    spec->pool_size = 4;
    char err[256];
    workload_t *w = workload_build(spec, NULL, err, sizeof err);
    CHECK_MSG(w != NULL, "%s", err);
    REQUIRE(w != NULL);
    REQUIRE(w->conversations.count == 1);
    CHECK_INT_EQ(w->conversations.items[0].user_turns.count, 2);
    for (int i = 0; i < w->count; i++)
        CHECK(strcmp(w->items[i].prompt, "first") == 0 ||
              strcmp(w->items[i].prompt, "second") == 0);
    size_t sys = strlen(w->system_prompt), prefix = strlen(w->shared_prefix);
    CHECK_MSG(sys > 300 && sys <= 400, "system prompt of %zu chars for 100 tokens", sys);
    CHECK_MSG(prefix > 1800 && prefix <= 2000, "shared prefix of %zu chars for 500 tokens", prefix);
    workload_destroy(&w);

    spec->conversations.turns =
        (length_dist_t){.kind = LENGTH_FIXED, .mean = 65, .min = 65, .max = 65};
    CHECK(workload_build(spec, NULL, err, sizeof err) == NULL);
    CHECK_MSG(strstr(err, "turns: 1 to 64"), "%s", err);
    spec->conversations.turns.kind = LENGTH_NONE;
    spec->conversations.shared_prefix_tokens = 0;
    CHECK(workload_build(spec, NULL, err, sizeof err) == NULL);
    CHECK_MSG(strstr(err, "shared_prefix_fraction without"), "%s", err);
    workload_spec_destroy(&spec);
}

static void cleanup(void)
{
    if (tmpdir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

static void test_zz_cleanup(void)
{
    cleanup();
}

CHECK_MAIN(test_alpaca_json_gives_instruction_and_input, test_sharegpt_gives_the_first_human_turn,
           test_jsonl_with_a_named_dot_path_and_optional_input, test_plain_text_one_prompt_per_line,
           test_malformed_datasets_name_the_file_and_line, test_shared_datasets_load_when_present,
           test_templates_fill_every_placeholder_from_its_values,
           test_length_distributions_respect_their_bounds_and_mean,
           test_mix_holds_its_weights_exactly_and_is_deterministic,
           test_input_lengths_are_reached_by_composing_real_text,
           test_unique_prefix_makes_every_start_distinct,
           test_default_prompts_cover_three_categories, test_workload_errors_name_the_source,
           test_sharegpt_and_jsonl_messages_give_whole_conversations_of_user_turns,
           test_dataset_conversations_keep_at_most_the_turn_cap,
           test_workload_with_conversations_builds_turns_and_shared_texts,
           test_tokenize_calibration_against_surge_sim, test_zz_cleanup)
