/*
 * Editing a flag file through the flags C ABI (flags_file_edit) and reading
 * its status (flags_file_status_json), as a C host does:
 *   1. several operations in one request: the file's exact bytes after, the
 *      result JSON, and the one audit record (actor, command, before and
 *      after, checked against the content hashes the library gives the two
 *      texts through flags_source_version);
 *   2. a dry run and an edit that changes nothing write nothing;
 *   3. refusals leave the file as it was: an unknown flag
 *      (FLAGS_ERROR_INVALID_ARGUMENT), an invalid replacement
 *      (FLAGS_ERROR_INVALID_FLAGS, with FILE:LINE:COL), a bad request naming
 *      its field, NULL and non-UTF-8 arguments;
 *   4. conflicts (FLAGS_ERROR_CONFLICT), nothing written: the directory's
 *      lock held here with flock(2) past lock_wait_ms, and the file changed
 *      while a forked child's edit is paused between its read and its write
 *      (the debug library's FLAGS_TEST_PAUSE_BEFORE_WRITE_MS hook: tests/c/run
 *      builds a debug library);
 *   5. "replace" creating a file that does not exist;
 *   6. flags_file_status_json.
 * Prints `N passed, M failed` and exits non-zero on any failure. Everything
 * the library hands out is released, so valgrind can check for leaks.
 *
 * Run by tests/c/run; usage: edit SCRATCH_DIR
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flags.h"

static long passed, failed;

static void check(bool ok, int line, const char *fmt, ...) {
  if (ok) {
    passed++;
    return;
  }
  failed++;
  va_list args;
  va_start(args, fmt);
  fprintf(stderr, "FAIL (edit.c:%d): ", line);
  vfprintf(stderr, fmt, args);
  fputc('\n', stderr);
  va_end(args);
}

#define CHECK(ok, ...) check((ok), __LINE__, __VA_ARGS__)

static char dir[256];

static const char FILE_TEXT[] =
    "{\n"
    "  \"version\": 1,\n"
    "  \"flags\": {\n"
    "    \"checkout\": { \"owner\": \"payments\", \"percentage\": 10 },\n"
    "    \"search\": { \"percentage\": 12.5 }\n"
    "  }\n"
    "}\n";

/* FILE_TEXT after {"op": "kill", "flag": "checkout"} and
 * {"op": "set_percentage", "flag": "search", "percentage": "25"}: one
 * member added in the style of its one-line object, one number replaced,
 * every other byte as it was. */
static const char EDITED_TEXT[] =
    "{\n"
    "  \"version\": 1,\n"
    "  \"flags\": {\n"
    "    \"checkout\": { \"owner\": \"payments\", \"killed\": true, \"percentage\": 10 },\n"
    "    \"search\": { \"percentage\": 25 }\n"
    "  }\n"
    "}\n";

static void path_of(char *out, size_t size, const char *name) {
  snprintf(out, size, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(text, 1, strlen(text), f) != strlen(text) || fclose(f) != 0) {
    fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
    exit(2);
  }
}

/* The whole file, NUL-terminated (caller frees), or NULL when missing. */
static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  size_t n;
  while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len < 2) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
  }
  fclose(f);
  if (!buf) exit(2);
  buf[len] = '\0';
  return buf;
}

static bool file_is(const char *path, const char *expected) {
  char *text = read_file(path);
  bool same = text && strcmp(text, expected) == 0;
  free(text);
  return same;
}

static size_t lines_of(const char *path) {
  char *text = read_file(path);
  size_t n = 0;
  for (const char *p = text; p && *p; p++) n += *p == '\n';
  free(text);
  return n;
}

/* flags_file_edit with a NUL-terminated request. */
static int32_t edit(const char *request, char **out, char **error) {
  return flags_file_edit(request, strlen(request), out, error);
}

/* The content hash the library gives `text` (as a JSON source): 32 hex
 * digits into `hash`. */
static void version_of(const char *text, char hash[33]) {
  flags_source *source = NULL;
  char *version = NULL;
  hash[0] = '\0';
  if (flags_source_open_json(text, strlen(text), &source, NULL) == FLAGS_OK &&
      flags_source_version(source, &version) == FLAGS_OK && strlen(version) == 32) {
    memcpy(hash, version, 33);
  }
  flags_string_free(version);
  flags_source_free(source);
}

/* Whether `json` holds `"key":"value"` (the library writes compact JSON). */
static bool has_field(const char *json, const char *key, const char *value) {
  char needle[1024];
  snprintf(needle, sizeof needle, "\"%s\":\"%s\"", key, value);
  return json && strstr(json, needle) != NULL;
}

