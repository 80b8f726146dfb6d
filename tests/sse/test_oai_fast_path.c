/*  Proves the fast path of oai_parser_parse answers the chunk shapes real servers
    stream (vLLM, SGLang, TGI, OpenAI, llama.cpp: content, reasoning, usage-only, finish,
    whole bodies) with exactly the general path's results, and leaves everything
    unusual (errors, malformed JSON, wrong types, duplicate keys, deep nesting, the token
    limit) to the general path. tests/fuzz/fuzz_oai_equiv.c proves equality on arbitrary
    inputs; these prove the fast path is really taken where it should pay. */
#include <string.h>

#include "check.h"
#include "common/oai_event.h"

static oai_parser_t *fast, *general;

/* Parses with both paths; checks every field is equal; returns whether the fast path
   answered. */
static bool parse_both(const char *json, oai_event_t *ev)
{
    oai_event_t g;
    size_t len = strlen(json);
    oai_parser_parse(fast, json, len, ev);
    bool answered = oai_parser_answered_fast(fast);
    oai_parser_parse(general, json, len, &g);
    CHECK(!oai_parser_answered_fast(general));
    CHECK_INT_EQ(ev->kind, g.kind);
    CHECK_INT_EQ(ev->content_bytes, g.content_bytes);
    CHECK_INT_EQ(ev->reasoning_bytes, g.reasoning_bytes);
    CHECK_INT_EQ(ev->content_choices, g.content_choices);
    CHECK_INT_EQ(ev->choices, g.choices);
    CHECK_INT_EQ(ev->prompt_tokens, g.prompt_tokens);
    CHECK_INT_EQ(ev->completion_tokens, g.completion_tokens);
    CHECK_STR_EQ(ev->finish_reason, g.finish_reason);
    CHECK_INT_EQ(ev->error_code, g.error_code);
    CHECK_STR_EQ(ev->error_message, g.error_message);
    CHECK_STR_EQ(ev->error_type, g.error_type);
    CHECK_STR_EQ(ev->malformed_reason, g.malformed_reason);
    CHECK(ev->content_json == g.content_json && ev->content_json_len == g.content_json_len);
    return answered;
}

#define VLLM_HEAD                                                                                  \
    "{\"id\":\"chatcmpl-3f9a\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,"       \
    "\"model\":\"meta-llama/Llama-3.1-8B-Instruct\","

