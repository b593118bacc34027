import 'dart:ffi';

import 'bindings.dart' as native;
import 'errors.dart';
import 'strings.dart';

/// The attributes of the user, tenant or device a flag is evaluated for,
/// converted once and kept in native memory for many evaluations.
///
/// ```dart
/// final ctx = FlagsContext({'user_id': 42, 'tenant_id': 'acme'});
/// if (flags.isEnabled('new_checkout', ctx)) { ... }
/// ```
///
/// Values are converted as in `docs/bucketing.md`: a [String] as is, an
/// [int] as its decimal form (`42` and `'42'` are the same context), a
/// [bool] as `'true'` / `'false'`, and `null` means the attribute is absent.
/// Any other value (a [double], a [List], ...) throws an [ArgumentError]
/// naming the attribute.
///
/// A context is immutable. Its native memory is released by [close], or by
/// a [NativeFinalizer] when the object is garbage collected.
final class FlagsContext implements Finalizable {
  /// Converts [attributes] and builds the native context.
  FlagsContext(Map<String, Object?> attributes)
      : this._(convertAttributes(attributes));

  FlagsContext._(this.attributes) : _handle = buildNativeContext(attributes) {
    _finalizer.attach(this, _handle.cast(), detach: this);
  }

  static final _finalizer = NativeFinalizer(
    Native.addressOf<
      NativeFunction<Void Function(Pointer<native.FlagsContext>)>
    >(native.flagsContextFree).cast(),
  );

  /// The converted attributes: every value a string, absent ones left out.
  final Map<String, String> attributes;

  Pointer<native.FlagsContext> _handle;

  /// Whether [close] was called.
  bool get isClosed => _handle == nullptr;

  Pointer<native.FlagsContext> get _checkedHandle {
    if (_handle == nullptr) {
      throw StateError('this FlagsContext was closed');
    }
    return _handle;
  }

  /// Releases the native memory now. Calling it again does nothing; using
  /// the context afterwards throws a [StateError].
  void close() {
    final handle = _handle;
    if (handle == nullptr) return;
    _handle = nullptr;
    _finalizer.detach(this);
    native.flagsContextFree(handle);
  }

  @override
  String toString() => 'FlagsContext($attributes)';
}

/// Converts a context map (see [FlagsContext]) to attribute strings.
Map<String, String> convertAttributes(Map<Object?, Object?> attributes) {
  final result = <String, String>{};
  for (final MapEntry(:key, :value) in attributes.entries) {
    if (key is! String) {
      throw ArgumentError.value(key, 'context key', 'must be a String');
    }
    final converted = switch (value) {
      null => null,
      final String s => s,
      final int i => i.toString(),
      final bool b => b ? 'true' : 'false',
      _ => throw ArgumentError.value(
          value,
          'context["$key"]',
          'must be a String, int, bool or null, not ${value.runtimeType}',
        ),
    };
    if (converted != null) result[key] = converted;
  }
  return Map.unmodifiable(result);
}

/// Builds a native context from converted [attributes]. The caller owns the
/// result and frees it with `flags_context_free`.
Pointer<native.FlagsContext> buildNativeContext(
  Map<String, String> attributes,
) {
  final handle = native.flagsContextNew();
  if (handle == nullptr) {
    throw const FlagsException(
      FlagsErrorCode.panic,
      'flags_context_new returned NULL (an internal error of the library)',
    );
  }
  for (final MapEntry(:key, :value) in attributes.entries) {
    final code = withUtf8Pair(
      key,
      value,
      (a, aLength, b, bLength) =>
          native.flagsContextSet(handle, a, aLength, b, bLength),
    );
    if (code != native.FlagsResultCode.ok) {
      native.flagsContextFree(handle);
      final message = staticString(native.flagsResultMessage(code));
      if (code == native.FlagsResultCode.invalidArgument) {
        throw ArgumentError.value(key, 'context key', message);
      }
      throw FlagsException(
        FlagsErrorCode.fromValue(code),
        'attribute "$key": $message',
        rawCode: code,
      );
    }
  }
  return handle;
}

/// Runs [body] with the native context for [context]: null (empty), a
/// [FlagsContext] (reused), or a map (converted for this call only).
R withNativeContext<R>(
  Object? context,
  R Function(Pointer<native.FlagsContext> handle) body,
) {
  if (context == null) return body(nullptr);
  if (context is FlagsContext) {
    // A local of a Finalizable type keeps the context alive, and its native
    // memory allocated, until the end of this scope.
    final FlagsContext reused = context;
    return body(reused._checkedHandle);
  }
  if (context is Map<Object?, Object?>) {
    final handle = buildNativeContext(convertAttributes(context));
    try {
      return body(handle);
    } finally {
      native.flagsContextFree(handle);
    }
  }
  throw ArgumentError.value(
    context,
    'context',
    'must be a Map<String, Object?>, a FlagsContext or null',
  );
}
