// ESLint flat config. src/lib is pure (style §1): no file system, processes, sockets, cluster, Ink
// or oclif; the override below enforces it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const impure = [
  'fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'child_process', 'node:child_process',
  'net', 'node:net', 'http', 'node:http', 'https', 'node:https', 'dgram', 'node:dgram',
  'os', 'node:os', 'process', 'node:process', 'worker_threads', 'node:worker_threads',
  'ink', 'react', '@oclif/core', '@kubernetes/client-node', 'chalk',
];
const edges = ['agent', 'cni', 'commands', 'ui', 'lab', 'cli', 'host', 'kube', 'cluster', 'check'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'build/**', '**/*.gen.ts', 'oclif.manifest.json', 'bench/**/.build-*/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  // Type-aware: a promise nobody awaits hides its failure and races what follows (the lab supervisor
  // once connected before its kubeconfig was written). ~10 s more lint on 2 cores.
  {
    files: ['src/**/*.ts', 'src/**/*.tsx', 'test/**/*.ts', 'test/**/*.tsx', 'bench/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
    },
  },
  // src/lib may import only src/lib: the edge folders are forbidden by relative depth, so
  // src/lib/agent (pure protocol types) is not confused with src/agent.
  ...[1, 2, 3].map((depth) => ({
    files: [`src/lib/${'*/'.repeat(depth - 1)}*.ts`],
    rules: {
      'no-restricted-imports': ['error', {
        paths: impure.map((name) => ({ name, message: 'src/lib is pure: take plain data, return plain data (style §1).' })),
        patterns: [{ group: edges.map((e) => `${'../'.repeat(depth)}${e}/**`), message: 'src/lib must not depend on the edges.' }],
      }],
      'no-restricted-globals': ['error', { name: 'process', message: 'src/lib is pure: pass values in.' }, { name: 'fetch', message: 'src/lib is pure.' }],
    },
  })),
);
