import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    globalSetup: ['test/helpers/build.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Kernel and lab tests share host-global state (netns names, bridges); each file uses its own
    // prefix, so files may run in parallel on the 2 CI cores.
    maxWorkers: 2,
  },
});
