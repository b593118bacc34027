// Migration flags: reads and writes run per stage, recorded, and the
// records optionally sent to the flags server (POST /v1/migrations).

import 'dart:async';
import 'dart:convert';
import 'dart:io';

import 'evaluation.dart';
import 'flags.dart';

/// Told of each error of the non-authoritative side (and of `compare`):
/// the error, the flag, the stage, `read` or `write`, and the side.
typedef MigrationErrorHandler = void Function(Object error, String flag,
    MigrationStage stage, String op, MigrationSide side);

/// Which of the two systems of a migration.
enum MigrationSide {
  /// The system being migrated from (`old` in records).
  oldSystem('old'),

  /// The system being migrated to (`new` in records).
  newSystem('new');

  const MigrationSide(this.wireName);

  /// `old` or `new`: the name in records and metric labels.
  final String wireName;

  /// The other side.
  MigrationSide get other =>
      this == oldSystem ? MigrationSide.newSystem : MigrationSide.oldSystem;
}

/// What one operation does at a stage: the side whose answer the caller
/// gets (it runs first), whether the other side runs too, and whether the
/// two results are compared (reads only).
final class MigrationPlan {
  /// A plan.
  const MigrationPlan(this.authoritative,
      {required this.both, required this.compare});

  /// The side whose result (or error) the caller gets.
  final MigrationSide authoritative;

  /// The other side runs as well; it never changes the answer.
  final bool both;

  /// The two results are compared (the shadow read).
  final bool compare;
}

/// One stage of a migration flag, named as in the flag file and in the
/// evaluation's variant.
///
/// | stage     | read                       | write          |
/// |-----------|----------------------------|----------------|
/// | off       | old                        | old            |
/// | dualwrite | old                        | old, then new  |
/// | shadow    | old answers, new compared  | old, then new  |
/// | live      | new answers, old compared  | new, then old  |
/// | rampdown  | new                        | new, then old  |
/// | complete  | new                        | new            |
enum MigrationStage {
  /// The old system only.
  off('off', MigrationSide.oldSystem, false, false),

  /// Writes to both (old first); reads from the old system.
  dualWrite('dualwrite', MigrationSide.oldSystem, false, true),

  /// Both; the old one answers and the new one is compared.
  shadow('shadow', MigrationSide.oldSystem, true, true),

  /// Both; the new one answers and the old one is compared.
  live('live', MigrationSide.newSystem, true, true),

  /// Reads from the new system; writes to both (new first).
  rampDown('rampdown', MigrationSide.newSystem, false, true),

  /// The new system only.
  complete('complete', MigrationSide.newSystem, false, false);

  const MigrationStage(
      this.wireName, this.authoritative, this._readBoth, this._writeBoth);

  /// The name in the flag file, the variant and the records.
  final String wireName;

  /// The side authoritative for reads and writes at this stage.
  final MigrationSide authoritative;

  final bool _readBoth;
  final bool _writeBoth;

  /// What a read does at this stage.
  MigrationPlan get read =>
      MigrationPlan(authoritative, both: _readBoth, compare: _readBoth);

  /// What a write does at this stage (never compared).
  MigrationPlan get write =>
      MigrationPlan(authoritative, both: _writeBoth, compare: false);

  /// The stage named [name], or null.
  static MigrationStage? fromName(String? name) {
    for (final stage in values) {
      if (stage.wireName == name) return stage;
    }
    return null;
  }

  /// The stage an evaluation names in its variant; [off] (the old system)
  /// when there is none (flag not found, invalid context) or it is no
  /// stage (not a migration flag).
  static MigrationStage fromEvaluation(Evaluation evaluation) =>
      fromName(evaluation.variant) ?? off;

  /// The stages of a migration of [count] stages (2, 4 or 6).
  static List<MigrationStage> set(int count) => switch (count) {
        2 => const [off, complete],
        4 => const [off, shadow, live, complete],
        6 => values,
        _ => throw ArgumentError.value(
            count, 'count', 'a migration has 2, 4 or 6 stages'),
      };
}

