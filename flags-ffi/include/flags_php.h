/*
 * flags_php.h: the declarations of flags.h without preprocessor lines,
 * for PHP's FFI::cdef() and ffi.preload. Generated from flags.h by
 * flags-ffi/tests/header.rs; do not edit. For ffi.preload, an install step
 * writes a copy starting with FFI_SCOPE and FFI_LIB (an absolute path)
 * defines.
 *
 * PHP converts a returned `const char *` to a PHP string by itself: the
 * functions that return one hand out static strings, which is what
 * PHP wants. Owned strings come back through `char **` out-parameters:
 * copy them with FFI::string() and release them with flags_string_free().
 */

/**
 * Result codes. Stable: never renumbered, never reused. Functions return
 * them as `int32_t`; `flags_result_message` turns one into text.
 */
enum flags_result
 {
  /**
   * Success.
   */
  FLAGS_OK = 0,
  /**
   * A required pointer was NULL.
   */
  FLAGS_ERROR_NULL_ARGUMENT = 1,
  /**
   * A string argument is not valid UTF-8.
   */
  FLAGS_ERROR_INVALID_UTF8 = 2,
  /**
   * The flag file or JSON failed validation (details in error_out).
   */
  FLAGS_ERROR_INVALID_FLAGS = 3,
  /**
   * A file could not be read.
   */
  FLAGS_ERROR_IO = 4,
  /**
   * The context JSON is invalid (details in error_out).
   */
  FLAGS_ERROR_INVALID_CONTEXT = 5,
  /**
   * The flag server could not be used (unreachable, refused the token, or a bad answer) and no cache could be used.
   */
  FLAGS_ERROR_REMOTE = 6,
  /**
   * An argument is out of range: an empty attribute name, a bad URL, a
   * bad edit request (its message names the field), an unknown flag.
   */
  FLAGS_ERROR_INVALID_ARGUMENT = 7,
  /**
   * An internal bug, caught at the boundary.
   */
  FLAGS_ERROR_PANIC = 8,
  /**
   * An edit found the file changed since it read it, or waited too long
   * for another edit's lock: nothing was written; run it again.
   */
  FLAGS_ERROR_CONFLICT = 9,
};
typedef int32_t flags_result;

/**
 * Why a flag evaluated the way it did: stable numbers, in evaluation
 * order. `flags_reason_name` gives the name used in JSON and every binding.
 */
enum flags_reason
 {
  /**
   * The global kill switch (`kill_all`) is on.
   */
  FLAGS_REASON_KILL_ALL = 0,
  /**
   * The file has no flag with that key.
   */
  FLAGS_REASON_FLAG_NOT_FOUND = 1,
  /**
   * The flag's own kill switch (`killed`) is on.
   */
  FLAGS_REASON_KILLED = 2,
  /**
   * A `requires` condition failed (absent attributes fail).
   */
  FLAGS_REASON_REQUIREMENT_UNMET = 3,
  /**
   * The context matched the flag's `deny` lists.
   */
  FLAGS_REASON_DENIED = 4,
  /**
   * The context matched the flag's or the file's `pilots`.
   */
  FLAGS_REASON_PILOT = 5,
  /**
   * The unit's bucket is inside the rollout percentage.
   */
  FLAGS_REASON_ROLLOUT_IN = 6,
  /**
   * The unit's bucket is outside the rollout percentage (or it is 0%).
   */
  FLAGS_REASON_ROLLOUT_OUT = 7,
  /**
   * The rollout is partial and the context lacks the `bucket_by` attribute.
   */
  FLAGS_REASON_MISSING_BUCKET_KEY = 8,
};
typedef int32_t flags_reason;

/**
 * A flag server's answers for one context (opaque), refreshed by one
 * background thread. Thread-safe. Release with `flags_client_free`.
 */
typedef struct flags_client flags_client;

/**
 * The attributes of whoever flags are evaluated for (opaque): built once,
 * used for many evaluations. May be shared by threads that evaluate with
 * it, but not changed while another thread uses it. Release with
 * `flags_context_free`.
 */
typedef struct flags_context flags_context;

/**
 * A source of flag snapshots (opaque). Thread-safe: any number of threads
 * may evaluate with one source at once. Release with `flags_source_free`
 * (a no-op for the process-lifetime handles of `flags_source_shared`).
 */
typedef struct flags_source flags_source;

/**
 * How to reach a flag server, for `flags_source_open_remote`. Its strings
 * are NUL-terminated and only read during the call.
 */
