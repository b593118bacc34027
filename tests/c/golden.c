/*
 * The shared golden vectors, and abuse, through the flags C ABI.
 *
 * Reads the line format written by tests/c/vectors.py (see there) from the
 * file named by argv[1], then:
 *   1. evaluates every golden case with flags_evaluate_at, the context built
 *      both with flags_context_from_json and with flags_context_set, and
 *      compares enabled, variant, reason and bucket (and the case's object
 *      in flags_evaluate_all_json_at);
 *   2. opens every invalid file and expects FLAGS_ERROR_INVALID_FLAGS with
 *      one message line per expected error, in order;
 *   3. abuses the API: NULL everywhere, invalid UTF-8, bad context JSON,
 *      frees of NULL, clearing twice, missing files;
 *   4. evaluates from 4 threads at once with one shared source;
 *   5. opens a file source, forks, and has the child see an edit;
 *   6. takes the process-lifetime source of flags_source_shared: one per
 *      path and interval (also for 4 threads asking at once), NULL on any
 *      failure with flags_source_open_file_shared then giving the code and
 *      the message, and flags_source_free ignoring it; and a fork while
 *      another thread is inside the first open of a shared source leaves
 *      the child able to open one;
 *   7. opens remote sources: bad URLs, an unreachable server, and (given a
 *      server URL) online, then offline from the cache file it wrote.
 * Prints `N passed, M failed` and exits non-zero on any failure. Everything
 * the library hands out is released (but the shared sources, which live
 * until the process exits), so valgrind can check for leaks.
 *
 * One file of about 1,200 lines on purpose: tests/c/run builds it with one
 * compiler command, with no build system, and runs it under valgrind.
 *
 * Run by tests/c/run; usage: golden VECTORS.txt SCRATCH_DIR [FLAG_SERVER_URL]
 * where FLAG_SERVER_URL serves {"version": 1, "flags": {"f": {"percentage": 100}}}
 * at GET /v1/flags.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "flags.h"

/* ------------------------------------------------------------------ checks */

static long passed, failed;

static void check(bool ok, int line, const char *fmt, ...) {
  if (ok) {
    passed++;
    return;
  }
  failed++;
  va_list args;
  va_start(args, fmt);
  fprintf(stderr, "FAIL (golden.c:%d): ", line);
  vfprintf(stderr, fmt, args);
  fputc('\n', stderr);
  va_end(args);
}

#define CHECK(ok, ...) check((ok), __LINE__, __VA_ARGS__)

/* Length of a string literal, without its NUL. */
#define LEN(literal) (sizeof(literal) - 1)
/* A (pointer, length) pair from a string literal. */
#define S(literal) (literal), LEN(literal)

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fputs("out of memory\n", stderr);
    exit(2);
  }
  return p;
}

/* ------------------------------------------------------------------- input */

/* A decoded string: `data` is NUL-terminated (for printing) but may contain
 * NUL bytes; `data` is NULL for "none" (`-`). */
typedef struct {
  char *data;
  size_t len;
} bytes;

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

static bytes unhex(const char *hex) {
  bytes b = {NULL, 0};
  if (strcmp(hex, "-") == 0) return b;
  if (strcmp(hex, "=") == 0) hex = "";
  size_t n = strlen(hex);
  if (n % 2) {
    fprintf(stderr, "bad hex field: %s\n", hex);
    exit(2);
  }
  b.len = n / 2;
  b.data = xmalloc(b.len + 1);
  for (size_t i = 0; i < b.len; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      fprintf(stderr, "bad hex field: %s\n", hex);
      exit(2);
    }
    b.data[i] = (char)(hi * 16 + lo);
  }
  b.data[b.len] = '\0';
  return b;
}

typedef struct {
  bytes name, flag, context, variant;
  int64_t now;
  bool enabled;
  char reason[32];
  int32_t bucket;
  size_t npairs;
  bytes *pairs; /* attribute, value, attribute, value, ... */
} golden_case;

typedef struct {
  bytes name, json;
  size_t ncases, cap;
  golden_case *cases;
} golden_file;

typedef struct {
  bytes name, text;
  size_t nprefixes;
  bytes *prefixes;
} invalid_case;

static golden_file *files;
static size_t nfiles;
static invalid_case *invalids;
static size_t ninvalids;

/* Splits `line` at tabs in place; returns the number of fields. */
static size_t split(char *line, char ***fields) {
  size_t n = 1;
  for (char *p = line; *p; p++) n += *p == '\t';
  *fields = xmalloc(n * sizeof **fields);
  size_t i = 0;
  char *rest = line;
  for (;;) {
    (*fields)[i++] = rest;
    char *tab = strchr(rest, '\t');
    if (!tab) break;
    *tab = '\0';
    rest = tab + 1;
  }
  return n;
}

