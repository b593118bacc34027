/// Raw `dart:ffi` bindings to the flags C ABI (`flags-ffi/include/flags.h`).
///
/// One `@Native` external function per C function, each naming its C symbol
/// and its C signature in Dart's native types. The functions resolve against
/// the code asset with the id of this library,
/// `package:flags/src/bindings.dart`, which `hook/build.dart` builds from the
/// `flags-ffi` crate and reports. No library path is searched or opened by
/// hand.
///
/// The Rust test `flags-ffi/tests/dart_bindings.rs` parses this file and
/// checks every binding and both structs against the committed header:
/// symbol present, same number of parameters, same types. Change the header
/// and this file together.
///
/// Mapping of C types (fixed; the checker uses the same table):
///
/// | C                                   | Dart native type          |
/// |-------------------------------------|---------------------------|
/// | `bool`                              | `Bool`                    |
/// | `int32_t` / `uint32_t`              | `Int32` / `Uint32`        |
/// | `int64_t` / `uint64_t`              | `Int64` / `Uint64`        |
/// | `size_t`                            | `Size`                    |
/// | `const char *` (UTF-8 + length in)  | `Pointer<Uint8>`          |
/// | `const char *` / `char *` (text)    | `Pointer<Char>`           |
/// | `char **` (owned string out)        | `Pointer<Pointer<Char>>`  |
/// | `flags_source *`                    | `Pointer<FlagsSource>`    |
/// | `flags_source **`                   | `Pointer<Pointer<FlagsSource>>` |
/// | `flags_client *` / `flags_client **` | `Pointer<FlagsClient>` / `Pointer<Pointer<FlagsClient>>` |
///
/// Ownership (from the header): strings passed in are only read during the
/// call. Every `char *` the library hands out through a `char **` parameter
/// or in [FlagsEvaluation.variant] is owned by the caller and released with
/// [flagsStringFree] (or [flagsEvaluationClear] for the evaluation). The
/// `const char *` results of [flagsLibraryVersion], [flagsResultMessage] and
/// [flagsReasonName] are static and never freed. Every `*_free` function
/// accepts NULL and may run on any thread, which is what a [NativeFinalizer]
/// needs.
///
/// `isLeaf: true` marks calls that never call back into Dart and return
/// quickly (evaluation, frees, accessors); they skip the VM's safepoint
/// transition. Opening a source (file or network I/O) is not a leaf call.
library;

import 'dart:ffi';

/// Opaque `flags_source`: a source of flag snapshots.
final class FlagsSource extends Opaque {}

/// Opaque `flags_context`: attributes, built once, used many times.
final class FlagsContext extends Opaque {}

/// Opaque `flags_client`: a flag server's answers for one context.
final class FlagsClient extends Opaque {}

/// `flags_evaluation`: the detail of one evaluation.
final class FlagsEvaluation extends Struct {
  /// `bool enabled`.
  @Bool()
  external bool enabled;

  /// `int32_t reason`: one of the `FLAGS_REASON_*` numbers.
  @Int32()
  external int reason;

  /// `int32_t bucket`: 0..9999, or -1 when not reported.
  @Int32()
  external int bucket;

  /// `char *variant`: owned, NULL when none; released by
  /// [flagsEvaluationClear].
  external Pointer<Char> variant;
}

/// `flags_remote_options`: how to reach a flag server.
final class FlagsRemoteOptions extends Struct {
  /// `const char *url`: NUL-terminated, required.
  external Pointer<Char> url;

  /// `const char *cache_path`: NUL-terminated, or NULL for no cache file.
  external Pointer<Char> cachePath;

  /// `const char *token`: NUL-terminated bearer token, or NULL.
  external Pointer<Char> token;

  /// `uint32_t refresh_interval_ms`: 0 for the default (30000).
  @Uint32()
  external int refreshIntervalMs;

  /// `uint32_t timeout_ms`: 0 for the default (5000); per request.
  @Uint32()
  external int timeoutMs;

  /// `bool stream`: also follow `GET /v1/stream`.
  @Bool()
  external bool stream;
}

