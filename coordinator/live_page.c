/*  live_page.c: the live page served at / (live.c, docs/live.md). Filled in below. */
#include "coordinator/live.h"

const char live_page_html[] = "<!doctype html><title>surge live</title>";
