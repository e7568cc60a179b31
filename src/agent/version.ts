// The agent's version: published in HostInterface status and compared with the multi-nic CNI
// executable's, so skew between the two shows up in diagnostics.
export const AGENT_VERSION = '0.1.0';
