/*  Proves the OpenAI event parser reads what surge measures (content, reasoning, usage,
    finish_reason, errors) from the shapes vLLM and other servers send, and reports
    everything else as MALFORMED with a reason instead of guessing. */
#include <string.h>

#include "check.h"
#include "common/oai_event.h"

static oai_parser_t *parser;

static oai_event_kind_t parse(const char *json, oai_event_t *ev)
{
    return oai_parser_parse(parser, json, strlen(json), ev);
}

#define CHAT_HEAD                                                                                  \
    "{\"id\":\"chatcmpl-7c1f\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,"       \
    "\"model\":\"meta-llama/Llama-3.1-8B-Instruct\","

static void test_completions_text_counts_as_content(void)
{
    oai_event_t ev;
    CHECK_INT_EQ(
        parse("{\"id\":\"cmpl-9a\",\"object\":\"text_completion\",\"created\":1718000001,"
              "\"model\":\"Qwen/Qwen2.5-7B\",\"choices\":[{\"index\":0,\"text\":\" Paris\","
              "\"logprobs\":null,\"finish_reason\":null,\"stop_reason\":null}],"
              "\"usage\":null}",
              &ev),
        OAI_EVENT_CHUNK);
    CHECK_INT_EQ(ev.content_bytes, 6);
    CHECK_INT_EQ(ev.content_choices, 1);
    CHECK_INT_EQ(ev.choices, 1);
    CHECK(oai_event_has_output(&ev));
    CHECK_INT_EQ(ev.prompt_tokens, -1);
    CHECK_INT_EQ(ev.completion_tokens, -1);
    CHECK_STR_EQ(ev.finish_reason, "");
}

static void test_chat_delta_content_counts_as_content(void)
{
    oai_event_t ev;
    CHECK_INT_EQ(parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},"
                                 "\"logprobs\":null,\"finish_reason\":null}]}",
                       &ev),
                 OAI_EVENT_CHUNK);
    CHECK_INT_EQ(ev.content_bytes, 5);
    CHECK(oai_event_has_output(&ev));
}

/* Conversations resend the answer actually received: the content text is exposed as it
   stands in the payload (escaped, borrowed) and unescapes to the exact text, newlines and
   non-ASCII included. */
static void test_content_text_is_exposed_and_unescapes_exactly(void)
{
    oai_event_t ev;
    const char *json = CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                                 "\"line one\\nd\\u00e9j\\u00e0 \\\"vu\\\" \\ud83d\\ude00\"},"
                                 "\"finish_reason\":null}]}";
    CHECK_INT_EQ(parse(json, &ev), OAI_EVENT_CHUNK);
    REQUIRE(ev.content_json != NULL);
    CHECK(ev.content_json > json && ev.content_json < json + strlen(json));
    char text[128];
    size_t n = oai_json_unescape(ev.content_json, ev.content_json_len, text);
    CHECK_STR_EQ(text, "line one\nd\xc3\xa9j\xc3\xa0 \"vu\" \xf0\x9f\x98\x80");
    CHECK_INT_EQ(n, ev.content_bytes);
    /* completions text too; none when the content is empty, null, or only reasoning */
    CHECK_INT_EQ(parse("{\"choices\":[{\"index\":0,\"text\":\" Paris\"}]}", &ev), OAI_EVENT_CHUNK);
    REQUIRE(ev.content_json != NULL);
    CHECK_INT_EQ(ev.content_json_len, 6);
    CHECK_INT_EQ(parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                                 "\"content\":\"\"}}]}",
                       &ev),
                 OAI_EVENT_CHUNK);
    CHECK(ev.content_json == NULL);
    CHECK_INT_EQ(parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":"
                                 "\"hmm\",\"content\":null}}]}",
                       &ev),
                 OAI_EVENT_CHUNK);
    CHECK(ev.content_json == NULL);
}

static void test_role_only_first_chunk_is_not_first_token(void)
{
    oai_event_t ev;
    /* vLLM's first chunk: the role, with empty content. TTFT must not stop here. */
    CHECK_INT_EQ(parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                                 "\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}",
                       &ev),
                 OAI_EVENT_CHUNK);
    CHECK_INT_EQ(ev.content_bytes, 0);
    CHECK_INT_EQ(ev.content_choices, 0);
    CHECK(!oai_event_has_output(&ev));
    /* other servers leave content out or send null */
    parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}", &ev);
    CHECK(!oai_event_has_output(&ev));
    parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":null}}]}", &ev);
    CHECK(!oai_event_has_output(&ev));
}