static void read_vectors(const char *path) {
  FILE *in = fopen(path, "r");
  if (!in) {
    perror(path);
    exit(2);
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t got;
  while ((got = getline(&line, &cap, in)) > 0) {
    if (line[got - 1] == '\n') line[got - 1] = '\0';
    char **f;
    size_t n = split(line, &f);
    if (strcmp(f[0], "FILE") == 0 && n == 3) {
      files = realloc(files, (nfiles + 1) * sizeof *files);
      if (!files) exit(2);
      golden_file *file = &files[nfiles++];
      memset(file, 0, sizeof *file);
      file->name = unhex(f[1]);
      file->json = unhex(f[2]);
    } else if (strcmp(f[0], "CASE") == 0 && n >= 9 && (n - 9) % 2 == 0 && nfiles > 0) {
      golden_file *file = &files[nfiles - 1];
      if (file->ncases == file->cap) {
        file->cap = file->cap ? 2 * file->cap : 64;
        file->cases = realloc(file->cases, file->cap * sizeof *file->cases);
        if (!file->cases) exit(2);
      }
      golden_case *c = &file->cases[file->ncases++];
      c->name = unhex(f[1]);
      c->flag = unhex(f[2]);
      c->context = unhex(f[3]);
      c->now = strtoll(f[4], NULL, 10);
      c->enabled = strcmp(f[5], "1") == 0;
      c->variant = unhex(f[6]);
      snprintf(c->reason, sizeof c->reason, "%s", f[7]);
      c->bucket = (int32_t)strtol(f[8], NULL, 10);
      c->npairs = (n - 9) / 2;
      c->pairs = xmalloc((n - 9) * sizeof *c->pairs);
      for (size_t i = 9; i < n; i++) c->pairs[i - 9] = unhex(f[i]);
    } else if (strcmp(f[0], "INVALID") == 0 && n >= 3) {
      invalids = realloc(invalids, (ninvalids + 1) * sizeof *invalids);
      if (!invalids) exit(2);
      invalid_case *c = &invalids[ninvalids++];
      c->name = unhex(f[1]);
      c->text = unhex(f[2]);
      c->nprefixes = n - 3;
      c->prefixes = xmalloc((n - 3) * sizeof *c->prefixes);
      for (size_t i = 3; i < n; i++) c->prefixes[i - 3] = unhex(f[i]);
    } else {
      fprintf(stderr, "%s: unexpected line: %.60s\n", path, f[0]);
      exit(2);
    }
    free(f);
  }
  free(line);
  fclose(in);
}

static void free_vectors(void) {
  for (size_t i = 0; i < nfiles; i++) {
    for (size_t j = 0; j < files[i].ncases; j++) {
      golden_case *c = &files[i].cases[j];
      free(c->name.data);
      free(c->flag.data);
      free(c->context.data);
      free(c->variant.data);
      for (size_t k = 0; k < 2 * c->npairs; k++) free(c->pairs[k].data);
      free(c->pairs);
    }
    free(files[i].cases);
    free(files[i].name.data);
    free(files[i].json.data);
  }
  free(files);
  for (size_t i = 0; i < ninvalids; i++) {
    free(invalids[i].name.data);
    free(invalids[i].text.data);
    for (size_t k = 0; k < invalids[i].nprefixes; k++) free(invalids[i].prefixes[k].data);
    free(invalids[i].prefixes);
  }
  free(invalids);
}

/* ------------------------------------------------------------- golden cases */

static flags_source *open_json(const char *json, size_t len) {
  flags_source *source = NULL;
  char *error = NULL;
  int32_t rc = flags_source_open_json(json, len, &source, &error);
  CHECK(rc == FLAGS_OK && source && !error, "open_json: %d %s", rc, error ? error : "");
  flags_string_free(error);
  return source;
}

/* Whether an evaluation equals a case's expectation; says why not. */
static bool matches(const golden_case *c, int32_t rc, const flags_evaluation *ev, const char *how) {
  const char *reason = flags_reason_name(ev->reason);
  bool variant_ok = c->variant.data ? ev->variant && strcmp(ev->variant, c->variant.data) == 0
                                    : ev->variant == NULL;
  bool ok = rc == FLAGS_OK && ev->enabled == c->enabled && strcmp(reason, c->reason) == 0 &&
            ev->bucket == c->bucket && variant_ok;
  if (!ok) {
    fprintf(stderr,
            "  %s [%s]: got rc=%d enabled=%d variant=%s reason=%s bucket=%d; "
            "expected enabled=%d variant=%s reason=%s bucket=%d\n",
            c->name.data, how, rc, ev->enabled, ev->variant ? ev->variant : "(null)", reason,
            ev->bucket, c->enabled, c->variant.data ? c->variant.data : "(null)", c->reason,
            c->bucket);
  }
  return ok;
}

static bool evaluate_case(const flags_source *source, const golden_case *c,
                          const flags_context *ctx, const char *how) {
  flags_evaluation ev;
  int32_t rc = flags_evaluate_at(source, c->flag.data, c->flag.len, ctx, c->now, &ev);
  bool ok = matches(c, rc, &ev, how);
  flags_evaluation_clear(&ev);
  return ok;
}

/* The context of a case, built attribute by attribute. */
static flags_context *context_from_pairs(const golden_case *c) {
  flags_context *ctx = flags_context_new();
  for (size_t i = 0; i < c->npairs; i++) {
    const bytes *a = &c->pairs[2 * i], *v = &c->pairs[2 * i + 1];
    int32_t rc = flags_context_set(ctx, a->data, a->len, v->data, v->len);
    if (rc != FLAGS_OK) fprintf(stderr, "  flags_context_set: %d\n", rc);
  }
  return ctx;
}

/* True when `s` needs no escaping in JSON (as serde_json writes it). */
static bool plain(const char *s) {
  for (; *s; s++)
    if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) return false;
  return true;
}

/* Checks the case's object in flags_evaluate_all_json_at: equal to the
 * expectation when the flag is in the file, absent otherwise. */
static void check_all_json(const flags_source *source, const golden_case *c,
                           const flags_context *ctx) {
  if (!plain(c->flag.data) || strlen(c->flag.data) != c->flag.len || c->flag.len > 500 ||
      (c->variant.data && (!plain(c->variant.data) || c->variant.len > 500)))
    return;
  char start[600], expected[1400], variant[520], bucket[16];
  if (c->variant.data)
    snprintf(variant, sizeof variant, "\"%s\"", c->variant.data);
  else
    snprintf(variant, sizeof variant, "null");
  if (c->bucket >= 0)
    snprintf(bucket, sizeof bucket, "%d", c->bucket);
  else
    snprintf(bucket, sizeof bucket, "null");
  snprintf(start, sizeof start, "{\"flag\":\"%s\",", c->flag.data);
  snprintf(expected, sizeof expected,
           "%s\"enabled\":%s,\"variant\":%s,\"reason\":\"%s\",\"bucket\":%s}", start,
           c->enabled ? "true" : "false", variant, c->reason, bucket);
  char *all = NULL;
  int32_t rc = flags_evaluate_all_json_at(source, ctx, c->now, &all);
  bool listed = all && strstr(all, start);
  bool absent_ok = strcmp(c->reason, "FLAG_NOT_FOUND") == 0 || strcmp(c->reason, "KILL_ALL") == 0;
  CHECK(rc == FLAGS_OK && all && (listed ? strstr(all, expected) != NULL : absent_ok),
        "%s: flags_evaluate_all_json_at: expected %s in %s", c->name.data, expected,
        all ? all : "(null)");
  flags_string_free(all);
}

static void run_golden(void) {
  long cases = 0;
  for (size_t i = 0; i < nfiles; i++) {
    flags_source *source = open_json(files[i].json.data, files[i].json.len);
    if (!source) continue;
    for (size_t j = 0; j < files[i].ncases; j++) {
      const golden_case *c = &files[i].cases[j];
      cases++;
      flags_context *ctx = NULL;
      char *error = NULL;
      int32_t rc = flags_context_from_json(c->context.data, c->context.len, &ctx, &error);
      CHECK(rc == FLAGS_OK && ctx && !error, "%s: flags_context_from_json: %d %s", c->name.data,
            rc, error ? error : "");
      flags_string_free(error);
      CHECK(evaluate_case(source, c, ctx, "context from JSON"), "%s (context from JSON)",
            c->name.data);

      flags_context *parsed = flags_context_parse(c->context.data, c->context.len);
      CHECK(parsed && evaluate_case(source, c, parsed, "context from flags_context_parse"),
            "%s (context from flags_context_parse)", c->name.data);
      flags_context_free(parsed);

      flags_context *built = context_from_pairs(c);
      CHECK(evaluate_case(source, c, built, "context from flags_context_set"),
            "%s (context from flags_context_set)", c->name.data);
      if (c->npairs == 0)
        CHECK(evaluate_case(source, c, NULL, "NULL context"), "%s (NULL context)", c->name.data);
      check_all_json(source, c, ctx);
      flags_context_free(built);
      flags_context_free(ctx);
    }
    flags_source_free(source);
  }
  printf("golden: %ld cases in %zu files\n", cases, nfiles);
}

/* ------------------------------------------------------------ invalid files */

