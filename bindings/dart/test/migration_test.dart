// Migration reads and writes: the design's stage table, the other side
// contained and run after the answer, records, and the reporter's batches
// (mirrors bindings/php/tests/Migration).

import 'dart:async';
import 'dart:convert';
import 'dart:io';

import 'package:flags/flags.dart';
import 'package:test/test.dart';

/// From the design (docs/migrations.md), not from the code: stage =>
/// (read calls in order, read answer, write calls in order, write answer).
const expected = {
  'off': (['old'], 'old', ['old'], 'old'),
  'dualwrite': (['old'], 'old', ['old', 'new'], 'old'),
  'shadow': (['old', 'new'], 'old', ['old', 'new'], 'old'),
  'live': (['new', 'old'], 'new', ['new', 'old'], 'new'),
  'rampdown': (['new'], 'new', ['new', 'old'], 'new'),
  'complete': (['new'], 'new', ['new'], 'new'),
};

void main() {
  late List<String> calls;
  setUp(() => calls = []);

  FutureOr<String> Function() side(String name, [String? result]) => () {
        calls.add(name);
        return result ?? '$name result';
      };
  FutureOr<String> Function() failing(String name) => () {
        calls.add(name);
        throw StateError('$name is down');
      };

  test('stages and sets follow the design', () {
    expect(MigrationStage.values.map((s) => s.wireName),
        ['off', 'dualwrite', 'shadow', 'live', 'rampdown', 'complete']);
    expect(MigrationStage.set(4).map((s) => s.wireName),
        ['off', 'shadow', 'live', 'complete']);
    expect(MigrationStage.set(2).map((s) => s.wireName), ['off', 'complete']);
    expect(() => MigrationStage.set(3), throwsArgumentError);
    expect(
        MigrationStage.fromEvaluation(
            const Evaluation(enabled: false, reason: Reason.flagNotFound)),
        MigrationStage.off);
  });

  test('each stage runs the sides of the design in order', () async {
    for (final MapEntry(key: name, value: e) in expected.entries) {
      final (readCalls, readAnswer, writeCalls, writeAnswer) = e;
      final migrator = Migrator.withoutFlags(inline: true);
      final stage = MigrationStage.fromName(name)!;
      calls = [];
      expect(
          await migrator.readIn(stage, 'orders',
              oldSystem: side('old'), newSystem: side('new')),
          '$readAnswer result',
          reason: '$name read');
      expect(calls, readCalls, reason: '$name read');
      calls = [];
      expect(
          await migrator.writeIn(stage, 'orders',
              oldSystem: side('old'), newSystem: side('new')),
          '$writeAnswer result',
          reason: '$name write');
      expect(calls, writeCalls, reason: '$name write');
      final records = migrator.recorder.take().map((r) => r.toJson()).toList();
      expect(records[0]['stage'], name);
      // The sides that ran, and only those.
      expect(records[0].keys.where((k) => k == 'old' || k == 'new').toSet(),
          readCalls.toSet());
      expect(records[1].keys.where((k) => k == 'old' || k == 'new').toSet(),
          writeCalls.toSet());
    }
  });

  test('the other side\'s error is recorded, never thrown', () async {
    final errors = <String>[];
    final migrator = Migrator.withoutFlags(
        inline: true,
        onError: (e, flag, stage, op, s) =>
            errors.add('$flag ${stage.wireName} $op ${s.wireName}'));
    expect(
        await migrator.readIn(MigrationStage.shadow, 'orders',
            oldSystem: side('old'), newSystem: failing('new')),
        'old result');
    expect(
        await migrator.writeIn(MigrationStage.live, 'orders',
            oldSystem: failing('old'), newSystem: side('new')),
        'new result');
    expect(errors, ['orders shadow read new', 'orders live write old']);
    final [read, write] = migrator.recorder.take();
    expect(read.updated!.error, isTrue);
    expect(read.consistent, isNull);
    expect(write.old!.error, isTrue);
  });

  test('a failed authoritative write throws and skips the other', () async {
    final migrator = Migrator.withoutFlags(inline: true);
    await expectLater(
        migrator.writeIn(MigrationStage.dualWrite, 'orders',
            oldSystem: failing('old'), newSystem: side('new')),
        throwsStateError);
    expect(calls, ['old']);
    expect(migrator.recorder.take().single.toJson().containsKey('new'), isFalse);
  });

  test('compared reads record whether (old, new) agree', () async {
    final migrator = Migrator.withoutFlags(inline: true);
    final given = <String>[];
    bool same(String a, String b) {
      given.add('$a/$b');
      return a == b;
    }

    await migrator.readIn(MigrationStage.shadow, 'orders',
        oldSystem: side('old', 'x'), newSystem: side('new', 'x'), compare: same);
    await migrator.readIn(MigrationStage.live, 'orders',
        oldSystem: side('old', 'a'), newSystem: side('new', 'b'), compare: same);
    expect(given, ['x/x', 'a/b']);
    expect(migrator.recorder.take().map((r) => r.consistent), [true, false]);
  });

  test('the other side runs after the answer and is bounded by the timeout',
      () async {
    final migrator =
        Migrator.withoutFlags(timeout: const Duration(milliseconds: 200));
    final release = Completer<String>();
    final answer = await migrator.readIn(MigrationStage.shadow, 'orders',
        oldSystem: side('old'), newSystem: () => release.future);
    // The caller has its answer while the shadow read still waits.
    expect(answer, 'old result');
    expect(migrator.recorder.length, 0);
    await migrator.flush();
    final record = migrator.recorder.take().single.toJson();
    expect(record['new'], containsPair('timeout', true));
    expect(record['new'], containsPair('error', true));
  });

  test('the stage comes from the flag\'s variant', () async {
    final flags = Flags.openJson(jsonEncode({
      'version': 1,
      'flags': {
        'orders_reads': {
          'pilots': {
            'user_id': ['7']
          },
          'percentage': 0,
          'variants': [
            {'name': 'live', 'weight': 100}
          ],
        },
      },
    }));
    addTearDown(flags.close);
    final migrator = Migrator(flags, inline: true);
    expect(migrator.stage('orders_reads', {'user_id': 7}), MigrationStage.live);
    expect(migrator.stage('orders_reads', {'user_id': 8}), MigrationStage.off);
    expect(migrator.stage('no_such_flag'), MigrationStage.off);
    expect(
        await migrator.read('orders_reads', {'user_id': 7},
            oldSystem: side('old'), newSystem: side('new')),
        'new result');
    expect(calls, ['new', 'old']);
  });

  group('reporter', () {
    test('sends the design\'s body with the bearer token', () async {
      final server = await HttpServer.bind(InternetAddress.loopbackIPv4, 0);
      addTearDown(() => server.close(force: true));
      final bodies = <Map<String, Object?>>[];
      final headers = <String?>[];
      server.listen((request) async {
        headers.add(request.headers.value(HttpHeaders.authorizationHeader));
        final body = jsonDecode(await utf8.decoder.bind(request).join())
            as Map<String, Object?>;
        bodies.add(body);
        request.response.statusCode = 202;
        request.response.write(jsonEncode(
            {'accepted': (body['records'] as List).length, 'dropped': 0}));
        await request.response.close();
      });
      final reporter = MigrationReporter(
          Uri.parse('http://127.0.0.1:${server.port}/'),
          token: 'client-token');
      addTearDown(reporter.close);
      final migrator = Migrator.withoutFlags(inline: true, reporter: reporter);
      await migrator.readIn(MigrationStage.shadow, 'orders_reads',
          oldSystem: side('old', '1'),
          newSystem: side('new', '2'),
          compare: (a, b) => a == b);
      await migrator.flush();
      expect(headers, ['Bearer client-token']);
      final record = (bodies.single['records'] as List).single as Map;
      expect(record.keys, ['flag', 'stage', 'op', 'old', 'new', 'consistent']);
      expect(record['stage'], 'shadow');
      expect(record['consistent'], isFalse);
      expect((record['old'] as Map).keys, ['seconds', 'error']);
      expect(reporter.stats.accepted, 1);
    });

    test('a down server neither throws nor waits past the timeout', () async {
      final silent = await ServerSocket.bind(InternetAddress.loopbackIPv4, 0);
      addTearDown(silent.close);
      silent.listen((_) {}); // accepts, never answers
      final reporter = MigrationReporter(
          Uri.parse('http://127.0.0.1:${silent.port}'),
          timeout: const Duration(milliseconds: 250));
      addTearDown(reporter.close);
      final watch = Stopwatch()..start();
      final ok = await reporter.send([
        const MigrationRecord(
            flag: 'orders_reads', stage: MigrationStage.off, op: 'read')
      ]);
      expect(ok, isFalse);
      expect(watch.elapsed, lessThan(const Duration(seconds: 2)));
      expect(reporter.stats.failures, 1);
      expect(reporter.stats.lastError, contains('no answer within 250 ms'));
    });
  });
}
