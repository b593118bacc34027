// The shared golden vectors (tests/vectors/*.json) through the Dart package:
// every case of every evaluation file, and every invalid file.
//
// The same files are run by the Rust tests, the C test program and the PHP
// tests; docs/bucketing.md ("Checking an implementation") says how.

import 'dart:convert';
import 'dart:io';
import 'dart:typed_data';

import 'package:flags/flags.dart';
import 'package:test/test.dart';

import 'support.dart';

void main() {
  final files = vectorsDirectory()
      .listSync()
      .whereType<File>()
      .where((f) => f.path.endsWith('.json'))
      .toList()
    ..sort((a, b) => a.path.compareTo(b.path));
  final evaluationFiles =
      files.where((f) => !_name(f).startsWith('invalid-')).toList();
  final invalidFiles =
      files.where((f) => _name(f).startsWith('invalid-')).toList();

  test('the vectors are there', () {
    expect(evaluationFiles, isNotEmpty);
    expect(invalidFiles, isNotEmpty);
  });

  for (final file in evaluationFiles) {
    final vectors = jsonDecode(file.readAsStringSync()) as Map<String, Object?>;
    final cases =
        (vectors['cases']! as List<Object?>).cast<Map<String, Object?>>();

    group(_name(file), () {
      late Flags flags;
      setUpAll(() => flags = Flags.openJson(jsonEncode(vectors['file'])));
      tearDownAll(() => flags.close());

      for (final vector in cases) {
        final flag = vector['flag']! as String;
        final context = (vector['context'] as Map<String, Object?>?) ?? {};
        final now = DateTime.parse(vector['now']! as String);
        final expected = vector['expected']! as Map<String, Object?>;

        test(vector['name']! as String, () {
          // A map converted for this call...
          final detail = flags.evaluateAt(flag, context, now);
          expect(detail.toJson(), equals(expected));
          // ... and the same context converted once and reused.
          final reusable = FlagsContext(context);
          addTearDown(reusable.close);
          expect(flags.evaluateAt(flag, reusable, now), equals(detail));
        });
      }
    });
  }

  for (final file in invalidFiles) {
    final vectors = jsonDecode(file.readAsStringSync()) as Map<String, Object?>;
    final cases =
        (vectors['cases']! as List<Object?>).cast<Map<String, Object?>>();

    group(_name(file), () {
      late Directory dir;
      setUpAll(() async => dir = await tempDir());
      tearDownAll(() => dir.delete(recursive: true));

      for (final (index, vector) in cases.indexed) {
        final errors =
            (vector['errors']! as List<Object?>).cast<Map<String, Object?>>();

        test(vector['name']! as String, () {
          final FlagsException error;
          final text = vector['text'] as String?;
          if (text != null) {
            error = _openError(() => Flags.openJson(text));
          } else {
            // Invalid UTF-8 cannot be a Dart String: go through a file.
            final bytes = _hex(vector['hex']! as String);
            final path = '${dir.path}${Platform.pathSeparator}case-$index.json';
            File(path).writeAsBytesSync(bytes);
            error = _openError(() => Flags.openFile(path));
          }
          expect(error.code, FlagsErrorCode.invalidFlags, reason: '$error');
          // Every problem, in document order, as FILE:LINE:COL: PATH: message.
          expect(
            _positions(error.message),
            equals([
              for (final e in errors)
                (e['path']! as String, e['line']! as int, e['column']! as int),
            ]),
            reason: error.message,
          );
        });
      }
    });
  }
}

String _name(File file) => file.uri.pathSegments.last;

FlagsException _openError(Flags Function() open) {
  try {
    open().close();
  } on FlagsException catch (e) {
    return e;
  }
  fail('opening an invalid flag file did not throw');
}

/// (path, line, column) of each `SOURCE:LINE:COL: PATH: message` line.
List<(String, int, int)> _positions(String message) {
  final pattern = RegExp(r':(\d+):(\d+): (.+?): ');
  return [
    for (final line in LineSplitter.split(message))
      if (pattern.firstMatch(line) case final m?)
        (m.group(3)!, int.parse(m.group(1)!), int.parse(m.group(2)!)),
  ];
}

Uint8List _hex(String hex) {
  final clean = hex.replaceAll(RegExp(r'\s'), '');
  return Uint8List.fromList([
    for (var i = 0; i < clean.length; i += 2)
      int.parse(clean.substring(i, i + 2), radix: 16),
  ]);
}