static void run_invalid(void) {
  for (size_t i = 0; i < ninvalids; i++) {
    const invalid_case *c = &invalids[i];
    flags_source *source = (flags_source *)&source; /* must be reset to NULL */
    char *error = NULL;
    int32_t rc = flags_source_open_json(c->text.data, c->text.len, &source, &error);
    bool ok = rc == FLAGS_ERROR_INVALID_FLAGS && source == NULL && error && error[0];
    /* One message line per expected error, in order, each starting with
     * <input>:LINE:COL: PATH: */
    size_t lines = 0;
    const char *line = error;
    while (ok && line) {
      const char *end = strchr(line, '\n');
      if (lines < c->nprefixes) {
        const bytes *prefix = &c->prefixes[lines];
        if (strncmp(line, prefix->data, prefix->len) != 0) {
          fprintf(stderr, "  %s: message line %zu: expected it to start with %s, got %.*s\n",
                  c->name.data, lines + 1, prefix->data, (int)(end ? end - line : (long)strlen(line)),
                  line);
          ok = false;
        }
      }
      lines++;
      line = end ? end + 1 : NULL;
    }
    ok = ok && lines == c->nprefixes;
    CHECK(ok, "invalid file %s: rc=%d, %zu message lines (expected %zu): %s", c->name.data, rc,
          lines, c->nprefixes, error ? error : "(no message)");
    flags_string_free(error);
    flags_source_free(source); /* NULL: harmless */
  }
  printf("invalid files: %zu cases\n", ninvalids);
}

/* ------------------------------------------------------------------- abuse */

static const char FILE_JSON[] =
    "{\"version\": 1, \"flags\": {"
    "\"checkout\": {\"percentage\": 50},"
    "\"colors\": {\"percentage\": 100, \"variants\": [{\"name\": \"blue\", \"weight\": 50},"
    " {\"name\": \"green\", \"weight\": 50}]},"
    "\"pilot_only\": {\"pilots\": {\"tenant_id\": [\"acme\"]}}}}";

static void abuse_static_strings(void) {
  const char *version = flags_library_version();
  CHECK(version && version[0], "flags_library_version");
  for (int32_t code = 0; code <= FLAGS_ERROR_CONFLICT; code++) {
    const char *m = flags_result_message(code);
    CHECK(m && m[0], "flags_result_message(%d)", code);
    for (int32_t other = 0; other < code; other++)
      CHECK(strcmp(m, flags_result_message(other)) != 0, "messages %d and %d differ", code, other);
  }
  CHECK(strcmp(flags_result_message(10), flags_result_message(-1)) == 0 &&
            strcmp(flags_result_message(10), flags_result_message(INT32_MAX)) == 0 &&
            strcmp(flags_result_message(10), flags_result_message(0)) != 0,
        "unknown codes share a generic message");
  static const char *names[] = {"KILL_ALL",     "FLAG_NOT_FOUND", "KILLED",
                                "REQUIREMENT_UNMET", "DENIED",     "PILOT",
                                "ROLLOUT_IN",   "ROLLOUT_OUT",    "MISSING_BUCKET_KEY"};
  for (int32_t r = 0; r <= 8; r++)
    CHECK(strcmp(flags_reason_name(r), names[r]) == 0, "flags_reason_name(%d)", r);
  CHECK(strcmp(flags_reason_name(9), "UNKNOWN") == 0, "flags_reason_name(9)");
  CHECK(strcmp(flags_reason_name(-1), "UNKNOWN") == 0, "flags_reason_name(-1)");
  CHECK(FLAGS_OK == 0 && FLAGS_ERROR_NULL_ARGUMENT == 1 && FLAGS_ERROR_INVALID_UTF8 == 2 &&
            FLAGS_ERROR_INVALID_FLAGS == 3 && FLAGS_ERROR_IO == 4 &&
            FLAGS_ERROR_INVALID_CONTEXT == 5 && FLAGS_ERROR_REMOTE == 6 &&
            FLAGS_ERROR_INVALID_ARGUMENT == 7 && FLAGS_ERROR_PANIC == 8,
        "result codes are stable");
  CHECK(FLAGS_REASON_KILL_ALL == 0 && FLAGS_REASON_MISSING_BUCKET_KEY == 8 &&
            FLAGS_REASON_ROLLOUT_IN == 6,
        "reason numbers are stable");
  CHECK(sizeof(flags_result) == 4 && sizeof(flags_reason) == 4, "enums are int32-sized");
}

/* Every evaluation output after an error: off, flag not found, -1, NULL. */
static bool is_off(const flags_evaluation *ev) {
  return !ev->enabled && ev->reason == FLAGS_REASON_FLAG_NOT_FOUND && ev->bucket == -1 &&
         ev->variant == NULL;
}

