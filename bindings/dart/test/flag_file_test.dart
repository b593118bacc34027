// FlagFile: edits through the `flags` commands' edit path (flags_file_edit).

import 'dart:convert';
import 'dart:io';

import 'package:flags/flags.dart';
import 'package:test/test.dart';

import 'support.dart';

const String _file = '''
{
  "version": 1,
  "flags": {
    "checkout": { "owner": "payments", "percentage": 10 },
    "search": { "percentage": 12.5 }
  }
}
''';

void main() {
  late Directory dir;
  late String path;
  setUp(() async {
    dir = await tempDir();
    path = '${dir.path}/flags.json';
    File(path).writeAsStringSync(_file);
  });
  tearDown(() => dir.delete(recursive: true));

  List<Map<String, Object?>> audit() {
    final log = File('$path.audit.jsonl');
    if (!log.existsSync()) return [];
    return [
      for (final line in log.readAsLinesSync())
        jsonDecode(line) as Map<String, Object?>,
    ];
  }

  test('several edits are one write and one audit record', () {
    final file = FlagFile(path, actor: 'dart', command: 'flag_file_test');
    final result = file.apply([
      FlagEdit.kill('checkout'),
      FlagEdit.setPercentage('search', '25'),
    ]);
    expect(
      File(path).readAsStringSync(),
      _file
          .replaceFirst(
            '"owner": "payments", ',
            '"owner": "payments", "killed": true, ',
          )
          .replaceFirst('"percentage": 12.5', '"percentage": 25'),
    );
    expect(result.written, isTrue);
    expect(result.summary, 'checkout: killed; search: percentage 12.5% -> 25%');
    expect(result.changes, [
      'checkout: killed',
      'search: percentage 12.5% -> 25%',
    ]);
    expect(result.auditLog, '$path.audit.jsonl');
    final records = audit();
    expect(records, hasLength(1));
    expect(records.single['actor'], 'dart');
    expect(records.single['command'], 'flag_file_test');
    expect(records.single['before'], result.before);
    expect(records.single['after'], result.after);
  });

  test('stage moves a migration flag and rollback brings it back', () {
    const migration =
        '{"version": 1, "flags": {"orders": {"migration": {"stages": 6, "stage": "dualwrite"}, "percentage": 10}}}';
    File(path).writeAsStringSync(migration);
    final file = FlagFile(path,
        actor: 'dart', command: 'flag_file_test', reason: 'shadow reads');
    final result = file.stage('orders', next: 'shadow', pilotStage: 'live');
    expect(audit().single['reason'], 'shadow reads');
    expect(result.summary,
        'orders: migration next dualwrite -> shadow, pilot_stage dualwrite -> live');
    expect(
      File(path).readAsStringSync(),
      migration.replaceFirst('"stage": "dualwrite"}',
          '"stage": "dualwrite", "next": "shadow", "pilot_stage": "live"}'),
    );
    expect(file.rollback('orders').summary,
        'orders: migration next shadow -> dualwrite, pilot_stage live -> dualwrite');
    expect(
      () => file.stage('orders', next: 'shdow'),
      throwsA(isA<FlagsException>().having(
          (e) => e.message, 'message', contains('did you mean "shadow"?'))),
    );
    expect(audit(), hasLength(2));
  });

  test('a dry run writes nothing', () {
    final result = FlagFile(path).killAll(dryRun: true);
    expect(result.written, isFalse);
    expect(result.dryRun, isTrue);
    expect(result.changes, ['kill_all: off -> ON']);
    expect(File(path).readAsStringSync(), _file);
    expect(audit(), isEmpty);
  });

  test('a refused edit throws what flags says and writes nothing', () {
    final file = FlagFile(path, actor: 'dart');
    expect(
      () => file.kill('chekout'),
      throwsA(
        isA<FlagsException>()
            .having((e) => e.code, 'code', FlagsErrorCode.invalidArgument)
            .having(
              (e) => e.message,
              'message',
              '$path: no flag named "chekout"; did you mean "checkout"?',
            ),
      ),
    );
    expect(
      () => file.replace('{"version": 1, "flags": {"a": {"percentage": 101}}}'),
      throwsA(
        isA<FlagsException>()
            .having((e) => e.code, 'code', FlagsErrorCode.invalidFlags)
            .having((e) => e.message, 'message', contains('$path:1:46: ')),
      ),
    );
    expect(File(path).readAsStringSync(), _file);
    expect(audit(), isEmpty);
  });

  test('another edit holding the lock is a conflict', () async {
    // flock(1) holds the directory's lock, as an edit in progress does.
    final holder = await Process.start('flock', [
      '--close',
      dir.path,
      '-c',
      'echo locked; read -r _ || true',
    ]);
    final lines = holder.stdout
        .transform(utf8.decoder)
        .transform(const LineSplitter());
    expect(await lines.first, 'locked');
    final file = FlagFile(path, lockWait: const Duration(milliseconds: 100));
    expect(
      () => file.killAll(),
      throwsA(
        isA<FlagsException>()
            .having((e) => e.code, 'code', FlagsErrorCode.conflict),
      ),
    );
    await holder.stdin.close();
    expect(await holder.exitCode, 0);
    expect(File(path).readAsStringSync(), _file);
    expect(file.killAll().summary, 'kill_all: off -> ON');
  });

  test('replace creates a file', () {
    final created = '${dir.path}/new.json';
    final result = FlagFile(created).replace('{"version": 1, "flags": {}}\n');
    expect(File(created).readAsStringSync(), '{"version": 1, "flags": {}}\n');
    // The content hash of no bytes.
    expect(result.before, 'f4f2ced447ab02427de0a38047d74950');
  });

  test('status is the document of flags status --json', () {
    final status = FlagFile(path).status(
      now: DateTime.utc(2026, 11, 21, 12),
    );
    expect(status['file'], path);
    expect(status['now'], '2026-11-21T12:00:00.000Z');
    final flags = status['flags']! as List<Object?>;
    expect((flags.last! as Map<String, Object?>)['percentage_now'], 12.5);
  });

  test('options are checked', () {
    expect(() => FlagFile(path, actor: ' '), throwsArgumentError);
    expect(
      () => FlagFile(path, lockWait: const Duration(minutes: 2)),
      throwsRangeError,
    );
  });
}
