import { describe, it, expect } from '@jest/globals';
import {
  parsePublishProfile,
  profileMismatch,
  splitPublishingUserName,
  normalizeScmUrl,
} from '../../src/azure/publish-profile.js';
import { UsageError } from '../../src/util/errors.js';

const PROFILE = `<publishData>
  <publishProfile profileName="myapp - Web Deploy" publishMethod="MSDeploy"
    publishUrl="myapp-web.scm.azurewebsites.net:443" msdeploySite="myapp"
    userName="$myapp" userPWD="msdeploy-pw" destinationAppUrl="https://myapp.azurewebsites.net"
    SQLServerDBConnectionString="" webSystem="WebSites"><databases /></publishProfile>
  <publishProfile profileName="myapp - FTP" publishMethod="FTP"
    publishUrl="ftps://waws-prod-xxx.ftp.azurewebsites.windows.net/site/wwwroot" ftpPassiveMode="True"
    userName="myapp\\$myapp" userPWD="ftp-pw"><databases /></publishProfile>
  <publishProfile profileName="myapp - Zip Deploy" publishMethod="ZipDeploy"
    publishUrl="myapp-abc123.scm.westeurope-01.azurewebsites.net:443" userName="$myapp"
    userPWD="s3cr&amp;t&quot;pw" destinationAppUrl="https://myapp.azurewebsites.net"><databases /></publishProfile>
</publishData>`;

describe('parsePublishProfile', () => {
  it('picks the ZipDeploy profile and turns host:443 into an https base URL', () => {
    const p = parsePublishProfile(PROFILE);
    expect(p.publishMethod).toBe('ZipDeploy');
    expect(p.scmUrl).toBe('https://myapp-abc123.scm.westeurope-01.azurewebsites.net');
    expect(p.scmHost).toBe('myapp-abc123.scm.westeurope-01.azurewebsites.net');
    expect(p.userName).toBe('$myapp');
    expect(p.password).toBe('s3cr&t"pw');
    expect(p.appName).toBe('myapp');
    expect(p.slotName).toBeNull();
    expect(p.siteUrl).toBe('https://myapp.azurewebsites.net');
  });

  it('falls back to the MSDeploy profile when there is no ZipDeploy entry', () => {
    const xml = PROFILE.replace(
      /<publishProfile profileName="myapp - Zip Deploy"[\s\S]*?<\/publishProfile>/,
      '',
    );
    const p = parsePublishProfile(xml);
    expect(p.publishMethod).toBe('MSDeploy');
    expect(p.scmUrl).toBe('https://myapp-web.scm.azurewebsites.net');
    expect(p.password).toBe('msdeploy-pw');
  });

  it('reads slot profiles ($app__slot) and single-quoted attributes', () => {
    const xml = `<publishData><publishProfile profileName='x' publishMethod='ZipDeploy' publishUrl='myapp-staging.scm.example.net:443' userName='$myapp__staging' userPWD='pw'/></publishData>`;
    const p = parsePublishProfile(xml);
    expect(p.appName).toBe('myapp');
    expect(p.slotName).toBe('staging');
    expect(p.scmUrl).toBe('https://myapp-staging.scm.example.net');
  });

  it('keeps a non-default port', () => {
    const xml = `<publishData><publishProfile publishMethod="ZipDeploy" publishUrl="scm.local:8443" userName="$a" userPWD="pw"/></publishData>`;
    expect(parsePublishProfile(xml).scmUrl).toBe('https://scm.local:8443');
  });

  it('refuses something that is not a profile, without echoing the input', () => {
    const secretish = 'userPWD=hunter2 just some text';
    expect(() => parsePublishProfile(secretish)).toThrow(UsageError);
    try {
      parsePublishProfile(secretish);
    } catch (err) {
      expect((err as Error).message).toMatch(/not a publish profile/);
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('refuses a profile with only FTP entries, naming what it found', () => {
    const xml = `<publishData><publishProfile publishMethod="FTP" publishUrl="ftps://x/site" userName="a\\$a" userPWD="pw"/></publishData>`;
    expect(() => parsePublishProfile(xml)).toThrow(/no ZipDeploy or MSDeploy profile \(found: FTP\)/);
  });

  it('refuses a profile without a password and never prints the other fields', () => {
    const xml = `<publishData><publishProfile profileName="p" publishMethod="ZipDeploy" publishUrl="h:443" userName="$a"/></publishData>`;
    expect(() => parsePublishProfile(xml)).toThrow(/has no userPWD/);
  });

  it('refuses a profile with an unusable publishUrl', () => {
    const xml = `<publishData><publishProfile profileName="p" publishMethod="ZipDeploy" publishUrl="" userName="$a" userPWD="pw"/></publishData>`;
    expect(() => parsePublishProfile(xml)).toThrow(/no valid publishUrl/);
  });
});

describe('profileMismatch', () => {
  const prod = parsePublishProfile(PROFILE);
  it('accepts the profile of the target (app names are case-insensitive)', () => {
    expect(profileMismatch(prod, 'MyApp', null)).toBeNull();
    expect(profileMismatch(prod, 'myapp', 'production')).toBeNull();
  });
  it('names both sides when the profile is for another app or slot', () => {
    expect(profileMismatch(prod, 'other', null)).toMatch(
      /is for app 'myapp' \(production\) but this deploy targets app 'other'/,
    );
    expect(profileMismatch(prod, 'myapp', 'staging')).toMatch(/targets app 'myapp' slot 'staging'/);
  });
});

describe('helpers', () => {
  it('splits publishing user names', () => {
    expect(splitPublishingUserName('$a__b')).toEqual({ appName: 'a', slotName: 'b' });
    expect(splitPublishingUserName('a\\$a')).toEqual({ appName: 'a', slotName: null });
  });
  it('normalizes SCM URLs and strips userinfo', () => {
    expect(normalizeScmUrl('https://$a:pw@h.example:443/x?y')?.origin).toBe('https://h.example');
    expect(normalizeScmUrl('ftp://h')).toBeNull();
  });
});