static void abuse_null(void) {
  flags_source *source = (flags_source *)&source;
  char *error = NULL;

  /* Opening. */
  int32_t rc = flags_source_open_json(NULL, 10, &source, &error);
  CHECK(rc == FLAGS_ERROR_NULL_ARGUMENT && !source && error && error[0],
        "open_json(NULL json): %d", rc);
  flags_string_free(error);
  rc = flags_source_open_json(NULL, 0, &source, NULL);
  CHECK(rc == FLAGS_ERROR_NULL_ARGUMENT && !source, "open_json(NULL, 0): %d", rc);
  rc = flags_source_open_json(S(FILE_JSON), NULL, &error);
  CHECK(rc == FLAGS_ERROR_NULL_ARGUMENT && error, "open_json(NULL out): %d", rc);
  flags_string_free(error);
  rc = flags_source_open_json(S(FILE_JSON), NULL, NULL);
  CHECK(rc == FLAGS_ERROR_NULL_ARGUMENT, "open_json(NULL out, NULL error_out): %d", rc);
  rc = flags_source_open_file(NULL, 3, 0, &source, &error);
  CHECK(rc == FLAGS_ERROR_NULL_ARGUMENT && !source && error, "open_file(NULL path): %d", rc);
  flags_string_free(error);
  rc = flags_source_open_file(S("x.json"), 0, NULL, NULL);
  CHECK(rc == FLAGS_ERROR_NULL_ARGUMENT, "open_file(NULL out): %d", rc);
  rc = flags_source_open_remote(NULL, &source, &error);
  CHECK(rc == FLAGS_ERROR_NULL_ARGUMENT && !source && error, "open_remote(NULL options): %d", rc);
  flags_string_free(error);
  flags_remote_options options = {0};
  rc = flags_source_open_remote(&options, &source, &error);
  CHECK(rc == FLAGS_ERROR_NULL_ARGUMENT && !source && error, "open_remote(NULL url): %d", rc);
  flags_string_free(error);
  options.url = "";
  rc = flags_source_open_remote(&options, &source, &error);
  CHECK(rc == FLAGS_ERROR_INVALID_ARGUMENT && !source && error, "open_remote(empty url): %d", rc);
  flags_string_free(error);
  options.url = "https://flags.example/";
  rc = flags_source_open_remote(&options, NULL, NULL);
  CHECK(rc == FLAGS_ERROR_NULL_ARGUMENT, "open_remote(NULL out): %d", rc);

  /* Frees and clears of NULL. */
  flags_source_free(NULL);
  flags_context_free(NULL);
  flags_string_free(NULL);
  flags_evaluation_clear(NULL);
  CHECK(true, "frees of NULL return");

  /* Source queries. */
  source = open_json(S(FILE_JSON));
  char *text = (char *)&text;
  rc = flags_source_version(NULL, &text);
  CHECK(rc == FLAGS_ERROR_NULL_ARGUMENT && !text, "version(NULL): %d", rc);
  CHECK(flags_source_version(source, NULL) == FLAGS_ERROR_NULL_ARGUMENT, "version(NULL out)");
  CHECK(flags_source_generation(NULL) == 0, "generation(NULL)");
  text = (char *)&text;
  rc = flags_source_status_json(NULL, &text);
  CHECK(rc == FLAGS_ERROR_NULL_ARGUMENT && !text, "status_json(NULL): %d", rc);
  CHECK(flags_source_status_json(source, NULL) == FLAGS_ERROR_NULL_ARGUMENT,
        "status_json(NULL out)");
  text = (char *)&text;
  rc = flags_evaluate_all_json(NULL, NULL, &text);
  CHECK(rc == FLAGS_ERROR_NULL_ARGUMENT && !text, "evaluate_all_json(NULL): %d", rc);
  CHECK(flags_evaluate_all_json(source, NULL, NULL) == FLAGS_ERROR_NULL_ARGUMENT,
        "evaluate_all_json(NULL out)");
  CHECK(flags_evaluate_all_json_at(source, NULL, 0, NULL) == FLAGS_ERROR_NULL_ARGUMENT,
        "evaluate_all_json_at(NULL out)");

  /* Contexts. */
  flags_context *ctx = flags_context_new();
  CHECK(ctx != NULL, "flags_context_new");
  CHECK(flags_context_set(NULL, S("a"), S("b")) == FLAGS_ERROR_NULL_ARGUMENT, "set(NULL ctx)");
  CHECK(flags_context_set(ctx, NULL, 1, S("b")) == FLAGS_ERROR_NULL_ARGUMENT, "set(NULL attr)");
  CHECK(flags_context_set(ctx, S("a"), NULL, 1) == FLAGS_ERROR_NULL_ARGUMENT, "set(NULL value)");
  CHECK(flags_context_set(ctx, S("a"), NULL, 0) == FLAGS_ERROR_NULL_ARGUMENT,
        "set(NULL value, 0)");
  CHECK(flags_context_remove(NULL, S("a")) == FLAGS_ERROR_NULL_ARGUMENT, "remove(NULL ctx)");
  CHECK(flags_context_remove(ctx, NULL, 1) == FLAGS_ERROR_NULL_ARGUMENT, "remove(NULL attr)");
  flags_context *parsed = (flags_context *)&parsed;
  rc = flags_context_from_json(NULL, 2, &parsed, &error);
  CHECK(rc == FLAGS_ERROR_NULL_ARGUMENT && !parsed && error, "from_json(NULL): %d", rc);
  flags_string_free(error);
  CHECK(flags_context_from_json(S("{}"), NULL, NULL) == FLAGS_ERROR_NULL_ARGUMENT,
        "from_json(NULL out)");

  /* Evaluation. */
  CHECK(!flags_is_enabled(NULL, S("checkout"), ctx), "is_enabled(NULL source)");
  CHECK(!flags_is_enabled(source, NULL, 8, ctx), "is_enabled(NULL flag)");
  CHECK(!flags_is_enabled(source, NULL, 0, NULL), "is_enabled(NULL flag, 0)");
  flags_evaluation ev = {true, 77, 77, (char *)&ev}; /* garbage: must be overwritten */
  rc = flags_evaluate(NULL, S("checkout"), ctx, &ev);
  CHECK(rc == FLAGS_ERROR_NULL_ARGUMENT && is_off(&ev), "evaluate(NULL source): %d", rc);
  ev = (flags_evaluation){true, 77, 77, (char *)&ev};
  rc = flags_evaluate_at(source, NULL, 3, ctx, 0, &ev);
  CHECK(rc == FLAGS_ERROR_NULL_ARGUMENT && is_off(&ev), "evaluate_at(NULL flag): %d", rc);
  CHECK(flags_evaluate(source, S("checkout"), ctx, NULL) == FLAGS_ERROR_NULL_ARGUMENT,
        "evaluate(NULL out)");
  CHECK(flags_evaluate_at(NULL, NULL, 0, NULL, 0, NULL) == FLAGS_ERROR_NULL_ARGUMENT,
        "evaluate_at(all NULL)");

  flags_context_free(ctx);
  flags_source_free(source);
}

static void abuse_utf8(void) {
  static const char bad[] = "\xff\xfe";
  static const char truncated[] = "caf\xc3"; /* a lead byte with no continuation */
  static const char overlong[] = "\xc0\xaf";
  static const char surrogate[] = "\xed\xa0\x80";
  const char *invalid[] = {bad, truncated, overlong, surrogate};
  size_t lens[] = {LEN(bad), LEN(truncated), LEN(overlong), LEN(surrogate)};

  flags_source *source = open_json(S(FILE_JSON));
  flags_context *ctx = flags_context_new();
  flags_context_set(ctx, S("user_id"), S("42"));
  for (size_t i = 0; i < 4; i++) {
    CHECK(!flags_is_enabled(source, invalid[i], lens[i], ctx), "is_enabled(invalid UTF-8 %zu)", i);
    flags_evaluation ev;
    int32_t rc = flags_evaluate(source, invalid[i], lens[i], ctx, &ev);
    CHECK(rc == FLAGS_ERROR_INVALID_UTF8 && is_off(&ev), "evaluate(invalid UTF-8 %zu): %d", i, rc);
    flags_evaluation_clear(&ev);
    rc = flags_context_set(ctx, invalid[i], lens[i], S("x"));
    CHECK(rc == FLAGS_ERROR_INVALID_UTF8, "set(invalid attribute %zu): %d", i, rc);
    rc = flags_context_set(ctx, S("tenant_id"), invalid[i], lens[i]);
    CHECK(rc == FLAGS_ERROR_INVALID_UTF8, "set(invalid value %zu): %d", i, rc);
    rc = flags_context_remove(ctx, invalid[i], lens[i]);
    CHECK(rc == FLAGS_ERROR_INVALID_UTF8, "remove(invalid attribute %zu): %d", i, rc);
    flags_source *file = (flags_source *)&file;
    char *error = NULL;
    rc = flags_source_open_file(invalid[i], lens[i], 0, &file, &error);
    CHECK(rc == FLAGS_ERROR_INVALID_UTF8 && !file && error && error[0],
          "open_file(invalid path %zu): %d", i, rc);
    flags_string_free(error);
  }
  /* Context JSON that is not UTF-8: a value and a key. */
  static const char json_value[] = "{\"user_id\": \"\xff\"}";
  static const char json_key[] = "{\"\xc3\": \"1\"}";
  flags_context *parsed = (flags_context *)&parsed;
  char *error = NULL;
  int32_t rc = flags_context_from_json(S(json_value), &parsed, &error);
  CHECK(rc == FLAGS_ERROR_INVALID_UTF8 && !parsed && error && error[0],
        "from_json(invalid UTF-8 value): %d", rc);
  flags_string_free(error);
  rc = flags_context_from_json(S(json_key), &parsed, &error);
  CHECK(rc == FLAGS_ERROR_INVALID_UTF8 && !parsed && error && error[0],
        "from_json(invalid UTF-8 key): %d", rc);
  flags_string_free(error);
  /* A remote URL that is not UTF-8. */
  flags_remote_options options = {.url = "https://\xff/"};
  flags_source *remote = (flags_source *)&remote;
  rc = flags_source_open_remote(&options, &remote, &error);
  CHECK(rc == FLAGS_ERROR_INVALID_UTF8 && !remote && error, "open_remote(invalid UTF-8): %d", rc);
  flags_string_free(error);

  /* Strings need no NUL terminator: only `len` bytes are read. */
  static const char longer[] = "checkoutXYZ";
  flags_evaluation a, b;
  flags_evaluate_at(source, longer, 8, ctx, 0, &a);
  flags_evaluate_at(source, S("checkout"), ctx, 0, &b);
  CHECK(a.reason == b.reason && a.bucket == b.bucket && a.bucket >= 0,
        "(pointer, length) strings read exactly `length` bytes");
  /* A NUL inside a flag name is part of the name: no such flag. */
  rc = flags_evaluate_at(source, "check\0out", 9, ctx, 0, &a);
  CHECK(rc == FLAGS_OK && a.reason == FLAGS_REASON_FLAG_NOT_FOUND, "NUL inside a flag name");
  flags_context_free(ctx);
  flags_source_free(source);
}

