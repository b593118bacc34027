import 'dart:async';
import 'dart:io';

/// The repository's shared golden vectors (`tests/vectors/*.json`), found
/// from the package root, where `dart test` runs.
Directory vectorsDirectory() {
  final dir = Directory.fromUri(
    Directory.current.uri.resolve('../../tests/vectors/'),
  );
  if (!dir.existsSync()) {
    throw StateError(
      'no golden vectors at ${dir.path}: run `dart test` from bindings/dart '
      'inside the flags repository',
    );
  }
  return dir;
}

/// A small flag file: `beta` at 100% for everyone, `enrollment_service` at
/// 12.5% (user 42 is in bucket 374, `José` in 3726), `off` at 0%, and `arms`
/// at 100% with two variants (user 42: treatment, `alice`: control).
const String sampleFlags = '''
{
  "version": 1,
  "flags": {
    "beta": { "percentage": 100 },
    "enrollment_service": { "percentage": 12.5 },
    "off": { "percentage": 0 },
    "arms": {
      "percentage": 100,
      "variants": [
        { "name": "control", "weight": 50 },
        { "name": "treatment", "weight": 50 }
      ]
    }
  }
}
''';

/// Polls [condition] every [step] until it holds; fails after [timeout].
///
/// Between polls the event loop runs, so timers (the `changes` stream) and
/// other isolates' messages are delivered.
Future<void> eventually(
  FutureOr<bool> Function() condition, {
  Duration timeout = const Duration(seconds: 10),
  Duration step = const Duration(milliseconds: 50),
  String? reason,
}) async {
  final deadline = DateTime.now().add(timeout);
  while (!await condition()) {
    if (DateTime.now().isAfter(deadline)) {
      throw TimeoutException(
        'condition not met within $timeout${reason == null ? '' : ': $reason'}',
      );
    }
    await Future<void>.delayed(step);
  }
}

/// A fresh temporary directory; the caller deletes it.
Future<Directory> tempDir() => Directory.systemTemp.createTemp('flags_dart_');
