import 'dart:async';
import 'dart:convert';
import 'dart:ffi';

import 'package:ffi/ffi.dart';

import 'bindings.dart' as native;
import 'context.dart';
import 'errors.dart';
import 'evaluation.dart';
import 'strings.dart';

part 'client.dart';

/// A source of flag snapshots: a hot-reloading file, a JSON string, or a
/// flag server with an offline cache. Every evaluation runs the same Rust
/// core as the server, the CLI and the other languages, through the C ABI.
///
/// Opening is synchronous and throws a [FlagsException] on failure.
/// Evaluation is synchronous, cheap and never throws for an unknown flag
/// (it is off, with [Reason.flagNotFound]), so it can run inside a Flutter
/// `build()` method.
///
/// The `context` argument of the evaluation methods is one of:
/// * a `Map<String, Object?>` (converted for this call: values are strings,
///   ints, bools, or null for absent; anything else throws an
///   [ArgumentError]),
/// * a [FlagsContext] (converted once, reused for many calls: faster),
/// * null or omitted (the empty context).
///
/// Release the native source with [close], or let the [NativeFinalizer] do
/// it when the object is garbage collected.
final class Flags implements Finalizable {
  Flags._(Pointer<native.FlagsSource> handle, this._pollInterval)
      : _handle = handle {
    _finalizer.attach(this, handle.cast(), detach: this);
  }

  static final _finalizer = NativeFinalizer(
    Native.addressOf<
      NativeFunction<Void Function(Pointer<native.FlagsSource>)>
    >(native.flagsSourceFree).cast(),
  );

  Pointer<native.FlagsSource> _handle;
  final Duration? _pollInterval;
  StreamController<String>? _changes;
  Timer? _poll;
  int _lastGeneration = 0;

  /// Opens the flag file at [path] and keeps it up to date.
  ///
  /// On access, at most once per [checkInterval], the file's metadata is
  /// checked; a changed, valid file is swapped in and a bad file keeps the
  /// last good flags. No background thread is started, so the handle also
  /// survives a `fork`. [checkInterval] is from 1 ms to 2^32 - 1 ms; a
  /// shorter one, [Duration.zero] included, throws an [ArgumentError] (the C
  /// ABI reads 0 as its default: leave the argument out for that, 1 s).
  ///
  /// Throws a [FlagsException] with [FlagsErrorCode.io] when the file cannot
  /// be read and [FlagsErrorCode.invalidFlags] (every problem, with line and
  /// column) when it is not a valid flag file.
  static Flags openFile(
    String path, {
    Duration checkInterval = const Duration(seconds: 1),
  }) {
    final intervalMs =
        _milliseconds(checkInterval, 'checkInterval', 'the default, 1 s');
    final handle = _open(
      (out, error) => withUtf8(
        path,
        (bytes, length) =>
            native.flagsSourceOpenFile(bytes, length, intervalMs, out, error),
      ),
    );
    return Flags._(handle, checkInterval);
  }

  /// Opens flags from the text of a flag file (tests, bundled assets).
  ///
  /// Throws a [FlagsException] with [FlagsErrorCode.invalidFlags] when
  /// [json] is not a valid flag file.
  static Flags openJson(String json) {
    final handle = _open(
      (out, error) => withUtf8(
        json,
        (bytes, length) =>
            native.flagsSourceOpenJson(bytes, length, out, error),
      ),
    );
    // A JSON source never changes: no polling for [changes].
    return Flags._(handle, null);
  }

  /// Opens flags served by `flags serve` at [url] (the base URL, e.g.
  /// `https://flags.example/`).
  ///
  /// Fetches `GET /v1/flags` (with `ETag`, so an unchanged file costs a 304),
  /// refreshes every [refreshInterval] and, when [stream] is true, as soon as
  /// `GET /v1/stream` announces a new version. A bad response never replaces
  /// good flags. With [cachePath], the last good flags are kept in that file
  /// (written atomically) and used when the server cannot be reached at
  /// start: an app starts offline with its last known flags.
  ///
  /// [token] is sent as a bearer token. [timeout] applies per request.
  /// Both are from 1 ms to 2^32 - 1 ms; a shorter one, [Duration.zero]
  /// included, throws an [ArgumentError] (leave the argument out for the
  /// default, 30 s and 5 s).
  ///
  /// This call blocks the calling isolate for the first fetch (at most about
  /// [timeout]); in a Flutter app, open before `runApp` or show a splash
  /// screen. Throws a [FlagsException] with [FlagsErrorCode.remote] when the
  /// server cannot be reached and no cache can be used, and
  /// [FlagsErrorCode.invalidArgument] for a malformed [url].
  static Flags openRemote(
    String url, {
    String? cachePath,
    String? token,
    Duration refreshInterval = const Duration(seconds: 30),
    Duration timeout = const Duration(seconds: 5),
    bool stream = true,
  }) {
    final handle = using((arena) {
      final options = _remoteOptions(
        arena,
        url,
        cachePath: cachePath,
        token: token,
        refreshInterval: refreshInterval,
        timeout: timeout,
        stream: stream,
      );
      return _open(
        (out, error) => native.flagsSourceOpenRemote(options, out, error),
      );
    });
    return Flags._(handle, const Duration(seconds: 1));
  }