static void abuse_contexts(void) {
  static const char *bad[] = {
      "",           "{",          "[]",         "null",
      "42",         "{\"a\": 1.5}", "{\"a\": [1]}", "{\"a\": {}}",
      "{\"a\": 1, \"a\": 2}", "{\"a\": 1e3}", "{\"a\": 1,}", "{\"a\" 1}",
      "{\"\": \"x\"}", /* an empty name, refused by flags_context_set too */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    flags_context *ctx = (flags_context *)&ctx;
    char *error = NULL;
    int32_t rc = flags_context_from_json(bad[i], strlen(bad[i]), &ctx, &error);
    CHECK(rc == FLAGS_ERROR_INVALID_CONTEXT && !ctx && error && strncmp(error, "<context>:", 10) == 0,
          "from_json(%s): %d %s", bad[i], rc, error ? error : "(no message)");
    flags_string_free(error);
    /* No error_out: still a code, nothing leaked. */
    rc = flags_context_from_json(bad[i], strlen(bad[i]), &ctx, NULL);
    CHECK(rc == FLAGS_ERROR_INVALID_CONTEXT && !ctx, "from_json(%s, NULL error_out)", bad[i]);
    CHECK(flags_context_parse(bad[i], strlen(bad[i])) == NULL, "parse(%s) is NULL", bad[i]);
  }
  CHECK(flags_context_parse(NULL, 2) == NULL, "parse(NULL) is NULL");
  CHECK(flags_context_parse("{\"a\": \"\xff\"}", 10) == NULL, "parse(not UTF-8) is NULL");

  /* Set replaces, remove removes, an absent attribute is fine. */
  flags_source *source = open_json(S(FILE_JSON));
  flags_context *ctx = flags_context_new();
  CHECK(flags_context_set(ctx, S(""), S("x")) == FLAGS_ERROR_INVALID_ARGUMENT,
        "set(empty attribute)");
  CHECK(flags_context_remove(ctx, S("")) == FLAGS_ERROR_INVALID_ARGUMENT,
        "remove(empty attribute)");
  CHECK(flags_context_set(ctx, S("tenant_id"), S("")) == FLAGS_OK, "set(empty value)");
  CHECK(!flags_is_enabled(source, S("pilot_only"), ctx), "not a pilot with an empty tenant");
  CHECK(flags_context_set(ctx, S("tenant_id"), S("acme")) == FLAGS_OK, "set replaces");
  CHECK(flags_is_enabled(source, S("pilot_only"), ctx), "a pilot after set");
  CHECK(flags_context_remove(ctx, S("tenant_id")) == FLAGS_OK, "remove");
  CHECK(!flags_is_enabled(source, S("pilot_only"), ctx), "not a pilot after remove");
  CHECK(flags_context_remove(ctx, S("tenant_id")) == FLAGS_OK, "remove of an absent attribute");

  /* Unknown flags: off, FLAG_NOT_FOUND, result FLAGS_OK. */
  flags_evaluation ev;
  int32_t rc = flags_evaluate(source, S("no_such_flag"), ctx, &ev);
  CHECK(rc == FLAGS_OK && is_off(&ev), "unknown flag: %d", rc);
  rc = flags_evaluate(source, S(""), NULL, &ev);
  CHECK(rc == FLAGS_OK && is_off(&ev), "empty flag name: %d", rc);
  CHECK(!flags_is_enabled(source, S("no_such_flag"), ctx), "is_enabled(unknown flag)");

  /* A variant is owned by the evaluation; clearing twice is harmless. */
  flags_context_set(ctx, S("user_id"), S("7"));
  rc = flags_evaluate(source, S("colors"), ctx, &ev);
  CHECK(rc == FLAGS_OK && ev.enabled && ev.variant &&
            (strcmp(ev.variant, "blue") == 0 || strcmp(ev.variant, "green") == 0),
        "a variant");
  flags_evaluation_clear(&ev);
  CHECK(ev.variant == NULL, "clear sets variant to NULL");
  flags_evaluation_clear(&ev);
  CHECK(ev.variant == NULL && ev.enabled, "clearing twice is harmless and keeps the rest");

  /* The version, generation and status of a JSON source. */
  char *version = NULL;
  CHECK(flags_source_version(source, &version) == FLAGS_OK && version && strlen(version) == 32 &&
            strspn(version, "0123456789abcdef") == 32,
        "version is 32 hex digits: %s", version ? version : "(null)");
  char *status = NULL;
  CHECK(flags_source_status_json(source, &status) == FLAGS_OK && status &&
            strstr(status, "\"kind\":\"json\"") && strstr(status, "\"healthy\":true") &&
            strstr(status, "\"stale\":false") &&
            strstr(status, "\"last_error\":null") && strstr(status, version),
        "status_json: %s", status ? status : "(null)");
  CHECK(flags_source_generation(source) == 0, "a JSON source never swaps");
  flags_string_free(status);
  flags_string_free(version);

  /* Every flag, in key order, with the NULL context. */
  char *all = NULL;
  rc = flags_evaluate_all_json(source, NULL, &all);
  CHECK(rc == FLAGS_OK && all && strncmp(all, "[{\"flag\":\"checkout\",", 20) == 0 &&
            strstr(all, "{\"flag\":\"pilot_only\",\"enabled\":false,\"variant\":null,"
                        "\"reason\":\"ROLLOUT_OUT\",\"bucket\":null}]"),
        "evaluate_all_json: %s", all ? all : "(null)");
  flags_string_free(all);
  flags_context_free(ctx);
  flags_source_free(source);
}

/* --------------------------------------------------------------- file source */

static char scratch[512];

static void write_file(const char *path, const char *text) {
  /* Write a temporary file and rename it over the target: an atomic save. */
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
    perror(path);
    exit(2);
  }
}

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&t, &t) != 0) {
  }
}

static const char ON[] = "{\"version\": 1, \"flags\": {\"f\": {\"percentage\": 100}}}";
static const char OFF[] = "{\"version\": 1, \"flags\": {\"f\": {\"percentage\": 0}}}";

