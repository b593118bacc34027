<?php

declare(strict_types=1);

// A minimal FastCGI client for php-fpm-e2e (the approach of
// bindings/php/tests/e2e/fcgi-client.php, keeping the response's status):
// sends COUNT requests for the Laravel front controller, one after the
// other, and prints for each the status code on one line, the body, and a
// line "--". Back to back, it keeps php-fpm's workers busy (warm caches).
//
//   php fcgi.php SOCKET COUNT NAME=VALUE...   (the FastCGI params)

if ($argc < 3) {
    fwrite(STDERR, "usage: php fcgi.php SOCKET COUNT NAME=VALUE...\n");
    exit(2);
}
[, $socket, $count] = $argv;
$params = '';
foreach (array_slice($argv, 3) as $pair) {
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
    $head = $split === false ? '' : substr($output, 0, $split);
    $status = preg_match('/^Status: (\d{3})/mi', $head, $m) ? $m[1] : '200';
    echo $status, "\n", $split === false ? $output : substr($output, $split + 4), "\n--\n";
}
