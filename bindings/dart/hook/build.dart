// The native-assets build hook of package:flags.
//
// The Dart and Flutter SDKs run this script before compiling an app (and
// before `dart test`), once per target OS and architecture. It builds the
// `flags-ffi` cdylib with cargo for that target and reports it as the code
// asset `package:flags/src/bindings.dart`, the asset id the `@Native`
// functions of lib/src/bindings.dart resolve against. The SDK then bundles
// the library into the app: `lib/<abi>/libflags_ffi.so` in the APK, a
// framework in the iOS and macOS bundles, next to the executable on Linux and
// Windows.
//
// Two user-defines, set in the app's (or workspace's) pubspec.yaml, change
// what it does:
//
//   hooks:
//     user_defines:
//       flags:
//         prebuilt: native/libflags_ffi.so   # bundle this file, skip cargo
//         cargo: /opt/rust/bin/cargo         # the cargo to run
//
// `prebuilt` is for CI pipelines that build the library once per target and
// for apps that cannot run cargo; the file must be built for the target
// being compiled. Relative paths resolve against that pubspec.yaml.

import 'dart:io';

import 'package:code_assets/code_assets.dart';
import 'package:hooks/hooks.dart';

/// The crate and the name of the library cargo builds from it.
const _crate = 'flags-ffi';
const _libraryName = 'flags_ffi';

/// The asset id the bindings use: `package:flags/src/bindings.dart`.
const _assetName = 'src/bindings.dart';

/// Apple: a relocatable install name, so the bundled copy is found.
const _installName =
    '-Clink-arg=-Wl,-install_name,@rpath/lib$_libraryName.dylib';

Future<void> main(List<String> args) async {
  await build(args, (input, output) async {
    if (!input.config.buildCodeAssets) return;
    final code = input.config.code;
    final fileName = code.targetOS.dylibFileName(_libraryName);
    final destination = input.outputDirectory.resolve(fileName);

    final prebuilt = input.userDefines.path('prebuilt');
    if (prebuilt != null) {
      await File.fromUri(prebuilt).copy(destination.toFilePath());
      output.dependencies.add(prebuilt);
    } else {
      final built = await _cargoBuild(input, output, code);
      await File.fromUri(built).copy(destination.toFilePath());
    }

    output.assets.code.add(
      CodeAsset(
        package: input.packageName,
        name: _assetName,
        linkMode: DynamicLoadingBundled(),
        file: destination,
      ),
    );
  });
}

/// Builds the cdylib for the target of [code]; returns the built file.
Future<Uri> _cargoBuild(
  BuildInput input,
  BuildOutputBuilder output,
  CodeConfig code,
) async {
  final workspace = _findWorkspace(input.packageRoot);
  final triple = _rustTriple(code);
  final targetDir = input.outputDirectoryShared.resolve('cargo/');
  final cargo = input.userDefines['cargo'] as String? ?? 'cargo';

  final arguments = [
    'build',
    '--release',
    '--locked',
    '--package',
    _crate,
    '--lib',
    '--target',
    triple,
    '--target-dir',
    targetDir.toFilePath(),
  ];
  final environment = _crossEnvironment(code, triple);
  final result = await Process.run(
    cargo,
    arguments,
    workingDirectory: workspace.toFilePath(),
    environment: environment,
  );
  if (result.exitCode != 0) {
    throw Exception(
      'package:flags: `$cargo ${arguments.join(' ')}` failed '
      '(exit ${result.exitCode}) in ${workspace.toFilePath()}.\n'
      'Install Rust (https://rustup.rs) and the target '
      '(`rustup target add $triple`), or set '
      'hooks.user_defines.flags.prebuilt to a library built for $triple.\n'
      '${result.stdout}\n${result.stderr}',
    );
  }

  // Rerun the hook when a Rust source of the library changes.
  output.dependencies
    ..add(workspace.resolve('Cargo.toml'))
    ..add(workspace.resolve('Cargo.lock'));
  for (final crate in ['flags-ffi', 'flags-core']) {
    final dir = Directory.fromUri(workspace.resolve('$crate/'));
    for (final entity in dir.listSync(recursive: true)) {
      final path = entity.path;
      final isSource = path.endsWith('.rs') || path.endsWith('Cargo.toml');
      final sep = Platform.pathSeparator;
      final isBuildOutput = path.contains('${sep}target$sep');
      if (entity is File && isSource && !isBuildOutput) {
        output.dependencies.add(entity.uri);
      }
    }
  }

  final name = code.targetOS.dylibFileName(_libraryName);
  return targetDir.resolve('$triple/release/$name');
}

