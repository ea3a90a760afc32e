/**
 * Secrets seen during a run. Every value is registered before anything could print it; `redact` removes
 * them (and any SAS signature) from text bound for logs, outputs, summaries and error messages.
 */
export interface SecretRegistry {
  /** Register a secret (ignored when empty or too short to be a secret). Calls the sink (core.setSecret in the action). */
  add(value: string | undefined | null): void;
  /** The text with every registered secret and every `sig=` value replaced by `***`. */
  redact(text: string): string;
}

export function createSecretRegistry(sink?: (value: string) => void): SecretRegistry {
  const values = new Set<string>();
  return {
    add(value) {
      if (!value || value.length < 4 || values.has(value)) return;
      values.add(value);
      sink?.(value);
      // Also catch the URL-encoded form (SAS signatures, secrets inside URLs).
      const encoded = encodeURIComponent(value);
      if (encoded !== value && !values.has(encoded)) {
        values.add(encoded);
        sink?.(encoded);
      }
    },
    redact(text) {
      let out = text;
      // Longest first, so a secret containing another is replaced whole.
      for (const v of [...values].sort((a, b) => b.length - a.length)) out = out.split(v).join('***');
      return redactSasSignatures(out);
    },
  };
}

/** Replaces the value of every `sig=` query parameter in free text. */
export function redactSasSignatures(text: string): string {
  return text.replace(/(\bsig=)[^&\s"'<>]+/gi, '$1***');
}
