import 'dart:convert';
import 'dart:ffi';
import 'dart:io' show Platform;

import 'package:ffi/ffi.dart';

import 'bindings.dart' as native;
import 'errors.dart';
import 'strings.dart';

/// Edits a flag file exactly as the `flags` commands do, through the same
/// code (the C ABI's `flags_file_edit`): the directory lock shared with
/// every other edit, validation before writing, an atomic write refused
/// when someone else changed the file meanwhile, and one audit record per
/// edit. The Dart counterpart of PHP's `Flags\FlagFile`.
///
/// ```dart
/// final file = FlagFile('/etc/myapp/flags.json', actor: 'oncall');
/// final result = file.kill('checkout');
/// print(result.summary); // checkout: killed
/// file.apply([
///   FlagEdit.setPercentage('search_v2', '12.5'),
///   FlagEdit.addPilots(null, ['42']), // null: the top-level pilots
/// ]);
/// ```
///
/// Every failure throws a [FlagsException] whose message is the one `flags`
/// prints, and nothing is written: [FlagsErrorCode.conflict] when the file
/// changed since it was read or another edit held it longer than
/// [lockWait] (run it again), [FlagsErrorCode.invalidFlags] for an invalid
/// file (or a [replace] with invalid text), [FlagsErrorCode.invalidArgument]
/// for an edit that cannot be made (an unknown flag, a bad percentage),
/// [FlagsErrorCode.io]. (The one [FlagsErrorCode.io] error whose message
/// says "written, but the audit log ... could not be appended" comes after
/// the file was written.)
///
/// The calls block the calling isolate while they read and write the file,
/// and for at most [lockWait] while another edit finishes: run them off the
/// UI isolate in a Flutter app.
final class FlagFile {
  /// An editor of the flag file at [path].
  ///
  /// [auditLog]: where to append the audit record (default
  /// `FILE.audit.jsonl` beside the file, as `flags` does). [actor]: who
  /// makes the change, not blank (default, as `flags`: `$SUDO_USER`, else
  /// the login name of the process's uid, else `uid:N`). [command]: the
  /// audit record's `command`, e.g. `myapp flags kill checkout` (default:
  /// the running executable). [reason]: why the changes are made, the
  /// audit record's `reason` (as `flags --reason`; default none).
  /// [lockWait]: how long to wait for another edit of the same directory,
  /// 0 to 60 s (default 30 s). Throws an [ArgumentError] for a blank
  /// [actor] or a [lockWait] out of range.
  FlagFile(
    this.path, {
    this.auditLog,
    this.actor,
    String? command,
    this.reason,
    this.lockWait = const Duration(seconds: 30),
  }) : command = command ?? _defaultCommand() {
    if (actor != null && actor!.trim().isEmpty) {
      throw ArgumentError.value(
        actor,
        'actor',
        'must not be blank: give a name, or leave it out to record the '
            'login name',
      );
    }
    if (lockWait.isNegative || lockWait > const Duration(seconds: 60)) {
      throw RangeError.value(
        lockWait.inMilliseconds,
        'lockWait',
        'expected 0 to 60000 ms',
      );
    }
  }

  /// The flag file, as given.
  final String path;

  /// Where the audit record goes; null: `FILE.audit.jsonl` beside the file.
  final String? auditLog;

  /// Who makes the change; null: the rule of `flags`.
  final String? actor;

  /// The audit record's `command`.
  final String command;

  /// The audit record's `reason`; null: none.
  final String? reason;

  /// How long an edit waits for another edit of the same directory.
  final Duration lockWait;