/// Result codes (`FLAGS_OK`, `FLAGS_ERROR_*`); stable, never renumbered.
abstract final class FlagsResultCode {
  /// `FLAGS_OK`.
  static const int ok = 0;

  /// `FLAGS_ERROR_NULL_ARGUMENT`.
  static const int nullArgument = 1;

  /// `FLAGS_ERROR_INVALID_UTF8`.
  static const int invalidUtf8 = 2;

  /// `FLAGS_ERROR_INVALID_FLAGS`.
  static const int invalidFlags = 3;

  /// `FLAGS_ERROR_IO`.
  static const int io = 4;

  /// `FLAGS_ERROR_INVALID_CONTEXT`.
  static const int invalidContext = 5;

  /// `FLAGS_ERROR_REMOTE`.
  static const int remote = 6;

  /// `FLAGS_ERROR_INVALID_ARGUMENT`.
  static const int invalidArgument = 7;

  /// `FLAGS_ERROR_PANIC`.
  static const int panic = 8;

  /// `FLAGS_ERROR_CONFLICT`.
  static const int conflict = 9;
}

/// Reasons (`FLAGS_REASON_*`); stable numbers, in evaluation order.
abstract final class FlagsReasonCode {
  /// `FLAGS_REASON_KILL_ALL`.
  static const int killAll = 0;

  /// `FLAGS_REASON_FLAG_NOT_FOUND`.
  static const int flagNotFound = 1;

  /// `FLAGS_REASON_KILLED`.
  static const int killed = 2;

  /// `FLAGS_REASON_REQUIREMENT_UNMET`.
  static const int requirementUnmet = 3;

  /// `FLAGS_REASON_DENIED`.
  static const int denied = 4;

  /// `FLAGS_REASON_PILOT`.
  static const int pilot = 5;

  /// `FLAGS_REASON_ROLLOUT_IN`.
  static const int rolloutIn = 6;

  /// `FLAGS_REASON_ROLLOUT_OUT`.
  static const int rolloutOut = 7;

  /// `FLAGS_REASON_MISSING_BUCKET_KEY`.
  static const int missingBucketKey = 8;
}

// Library and codes

/// `const char *flags_library_version(void)`: static string.
@Native<Pointer<Char> Function()>(
  symbol: 'flags_library_version',
  isLeaf: true,
)
external Pointer<Char> flagsLibraryVersion();

/// `const char *flags_result_message(int32_t code)`: static string.
@Native<Pointer<Char> Function(Int32)>(
  symbol: 'flags_result_message',
  isLeaf: true,
)
external Pointer<Char> flagsResultMessage(int code);

/// `const char *flags_reason_name(int32_t reason)`: static string.
@Native<Pointer<Char> Function(Int32)>(
  symbol: 'flags_reason_name',
  isLeaf: true,
)
external Pointer<Char> flagsReasonName(int reason);

/// `void flags_string_free(char *s)`: accepts NULL.
@Native<Void Function(Pointer<Char>)>(
  symbol: 'flags_string_free',
  isLeaf: true,
)
external void flagsStringFree(Pointer<Char> s);

// Sources

/// `int32_t flags_source_open_file(const char *path, size_t path_len,
/// uint32_t check_interval_ms, flags_source **out, char **error_out)`.
@Native<
  Int32 Function(
    Pointer<Uint8>,
    Size,
    Uint32,
    Pointer<Pointer<FlagsSource>>,
    Pointer<Pointer<Char>>,
  )
>(symbol: 'flags_source_open_file')
external int flagsSourceOpenFile(
  Pointer<Uint8> path,
  int pathLen,
  int checkIntervalMs,
  Pointer<Pointer<FlagsSource>> out,
  Pointer<Pointer<Char>> errorOut,
);

/// `int32_t flags_source_open_file_shared(const char *path, size_t path_len,
/// uint32_t check_interval_ms, flags_source **out, char **error_out)`.
@Native<
  Int32 Function(
    Pointer<Uint8>,
    Size,
    Uint32,
    Pointer<Pointer<FlagsSource>>,
    Pointer<Pointer<Char>>,
  )
