import 'bindings.dart' as native;

/// Why an evaluation came out the way it did.
///
/// The values follow the evaluation order of `docs/bucketing.md`; [code] is
/// the C ABI's `FLAGS_REASON_*` number and [wireName] the name used in the
/// golden vectors, the HTTP API and `flags eval` (`ROLLOUT_IN`, ...). Both
/// are stable.
enum Reason {
  /// The file has `kill_all: true`: every flag is off.
  killAll(native.FlagsReasonCode.killAll, 'KILL_ALL'),

  /// The flag is not in the file.
  flagNotFound(native.FlagsReasonCode.flagNotFound, 'FLAG_NOT_FOUND'),

  /// The flag has `killed: true`.
  killed(native.FlagsReasonCode.killed, 'KILLED'),

  /// A `requires` condition failed (an absent attribute fails every one).
  requirementUnmet(
    native.FlagsReasonCode.requirementUnmet,
    'REQUIREMENT_UNMET',
  ),

  /// The context matched the flag's `deny` list.
  denied(native.FlagsReasonCode.denied, 'DENIED'),

  /// The context matched the flag's or the file's `pilots`.
  pilot(native.FlagsReasonCode.pilot, 'PILOT'),

  /// In the percentage rollout (or the rollout is at 100%).
  rolloutIn(native.FlagsReasonCode.rolloutIn, 'ROLLOUT_IN'),

  /// Outside the percentage rollout (or the rollout is at 0%).
  rolloutOut(native.FlagsReasonCode.rolloutOut, 'ROLLOUT_OUT'),

  /// The context lacks the attribute the flag buckets by.
  missingBucketKey(
    native.FlagsReasonCode.missingBucketKey,
    'MISSING_BUCKET_KEY',
  ),

  /// Only from `FlagsClient.evaluate`: the server answered without a reason
  /// of its own (an OFREP server other than `flags serve`). Never from an
  /// evaluation by the library itself.
  unknown(-1, 'UNKNOWN');

  const Reason(this.code, this.wireName);

  /// The C ABI's number (`FLAGS_REASON_*`).
  final int code;

  /// The stable name, e.g. `ROLLOUT_IN`.
  final String wireName;

  /// The reason with the C ABI number [code].
  ///
  /// Throws a [StateError] for a number this package does not know, which
  /// means the native library and the Dart package are from different
  /// versions.
  static Reason fromCode(int code) {
    if (code >= 0 && code < values.length && values[code].code == code) {
      return values[code];
    }
    for (final reason in values) {
      if (reason.code == code) return reason;
    }
    throw StateError(
      'the native library reported reason $code, unknown to this version of '
      'package:flags (library and package versions differ)',
    );
  }

  /// The reason named [wireName] (`ROLLOUT_IN`, ...).
  static Reason fromWireName(String wireName) {
    for (final reason in values) {
      if (reason.wireName == wireName) return reason;
    }
    throw ArgumentError.value(wireName, 'wireName', 'not a reason');
  }
}

/// The detail of one evaluation: the same four fields as the golden vectors,
/// `flags eval` and `POST /v1/evaluate`.
final class Evaluation {
  /// An evaluation result.
  const Evaluation({
    required this.enabled,
    required this.reason,
    this.variant,
    this.bucket,
  });

  /// Whether the flag is on for the context.
  final bool enabled;

  /// The variant, or null when the flag is off or has no variants. For a
  /// migration flag, its stage (`off`, `dualwrite`, `shadow`, `live`,
  /// `rampdown`, `complete`), on or off.
  final String? variant;

  /// Why.
  final Reason reason;

  /// The rollout bucket (0..9999) when the rollout step decided and the
  /// bucketing attribute was present; null otherwise.
  final int? bucket;

  /// The JSON form used by the golden vectors:
  /// `{"enabled", "variant", "reason", "bucket"}`.
  Map<String, Object?> toJson() => {
        'enabled': enabled,
        'variant': variant,
        'reason': reason.wireName,
        'bucket': bucket,
      };

  @override
  bool operator ==(Object other) =>
      other is Evaluation &&
      other.enabled == enabled &&
      other.variant == variant &&
      other.reason == reason &&
      other.bucket == bucket;

  @override
  int get hashCode => Object.hash(enabled, variant, reason, bucket);

  @override
  String toString() => 'Evaluation(enabled: $enabled, variant: $variant, '
      'reason: ${reason.wireName}, bucket: $bucket)';
}
