// The NetworkAttachmentDefinition CRD (k8s.cni.cncf.io/v1) as Multus defines it. On a real cluster
// Multus installs it; `install` adds it only when it is missing (or when asked), so the lab and bare
// clusters work. Fields follow the de-facto standard (Network Plumbing WG spec v1.2, §6): a namespaced
// kind whose `spec.config` is the CNI configuration as a JSON string.
import type { KubeObject } from '../k8s/meta.js';

export const NAD_CRD_NAME = 'network-attachment-definitions.k8s.cni.cncf.io';

/** The NAD CRD; `labels` mark it as installed by us so `uninstall` removes only its own copy. */
export function nadCrd(labels: Record<string, string>): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: NAD_CRD_NAME, labels: { ...labels } },
    spec: {
      group: 'k8s.cni.cncf.io',
      scope: 'Namespaced',
      names: {
        plural: 'network-attachment-definitions',
        singular: 'network-attachment-definition',
        kind: 'NetworkAttachmentDefinition',
        listKind: 'NetworkAttachmentDefinitionList',
        shortNames: ['net-attach-def'],
      },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              description: 'A network attachment: a CNI configuration that pods select by name in the k8s.v1.cni.cncf.io/networks annotation.',
              type: 'object',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: {
                  type: 'object',
                  properties: {
                    config: { type: 'string', description: 'The CNI configuration, JSON-encoded.' },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
}