>(symbol: 'flags_source_open_file_shared')
external int flagsSourceOpenFileShared(
  Pointer<Uint8> path,
  int pathLen,
  int checkIntervalMs,
  Pointer<Pointer<FlagsSource>> out,
  Pointer<Pointer<Char>> errorOut,
);

/// `const flags_source *flags_source_shared(const char *path, size_t
/// path_len, uint32_t check_interval_ms)`: the process-lifetime file source,
/// or NULL. Not used by this package: an app keeps its `Flags` open, while
/// this serves hosts that open the flags on every request (PHP under
/// php-fpm). The library owns the pointer: never free it or attach a
/// finalizer to it.
@Native<Pointer<FlagsSource> Function(Pointer<Uint8>, Size, Uint32)>(
  symbol: 'flags_source_shared',
)
external Pointer<FlagsSource> flagsSourceShared(
  Pointer<Uint8> path,
  int pathLen,
  int checkIntervalMs,
);

/// `int32_t flags_source_open_json(const char *json, size_t json_len,
/// flags_source **out, char **error_out)`.
@Native<
  Int32 Function(
    Pointer<Uint8>,
    Size,
    Pointer<Pointer<FlagsSource>>,
    Pointer<Pointer<Char>>,
  )
>(symbol: 'flags_source_open_json')
external int flagsSourceOpenJson(
  Pointer<Uint8> json,
  int jsonLen,
  Pointer<Pointer<FlagsSource>> out,
  Pointer<Pointer<Char>> errorOut,
);

/// `int32_t flags_source_open_remote(const flags_remote_options *options,
/// flags_source **out, char **error_out)`.
@Native<
  Int32 Function(
    Pointer<FlagsRemoteOptions>,
    Pointer<Pointer<FlagsSource>>,
    Pointer<Pointer<Char>>,
  )
>(symbol: 'flags_source_open_remote')
external int flagsSourceOpenRemote(
  Pointer<FlagsRemoteOptions> options,
  Pointer<Pointer<FlagsSource>> out,
  Pointer<Pointer<Char>> errorOut,
);

/// `void flags_source_free(flags_source *source)`: accepts NULL, any thread.
@Native<Void Function(Pointer<FlagsSource>)>(
  symbol: 'flags_source_free',
  isLeaf: true,
)
external void flagsSourceFree(Pointer<FlagsSource> source);

/// `int32_t flags_source_version(const flags_source *source, char **out)`.
@Native<Int32 Function(Pointer<FlagsSource>, Pointer<Pointer<Char>>)>(
  symbol: 'flags_source_version',
  isLeaf: true,
)
external int flagsSourceVersion(
  Pointer<FlagsSource> source,
  Pointer<Pointer<Char>> out,
);

/// `uint64_t flags_source_generation(const flags_source *source)`.
@Native<Uint64 Function(Pointer<FlagsSource>)>(
  symbol: 'flags_source_generation',
  isLeaf: true,
)
external int flagsSourceGeneration(Pointer<FlagsSource> source);

/// `int32_t flags_source_status_json(const flags_source *source, char **out)`.
@Native<Int32 Function(Pointer<FlagsSource>, Pointer<Pointer<Char>>)>(
  symbol: 'flags_source_status_json',
  isLeaf: true,
)
external int flagsSourceStatusJson(
  Pointer<FlagsSource> source,
  Pointer<Pointer<Char>> out,
);

// Contexts

/// `flags_context *flags_context_new(void)`.
@Native<Pointer<FlagsContext> Function()>(
  symbol: 'flags_context_new',
  isLeaf: true,
)
external Pointer<FlagsContext> flagsContextNew();

/// `int32_t flags_context_set(flags_context *ctx, const char *attribute,
/// size_t attribute_len, const char *value, size_t value_len)`.
@Native<
  Int32 Function(
    Pointer<FlagsContext>,
    Pointer<Uint8>,
    Size,
    Pointer<Uint8>,
    Size,
  )
>(symbol: 'flags_context_set', isLeaf: true)
external int flagsContextSet(
  Pointer<FlagsContext> ctx,
  Pointer<Uint8> attribute,
  int attributeLen,
  Pointer<Uint8> value,
  int valueLen,
);