static void test_reasoning_content_counts_as_output(void)
{
    oai_event_t ev;
    parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"Let me\","
                    "\"content\":null},\"logprobs\":null,\"finish_reason\":null}]}",
          &ev);
    CHECK_INT_EQ(ev.reasoning_bytes, 6);
    CHECK_INT_EQ(ev.content_bytes, 0);
    CHECK(oai_event_has_output(&ev));
    /* newer vLLM names it "reasoning"; some versions sent both with the same text */
    parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"think\"}}]}", &ev);
    CHECK_INT_EQ(ev.reasoning_bytes, 5);
    parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"think\","
                    "\"reasoning_content\":\"think\"}}]}",
          &ev);
    CHECK_INT_EQ(ev.reasoning_bytes, 5);
}

static void test_final_usage_chunk_gives_token_counts(void)
{
    oai_event_t ev;
    CHECK_INT_EQ(parse(CHAT_HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":12,"
                                 "\"total_tokens\":268,\"completion_tokens\":256,"
                                 "\"prompt_tokens_details\":null}}",
                       &ev),
                 OAI_EVENT_CHUNK);
    CHECK_INT_EQ(ev.prompt_tokens, 12);
    CHECK_INT_EQ(ev.completion_tokens, 256);
    CHECK_INT_EQ(ev.choices, 0);
    CHECK(!oai_event_has_output(&ev));
    /* fields may be absent or null */
    parse(CHAT_HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":null}}", &ev);
    CHECK_INT_EQ(ev.prompt_tokens, -1);
    CHECK_INT_EQ(ev.completion_tokens, -1);
    CHECK_INT_EQ(ev.kind, OAI_EVENT_CHUNK);
}

static void test_finish_reason_read_from_last_chunk(void)
{
    oai_event_t ev;
    parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"logprobs\":null,"
                    "\"finish_reason\":\"stop\",\"stop_reason\":null}]}",
          &ev);
    CHECK_STR_EQ(ev.finish_reason, "stop");
    CHECK(!oai_event_has_output(&ev));
    parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
                    "\"a_very_long_finish_reason_that_is_truncated\"}]}",
          &ev);
    CHECK_INT_EQ(strlen(ev.finish_reason), sizeof ev.finish_reason - 1);
}

static void test_continuous_usage_counts_tokens_per_chunk(void)
{
    /* stream_options: {include_usage: true, continuous_usage_stats: true}: cumulative usage
       in every chunk; a chunk that carries two tokens (speculative decoding) counts two. */
    const char *stream[] = {
        CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}"
                  ",\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":9,\"total_tokens\":9,"
                  "\"completion_tokens\":0}}",
        CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":"
                  "null}],\"usage\":{\"prompt_tokens\":9,\"total_tokens\":10,"
                  "\"completion_tokens\":1}}",
        CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there, you\"},"
                  "\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":9,\"total_tokens\":13,"
                  "\"completion_tokens\":4}}",
        CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":"
                  "\"stop\"}],\"usage\":{\"prompt_tokens\":9,\"total_tokens\":13,"
                  "\"completion_tokens\":4}}",
        CHAT_HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"total_tokens\":13,"
                  "\"completion_tokens\":4}}",
    };
    const int64_t carried[] = {0, 1, 3, 0, 0};
    oai_tokens_t tokens;
    oai_tokens_reset(&tokens);
    for (int i = 0; i < 5; i++) {
        oai_event_t ev;
        CHECK_INT_EQ(parse(stream[i], &ev), OAI_EVENT_CHUNK);
        CHECK_MSG(oai_tokens_add(&tokens, &ev) == carried[i], "chunk %d", i);
    }
    bool estimated = true;
    CHECK_INT_EQ(oai_tokens_output(&tokens, &estimated), 4);
    CHECK(!estimated);
    CHECK_INT_EQ(tokens.usage_prompt_tokens, 9);
}