static void several_operations(void) {
  char path[384], log[384], request[2048];
  path_of(path, sizeof path, "flags.json");
  path_of(log, sizeof log, "flags.json.audit.jsonl");
  write_file(path, FILE_TEXT);
  snprintf(request, sizeof request,
           "{\"path\": \"%s\", \"actor\": \"c-test\", \"command\": \"edit.c several\", \"ops\": ["
           "{\"op\": \"kill\", \"flag\": \"checkout\"},"
           "{\"op\": \"set_percentage\", \"flag\": \"search\", \"percentage\": \"25\"}]}",
           path);
  char *out = NULL, *error = NULL;
  int32_t rc = edit(request, &out, &error);
  CHECK(rc == FLAGS_OK, "edit: rc %d (%s)", rc, error ? error : "");
  CHECK(error == NULL, "no error message on success");
  CHECK(file_is(path, EDITED_TEXT), "the file holds exactly the edited text");
  char before[33], after[33];
  version_of(FILE_TEXT, before);
  version_of(EDITED_TEXT, after);
  CHECK(out && strstr(out, "\"written\":true,\"dry_run\":false,"), "result: written: %s", out);
  CHECK(has_field(out, "summary", "checkout: killed; search: percentage 12.5% -> 25%"),
        "result: summary: %s", out);
  CHECK(out && strstr(out, "\"changes\":[\"checkout: killed\",\"search: percentage 12.5% -> 25%\"]"),
        "result: changes: %s", out);
  CHECK(has_field(out, "before", before) && has_field(out, "after", after), "result: hashes: %s", out);
  CHECK(has_field(out, "audit_log", log), "result: audit_log: %s", out);
  flags_string_free(out);

  CHECK(lines_of(log) == 1, "one audit record for the two operations");
  char *record = read_file(log);
  CHECK(has_field(record, "actor", "c-test"), "record: actor: %s", record);
  CHECK(has_field(record, "command", "edit.c several"), "record: command: %s", record);
  CHECK(has_field(record, "file", path), "record: file: %s", record);
  CHECK(has_field(record, "before", before), "record: before: %s", record);
  CHECK(has_field(record, "after", after), "record: after: %s", record);
  CHECK(has_field(record, "summary", "checkout: killed; search: percentage 12.5% -> 25%"),
        "record: summary: %s", record);
  free(record);
}

static void nothing_written(void) {
  char path[384], log[384], request[2048];
  path_of(path, sizeof path, "flags.json");
  path_of(log, sizeof log, "flags.json.audit.jsonl");
  size_t records = lines_of(log);
  char *out = NULL, *error = NULL;

  snprintf(request, sizeof request,
           "{\"path\": \"%s\", \"dry_run\": true, \"ops\": [{\"op\": \"kill_all\"}]}", path);
  int32_t rc = edit(request, &out, &error);
  CHECK(rc == FLAGS_OK, "dry run: rc %d (%s)", rc, error ? error : "");
  CHECK(out && strstr(out, "\"written\":false,\"dry_run\":true,") &&
            strstr(out, "\"changes\":[\"kill_all: off -> ON\"]") && strstr(out, "\"audit_log\":null"),
        "dry run: %s", out);
  flags_string_free(out);

  snprintf(request, sizeof request,
           "{\"path\": \"%s\", \"ops\": [{\"op\": \"kill\", \"flag\": \"checkout\"}]}", path);
  rc = edit(request, &out, &error);
  CHECK(rc == FLAGS_OK, "no change: rc %d", rc);
  CHECK(has_field(out, "summary", "no changes; nothing was written"), "no change: %s", out);
  flags_string_free(out);
  CHECK(file_is(path, EDITED_TEXT), "the file is unchanged");
  CHECK(lines_of(log) == records, "no audit record");
}

/* An edit that must fail with `code`, its message holding `needle`, and
 * leave the file and the audit log as they were. */
static void refused(const char *request, size_t len, int32_t code, const char *needle, int line) {
  char path[384], log[384];
  path_of(path, sizeof path, "flags.json");
  path_of(log, sizeof log, "flags.json.audit.jsonl");
  char *text = read_file(path);
  size_t records = lines_of(log);
  char *out = (char *)1, *error = NULL;
  int32_t rc = flags_file_edit(request, len, &out, &error);
  check(rc == code, line, "rc %d, expected %d (%s)", rc, code, error ? error : "");
  check(out == NULL, line, "*out is NULL on error");
  check(error && strstr(error, needle), line, "message \"%s\" lacks \"%s\"", error ? error : "", needle);
  check(file_is(path, text), line, "the file is unchanged");
  check(lines_of(log) == records, line, "no audit record");
  flags_string_free(error);
  free(text);
}

#define REFUSED(request, code, needle) refused((request), strlen(request), (code), (needle), __LINE__)

