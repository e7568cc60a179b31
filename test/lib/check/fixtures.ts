// Loads the real iperf3 outputs captured by test/fixtures/iperf3/capture.sh.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../../fixtures/iperf3/', import.meta.url));

export const fixture = (name: string): string => readFileSync(`${dir}${name}`, 'utf8');
export const fixtureJson = (name: string): Record<string, any> => JSON.parse(fixture(name)); // eslint-disable-line @typescript-eslint/no-explicit-any

/** The addresses capture.sh gives the two namespaces. */
export const CLIENT_ADDR = '192.168.64.2';
export const SERVER_ADDR = '192.168.64.66';