typedef struct flags_remote_options {
  /**
   * Required: the server's base URL, e.g. `https://flags.example/`.
   */
  const char *url;
  /**
   * The cache file for the last good flags, or NULL for none.
   */
  const char *cache_path;
  /**
   * A bearer token sent with every request, or NULL.
   */
  const char *token;
  /**
   * How often to ask the server for changes; 0: the default, 30000.
   */
  uint32_t refresh_interval_ms;
  /**
   * Timeout of each request; 0: the default, 5000.
   */
  uint32_t timeout_ms;
  /**
   * Also follow GET /v1/stream for immediate updates.
   */
  bool stream;
} flags_remote_options;

/**
 * The detail of one evaluation, filled by `flags_evaluate` and
 * `flags_evaluate_at`.
 */
typedef struct flags_evaluation {
  /**
   * Whether the feature is on.
   */
  bool enabled;
  /**
   * Why: a `FLAGS_REASON_*` number.
   */
  int32_t reason;
  /**
   * The rollout bucket, 0..9999, or -1 when not reported (the rollout
   * did not decide, or the `bucket_by` attribute is absent).
   */
  int32_t bucket;
  /**
   * The variant, NUL-terminated; NULL when none. Owned by this struct:
   * release it with `flags_evaluation_clear`.
   */
  char *variant;
} flags_evaluation;

/**
 * The library's version, e.g. "0.1.0". Static: never freed.
 */
const char *flags_library_version(void);

/**
 * A static description of a `flags_result` code; unknown codes get a
 * generic text. Never NULL, never freed.
 */
const char *flags_result_message(int32_t code);

/**
 * The static name of a `FLAGS_REASON_*` number ("ROLLOUT_IN", ...);
 * "UNKNOWN" for any other number. Never NULL, never freed.
 */
const char *flags_reason_name(int32_t reason);

/**
 * Releases a string the library returned through a `char **`
 * out-parameter. NULL is ignored. Any thread.
 */
void flags_string_free(char *s);

/**
 * Opens the flag file at `path` (UTF-8, `path_len` bytes). Hot-reloading
 * and fork-safe: no background thread; on access, at most once per
 * `check_interval_ms` (0: the default, 1000), the file's metadata is
 * checked and a changed, valid file swapped in. A bad file keeps the last
 * good flags. Errors: FLAGS_ERROR_IO (unreadable), FLAGS_ERROR_INVALID_FLAGS.
 */
int32_t flags_source_open_file(const char *path,
                               size_t path_len,
                               uint32_t check_interval_ms,
                               struct flags_source **out,
                               char **error_out);

/**
 * Like `flags_source_open_file`, but the process keeps one source per
 * (path, interval), the one `flags_source_shared` returns, and every call
 * returns a new handle to it: after the first call, opening costs a
 * lookup, not a read and a parse. Each handle is released with
 * `flags_source_free`; the shared source lives until the process exits.
 * A failed open is not remembered: the next call tries the file again.
 */
int32_t flags_source_open_file_shared(const char *path,
                                      size_t path_len,
                                      uint32_t check_interval_ms,
                                      struct flags_source **out,
                                      char **error_out);

/**
 * The process-lifetime file source for (`path`, `check_interval_ms`), as
 * `flags_source_open_file` opens it, shared by every caller in the
 * process: the first call reads the file, later ones are a lookup that
 * allocates nothing. NULL on any failure (NULL or non-UTF-8 path, a file
 * that cannot be read or is not valid); call
 * `flags_source_open_file_shared` then for the code and the message. The
 * pointer stays valid until the process exits and is the same for every
 * call with the same path and interval: use it with every function that
 * takes a `const flags_source *`, from any thread. It is not the caller's:
 * do not free it (`flags_source_free` ignores it, so a destructor that
 * frees every source does no harm). For hosts that open the flags on
 * every request and cannot keep objects between requests (PHP under
 * php-fpm): no handle to allocate, receive and free per request.
 */
const struct flags_source *flags_source_shared(const char *path,
                                               size_t path_len,
                                               uint32_t check_interval_ms);

/**
 * Opens a flag file held in memory (`json_len` bytes). Errors name the
 * source `<input>`; FLAGS_ERROR_INVALID_FLAGS for any invalid content,
 * including bytes that are not UTF-8.
 */
int32_t flags_source_open_json(const char *json,
                               size_t json_len,
                               struct flags_source **out,
                               char **error_out);

