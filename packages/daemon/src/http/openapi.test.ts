import assert from 'node:assert/strict';
import { z } from '@nsbox/core';
import { createBoxBody, execResult } from '../schemas/boxes.js';
import { buildOpenApi } from './openapi.js';
import { type AnyRoute, defineRoute } from './route.js';

type Schema = { required?: string[]; properties?: Record<string, unknown>; additionalProperties?: unknown; type?: unknown };

function operation(route: AnyRoute): { request: Schema | undefined; answer: Schema } {
  const document = buildOpenApi([route], { version: '0.0.0', plugins: [] }) as {
    paths: Record<
      string,
      Record<
        string,
        { requestBody?: { content: Record<string, { schema: Schema }> }; responses: Record<string, { content: Record<string, { schema: Schema }> }> }
      >
    >;
  };
  const found = document.paths[route.url.replace(/:([A-Za-z_]+)/g, '{$1}')]?.[route.method.toLowerCase()];
  assert.ok(found, `${route.method} ${route.url} is in the document`);
  return {
    request: found.requestBody?.content['application/json']?.schema,
    answer: found.responses[String(route.status ?? 200)]?.content['application/json']?.schema as Schema,
  };
}

describe('the OpenAPI document', () => {
  it('documents a request as clients send it and an answer as nsboxd produces it', () => {
    const thing = z.object({ name: z.string(), start: z.boolean().default(false), size: z.string().transform(Number).optional() });
    const { request, answer } = operation(
      defineRoute({ method: 'POST', url: '/things', summary: 'a thing', tags: [], access: 'operator', body: thing, response: thing }),
    );
    // A default may be left out when sent, and is always there in an answer.
    assert.deepEqual(request?.required, ['name']);
    assert.deepEqual(answer.required, ['name', 'start']);
    // A transformed field is text when sent; its output (a number) is not text.
    assert.deepEqual(request?.properties?.size, { type: 'string' });
    assert.notDeepEqual(answer.properties?.size, { type: 'string' });
    // An answer has no fields beyond its schema's; a (non-strict) request object tolerates them.
    assert.equal(answer.additionalProperties, false);
    assert.equal(request?.additionalProperties, undefined);
  });

  it("documents the daemon's own schemas on the right side: create's start is optional, exec's truncated too and nothing else comes", () => {
    const { request } = operation(defineRoute({ method: 'POST', url: '/boxes', summary: 'create', tags: [], access: 'operator', body: createBoxBody }));
    assert.deepEqual(request?.required, ['name', 'config']);
    const { answer } = operation(defineRoute({ method: 'POST', url: '/boxes/:id/exec', summary: 'exec', tags: [], access: 'operator', response: execResult }));
    assert.deepEqual(answer.required, ['exitCode', 'stdout', 'stderr']);
    assert.deepEqual(Object.keys(answer.properties ?? {}), ['exitCode', 'stdout', 'stderr', 'truncated']);
    assert.equal(answer.additionalProperties, false);
  });
});