/// One side of a recorded operation: its latency and whether it failed
/// (a side that timed out failed, with [timeout] true).
final class MigrationMeasure {
  /// A measure.
  const MigrationMeasure(this.seconds, {required this.error, this.timeout = false});

  /// How long the side took, in seconds.
  final double seconds;

  /// It threw (or timed out).
  final bool error;

  /// It did not finish within the migrator's timeout.
  final bool timeout;

  /// `{"seconds", "error"}` (and `"timeout": true` when it timed out).
  Map<String, Object> toJson() => {
        'seconds': seconds,
        'error': error,
        if (timeout) 'timeout': true,
      };
}

/// One read or write: the flag, the stage, each side that ran, and for a
/// compared read whether the results agreed (null when not compared or a
/// side failed).
final class MigrationRecord {
  /// A record.
  const MigrationRecord({
    required this.flag,
    required this.stage,
    required this.op,
    this.old,
    this.updated,
    this.consistent,
  });

  /// The migration flag.
  final String flag;

  /// The stage it ran at.
  final MigrationStage stage;

  /// `read` or `write`.
  final String op;

  /// The old side, when it ran.
  final MigrationMeasure? old;

  /// The new side, when it ran.
  final MigrationMeasure? updated;

  /// Whether a compared read's results agreed.
  final bool? consistent;

  /// The record as `POST /v1/migrations` takes it.
  Map<String, Object?> toJson() => {
        'flag': flag,
        'stage': stage.wireName,
        'op': op,
        if (old != null) 'old': old!.toJson(),
        if (updated != null) 'new': updated!.toJson(),
        'consistent': consistent,
      };
}

/// The records of this process, kept until taken (at most [capacity];
/// past it a record is dropped and counted in [dropped]).
final class MigrationRecorder {
  /// A recorder keeping at most [capacity] records.
  MigrationRecorder({this.capacity = 10000}) {
    if (capacity < 1) {
      throw ArgumentError.value(capacity, 'capacity', 'expected 1 or more');
    }
  }

  /// The most records kept waiting.
  final int capacity;

  final List<MigrationRecord> _records = [];
  int _dropped = 0;

  /// Records not kept because [capacity] were waiting.
  int get dropped => _dropped;

  /// How many records are waiting.
  int get length => _records.length;

  /// Keeps [record] (or drops it when full).
  void add(MigrationRecord record) {
    if (_records.length >= capacity) {
      _dropped++;
      return;
    }
    _records.add(record);
  }

  /// Takes up to [max] waiting records (all by default), oldest first.
  List<MigrationRecord> take([int? max]) {
    final n = max == null || max > _records.length ? _records.length : max;
    final taken = _records.sublist(0, n);
    _records.removeRange(0, n);
    return taken;
  }
}

/// Sends records to the flags server: `POST {server}/v1/migrations` with
/// `{"records": [...]}` and a bearer token (`client` scope is enough), at
/// most 1000 records a batch, each batch within [timeout]. Never throws: a
/// batch that fails is dropped and counted; the first failure is written
/// to stderr.
final class MigrationReporter {
  /// A reporter for the flags server at [server] (http or https).
  MigrationReporter(Uri server,
      {this.token, this.timeout = const Duration(milliseconds: 250)})
      : _endpoint = server.replace(
            path: '${server.path.replaceAll(RegExp(r'/+$'), '')}/v1/migrations') {
    if (server.scheme != 'http' && server.scheme != 'https' || server.host.isEmpty) {
      throw ArgumentError.value(
          server, 'server', "expected the flags server's http(s) URL");
    }
  }

  /// The most records in one batch (the server's limit).
  static const maxRecords = 1000;

  /// The bearer token, or null.
  final String? token;

