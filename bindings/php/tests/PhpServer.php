<?php

declare(strict_types=1);

namespace Flags\Tests;

/**
 * A `php -S` server on a free loopback port running one router script of
 * tests/fixtures or tests/Migration/fixtures (a fake Prometheus, a capture
 * server for POST /v1/migrations), for the PHP and the Laravel tests.
 * Stopped by stop() or when dropped.
 */
final class PhpServer
{
    /** @var resource|null */
    private $process;

    public readonly string $url;

    /**
     * Starts $router with $env added to the environment and waits (30 s at
     * most, failing loudly) until GET $readyPath answers, and, when
     * $readyBody is given, answers exactly that.
     *
     * @param array<string, string> $env
     */
    public function __construct(string $router, array $env, string $readyPath, ?string $readyBody = null)
    {
        $probe = stream_socket_server('tcp://127.0.0.1:0', $errno, $error);
        if ($probe === false) {
            throw new \RuntimeException("no free loopback port: $error");
        }
        $address = (string) stream_socket_get_name($probe, false);
        fclose($probe);
        $process = proc_open(
            [PHP_BINARY, '-S', $address, $router],
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']],
            $pipes,
            null,
            $env + getenv(),
        );
        if (!\is_resource($process)) {
            throw new \RuntimeException("could not start php -S for $router");
        }
        $this->process = $process;
        $this->url = "http://$address";
        $deadline = microtime(true) + 30.0;
        while (true) {
            $body = @file_get_contents($this->url . $readyPath);
            if ($body !== false && ($readyBody === null || $body === $readyBody)) {
                return;
            }
            if (!proc_get_status($process)['running']) {
                $this->stop();
                throw new \RuntimeException("php -S $router exited before it answered $readyPath");
            }
            if (microtime(true) > $deadline) {
                $this->stop();
                throw new \RuntimeException("php -S $router did not answer $readyPath within 30 s");
            }
            usleep(20000);
        }
    }

    public function stop(): void
    {
        if ($this->process !== null) {
            proc_terminate($this->process);
            proc_close($this->process);
            $this->process = null;
        }
    }

    public function __destruct()
    {
        $this->stop();
    }
}