static void refusals(void) {
  char path[384], request[2048], needle[2048];
  path_of(path, sizeof path, "flags.json");

  snprintf(request, sizeof request, "{\"path\": \"%s\", \"ops\": [{\"op\": \"kill\", \"flag\": \"chekout\"}]}", path);
  snprintf(needle, sizeof needle, "%s: no flag named \"chekout\"; did you mean \"checkout\"?", path);
  REFUSED(request, FLAGS_ERROR_INVALID_ARGUMENT, needle);

  snprintf(request, sizeof request,
           "{\"path\": \"%s\", \"ops\": [{\"op\": \"kill_all\"}, {\"op\": \"replace\", \"text\": "
           "\"{\\\"version\\\": 1, \\\"flags\\\": {\\\"a\\\": {\\\"percentage\\\": 101}}}\"}]}",
           path);
  snprintf(needle, sizeof needle,
           "%s: the edit would make the file invalid; nothing was written\n%s:1:46: flags.a.percentage: ", path,
           path);
  REFUSED(request, FLAGS_ERROR_INVALID_FLAGS, needle);

  snprintf(request, sizeof request,
           "{\"path\": \"%s\", \"ops\": [{\"op\": \"set_percentage\", \"flag\": \"search\", \"percentage\": 12.345}]}",
           path);
  REFUSED(request, FLAGS_ERROR_INVALID_ARGUMENT,
          "ops[0].percentage: invalid percentage \"12.345\": at most two decimals");
  snprintf(request, sizeof request, "{\"path\": \"%s\", \"ops\": [{\"op\": \"kil\"}]}", path);
  REFUSED(request, FLAGS_ERROR_INVALID_ARGUMENT, "ops[0].op: unknown operation \"kil\"; expected one of: ");
  REFUSED("{\"path\": ", FLAGS_ERROR_INVALID_ARGUMENT, "`request_json` is not valid JSON: ");
  REFUSED("{\"path\": \"\xff\"}", FLAGS_ERROR_INVALID_UTF8, "`request_json` is not valid UTF-8");

  char *out = NULL, *error = NULL;
  CHECK(flags_file_edit(NULL, 0, &out, &error) == FLAGS_ERROR_NULL_ARGUMENT && out == NULL,
        "a NULL request");
  flags_string_free(error);
  CHECK(flags_file_edit("{}", 2, NULL, NULL) == FLAGS_ERROR_NULL_ARGUMENT, "a NULL out");
  CHECK(flags_file_status_json(NULL, 0, 0, &out, NULL) == FLAGS_ERROR_NULL_ARGUMENT && out == NULL,
        "a NULL path");
}

static void lock_held(void) {
  char path[384], request[2048], needle[2048];
  path_of(path, sizeof path, "flags.json");
  int fd = open(dir, O_RDONLY);
  CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0, "the test takes the directory's lock");
  snprintf(request, sizeof request,
           "{\"path\": \"%s\", \"lock_wait_ms\": 100, \"ops\": [{\"op\": \"kill_all\"}]}", path);
  snprintf(needle, sizeof needle,
           "%s: another flags command has been editing files in %s for 100 ms; nothing was written", path, dir);
  REFUSED(request, FLAGS_ERROR_CONFLICT, needle);
  close(fd); /* releases the lock */
  char *out = NULL, *error = NULL;
  int32_t rc = edit(request, &out, &error);
  CHECK(rc == FLAGS_OK && has_field(out, "summary", "kill_all: off -> ON"), "once released: %d %s", rc,
        error ? error : out);
  flags_string_free(out);
  flags_string_free(error);
}

/* Reads one line from `fd` into `line`, waiting up to `ms`. */
static bool read_line(int fd, char *line, size_t size, int ms) {
  size_t len = 0;
  while (len + 1 < size) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0) break;
    ssize_t n = read(fd, line + len, 1);
    if (n <= 0) break;
    if (line[len] == '\n') {
      line[len] = '\0';
      return true;
    }
    len++;
  }
  line[len] = '\0';
  return false;
}

