import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';
/** Without a CJK font the Chinese consoles render as boxes (and the screenshots show it). */
const CJK_FONT = '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc';

/**
 * Makes sure Debian's chromium is installed (CI runs on a fresh machine): installs it
 * with apt-get when missing and running as root, under the shared apt lock. Throws
 * (the test FAILS, never skips) when it cannot be had. Nothing downloads a browser
 * build of playwright's own.
 */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM_PATH) && existsSync(CJK_FONT)) return CHROMIUM_PATH;
  if (process.getuid?.() !== 0) {
    throw new Error(`${CHROMIUM_PATH} is missing and this is not root: apt-get install chromium`);
  }
  execFileSync(
    'flock',
    [
      '/tmp/apt.lock',
      'sh',
      '-c',
      'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], timeout: 900_000 },
  );
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`apt-get ran but ${CHROMIUM_PATH} is still missing`);
  return CHROMIUM_PATH;
}

export async function launchChromium(): Promise<Browser> {
  const executablePath = ensureChromium();
  return chromium.launch({
    executablePath,
    headless: true,
    // --no-sandbox: tests run as root in CI. Fake audio keeps Web Audio working
    // without a sound card; notifications are granted per context.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--use-fake-ui-for-media-stream'],
  });
}