  /// Applies [edits], in order, to one read of the file, validates the
  /// result and writes it once, with ONE audit record. With [dryRun],
  /// computes the change and writes nothing.
  EditResult apply(List<FlagEdit> edits, {bool dryRun = false}) {
    if (edits.isEmpty) {
      throw ArgumentError.value(edits, 'edits', 'must not be empty');
    }
    final request = jsonEncode({
      'path': path,
      'ops': [for (final edit in edits) edit._json],
      'dry_run': dryRun,
      if (auditLog != null) 'audit_log': auditLog,
      if (actor != null) 'actor': actor,
      'command': command,
      if (reason != null) 'reason': reason,
      'lock_wait_ms': lockWait.inMilliseconds,
    });
    final (code, out, error) = _call(
      (out, error) => withUtf8(
        request,
        (bytes, length) => native.flagsFileEdit(bytes, length, out, error),
      ),
    );
    if (code != native.FlagsResultCode.ok || out == null) {
      _throw(code, error);
    }
    return EditResult._fromJson(jsonDecode(out) as Map<String, Object?>);
  }

  /// `flags set FILE FLAG --percentage N`: 0 to 100, at most two decimals
  /// (`'12.5'`, `12.5`, `'12.5%'`).
  EditResult setPercentage(
    String flag,
    Object percentage, {
    bool dryRun = false,
  }) => apply([FlagEdit.setPercentage(flag, percentage)], dryRun: dryRun);

  /// `flags set FILE FLAG --ramp POINTS`.
  EditResult setRamp(
    String flag,
    List<(Object, DateTime)> points, {
    bool dryRun = false,
  }) => apply([FlagEdit.setRamp(flag, points)], dryRun: dryRun);

  /// `flags pilots FILE (FLAG | --global) --add ID...`; a null [flag] edits
  /// the top-level pilots.
  EditResult addPilots(
    String? flag,
    List<String> ids, {
    String attribute = 'user_id',
    bool dryRun = false,
  }) => apply([
    FlagEdit.addPilots(flag, ids, attribute: attribute),
  ], dryRun: dryRun);

  /// `flags pilots FILE (FLAG | --global) --remove ID...`.
  EditResult removePilots(
    String? flag,
    List<String> ids, {
    String attribute = 'user_id',
    bool dryRun = false,
  }) => apply([
    FlagEdit.removePilots(flag, ids, attribute: attribute),
  ], dryRun: dryRun);

  /// `flags kill FILE FLAG`.
  EditResult kill(String flag, {bool dryRun = false}) =>
      apply([FlagEdit.kill(flag)], dryRun: dryRun);

  /// `flags unkill FILE FLAG`.
  EditResult unkill(String flag, {bool dryRun = false}) =>
      apply([FlagEdit.unkill(flag)], dryRun: dryRun);

  /// `flags pause FILE FLAG`: the flag's ramp stays at its percentage of
  /// [at] (default now) until [resume] (writes `paused_at`; a flag
  /// already paused keeps its earlier time). The flag must have a ramp.
  EditResult pause(String flag, {DateTime? at, bool dryRun = false}) =>
      apply([FlagEdit.pause(flag, at: at)], dryRun: dryRun);

  /// `flags resume FILE FLAG`: the ramp follows its schedule again
  /// (removes `paused_at`).
  EditResult resume(String flag, {bool dryRun = false}) =>
      apply([FlagEdit.resume(flag)], dryRun: dryRun);

  /// `flags stage FILE FLAG [--stage S] [--next N] [--pilot-stage P]
  /// [--safe S]`: moves a migration flag (docs/migrations.md). Each stage
  /// given (`off`, `dualwrite`, `shadow`, `live`, `rampdown`, `complete`)
  /// is written into its `migration`; null leaves it as it is.
  EditResult stage(
    String flag, {
    String? stage,
    String? next,
    String? pilotStage,
    String? safe,
    bool dryRun = false,
  }) => apply([
    FlagEdit.stage(flag,
        stage: stage, next: next, pilotStage: pilotStage, safe: safe),
  ], dryRun: dryRun);

  /// `flags stage FILE FLAG --rollback`: nobody past the migration flag's
  /// stage any more (next and pilot stage written as the stage), as a
  /// `rollback` guard does.
  EditResult rollback(String flag, {bool dryRun = false}) =>
      apply([FlagEdit.rollback(flag)], dryRun: dryRun);

