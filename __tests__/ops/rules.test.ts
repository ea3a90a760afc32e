import { describe, expect, it } from '@jest/globals';
import {
  archiveRules,
  conflictRules,
  diagnoseEvidence,
  fetchRules,
  flexRules,
  healthRules,
  identityRules,
  localRules,
  mountRules,
  policyRules,
  primaryCause,
  settingRules,
  slotRules,
  storageRules,
  urlRules,
} from '../../src/ops/rules.js';
import { parseSas } from '../../src/ops/sas.js';
import type { Evidence, OpsFinding } from '../../src/ops/types.js';
import { evidence, NOW, OTHER_STAMP, sasUrl, STAMP } from './evidence.js';

const codes = (fs: OpsFinding[]) => fs.map((x) => x.code);
const DAY = 86_400_000;
const iso = (ms: number) => new Date(NOW.getTime() + ms).toISOString().replace(/\.\d+Z$/, 'Z');

function urlEvidence(url: string, over: Partial<Evidence> = {}): Evidence {
  return evidence({ settings: { WEBSITE_RUN_FROM_PACKAGE: url }, sas: parseSas(url), ...over });
}

describe('settingRules (exact-string parsing)', () => {
  it('reports an app with no run-from-package value', () => {
    expect(codes(settingRules(evidence()))).toEqual(['rfp-unset']);
  });

  it.each(['true', ' 1', '01', '0', 'yes'])('refuses %j as neither local nor URL mode', (value) => {
    const found = settingRules(evidence({ settings: { WEBSITE_RUN_FROM_PACKAGE: value } }));
    expect(codes(found)).toEqual(['rfp-value-invalid']);
    expect(found[0].severity).toBe('error');
    expect(found[0].cause).toBe('stale-content');
  });

  it.each(['1', 'https://a/b.zip', 'HTTP://a/b.zip'])('accepts %j', (value) => {
    expect(settingRules(evidence({ settings: { WEBSITE_RUN_FROM_PACKAGE: value } }))).toEqual([]);
  });

  it('falls back to the legacy name and says so', () => {
    const found = settingRules(
      evidence({ settings: { WEBSITE_RUN_FROM_PACKAGE: '', WEBSITE_RUN_FROM_ZIP: '1' } }),
    );
    expect(codes(found)).toEqual(['rfp-legacy-name']);
  });

  it('flags the legacy name set alongside and WEBSITE_USE_ZIP', () => {
    const found = settingRules(
      evidence({
        settings: { WEBSITE_RUN_FROM_PACKAGE: '1', WEBSITE_RUN_FROM_ZIP: '1', WEBSITE_USE_ZIP: '1' },
      }),
    );
    expect(codes(found)).toEqual(['rfp-legacy-alongside', 'rfp-use-zip']);
  });

  it('never quotes a value that carries a SAS signature', () => {
    const found = settingRules(
      evidence({ settings: { WEBSITE_RUN_FROM_PACKAGE: ' https://a/b.zip?sig=SECRET' } }),
    );
    expect(found[0].code).toBe('rfp-value-invalid');
    expect(JSON.stringify(found)).not.toContain('SECRET');
  });
});