/// `int32_t flags_context_remove(flags_context *ctx, const char *attribute,
/// size_t attribute_len)`.
@Native<Int32 Function(Pointer<FlagsContext>, Pointer<Uint8>, Size)>(
  symbol: 'flags_context_remove',
  isLeaf: true,
)
external int flagsContextRemove(
  Pointer<FlagsContext> ctx,
  Pointer<Uint8> attribute,
  int attributeLen,
);

/// `int32_t flags_context_from_json(const char *json, size_t json_len,
/// flags_context **out, char **error_out)`.
@Native<
  Int32 Function(
    Pointer<Uint8>,
    Size,
    Pointer<Pointer<FlagsContext>>,
    Pointer<Pointer<Char>>,
  )
>(symbol: 'flags_context_from_json', isLeaf: true)
external int flagsContextFromJson(
  Pointer<Uint8> json,
  int jsonLen,
  Pointer<Pointer<FlagsContext>> out,
  Pointer<Pointer<Char>> errorOut,
);

/// `flags_context *flags_context_parse(const char *json, size_t json_len)`:
/// the new context, or NULL (`flags_context_from_json` then says why). Not
/// used by this package, which builds contexts attribute by attribute; the
/// caller owns a context it returns (`flags_context_free`).
@Native<Pointer<FlagsContext> Function(Pointer<Uint8>, Size)>(
  symbol: 'flags_context_parse',
  isLeaf: true,
)
external Pointer<FlagsContext> flagsContextParse(
  Pointer<Uint8> json,
  int jsonLen,
);

/// `void flags_context_free(flags_context *ctx)`: accepts NULL, any thread.
@Native<Void Function(Pointer<FlagsContext>)>(
  symbol: 'flags_context_free',
  isLeaf: true,
)
external void flagsContextFree(Pointer<FlagsContext> ctx);

// Evaluation

/// `bool flags_is_enabled(const flags_source *source, const char *flag,
/// size_t flag_len, const flags_context *ctx)`: false on any error.
@Native<
  Bool Function(
    Pointer<FlagsSource>,
    Pointer<Uint8>,
    Size,
    Pointer<FlagsContext>,
  )
>(symbol: 'flags_is_enabled', isLeaf: true)
external bool flagsIsEnabled(
  Pointer<FlagsSource> source,
  Pointer<Uint8> flag,
  int flagLen,
  Pointer<FlagsContext> ctx,
);

/// `int32_t flags_evaluate(const flags_source *source, const char *flag,
/// size_t flag_len, const flags_context *ctx, flags_evaluation *out)`.
@Native<
  Int32 Function(
    Pointer<FlagsSource>,
    Pointer<Uint8>,
    Size,
    Pointer<FlagsContext>,
    Pointer<FlagsEvaluation>,
  )
>(symbol: 'flags_evaluate', isLeaf: true)
external int flagsEvaluate(
  Pointer<FlagsSource> source,
  Pointer<Uint8> flag,
  int flagLen,
  Pointer<FlagsContext> ctx,
  Pointer<FlagsEvaluation> out,
);

/// `int32_t flags_evaluate_at(const flags_source *source, const char *flag,
/// size_t flag_len, const flags_context *ctx, int64_t now_unix_ms,
/// flags_evaluation *out)`.
@Native<
  Int32 Function(
    Pointer<FlagsSource>,
    Pointer<Uint8>,
    Size,
    Pointer<FlagsContext>,
    Int64,
    Pointer<FlagsEvaluation>,
  )
>(symbol: 'flags_evaluate_at', isLeaf: true)
external int flagsEvaluateAt(
  Pointer<FlagsSource> source,
  Pointer<Uint8> flag,
  int flagLen,
  Pointer<FlagsContext> ctx,
  int nowUnixMs,
  Pointer<FlagsEvaluation> out,
);

/// `void flags_evaluation_clear(flags_evaluation *evaluation)`: frees the
/// variant and sets it NULL; NULL is accepted.
@Native<Void Function(Pointer<FlagsEvaluation>)>(
  symbol: 'flags_evaluation_clear',
  isLeaf: true,
)
external void flagsEvaluationClear(Pointer<FlagsEvaluation> evaluation);