  /// `flags kill-all FILE`.
  EditResult killAll({bool dryRun = false}) =>
      apply([const FlagEdit.killAll()], dryRun: dryRun);

  /// `flags unkill-all FILE`.
  EditResult unkillAll({bool dryRun = false}) =>
      apply([const FlagEdit.unkillAll()], dryRun: dryRun);

  /// `flags create FILE FLAG [--description TEXT] [--owner TEXT]`.
  EditResult create(
    String flag, {
    String? description,
    String? owner,
    bool dryRun = false,
  }) => apply([
    FlagEdit.create(flag, description: description, owner: owner),
  ], dryRun: dryRun);

  /// `flags delete FILE FLAG`.
  EditResult delete(String flag, {bool dryRun = false}) =>
      apply([FlagEdit.delete(flag)], dryRun: dryRun);

  /// Replaces the whole file with [text], a valid flag file; creates the
  /// file when it does not exist.
  EditResult replace(String text, {bool dryRun = false}) =>
      apply([FlagEdit.replace(text)], dryRun: dryRun);

  /// The document `flags status FILE --json [--now T]` prints, decoded; at
  /// [now], or at the system clock.
  Map<String, Object?> status({DateTime? now}) {
    // INT64_MIN: the system clock.
    const clock = -0x7FFFFFFFFFFFFFFF - 1;
    final ms = now == null ? clock : unixMillisFloor(now);
    final (code, out, error) = _call(
      (out, error) => withUtf8(
        path,
        (bytes, length) =>
            native.flagsFileStatusJson(bytes, length, ms, out, error),
      ),
    );
    if (code != native.FlagsResultCode.ok || out == null) {
      _throw(code, error);
    }
    return jsonDecode(out) as Map<String, Object?>;
  }

  /// Calls [body] with `char **out` and `char **error_out`, and takes both
  /// strings.
  static (int, String?, String?) _call(
    int Function(Pointer<Pointer<Char>> out, Pointer<Pointer<Char>> error)
        body,
  ) {
    final out = calloc<Pointer<Char>>();
    final error = calloc<Pointer<Char>>();
    try {
      final code = body(out, error);
      return (code, takeString(out.value), takeString(error.value));
    } finally {
      calloc.free(out);
      calloc.free(error);
    }
  }

  static Never _throw(int code, String? message) {
    // OK without a result would be a bug of the library.
    final failed = code == native.FlagsResultCode.ok
        ? native.FlagsResultCode.panic
        : code;
    throw FlagsException(
      FlagsErrorCode.fromValue(failed),
      message ?? staticString(native.flagsResultMessage(failed)),
      rawCode: failed,
    );
  }

  /// The running executable, as the audit record's `command` when none is
  /// given (a program's own arguments are only known to its `main`).
  static String _defaultCommand() => _quote(Platform.resolvedExecutable);

  /// [word] quoted for a POSIX shell where needed.
  static String _quote(String word) =>
      RegExp(r'^[A-Za-z0-9_@%+=:,./-]+$').hasMatch(word)
          ? word
          : "'${word.replaceAll("'", r"'\''")}'";
}

/// One operation of [FlagFile.apply]: the edit of one `flags` command.
final class FlagEdit {
  const FlagEdit._(this._json);

  /// `flags set FILE FLAG --percentage N`: [percentage] a number or a
  /// string such as `'12.5'`.
  FlagEdit.setPercentage(String flag, Object percentage)
    : this._({'op': 'set_percentage', 'flag': flag, 'percentage': percentage});

  /// `flags set FILE FLAG --ramp POINTS`: `(percentage, time)` points,
  /// times strictly increasing.
  FlagEdit.setRamp(String flag, List<(Object, DateTime)> points)
      : this._({
          'op': 'set_ramp',
          'flag': flag,
          'points': [
            for (final (percentage, at) in points)
              [percentage, at.toUtc().toIso8601String()],
          ],
        });

