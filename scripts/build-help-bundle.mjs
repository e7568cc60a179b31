// Bundles the part of oclif that formats help (its HelpFormatter, CommandHelp, RootHelp and the
// helpers they use: wrap-ansi, string-width, ejs, ...) into dist/cli/oclif-help.cjs, for the
// fast path of `--help` and `help` in src/cli/fast-help.ts. Loading those ~60 CommonJS files one by
// one costs about as much as Node's own start-up; one minified file costs a fifth of it. The code
// is the installed @oclif/core's, unchanged, so the text it formats is oclif's; the bundle records
// that version and the fast path steps aside when the installed one differs.
//
//   node scripts/build-help-bundle.mjs [--out dist/cli/oclif-help.cjs]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const i = process.argv.indexOf('--out');
const out = resolve(root, i >= 0 ? process.argv[i + 1] : 'dist/cli/oclif-help.cjs');
const require = createRequire(join(root, 'package.json'));
// @oclif/core's exports map hides lib/help/*.js; absolute paths reach them.
const lib = dirname(require.resolve('@oclif/core'));
const version = JSON.parse(readFileSync(join(lib, '..', 'package.json'), 'utf8')).version;
const at = (p) => JSON.stringify(join(lib, p));
const contents = `
const ansis = require('ansis');
const util = require(${at('util/util.js')});
module.exports = {
  oclifVersion: ${JSON.stringify(version)},
  HelpFormatter: require(${at('help/formatter.js')}).HelpFormatter,
  CommandHelp: require(${at('help/command.js')}).CommandHelp,
  RootHelp: require(${at('help/root.js')}).default,
  standardizeIDFromArgv: require(${at('help/util.js')}).standardizeIDFromArgv,
  sortBy: util.sortBy,
  uniqBy: util.uniqBy,
  compact: util.compact,
  strip: (s) => ansis.strip(s),
};
`;
await build({
  stdin: { contents, resolveDir: join(lib, '..'), loader: 'js', sourcefile: 'oclif-help-entry.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  legalComments: 'eof',
  logLevel: 'warning',
  outfile: out,
});
process.stderr.write(`build-help-bundle: ${out} (@oclif/core ${version})\n`);