/**
 * Opens a flag server source: fetches GET /v1/flags (with ETag), refreshes
 * on an interval (and on /v1/stream events when `stream`), keeps the last
 * good flags in `cache_path` and starts from that cache when the server
 * cannot be reached (unhealthy, with the reason in the status). Blocks for
 * at most the timeout. Starts one background thread, which does not
 * survive fork(): open it in each worker process, after the fork.
 * Errors: FLAGS_ERROR_INVALID_ARGUMENT (not an http or https URL),
 * FLAGS_ERROR_REMOTE (no usable answer from the server and no usable
 * cache file).
 */
int32_t flags_source_open_remote(const struct flags_remote_options *options,
                                 struct flags_source **out,
                                 char **error_out);

/**
 * Releases a source. NULL and the pointers of `flags_source_shared`
 * (which live until the process exits) are ignored. Any thread.
 */
void flags_source_free(struct flags_source *source);

/**
 * The content hash of the snapshot being served (32 hex digits), owned:
 * release with `flags_string_free`. For a file source, the hash of the
 * file's bytes: the content hash `flags status` prints and the ETag of a
 * server serving that file. For a remote source, the hash of the body
 * GET /v1/flags returned (the server's normalized JSON), which is not the
 * server's ETag.
 */
int32_t flags_source_version(const struct flags_source *source, char **out);

/**
 * How many times a new snapshot was swapped in: a cheap way to notice a
 * change. 0 for NULL and before the first swap.
 */
uint64_t flags_source_generation(const struct flags_source *source);

/**
 * The source's health as an owned JSON object (release with
 * `flags_string_free`): {"version", "healthy", "stale" (true while a remote
 * source serves its cache file because the server could not be used yet),
 * "last_error" (a string or null), "reloads", "failures", "kind" ("file",
 * "json" or "remote")}.
 */
int32_t flags_source_status_json(const struct flags_source *source, char **out);

/**
 * A new, empty context; release with `flags_context_free`. NULL only
 * when an internal bug is caught at the boundary (where other functions
 * return FLAGS_ERROR_PANIC); running out of memory aborts.
 */
struct flags_context *flags_context_new(void);

/**
 * Sets `attribute` to `value` (both UTF-8), replacing an earlier value.
 * The value may be empty; the attribute may not
 * (FLAGS_ERROR_INVALID_ARGUMENT).
 */
int32_t flags_context_set(struct flags_context *ctx,
                          const char *attribute,
                          size_t attribute_len,
                          const char *value,
                          size_t value_len);

/**
 * Removes `attribute` (UTF-8); removing an absent attribute is not an
 * error.
 */
int32_t flags_context_remove(struct flags_context *ctx,
                             const char *attribute,
                             size_t attribute_len);

/**
 * Builds a context from a JSON object of attributes: strings as they are,
 * integers as their decimal text (42 -> "42"), booleans as "true"/"false",
 * null as absent. Anything else is FLAGS_ERROR_INVALID_CONTEXT, with every
 * problem in `error_out`.
 */
int32_t flags_context_from_json(const char *json,
                                size_t json_len,
                                struct flags_context **out,
                                char **error_out);

/**
 * Like `flags_context_from_json`, returning the new context itself: NULL
 * on any failure (NULL or non-UTF-8 `json`, an invalid context); call
 * `flags_context_from_json` then for the code and the message. Release a
 * context it returns with `flags_context_free`. For hosts where making an
 * out-parameter costs more than the call (PHP's FFI parses a C type for
 * it).
 */
struct flags_context *flags_context_parse(const char *json, size_t json_len);

/**
 * Releases a context. NULL is ignored. Any thread.
 */
void flags_context_free(struct flags_context *ctx);

/**
 * Whether `flag` (UTF-8, `flag_len` bytes) is on for `ctx` (NULL: the
 * empty context) now. False on any error. Allocates nothing.
 */
bool flags_is_enabled(const struct flags_source *source,
                      const char *flag,
                      size_t flag_len,
                      const struct flags_context *ctx);

/**
 * Evaluates `flag` for `ctx` (NULL: the empty context) now, writing the
 * detail to `*out`. An unknown flag is FLAGS_OK with reason
 * FLAGS_REASON_FLAG_NOT_FOUND. Release `out->variant` with
 * `flags_evaluation_clear`.
 */
int32_t flags_evaluate(const struct flags_source *source,
                       const char *flag,
                       size_t flag_len,
                       const struct flags_context *ctx,
                       struct flags_evaluation *out);

