/**
 * Errors that reach a user. Every one carries a single line that says what is wrong, where, and how to fix it.
 * `UsageError` is a bad input or flag (CLI exit code 2); `RunpackError` is anything else that stops the run.
 */
export class RunpackError extends Error {
  /** A stable, documented code, e.g. `package-missing`, `auth-failed`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RunpackError';
    this.code = code;
  }
}

export class UsageError extends RunpackError {
  constructor(message: string) {
    super('usage', message);
    this.name = 'UsageError';
  }
}

/** One line for the user: the message of a RunpackError, or a generic line for anything unexpected. */
export function describeError(err: unknown): string {
  if (err instanceof RunpackError) return err.message;
  if (err instanceof Error) return `Unexpected error: ${err.message}`;
  return `Unexpected error: ${String(err)}`;
}
