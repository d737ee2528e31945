import assert from 'node:assert/strict';
import { isNsboxError, z } from '@nsbox/core';
import { prefixFields, toApiError } from './api-error.js';
import { parsePart } from './validate.js';

describe('request validation', () => {
  const schema = z.strictObject({ name: z.string(), config: z.strictObject({ process: z.strictObject({ args: z.array(z.string()) }).optional() }) });

  it('names every unknown field and wrong type by its path', () => {
    try {
      parsePart(schema, 'body', { name: 1, colour: 'red', config: { process: { args: [1], shell: 'sh' } } });
      assert.fail('accepted');
    } catch (error) {
      assert.ok(isNsboxError(error));
      const { status, body } = toApiError(error);
      assert.equal(status, 400);
      assert.equal(body.error.code, 'E_INVALID_ARGUMENT');
      assert.deepEqual((body.error.details.issues as { path: string }[]).map((issue) => issue.path).sort(), [
        'colour',
        'config.process.args[0]',
        'config.process.shell',
        'name',
      ]);
      assert.ok(body.error.field);
    }
  });

  it('blames the body itself when it is not an object, and prefixes config paths', () => {
    assert.throws(
      () => parsePart(schema, 'body', 'text'),
      (error) => toApiError(error).body.error.field === '(body)',
    );
    const prefixed = prefixFields(new (class extends Error {})('x'), 'config');
    assert.ok(prefixed instanceof Error);
    try {
      parsePart(z.strictObject({ a: z.number() }), 'query', { a: 'x' });
    } catch (error) {
      assert.equal(toApiError(prefixFields(error, 'config')).body.error.field, 'config.a');
    }
  });

  it('turns anything else into a 500 without leaking a stack', () => {
    const { status, body } = toApiError(new TypeError('boom'));
    assert.equal(status, 500);
    assert.deepEqual(body, { error: { code: 'E_INTERNAL', message: 'boom', details: {} } });
  });
});