/**
 * `flags_evaluate` at `now_unix_ms` (milliseconds since the Unix epoch)
 * instead of the system clock.
 */
int32_t flags_evaluate_at(const struct flags_source *source,
                          const char *flag,
                          size_t flag_len,
                          const struct flags_context *ctx,
                          int64_t now_unix_ms,
                          struct flags_evaluation *out);

/**
 * Frees `evaluation->variant` and sets it to NULL; the other fields are
 * left as they are. NULL is ignored; calling it twice is harmless. Any
 * thread.
 */
void flags_evaluation_clear(struct flags_evaluation *evaluation);

/**
 * Every flag evaluated for `ctx` (NULL: the empty context) now, as an
 * owned JSON array in key order (release with `flags_string_free`):
 * [{"flag", "enabled", "variant", "reason", "bucket"}, ...], the objects
 * `flags eval` prints.
 */
int32_t flags_evaluate_all_json(const struct flags_source *source,
                                const struct flags_context *ctx,
                                char **out);

/**
 * `flags_evaluate_all_json` at `now_unix_ms` (milliseconds since the Unix
 * epoch) instead of the system clock.
 */
int32_t flags_evaluate_all_json_at(const struct flags_source *source,
                                   const struct flags_context *ctx,
                                   int64_t now_unix_ms,
                                   char **out);

/**
 * Edits the flag file a JSON request names, through the same edit path
 * as the `flags` commands: the directory lock (waiting at most
 * `lock_wait_ms`), validation before writing, an atomic write refused
 * when the file changed since it was read, and one audit record.
 * `request_json` (`request_len` bytes) is {"path": "...", "ops": [...],
 * "dry_run": false, "audit_log": null, "actor": null, "command": null,
 * "reason": null, "lock_wait_ms": 30000}; every op is an object such as {"op": "kill",
 * "flag": "checkout"} (docs/c-abi.md lists them). On success `*out` is an
 * owned JSON object {"written", "dry_run", "summary", "changes", "before",
 * "after", "audit_log", "notes"}. Errors: FLAGS_ERROR_INVALID_ARGUMENT (a
 * bad request: its message names the field; an unknown flag, an existing
 * key, an empty actor), FLAGS_ERROR_INVALID_FLAGS (the file is invalid, or
 * the edit would make it so: one diagnostic per line after the first),
 * FLAGS_ERROR_IO, FLAGS_ERROR_CONFLICT (the file changed since it was read,
 * or another edit held the lock longer than `lock_wait_ms`: nothing was
 * written, run it again), FLAGS_ERROR_INVALID_UTF8. Nothing is written on
 * any error but one: FLAGS_ERROR_IO with a message saying "written, but
 * the audit log ... could not be appended".
 */
int32_t flags_file_edit(const char *request_json, size_t request_len, char **out, char **error_out);

/**
 * The status of the flag file at `path` (UTF-8, `path_len` bytes) at
 * `now_unix_ms` (milliseconds since the Unix epoch; INT64_MIN: the system
 * clock), as the owned JSON document `flags status FILE --json` prints:
 * {"file", "content_hash", "now", "kill_all", "interrupted_edit",
 * "pilots", "flags": [...]}. Errors: FLAGS_ERROR_IO,
 * FLAGS_ERROR_INVALID_FLAGS, FLAGS_ERROR_INVALID_ARGUMENT (an empty path).
 */
int32_t flags_file_status_json(const char *path,
                               size_t path_len,
                               int64_t now_unix_ms,
                               char **out,
                               char **error_out);

/**
 * The status of the flag file at `path` (UTF-8, `path_len` bytes) now,
 * with each guard's query asked of the Prometheus at `prometheus_url`
 * (UTF-8, `url_len` bytes; http:// or https://, e.g.
 * "http://127.0.0.1:9090"), as the owned JSON document `flags status FILE
 * --prometheus URL --json` prints: the document of
 * `flags_file_status_json` with `guard.now` {"value", "crossed",
 * "no_data", "done", "seen_crossed_for_seconds", "query"} in each guarded
 * flag and a top-level "recommendation" line. The call returns within
 * about `timeout_ms` (1 to 60000) whatever Prometheus does: a query with
 * no answer by then is no data (`no_data` says why), never a value, and
 * so is an unreachable Prometheus. Errors: FLAGS_ERROR_IO (also when no
 * runtime or HTTP client could be started),
 * FLAGS_ERROR_INVALID_FLAGS, FLAGS_ERROR_INVALID_ARGUMENT (an empty path,
 * a URL that is not http:// or https://, `timeout_ms` out of range).
 */
