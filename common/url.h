/*  url.h: target URLs, what may be shown of them, and URLs built from them.

    A target URL may carry secrets: userinfo (`http://user:PASS@host/`) and query values
    (`/?key=SECRET`, an API gateway's key). The plan needs them to reach the target, but
    nothing a run shows may hold them: results.json, report.html, logs, metric labels.
    Every place that shows a target URL shows url_redact() of it:

        http://user:PASS@vllm:8000/?key=SECRET&v=2   ->
   http://redacted@vllm:8000/?key=redacted&v=redacted

    A URL with neither userinfo, query nor fragment is shown exactly as given (so the
    common case reads as the plan wrote it, and labels join with the plan's text).

    URLs built from a base (the worker's /v1/chat/completions, /tokenize, the scraper's
    /metrics) are built with libcurl's URL API, never by concatenation: the path is
    the base's path (without a trailing '/') followed by the suffix's, and the query
    stays a query: `http://h/?key=S` + `/metrics` is `http://h/metrics?key=S`, not
    `http://h/?key=S/metrics`.
*/
#ifndef SURGE_URL_H
#define SURGE_URL_H

#include <stdbool.h>
#include <stddef.h>

/* What may be shown of url: userinfo replaced by "redacted", every query value by
   "redacted" (names kept), the fragment dropped. A string libcurl cannot parse is
   redacted by hand, conservatively (everything before the last '@' of the authority and
   everything after the first '?' or '#' goes). Owned by the caller; NULL only when out
   of memory. NULL url gives "". */
char *url_redact(const char *url);

/* base (http:// or https://) with suffix ("/v1/models", "/metrics?x=1") appended to its
   path. keep_credentials: the base's userinfo and query stay (requests to the target
   itself); false: both go (the scraper sends the target's /metrics no credentials), and
   only the suffix's query remains. The fragment always goes. Owned by the caller; NULL
   with a reason in err (which shows only the redacted base) when base is not a URL. */
char *url_with_path(const char *base, const char *suffix, bool keep_credentials, char *err,
                    size_t err_size);

#endif
