/**
 * The one vocabulary of causes, shared by the deploy's verification, diagnose and rollback, and by the `cause`
 * output of every front end: the four ways run-from-package deploys fail (a write into the read-only mount, a bad
 * or expired package URL, a blocked mount, stale content after a mode mismatch), an app that does not start from
 * a sound mount, a functions host that loads none of the package's functions, a runner that cannot reach the app, settings that fight run-from-package, and what matches none of
 * them.
 */
export type Cause =
  | 'read-only-write'
  | 'sas-invalid'
  | 'mount-blocked'
  | 'stale-content'
  | 'app-start-failed'
  | 'functions-not-loaded'
  | 'runner-network'
  | 'config'
  | 'unknown';

export const CAUSES: readonly Cause[] = [
  'read-only-write',
  'sas-invalid',
  'mount-blocked',
  'stale-content',
  'app-start-failed',
  'functions-not-loaded',
  'runner-network',
  'config',
  'unknown',
];

export const CAUSE_TITLES: Record<Cause, string> = {
  'read-only-write': 'the app writes into its read-only package mount',
  'sas-invalid': 'the package URL or its SAS is bad or expired',
  'mount-blocked': 'the worker could not mount the package (network rule, missing role or bad archive)',
  'stale-content': 'the app runs other content than this release (mode mismatch or stale mount)',
  'app-start-failed': 'the app fails to start from the mounted package',
  'functions-not-loaded':
    "the functions host runs but did not load the package's functions (content or a runtime it cannot index)",
  'runner-network':
    "the runner cannot reach the app (DNS, proxy, firewall or TLS trust on the runner's side)",
  config: 'settings or platform features that fight run-from-package',
  unknown: 'no known cause matched',
};