describe('conflictRules', () => {
  it('refuses the setting on Flex Consumption', () => {
    const e = evidence({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    e.target.isFlex = true;
    e.target.isFunctionApp = true;
    expect(codes(conflictRules(e))).toContain('flex-with-rfp');
  });

  it('refuses local mode on Linux Consumption function apps, not URL mode', () => {
    const e = evidence({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    Object.assign(e.target, { isFunctionApp: true, isConsumption: true, kind: 'functionapp,linux' });
    expect(codes(conflictRules(e))).toEqual(['linux-consumption-local']);
    e.settings.WEBSITE_RUN_FROM_PACKAGE = 'https://a/b.zip';
    expect(conflictRules(e)).toEqual([]);
  });

  it.each(['JAVA|17-java17', 'TOMCAT|10.1-java17', 'PYTHON|3.12'])(
    'flags %s web apps as unsupported',
    (fx) => {
      const e = evidence({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
      e.target.linuxFxVersion = fx;
      const found = conflictRules(e);
      expect(codes(found)).toEqual(['runtime-unsupported']);
      expect(found[0].cause).toBe('read-only-write');
    },
  );

  it('lists remote build, local cache and MSDeploy settings only while run-from-package is on', () => {
    const settings = {
      WEBSITE_RUN_FROM_PACKAGE: '1',
      SCM_DO_BUILD_DURING_DEPLOYMENT: 'true',
      ENABLE_ORYX_BUILD: 'true',
      WEBSITE_LOCAL_CACHE_OPTION: 'Always',
      WEBSITE_WEBDEPLOY_USE_SCM: 'true',
    };
    expect(codes(conflictRules(evidence({ settings })))).toEqual([
      'remote-build',
      'remote-build',
      'local-cache',
      'msdeploy',
    ]);
    const { WEBSITE_RUN_FROM_PACKAGE: _, ...off } = settings;
    expect(conflictRules(evidence({ settings: off }))).toEqual([]);
  });

  it('takes a Web Deploy deployer in the latest deployment as an MSDeploy hint', () => {
    const e = evidence({
      settings: { WEBSITE_RUN_FROM_PACKAGE: '1' },
      local: {
        packageName: '20260301110000.zip',
        sitePackages: ['20260301110000.zip'],
        latestDeployment: { id: 'x', status: 4, complete: true, deployer: 'MSDeploy' },
      },
    });
    expect(codes(conflictRules(e))).toEqual(['msdeploy']);
  });

  it('does not count SCM_DO_BUILD_DURING_DEPLOYMENT=false', () => {
    expect(
      conflictRules(
        evidence({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1', SCM_DO_BUILD_DURING_DEPLOYMENT: 'false' } }),
      ),
    ).toEqual([]);
  });
});

describe('urlRules (SAS parsing)', () => {
  it('says nothing about a healthy long-lived SAS', () => {
    expect(urlRules(urlEvidence(sasUrl({ se: iso(365 * DAY) })), NOW)).toEqual([]);
  });

  it('reports an expired SAS as an error', () => {
    const found = urlRules(urlEvidence(sasUrl({ se: iso(-DAY) })), NOW);
    expect(codes(found)).toEqual(['sas-expired']);
    expect(found[0].cause).toBe('sas-invalid');
  });

  it('warns 30 days ahead of expiry, not 31', () => {
    expect(codes(urlRules(urlEvidence(sasUrl({ se: iso(29 * DAY) })), NOW))).toEqual(['sas-expiring']);
    expect(codes(urlRules(urlEvidence(sasUrl({ se: iso(30 * DAY) })), NOW))).toEqual(['sas-expiring']);
    expect(urlRules(urlEvidence(sasUrl({ se: iso(31 * DAY) })), NOW)).toEqual([]);
  });

  it('reports a SAS that is not valid yet, lacks read, or allows only http', () => {
    const found = urlRules(
      urlEvidence(sasUrl({ st: iso(DAY), se: iso(400 * DAY), sp: 'w', spr: 'http' })),
      NOW,
    );
    expect(codes(found)).toEqual(['sas-not-yet-valid', 'sas-no-read', 'sas-http-only']);
  });

  it('warns about a user delegation SAS and fails one whose key expired', () => {
    const live = urlRules(urlEvidence(sasUrl({ se: iso(5 * DAY), skoid: 'o', ske: iso(5 * DAY) })), NOW);
    expect(codes(live)).toEqual(['sas-expiring', 'sas-user-delegation']);
    const dead = urlRules(urlEvidence(sasUrl({ se: iso(5 * DAY), skoid: 'o', ske: iso(-DAY) })), NOW);
    expect(codes(dead)).toContain('sas-user-delegation-expired');
    expect(dead.find((x) => x.code === 'sas-user-delegation-expired')?.severity).toBe('error');
  });

  it('warns about an account SAS', () => {
    expect(codes(urlRules(urlEvidence(sasUrl({ ss: 'b', srt: 'o', se: iso(400 * DAY) })), NOW))).toEqual([
      'sas-account',
    ]);
  });

  it('flags http URLs and names without .zip', () => {
    const e = evidence({ settings: { WEBSITE_RUN_FROM_PACKAGE: 'http://acct.blob.core.windows.net/c/pkg' } });
    expect(codes(urlRules(e, NOW))).toEqual(['url-not-https', 'url-not-zip']);
  });

  it('never repeats the signature', () => {
    const found = urlRules(urlEvidence(sasUrl({ se: iso(-DAY) })), NOW);
    expect(JSON.stringify(found)).not.toContain('c2VjcmV0');
  });

  it('ignores local mode', () => {
    expect(urlRules(evidence({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } }), NOW)).toEqual([]);
  });
});

describe('policyRules (stored access policy)', () => {
  const withPolicy = (policy: Evidence['policy']) => urlEvidence(sasUrl({ si: 'runpack-web' }), { policy });

  it('reports a missing policy as a revoked SAS', () => {
    const found = policyRules(withPolicy({ id: 'runpack-web', container: 'packages', exists: false }), NOW);
    expect(codes(found)).toEqual(['sas-policy-missing']);
    expect(found[0].severity).toBe('error');
  });

  it('reports expired, expiring and read-less policies', () => {
    expect(
      codes(
        policyRules(
          withPolicy({ id: 'p', container: 'c', exists: true, expiry: iso(-1), permissions: 'r' }),
          NOW,
        ),
      ),
    ).toEqual(['sas-policy-expired']);
    expect(
      codes(
        policyRules(
          withPolicy({ id: 'p', container: 'c', exists: true, expiry: iso(10 * DAY), permissions: 'rl' }),
          NOW,
        ),
      ),
    ).toEqual(['sas-policy-expiring']);
    expect(
      codes(
        policyRules(
          withPolicy({ id: 'p', container: 'c', exists: true, expiry: iso(300 * DAY), permissions: 'w' }),
          NOW,
        ),
      ),
    ).toEqual(['sas-policy-no-read']);
    expect(
      policyRules(
        withPolicy({ id: 'p', container: 'c', exists: true, expiry: iso(300 * DAY), permissions: 'r' }),
        NOW,
      ),
    ).toEqual([]);
  });

  it('says when the policies could not be read instead of guessing', () => {
    expect(
      codes(policyRules(withPolicy({ id: 'p', container: 'c', exists: false, error: '403' }), NOW)),
    ).toEqual(['sas-policy-unchecked']);
  });

  it('does nothing without si', () => {
    expect(
      policyRules(urlEvidence(sasUrl({}), { policy: { id: 'p', container: 'c', exists: false } }), NOW),
    ).toEqual([]);
  });
});

describe('fetchRules (classifying the storage answer)', () => {
  const fetched = (fetch: Evidence['fetch']) => urlEvidence(sasUrl({}), { fetch });

  it.each([
    [
      {
        status: 403,
        errorCode: 'AuthenticationFailed',
        detail: 'Signature not valid in the specified time frame: Start [x]',
      },
      'package-sas-expired',
      'sas-invalid',
    ],
    [
      {
        status: 403,
        errorCode: 'AuthenticationFailed',
        detail: 'Signature did not match. String to sign used was',
      },
      'package-sas-invalid',
      'sas-invalid',
    ],
    [
      { status: 403, errorCode: 'KeyBasedAuthenticationNotPermitted' },
      'package-shared-key-disabled',
      'sas-invalid',
    ],
    [{ status: 403, errorCode: 'AuthorizationFailure' }, 'package-firewall', 'mount-blocked'],
    [{ status: 403, errorCode: 'AuthorizationPermissionMismatch' }, 'package-permission', 'mount-blocked'],
    [{ status: 404, errorCode: 'BlobNotFound' }, 'package-missing', 'sas-invalid'],
    [{ status: 500 }, 'package-refused', 'mount-blocked'],
    [{ status: 0, error: 'ENOTFOUND' }, 'package-unreachable', 'mount-blocked'],
  ] as const)('%j → %s', (answer, code, cause) => {
    const found = fetchRules(fetched({ as: 'sas', ...answer }));
    expect(codes(found)).toEqual([code]);
    expect(found[0].cause).toBe(cause);
  });

  it('is quiet when the package answers 200', () => {
    expect(fetchRules(fetched({ as: 'sas', status: 206 }))).toEqual([]);
  });

  it("keeps a permission refusal of the caller's own token a warning", () => {
    const found = fetchRules(
      fetched({ as: 'caller-token', status: 403, errorCode: 'AuthorizationPermissionMismatch' }),
    );
    expect(found[0].severity).toBe('warning');
    expect(found[0].evidence).toMatch(/caller's token/);
  });
});

describe('archiveRules (central directory)', () => {
  it('reports a file that is not a zip', () => {
    expect(
      codes(archiveRules(evidence({ archive: { opened: false, problems: [], error: 'no end record' } }))),
    ).toEqual(['package-not-zip']);
  });

  it('names nested roots, missing entry points and other errors, ignoring warnings', () => {
    const found = archiveRules(
      evidence({
        archive: {
          opened: true,
          problems: [
            { code: 'nested-root', severity: 'error', message: 'everything is under app/' },
            { code: 'entry-point-missing', severity: 'error', message: 'no server.js' },
            { code: 'symlink', severity: 'error', message: 'a link' },
            { code: 'source-not-build', severity: 'warning', message: 'ts files' },
          ],
        },
      }),
    );
    expect(codes(found)).toEqual(['package-nested-root', 'package-entry-point-missing', 'package-invalid']);
    expect(found.every((x) => x.cause === 'mount-blocked')).toBe(true);
  });

  it('is quiet for a good archive', () => {
    expect(archiveRules(evidence({ archive: { opened: true, problems: [] } }))).toEqual([]);
  });
});

describe('storageRules', () => {
  const storage = { account: 'acct', container: 'packages', blob: 'web.zip', found: true };

  it('warns about a Deny network rule and makes it an error when the mount failed', () => {
    const warn = storageRules(
      urlEvidence(sasUrl({}), { storage: { ...storage, networkDefaultAction: 'Deny' } }),
    );
    expect(codes(warn)).toEqual(['storage-firewall']);
    expect(warn[0].severity).toBe('warning');
    const err = storageRules(
      urlEvidence(sasUrl({}), {
        storage: { ...storage, networkDefaultAction: 'Deny' },
        mount: { reachable: true, failureMarker: true, stampText: null },
      }),
    );
    expect(codes(err)).toEqual(['storage-firewall-blocks']);
    expect(err[0].severity).toBe('error');
  });

  it('fails a key-signed SAS on an account without shared key access, not a user delegation SAS', () => {
    expect(
      codes(storageRules(urlEvidence(sasUrl({}), { storage: { ...storage, allowSharedKeyAccess: false } }))),
    ).toEqual(['storage-shared-key-disabled']);
    expect(
      storageRules(
        urlEvidence(sasUrl({ skoid: 'o', ske: iso(DAY) }), {
          storage: { ...storage, allowSharedKeyAccess: false },
        }),
      ),
    ).toEqual([]);
  });

  it('says when the account is not visible', () => {
    expect(codes(storageRules(urlEvidence(sasUrl({}), { storage: { ...storage, found: false } })))).toEqual([
      'storage-not-visible',
    ]);
  });
});

describe('identityRules', () => {
  const plain = 'https://acct.blob.core.windows.net/packages/web.zip';
  const id = (over: Partial<NonNullable<Evidence['identity']>>): Evidence['identity'] => ({
    systemPrincipalId: 'sys',
    userAssigned: [],
    principalId: 'sys',
    role: 'found',
    ...over,
  });

  it('is quiet when the identity has its role', () => {
    expect(identityRules(urlEvidence(plain, { identity: id({}) }))).toEqual([]);
  });

  it('reports a missing role, a missing identity and a named identity the app lacks', () => {
    expect(codes(identityRules(urlEvidence(plain, { identity: id({ role: 'missing' }) })))).toEqual([
      'identity-role-missing',
    ]);
    expect(
      codes(
        identityRules(
          urlEvidence(plain, {
            identity: id({ systemPrincipalId: null, principalId: null, role: 'unknown' }),
          }),
        ),
      ),
    ).toEqual(['identity-missing']);
    const named = urlEvidence(plain, {
      settings: {
        WEBSITE_RUN_FROM_PACKAGE: plain,
        WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID:
          '/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/gone',
      },
      identity: id({
        miSetting:
          '/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/gone',
        principalId: null,
      }),
    });
    expect(codes(identityRules(named))).toEqual(['identity-not-assigned']);
  });

  it("notes that the probe used the caller's token", () => {
    const found = identityRules(
      urlEvidence(plain, { identity: id({}), fetch: { status: 200, as: 'caller-token' } }),
    );
    expect(codes(found)).toEqual(['identity-probe-caller']);
  });

  it('does not apply to SAS URLs', () => {
    expect(identityRules(urlEvidence(sasUrl({}), { identity: id({ role: 'missing' }) }))).toEqual([]);
  });
});

describe('localRules', () => {
  const local = (l: Evidence['local']) => evidence({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' }, local: l });

  it('reports =1 with nothing deployed', () => {
    const found = localRules(local({ packageName: null, sitePackages: [], latestDeployment: null }));
    expect(codes(found)).toEqual(['local-no-package']);
    expect(found[0].cause).toBe('stale-content');
  });

  it('reports a packagename.txt that names a zip Kudu does not hold', () => {
    expect(
      codes(localRules(local({ packageName: '20260301110000.zip', sitePackages: ['20260201110000.zip'] }))),
    ).toEqual(['local-package-missing']);
  });

  it('reports a failed latest deployment and a deployment that bypassed the package', () => {
    expect(
      codes(
        localRules(
          local({
            packageName: '20260301110000.zip',
            sitePackages: ['20260301110000.zip'],
            latestDeployment: { id: 'a', status: 3, complete: true },
          }),
        ),
      ),
    ).toEqual(['local-deploy-failed']);
    expect(
      codes(
        localRules(
          local({
            packageName: '20260301110000.zip',
            sitePackages: ['20260301110000.zip'],
            latestDeployment: { id: 'b', status: 4, complete: true, endTime: '2026-03-01T11:45:00Z' },
          }),
        ),
      ),
    ).toEqual(['local-deploy-not-packaged']);
  });

  it('is quiet when packagename.txt names the latest deployment', () => {
    expect(
      localRules(
        local({
          packageName: '20260301110000.zip',
          sitePackages: ['20260301110000.zip'],
          latestDeployment: { id: 'b', status: 4, complete: true, endTime: '2026-03-01T11:00:20Z' },
        }),
      ),
    ).toEqual([]);
  });
});

describe('mountRules', () => {
  const url = 'https://acct.blob.core.windows.net/packages/web.zip';

  it('reports the failure marker', () => {
    const found = mountRules(
      urlEvidence(url, { mount: { reachable: true, failureMarker: true, stampText: null } }),
    );
    expect(codes(found)).toEqual(['mount-failed']);
  });

  it('reports stale content when the mounted stamp differs from the package (no restart since)', () => {
    const e = urlEvidence(url, {
      archive: { opened: true, problems: [], stamp: STAMP },
      mount: { reachable: true, failureMarker: false, stampText: JSON.stringify(OTHER_STAMP) },
    });
    const found = mountRules(e);
    expect(codes(found)).toEqual(['stale-content']);
    expect(found[0].cause).toBe('stale-content');
    e.mount!.stampText = JSON.stringify(STAMP);
    expect(mountRules(e)).toEqual([]);
  });

  it('compares the local stored package stamp in local mode', () => {
    const e = evidence({
      settings: { WEBSITE_RUN_FROM_PACKAGE: '1' },
      local: { packageName: 'p.zip', sitePackages: ['p.zip'], packageStamp: STAMP },
      mount: { reachable: true, failureMarker: false, stampText: null },
    });
    expect(codes(mountRules(e))).toEqual(['stale-content']);
  });

  it('reports Kudu lagging behind the settings and an unreachable Kudu', () => {
    expect(
      codes(
        mountRules(
          urlEvidence(url, {
            mount: { reachable: true, failureMarker: false, stampText: null, kuduValueState: 'local' },
          }),
        ),
      ),
    ).toEqual(['kudu-setting-lag']);
    expect(
      codes(
        mountRules(urlEvidence(url, { mount: { reachable: false, failureMarker: false, stampText: null } })),
      ),
    ).toEqual(['kudu-unreachable']);
  });
});

describe('healthRules', () => {
  it.each([
    "EROFS: read-only file system, open '/home/site/wwwroot/cache.json'",
    "EACCES: permission denied, open '/home/site/wwwroot/log.txt'",
    "System.UnauthorizedAccessException: Access to the path 'C:\\home\\site\\wwwroot\\App_Data\\x' is denied.",
  ])('finds a write into the read-only mount in %j', (body) => {
    const found = healthRules(evidence({ health: { path: '/', status: 500, body } }));
    expect(codes(found)).toEqual(['read-only-write']);
    expect(found[0].cause).toBe('read-only-write');
  });

  it('reports a failing site without a read-only error as a warning, and a healthy one not at all', () => {
    expect(
      codes(healthRules(evidence({ health: { path: '/', status: 503, body: 'Service Unavailable' } }))),
    ).toEqual(['health-failing']);
    expect(healthRules(evidence({ health: { path: '/', status: 200, body: 'ok' } }))).toEqual([]);
  });
});

describe('slotRules', () => {
  it('reuses the deploy comparison: URL app vs local slot with a sticky setting', () => {
    const e = evidence({
      settings: {
        WEBSITE_RUN_FROM_PACKAGE: 'https://acct.blob.core.windows.net/packages/web.zip?sv=1&sig=x',
      },
      slots: {
        stickyNames: ['WEBSITE_RUN_FROM_PACKAGE'],
        others: [{ name: 'staging', settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } }],
      },
    });
    const found = slotRules(e);
    expect(codes(found)).toEqual(['slot-swap-mode-mismatch']);
    expect(found[0].cause).toBe('config');
    expect(found[0].severity).toBe('warning');
  });

  it('is quiet when both sides agree', () => {
    const e = evidence({
      settings: { WEBSITE_RUN_FROM_PACKAGE: '1' },
      slots: { stickyNames: [], others: [{ name: 'staging', settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } }] },
    });
    expect(slotRules(e)).toEqual([]);
  });
});

describe('diagnoseEvidence and primaryCause', () => {
  it('puts errors first and names the most specific cause', () => {
    const e = urlEvidence(sasUrl({ se: iso(10 * DAY) }), {
      fetch: { status: 403, errorCode: 'AuthorizationFailure', as: 'sas' },
      mount: { reachable: true, failureMarker: true, stampText: null },
    });
    const found = diagnoseEvidence(e, NOW);
    expect(found[0].severity).toBe('error');
    expect(found.findIndex((x) => x.severity === 'warning')).toBeGreaterThan(
      found.findIndex((x) => x.code === 'mount-failed'),
    );
    expect(primaryCause(found)).toBe('mount-blocked');
  });

  it('is null for a healthy app', () => {
    const e = urlEvidence(sasUrl({ se: iso(300 * DAY) }), {
      fetch: { status: 206, as: 'sas' },
      archive: { opened: true, problems: [], stamp: STAMP },
      mount: { reachable: true, failureMarker: false, stampText: JSON.stringify(STAMP) },
    });
    expect(diagnoseEvidence(e, NOW)).toEqual([]);
    expect(primaryCause([])).toBeNull();
  });

  it('every finding carries evidence and a fix', () => {
    const e = urlEvidence(sasUrl({ se: iso(-DAY), sp: 'w' }), {
      settings: {
        WEBSITE_RUN_FROM_PACKAGE: sasUrl({ se: iso(-DAY), sp: 'w' }),
        WEBSITE_RUN_FROM_ZIP: 'x',
        WEBSITE_LOCAL_CACHE_OPTION: 'Always',
      },
      fetch: { status: 404, as: 'sas' },
      health: { path: '/', status: 500, body: 'EROFS' },
    });
    const found = diagnoseEvidence(e, NOW);
    expect(found.length).toBeGreaterThan(4);
    for (const x of found) {
      expect(x.evidence.length).toBeGreaterThan(0);
      expect(x.fix.length).toBeGreaterThan(0);
    }
  });
});

describe("flexRules (a Flex app's deployment storage)", () => {
  const flex = (over: Partial<NonNullable<Evidence['flex']>>): Evidence =>
    evidence({
      target: { ...evidence().target, kind: 'functionapp,linux', isFunctionApp: true, isFlex: true },
      flex: {
        containerUrl: 'https://acct.blob.core.windows.net/app-package-web',
        authentication: 'SystemAssignedIdentity',
        account: 'acct',
        container: 'app-package-web',
        found: true,
        networkDefaultAction: 'Allow',
        principalId: 'p1',
        role: 'found',
        packageStatus: 200,
        ...over,
      },
    });

  it('says nothing when the platform can reach a deployed package', () => {
    expect(flexRules(flex({}))).toEqual([]);
    expect(flexRules(evidence())).toEqual([]);
  });

  it("names the identity's missing write role, with the role to assign, as a blocked mount", () => {
    const [x] = flexRules(flex({ role: 'missing' }));
    expect(x.code).toBe('flex-storage-role');
    expect(x.cause).toBe('mount-blocked');
    expect(x.fix).toMatch(/Storage Blob Data Contributor.*--assignee-object-id p1/);
  });

  it('reports a network rule, a missing identity, a bad connection-string setting and no package', () => {
    expect(codes(flexRules(flex({ networkDefaultAction: 'Deny' })))).toEqual(['flex-storage-network']);
    expect(codes(flexRules(flex({ principalId: null, authentication: 'UserAssignedIdentity' })))).toEqual([
      'flex-storage-identity',
    ]);
    const conn = flexRules(
      flex({
        authentication: 'StorageAccountConnectionString',
        principalId: undefined,
        role: undefined,
        connectionSetting: { name: 'DEPLOY_CS', present: false, namesAccount: false },
      }),
    );
    expect(codes(conn)).toEqual(['flex-storage-connection']);
    expect(conn[0].message).toMatch(/DEPLOY_CS .* is missing/);
    expect(codes(flexRules(flex({ packageStatus: 404 })))).toEqual(['flex-no-package']);
    expect(codes(flexRules(flex({ found: false, role: 'unknown' })))).toEqual(['flex-storage-unseen']);
  });
});