/// The Rust workspace: this package lives in `bindings/dart` of the flags
/// repository, and the hook builds from that checkout.
Uri _findWorkspace(Uri packageRoot) {
  final workspace = packageRoot.resolve('../../');
  final manifest = File.fromUri(workspace.resolve('Cargo.toml'));
  final crate = File.fromUri(workspace.resolve('$_crate/Cargo.toml'));
  if (!manifest.existsSync() || !crate.existsSync()) {
    throw Exception(
      'package:flags: no Rust workspace with $_crate at '
      '${workspace.toFilePath()}. The build hook compiles the library from '
      'the flags repository (use a git or path dependency on '
      'bindings/dart), or set hooks.user_defines.flags.prebuilt.',
    );
  }
  return workspace;
}

/// The Rust target triple for the OS, architecture and (iOS) SDK.
String _rustTriple(CodeConfig code) {
  final os = code.targetOS;
  final arch = code.targetArchitecture;
  final triple = switch ((os, arch)) {
    (OS.android, Architecture.arm) => 'armv7-linux-androideabi',
    (OS.android, Architecture.arm64) => 'aarch64-linux-android',
    (OS.android, Architecture.ia32) => 'i686-linux-android',
    (OS.android, Architecture.x64) => 'x86_64-linux-android',
    (OS.android, Architecture.riscv64) => 'riscv64-linux-android',
    (OS.iOS, Architecture.arm64) =>
      code.iOS.targetSdk == IOSSdk.iPhoneSimulator
          ? 'aarch64-apple-ios-sim'
          : 'aarch64-apple-ios',
    (OS.iOS, Architecture.x64) => 'x86_64-apple-ios',
    (OS.macOS, Architecture.arm64) => 'aarch64-apple-darwin',
    (OS.macOS, Architecture.x64) => 'x86_64-apple-darwin',
    (OS.linux, Architecture.x64) => 'x86_64-unknown-linux-gnu',
    (OS.linux, Architecture.arm64) => 'aarch64-unknown-linux-gnu',
    (OS.linux, Architecture.arm) => 'armv7-unknown-linux-gnueabihf',
    (OS.linux, Architecture.ia32) => 'i686-unknown-linux-gnu',
    (OS.linux, Architecture.riscv64) => 'riscv64gc-unknown-linux-gnu',
    (OS.windows, Architecture.x64) => 'x86_64-pc-windows-msvc',
    (OS.windows, Architecture.arm64) => 'aarch64-pc-windows-msvc',
    (OS.windows, Architecture.ia32) => 'i686-pc-windows-msvc',
    _ => null,
  };
  if (triple == null) {
    throw UnsupportedError('package:flags: no Rust target for $os $arch');
  }
  return triple;
}

/// Environment for cargo: the SDK's C toolchain as linker when cross
/// compiling (Android always), deployment targets on Apple platforms.
Map<String, String> _crossEnvironment(CodeConfig code, String triple) {
  final env = <String, String>{};
  final key = triple.toUpperCase().replaceAll('-', '_');
  final ccKey = triple.replaceAll('-', '_');
  final rustflags = <String>[];
  final compiler = code.cCompiler;

  switch (code.targetOS) {
    case OS.android:
      final api = code.android.targetNdkApi;
      final clangTriple = switch (code.targetArchitecture) {
        Architecture.arm => 'armv7a-linux-androideabi',
        _ => triple,
      };
      if (compiler != null) {
        final clang = compiler.compiler.toFilePath();
        env['CARGO_TARGET_${key}_LINKER'] = clang;
        env['CC_$ccKey'] = clang;
        env['AR_$ccKey'] = compiler.archiver.toFilePath();
      }
      env['CFLAGS_$ccKey'] = '--target=$clangTriple$api';
      rustflags
        ..add('-Clink-arg=--target=$clangTriple$api')
        // 16 KiB page alignment, for Android 15+ devices with 16 KiB pages.
        ..add('-Clink-arg=-Wl,-z,max-page-size=16384');
    case OS.iOS:
      env['IPHONEOS_DEPLOYMENT_TARGET'] = '${code.iOS.targetVersion}.0';
      rustflags.add(_installName);
    case OS.macOS:
      env['MACOSX_DEPLOYMENT_TARGET'] = '${code.macOS.targetVersion}.0';
      rustflags.add(_installName);
    case OS.linux:
      final cross = code.targetArchitecture != Architecture.current;
      if (cross && compiler != null) {
        final cc = compiler.compiler.toFilePath();
        env['CARGO_TARGET_${key}_LINKER'] = cc;
        env['CC_$ccKey'] = cc;
        env['AR_$ccKey'] = compiler.archiver.toFilePath();
      }
    default:
      // Windows: rustc finds the MSVC linker itself.
      break;
  }
  if (rustflags.isNotEmpty) {
    env['CARGO_TARGET_${key}_RUSTFLAGS'] = rustflags.join(' ');
  }
  return env;
}