static void file_source(void) {
  char path[600], missing[600];
  snprintf(path, sizeof path, "%s/flags.json", scratch);
  snprintf(missing, sizeof missing, "%s/no-such-file.json", scratch);

  flags_source *source = (flags_source *)&source;
  char *error = NULL;
  int32_t rc = flags_source_open_file(missing, strlen(missing), 0, &source, &error);
  CHECK(rc == FLAGS_ERROR_IO && !source && error && strstr(error, "no-such-file.json"),
        "open_file(missing): %d %s", rc, error ? error : "(no message)");
  flags_string_free(error);

  write_file(path, "{\"version\": 1, \"flags\": {\"f\": {\"percentage\": 5");
  rc = flags_source_open_file(path, strlen(path), 0, &source, &error);
  CHECK(rc == FLAGS_ERROR_INVALID_FLAGS && !source && error && strstr(error, "flags.json:1:"),
        "open_file(truncated): %d %s", rc, error ? error : "(no message)");
  flags_string_free(error);

  write_file(path, ON);
  rc = flags_source_open_file(path, strlen(path), 20, &source, &error);
  CHECK(rc == FLAGS_OK && source && !error, "open_file: %d %s", rc, error ? error : "");
  flags_string_free(error);
  if (!source) return;
  flags_context *ctx = flags_context_new();
  flags_context_set(ctx, S("user_id"), S("1"));
  CHECK(flags_is_enabled(source, S("f"), ctx), "file source: on");
  uint64_t generation = flags_source_generation(source);
  char *status = NULL;
  flags_source_status_json(source, &status);
  CHECK(status && strstr(status, "\"kind\":\"file\""), "status of a file source: %s",
        status ? status : "(null)");
  flags_string_free(status);

  /* Fork: the child edits the file and must see the edit through the handle
   * opened before the fork (no thread is needed for that). */
  fflush(NULL);
  pid_t child = fork();
  if (child == 0) {
    write_file(path, OFF);
    int ok = 0;
    for (int i = 0; i < 500 && !ok; i++) { /* up to 10 s */
      sleep_ms(20);
      ok = !flags_is_enabled(source, S("f"), ctx) && flags_source_generation(source) > generation;
    }
    if (!ok) {
      char *status = NULL;
      flags_source_status_json(source, &status);
      fprintf(stderr, "  child: enabled=%d generation=%llu status=%s\n",
              flags_is_enabled(source, S("f"), ctx),
              (unsigned long long)flags_source_generation(source), status ? status : "(null)");
      flags_string_free(status);
    }
    flags_context_free(ctx);
    flags_source_free(source);
    free_vectors(); /* the parent's test data, so valgrind sees a clean exit */
    _exit(ok ? 0 : 1);
  }
  int wstatus = 0;
  bool waited = child > 0 && waitpid(child, &wstatus, 0) == child;
  CHECK(waited && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0,
        "after fork, the child sees the file edit (wait status %d)", wstatus);

  /* The parent sees it too, on its own, and a bad edit keeps the last good
   * flags. */
  bool off = false;
  for (int i = 0; i < 500 && !off; i++) {
    sleep_ms(20);
    off = !flags_is_enabled(source, S("f"), ctx);
  }
  CHECK(off && flags_source_generation(source) > generation, "the parent reloads as well");
  write_file(path, "{\"version\": 1, \"flags\": {\"f\": {\"percentage\": 101}}}");
  sleep_ms(250);
  for (int i = 0; i < 5; i++) {
    CHECK(!flags_is_enabled(source, S("f"), ctx), "a bad edit keeps the last good flags");
    sleep_ms(30);
  }
  status = NULL;
  flags_source_status_json(source, &status);
  CHECK(status && strstr(status, "\"healthy\":false") && strstr(status, "percentage"),
        "status reports the bad file: %s", status ? status : "(null)");
  flags_string_free(status);
  flags_context_free(ctx);
  flags_source_free(source);
  remove(path);
}

/* ------------------------------------------------------------ remote source */

static flags_source *open_remote(const char *url, const char *cache, int32_t expected) {
  flags_remote_options options = {
      .url = url, .cache_path = cache, .timeout_ms = 3000, .refresh_interval_ms = 60000};
  flags_source *source = (flags_source *)&source;
  char *error = NULL;
  int32_t rc = flags_source_open_remote(&options, &source, &error);
  CHECK(rc == expected && (rc == FLAGS_OK ? source && !error : !source && error && error[0]),
        "open_remote(%s, cache %s): %d, expected %d: %s", url, cache ? cache : "none", rc, expected,
        error ? error : "(no message)");
  flags_string_free(error);
  return rc == FLAGS_OK ? source : NULL;
}

/* `server` (may be NULL) serves the flag file ON at GET /v1/flags. */
static void remote_source(const char *server) {
  static const char unreachable[] = "http://127.0.0.1:9/";
  open_remote("not a url", NULL, FLAGS_ERROR_INVALID_ARGUMENT);
  open_remote("ftp://flags.example/", NULL, FLAGS_ERROR_INVALID_ARGUMENT);
  open_remote(unreachable, NULL, FLAGS_ERROR_REMOTE);
  if (!server) {
    printf("remote: no server given, online cases skipped\n");
    return;
  }
  char cache[600];
  snprintf(cache, sizeof cache, "%s/remote-cache.json", scratch);
  flags_context *ctx = flags_context_new();
  flags_context_set(ctx, S("user_id"), S("1"));

  /* Online: the server's flags, written to the cache. */
  flags_source *source = open_remote(server, cache, FLAGS_OK);
  char *status = NULL;
  flags_source_status_json(source, &status);
  CHECK(source && flags_is_enabled(source, S("f"), ctx) && status &&
            strstr(status, "\"kind\":\"remote\"") && strstr(status, "\"healthy\":true"),
        "remote source online: %s", status ? status : "(null)");
  flags_string_free(status);
  flags_source_free(source);
  FILE *f = fopen(cache, "r");
  CHECK(f != NULL, "the remote source wrote its cache file");
  if (f) fclose(f);

  /* Offline: starts from the cache, unhealthy, with the same flags. */
  source = open_remote(unreachable, cache, FLAGS_OK);
  status = NULL;
  flags_source_status_json(source, &status);
  CHECK(source && flags_is_enabled(source, S("f"), ctx) && status &&
            strstr(status, "\"healthy\":false") && strstr(status, "127.0.0.1:9"),
        "remote source offline, from its cache: %s", status ? status : "(null)");
  flags_string_free(status);
  flags_source_free(source);
  flags_context_free(ctx);
  printf("remote: online and offline from the cache\n");
}

/* ------------------------------------------------------------------ threads */

enum { THREADS = 4, ROUNDS = 20 };

typedef struct {
  const flags_source *source;
  const golden_file *file;
  long mismatches, evaluations;
} worker;

static void *work(void *arg) {
  worker *w = arg;
  const golden_file *file = w->file;
  /* Per-thread contexts, built once and used for every round. */
  flags_context **ctxs = xmalloc(file->ncases * sizeof *ctxs);
  for (size_t j = 0; j < file->ncases; j++) {
    ctxs[j] = NULL;
    if (flags_context_from_json(file->cases[j].context.data, file->cases[j].context.len,
                                &ctxs[j], NULL) != FLAGS_OK)
      w->mismatches++;
  }
  for (int round = 0; round < ROUNDS; round++) {
    for (size_t j = 0; j < file->ncases; j++) {
      const golden_case *c = &file->cases[j];
      flags_evaluation ev;
      int32_t rc = flags_evaluate_at(w->source, c->flag.data, c->flag.len, ctxs[j], c->now, &ev);
      w->evaluations++;
      if (!matches(c, rc, &ev, "thread")) w->mismatches++;
      flags_evaluation_clear(&ev);
      char *all = NULL;
      if (round == 0 && flags_evaluate_all_json_at(w->source, ctxs[j], c->now, &all) != FLAGS_OK)
        w->mismatches++;
      flags_string_free(all);
    }
  }
  for (size_t j = 0; j < file->ncases; j++) flags_context_free(ctxs[j]);
  free(ctxs);
  return NULL;
}

