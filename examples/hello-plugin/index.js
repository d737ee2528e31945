// An nsbox plugin as an outside author writes it: it depends only on @nsbox/core (a peer
// dependency, so the host's single copy is used) and is found because its package.json
// says "nsbox": { "plugin": true }.
import { definePlugin, injectable, z } from '@nsbox/core';

const helloConfig = z.strictObject({
  greeting: z.string().min(1).max(64).default('hello'),
});

/** Hooks: tag the box's OCI spec with the greeting and say so in the box's history. */
class HelloHooks {
  spec(context) {
    const greeting = context.config?.greeting ?? 'hello';
    context.spec.annotations = { ...context.spec.annotations, 'org.example.hello': greeting };
  }
  started(context) {
    context.report('greeted', { greeting: context.config?.greeting ?? 'hello' });
  }
}
injectable()(HelloHooks);

export const helloPlugin = definePlugin({
  name: 'hello',
  version: '1.0.0',
  description: 'says hello to every box',
  core: '^1.0.0',
  config: helloConfig,
  hooks: HelloHooks,
  commands: [
    {
      name: 'hello',
      description: 'print a greeting',
      arguments: [{ name: 'who', required: false }],
      options: [{ flags: '--shout', description: 'in capitals' }],
      run({ args, options }) {
        const text = `hello, ${args[0] ?? 'world'}`;
        return { greeting: options.shout ? text.toUpperCase() : text };
      },
      render: (result) => result.greeting,
    },
  ],
});