/// `int32_t flags_evaluate_all_json(const flags_source *source,
/// const flags_context *ctx, char **out)`.
@Native<
  Int32 Function(
    Pointer<FlagsSource>,
    Pointer<FlagsContext>,
    Pointer<Pointer<Char>>,
  )
>(symbol: 'flags_evaluate_all_json', isLeaf: true)
external int flagsEvaluateAllJson(
  Pointer<FlagsSource> source,
  Pointer<FlagsContext> ctx,
  Pointer<Pointer<Char>> out,
);

/// `int32_t flags_evaluate_all_json_at(const flags_source *source,
/// const flags_context *ctx, int64_t now_unix_ms, char **out)`.
@Native<
  Int32 Function(
    Pointer<FlagsSource>,
    Pointer<FlagsContext>,
    Int64,
    Pointer<Pointer<Char>>,
  )
>(symbol: 'flags_evaluate_all_json_at', isLeaf: true)
external int flagsEvaluateAllJsonAt(
  Pointer<FlagsSource> source,
  Pointer<FlagsContext> ctx,
  int nowUnixMs,
  Pointer<Pointer<Char>> out,
);

// Flag files: edits and status

/// `int32_t flags_file_edit(const char *request_json, size_t request_len,
/// char **out, char **error_out)`: the `flags` commands' edit path. Not a
/// leaf call: it reads and writes files and may wait for another edit's
/// lock (at most the request's `lock_wait_ms`).
@Native<
  Int32 Function(
    Pointer<Uint8>,
    Size,
    Pointer<Pointer<Char>>,
    Pointer<Pointer<Char>>,
  )
>(symbol: 'flags_file_edit')
external int flagsFileEdit(
  Pointer<Uint8> requestJson,
  int requestLen,
  Pointer<Pointer<Char>> out,
  Pointer<Pointer<Char>> errorOut,
);

/// `int32_t flags_file_status_json(const char *path, size_t path_len,
/// int64_t now_unix_ms, char **out, char **error_out)`: the document of
/// `flags status FILE --json`; `now_unix_ms` INT64_MIN is the system clock.
@Native<
  Int32 Function(
    Pointer<Uint8>,
    Size,
    Int64,
    Pointer<Pointer<Char>>,
    Pointer<Pointer<Char>>,
  )
>(symbol: 'flags_file_status_json')
external int flagsFileStatusJson(
  Pointer<Uint8> path,
  int pathLen,
  int nowUnixMs,
  Pointer<Pointer<Char>> out,
  Pointer<Pointer<Char>> errorOut,
);

/// `int32_t flags_file_monitor_json(const char *path, size_t path_len,
/// const char *prometheus_url, size_t url_len, uint32_t timeout_ms,
/// char **out, char **error_out)`: the document of `flags status FILE
/// --prometheus URL --json`, within about `timeout_ms` (1 to 60000).
@Native<
  Int32 Function(
    Pointer<Uint8>,
    Size,
    Pointer<Uint8>,
    Size,
    Uint32,
    Pointer<Pointer<Char>>,
    Pointer<Pointer<Char>>,
  )
>(symbol: 'flags_file_monitor_json')
external int flagsFileMonitorJson(
  Pointer<Uint8> path,
  int pathLen,
  Pointer<Uint8> prometheusUrl,
  int urlLen,
  int timeoutMs,
  Pointer<Pointer<Char>> out,
  Pointer<Pointer<Char>> errorOut,
);

// Client mode: a flag server's answers for one context

/// `int32_t flags_client_open(const flags_remote_options *options,
/// const flags_context *ctx, flags_client **out, char **error_out)`: blocks
/// for the first answer (at most the timeout); the context is copied.
@Native<
  Int32 Function(
    Pointer<FlagsRemoteOptions>,
    Pointer<FlagsContext>,
    Pointer<Pointer<FlagsClient>>,
    Pointer<Pointer<Char>>,
  )