static void *free_context(void *ctx) {
  flags_context_free(ctx);
  return NULL;
}

static void threads(void) {
  /* The vector file with the most cases, shared by every thread. */
  const golden_file *file = NULL;
  for (size_t i = 0; i < nfiles; i++)
    if (!file || files[i].ncases > file->ncases) file = &files[i];
  if (!file) {
    CHECK(false, "no golden vectors for the threads");
    return;
  }
  flags_source *source = open_json(file->json.data, file->json.len);
  pthread_t tids[THREADS];
  worker workers[THREADS];
  for (int t = 0; t < THREADS; t++) {
    workers[t] = (worker){source, file, 0, 0};
    CHECK(pthread_create(&tids[t], NULL, work, &workers[t]) == 0, "pthread_create");
  }
  long evaluations = 0;
  for (int t = 0; t < THREADS; t++) {
    pthread_join(tids[t], NULL);
    CHECK(workers[t].mismatches == 0, "thread %d: %ld mismatches", t, workers[t].mismatches);
    evaluations += workers[t].evaluations;
  }
  /* Frees from another thread than the one that allocated. */
  flags_context *ctx = flags_context_new();
  pthread_t freer;
  CHECK(pthread_create(&freer, NULL, free_context, ctx) == 0 &&
            pthread_join(freer, NULL) == 0,
        "free on another thread");
  flags_source_free(source);
  printf("threads: %d threads, %ld evaluations of %s\n", THREADS, evaluations, file->name.data);
}

/* ----------------------------------------------------------- shared source */

/* The flags_source_shared of 4 threads at once, for one path. */
typedef struct {
  const char *path;
  const flags_source *got;
} shared_call;

static void *call_shared(void *arg) {
  shared_call *call = arg;
  call->got = flags_source_shared(call->path, strlen(call->path), 0);
  return NULL;
}

/* Opens `path` with flags_source_open_file_shared and expects `expected`,
 * with a message containing `needle` on failure. */
static void expect_open_shared(const char *path, size_t len, int32_t expected, const char *needle,
                               const char *what) {
  flags_source *source = (flags_source *)&source;
  char *error = NULL;
  int32_t rc = flags_source_open_file_shared(path, len, 0, &source, &error);
  CHECK(rc == expected &&
            (rc == FLAGS_OK ? source && !error : !source && error && strstr(error, needle)),
        "open_file_shared(%s): %d, expected %d: %s", what, rc, expected,
        error ? error : "(no message)");
  flags_string_free(error);
  flags_source_free(source);
}

/* The shared sources are never freed, by design: valgrind lists the flags
 * they serve as "possibly lost" (arc-swap holds them through a pointer to
 * the middle of their allocation), not as an error. */
static void shared_source(void) {
  char path[600], missing[600];
  snprintf(path, sizeof path, "%s/shared.json", scratch);
  snprintf(missing, sizeof missing, "%s/no-such-shared.json", scratch);

  /* NULL on every failure; flags_source_open_file_shared then says why. */
  CHECK(flags_source_shared(NULL, 0, 0) == NULL, "shared(NULL path)");
  CHECK(flags_source_shared(NULL, 8, 0) == NULL, "shared(NULL path, 8)");
  expect_open_shared(NULL, 0, FLAGS_ERROR_NULL_ARGUMENT, "path", "NULL path");
  static const char bad_utf8[] = "/tmp/\xff.json";
  CHECK(flags_source_shared(S(bad_utf8), 0) == NULL, "shared(invalid UTF-8 path)");
  expect_open_shared(S(bad_utf8), FLAGS_ERROR_INVALID_UTF8, "UTF-8", "invalid UTF-8 path");
  CHECK(flags_source_shared(missing, strlen(missing), 0) == NULL, "shared(missing file)");
  expect_open_shared(missing, strlen(missing), FLAGS_ERROR_IO, "no-such-shared.json",
                     "missing file");
  write_file(path, "{\"version\": 1, \"flags\": {\"f\": {\"percentage\": 101}}}");
  CHECK(flags_source_shared(path, strlen(path), 0) == NULL, "shared(invalid file)");
  expect_open_shared(path, strlen(path), FLAGS_ERROR_INVALID_FLAGS, "shared.json:1:",
                     "invalid file");

  /* A failure is not remembered: once the file is valid, it opens; from 4
   * threads at once, all get the one source. */
  write_file(path, ON);
  shared_call calls[THREADS];
  pthread_t tids[THREADS];
  for (int t = 0; t < THREADS; t++) {
    calls[t] = (shared_call){path, NULL};
    CHECK(pthread_create(&tids[t], NULL, call_shared, &calls[t]) == 0, "pthread_create");
  }
  for (int t = 0; t < THREADS; t++) pthread_join(tids[t], NULL);
  const flags_source *source = flags_source_shared(path, strlen(path), 0);
  CHECK(source != NULL, "shared(valid file)");
  if (!source) return;
  for (int t = 0; t < THREADS; t++)
    CHECK(calls[t].got == source, "thread %d got the same source", t);
  CHECK(flags_source_shared(path, strlen(path), 0) == source, "the same pointer again");
  CHECK(flags_source_shared(path, strlen(path), 1000) == source, "0 is the default interval");
  const flags_source *other = flags_source_shared(path, strlen(path), 250);
  CHECK(other && other != source, "another interval, another source");

  /* Every function that takes a source takes it. */
  flags_context *ctx = flags_context_new();
  flags_context_set(ctx, S("user_id"), S("1"));
  CHECK(flags_is_enabled(source, S("f"), ctx) && flags_is_enabled(source, S("f"), NULL),
        "shared source: on");
  flags_evaluation ev;
  int32_t rc = flags_evaluate(source, S("f"), ctx, &ev);
  CHECK(rc == FLAGS_OK && ev.enabled && ev.reason == FLAGS_REASON_ROLLOUT_IN,
        "evaluate(shared): %d", rc);
  flags_evaluation_clear(&ev);
  char *version = NULL, *status = NULL, *all = NULL;
  CHECK(flags_source_version(source, &version) == FLAGS_OK && version && strlen(version) == 32,
        "version(shared)");
  CHECK(flags_source_status_json(source, &status) == FLAGS_OK && status &&
            strstr(status, "\"kind\":\"file\"") && strstr(status, "\"healthy\":true"),
        "status_json(shared): %s", status ? status : "(null)");
  CHECK(flags_evaluate_all_json(source, ctx, &all) == FLAGS_OK && all &&
            strstr(all, "{\"flag\":\"f\",\"enabled\":true,"),
        "evaluate_all_json(shared): %s", all ? all : "(null)");
  CHECK(flags_source_generation(source) == 0, "generation(shared)");
  flags_string_free(all);
  flags_string_free(status);

  /* The handles of flags_source_open_file_shared serve the same source:
   * with the file gone, they still open (a lookup, no read). Freeing one
   * leaves the shared source alone. */
  remove(path);
  flags_source *handle = NULL;
  rc = flags_source_open_file_shared(path, strlen(path), 0, &handle, NULL);
  CHECK(rc == FLAGS_OK && handle && handle != source, "open_file_shared after the file went: %d",
        rc);
  char *handle_version = NULL;
  flags_source_version(handle, &handle_version);
  CHECK(handle_version && version && strcmp(handle_version, version) == 0,
        "the handle serves the same flags");
  flags_string_free(handle_version);
  flags_source_free(handle);
  CHECK(flags_is_enabled(source, S("f"), ctx), "freeing a handle leaves the shared source");

  /* Freeing the shared pointer is harmless: it is ignored, even twice. */
  flags_source_free((flags_source *)source);
  flags_source_free((flags_source *)source);
  CHECK(flags_is_enabled(source, S("f"), ctx) &&
            flags_source_shared(path, strlen(path), 0) == source,
        "flags_source_free ignores the shared source");
  flags_string_free(version);
  flags_context_free(ctx);
}

