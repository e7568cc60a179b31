// Label and field selector grammar and matching, as apimachinery defines them.
import { describe, expect, it } from 'vitest';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from '../../../src/lab/apiserver/selectors.js';
import { ApiError } from '../../../src/lab/apiserver/errors.js';

describe('label selectors', () => {
  const labels = { app: 'agent', tier: 'node', 'multinic.fms.io/role': 'x' };
  it.each([
    ['', true],
    ['app=agent', true],
    ['app==agent', true],
    ['app=web', false],
    ['app!=web', true],
    ['missing!=x', true],
    ['tier', true],
    ['missing', false],
    ['!missing', true],
    ['!tier', false],
    ['app in (web, agent)', true],
    ['app in (web)', false],
    ['app notin (web)', true],
    ['missing notin (web)', true],
    ['multinic.fms.io/role=x,tier=node', true],
    ['app=agent,tier=front', false],
    [' app = agent , tier ', true],
  ])('%j matches: %s', (sel, expected) => {
    expect(matchesLabels(parseLabelSelector(sel), labels)).toBe(expected);
  });

  it.each(['app in agent', 'app=a b', '=x', 'Bad Key=1', 'app=(x'])('rejects %j with 400', (sel) => {
    try {
      parseLabelSelector(sel);
      expect.unreachable('should not parse');
    } catch (e) {
      expect((e as ApiError).code).toBe(400);
    }
  });
});

describe('field selectors', () => {
  const pod = { metadata: { name: 'p', namespace: 'ns' }, spec: { nodeName: 'n1', hostNetwork: true }, status: { phase: 'Running' } };
  const supported = ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'spec.hostNetwork', 'status.phase'];
  it.each([
    ['metadata.name=p', true],
    ['metadata.name==p', true],
    ['metadata.name!=p', false],
    ['spec.nodeName=n1,status.phase=Running', true],
    ['spec.nodeName=n1,status.phase!=Running', false],
    ['spec.hostNetwork=true', true],
    ['spec.nodeName=', false],
  ])('%j matches: %s', (sel, expected) => {
    expect(matchesFields(parseFieldSelector(sel, supported, 'pods'), pod)).toBe(expected);
  });
  it('treats a missing field as the empty string', () => {
    expect(matchesFields(parseFieldSelector('spec.nodeName=', supported, 'pods'), { metadata: { name: 'q' } })).toBe(true);
  });
  it('rejects fields the resource does not support', () => {
    expect(() => parseFieldSelector('spec.bogus=1', supported, 'pods')).toThrow(/field label not supported: spec.bogus/);
  });
});