>(symbol: 'flags_client_open')
external int flagsClientOpen(
  Pointer<FlagsRemoteOptions> options,
  Pointer<FlagsContext> ctx,
  Pointer<Pointer<FlagsClient>> out,
  Pointer<Pointer<Char>> errorOut,
);

/// `void flags_client_free(flags_client *client)`: accepts NULL, any thread.
@Native<Void Function(Pointer<FlagsClient>)>(
  symbol: 'flags_client_free',
  isLeaf: true,
)
external void flagsClientFree(Pointer<FlagsClient> client);

/// `bool flags_client_is_enabled(const flags_client *client,
/// const char *flag, size_t flag_len)`: false on any error.
@Native<Bool Function(Pointer<FlagsClient>, Pointer<Uint8>, Size)>(
  symbol: 'flags_client_is_enabled',
  isLeaf: true,
)
external bool flagsClientIsEnabled(
  Pointer<FlagsClient> client,
  Pointer<Uint8> flag,
  int flagLen,
);

/// `int32_t flags_client_evaluate(const flags_client *client,
/// const char *flag, size_t flag_len, flags_evaluation *out)`: `reason` is
/// -1 when the server gave no flags reason.
@Native<
  Int32 Function(
    Pointer<FlagsClient>,
    Pointer<Uint8>,
    Size,
    Pointer<FlagsEvaluation>,
  )
>(symbol: 'flags_client_evaluate', isLeaf: true)
external int flagsClientEvaluate(
  Pointer<FlagsClient> client,
  Pointer<Uint8> flag,
  int flagLen,
  Pointer<FlagsEvaluation> out,
);

/// `int32_t flags_client_variant(const flags_client *client,
/// const char *flag, size_t flag_len, char **out)`: `*out` NULL when none.
@Native<
  Int32 Function(
    Pointer<FlagsClient>,
    Pointer<Uint8>,
    Size,
    Pointer<Pointer<Char>>,
  )
>(symbol: 'flags_client_variant', isLeaf: true)
external int flagsClientVariant(
  Pointer<FlagsClient> client,
  Pointer<Uint8> flag,
  int flagLen,
  Pointer<Pointer<Char>> out,
);

/// `int32_t flags_client_set_context(const flags_client *client,
/// const flags_context *ctx, char **error_out)`: blocks for the answer.
@Native<
  Int32 Function(
    Pointer<FlagsClient>,
    Pointer<FlagsContext>,
    Pointer<Pointer<Char>>,
  )
>(symbol: 'flags_client_set_context')
external int flagsClientSetContext(
  Pointer<FlagsClient> client,
  Pointer<FlagsContext> ctx,
  Pointer<Pointer<Char>> errorOut,
);

/// `int32_t flags_client_refresh(const flags_client *client,
/// bool *changed_out, char **error_out)`: blocks for the answer.
@Native<
  Int32 Function(
    Pointer<FlagsClient>,
    Pointer<Bool>,
    Pointer<Pointer<Char>>,
  )
>(symbol: 'flags_client_refresh')
external int flagsClientRefresh(
  Pointer<FlagsClient> client,
  Pointer<Bool> changedOut,
  Pointer<Pointer<Char>> errorOut,
);

/// `int32_t flags_client_status_json(const flags_client *client,
/// char **out)`.
@Native<Int32 Function(Pointer<FlagsClient>, Pointer<Pointer<Char>>)>(
  symbol: 'flags_client_status_json',
  isLeaf: true,
)
external int flagsClientStatusJson(
  Pointer<FlagsClient> client,
  Pointer<Pointer<Char>> out,
);

/// `int32_t flags_client_version(const flags_client *client, char **out)`.
@Native<Int32 Function(Pointer<FlagsClient>, Pointer<Pointer<Char>>)>(
  symbol: 'flags_client_version',
  isLeaf: true,
)
external int flagsClientVersion(
  Pointer<FlagsClient> client,
  Pointer<Pointer<Char>> out,
);

/// `uint64_t flags_client_generation(const flags_client *client)`.
@Native<Uint64 Function(Pointer<FlagsClient>)>(
  symbol: 'flags_client_generation',
  isLeaf: true,
)
external int flagsClientGeneration(Pointer<FlagsClient> client);
