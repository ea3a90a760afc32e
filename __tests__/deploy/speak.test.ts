import { describe, expect, it } from '@jest/globals';
import { ACTION_NAMING, CLI_NAMING, speak, TASK_NAMING } from '../../src/inputs.js';

const MESSAGE =
  "Input 'storage-account' is required for url mode; name the account, or use mode: local. restart: false; set 'health-path' with keep-releases: 10 or package-access: identity (see the 'package' folder).";

describe("speak: a message in the front end's own words", () => {
  it("leaves the action's words alone", () => {
    expect(speak(MESSAGE, ACTION_NAMING)).toBe(MESSAGE);
  });

  it('the CLI names flags', () => {
    expect(speak(MESSAGE, CLI_NAMING)).toBe(
      "Flag '--storage-account' is required for url mode; name the account, or use --mode local. --no-restart; set --health-path with --keep-releases 10 or --package-access identity (see the --package folder).",
    );
  });

  it('the task names its camelCase inputs', () => {
    expect(speak(MESSAGE, TASK_NAMING)).toBe(
      "Input 'storageAccount' is required for url mode; name the account, or use mode: local. restart: false; set 'healthPath' with keepReleases: 10 or packageAccess: identity (see the 'package' folder).",
    );
  });

  it('does not touch words that only look like inputs', () => {
    const text =
      'Mode: local package (WEBSITE_RUN_FROM_PACKAGE=1); the mode: ftp is unknown; slot-swap-mode-mismatch';
    expect(speak(text, CLI_NAMING)).toBe(text);
  });
});