static void test_tokens_estimated_from_events_without_usage(void)
{
    oai_tokens_t tokens;
    oai_tokens_reset(&tokens);
    oai_event_t ev;
    parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":"
                    "\"\"}}]}",
          &ev);
    CHECK_INT_EQ(oai_tokens_add(&tokens, &ev), 0);
    for (int i = 0; i < 3; i++) {
        parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok\"}}]}", &ev);
        CHECK_INT_EQ(oai_tokens_add(&tokens, &ev), 1);
    }
    parse("[DONE]", &ev);
    CHECK_INT_EQ(oai_tokens_add(&tokens, &ev), 0);
    bool estimated = false;
    CHECK_INT_EQ(oai_tokens_output(&tokens, &estimated), 3);
    CHECK(estimated);
    /* a final usage chunk then replaces the estimate with the server's count */
    parse(CHAT_HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}}", &ev);
    CHECK_INT_EQ(oai_tokens_add(&tokens, &ev), 0);
    CHECK_INT_EQ(oai_tokens_output(&tokens, &estimated), 7);
    CHECK(!estimated);
}

static void test_done_is_classified(void)
{
    oai_event_t ev;
    CHECK_INT_EQ(parse("[DONE]", &ev), OAI_EVENT_DONE);
    CHECK_INT_EQ(parse(" [DONE]\n", &ev), OAI_EVENT_DONE);
    CHECK_INT_EQ(parse("[DONE] x", &ev), OAI_EVENT_MALFORMED);
}

static void test_error_object_is_classified_with_message(void)
{
    oai_event_t ev;
    /* vLLM (newer) mid-stream error, and OpenAI's shape with a string code */
    CHECK_INT_EQ(parse("{\"error\":{\"object\":\"error\",\"message\":\"The model `x` does not "
                       "exist.\",\"type\":\"NotFoundError\",\"param\":null,\"code\":404}}",
                       &ev),
                 OAI_EVENT_ERROR);
    CHECK_STR_EQ(ev.error_message, "The model `x` does not exist.");
    CHECK_STR_EQ(ev.error_type, "NotFoundError");
    CHECK_INT_EQ(ev.error_code, 404);
    CHECK_INT_EQ(parse("{\"error\":{\"message\":\"Rate limit\",\"type\":\"requests\","
                       "\"param\":null,\"code\":\"rate_limit_exceeded\"}}",
                       &ev),
                 OAI_EVENT_ERROR);
    CHECK_STR_EQ(ev.error_message, "Rate limit");
    CHECK_INT_EQ(ev.error_code, 0);
    /* TGI: a string, and error_type beside it */
    CHECK_INT_EQ(parse("{\"error\":\"Input validation error: `inputs` must have less than 4096 "
                       "tokens\",\"error_type\":\"validation\"}",
                       &ev),
                 OAI_EVENT_ERROR);
    CHECK_STR_EQ(ev.error_type, "validation");
    CHECK(strncmp(ev.error_message, "Input validation error", 22) == 0);
    /* "error": null is no error */
    CHECK_INT_EQ(parse(CHAT_HEAD "\"error\":null,\"choices\":[{\"index\":0,\"delta\":{"
                                 "\"content\":\"a\"}}]}",
                       &ev),
                 OAI_EVENT_CHUNK);
}

static void test_vllm_top_level_error_object_is_classified(void)
{
    oai_event_t ev;
    CHECK_INT_EQ(parse("{\"object\":\"error\",\"message\":\"This model's maximum context length "
                       "is 4096 tokens.\\nPlease reduce the length.\",\"type\":"
                       "\"BadRequestError\",\"param\":null,\"code\":400}",
                       &ev),
                 OAI_EVENT_ERROR);
    CHECK_INT_EQ(ev.error_code, 400);
    CHECK_STR_EQ(ev.error_type, "BadRequestError");
    /* the escaped newline becomes a space: the message goes to single-line logs */
    CHECK(strstr(ev.error_message, "tokens. Please reduce") != NULL);
}

static void test_error_message_truncated_on_utf8_boundary(void)
{
    oai_event_t ev;
    char json[600] = "{\"error\":{\"message\":\"";
    for (int i = 0; i < 50; i++)         /* 200 bytes once decoded: more than the field holds */
        strcat(json, "\xC3\xA9\\u00e9"); /* é raw, é escaped: 2 bytes each */
    strcat(json, "\",\"code\":500}}");
    CHECK_INT_EQ(parse(json, &ev), OAI_EVENT_ERROR);
    size_t n = strlen(ev.error_message);
    CHECK(n < sizeof ev.error_message);
    CHECK(n >= sizeof ev.error_message - 2);
    CHECK_INT_EQ(n % 2, 0); /* whole 2-byte sequences only */
    CHECK_INT_EQ(ev.error_code, 500);
}

