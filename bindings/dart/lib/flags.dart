/// Feature flags and percentage rollouts from one flag file, evaluated by the
/// same Rust core as every other flags SDK, through its C ABI.
///
/// ```dart
/// import 'package:flags/flags.dart';
///
/// void main() {
///   final flags = Flags.openJson('''
///     {"version": 1, "flags": {"enrollment_service": {"percentage": 12.5}}}
///   ''');
///   // User 42 is in bucket 374 of 10,000: inside the 12.5% rollout.
///   final detail = flags.evaluate('enrollment_service', {'user_id': 42});
///   assert(detail.enabled && detail.bucket == 374);
///   assert(detail.reason == Reason.rolloutIn);
///   // Unknown flags are off; evaluation never throws for them.
///   assert(!flags.isEnabled('no_such_flag'));
///   flags.close();
/// }
/// ```
///
/// * [Flags.openFile] (hot-reloading), [Flags.openJson] and
///   [Flags.openRemote] (a `flags serve` server, with an offline cache) open
///   a source synchronously, or throw a [FlagsException].
/// * [Flags.isEnabled], [Flags.variant], [Flags.evaluate] and
///   [Flags.enabledFlags] are synchronous and cheap: call them from a Flutter
///   `build()` method.
/// * [Flags.openClient] opens the client mode instead: the server's
///   answers for one context ([FlagsClient]), for an app whose token may
///   only evaluate. The package README says which mode fits when.
/// * [FlagsContext] converts a context once for many evaluations.
/// * [Flags.changes] streams the new version whenever the flags change.
///
/// * [Migrator] runs reads and writes under a migration flag (old system,
///   new system, or both with one compared), records each and can send the
///   records to the flags server ([MigrationReporter]).
///
/// * [FlagFile] edits a flag file as the `flags` commands do (the same
///   code: lock, validation, atomic write, conflict refusal, audit record).
///
/// What this package does not do: it does not run on the web (there is no
/// `dart:ffi` there; web apps use the OFREP endpoints of `flags serve`), and
/// it does not evaluate or edit in pure Dart: every answer and every edit
/// comes from the native library that `hook/build.dart` builds.
library;

export 'src/context.dart' show FlagsContext;
export 'src/errors.dart' show FlagsErrorCode, FlagsException;
export 'src/evaluation.dart' show Evaluation, Reason;
export 'src/flag_file.dart' show EditResult, FlagEdit, FlagFile;
export 'src/flags.dart' show Flags, FlagsClient, FlagsStatus;
export 'src/migration.dart'
    show
        MigrationErrorHandler,
        MigrationMeasure,
        MigrationPlan,
        MigrationRecord,
        MigrationRecorder,
        MigrationReporter,
        MigrationSide,
        MigrationStage,
        Migrator;
