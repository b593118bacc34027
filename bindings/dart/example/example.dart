// A tour of package:flags: open a flag file, evaluate, reuse a context,
// follow changes.
//
//   dart run example/example.dart [path/to/flags.json]
//
// Without an argument it opens examples/flags.json of the repository.

import 'dart:io';

import 'package:flags/flags.dart';

Future<void> main(List<String> args) async {
  final path = args.isNotEmpty ? args.first : '../../examples/flags.json';

  final Flags flags;
  try {
    flags = Flags.openFile(path, checkInterval: const Duration(seconds: 1));
  } on FlagsException catch (e) {
    // Every problem of a bad file, with line and column.
    stderr.writeln('cannot open $path (${e.code.wireName}):\n${e.message}');
    exitCode = 1;
    return;
  }
  print('flags ${flags.version} (library ${Flags.libraryVersion})');

  // A one-off context: a map of strings, ints, bools (null means absent).
  final detail = flags.evaluate('enrollment_service', {'user_id': 42});
  print('enrollment_service for user 42: $detail');

  // A context used for many evaluations: convert it once.
  final user = FlagsContext({
    'user_id': 7,
    'tenant_id': 'acme',
    'app_version': '3.4.1',
  });
  for (final flag in ['community_dual_write', 'tenant_billing_v2', 'nope']) {
    print('$flag: ${flags.isEnabled(flag, user)} '
        '(variant ${flags.variant(flag, user)})');
  }
  print('on for user 7: ${flags.enabledFlags(user)}');

  // Edit the file within ten seconds to see a change.
  print('watching $path for 10 s...');
  final subscription = flags.changes.listen((version) {
    print('new flags: $version; on for user 7: ${flags.enabledFlags(user)}');
  });
  await Future<void>.delayed(const Duration(seconds: 10));
  await subscription.cancel();

  user.close();
  flags.close();
}