  /// The most one batch may take, connecting included.
  final Duration timeout;

  final Uri _endpoint;
  HttpClient? _http;
  int _batches = 0;
  int _accepted = 0;
  int _failures = 0;
  int _lost = 0;
  String? _lastError;
  bool _logged = false;

  /// Batches sent, records accepted by the server, failed batches, records
  /// lost in them, and the last error.
  ({int batches, int accepted, int failures, int lost, String? lastError})
      get stats => (
            batches: _batches,
            accepted: _accepted,
            failures: _failures,
            lost: _lost,
            lastError: _lastError,
          );

  /// Takes every record of [recorder] and sends them.
  Future<void> flush(MigrationRecorder recorder) async {
    while (recorder.length > 0) {
      if (!await send(recorder.take(maxRecords))) {
        // Down or refusing: the rest is lost at once (one timeout a flush,
        // not one a batch).
        _lost += recorder.take().length;
        return;
      }
    }
  }

  /// Sends [records] in batches; true when the server accepted them all.
  Future<bool> send(List<MigrationRecord> records) async {
    var ok = true;
    for (var i = 0; i < records.length; i += maxRecords) {
      final end = i + maxRecords < records.length ? i + maxRecords : records.length;
      ok = await _sendBatch(records.sublist(i, end)) && ok;
    }
    return ok;
  }

  /// Closes the HTTP client.
  void close() {
    _http?.close(force: true);
    _http = null;
  }

  Future<bool> _sendBatch(List<MigrationRecord> batch) async {
    _batches++;
    final body = utf8.encode(jsonEncode({
      'records': [for (final r in batch) r.toJson()],
    }));
    try {
      final (status, text) = await _post(body).timeout(timeout);
      if (status < 200 || status > 299) {
        return _failed(batch.length, 'the server answered $status: $text');
      }
      final counts = jsonDecode(text);
      if (counts is Map && counts['accepted'] is int) {
        _accepted += counts['accepted'] as int;
      }
      return true;
    } on TimeoutException {
      return _failed(batch.length, 'no answer within ${timeout.inMilliseconds} ms');
    } catch (e) {
      return _failed(batch.length, '$e');
    }
  }

  Future<(int, String)> _post(List<int> body) async {
    final http = _http ??= HttpClient()..connectionTimeout = timeout;
    final request = await http.postUrl(_endpoint);
    request.headers.contentType = ContentType.json;
    final token = this.token;
    if (token != null && token.isNotEmpty) {
      request.headers.set(HttpHeaders.authorizationHeader, 'Bearer $token');
    }
    request.contentLength = body.length;
    request.add(body);
    final response = await request.close();
    final text = await response.transform(utf8.decoder).join();
    return (response.statusCode, text);
  }

  bool _failed(int records, String why) {
    _failures++;
    _lost += records;
    _lastError = why;
    if (!_logged) {
      _logged = true;
      stderr.writeln('flags: could not send migration records to $_endpoint '
          '($why); the batch was dropped (logged once; see stats)');
    }
    return false;
  }
}

/// Reads and writes under a migration flag: the flag's stage for the
/// context (its evaluation's variant) says which system runs and which
/// one answers.
///
/// ```dart
/// final migrator = Migrator(flags, reporter: MigrationReporter(server, token: token));
/// final order = await migrator.read('orders_reads', {'user_id': 42},
///     oldSystem: () => legacy.order(id),
///     newSystem: () => projection.order(id),
///     compare: (a, b) => a == b);
/// ```
///
/// The caller gets the authoritative side's result or error. The other
/// side starts once the authoritative one is done and is not awaited
/// (`unawaited`): its error is recorded, never thrown, and it is given at
/// most [timeout] (a side that takes longer is recorded as an error with
/// `timeout: true`). With [inline] true (tests), the other side is awaited
/// before read() and write() complete. When the authoritative write fails,
/// the other write is not attempted.
final class Migrator {
  /// A migrator whose stages come from [flags].
  Migrator(Flags flags,
      {MigrationRecorder? recorder,
      MigrationReporter? reporter,
      Duration timeout = const Duration(seconds: 5),
      bool inline = false,
      int flushEvery = 100,
      MigrationErrorHandler? onError})
      : this._((flag, context) => flags.evaluate(flag, context), recorder,
            reporter, timeout, inline, flushEvery, onError);

