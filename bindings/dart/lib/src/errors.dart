import 'bindings.dart' as native;

/// The stable result codes of the C ABI, as a Dart enum.
///
/// [value] is the number the C ABI returns (`FLAGS_ERROR_*`), [wireName] the
/// same name without the `FLAGS_ERROR_` prefix. Both are stable.
enum FlagsErrorCode {
  /// A required pointer was NULL (a bug in these bindings if it happens).
  nullArgument(native.FlagsResultCode.nullArgument, 'NULL_ARGUMENT'),

  /// A string argument was not valid UTF-8.
  invalidUtf8(native.FlagsResultCode.invalidUtf8, 'INVALID_UTF8'),

  /// The flag file or JSON failed validation; the message lists every
  /// problem as `FILE:LINE:COL: PATH: message`.
  invalidFlags(native.FlagsResultCode.invalidFlags, 'INVALID_FLAGS'),

  /// A file could not be read.
  io(native.FlagsResultCode.io, 'IO'),

  /// A context could not be built.
  invalidContext(native.FlagsResultCode.invalidContext, 'INVALID_CONTEXT'),

  /// The flag server could not be used (unreachable, refused the token, or a bad answer) and no cache could be used.
  remote(native.FlagsResultCode.remote, 'REMOTE'),

  /// An argument was out of range, e.g. an empty attribute name or a bad URL.
  invalidArgument(native.FlagsResultCode.invalidArgument, 'INVALID_ARGUMENT'),

  /// An internal bug, caught at the boundary of the native library.
  panic(native.FlagsResultCode.panic, 'PANIC'),

  /// An edit found the flag file changed since it read it, or another edit
  /// held it longer than the wait: nothing was written; run it again.
  conflict(native.FlagsResultCode.conflict, 'CONFLICT'),

  /// A code this version of the package does not know (a newer library).
  unknown(-1, 'UNKNOWN');

  const FlagsErrorCode(this.value, this.wireName);

  /// The number the C ABI uses.
  final int value;

  /// The stable name, e.g. `INVALID_FLAGS`.
  final String wireName;

  /// The code for the C ABI's number [value]; [unknown] for numbers this
  /// package does not know.
  static FlagsErrorCode fromValue(int value) {
    for (final code in values) {
      if (code.value == value && code != unknown) return code;
    }
    return unknown;
  }
}

/// Thrown when a flag source cannot be opened, or when the native library
/// reports an error outside evaluation.
///
/// Evaluating an unknown flag never throws: it is `false` with the reason
/// `FLAG_NOT_FOUND`.
final class FlagsException implements Exception {
  /// An exception with [code] and [message]; [rawCode] is the C ABI's number
  /// (kept for codes this package does not know).
  const FlagsException(this.code, this.message, {int? rawCode})
      : rawCode = rawCode ?? -1;

  /// What went wrong, as a stable code.
  final FlagsErrorCode code;

  /// The number the C ABI returned.
  final int rawCode;

  /// The library's message. For [FlagsErrorCode.invalidFlags] it holds one
  /// line per problem: `FILE:LINE:COL: PATH: message`.
  final String message;

  @override
  String toString() => 'FlagsException(${code.wireName}): $message';
}