static void test_real_chunk_shapes_answered_fast_with_general_results(void)
{
    static const char *const shapes[] = {
        /* vLLM: role chunk, content with continuous usage, finish, usage-only */
        VLLM_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                  "\"logprobs\":null,\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":512,"
                  "\"total_tokens\":512,\"completion_tokens\":0}}",
        VLLM_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" \\\"quickly\\\"\\n\"},"
                  "\"logprobs\":null,\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":512,"
                  "\"total_tokens\":514,\"completion_tokens\":2}}",
        VLLM_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"logprobs\":null,"
                  "\"finish_reason\":\"stop\",\"stop_reason\":null}]}",
        VLLM_HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":512,\"total_tokens\":1508,"
                  "\"completion_tokens\":996,\"prompt_tokens_details\":null}}",
        /* vLLM reasoning parsers: reasoning_content, reasoning, both */
        VLLM_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"Let me\"},"
                  "\"logprobs\":null,\"finish_reason\":null}]}",
        VLLM_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\" think\",\"content\":"
                  "null},\"logprobs\":null,\"finish_reason\":null}]}",
        VLLM_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"ab\",\"reasoning\":"
                  "\"ab\"},\"finish_reason\":null}]}",
        /* vLLM /v1/completions */
        "{\"id\":\"cmpl-9a\",\"object\":\"text_completion\",\"created\":1718000001,\"model\":"
        "\"Qwen/Qwen2.5-7B\",\"choices\":[{\"index\":0,\"text\":\" Paris\",\"logprobs\":null,"
        "\"finish_reason\":null,\"stop_reason\":null}],\"usage\":null}",
        /* SGLang */
        "{\"id\":\"5d1c\",\"object\":\"chat.completion.chunk\",\"created\":1718000003,\"model\":"
        "\"default\",\"choices\":[{\"index\":0,\"delta\":{\"role\":null,\"content\":\" world\","
        "\"reasoning_content\":null,\"tool_calls\":null},\"logprobs\":null,\"finish_reason\":null,"
        "\"matched_stop\":null}],\"usage\":null}",
        /* TGI */
        "{\"object\":\"chat.completion.chunk\",\"id\":\"\",\"created\":1718000004,\"model\":"
        "\"tgi\",\"system_fingerprint\":\"3.0.1-sha-1\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"role\":\"assistant\",\"content\":\" token\"},\"logprobs\":null,\"finish_reason\":"
        "null}],\"usage\":null}",
        /* OpenAI, with stream_options.include_usage and a tool call */
        "{\"id\":\"chatcmpl-A\",\"object\":\"chat.completion.chunk\",\"created\":1718000005,"
        "\"model\":\"gpt-4o-mini\",\"service_tier\":\"default\",\"system_fingerprint\":"
        "\"fp_0ba0d124f1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\",\"refusal\":"
        "null,\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\": [1, 2.5e-3, "
        "true]}\"}}]},\"logprobs\":{\"content\":[{\"token\":\"Hi\",\"logprob\":-0.25,\"bytes\":"
        "[72,105],\"top_logprobs\":[]}]},\"finish_reason\":null}],\"usage\":null,"
        "\"obfuscation\":\"x9\"}",
        /* llama.cpp server: whitespace between tokens */
        "{ \"choices\" : [ { \"finish_reason\" : null , \"index\" : 0 , \"delta\" : { "
        "\"content\" : \"\\u00e9\\ud83d\\ude00\" } } ] ,\n \"created\" : 1718000006 , "
        "\"object\" : \"chat.completion.chunk\" }",
        /* n=3, and a whole non-streaming body */
        VLLM_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ab\"}},{\"index\":1,"
                  "\"delta\":{\"content\":\"cde\"}},{\"index\":2,\"delta\":{\"content\":\"\"},"
                  "\"finish_reason\":\"length\"}]}",
        "{\"id\":\"chatcmpl-b2\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"reasoning_content\":null,\"content\":\"Hello!\","
        "\"tool_calls\":[]},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":"
        "{\"prompt_tokens\":9,\"total_tokens\":16,\"completion_tokens\":7}}\n",
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        oai_event_t ev;
        bool answered = parse_both(shapes[i], &ev);
        CHECK(answered);
        CHECK_INT_EQ(ev.kind, OAI_EVENT_CHUNK);
    }
    /* and the values are the documented ones, not only the same */
    oai_event_t ev;
    parse_both(shapes[1], &ev);
    CHECK_INT_EQ(ev.content_bytes, 11);
    CHECK_INT_EQ(ev.completion_tokens, 2);
    parse_both(shapes[3], &ev);
    CHECK_INT_EQ(ev.choices, 0);
    CHECK_INT_EQ(ev.prompt_tokens, 512);
    CHECK_INT_EQ(ev.completion_tokens, 996);
    parse_both(shapes[6], &ev);
    CHECK_INT_EQ(ev.reasoning_bytes, 2);
    parse_both(shapes[11], &ev);
    CHECK_INT_EQ(ev.content_bytes, 2 + 4);
    parse_both(shapes[12], &ev);
    CHECK_INT_EQ(ev.content_choices, 2);
    CHECK_STR_EQ(ev.finish_reason, "length");
}

