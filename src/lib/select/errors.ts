// Typed selection errors. Each names what was asked and what the host has, so the CNI error a user
// reads says how to fix the pod annotation or the network (docs/conventions.md §7).
import { UserError } from '../errors.js';

/** The pod asked for NICs this host cannot give (absent names, too many, a class with no member...). */
export class NoMatchingNicError extends UserError {
  readonly code = 'NoMatchingNic' as const;
  constructor(asked: string, available: readonly string[], hint?: string) {
    const have = available.length ? available.join(', ') : 'none';
    super(`no NIC matches ${asked}; this host's NICs in the network: ${have}`, {
      hint: hint ?? 'change the pod annotation cni-args (nics/masters/class/target) or the network masterNets',
    });
    this.name = 'NoMatchingNicError';
  }
}

/** The pod names a DeviceClass that does not exist. */
export class UnknownDeviceClassError extends UserError {
  readonly code = 'UnknownDeviceClass' as const;
  constructor(name: string, known: readonly string[]) {
    super(`DeviceClass "${name}" does not exist (known: ${known.length ? known.join(', ') : 'none'})`, {
      hint: `create it (kubectl apply -f a DeviceClass named ${name}) or fix cni-args "class"`,
    });
    this.name = 'UnknownDeviceClassError';
  }
}

/** A selection argument that cannot be understood (bad target, negative nics...). */
export class InvalidSelectionError extends UserError {
  readonly code = 'InvalidRequest' as const;
  constructor(message: string, hint?: string) {
    super(message, { hint });
    this.name = 'InvalidSelectionError';
  }
}