  /// Opens the client mode: the answers of `flags serve` at [url] for one
  /// [context], never the flag file. For an app whose token is public: a
  /// token with the `client` scope may evaluate but not read `/v1/flags`,
  /// so [openRemote] cannot run with it. See the README's "Which mode".
  ///
  /// Asks `POST /ofrep/v1/evaluate/flags` with [context] (a
  /// `Map<String, Object?>`, a [FlagsContext] or null; copied), with
  /// `ETag`s, again every [refreshInterval] (ramps and schedules move
  /// answers without a new flag file, so the interval is what moves them)
  /// and, when [stream] is true, as soon as `GET /v1/stream` announces a
  /// new flag file. A bad answer never replaces good answers. With
  /// [cachePath], the last good answers are kept in that file with the
  /// context they answer, and served (stale, [FlagsStatus.healthy] false)
  /// when the server cannot be reached at start, for the same context only.
  /// Options as for [openRemote].
  ///
  /// Blocks the calling isolate for the first answer (at most about
  /// [timeout]). Throws a [FlagsException] with [FlagsErrorCode.remote]
  /// when the server cannot be used and there is no cache for this context,
  /// [FlagsErrorCode.invalidArgument] for a malformed [url].
  static FlagsClient openClient(
    String url, {
    Object? context,
    String? cachePath,
    String? token,
    Duration refreshInterval = const Duration(seconds: 30),
    Duration timeout = const Duration(seconds: 5),
    bool stream = true,
  }) {
    final handle = using((arena) {
      final options = _remoteOptions(
        arena,
        url,
        cachePath: cachePath,
        token: token,
        refreshInterval: refreshInterval,
        timeout: timeout,
        stream: stream,
      );
      return withNativeContext(
        context,
        (ctx) => FlagsClient._open(
          (out, error) => native.flagsClientOpen(options, ctx, out, error),
        ),
      );
    });
    return FlagsClient._(handle);
  }

  /// The native options of [openRemote] and [openClient], allocated in
  /// [arena] (freed with it, after the call).
  static Pointer<native.FlagsRemoteOptions> _remoteOptions(
    Arena arena,
    String url, {
    required String? cachePath,
    required String? token,
    required Duration refreshInterval,
    required Duration timeout,
    required bool stream,
  }) {
    final refreshMs = _milliseconds(
      refreshInterval,
      'refreshInterval',
      'the default, 30 s',
    );
    final timeoutMs = _milliseconds(timeout, 'timeout', 'the default, 5 s');
    final options = arena<native.FlagsRemoteOptions>();
    // NUL-terminated UTF-8 copies, freed by the arena after the call.
    options.ref
      ..url = url.toNativeUtf8(allocator: arena).cast()
      ..cachePath = cachePath == null
          ? nullptr
          : cachePath.toNativeUtf8(allocator: arena).cast()
      ..token =
          token == null ? nullptr : token.toNativeUtf8(allocator: arena).cast()
      ..refreshIntervalMs = refreshMs
      ..timeoutMs = timeoutMs
      ..stream = stream;
    return options;
  }

  /// The version of the native library, e.g. `0.1.0`.
  static String get libraryVersion =>
      staticString(native.flagsLibraryVersion());

  /// Whether [flag] is on for [context]. False for an unknown flag.
  bool isEnabled(String flag, [Object? context]) {
    final source = _checkedHandle;
    return withNativeContext(
      context,
      (ctx) => withUtf8(
        flag,
        (bytes, length) => native.flagsIsEnabled(source, bytes, length, ctx),
      ),
    );
  }

