<?php

declare(strict_types=1);

namespace Flags\Migration;

/**
 * Sends a process's migration records to the flags server, which adds them
 * to its /metrics (flags_migration_*): `POST {server}/v1/migrations` with
 * `{"records": [...]}` and a bearer token (a `client`-scoped token is
 * enough), at most 1000 records and 1 MiB a batch.
 *
 * Meant to run after the response (Migrator::flush() from a Deferred, or a
 * framework's terminating hook): each batch waits at most $timeoutMs for
 * the connection and the answer together. It never throws: a batch that
 * cannot be sent (server down, slow, refusing) is dropped and counted in
 * stats(), and the first failure of the process is written to error_log().
 *
 * ```php
 * $reporter = new Flags\Migration\Reporter('https://flags.internal', getenv('FLAGS_CLIENT_TOKEN'));
 * ```
 */
final class Reporter
{
    /** The most records in one batch (the server's limit). */
    public const MAX_RECORDS = 1000;
    /** The largest body of one batch, in bytes (the server's limit). */
    public const MAX_BODY = 1048576;

    private string $scheme;
    private string $host;
    private int $port;
    private string $path;
    private int $batches = 0;
    private int $sent = 0;
    private int $accepted = 0;
    private int $refused = 0;
    private int $failures = 0;
    private int $lost = 0;
    private ?string $lastError = null;
    private static bool $logged = false;

    /**
     * @param string $url the flags server, e.g. https://flags.internal (a path prefix is kept)
     * @param string|null $token its bearer token (`client` scope is enough)
     * @param int $timeoutMs the most a batch may take, connecting included (1 to 60000)
     * @throws \InvalidArgumentException for a URL that is not http(s)://host[:port][/path] or a bad timeout
     */
    public function __construct(string $url, private ?string $token = null, private int $timeoutMs = 250)
    {
        $parts = parse_url($url);
        $scheme = \is_array($parts) ? strtolower($parts['scheme'] ?? '') : '';
        if (!\is_array($parts) || ($scheme !== 'http' && $scheme !== 'https') || ($parts['host'] ?? '') === ''
            || isset($parts['query']) || isset($parts['fragment']) || isset($parts['user'])) {
            throw new \InvalidArgumentException("$url: expected the flags server's URL, http(s)://host[:port][/path]");
        }
        if ($timeoutMs < 1 || $timeoutMs > 60000) {
            throw new \InvalidArgumentException("\$timeoutMs: expected milliseconds from 1 to 60000, found $timeoutMs");
        }
        if ($token !== null && preg_match('/[\r\n]/', $token)) {
            throw new \InvalidArgumentException('$token: a bearer token cannot contain a line break');
        }
        $this->scheme = $scheme;
        $this->host = $parts['host'];
        $this->port = $parts['port'] ?? ($scheme === 'https' ? 443 : 80);
        $this->path = rtrim($parts['path'] ?? '', '/') . '/v1/migrations';
    }

    /** Takes every record $recorder holds and sends them. Never throws. */
    public function flush(Recorder $recorder): void
    {
        while ($recorder->count() > 0) {
            if (!$this->send($recorder->take(self::MAX_RECORDS))) {
                // Down or refusing: the rest is lost at once, so a flush
                // costs a worker one timeout, not one per batch.
                $this->lost += \count($recorder->take());
                return;
            }
        }
    }

    /**
     * Sends $records in batches of at most MAX_RECORDS and MAX_BODY bytes.
     * True when the server accepted every batch (answered 2xx). Never throws.
     *
     * @param list<array<string, mixed>> $records
     */
    public function send(array $records): bool
    {
        $ok = true;
        foreach (array_chunk($records, self::MAX_RECORDS) as $chunk) {
            $ok = $this->sendBatch($chunk) && $ok;
        }
        return $ok;
    }

    /**
     * What was sent: batches (requests made), records (in them), accepted
     * and dropped (as the server counted them), failures (batches that
     * could not be sent or were refused), lost (records in those) and
     * last_error.
     *
     * @return array{batches: int, records: int, accepted: int, dropped: int, failures: int, lost: int,
     *               last_error: ?string}
     */
    public function stats(): array
    {
        return [
            'batches' => $this->batches,
            'records' => $this->sent,
            'accepted' => $this->accepted,
            'dropped' => $this->refused,
            'failures' => $this->failures,
            'lost' => $this->lost,
            'last_error' => $this->lastError,
        ];
    }

