<?php

declare(strict_types=1);

// A minimal FastCGI client for php-fpm-e2e's timings of a busy worker:
// sends COUNT requests, one after the other, to the php-fpm socket and
// prints each response body followed by a line "--". Unlike one cgi-fcgi
// process per request, it keeps php-fpm's workers busy, so what a request
// costs is measured with warm CPU caches, as on a loaded server.
//
//   php fcgi-client.php [--status] SOCKET COUNT NAME=VALUE...   (the FastCGI params)
//
// With --status (the Laravel package's php-fpm test), each response is
// printed as its status code on one line, then the body, then "\n--".

$args = array_slice($argv, 1);
$withStatus = ($args[0] ?? '') === '--status';
if ($withStatus) {
    array_shift($args);
}
if (count($args) < 2) {
    fwrite(STDERR, "usage: php fcgi-client.php [--status] SOCKET COUNT NAME=VALUE...\n");
    exit(2);
}
[$socket, $count] = $args;
$params = '';
foreach (array_slice($args, 2) as $pair) {
    [$name, $value] = explode('=', $pair, 2) + [1 => ''];
    foreach ([$name, $value] as $text) {
        $length = strlen($text);
        $params .= $length < 128 ? chr($length) : pack('N', $length | 0x80000000);
    }
    $params .= $name . $value;
}
$record = static fn (int $type, string $content): string
    => pack('CCnnCx', 1, $type, 1, strlen($content), 0) . $content;
// FCGI_BEGIN_REQUEST (responder, close the connection), FCGI_PARAMS, FCGI_STDIN.
$request = $record(1, pack('nCx5', 1, 0)) . $record(4, $params) . $record(4, '') . $record(5, '');

for ($i = 0; $i < (int) $count; $i++) {
    $connection = stream_socket_client("unix://$socket", $errno, $error, 10.0);
    if ($connection === false) {
        fwrite(STDERR, "cannot connect to $socket: $error\n");
        exit(1);
    }
    stream_set_timeout($connection, 30);
    fwrite($connection, $request);
    $output = '';
    while (($header = stream_get_contents($connection, 8)) !== false && strlen($header) === 8) {
        ['type' => $type, 'length' => $length, 'padding' => $padding] =
            unpack('Cversion/Ctype/nid/nlength/Cpadding/Creserved', $header);
        $content = $length + $padding > 0 ? (string) stream_get_contents($connection, $length + $padding) : '';
        if ($type === 6) {          // FCGI_STDOUT
            $output .= substr($content, 0, $length);
        } elseif ($type === 3) {    // FCGI_END_REQUEST
            break;
        }
    }
    fclose($connection);
    $split = strpos($output, "\r\n\r\n");
    $body = $split === false ? $output : substr($output, $split + 4);
    if ($withStatus) {
        $head = $split === false ? '' : substr($output, 0, $split);
        $status = preg_match('/^Status: (\d{3})/mi', $head, $m) ? $m[1] : '200';
        echo $status, "\n", $body, "\n--\n";
    } else {
        echo $body, "--\n";
    }
}