static void test_unusual_payloads_left_to_general_path(void)
{
    static const char *const unusual[] = {
        /* errors: OpenAI/vLLM error object, vLLM top-level, TGI string */
        "{\"error\":{\"message\":\"bad\",\"type\":\"BadRequestError\",\"code\":400}}",
        "{\"object\":\"error\",\"message\":\"too long\",\"type\":\"BadRequestError\",\"code\":400}",
        "{\"error\":\"Input validation error\",\"error_type\":\"validation\"}",
        /* malformed: syntax, wrong types, bad counts, no known field */
        "{\"choices\":[{\"delta\":{\"content\":\"a\"}},]}",
        "{\"choices\":[{\"delta\":{\"content\":5}}]}",
        "{\"choices\":[{\"finish_reason\":1}]}",
        "{\"choices\":{}}",
        "{\"usage\":{\"completion_tokens\":-1}}",
        "{\"usage\":{\"completion_tokens\":1.0}}",
        "{\"usage\":{\"completion_tokens\":99999999999999999999}}",
        "{\"id\":\"x\"}",
        "{\"choices\":[]} {}",
        "{\"choices\":[{\"delta\":{\"content\":\"a\tb\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"\\x\"}}]}",
        /* a duplicate of a key the parser reads: the general path takes the first */
        "{\"choices\":[{\"delta\":{\"content\":\"a\",\"content\":\"bcd\"}}]}",
        "{\"choices\":[],\"choices\":[{\"text\":\"a\"}]}",
    };
    for (size_t i = 0; i < sizeof unusual / sizeof unusual[0]; i++) {
        oai_event_t ev;
        CHECK(!parse_both(unusual[i], &ev));
    }
    oai_event_t ev;
    parse_both(unusual[14], &ev);
    CHECK_INT_EQ(ev.content_bytes, 1);
    parse_both(unusual[1], &ev);
    CHECK_INT_EQ(ev.kind, OAI_EVENT_ERROR);
    /* nesting far past what chunks use */
    char deep[200];
    strcpy(deep, "{\"choices\":[],\"x\":");
    size_t at = strlen(deep);
    memset(deep + at, '[', 40);
    memset(deep + at + 40, ']', 40);
    strcpy(deep + at + 80, "}");
    CHECK(!parse_both(deep, &ev));
    CHECK_INT_EQ(ev.kind, OAI_EVENT_CHUNK);
}

static void test_token_limit_gives_up_like_the_general_path(void)
{
    oai_parser_t *small_fast = oai_parser_new(8), *small_general = oai_parser_new(8);
    oai_parser_set_fast_path(small_general, false);
    /* 8 tokens: object, "choices", array, object, "text", "ab" = 6; then "x", 1 = 8 */
    const char *fits = "{\"choices\":[{\"text\":\"ab\"}],\"x\":1}";
    const char *over = "{\"choices\":[{\"text\":\"ab\"}],\"x\":[1]}";
    oai_event_t a, b;
    CHECK_INT_EQ(oai_parser_parse(small_fast, fits, strlen(fits), &a), OAI_EVENT_CHUNK);
    CHECK(oai_parser_answered_fast(small_fast));
    CHECK_INT_EQ(a.content_bytes, 2);
    CHECK_INT_EQ(oai_parser_parse(small_fast, over, strlen(over), &a), OAI_EVENT_MALFORMED);
    CHECK(!oai_parser_answered_fast(small_fast));
    CHECK_INT_EQ(oai_parser_parse(small_general, over, strlen(over), &b), OAI_EVENT_MALFORMED);
    CHECK_STR_EQ(a.malformed_reason, b.malformed_reason);
    oai_parser_destroy(&small_fast);
    oai_parser_destroy(&small_general);
}

static void test_non_object_payloads_never_answered_fast(void)
{
    oai_event_t ev;
    /* a fast answer before must not leak into the next parse's flag */
    CHECK(parse_both(VLLM_HEAD "\"choices\":[]}", &ev));
    CHECK(!parse_both("[DONE]", &ev));
    CHECK_INT_EQ(ev.kind, OAI_EVENT_DONE);
    CHECK(!parse_both("", &ev));
    CHECK(!parse_both("[1]", &ev));
}

static void test_setup(void)
{
    fast = oai_parser_new(0);
    general = oai_parser_new(0);
    REQUIRE(fast && general);
    oai_parser_set_fast_path(general, false);
}

static void test_teardown(void)
{
    oai_parser_destroy(&fast);
    oai_parser_destroy(&general);
}

CHECK_MAIN(test_setup, test_real_chunk_shapes_answered_fast_with_general_results,
           test_unusual_payloads_left_to_general_path,
           test_token_limit_gives_up_like_the_general_path,
           test_non_object_payloads_never_answered_fast, test_teardown)