  /// The variant of [flag] for [context], or null when the flag is off or
  /// has no variants.
  String? variant(String flag, [Object? context]) =>
      evaluate(flag, context).variant;

  /// The detail of evaluating [flag] for [context] now: enabled, variant,
  /// reason and bucket.
  Evaluation evaluate(String flag, [Object? context]) =>
      _evaluate(flag, context, null);

  /// Like [evaluate], at the instant [now] instead of the system clock (for
  /// ramps; sub-millisecond digits are floored). Used by the golden-vector
  /// tests; also handy to preview a ramp.
  Evaluation evaluateAt(String flag, Object? context, DateTime now) =>
      _evaluate(flag, context, unixMillisFloor(now));

  /// Every flag of the file evaluated for [context], in key order.
  Map<String, Evaluation> evaluateAll([Object? context]) {
    final source = _checkedHandle;
    final (code, json) = withNativeContext(
      context,
      (ctx) => withStringOut(
        (out) => native.flagsEvaluateAllJson(source, ctx, out),
      ),
    );
    _check(code, json);
    final results = jsonDecode(json!) as List<Object?>;
    return {
      for (final item in results.cast<Map<String, Object?>>())
        item['flag']! as String: Evaluation(
          enabled: item['enabled']! as bool,
          variant: item['variant'] as String?,
          reason: Reason.fromWireName(item['reason']! as String),
          bucket: item['bucket'] as int?,
        ),
    };
  }

  /// The names of the flags that are on for [context], in key order.
  List<String> enabledFlags([Object? context]) => [
        for (final MapEntry(:key, :value) in evaluateAll(context).entries)
          if (value.enabled) key,
      ];

  /// The version (content hash) of the flags currently in use.
  String get version {
    final source = _checkedHandle;
    final (code, version) =
        withStringOut((out) => native.flagsSourceVersion(source, out));
    _check(code, version);
    return version!;
  }

  /// Health of the source: last reload, errors, counters.
  FlagsStatus get status {
    final source = _checkedHandle;
    final (code, json) =
        withStringOut((out) => native.flagsSourceStatusJson(source, out));
    _check(code, json);
    return FlagsStatus._(jsonDecode(json!) as Map<String, Object?>);
  }

  /// The new [version] each time the flags change (file edited, server
  /// updated). A JSON source never changes.
  ///
  /// Polls the source's generation counter with a [Timer] (at the file's
  /// check interval, else once a second), only while the stream has
  /// listeners. The stream closes with [close].
  Stream<String> get changes {
    if (isClosed) throw StateError('this Flags was closed');
    return (_changes ??= StreamController<String>.broadcast(
      onListen: _startPolling,
      onCancel: _stopPolling,
    ))
        .stream;
  }

  /// Whether [close] was called.
  bool get isClosed => _handle == nullptr;

  /// Releases the native source now and closes [changes]. Calling it again
  /// does nothing; evaluating afterwards throws a [StateError].
  void close() {
    final handle = _handle;
    if (handle == nullptr) return;
    _handle = nullptr;
    _stopPolling();
    _changes?.close();
    _finalizer.detach(this);
    native.flagsSourceFree(handle);
  }

  @override
  String toString() {
    if (isClosed) return 'Flags(closed)';
    try {
      return 'Flags(version: $version)';
    } on FlagsException {
      return 'Flags(version unavailable)';
    }
  }

  Pointer<native.FlagsSource> get _checkedHandle {
    final handle = _handle;
    if (handle == nullptr) {
      throw StateError('this Flags was closed');
    }
    return handle;
  }

  Evaluation _evaluate(String flag, Object? context, int? nowUnixMs) {
    final source = _checkedHandle;
    final out = calloc<native.FlagsEvaluation>();
    try {
      final code = withNativeContext(
        context,
        (ctx) => withUtf8(
          flag,
          (bytes, length) => nowUnixMs == null
              ? native.flagsEvaluate(source, bytes, length, ctx, out)
              : native.flagsEvaluateAt(
                  source,
                  bytes,
                  length,
                  ctx,
                  nowUnixMs,
                  out,
                ),
        ),
      );
      _check(code, null);
      final result = out.ref;
      final variant = result.variant;
      return Evaluation(
        enabled: result.enabled,
        variant:
            variant == nullptr ? null : variant.cast<Utf8>().toDartString(),
        reason: Reason.fromCode(result.reason),
        bucket: result.bucket < 0 ? null : result.bucket,
      );
    } finally {
      native.flagsEvaluationClear(out);
      calloc.free(out);
    }
  }

