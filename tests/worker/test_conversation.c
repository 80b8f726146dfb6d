/*  test_conversation.c: what a conversation's turn sends (worker/conversation.c).

    Each body is parsed back as JSON and held against the conversation as it happened:
    the system prompt (with the shared prefix where drawn), the earlier turns with the
    answers received, the new user turn; extra_body and max_tokens as a single turn has
    them; the oldest turns left out, and counted, when the context would overflow.
*/
#include <jansson.h>
#include <string.h>

#include "check.h"
#include "worker/engine_private.h"

static const char *const turns[] = {"first \"question\"", "second\nquestion", "third", "alone"};
static const int counts[] = {3, 1};
static const char *const prompts[] = {"pool prompt"};

static engine_config_t config_for(int context_tokens)
{
    engine_config_t c = {0};
    c.api = ENGINE_API_CHAT;
    c.model = "m";
    c.stream = true;
    c.include_usage = true;
    c.max_tokens = 10;
    c.extra_body_json = "{\"temperature\": 0.5}";
    c.prompts = prompts;
    c.prompt_count = 1;
    c.conversations = (engine_conversations_t){.enabled = true,
                                               .system_prompt = "Be brief.",
                                               .shared_prefix = "A long shared document.",
                                               .shared_prefix_fraction = 1,
                                               .turn_counts = counts,
                                               .conversation_count = 2,
                                               .turn_texts = turns,
                                               .turn_text_count = 4,
                                               .context_tokens = context_tokens,
                                               .chars_per_token = 1};
    return c;
}

static json_t *body_of(const buf_t *b)
{
    json_error_t jerr;
    json_t *root = json_loadb(b->data, b->len, JSON_REJECT_DUPLICATES, &jerr);
    CHECK_MSG(root != NULL, "not JSON (%s): %.*s", jerr.text, (int)b->len, b->data);
    return root;
}

static const char *message(json_t *body, size_t i, const char *field)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(body, "messages"), i), field));
}

static void test_each_turn_carries_the_turns_before_it_as_they_happened(void)
{
    engine_config_t config = config_for(0);
    char err[256];
    conv_shared_t *shared = conv_shared_new(&config, err, sizeof err);
    CHECK_MSG(shared != NULL, "%s", err);
    REQUIRE(shared != NULL);
    conversation_t *conv = conversation_new(shared, 2, 7, -1, 0); /* dataset conversation 0 */
    REQUIRE(conv != NULL);
    CHECK_STR_EQ(conversation_id(conv), "2.7");
    buf_t body;
    buf_init(&body);
    const char *answers[] = {"answer \"one\"\n", "answer two \xc3\xa9"};
    for (int turn = 1; turn <= 3; turn++) {
        int dropped = -1;
        CHECK_INT_EQ(conversation_next_body(conv, &body, &dropped), turn);
        CHECK_INT_EQ(dropped, 0);
        json_t *b = body_of(&body);
        REQUIRE(b != NULL);
        CHECK_STR_EQ(json_string_value(json_object_get(b, "model")), "m");
        CHECK_INT_EQ(json_integer_value(json_object_get(b, "max_tokens")), 10);
        CHECK(json_real_value(json_object_get(b, "temperature")) == 0.5);
        CHECK(json_is_true(json_object_get(b, "stream")));
        json_t *messages = json_object_get(b, "messages");
        REQUIRE(json_array_size(messages) == (size_t)(2 * turn));
        CHECK_STR_EQ(message(b, 0, "role"), "system");
        CHECK_STR_EQ(message(b, 0, "content"), "Be brief.\n\nA long shared document.");
        for (int k = 0; k < turn; k++) {
            CHECK_STR_EQ(message(b, 1 + 2 * k, "role"), "user");
            CHECK_STR_EQ(message(b, 1 + 2 * k, "content"), turns[k]);
            if (k < turn - 1) {
                CHECK_STR_EQ(message(b, 2 + 2 * k, "role"), "assistant");
                CHECK_STR_EQ(message(b, 2 + 2 * k, "content"), answers[k]);
            }
        }
        json_decref(b);
        bool more = conversation_answered(conv, turn <= 2 ? answers[turn - 1] : "x",
                                          strlen(turn <= 2 ? answers[turn - 1] : "x"));
        CHECK(more == (turn < 3));
    }
    conversation_destroy(&conv);
    CHECK(conv == NULL);
    buf_free(&body);
    conv_shared_destroy(&shared);
}

/* With a context of 300 characters (1 per token), 10 of them the answer's, one answered
   turn of ~160 bytes fits beside the system prompt and the new turn, two do not: the
   oldest goes first, and the count says so. */
static void test_the_oldest_turns_are_dropped_to_fit_the_context_and_counted(void)
{
    engine_config_t config = config_for(300);
    config.conversations.shared_prefix = NULL;
    char err[256];
    conv_shared_t *shared = conv_shared_new(&config, err, sizeof err);
    REQUIRE(shared != NULL);
    conversation_t *conv = conversation_new(shared, 0, 0, -1, 0);
    REQUIRE(conv != NULL);
    buf_t body;
    buf_init(&body);
    int dropped = 0;
    char answer[80];
    memset(answer, 'a', sizeof answer - 1);
    answer[sizeof answer - 1] = '\0';
    conversation_next_body(conv, &body, &dropped);
    conversation_answered(conv, answer, strlen(answer));
    conversation_next_body(conv, &body, &dropped);
    CHECK_INT_EQ(dropped, 0);
    conversation_answered(conv, answer, strlen(answer));
    conversation_next_body(conv, &body, &dropped);
    CHECK_INT_EQ(dropped, 1);
    json_t *b = body_of(&body);
    REQUIRE(b != NULL);
    json_t *messages = json_object_get(b, "messages");
    CHECK_INT_EQ(json_array_size(messages), 4); /* system, turn 2 and its answer, turn 3 */
    CHECK_STR_EQ(message(b, 1, "content"), turns[1]);
    CHECK_STR_EQ(message(b, 3, "content"), turns[2]);
    json_decref(b);
    conversation_destroy(&conv);
    buf_free(&body);
    conv_shared_destroy(&shared);
}

static void test_bad_conversation_configs_are_refused_with_a_reason(void)
{
    engine_config_t config = config_for(0);
    char err[256];
    config.api = ENGINE_API_COMPLETIONS;
    CHECK(conv_shared_new(&config, err, sizeof err) == NULL);
    CHECK_MSG(strstr(err, "chat") != NULL, "%s", err);
    config = config_for(0);
    config.extra_body_json = "{\"messages\": []}";
    CHECK(conv_shared_new(&config, err, sizeof err) == NULL);
    CHECK_MSG(strstr(err, "messages") != NULL, "%s", err);
    config = config_for(0);
    config.conversations.turn_text_count = 3; /* the counts say 4 */
    CHECK(conv_shared_new(&config, err, sizeof err) == NULL);
    config.conversations.enabled = false;
    CHECK(conv_shared_new(&config, err, sizeof err) == NULL);
    CHECK_STR_EQ(err, "");
}

CHECK_MAIN(test_each_turn_carries_the_turns_before_it_as_they_happened,
           test_the_oldest_turns_are_dropped_to_fit_the_context_and_counted,
           test_bad_conversation_configs_are_refused_with_a_reason)
