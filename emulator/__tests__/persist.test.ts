/**
 * The emulator survives what users do to it: restarted with the same state dir, it finds the sites as it left
 * them (settings, sticky names, state) instead of putting them back to the preset. Checked with the official
 * Resource Manager client.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import { WebSiteManagementClient } from '@azure/arm-appservice';
import { startTestEmulator } from './helpers/start.js';

const RG = 'runpack-rg';

describe('a restart with the same state dir', () => {
  it('keeps app settings, slot-sticky names and a stopped site', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'runpack-emu-persist-'));
    try {
      const client = (emu: Awaited<ReturnType<typeof startTestEmulator>>) =>
        new WebSiteManagementClient(
          new ClientSecretCredential(
            emu.tenantId,
            emu.servicePrincipal.clientId,
            emu.servicePrincipal.clientSecret,
            {
              authorityHost: emu.authorityHost,
              disableInstanceDiscovery: true,
            },
          ),
          emu.subscriptionId,
          {
            endpoint: emu.resourceManagerEndpoint,
            credentialScopes: ['https://management.azure.com/.default'],
          },
        );
      const first = await startTestEmulator({ stateDir }, { keepStateDir: true });
      const a = client(first);
      const settings = (await a.webApps.listApplicationSettings(RG, 'rp-win-web')).properties ?? {};
      await a.webApps.updateApplicationSettings(RG, 'rp-win-web', {
        properties: { ...settings, WEBSITE_RUN_FROM_PACKAGE: 'https://example.invalid/p.zip', MY_FLAG: 'on' },
      });
      await a.webApps.updateSlotConfigurationNames(RG, 'rp-linux-web', { appSettingNames: ['MY_FLAG'] });
      await a.webApps.stop(RG, 'rp-linux-func');
      await first.stop();

      const second = await startTestEmulator({ stateDir }, { keepStateDir: true });
      try {
        const b = client(second);
        const after = (await b.webApps.listApplicationSettings(RG, 'rp-win-web')).properties ?? {};
        expect(after).toMatchObject({
          WEBSITE_RUN_FROM_PACKAGE: 'https://example.invalid/p.zip',
          MY_FLAG: 'on',
        });
        expect((await b.webApps.listSlotConfigurationNames(RG, 'rp-linux-web')).appSettingNames).toEqual([
          'MY_FLAG',
        ]);
        expect((await b.webApps.get(RG, 'rp-linux-func')).state).toBe('Stopped');
        // Untouched sites are still the preset's.
        expect((await b.webApps.listApplicationSettings(RG, 'rp-scaled-web')).properties).not.toHaveProperty(
          'MY_FLAG',
        );
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 120_000);
});