  void _startPolling() {
    final interval = _pollInterval;
    if (_handle == nullptr || interval == null) return;
    _lastGeneration = native.flagsSourceGeneration(_handle);
    _poll ??= Timer.periodic(interval, (_) => _pollOnce());
  }

  void _stopPolling() {
    _poll?.cancel();
    _poll = null;
  }

  void _pollOnce() {
    final source = _handle;
    final changes = _changes;
    if (source == nullptr || changes == null) {
      _stopPolling();
      return;
    }
    // Reading the version is an access: a file source checks its metadata
    // (at most once per interval) on access, even when the app is not
    // evaluating anything at the moment.
    withStringOut((out) => native.flagsSourceVersion(source, out));
    final generation = native.flagsSourceGeneration(source);
    if (generation == _lastGeneration) return;
    _lastGeneration = generation;
    // Read after the generation: at least as new as the swap just seen.
    final (code, version) =
        withStringOut((out) => native.flagsSourceVersion(source, out));
    if (code == native.FlagsResultCode.ok && version != null) {
      changes.add(version);
    }
  }

  static Pointer<native.FlagsSource> _open(
    int Function(
      Pointer<Pointer<native.FlagsSource>> out,
      Pointer<Pointer<Char>> error,
    ) open,
  ) {
    final out = calloc<Pointer<native.FlagsSource>>();
    final error = calloc<Pointer<Char>>();
    try {
      final code = open(out, error);
      final message = takeString(error.value);
      final handle = out.value;
      if (code != native.FlagsResultCode.ok || handle == nullptr) {
        // The library sets *out to NULL on error; free defensively anyway
        // (flags_source_free accepts NULL).
        native.flagsSourceFree(handle);
        _throw(
          code == native.FlagsResultCode.ok
              ? native.FlagsResultCode.panic
              : code,
          message,
        );
      }
      return handle;
    } finally {
      calloc.free(out);
      calloc.free(error);
    }
  }

  static void _check(int code, String? message) {
    if (code != native.FlagsResultCode.ok) _throw(code, message);
  }

  static Never _throw(int code, String? message) {
    throw FlagsException(
      FlagsErrorCode.fromValue(code),
      message ?? staticString(native.flagsResultMessage(code)),
      rawCode: code,
    );
  }

  /// [duration] in whole milliseconds, from 1 to 2^32 - 1. Zero is refused
  /// rather than passed on: the C ABI would read it as its default, which
  /// a Dart caller gets by leaving the argument out ([byDefault]).
  static int _milliseconds(Duration duration, String name, String byDefault) {
    final ms = duration.inMilliseconds;
    if (ms < 1 || ms > 0xFFFFFFFF) {
      throw ArgumentError.value(
        duration,
        name,
        'must be from 1 ms to 2^32 - 1 ms; leave it out for $byDefault',
      );
    }
    return ms;
  }
}

/// Health of a flag source, from `flags_source_status_json` (or of a
/// [FlagsClient], from `flags_client_status_json`).
final class FlagsStatus {
  FlagsStatus._(Map<String, Object?> json)
      : version = json['version'] as String?,
        healthy = json['healthy'] as bool? ?? false,
        stale = json['stale'] as bool? ?? false,
        lastError = json['last_error'] as String?,
        reloads = (json['reloads'] as num?)?.toInt() ?? 0,
        failures = (json['failures'] as num?)?.toInt() ?? 0,
        kind = json['kind'] as String? ?? 'unknown';

  /// The version of the flags in use.
  final String? version;

  /// False while the last reload or refresh failed (the last good flags are
  /// still in use).
  final bool healthy;

  /// True while a remote source serves its cache file because the server
  /// could not be used yet.
  final bool stale;

  /// The last reload or refresh error, or null.
  final String? lastError;

  /// How many times new flags were swapped in.
  final int reloads;

  /// How many reloads or refreshes failed.
  final int failures;

  /// `file`, `json`, `remote` or `client`.
  final String kind;

  @override
  String toString() => 'FlagsStatus(kind: $kind, version: $version, '
      'healthy: $healthy, lastError: $lastError, reloads: $reloads, '
      'failures: $failures)';
}
