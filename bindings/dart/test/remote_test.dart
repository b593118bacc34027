// Flags.openRemote against an in-test flag server: first fetch, ETag
// revalidation, refresh, the /v1/stream events, a bad response, the offline
// start from the cache file, and the errors.
//
// The server runs in its own isolate: openRemote blocks the calling isolate
// during the first fetch, so a server on the test isolate's event loop could
// never answer it.

import 'dart:async';
import 'dart:io';
import 'dart:isolate';

import 'package:flags/flags.dart';
import 'package:test/test.dart';

import 'support.dart';

void main() {
  late Directory dir;
  late String cachePath;
  late TestServer server;

  setUp(() async {
    dir = await tempDir();
    cachePath = '${dir.path}${Platform.pathSeparator}flags-cache.json';
    server = await TestServer.start(sampleFlags);
  });
  tearDown(() async {
    await server.stop();
    await dir.delete(recursive: true);
  });

  Flags open({
    Duration refreshInterval = const Duration(milliseconds: 100),
    bool stream = false,
    String? token,
  }) {
    final flags = Flags.openRemote(
      server.url,
      cachePath: cachePath,
      token: token,
      refreshInterval: refreshInterval,
      timeout: const Duration(seconds: 2),
      stream: stream,
    );
    addTearDown(flags.close);
    return flags;
  }

  test('first fetch, then revalidation with the ETag (304)', () async {
    final flags = open(token: 'secret-token');
    expect(flags.isEnabled('beta'), isTrue);
    expect(flags.evaluate('enrollment_service', {'user_id': 42}).bucket, 374);
    expect(flags.status.kind, 'remote');

    await eventually(
      () async {
        flags.isEnabled('beta');
        return (await server.requests()).contains('GET /v1/flags 304');
      },
      reason: 'no conditional request answered 304',
    );
    final requests = await server.requests();
    expect(requests.first, 'GET /v1/flags 200');
    expect(
      await server.authorizations(),
      allOf(isNotEmpty, everyElement('Bearer secret-token')),
    );
  });

  test('a new version on the server is picked up; changes emits it', () async {
    final flags = open();
    final before = flags.version;
    final next = flags.changes.first;

    await server.setFlags(_betaOff);
    final version = await next.timeout(const Duration(seconds: 10));
    expect(version, isNot(before));
    expect(flags.version, version);
    expect(flags.isEnabled('beta'), isFalse);
  });

  test('a /v1/stream event brings a new version without waiting', () async {
    final flags = open(refreshInterval: const Duration(hours: 1), stream: true);
    expect(flags.isEnabled('beta'), isTrue);
    // Let the stream connect before the change.
    await eventually(
      () async => (await server.requests()).contains('GET /v1/stream 200'),
      reason: 'the client did not open /v1/stream',
    );

    await server.setFlags(_betaOff);
    await eventually(
      () => !flags.isEnabled('beta'),
      reason: 'the stream event did not bring the new flags',
    );
  });

  test('a bad response keeps the good flags', () async {
    final flags = open();
    final before = flags.version;

    await server.serveInvalidFlags();
    await eventually(
      () {
        flags.isEnabled('beta');
        return flags.status.failures > 0;
      },
      reason: 'the bad response was not noticed',
    );
    expect(flags.version, before);
    expect(flags.isEnabled('beta'), isTrue);
    expect(flags.status.healthy, isFalse);
    expect(flags.status.lastError, isNotNull);
  });

  test('starts offline from the cache after the server stops', () async {
    final online = open();
    final version = online.version;
    await eventually(
      () => File(cachePath).existsSync(),
      reason: 'no cache file was written',
    );
    expect(File(cachePath).readAsStringSync(), isNotEmpty);
    online.close();

    await server.stop();
    final offline = open();
    expect(offline.version, version);
    expect(offline.isEnabled('beta'), isTrue);
    expect(offline.evaluate('enrollment_service', {'user_id': 42}).bucket, 374);
  });

  test('no server and no cache: FlagsException REMOTE', () async {
    await server.stop();
    expect(
      () => Flags.openRemote(server.url, timeout: const Duration(seconds: 1)),
      throwsA(
        isA<FlagsException>()
            .having((e) => e.code, 'code', FlagsErrorCode.remote),
      ),
    );
  });

  test('a malformed URL: FlagsException INVALID_ARGUMENT', () {
    expect(
      () => Flags.openRemote('not a url'),
      throwsA(
        isA<FlagsException>()
            .having((e) => e.code, 'code', FlagsErrorCode.invalidArgument),
      ),
    );
  });
}

