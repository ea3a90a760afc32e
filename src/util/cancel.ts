/**
 * The step's cancellation: a runner cancels a step with SIGINT, then SIGTERM, then kills it. The first signal
 * aborts the returned signal (the engine stops starting new work, cleans up and says where it stopped); a second
 * one gives the cleanup two more seconds before the process exits with the signal's code.
 */
export interface Cancellation {
  signal: AbortSignal;
  /** 'SIGINT' or 'SIGTERM' once one arrived. */
  reason(): string | undefined;
  /** The exit code a cancelled process ends with (128 + the signal number). */
  exitCode(): number;
  dispose(): void;
}

const CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export function listenForCancellation(
  proc: Pick<NodeJS.Process, 'on' | 'off' | 'exit'> = process,
): Cancellation {
  const controller = new AbortController();
  let first: string | undefined;
  const handler = (sig: NodeJS.Signals) => {
    if (!first) {
      first = sig;
      controller.abort(new Error(`cancelled by ${sig}`));
      return;
    }
    setTimeout(() => proc.exit(CODES[first!] ?? 1), 2000).unref();
  };
  proc.on('SIGINT', handler);
  proc.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    reason: () => first,
    exitCode: () => (first ? (CODES[first] ?? 1) : 0),
    dispose() {
      proc.off('SIGINT', handler);
      proc.off('SIGTERM', handler);
    },
  };
}
