<?php
// Loads flags_php.h with FFI::cdef against the built library and uses each
// kind of function once: static strings, a source, a context, an
// evaluation with an owned variant, an owned error message, and frees.
// The PHP package builds on exactly these patterns.
//
// Usage: php -d ffi.enable=1 php_ffi.php FLAGS_PHP_H LIBFLAGS_FFI_SO

declare(strict_types=1);

[$script, $header, $library] = $argv + [null, null, null];
if ($header === null || $library === null) {
    fwrite(STDERR, "usage: php $script FLAGS_PHP_H LIBFLAGS_FFI_SO\n");
    exit(2);
}

$failures = 0;
$checks = 0;
function check(bool $ok, string $what): void
{
    global $failures, $checks;
    $checks++;
    if (!$ok) {
        $failures++;
        fwrite(STDERR, "FAIL: $what\n");
    }
}

$ffi = FFI::cdef(file_get_contents($header), $library);

// Static strings come back as PHP strings (declared `const char *`).
$version = $ffi->flags_library_version();
check(is_string($version) && preg_match('/^\d+\.\d+\.\d+/', $version) === 1, "version: $version");
check($ffi->flags_reason_name($ffi->FLAGS_REASON_ROLLOUT_IN) === 'ROLLOUT_IN', 'reason name');
check($ffi->flags_result_message($ffi->FLAGS_ERROR_INVALID_UTF8) !== '', 'result message');

// A source from JSON; *out and *error_out are out-parameters.
$json = '{"version": 1, "flags": {"checkout": {"percentage": 50},'
    . ' "colors": {"percentage": 100, "variants": [{"name": "blue", "weight": 50}, {"name": "green", "weight": 50}]}}}';
$source = $ffi->new('flags_source *');
$error = $ffi->new('char *');
$rc = $ffi->flags_source_open_json($json, strlen($json), FFI::addr($source), FFI::addr($error));
check($rc === $ffi->FLAGS_OK && !FFI::isNull($source) && FFI::isNull($error), "open_json: $rc");

// A context built once, used for many evaluations.
$ctx = $ffi->flags_context_new();
foreach (['user_id' => '42', 'tenant_id' => 'acme'] as $attribute => $value) {
    $rc = $ffi->flags_context_set($ctx, $attribute, strlen($attribute), $value, strlen($value));
    check($rc === $ffi->FLAGS_OK, "context_set $attribute: $rc");
}

$on = $ffi->flags_is_enabled($source, 'checkout', 8, $ctx);
$ev = $ffi->new('flags_evaluation');
$rc = $ffi->flags_evaluate_at($source, 'checkout', 8, $ctx, 0, FFI::addr($ev));
check($rc === 0 && $ev->enabled === $on && $ev->bucket >= 0 && $ev->bucket < 10000, 'evaluate');
check($ffi->flags_reason_name($ev->reason) === ($on ? 'ROLLOUT_IN' : 'ROLLOUT_OUT'), 'reason');
check($ev->variant === null, 'no variant');

// An owned variant: copy it, then release it with flags_evaluation_clear.
$rc = $ffi->flags_evaluate($source, 'colors', 6, $ctx, FFI::addr($ev));
$variant = $ev->variant === null ? null : FFI::string($ev->variant);
check($rc === 0 && in_array($variant, ['blue', 'green'], true), "variant: $variant");
$ffi->flags_evaluation_clear(FFI::addr($ev));
$ffi->flags_evaluation_clear(FFI::addr($ev));
check($ev->variant === null, 'clear');

// Unknown flags and invalid UTF-8 never throw.
check($ffi->flags_is_enabled($source, 'nope', 4, null) === false, 'unknown flag');
check($ffi->flags_is_enabled($source, "\xff", 1, $ctx) === false, 'invalid UTF-8');

// Every flag as owned JSON: copy, then free with flags_string_free.
$out = $ffi->new('char *');
$rc = $ffi->flags_evaluate_all_json($source, $ctx, FFI::addr($out));
$all = json_decode(FFI::string($out), true);
$ffi->flags_string_free($out);
check($rc === 0 && count($all) === 2 && $all[0]['flag'] === 'checkout' && $all[0]['enabled'] === $on, 'all json');

// An owned error message.
$bad = '{"version": 1, "flags": {"x": {"percentge": 5}}}';
$broken = $ffi->new('flags_source *');
$rc = $ffi->flags_source_open_json($bad, strlen($bad), FFI::addr($broken), FFI::addr($error));
$message = FFI::isNull($error) ? '' : FFI::string($error);
$ffi->flags_string_free($error);
check($rc === $ffi->FLAGS_ERROR_INVALID_FLAGS && FFI::isNull($broken), "invalid flags: $rc");
check(str_starts_with($message, '<input>:1:32: flags.x.percentge: unknown field'), "message: $message");

$ffi->flags_context_free($ctx);
$ffi->flags_source_free($source);
$ffi->flags_source_free(null);

printf("php %s: FFI::cdef loaded flags_php.h; flags %s; %d checks, %d failed\n",
    PHP_VERSION, $version, $checks, $failures);
exit($failures === 0 ? 0 : 1);