    /** @param list<array<string, mixed>> $records */
    private function sendBatch(array $records): bool
    {
        if ($records === []) {
            return true;
        }
        $body = json_encode(['records' => $records], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION);
        if ($body === false) {
            return $this->failed(\count($records), 'the records are not JSON: ' . json_last_error_msg());
        }
        if (\strlen($body) > self::MAX_BODY) {
            if (\count($records) === 1) {
                return $this->failed(1, 'a record is larger than ' . self::MAX_BODY . ' bytes');
            }
            $half = intdiv(\count($records), 2);
            $first = $this->sendBatch(\array_slice($records, 0, $half));
            return $this->sendBatch(\array_slice($records, $half)) && $first;
        }
        $this->batches++;
        $this->sent += \count($records);
        $answer = $this->post($body);
        if (\is_string($answer)) {
            return $this->failed(\count($records), $answer);
        }
        [$status, $json] = $answer;
        if ($status < 200 || $status > 299) {
            $why = trim(substr($json, 0, 300));
            return $this->failed(\count($records), "the server answered $status" . ($why === '' ? '' : ": $why"));
        }
        $counts = json_decode($json, true);
        if (\is_array($counts)) {
            $this->accepted += (int) ($counts['accepted'] ?? 0);
            $this->refused += (int) ($counts['dropped'] ?? 0);
        }
        return true;
    }

    private function failed(int $records, string $why): bool
    {
        $this->failures++;
        $this->lost += $records;
        $this->lastError = $why;
        if (!self::$logged) {
            self::$logged = true;
            error_log("flags: could not send migration records to {$this->scheme}://{$this->host}:{$this->port}"
                . "{$this->path} ($why); the batch was dropped (logged once per process; see Reporter::stats())");
        }
        return false;
    }

    /**
     * One POST within the timeout: [status, body], or why it failed.
     *
     * @return array{int, string}|string
     */
    private function post(string $body): array|string
    {
        $deadline = hrtime(true) + $this->timeoutMs * 1_000_000;
        $remaining = static fn (): float => max(0.0, ($deadline - hrtime(true)) / 1e9);
        $context = stream_context_create(['ssl' => ['peer_name' => trim($this->host, '[]'), 'SNI_enabled' => true]]);
        $address = ($this->scheme === 'https' ? 'tls://' : 'tcp://') . $this->host . ':' . $this->port;
        $errno = 0;
        $error = '';
        $socket = @stream_socket_client($address, $errno, $error, max(0.001, $remaining()), STREAM_CLIENT_CONNECT, $context);
        if ($socket === false) {
            return "cannot connect to $address: " . ($error !== '' ? $error : "error $errno");
        }
        try {
            $hostHeader = $this->host . (($this->scheme === 'https' ? 443 : 80) === $this->port ? '' : ":$this->port");
            $request = "POST {$this->path} HTTP/1.1\r\nHost: $hostHeader\r\nContent-Type: application/json\r\n"
                . 'Content-Length: ' . \strlen($body) . "\r\nConnection: close\r\nUser-Agent: flags-php\r\n"
                . ($this->token !== null && $this->token !== '' ? "Authorization: Bearer {$this->token}\r\n" : '')
                . "\r\n" . $body;
            while ($request !== '') {
                $left = $remaining();
                if ($left <= 0.0) {
                    return "no answer within {$this->timeoutMs} ms";
                }
                stream_set_timeout($socket, (int) $left, (int) (($left - (int) $left) * 1e6));
                $written = @fwrite($socket, $request);
                if ($written === false || $written === 0) {
                    $meta = stream_get_meta_data($socket);
                    return $meta['timed_out'] ? "no answer within {$this->timeoutMs} ms" : 'the connection was closed';
                }
                $request = substr($request, $written);
            }
            $response = '';
            while (!feof($socket)) {
                $left = $remaining();
                if ($left <= 0.0) {
                    return "no answer within {$this->timeoutMs} ms";
                }
                stream_set_timeout($socket, (int) $left, (int) (($left - (int) $left) * 1e6));
                $chunk = @fread($socket, 65536);
                if ($chunk === false || ($chunk === '' && stream_get_meta_data($socket)['timed_out'])) {
                    return "no answer within {$this->timeoutMs} ms";
                }
                $response .= $chunk;
                if (\strlen($response) > self::MAX_BODY) {
                    break;
                }
            }
        } finally {
            fclose($socket);
        }
        if (!preg_match('#^HTTP/\d(?:\.\d)? (\d{3})#', $response, $m)) {
            return $response === '' ? 'the server closed the connection without answering' : 'not an HTTP answer';
        }
        $split = strpos($response, "\r\n\r\n");
        $head = $split === false ? $response : substr($response, 0, $split);
        $content = $split === false ? '' : substr($response, $split + 4);
        if (preg_match('/^transfer-encoding:\s*chunked/mi', $head)) {
            $content = self::unchunk($content);
        }
        return [(int) $m[1], $content];
    }

    private static function unchunk(string $data): string
    {
        $out = '';
        while (($eol = strpos($data, "\r\n")) !== false) {
            $size = hexdec(trim(explode(';', substr($data, 0, $eol))[0]));
            if ($size <= 0) {
                break;
            }
            $out .= substr($data, $eol + 2, (int) $size);
            $data = substr($data, $eol + 2 + (int) $size + 2);
        }
        return $out;
    }
}