final _betaOff = sampleFlags.replaceFirst(
  '"beta": { "percentage": 100 }',
  '"beta": { "percentage": 0 }',
);

/// A minimal `flags serve` stand-in: `GET /v1/flags` with `ETag` and 304,
/// `GET /v1/stream` with `version` events, in its own isolate.
final class TestServer {
  TestServer._(this.port, this._commands, this._isolate);

  /// The port on 127.0.0.1.
  final int port;
  final SendPort _commands;
  final Isolate _isolate;
  bool _stopped = false;

  /// The base URL, as `Flags.openRemote` takes it.
  String get url => 'http://127.0.0.1:$port/';

  static Future<TestServer> start(String flagsJson) async {
    final ready = ReceivePort();
    final isolate = await Isolate.spawn(_serve, (ready.sendPort, flagsJson));
    final message = await ready.first;
    final (port, commands) = message as (int, SendPort);
    return TestServer._(port, commands, isolate);
  }

  /// Serves [flagsJson] from now on (new ETag) and announces it on the
  /// streams.
  Future<void> setFlags(String flagsJson) => _call('set', flagsJson);

  /// Answers `/v1/flags` with an invalid flag file (200, new ETag).
  Future<void> serveInvalidFlags() => _call('invalid', null);

  /// `METHOD PATH STATUS` of every request so far.
  Future<List<String>> requests() async =>
      ((await _call('requests', null)) as List<Object?>).cast<String>();

  /// The `Authorization` header of every request so far.
  Future<List<String>> authorizations() async =>
      ((await _call('authorizations', null)) as List<Object?>).cast<String>();

  /// Stops the server (closing the streams); harmless when stopped.
  Future<void> stop() async {
    if (_stopped) return;
    _stopped = true;
    await _call('stop', null);
    _isolate.kill();
  }

  Future<Object?> _call(String command, Object? argument) async {
    final reply = ReceivePort();
    _commands.send((command, argument, reply.sendPort));
    final answer = await reply.first;
    return answer;
  }
}

Future<void> _serve((SendPort, String) start) async {
  final (ready, initial) = start;
  var flags = initial;
  var generation = 1;
  var invalid = false;
  final requests = <String>[];
  final authorizations = <String>[];
  final streams = <HttpResponse>[];
  final server = await HttpServer.bind(InternetAddress.loopbackIPv4, 0);

  String etag() => '"test-$generation"';
  void announce(HttpResponse stream) {
    stream.write('event: version\ndata: {"version":"test-$generation"}\n\n');
    unawaited(stream.flush().catchError((Object _) => stream));
  }

  final commands = ReceivePort();
  commands.listen((message) async {
    final (command, argument, reply) = message as (String, Object?, SendPort);
    switch (command) {
      case 'set':
        flags = argument! as String;
        invalid = false;
        generation++;
        streams.forEach(announce);
        reply.send(null);
      case 'invalid':
        invalid = true;
        generation++;
        reply.send(null);
      case 'requests':
        reply.send(List<String>.of(requests));
      case 'authorizations':
        reply.send(List<String>.of(authorizations));
      case 'stop':
        for (final stream in streams) {
          await stream.close().catchError((Object _) {});
        }
        await server.close(force: true);
        commands.close();
        reply.send(null);
    }
  });
  ready.send((server.port, commands.sendPort));

  await for (final request in server) {
    final response = request.response;
    final authorization = request.headers.value('authorization');
    if (authorization != null) authorizations.add(authorization);
    switch (request.uri.path) {
      case '/v1/flags':
        if (invalid) {
          response
            ..statusCode = 200
            ..headers.set('etag', etag())
            ..headers.contentType = ContentType.json
            ..write('{"version": 1, "flags": {"beta": {"percentage": 150}}}');
        } else if (request.headers.value('if-none-match') == etag()) {
          response.statusCode = 304;
        } else {
          response
            ..statusCode = 200
            ..headers.set('etag', etag())
            ..headers.set('cache-control', 'no-cache')
            ..headers.contentType = ContentType.json
            ..write(flags);
        }
        requests.add('${request.method} /v1/flags ${response.statusCode}');
        await response.close();
      case '/v1/stream':
        response
          ..statusCode = 200
          ..bufferOutput = false
          ..headers.set('content-type', 'text/event-stream')
          ..headers.set('cache-control', 'no-cache');
        requests.add('${request.method} /v1/stream 200');
        streams.add(response);
        announce(response);
      default:
        response.statusCode = 404;
        requests.add('${request.method} ${request.uri.path} 404');
        await response.close();
    }
  }
}