static void test_malformed_json_reported_with_reason(void)
{
    const char *bad[] = {
        "{\"choices\":[{\"text\":\"a\"}]",                          /* truncated */
        "{\"choices\":[{\"text\":\"a\"}]}}",                        /* extra bracket */
        "{\"choices\":[{\"text\":\"a\"} {}]}",                      /* missing comma */
        "{\"choices\":[{\"text\":\"a\"},]}",                        /* trailing comma */
        "{\"choices\" [{\"text\":\"a\"}]}",                         /* missing colon */
        "{\"usage\":{\"completion_tokens\":01}}",                   /* leading zero */
        "{\"usage\":{\"completion_tokens\":1.}}",                   /* bad fraction */
        "{\"usage\":{\"completion_tokens\":+1}}",                   /* plus sign */
        "{\"usage\":{\"completion_tokens\":tru}}",                  /* bad literal */
        "{\"choices\":[{\"text\":\"a\tb\"}]}",                      /* raw control character */
        "{\"choices\":[]} {\"choices\":[]}",                        /* two values */
        "not json at all",                                          /* text */
        "",                                                         /* empty */
        "[1,2,3]",                                                  /* not an object */
        "{\"id\":\"x\"}",                                           /* nothing we know */
        "{\"choices\":{\"text\":\"a\"}}",                           /* wrong type */
        "{\"choices\":[{\"text\":5}]}",                             /* wrong type */
        "{\"choices\":[{\"delta\":{\"content\":[]}}]}",             /* wrong type */
        "{\"usage\":{\"completion_tokens\":-3}}",                   /* negative count */
        "{\"usage\":{\"completion_tokens\":2.5}}",                  /* fractional count */
        "{\"usage\":{\"completion_tokens\":\"7\"}}",                /* string count */
        "{\"usage\":{\"completion_tokens\":99999999999999999999}}", /* overflow */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        oai_event_t ev;
        oai_event_kind_t kind = parse(bad[i], &ev);
        CHECK_MSG(kind == OAI_EVENT_MALFORMED, "case %zu: kind %d", i, (int)kind);
        CHECK_MSG(ev.malformed_reason[0] != '\0', "case %zu: no reason", i);
    }
    /* content read before the problem is not reported */
    oai_event_t partial;
    parse("{\"choices\":[{\"text\":\"abc\"},{\"text\":7}],\"usage\":{\"completion_tokens\":3}}",
          &partial);
    CHECK_INT_EQ(partial.kind, OAI_EVENT_MALFORMED);
    CHECK_INT_EQ(partial.content_bytes, 0);
    CHECK_INT_EQ(partial.completion_tokens, -1);
    CHECK(!oai_event_has_output(&partial));
    /* an embedded NUL ends nothing early: the bytes after it are still checked */
    oai_event_t ev;
    CHECK_INT_EQ(oai_parser_parse(parser, "{\"choices\":[]}\0xx", 17, &ev), OAI_EVENT_MALFORMED);
    /* numbers in fields surge ignores are still checked, valid ones accepted */
    CHECK_INT_EQ(
        parse("{\"created\":-1.5e+10,\"x\":[0,-0,1E3,true,false,null],\"choices\":[]}", &ev),
        OAI_EVENT_CHUNK);
}

static void test_too_many_tokens_reported_not_fatal(void)
{
    oai_parser_t *small = oai_parser_new(16);
    oai_event_t ev;
    const char *json = CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}";
    CHECK_INT_EQ(oai_parser_parse(small, json, strlen(json), &ev), OAI_EVENT_MALFORMED);
    CHECK(strstr(ev.malformed_reason, "too many JSON tokens") != NULL);
    /* the parser is still usable */
    CHECK_INT_EQ(oai_parser_parse(small, "[DONE]", 6, &ev), OAI_EVENT_DONE);
    CHECK_INT_EQ(oai_parser_parse(small, "{\"choices\":[]}", 14, &ev), OAI_EVENT_CHUNK);
    oai_parser_destroy(&small);
    CHECK(small == NULL);
    /* deep nesting is refused before it can exhaust the stack */
    char deep[300];
    memset(deep, '[', 200);
    strcpy(deep + 200, "1");
    memset(deep + 201, ']', 98);
    deep[299] = '\0';
    CHECK_INT_EQ(parse(deep, &ev), OAI_EVENT_MALFORMED);
}