  /// A migrator whose stages come from a [FlagsClient] (its context).
  Migrator.client(FlagsClient client,
      {MigrationRecorder? recorder,
      MigrationReporter? reporter,
      Duration timeout = const Duration(seconds: 5),
      bool inline = false,
      int flushEvery = 100,
      MigrationErrorHandler? onError})
      : this._((flag, _) => client.evaluate(flag), recorder, reporter, timeout,
            inline, flushEvery, onError);

  /// A migrator without flags: only [readIn] and [writeIn].
  Migrator.withoutFlags(
      {MigrationRecorder? recorder,
      MigrationReporter? reporter,
      Duration timeout = const Duration(seconds: 5),
      bool inline = false,
      int flushEvery = 100,
      MigrationErrorHandler? onError})
      : this._(null, recorder, reporter, timeout, inline, flushEvery, onError);

  Migrator._(this._evaluate, MigrationRecorder? recorder, this.reporter,
      this.timeout, this.inline, this.flushEvery, this._onError)
      : recorder = recorder ?? MigrationRecorder() {
    if (flushEvery < 1 || flushEvery > MigrationReporter.maxRecords) {
      throw ArgumentError.value(flushEvery, 'flushEvery', 'expected 1 to 1000');
    }
  }

  final Evaluation Function(String flag, Object? context)? _evaluate;
  final MigrationErrorHandler? _onError;

  /// Where the records go.
  final MigrationRecorder recorder;

  /// Sends the records every [flushEvery] records (and on [flush]), or null.
  final MigrationReporter? reporter;

  /// The most the non-authoritative side may take.
  final Duration timeout;

  /// Await the other side before completing (tests).
  final bool inline;

  /// With a reporter: send once this many records wait.
  final int flushEvery;

  final Set<Future<void>> _pending = {};
  Future<void>? _sending;

  /// The stage of [flag] for [context] (one evaluation); [MigrationStage.off]
  /// when it is not a migration flag.
  MigrationStage stage(String flag, [Object? context]) {
    final evaluate = _evaluate;
    if (evaluate == null) {
      throw StateError('this Migrator has no flags: use readIn() or writeIn()');
    }
    return MigrationStage.fromEvaluation(evaluate(flag, context));
  }

  /// Reads as [flag]'s stage for [context] says; the authoritative result.
  /// [compare] gets (old result, new result) when both succeeded.
  Future<T> read<T>(String flag, Object? context,
          {required FutureOr<T> Function() oldSystem,
          required FutureOr<T> Function() newSystem,
          bool Function(T oldResult, T newResult)? compare}) =>
      readIn(stage(flag, context), flag,
          oldSystem: oldSystem, newSystem: newSystem, compare: compare);

  /// Writes as [flag]'s stage for [context] says; the authoritative result.
  Future<T> write<T>(String flag, Object? context,
          {required FutureOr<T> Function() oldSystem,
          required FutureOr<T> Function() newSystem}) =>
      writeIn(stage(flag, context), flag,
          oldSystem: oldSystem, newSystem: newSystem);

  /// [read] at a stage known already.
  Future<T> readIn<T>(MigrationStage stage, String flag,
          {required FutureOr<T> Function() oldSystem,
          required FutureOr<T> Function() newSystem,
          bool Function(T oldResult, T newResult)? compare}) =>
      _run(stage, flag, 'read', stage.read, oldSystem, newSystem, compare);

