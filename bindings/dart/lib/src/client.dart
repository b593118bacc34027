part of 'flags.dart';

/// The client mode: the answers of a flag server for one context, opened
/// with [Flags.openClient]. The server evaluates; this object only holds
/// its answers, kept up to date by a background thread of the native
/// library.
///
/// Reading an answer ([isEnabled], [variant], [evaluate]) makes no request,
/// is cheap and never throws for an unknown flag (it is off, with
/// [Reason.flagNotFound]): call it from a Flutter `build()` method.
/// [setContext] and [refresh] wait for the server (at most the timeout):
/// call them where a short wait is acceptable (after a login, on a pull to
/// refresh), not in `build()`.
///
/// Release the native client with [close], or let the [NativeFinalizer] do
/// it when the object is garbage collected.
final class FlagsClient implements Finalizable {
  FlagsClient._(Pointer<native.FlagsClient> handle) : _handle = handle {
    _finalizer.attach(this, handle.cast(), detach: this);
  }

  static final _finalizer = NativeFinalizer(
    Native.addressOf<
      NativeFunction<Void Function(Pointer<native.FlagsClient>)>
    >(native.flagsClientFree).cast(),
  );

  Pointer<native.FlagsClient> _handle;
  StreamController<String>? _changes;
  Timer? _poll;
  int _lastGeneration = 0;

  /// Whether the server answered `true` for [flag]. False for a flag it
  /// did not answer.
  bool isEnabled(String flag) {
    final client = _checkedHandle;
    return withUtf8(
      flag,
      (bytes, length) => native.flagsClientIsEnabled(client, bytes, length),
    );
  }

  /// The variant the server named for [flag], or null.
  String? variant(String flag) {
    final client = _checkedHandle;
    final (code, variant) = withUtf8(
      flag,
      (bytes, length) => withStringOut(
        (out) => native.flagsClientVariant(client, bytes, length, out),
      ),
    );
    Flags._check(code, null);
    return variant;
  }

  /// The server's answer for [flag]: enabled, variant, reason and bucket.
  /// The reason is the server's own (`flags serve` gives it);
  /// [Reason.unknown] when the server gave none, [Reason.flagNotFound] for
  /// a flag it did not answer.
  Evaluation evaluate(String flag) {
    final client = _checkedHandle;
    final out = calloc<native.FlagsEvaluation>();
    try {
      final code = withUtf8(
        flag,
        (bytes, length) => native.flagsClientEvaluate(client, bytes, length, out),
      );
      Flags._check(code, null);
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

  /// Asks about [context] (a `Map<String, Object?>`, a [FlagsContext] or
  /// null) from now on, and waits for the answer (at most the timeout).
  ///
  /// Until it arrives the old answers are served. When it cannot be had,
  /// this throws a [FlagsException] with [FlagsErrorCode.remote] and no
  /// answers are served (every flag off) until a later refresh gets them:
  /// never the previous user's answers for the new one.
  void setContext([Object? context]) {
    final client = _checkedHandle;
    final error = calloc<Pointer<Char>>();
    try {
      final code = withNativeContext(
        context,
        (ctx) => native.flagsClientSetContext(client, ctx, error),
      );
      Flags._check(code, takeString(error.value));
    } finally {
      calloc.free(error);
    }
  }

  /// Asks the server now and waits for the answer (at most the timeout):
  /// true when the answers changed. Throws a [FlagsException] with
  /// [FlagsErrorCode.remote] when the server could not be used (the last
  /// good answers stay).
  bool refresh() {
    final client = _checkedHandle;
    final changed = calloc<Bool>();
    final error = calloc<Pointer<Char>>();
    try {
      final code = native.flagsClientRefresh(client, changed, error);
      Flags._check(code, takeString(error.value));
      return changed.value;
    } finally {
      calloc.free(changed);
      calloc.free(error);
    }
  }

  /// The content hash of the answers served; empty when there are none.
  String get version {
    final client = _checkedHandle;
    final (code, version) =
        withStringOut((out) => native.flagsClientVersion(client, out));
    Flags._check(code, version);
    return version!;
  }

  /// Health of the client: [FlagsStatus.kind] `client`,
  /// [FlagsStatus.stale] while it serves its cache because the server could
  /// not be used yet.
  FlagsStatus get status {
    final client = _checkedHandle;
    final (code, json) =
        withStringOut((out) => native.flagsClientStatusJson(client, out));
    Flags._check(code, json);
    return FlagsStatus._(jsonDecode(json!) as Map<String, Object?>);
  }

  /// The new [version] each time the answers change (a stream event, the
  /// periodic refresh, [setContext]). Polls the client's generation counter
  /// once a second, only while the stream has listeners. Closes with
  /// [close].
  Stream<String> get changes {
    if (isClosed) throw StateError('this FlagsClient was closed');
    return (_changes ??= StreamController<String>.broadcast(
      onListen: _startPolling,
      onCancel: _stopPolling,
    ))
        .stream;
  }

  /// Whether [close] was called.
  bool get isClosed => _handle == nullptr;

  /// Releases the native client (its thread stops) and closes [changes].
  /// Calling it again does nothing; using the client afterwards throws a
  /// [StateError].
  void close() {
    final handle = _handle;
    if (handle == nullptr) return;
    _handle = nullptr;
    _stopPolling();
    _changes?.close();
    _finalizer.detach(this);
    native.flagsClientFree(handle);
  }

  @override
  String toString() =>
      isClosed ? 'FlagsClient(closed)' : 'FlagsClient(version: $version)';

  Pointer<native.FlagsClient> get _checkedHandle {
    final handle = _handle;
    if (handle == nullptr) {
      throw StateError('this FlagsClient was closed');
    }
    return handle;
  }

  void _startPolling() {
    if (_handle == nullptr) return;
    _lastGeneration = native.flagsClientGeneration(_handle);
    _poll ??= Timer.periodic(const Duration(seconds: 1), (_) => _pollOnce());
  }

  void _stopPolling() {
    _poll?.cancel();
    _poll = null;
  }

  void _pollOnce() {
    final client = _handle;
    final changes = _changes;
    if (client == nullptr || changes == null) {
      _stopPolling();
      return;
    }
    final generation = native.flagsClientGeneration(client);
    if (generation == _lastGeneration) return;
    _lastGeneration = generation;
    final (code, version) =
        withStringOut((out) => native.flagsClientVersion(client, out));
    if (code == native.FlagsResultCode.ok && version != null) {
      changes.add(version);
    }
  }

  static Pointer<native.FlagsClient> _open(
    int Function(
      Pointer<Pointer<native.FlagsClient>> out,
      Pointer<Pointer<Char>> error,
    ) open,
  ) {
    final out = calloc<Pointer<native.FlagsClient>>();
    final error = calloc<Pointer<Char>>();
    try {
      final code = open(out, error);
      final message = takeString(error.value);
      final handle = out.value;
      if (code != native.FlagsResultCode.ok || handle == nullptr) {
        native.flagsClientFree(handle);
        Flags._throw(
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
}
