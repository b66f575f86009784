/**
 * How long a stopping server may take to finish the requests under way after SIGTERM or SIGINT
 * before it exits anyway: a process manager waits about this long (systemd's default is 90 s,
 * Kubernetes' 30 s) before it sends SIGKILL, and an exit of our own is cleaner than theirs.
 */
export const STOP_GRACE_MS = 10_000;

/**
 * Runs `stop` on the first SIGTERM or SIGINT and exits 0 when it is done, or 1 if it takes
 * longer than STOP_GRACE_MS. A second signal exits at once (the operator has stopped waiting),
 * except in a cluster worker: Ctrl-C signals the whole process group, so a worker hears SIGINT
 * from the terminal and SIGTERM from its primary for one and the same stop.
 */
export function onStopSignal(
  stop: () => Promise<void>,
  options: { graceMs?: number; secondSignalExits?: boolean } = {},
): void {
  const graceMs = options.graceMs ?? STOP_GRACE_MS;
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      if (options.secondSignalExits ?? true) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
      return;
    }
    stopping = true;
    setTimeout(() => {
      process.stderr.write(`keygate: requests still under way after ${graceMs} ms; exiting anyway\n`);
      process.exit(1);
    }, graceMs).unref();
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`keygate: stopping failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