static void changed_meanwhile(void) {
  char path[384], log[384], request[2048];
  path_of(path, sizeof path, "flags.json");
  path_of(log, sizeof log, "flags.json.audit.jsonl");
  write_file(path, FILE_TEXT);
  size_t records = lines_of(log);
  snprintf(request, sizeof request,
           "{\"path\": \"%s\", \"ops\": [{\"op\": \"kill\", \"flag\": \"search\"}]}", path);
  int fds[2];
  if (pipe(fds) != 0) exit(2);
  fflush(NULL);
  pid_t child = fork();
  if (child == 0) {
    /* The child's edit says on stderr that it has read the file, then
     * waits 5 s before writing. */
    close(fds[0]);
    dup2(fds[1], 2);
    setenv("FLAGS_TEST_PAUSE_BEFORE_WRITE_MS", "5000", 1);
    char *out = NULL, *error = NULL;
    int32_t rc = edit(request, &out, &error);
    bool said = error && strstr(error, " changed since it was read (another edit?); nothing was written, "
                                       "run the command again");
    flags_string_free(out);
    flags_string_free(error);
    _exit(rc == FLAGS_ERROR_CONFLICT && said ? 0 : 1);
  }
  close(fds[1]);
  char line[256];
  bool paused = read_line(fds[0], line, sizeof line, 60000);
  CHECK(paused && strcmp(line, "FLAGS_TEST_PAUSE_BEFORE_WRITE_MS: pausing 5000 ms before writing") == 0,
        "the child's edit paused after reading (a debug library): \"%s\"", line);
  /* Someone else edits the file meanwhile. */
  const char *theirs = "{\"version\": 1, \"flags\": {\"search\": {\"percentage\": 50}}}\n";
  write_file(path, theirs);
  int status = 0;
  waitpid(child, &status, 0);
  close(fds[0]);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's edit was a conflict (status %d)", status);
  CHECK(file_is(path, theirs), "their edit survives");
  CHECK(lines_of(log) == records, "no audit record");
}

static void replace_creates(void) {
  char path[384], request[2048];
  path_of(path, sizeof path, "new.json");
  snprintf(request, sizeof request,
           "{\"path\": \"%s\", \"actor\": \"c-test\", \"ops\": [{\"op\": \"kill\", \"flag\": \"a\"}]}", path);
  char needle[1024];
  snprintf(needle, sizeof needle, "%s: cannot read: No such file or directory", path);
  char *out = NULL, *error = NULL;
  CHECK(edit(request, &out, &error) == FLAGS_ERROR_IO && error && strstr(error, needle),
        "only replace creates a file: %s", error ? error : "");
  flags_string_free(error);
  error = NULL;
  snprintf(request, sizeof request,
           "{\"path\": \"%s\", \"actor\": \"c-test\", \"ops\": [{\"op\": \"replace\", \"text\": "
           "\"{\\\"version\\\": 1, \\\"flags\\\": {\\\"a\\\": {}}}\\n\"}]}",
           path);
  int32_t rc = edit(request, &out, &error);
  CHECK(rc == FLAGS_OK, "replace: rc %d (%s)", rc, error ? error : "");
  CHECK(file_is(path, "{\"version\": 1, \"flags\": {\"a\": {}}}\n"), "the new file");
  /* SipHash-2-4-128, keys 0, of no bytes. */
  CHECK(has_field(out, "before", "f4f2ced447ab02427de0a38047d74950"), "before: %s", out);
  CHECK(out && strstr(out, "\"changes\":[\"new flag a: percentage 0%\"]"), "changes: %s", out);
  flags_string_free(out);
  flags_string_free(error);
  struct stat st;
  mode_t mask = umask(0);
  umask(mask);
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == (0666 & ~mask), "the umask's permissions");
}

static void status(void) {
  char path[384];
  path_of(path, sizeof path, "flags.json");
  char *out = NULL, *error = NULL;
  /* 2026-11-21T12:00:00Z */
  int32_t rc = flags_file_status_json(path, strlen(path), INT64_C(1795262400000), &out, &error);
  CHECK(rc == FLAGS_OK, "status: rc %d (%s)", rc, error ? error : "");
  char *text = read_file(path);
  char hash[33], needle[100];
  version_of(text, hash);
  free(text);
  snprintf(needle, sizeof needle, "\"content_hash\": \"%s\",\n", hash);
  CHECK(out && strstr(out, needle), "status: %s", out);
  CHECK(out && strstr(out, "\"now\": \"2026-11-21T12:00:00.000Z\",\n"), "status: now");
  CHECK(out && strstr(out, "\"key\": \"search\",\n      \"state\": \"partial\",\n      \"percentage_now\": 50,"),
        "status: %s", out);
  flags_string_free(out);
  flags_string_free(error);
  rc = flags_file_status_json(path, strlen(path), INT64_MIN, &out, NULL);
  CHECK(rc == FLAGS_OK && out && strstr(out, "\"now\": \"20"), "status at the clock");
  flags_string_free(out);
  char missing[384];
  path_of(missing, sizeof missing, "missing.json");
  rc = flags_file_status_json(missing, strlen(missing), 0, &out, &error);
  CHECK(rc == FLAGS_ERROR_IO && out == NULL && error && strstr(error, "missing.json: cannot read: "),
        "status of a missing file: %d", rc);
  flags_string_free(error);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: edit SCRATCH_DIR\n");
    return 2;
  }
  snprintf(dir, sizeof dir, "%s/edit", argv[1]);
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "cannot create %s: %s\n", dir, strerror(errno));
    return 2;
  }
  several_operations();
  nothing_written();
  refusals();
  lock_held();
  changed_meanwhile();
  replace_creates();
  status();
  printf("edit.c: %ld passed, %ld failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