int32_t flags_file_monitor_json(const char *path,
                                size_t path_len,
                                const char *prometheus_url,
                                size_t url_len,
                                uint32_t timeout_ms,
                                char **out,
                                char **error_out);

/**
 * Opens a client: asks POST {url}/ofrep/v1/evaluate/flags for the answers
 * for `ctx` (NULL: the empty context; copied, so it may be freed after
 * the call), with the ETag, then again every `refresh_interval_ms` and on
 * /v1/stream version events (when `stream`). A token with the `client`
 * scope suffices. The last good answers are kept in `cache_path` with
 * the context they answer; when the server cannot be used, the answers
 * cached for the same context are served (unhealthy, stale, the reason in
 * the status); another context's never are. Blocks for at most the
 * timeout. Starts one background thread, which does not survive fork().
 * Errors: FLAGS_ERROR_INVALID_ARGUMENT (not an http or https URL),
 * FLAGS_ERROR_REMOTE (no usable answer and no cache for this context).
 */
int32_t flags_client_open(const struct flags_remote_options *options,
                          const struct flags_context *ctx,
                          struct flags_client **out,
                          char **error_out);

/**
 * Releases a client and stops its thread (without waiting for a request
 * in flight). NULL is ignored. Any thread.
 */
void flags_client_free(struct flags_client *client);

/**
 * Whether the server answered `true` for `flag` (UTF-8, `flag_len`
 * bytes). False for any other answer, a flag it did not answer, and any
 * error. Lock-free; no request.
 */
bool flags_client_is_enabled(const struct flags_client *client, const char *flag, size_t flag_len);

/**
 * The answer for `flag`, in the shape of `flags_evaluate`: `enabled` (the
 * value is `true`), `reason` (the server's exact reason when it gave one,
 * as `flags serve` does; -1, named "UNKNOWN", when it did not), `bucket`
 * (-1 when not reported), `variant` (release with
 * `flags_evaluation_clear`). A flag the server did not answer is FLAGS_OK
 * with reason FLAGS_REASON_FLAG_NOT_FOUND. No request.
 */
int32_t flags_client_evaluate(const struct flags_client *client,
                              const char *flag,
                              size_t flag_len,
                              struct flags_evaluation *out);

/**
 * The variant the server named for `flag`, owned (release with
 * `flags_string_free`); `*out` is NULL when it named none or did not
 * answer the flag (still FLAGS_OK). No request.
 */
int32_t flags_client_variant(const struct flags_client *client,
                             const char *flag,
                             size_t flag_len,
                             char **out);

/**
 * Asks about `ctx` (NULL: the empty context; copied) from now on and
 * waits for the answer (at most the timeout). Until it arrives the old
 * answers are served; when it cannot be had (FLAGS_ERROR_REMOTE, the
 * reason in `*error_out` and the status), no answers are served (every
 * flag off) until a later refresh gets them: never the old context's.
 */
int32_t flags_client_set_context(const struct flags_client *client,
                                 const struct flags_context *ctx,
                                 char **error_out);

/**
 * Asks the server now and waits for the answer (at most the timeout).
 * `*changed_out` (may be NULL) is set to whether new answers were swapped
 * in. FLAGS_ERROR_REMOTE when the server could not be used: the served
 * answers stay, and the reason is in `*error_out` and the status.
 */
int32_t flags_client_refresh(const struct flags_client *client,
                             bool *changed_out,
                             char **error_out);

/**
 * The client's health as an owned JSON object (release with
 * `flags_string_free`), as `flags_source_status_json` writes it, with
 * "kind": "client": {"version" (the content hash of the answers served;
 * "" when none), "healthy", "stale" (serving the cache because the server
 * could not be used yet), "last_error", "reloads", "failures", "kind"}.
 */
int32_t flags_client_status_json(const struct flags_client *client, char **out);

/**
 * The content hash of the answers served (32 hex digits; "" before any
 * answer for the current context), owned: release with
 * `flags_string_free`. It changes exactly when an answer changes.
 */
int32_t flags_client_version(const struct flags_client *client, char **out);

/**
 * How many times new answers were swapped in: a cheap way to notice a
 * change. 0 for NULL and before the first swap.
 */
uint64_t flags_client_generation(const struct flags_client *client);
