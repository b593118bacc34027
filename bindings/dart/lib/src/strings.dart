/// Moving strings across the C ABI: UTF-8 in, owned `char *` out.
///
/// Dart strings are UTF-16. Everything crosses the boundary as UTF-8 bytes
/// (`utf8.encode`), never as UTF-16 code units: bucketing hashes the UTF-8
/// bytes, and `José` must land in the same bucket as it does in Rust, PHP
/// and C (see `docs/bucketing.md`, "UTF-16").
library;

import 'dart:convert';
import 'dart:ffi';

import 'package:ffi/ffi.dart';

import 'bindings.dart' as native;

/// Runs [body] with the UTF-8 bytes of [value] in a native buffer (pointer
/// and length, no NUL terminator needed), then frees the buffer.
///
/// An unpaired surrogate in [value] becomes U+FFFD, as `utf8.encode` does,
/// so the bytes are always valid UTF-8.
R withUtf8<R>(String value, R Function(Pointer<Uint8> bytes, int length) body) {
  final encoded = utf8.encode(value);
  final length = encoded.length;
  // malloc(0) may return NULL, which the library would reject as a NULL
  // argument; an empty string is a valid one-byte allocation of length 0.
  final buffer = malloc<Uint8>(length == 0 ? 1 : length);
  try {
    buffer.asTypedList(length).setAll(0, encoded);
    return body(buffer, length);
  } finally {
    malloc.free(buffer);
  }
}

/// Runs [body] with two strings in one native buffer (attribute and value).
R withUtf8Pair<R>(
  String first,
  String second,
  R Function(Pointer<Uint8> a, int aLength, Pointer<Uint8> b, int bLength) body,
) {
  final a = utf8.encode(first);
  final b = utf8.encode(second);
  final total = a.length + b.length;
  final buffer = malloc<Uint8>(total == 0 ? 1 : total);
  try {
    buffer.asTypedList(total)
      ..setAll(0, a)
      ..setAll(a.length, b);
    return body(buffer, a.length, buffer + a.length, b.length);
  } finally {
    malloc.free(buffer);
  }
}

/// Copies an owned string the library returned, then frees it with
/// `flags_string_free`. Returns null for NULL.
String? takeString(Pointer<Char> owned) {
  if (owned == nullptr) return null;
  try {
    return owned.cast<Utf8>().toDartString();
  } finally {
    native.flagsStringFree(owned);
  }
}

/// Copies a static string the library returned (never freed).
String staticString(Pointer<Char> string) =>
    string == nullptr ? '' : string.cast<Utf8>().toDartString();

/// Calls [body] with a `char **` out-parameter and takes ownership of the
/// string it receives. Returns the result code and the string (or null).
(int, String?) withStringOut(int Function(Pointer<Pointer<Char>> out) body) {
  final out = calloc<Pointer<Char>>();
  try {
    final code = body(out);
    return (code, takeString(out.value));
  } finally {
    calloc.free(out);
  }
}

/// Unix milliseconds of [time], floored (also before 1970), as the C ABI's
/// `*_at` functions and `docs/bucketing.md` want them.
int unixMillisFloor(DateTime time) {
  final micros = time.microsecondsSinceEpoch;
  // `%` with a positive divisor is never negative in Dart, so this floors.
  return (micros - micros % 1000) ~/ 1000;
}