static void test_multiple_choices_counted(void)
{
    oai_event_t ev;
    /* n=3: two choices carry content in this chunk, one has finished */
    CHECK_INT_EQ(parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ab\"}},"
                                 "{\"index\":1,\"delta\":{\"content\":\"cde\"}},"
                                 "{\"index\":2,\"delta\":{\"content\":\"\"},\"finish_reason\":"
                                 "\"length\"}]}",
                       &ev),
                 OAI_EVENT_CHUNK);
    CHECK_INT_EQ(ev.choices, 3);
    CHECK_INT_EQ(ev.content_choices, 2);
    CHECK_INT_EQ(ev.content_bytes, 5);
    CHECK_STR_EQ(ev.finish_reason, "length");
}

static void test_escaped_strings_measured_after_unescaping(void)
{
    oai_event_t ev;
    parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\n\"}}]}", &ev);
    CHECK_INT_EQ(ev.content_bytes, 1); /* a newline token is output */
    CHECK(oai_event_has_output(&ev));
    /* \" \\ \/ \t : 1 byte each; \u00e9: 2; \u4e2d: 3; a surrogate pair: 4; raw é: 2 */
    parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                    "\"\\\"\\\\\\/\\t\\u00e9\\u4e2d\\ud83d\\ude00\xC3\xA9\"}}]}",
          &ev);
    CHECK_INT_EQ(ev.content_bytes, 4 + 2 + 3 + 4 + 2);
    /* an escaped quote does not end the string early */
    parse(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"say \\\"hi\\\"\"}}]}", &ev);
    CHECK_INT_EQ(ev.content_bytes, 8);
    CHECK_INT_EQ(ev.kind, OAI_EVENT_CHUNK);
}

static void test_non_stream_body_gives_content_and_usage(void)
{
    oai_event_t ev;
    CHECK_INT_EQ(
        parse("{\"id\":\"chatcmpl-b2\",\"object\":\"chat.completion\",\"created\":1718000002,"
              "\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[{\"index\":0,"
              "\"message\":{\"role\":\"assistant\",\"reasoning_content\":null,\"content\":"
              "\"Hello! How can I help?\",\"tool_calls\":[]},\"logprobs\":null,"
              "\"finish_reason\":\"stop\",\"stop_reason\":null}],\"usage\":{\"prompt_tokens\":"
              "9,\"total_tokens\":16,\"completion_tokens\":7,\"prompt_tokens_details\":null},"
              "\"prompt_logprobs\":null}\n",
              &ev),
        OAI_EVENT_CHUNK);
    CHECK_INT_EQ(ev.content_bytes, 22);
    CHECK_INT_EQ(ev.prompt_tokens, 9);
    CHECK_INT_EQ(ev.completion_tokens, 7);
    CHECK_STR_EQ(ev.finish_reason, "stop");
    CHECK(oai_event_has_output(&ev));
}

static void test_parse_fills_every_field_after_a_previous_event(void)
{
    oai_event_t ev;
    parse("{\"object\":\"error\",\"message\":\"m\",\"code\":500}", &ev);
    parse(CHAT_HEAD "\"choices\":[]}", &ev);
    CHECK_INT_EQ(ev.kind, OAI_EVENT_CHUNK);
    CHECK_STR_EQ(ev.error_message, "");
    CHECK_INT_EQ(ev.error_code, 0);
    CHECK_INT_EQ(ev.prompt_tokens, -1);
    CHECK_STR_EQ(ev.malformed_reason, "");
}

static void test_setup(void)
{
    parser = oai_parser_new(0);
    REQUIRE(parser);
}

static void test_teardown(void)
{
    oai_parser_destroy(&parser);
    CHECK(parser == NULL);
}

CHECK_MAIN(test_setup, test_completions_text_counts_as_content,
           test_chat_delta_content_counts_as_content,
           test_content_text_is_exposed_and_unescapes_exactly,
           test_role_only_first_chunk_is_not_first_token, test_reasoning_content_counts_as_output,
           test_final_usage_chunk_gives_token_counts, test_finish_reason_read_from_last_chunk,
           test_continuous_usage_counts_tokens_per_chunk,
           test_tokens_estimated_from_events_without_usage, test_done_is_classified,
           test_error_object_is_classified_with_message,
           test_vllm_top_level_error_object_is_classified,
           test_error_message_truncated_on_utf8_boundary, test_malformed_json_reported_with_reason,
           test_too_many_tokens_reported_not_fatal, test_multiple_choices_counted,
           test_escaped_strings_measured_after_unescaping,
           test_non_stream_body_gives_content_and_usage,
           test_parse_fills_every_field_after_a_previous_event, test_teardown)