  /// [write] at a stage known already.
  Future<T> writeIn<T>(MigrationStage stage, String flag,
          {required FutureOr<T> Function() oldSystem,
          required FutureOr<T> Function() newSystem}) =>
      _run(stage, flag, 'write', stage.write, oldSystem, newSystem, null);

  /// Waits for the other sides still running, then sends the records.
  /// Never throws.
  Future<void> flush() async {
    while (_pending.isNotEmpty) {
      await Future.wait(_pending.toList());
    }
    await reporter?.flush(recorder);
  }

  Future<T> _run<T>(
      MigrationStage stage,
      String flag,
      String op,
      MigrationPlan plan,
      FutureOr<T> Function() oldSystem,
      FutureOr<T> Function() newSystem,
      bool Function(T, T)? compare) async {
    final oldFirst = plan.authoritative == MigrationSide.oldSystem;
    final watch = Stopwatch()..start();
    T? result;
    Object? error;
    StackTrace? trace;
    try {
      result = await (oldFirst ? oldSystem() : newSystem());
    } catch (e, s) {
      error = e;
      trace = s;
    }
    final first = MigrationMeasure(_seconds(watch), error: error != null);
    if (!plan.both || (error != null && op == 'write')) {
      _record(MigrationRecord(
          flag: flag,
          stage: stage,
          op: op,
          old: oldFirst ? first : null,
          updated: oldFirst ? null : first));
    } else {
      final other = _other<T>(stage, flag, op, oldFirst, oldSystem, newSystem,
          compare, first, result, error == null);
      if (inline) {
        await other;
      } else {
        _pending.add(other);
        unawaited(other.whenComplete(() => _pending.remove(other)));
      }
    }
    if (error != null) {
      Error.throwWithStackTrace(error, trace!);
    }
    return result as T;
  }

  Future<void> _other<T>(
      MigrationStage stage,
      String flag,
      String op,
      bool oldFirst,
      FutureOr<T> Function() oldSystem,
      FutureOr<T> Function() newSystem,
      bool Function(T, T)? compare,
      MigrationMeasure first,
      T? result,
      bool firstOk) async {
    final side = oldFirst ? MigrationSide.newSystem : MigrationSide.oldSystem;
    final watch = Stopwatch()..start();
    T? otherResult;
    Object? otherError;
    var timedOut = false;
    try {
      otherResult = await Future<T>.sync(oldFirst ? newSystem : oldSystem)
          .timeout(timeout);
    } on TimeoutException catch (e) {
      otherError = e;
      timedOut = true;
    } catch (e) {
      otherError = e;
    }
    final second = MigrationMeasure(_seconds(watch),
        error: otherError != null, timeout: timedOut);
    if (otherError != null) _tell(otherError, flag, stage, op, side);
    bool? consistent;
    if (compare != null && firstOk && otherError == null) {
      try {
        consistent = oldFirst
            ? compare(result as T, otherResult as T)
            : compare(otherResult as T, result as T);
      } catch (e) {
        _tell(e, flag, stage, op, side);
      }
    }
    _record(MigrationRecord(
        flag: flag,
        stage: stage,
        op: op,
        old: oldFirst ? first : second,
        updated: oldFirst ? second : first,
        consistent: consistent));
  }

  void _record(MigrationRecord record) {
    recorder.add(record);
    final reporter = this.reporter;
    if (reporter != null && recorder.length >= flushEvery && _sending == null) {
      _sending = reporter.flush(recorder).whenComplete(() => _sending = null);
      unawaited(_sending);
    }
  }

  void _tell(Object error, String flag, MigrationStage stage, String op,
      MigrationSide side) {
    try {
      _onError?.call(error, flag, stage, op, side);
    } catch (_) {
      // The hook's own failure must not reach the caller either.
    }
  }

  static double _seconds(Stopwatch watch) =>
      watch.elapsedMicroseconds / 1e6;
}
