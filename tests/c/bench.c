/*
 * What one call through the flags C ABI costs, measured from C against the
 * release cdylib (the library PHP and Dart load).
 *
 * Each figure is the median of 7 runs, in nanoseconds per call, with the
 * fastest run beside it. The context is built once and reused, as the
 * bindings do; the flag is a 50% rollout (bucketed: one SipHash per call).
 *
 * Run by `tests/c/run --bench`; usage: bench SCRATCH_DIR
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flags.h"

#define S(literal) (literal), (sizeof(literal) - 1)

static const char FILE_JSON[] =
    "{\"version\": 1, \"flags\": {"
    "\"checkout\": {\"description\": \"New checkout\", \"owner\": \"payments\", \"percentage\": 50},"
    "\"enrollment_service\": {\"percentage\": 12.5},"
    "\"search_v2\": {\"percentage\": 25, \"salt\": \"search\"},"
    "\"tenant_billing_v2\": {\"bucket_by\": \"tenant_id\", \"percentage\": 25},"
    "\"dark_mode\": {\"percentage\": 100},"
    "\"legacy_export\": {\"killed\": true, \"percentage\": 100},"
    "\"colors\": {\"percentage\": 100, \"variants\": [{\"name\": \"blue\", \"weight\": 50},"
    " {\"name\": \"green\", \"weight\": 50}]}}}";

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static const flags_source *g_source;
static const flags_context *g_ctx;
static volatile long sink;

enum { RUNS = 7 };

typedef void (*op)(long iterations);

static void report(const char *name, op f, long iterations) {
  double ns[RUNS];
  f(iterations / 10); /* warm up */
  for (int r = 0; r < RUNS; r++) {
    double start = now_ns();
    f(iterations);
    ns[r] = (now_ns() - start) / (double)iterations;
  }
  qsort(ns, RUNS, sizeof *ns, cmp);
  printf("%-58s %7.1f ns   (fastest %.1f)\n", name, ns[RUNS / 2], ns[0]);
}

static void is_enabled(long n) {
  long on = 0;
  for (long i = 0; i < n; i++) on += flags_is_enabled(g_source, S("checkout"), g_ctx);
  sink = on;
}

static void is_enabled_unknown(long n) {
  long on = 0;
  for (long i = 0; i < n; i++) on += flags_is_enabled(g_source, S("no_such_flag"), g_ctx);
  sink = on;
}

static void evaluate(long n) {
  long on = 0;
  flags_evaluation ev;
  for (long i = 0; i < n; i++) {
    flags_evaluate(g_source, S("checkout"), g_ctx, &ev);
    on += ev.bucket;
    flags_evaluation_clear(&ev);
  }
  sink = on;
}

static void evaluate_at(long n) {
  long on = 0;
  flags_evaluation ev;
  for (long i = 0; i < n; i++) {
    flags_evaluate_at(g_source, S("checkout"), g_ctx, 1795262400000, &ev);
    on += ev.bucket;
    flags_evaluation_clear(&ev);
  }
  sink = on;
}

static void evaluate_variant(long n) {
  long on = 0;
  flags_evaluation ev;
  for (long i = 0; i < n; i++) {
    flags_evaluate(g_source, S("colors"), g_ctx, &ev);
    on += ev.variant[0];
    flags_evaluation_clear(&ev);
  }
  sink = on;
}

static void context_build(long n) {
  for (long i = 0; i < n; i++) {
    flags_context *ctx = flags_context_new();
    flags_context_set(ctx, S("user_id"), S("user-1234567"));
    flags_context_set(ctx, S("tenant_id"), S("acme"));
    flags_context_free(ctx);
  }
}

static void context_json(long n) {
  for (long i = 0; i < n; i++) {
    flags_context *ctx = NULL;
    flags_context_from_json(S("{\"user_id\": \"user-1234567\", \"tenant_id\": \"acme\"}"), &ctx,
                            NULL);
    flags_context_free(ctx);
  }
}

static void generation(long n) {
  uint64_t g = 0;
  for (long i = 0; i < n; i++) g += flags_source_generation(g_source);
  sink = (long)g;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
    return 2;
  }
  flags_source *json = NULL, *file = NULL;
  if (flags_source_open_json(S(FILE_JSON), &json, NULL) != FLAGS_OK) return 1;
  char path[600];
  snprintf(path, sizeof path, "%s/bench-flags.json", argv[1]);
  FILE *f = fopen(path, "w");
  if (!f || fputs(FILE_JSON, f) < 0 || fclose(f) != 0) return 1;
  if (flags_source_open_file(path, strlen(path), 1000, &file, NULL) != FLAGS_OK) return 1;

  flags_context *ctx = flags_context_new();
  flags_context_set(ctx, S("user_id"), S("user-1234567"));
  flags_context_set(ctx, S("tenant_id"), S("acme"));
  g_ctx = ctx;

  printf("flags %s, C ABI, release cdylib; ns per call (median of %d runs)\n",
         flags_library_version(), RUNS);
  g_source = json;
  report("flags_is_enabled, JSON source, 50% flag, reused context", is_enabled, 2000000);
  g_source = file;
  report("flags_is_enabled, file source (on access, 1 s), 50% flag", is_enabled, 2000000);
  g_source = json;
  report("flags_is_enabled, unknown flag", is_enabled_unknown, 2000000);
  report("flags_evaluate + flags_evaluation_clear, 50% flag", evaluate, 2000000);
  report("flags_evaluate_at + flags_evaluation_clear (no clock read)", evaluate_at, 2000000);
  report("flags_evaluate + clear, flag with variants (owned string)", evaluate_variant, 1000000);
  g_source = file;
  report("flags_source_generation, file source", generation, 2000000);
  report("context: flags_context_new + 2 x flags_context_set + free", context_build, 1000000);
  report("context: flags_context_from_json (2 attributes) + free", context_json, 500000);

  flags_context_free(ctx);
  flags_source_free(json);
  flags_source_free(file);
  remove(path);
  return 0;
}
