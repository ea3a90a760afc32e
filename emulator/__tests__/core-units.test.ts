import { describe, expect, it } from '@jest/globals';
import { redactPath } from '../src/core-http.js';
import { audienceForScope } from '../src/entra.js';
import { tunnelTarget } from '../src/proxy.js';
import {
  outsideTimeFrame,
  parseSignedIdentifiers,
  storageErrorXml,
  timeFrameDetail,
} from '../src/blob-front.js';
import { publishXml } from '../src/arm.js';
import { createClock } from '../src/clock.js';
import type { Site } from '../src/model.js';

describe('redactPath (request log)', () => {
  it('replaces secret query values and keeps the rest', () => {
    expect(redactPath('/c/b.zip?sv=2025&se=2026-01-01&sig=abc%2Fdef&sp=r')).toBe(
      '/c/b.zip?sv=2025&se=2026-01-01&sig=REDACTED&sp=r',
    );
    expect(redactPath('/t?client_secret=s3&client_assertion=eyJ&Token=x&password=p')).toBe(
      '/t?client_secret=REDACTED&client_assertion=REDACTED&Token=REDACTED&password=REDACTED',
    );
    expect(redactPath('/plain/path')).toBe('/plain/path');
  });
});

describe('audienceForScope', () => {
  it('maps .default scopes to token audiences and refuses others', () => {
    expect(audienceForScope('https://management.azure.com/.default')).toBe('https://management.azure.com');
    expect(audienceForScope('https://management.azure.com//.default')).toBe('https://management.azure.com');
    expect(audienceForScope('https://management.core.windows.net//.default')).toBe(
      'https://management.core.windows.net/',
    );
    expect(audienceForScope('https://storage.azure.com/.default offline_access')).toBe(
      'https://storage.azure.com',
    );
    expect(audienceForScope('https://127.0.0.1:8443/.default')).toBeNull();
    expect(audienceForScope('https://management.azure.com/user_impersonation')).toBeNull();
  });
});

describe('tunnelTarget (proxy name mapping)', () => {
  it('maps emulator names to the main listener and passes loopback through', () => {
    expect(tunnelTarget('app.azurewebsites.emulator.test:443', 9000)).toEqual({
      host: '127.0.0.1',
      port: 9000,
    });
    expect(tunnelTarget('APP-abc123.scm.westeurope-01.azurewebsites.emulator.test', 9000)).toEqual({
      host: '127.0.0.1',
      port: 9000,
    });
    expect(tunnelTarget('localhost:1234', 9000)).toEqual({ host: '127.0.0.1', port: 1234 });
    expect(tunnelTarget('[::1]:1234', 9000)).toEqual({ host: '::1', port: 1234 });
    expect(tunnelTarget('management.azure.com:443', 9000)).toBeNull();
    expect(tunnelTarget('evil-emulator.test.example.com:443', 9000)).toBeNull();
  });
});

describe('blob front helpers', () => {
  const st = new Date('2019-06-13T16:18:07Z');
  const se = new Date('2019-06-14T16:23:07Z');
  it('formats the time-frame detail like Storage', () => {
    expect(timeFrameDetail(st, se, new Date('2019-06-13T09:22:53Z'))).toBe(
      'Signature not valid in the specified time frame: Start [Thu, 13 Jun 2019 16:18:07 GMT] - Expiry [Fri, 14 Jun 2019 16:23:07 GMT] - Current [Thu, 13 Jun 2019 09:22:53 GMT]',
    );
  });
  it('checks both ends of the window', () => {
    expect(outsideTimeFrame(st, se, new Date('2019-06-13T09:00:00Z'))).toBe(true);
    expect(outsideTimeFrame(st, se, new Date('2019-06-14T00:00:00Z'))).toBe(false);
    expect(outsideTimeFrame(st, se, new Date('2019-06-15T00:00:00Z'))).toBe(true);
    expect(outsideTimeFrame(null, se, new Date('2000-01-01T00:00:00Z'))).toBe(false);
  });
  it('reads stored policies from a container ACL', () => {
    const xml =
      '<?xml version="1.0"?><SignedIdentifiers><SignedIdentifier><Id>rfp</Id><AccessPolicy><Start>2025-01-01T00:00:00.0000000Z</Start><Expiry>2026-01-01T00:00:00.0000000Z</Expiry><Permission>r</Permission></AccessPolicy></SignedIdentifier><SignedIdentifier><Id>open</Id><AccessPolicy><Permission>r</Permission></AccessPolicy></SignedIdentifier></SignedIdentifiers>';
    const p = parseSignedIdentifiers(xml);
    expect(p.get('rfp')).toEqual({
      start: new Date('2025-01-01T00:00:00Z'),
      expiry: new Date('2026-01-01T00:00:00Z'),
    });
    expect(p.get('open')).toEqual({ start: null, expiry: null });
  });
  it('writes the Storage XML error body', () => {
    const xml = storageErrorXml(
      'AuthenticationFailed',
      'msg <x>',
      'rid',
      new Date('2025-01-01T00:00:00Z'),
      'detail',
    );
    expect(xml).toBe(
      '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>msg &lt;x&gt;\nRequestId:rid\nTime:2025-01-01T00:00:00.000Z</Message><AuthenticationErrorDetail>detail</AuthenticationErrorDetail></Error>',
    );
  });
});

describe('publish profile', () => {
  it('uses the slot SCM host, $app__slot and escapes attribute values', () => {
    const site = {
      appName: 'app',
      slotName: 'staging',
      publishingUserName: '$app__staging',
      publishingPassword: 'p"&<',
      defaultHostName: 'app-staging.azurewebsites.emulator.test',
      scmHostName: 'app-staging-abcdef.scm.westeurope-01.azurewebsites.emulator.test',
    } as Site;
    const xml = publishXml(site);
    expect(xml).toContain(
      'publishMethod="ZipDeploy" publishUrl="app-staging-abcdef.scm.westeurope-01.azurewebsites.emulator.test:443" userName="$app__staging" userPWD="p&quot;&amp;&lt;"',
    );
    expect(xml).toContain('msdeploySite="app__staging"');
  });
});

describe('checklist 31: clock', () => {
  it('moves by the advanced offset and back', () => {
    const c = createClock();
    const t0 = c.now().getTime();
    c.advance(7 * 24 * 3600 * 1000);
    expect(c.now().getTime() - t0).toBeGreaterThanOrEqual(7 * 24 * 3600 * 1000);
    expect(c.offsetMs()).toBe(7 * 24 * 3600 * 1000);
    c.advance(-c.offsetMs());
    expect(c.offsetMs()).toBe(0);
  });
});