/* ------------------------------------------------- not a regular file */

/* A named pipe, a device or a directory at the path is refused at once,
 * never waited on (a FIFO's open would wait for a writer forever) or read
 * without end (/dev/zero). */
static void not_regular_files(void) {
  char fifo[600];
  snprintf(fifo, sizeof fifo, "%s/pipe.json", scratch);
  remove(fifo);
  if (mkfifo(fifo, 0600) != 0) {
    perror(fifo);
    exit(2);
  }
  const char *paths[] = {fifo, "/dev/zero", scratch};
  const char *kinds[] = {"a named pipe (FIFO)", "a character device", "a directory"};
  for (int i = 0; i < 3; i++) {
    flags_source *source = NULL;
    char *error = NULL;
    int32_t rc = flags_source_open_file(paths[i], strlen(paths[i]), 0, &source, &error);
    CHECK(rc == FLAGS_ERROR_IO && !source && error && strstr(error, kinds[i]),
          "open_file(%s): %d %s", paths[i], rc, error ? error : "(null)");
    flags_string_free(error);
    CHECK(flags_source_shared(paths[i], strlen(paths[i]), 0) == NULL, "shared(%s) is NULL",
          paths[i]);
  }
  remove(fifo);
}

/* --------------------------------------------------- fork during an open */

/* A fork while another thread is inside the first open of a shared source
 * (reading and parsing its file) must leave the child a registry it can
 * use: the child opens another shared source and must answer. A registry
 * that held a lock across that read left the child waiting forever for a
 * lock whose holder did not survive the fork.
 *
 * The window is checked, not hoped for: the other thread opens a large file
 * (a parse of a few hundred milliseconds or more) and records when its open
 * returned; a try counts only when that was after the fork, and a try that
 * missed the window is made again with a file twice as large. */
typedef struct {
  const char *path;
  const flags_source *got;
  atomic_bool started;
  struct timespec done;
} timed_call;

static void *call_shared_timed(void *arg) {
  timed_call *call = arg;
  atomic_store(&call->started, true);
  call->got = flags_source_shared(call->path, strlen(call->path), 0);
  clock_gettime(CLOCK_MONOTONIC, &call->done);
  return NULL;
}

static bool before(const struct timespec *a, const struct timespec *b) {
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* A valid flag file with `ids` pilot ids. */
static void write_pilots_file(const char *path, size_t ids) {
  size_t cap = 64 + ids * 16;
  char *text = malloc(cap);
  if (!text) exit(2);
  size_t n = (size_t)snprintf(text, cap, "{\"version\": 1, \"flags\": {\"f\": {\"percentage\": 100, "
                                         "\"pilots\": {\"user_id\": [");
  for (size_t i = 0; i < ids; i++) {
    n += (size_t)snprintf(text + n, cap - n, "%s\"u%zu\"", i ? "," : "", i);
  }
  snprintf(text + n, cap - n, "]}}}}");
  write_file(path, text);
  free(text);
}

static void shared_source_fork(void) {
  char big[600], other[600];
  snprintf(other, sizeof other, "%s/other-shared.json", scratch);
  write_file(other, ON);
  for (size_t ids = 250000; ids <= 16000000; ids *= 2) {
    /* A new path each try: the registry keeps every file it opened. */
    snprintf(big, sizeof big, "%s/big-%zu.json", scratch, ids);
    write_pilots_file(big, ids);
    timed_call call = {big, NULL, false, {0, 0}};
    pthread_t opener;
    if (pthread_create(&opener, NULL, call_shared_timed, &call) != 0) {
      perror("pthread_create");
      exit(2);
    }
    while (!atomic_load(&call.started)) sleep_ms(1);
    sleep_ms(20); /* into the read and parse */

    int answer[2];
    if (pipe(answer) != 0) {
      perror("pipe");
      exit(2);
    }
    fflush(NULL);
    struct timespec forked;
    clock_gettime(CLOCK_MONOTONIC, &forked);
    pid_t child = fork();
    if (child == 0) {
      close(answer[0]);
      const flags_source *source = flags_source_shared(other, strlen(other), 0);
      char ok = source && flags_is_enabled(source, S("f"), NULL) ? 'y' : 'n';
      if (write(answer[1], &ok, 1) != 1) _exit(3);
      /* Wait to be killed: at an exit valgrind would check this process's
       * heap, where what the other thread (gone in the fork) was holding
       * would show as leaks. */
      for (;;) pause();
    }
    close(answer[1]);
    char got = 0;
    struct pollfd ready = {answer[0], POLLIN, 0};
    int polled = child > 0 ? poll(&ready, 1, 30000) : -1; /* generous: valgrind, busy CI */
    bool answered = polled == 1 && read(answer[0], &got, 1) == 1;
    if (child > 0) {
      kill(child, SIGKILL);
      waitpid(child, NULL, 0);
    }
    close(answer[0]);
    pthread_join(opener, NULL);
    remove(big);
    bool in_window = before(&forked, &call.done);
    if (!in_window && child > 0 && answered) {
      printf("shared_source_fork: the open of %zu ids ended before the fork; trying a larger file\n",
             ids);
      continue;
    }
    CHECK(answered && got == 'y',
          "a child forked during the first open of a shared source opens another one (%s)",
          child <= 0 ? "fork failed"
          : !answered ? "no answer within 30 s: blocked"
                      : "it answered that it could not");
    CHECK(call.got != NULL, "the open the fork happened in completes");
    remove(other);
    return;
  }
  CHECK(false, "no try forked while the other thread was inside its open");
  remove(other);
}

/* --------------------------------------------------------------------- main */

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: %s VECTORS.txt SCRATCH_DIR [FLAG_SERVER_URL]\n", argv[0]);
    return 2;
  }
  snprintf(scratch, sizeof scratch, "%s", argv[2]);
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("flags %s\n", flags_library_version());
  read_vectors(argv[1]);
  run_golden();
  run_invalid();
  abuse_static_strings();
  abuse_null();
  abuse_utf8();
  abuse_contexts();
  file_source();
  shared_source();
  not_regular_files();
  shared_source_fork();
  remote_source(argc == 4 ? argv[3] : NULL);
  threads();
  free_vectors();
  printf("%ld passed, %ld failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
