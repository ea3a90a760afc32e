import { describe, expect, it } from '@jest/globals';
import {
  looksSecret,
  parseConfigEntries,
  parseConfigRecord,
  planConfig,
  type CurrentConfig,
} from '../../src/release/config.js';

const problem = (text: string, kind: 'app-settings' | 'connection-strings' = 'app-settings') => {
  const r = parseConfigEntries(text, kind);
  return 'problem' in r ? r.problem : undefined;
};

describe('parseConfigEntries (Azure settings JSON)', () => {
  it("reads the portal's and the Azure CLI's format, stickiness left out when not given", () => {
    const r = parseConfigEntries(
      '[{"name":"A","value":"1","slotSetting":true},{"name":"B","value":2},{"name":"C","value":false}]',
      'app-settings',
    );
    expect(r).toEqual({
      entries: [
        { name: 'A', value: '1', slotSetting: true },
        { name: 'B', value: '2' },
        { name: 'C', value: 'false' },
      ],
    });
  });

  it('reads connection strings with a type, spelled any case, as Resource Manager names it', () => {
    const r = parseConfigEntries(
      '[{"name":"Db","value":"Server=x","type":"sqlazure"}]',
      'connection-strings',
    );
    expect(r).toEqual({ entries: [{ name: 'Db', value: 'Server=x', type: 'SQLAzure' }] });
  });

  it.each([
    ['not json', /must be a JSON array/],
    ['{"A":"1"}', /must be a JSON array/],
    ['["A"]', /entry 1 that is not an object/],
    ['[{"value":"1"}]', /entry 1 without a name/],
    ['[{"name":"A B","value":"1"}]', /may not contain spaces/],
    ['[{"name":"A","value":"1"},{"name":"a","value":"2"}]', /names a twice/],
    ['[{"name":"A","value":{"x":1}}]', /A without a string value/],
    ['[{"name":"A","value":"1","slotSetting":"yes"}]', /slotSetting that is not true or false/],
    ['[{"name":"A","value":"1","sticky":true}]', /'sticky': only name, value, slotSetting, secret are read/],
    ['[{"name":"WEBSITE_RUN_FROM_PACKAGE","value":"1"}]', /runpack sets it itself from 'mode'/],
  ])('refuses %s with one reason', (text, why) => {
    expect(problem(text)).toMatch(why);
  });

  it('refuses a connection string without a known type, listing the types', () => {
    expect(problem('[{"name":"Db","value":"x"}]', 'connection-strings')).toMatch(
      /Db without a type: one of ApiHub, Custom, .*ServiceBus/,
    );
    expect(problem('[{"name":"Db","value":"x","type":"Oracle"}]', 'connection-strings')).toMatch(/type/);
  });

  it('never quotes a value in its reason', () => {
    const secret = 'hunter2-very-secret';
    for (const text of [
      `[{"name":"A","value":"${secret}","slotSetting":"x"}]`,
      `[{"name":"A","value":"${secret}","x":1}]`,
      `[{"name":"Db","value":"${secret}"}]`,
    ])
      expect(problem(text, text.includes('Db') ? 'connection-strings' : 'app-settings')).not.toContain(
        secret,
      );
  });
});

describe('looksSecret', () => {
  it.each([
    [{ name: 'API_KEY', value: 'abc' }, true],
    [{ name: 'DB_PASSWORD', value: 'abc' }, true],
    [{ name: 'STORAGE', value: 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=xyz' }, true],
    [{ name: 'FEED', value: 'https://x.blob.core.windows.net/c?sv=1&sig=abc' }, true],
    [{ name: 'OPAQUE', value: 'q8ZP3xk2Lr7Vn1Ys6Tb0Wm4Hc9Fd5Ge2' }, true],
    [{ name: 'GREETING', value: 'hello world' }, false],
    [{ name: 'NODE_ENV', value: 'production' }, false],
    [{ name: 'MARKED', value: 'plain', secret: true }, true],
    [{ name: 'API_KEY', value: '@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/k)' }, false],
  ])('%j → %s', (entry, secret) => {
    expect(looksSecret(entry, 'app-settings')).toBe(secret);
  });

  it('treats every connection string as a secret', () => {
    expect(looksSecret({ name: 'Db', value: 'plain' }, 'connection-strings')).toBe(true);
  });
});

describe('planConfig', () => {
  const current: CurrentConfig = {
    settings: { KEEP: 'k', greeting: 'old', SAME: 'same' },
    connectionStrings: { Other: { value: 'o', type: 'Custom' }, Db: { value: 'old', type: 'SQLAzure' } },
    sticky: { appSettingNames: ['SAME'], connectionStringNames: [], azureStorageConfigNames: ['s'] },
    appCommandLine: '',
  };

  it('changes only what differs, on the existing name, and keeps every other setting and connection string', () => {
    const plan = planConfig(current, {
      appSettings: [
        { name: 'GREETING', value: 'new' },
        { name: 'SAME', value: 'same', slotSetting: false },
        { name: 'ADDED', value: 'a', slotSetting: true },
      ],
      connectionStrings: [{ name: 'Db', value: 'new', type: 'SQLAzure' }],
      startupCommand: 'node server.js',
    });
    expect(plan.settingChanges).toEqual({ greeting: 'new', ADDED: 'a' });
    expect(plan.connectionStrings).toEqual({
      Other: { value: 'o', type: 'Custom' },
      Db: { value: 'new', type: 'SQLAzure' },
    });
    expect(plan.sticky).toEqual({
      appSettingNames: ['ADDED'],
      connectionStringNames: [],
      azureStorageConfigNames: ['s'],
    });
    expect(plan.startupCommand).toBe('node server.js');
    expect(plan.changed).toBe(true);
    expect(plan.lines).toEqual([
      'App setting greeting: changed (value ***).',
      'App setting SAME: unchanged (value ***), no longer slot-sticky.',
      'App setting ADDED: added (value ***), now slot-sticky.',
      'Connection string Db (SQLAzure): changed (value ***).',
      'Startup command: set.',
    ]);
  });

  it('plans nothing when everything is in place (stickiness not given is left alone)', () => {
    const plan = planConfig(current, {
      appSettings: [{ name: 'SAME', value: 'same' }],
      connectionStrings: [{ name: 'Other', value: 'o', type: 'custom' }],
    });
    expect(plan).toMatchObject({ changed: false, settingChanges: {} });
    expect(plan.connectionStrings).toBeUndefined();
    expect(plan.sticky).toBeUndefined();
  });

  it('never puts a value in its lines', () => {
    const plan = planConfig(current, {
      appSettings: [{ name: 'TOKEN', value: 'top-secret-value' }],
      connectionStrings: [{ name: 'Db', value: 'Password=p4ss', type: 'SQLAzure' }],
    });
    expect(plan.lines.join('\n')).not.toMatch(/top-secret-value|p4ss/);
  });
});

describe('parseConfigRecord', () => {
  it('reads what a deploy recorded and refuses anything else', () => {
    expect(
      parseConfigRecord(
        JSON.stringify({ releaseId: 'x', appSettings: [{ name: 'A', value: '1' }], connectionStrings: [] }),
      ),
    ).toEqual({ appSettings: [{ name: 'A', value: '1' }], connectionStrings: [] });
    expect(parseConfigRecord('{"appSettings":[{"name":1}],"connectionStrings":[]}')).toBeNull();
    expect(parseConfigRecord('nope')).toBeNull();
    expect(parseConfigRecord(null)).toBeNull();
  });
});
