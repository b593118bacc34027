// The Dart API: contexts, errors, hot reload, the changes stream, closing.

import 'dart:async';
import 'dart:io';

import 'package:flags/flags.dart';
import 'package:flags/src/bindings.dart' as native;
import 'package:flags/src/strings.dart' show staticString;
import 'package:test/test.dart';

import 'support.dart';

void main() {
  late Flags flags;
  setUp(() => flags = Flags.openJson(sampleFlags));
  tearDown(() => flags.close());

  group('the native library', () {
    test('reports its version', () {
      expect(Flags.libraryVersion, matches(RegExp(r'^\d+\.\d+\.\d+')));
    });

    test('names every reason as the Dart enum does', () {
      for (final reason in Reason.values) {
        final name = staticString(native.flagsReasonName(reason.code));
        expect(name, reason.wireName);
      }
      expect(staticString(native.flagsReasonName(99)), 'UNKNOWN');
    });

    test('has a message for every result code', () {
      for (final code in FlagsErrorCode.values) {
        if (code == FlagsErrorCode.unknown) continue;
        final message = staticString(native.flagsResultMessage(code.value));
        expect(message, isNotEmpty);
      }
    });
  });

  group('evaluation', () {
    test('matches docs/bucketing.md for user 42 at 12.5%', () {
      final detail = flags.evaluate('enrollment_service', {'user_id': 42});
      expect(
        detail,
        const Evaluation(enabled: true, reason: Reason.rolloutIn, bucket: 374),
      );
      expect(flags.isEnabled('enrollment_service', {'user_id': 42}), isTrue);
    });

    test('hashes UTF-8, not UTF-16: José is in bucket 3726', () {
      final detail = flags.evaluate('enrollment_service', {'user_id': 'José'});
      expect(detail.bucket, 3726);
      expect(detail.reason, Reason.rolloutOut);
    });

    test('never throws for an unknown flag', () {
      expect(flags.isEnabled('no_such_flag'), isFalse);
      expect(flags.variant('no_such_flag', {'user_id': 1}), isNull);
      expect(
        flags.evaluate('no_such_flag'),
        const Evaluation(enabled: false, reason: Reason.flagNotFound),
      );
      expect(flags.isEnabled(''), isFalse);
    });

    test('gives variants', () {
      expect(flags.variant('arms', {'user_id': 42}), 'treatment');
      expect(flags.variant('arms', {'user_id': 'alice'}), 'control');
      // No bucketing attribute at 100%: the first variant.
      expect(flags.variant('arms'), 'control');
      expect(flags.variant('beta'), isNull);
    });

    test('lists the enabled flags and every result in key order', () {
      expect(
        flags.enabledFlags({'user_id': 42}),
        ['arms', 'beta', 'enrollment_service'],
      );
      final all = flags.evaluateAll({'user_id': 42});
      expect(all.keys, ['arms', 'beta', 'enrollment_service', 'off']);
      expect(all['off']!.reason, Reason.rolloutOut);
      expect(all['enrollment_service']!.bucket, 374);
    });

    test('has a version that is the content hash', () {
      expect(flags.version, matches(RegExp(r'^[0-9a-f]{32}$')));
      final again = Flags.openJson(sampleFlags);
      addTearDown(again.close);
      expect(again.version, flags.version);
      expect(flags.status.kind, 'json');
      expect(flags.status.healthy, isTrue);
    });

    test('evaluateAt floors sub-millisecond instants, also before 1970', () {
      final before = DateTime.utc(1969, 12, 31, 23, 59, 59, 999, 500);
      // Only the instant changes, not the answer of a percentage flag.
      expect(
        flags.evaluateAt('enrollment_service', {'user_id': 42}, before),
        flags.evaluate('enrollment_service', {'user_id': 42}),
      );
    });
  });

  group('contexts', () {
    test('convert ints, bools and null as docs/bucketing.md says', () {
      Evaluation eval(Map<String, Object?> context) =>
          flags.evaluate('enrollment_service', context);
      expect(eval({'user_id': 42}), eval({'user_id': '42'}));
      expect(eval({'user_id': -7}), eval({'user_id': '-7'}));
      expect(eval({'user_id': true}), eval({'user_id': 'true'}));
      expect(eval({'user_id': false}), eval({'user_id': 'false'}));
      expect(eval({'user_id': null}), eval({}));
      expect(eval({}).reason, Reason.missingBucketKey);
      expect(eval({'user_id': 1 << 62}), eval({'user_id': '${1 << 62}'}));
    });

    test('reject other value types with an ArgumentError', () {
      for (final bad in <Object>[1.5, 42.0, <String>[], <String, Object>{}]) {
        expect(
          () => flags.isEnabled('beta', {'user_id': bad}),
          throwsA(isA<ArgumentError>()),
          reason: '$bad',
        );
        expect(() => FlagsContext({'user_id': bad}), throwsArgumentError);
      }
      expect(() => flags.isEnabled('beta', {1: 'x'}), throwsArgumentError);
      expect(() => flags.isEnabled('beta', 'user-1'), throwsArgumentError);
    });

    test('reject an empty attribute name', () {
      expect(() => FlagsContext({'': 'x'}), throwsArgumentError);
    });

    test('a FlagsContext is reused for many evaluations', () {
      final ctx = FlagsContext({'user_id': 42, 'tenant_id': 'acme', 'x': null});
      addTearDown(ctx.close);
      expect(ctx.attributes, {'user_id': '42', 'tenant_id': 'acme'});
      for (var i = 0; i < 1000; i++) {
        expect(flags.isEnabled('enrollment_service', ctx), isTrue);
      }
      expect(flags.evaluate('enrollment_service', ctx).bucket, 374);
      expect(flags.variant('arms', ctx), 'treatment');
      expect(flags.enabledFlags(ctx), flags.enabledFlags({'user_id': 42}));
    });

    test('close() twice is harmless; use after close throws', () {
      final ctx = FlagsContext({'user_id': 1});
      ctx.close();
      ctx.close();
      expect(ctx.isClosed, isTrue);
      expect(() => flags.isEnabled('beta', ctx), throwsStateError);
    });
  });

  group('opening', () {
    test('bad JSON throws INVALID_FLAGS with every problem', () {
      expect(
        () => Flags.openJson(
          '{"version": 1, "flags": {"x": {"percentge": 5}}}',
        ),
        throwsA(
          isA<FlagsException>()
              .having((e) => e.code, 'code', FlagsErrorCode.invalidFlags)
              .having((e) => e.message, 'message', contains('percentge'))
              .having((e) => e.message, 'message', contains('<input>:1:')),
        ),
      );
    });

    test('a missing file throws IO', () async {
      final dir = await tempDir();
      addTearDown(() => dir.delete(recursive: true));
      expect(
        () => Flags.openFile('${dir.path}/nope.json'),
        throwsA(
          isA<FlagsException>()
              .having((e) => e.code, 'code', FlagsErrorCode.io),
        ),
      );
    });

    test('negative or huge intervals are argument errors', () {
      expect(
        () => Flags.openFile('x', checkInterval: const Duration(days: -1)),
        throwsArgumentError,
      );
      // The C ABI reads 0 as its default; the Dart API refuses it (and a
      // duration that rounds down to 0 ms) and names the range and the
      // default.
      for (final zero in [Duration.zero, const Duration(microseconds: 999)]) {
        expect(
          () => Flags.openFile('x', checkInterval: zero),
          throwsA(
            isA<ArgumentError>()
                .having((e) => e.name, 'name', 'checkInterval')
                .having(
                  (e) => e.message,
                  'message',
                  'must be from 1 ms to 2^32 - 1 ms; '
                      'leave it out for the default, 1 s',
                ),
          ),
        );
      }
      expect(
        () => Flags.openRemote(
          'http://127.0.0.1:1/',
          refreshInterval: Duration.zero,
        ),
        throwsA(
          isA<ArgumentError>()
              .having((e) => e.name, 'name', 'refreshInterval'),
        ),
      );
      expect(
        () => Flags.openRemote('http://127.0.0.1:1/', timeout: Duration.zero),
        throwsA(isA<ArgumentError>().having((e) => e.name, 'name', 'timeout')),
      );
      expect(
        () => Flags.openRemote(
          'http://127.0.0.1:1/',
          timeout: const Duration(days: 100),
        ),
        throwsArgumentError,
      );
    });
  });

  group('a file source', () {
    late Directory dir;
    late String path;
    setUp(() async {
      dir = await tempDir();
      path = '${dir.path}${Platform.pathSeparator}flags.json';
      File(path).writeAsStringSync(sampleFlags);
    });
    tearDown(() => dir.delete(recursive: true));

    test('reloads an edit, and changes emits the new version', () async {
      final file = Flags.openFile(
        path,
        checkInterval: const Duration(milliseconds: 20),
      );
      addTearDown(file.close);
      final before = file.version;
      expect(file.isEnabled('beta'), isTrue);

      final changes = <String>[];
      final subscription = file.changes.listen(changes.add);
      addTearDown(subscription.cancel);

      // A different size, so even a coarse mtime notices the edit.
      _replace(
        path,
        sampleFlags.replaceFirst(
          '"beta": { "percentage": 100 }',
          '"beta": { "percentage": 0, "description": "paused" }',
        ),
      );
      await eventually(() => changes.isNotEmpty, reason: 'no change event');
      expect(changes.single, isNot(before));
      expect(changes.single, file.version);
      expect(file.isEnabled('beta'), isFalse);
      expect(file.status.reloads, greaterThanOrEqualTo(1));
    });

    test('a bad edit keeps the last good flags', () async {
      final file = Flags.openFile(
        path,
        checkInterval: const Duration(milliseconds: 20),
      );
      addTearDown(file.close);
      final before = file.version;

      _replace(path, '{"version": 1, "flags": {"beta": {"percentage": 150}}}');
      await eventually(
        () {
          // An evaluation is an access: the file's metadata is checked then.
          file.isEnabled('beta');
          return !file.status.healthy;
        },
        reason: 'the bad file was not noticed',
      );
      expect(file.version, before);
      expect(file.isEnabled('beta'), isTrue);
      expect(file.status.lastError, contains('percentage'));
    });

    test('changes closes with close()', () async {
      final file = Flags.openFile(path);
      final done = Completer<void>();
      file.changes.listen((_) {}, onDone: done.complete);
      file.close();
      await done.future.timeout(const Duration(seconds: 5));
    });
  });

  group('closing', () {
    test('close() twice is harmless', () {
      final source = Flags.openJson(sampleFlags);
      source.close();
      source.close();
      expect(source.isClosed, isTrue);
      expect(source.toString(), 'Flags(closed)');
    });

    test('using a closed source throws a StateError', () {
      final source = Flags.openJson(sampleFlags)..close();
      expect(() => source.isEnabled('beta'), throwsStateError);
      expect(() => source.evaluate('beta'), throwsStateError);
      expect(() => source.version, throwsStateError);
      expect(() => source.changes, throwsStateError);
    });

    test('sources left to the garbage collector are finalized', () {
      // Nothing to observe from Dart but the absence of a crash: the
      // NativeFinalizer calls flags_source_free on a GC thread.
      for (var i = 0; i < 200; i++) {
        Flags.openJson(sampleFlags).isEnabled('beta');
        FlagsContext({'user_id': i});
      }
    });
  });
}

/// Replaces [path]'s content the way editors do: write aside, rename over.
void _replace(String path, String content) {
  final aside = '$path.tmp';
  File(aside).writeAsStringSync(content);
  File(aside).renameSync(path);
}
