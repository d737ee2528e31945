/**
 * The OpenAPI 3.1 document, generated from the route definitions and their zod schemas (the
 * ones that validate requests, and the ones that describe answers), with the box config
 * composed of the core's schema and every enabled plugin's section schema. A request is
 * documented as clients send it (zod's input side: defaults optional, coerced values as text),
 * an answer as nsboxd produces it (the output side: defaults present, no unknown fields).
 */

import { type AnyPlugin, coreConfigSchema, type SetOptionContribution, type StandardSchemaV1, z } from '@nsbox/core';
import { errorBody } from '../schemas/common.js';
import type { AnyRoute } from './route.js';

type JsonSchema = Record<string, unknown>;
/** 'input': what a client sends; 'output': what nsboxd answers. */
type Side = 'input' | 'output';

function isZod(schema: unknown): schema is z.ZodType {
  return typeof (schema as { safeParse?: unknown })?.safeParse === 'function' && '_zod' in (schema as object);
}

/** JSON Schema of a zod schema, as sent (input side, the default) or as answered (output side); other libraries: described only. */
export function jsonSchemaOf(schema: StandardSchemaV1 | z.ZodType | undefined, fallback = 'validated by its plugin', io: Side = 'input'): JsonSchema {
  if (schema === undefined) return {};
  if (!isZod(schema)) return { description: `${fallback} (schema library: ${(schema as StandardSchemaV1)['~standard']?.vendor ?? 'unknown'})` };
  try {
    const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
    return json;
  } catch {
    return { description: fallback };
  }
}

export function pluginConfigJsonSchema(plugin: AnyPlugin): JsonSchema | null {
  return plugin.config ? jsonSchemaOf(plugin.config, `the config section of plugin ${plugin.name}`) : null;
}

/** The whole box config: the core's fields plus one section per enabled plugin. */
export function boxConfigJsonSchema(plugins: readonly AnyPlugin[]): JsonSchema {
  const core = jsonSchemaOf(coreConfigSchema);
  const properties = { ...((core.properties as Record<string, JsonSchema> | undefined) ?? {}) };
  for (const plugin of plugins) {
    const section = pluginConfigJsonSchema(plugin);
    if (section) properties[plugin.name] = { ...section, description: `section of plugin ${plugin.name}@${plugin.version}` };
  }
  return { ...core, properties, description: "A box's config: the core's fields and one section per plugin (each validated by the plugin that owns it)" };
}

function objectProperties(schema: unknown): { properties: Record<string, JsonSchema>; required: string[] } {
  const json = jsonSchemaOf(schema as z.ZodType);
  return { properties: (json.properties as Record<string, JsonSchema> | undefined) ?? {}, required: (json.required as string[] | undefined) ?? [] };
}

function parameters(route: AnyRoute): JsonSchema[] {
  const list: JsonSchema[] = [];
  const pathNames = [...route.url.matchAll(/:([A-Za-z_]+)/g)].map((match) => match[1] as string);
  const params = route.params ? objectProperties(route.params) : { properties: {}, required: [] };
  for (const name of pathNames) list.push({ name, in: 'path', required: true, schema: params.properties[name] ?? { type: 'string' } });
  if (route.query) {
    const query = objectProperties(route.query);
    for (const [name, schema] of Object.entries(query.properties)) list.push({ name, in: 'query', required: query.required.includes(name), schema });
  }
  return list;
}

/** `nsbox set`'s body: every plugin's set options, each described with its plugin. */
export function setOptionsJsonSchema(contributions: readonly SetOptionContribution[]): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const contribution of contributions) {
    const input = objectProperties(contribution.input).properties;
    for (const [field, option] of Object.entries(contribution.options)) {
      properties[field] = { ...(input[field] ?? {}), description: `${option.description} (${option.flags}; plugin ${contribution.plugin})` };
    }
  }
  return {
    type: 'object',
    properties,
    additionalProperties: false,
    description: "The plugins' set options (setOptionPoint): every one validated before any is applied; a running box gets them live",
  };
}

function requestBody(route: AnyRoute): JsonSchema | undefined {
  if (route.consumes === 'bytes') return { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } };
  if (!route.body) return undefined;
  if (route.bodyRef) return { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${route.bodyRef}` } } } };
  const schema = jsonSchemaOf(route.body);
  const optional = isZod(route.body) && route.body.safeParse(undefined).success;
  // An optional object comes out as anyOf [object, ...]: document the object.
  const body = (schema.anyOf as JsonSchema[] | undefined)?.find((candidate) => candidate.type === 'object') ?? schema;
  if (route.bodyDoc) body.properties = { ...((body.properties as JsonSchema | undefined) ?? {}), ...route.bodyDoc };
  return { required: !optional, content: { 'application/json': { schema: body } } };
}

function responses(route: AnyRoute): JsonSchema {
  const status = String(route.status ?? 200);
  const error = { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  const success = (() => {
    switch (route.produces) {
      case 'sse':
        return { description: 'server-sent events', content: { 'text/event-stream': { schema: { type: 'string' } } } };
      case 'text':
        return { description: 'text', content: { 'text/plain': { schema: { type: 'string' } } } };
      case 'websocket':
        return { description: 'switching to the websocket protocol' };
      default:
        return {
          description: 'success',
          content: { 'application/json': { schema: route.response ? jsonSchemaOf(route.response, 'described by its route', 'output') : {} } },
        };
    }
  })();
  return { [route.produces === 'websocket' ? '101' : status]: success, '4XX': error, '5XX': error };
}

export function buildOpenApi(
  routes: readonly AnyRoute[],
  options: { version: string; plugins: readonly AnyPlugin[]; setOptions?: readonly SetOptionContribution[] },
): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const operation: JsonSchema = {
      operationId: `${route.method.toLowerCase()}${route.url.replace(/[/:]+([A-Za-z_]+)/g, (_, word: string) => `_${word}`).replace(/[^A-Za-z0-9_]/g, '_')}`,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: route.tags,
      parameters: parameters(route),
      responses: responses(route),
      security: route.access === 'public' ? [] : [{ bearer: [] }],
      'x-nsbox-role': route.access,
      ...(route.hostWide ? { 'x-nsbox-host-wide': true } : {}),
      ...(route.extensions ?? {}),
    };
    const body = requestBody(route);
    if (body) operation.requestBody = body;
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'nsboxd',
      version: options.version,
      description:
        'The nsbox REST API: boxes, exec, logs, events, operations, templates, plugins, tenants and tokens. Every route but /health and /openapi.json needs a bearer token.',
    },
    servers: [{ url: 'http://localhost', description: 'the unix socket (/run/nsbox/nsbox.sock by default), or TCP with TLS' }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: jsonSchemaOf(errorBody, 'an error', 'output'),
        BoxConfig: boxConfigJsonSchema(options.plugins),
        SetOptions: setOptionsJsonSchema(options.setOptions ?? []),
      },
    },
  };
}
