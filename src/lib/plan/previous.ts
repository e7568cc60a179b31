// Previous plans (`plan --previous`): CIDR objects, keyed by network name, validated against the
// CRD schema so a hand-edited file fails with a clear message instead of a confusing re-plan.
import type { CIDR } from '../crds/types.gen.js';
import { flattenLists, type ManifestDoc } from '../manifest.js';
import { checkObject, NetworkInputError } from '../objects.js';

/** Parses CIDR documents (Lists flattened) into a map by metadata.name; throws NetworkInputError. */
export function parsePreviousCidrs(docs: readonly ManifestDoc[]): Map<string, CIDR> {
  const out = new Map<string, CIDR>();
  for (const doc of flattenLists(docs)) {
    const c = checkObject(doc, 'CIDR') as unknown as CIDR;
    const name = c.metadata.name ?? '';
    if (out.has(name)) throw new NetworkInputError(`${doc.source} (CIDR "${name}")`, 'metadata.name', `a CIDR named "${name}" appears twice`, 'keep one previous CIDR per network');
    out.set(name, c);
  }
  return out;
}