  /// `flags pilots FILE (FLAG | --global) --add ID...`.
  FlagEdit.addPilots(String? flag, List<String> ids,
      {String attribute = 'user_id'})
      : this._({
          'op': 'add_pilots',
          'flag': flag,
          'ids': ids,
          'attribute': attribute,
        });

  /// `flags pilots FILE (FLAG | --global) --remove ID...`.
  FlagEdit.removePilots(String? flag, List<String> ids,
      {String attribute = 'user_id'})
      : this._({
          'op': 'remove_pilots',
          'flag': flag,
          'ids': ids,
          'attribute': attribute,
        });

  /// `flags kill FILE FLAG`.
  FlagEdit.kill(String flag) : this._({'op': 'kill', 'flag': flag});

  /// `flags unkill FILE FLAG`.
  FlagEdit.unkill(String flag) : this._({'op': 'unkill', 'flag': flag});

  /// `flags pause FILE FLAG`, at [at] (default now).
  FlagEdit.pause(String flag, {DateTime? at})
      : this._({
          'op': 'pause',
          'flag': flag,
          if (at != null) 'at': at.toUtc().toIso8601String(),
        });

  /// `flags resume FILE FLAG`.
  FlagEdit.resume(String flag) : this._({'op': 'resume', 'flag': flag});

  /// `flags stage FILE FLAG [--stage S] [--next N] [--pilot-stage P]
  /// [--safe S]`: the stages given, by name.
  FlagEdit.stage(String flag,
      {String? stage, String? next, String? pilotStage, String? safe})
      : this._({
          'op': 'stage',
          'flag': flag,
          if (stage != null) 'stage': stage,
          if (next != null) 'next': next,
          if (pilotStage != null) 'pilot_stage': pilotStage,
          if (safe != null) 'safe': safe,
        });

  /// `flags stage FILE FLAG --rollback`.
  FlagEdit.rollback(String flag) : this._({'op': 'rollback', 'flag': flag});

  /// `flags kill-all FILE`.
  const FlagEdit.killAll() : this._(const {'op': 'kill_all'});

  /// `flags unkill-all FILE`.
  const FlagEdit.unkillAll() : this._(const {'op': 'unkill_all'});

  /// `flags create FILE FLAG [--description TEXT] [--owner TEXT]`.
  FlagEdit.create(String flag, {String? description, String? owner})
      : this._({
          'op': 'create',
          'flag': flag,
          'description': description,
          'owner': owner,
        });

  /// `flags delete FILE FLAG`.
  FlagEdit.delete(String flag) : this._({'op': 'delete', 'flag': flag});

  /// The whole file, replaced by [text] (validated).
  FlagEdit.replace(String text) : this._({'op': 'replace', 'text': text});

  final Map<String, Object?> _json;
}

/// What an edit did: what the `flags` command prints, and the content
/// hashes of its audit record.
final class EditResult {
  const EditResult._({
    required this.written,
    required this.dryRun,
    required this.summary,
    required this.changes,
    required this.before,
    required this.after,
    required this.auditLog,
  });

  factory EditResult._fromJson(Map<String, Object?> json) => EditResult._(
        written: json['written']! as bool,
        dryRun: json['dry_run']! as bool,
        summary: json['summary']! as String,
        changes: List.unmodifiable((json['changes']! as List).cast<String>()),
        before: json['before']! as String,
        after: json['after']! as String,
        auditLog: json['audit_log'] as String?,
      );

  /// True only when the file was replaced (false on a dry run and when
  /// nothing changed).
  final bool written;

  /// It was a dry run.
  final bool dryRun;

  /// The line `flags` prints after the edit, without `FILE: `, or
  /// `no changes; nothing was written`.
  final String summary;

  /// The lines `flags ... --dry-run` prints.
  final List<String> changes;

  /// The content hash before the edit (32 hex digits).
  final String before;

  /// The content hash after (the same as [before] when nothing changed).
  final String after;

  /// The audit log appended (absolute path); null when nothing was written.
  final String? auditLog;

  @override
  String toString() => 'EditResult($summary)';
}
