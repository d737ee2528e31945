// An nsbox plugin as an outside author writes it, on the host API: typed refs, a contribution,
// an action (a CLI command, an API route and an SDK call at once) and a host service. It
// depends only on @nsbox/core and @nsbox/runtime-api (peers: the host's copies are used).
import { boxInfoPoint, contribute, defineAction, definePlugin, z } from '@nsbox/core';
import { runtimeRefs } from '@nsbox/runtime-api';

const greetingOf = (box) => box.config.hello?.greeting ?? 'hello';

/** `nsbox hello greet BOX`, `GET /plugins/hello/actions/greet`, `client.actions.run('hello', 'greet', …)`. */
const greet = defineAction({
  name: 'greet',
  description: 'greet a box, with the number of processes in its cgroup',
  box: true,
  readOnly: true,
  input: z.strictObject({ box: z.string(), shout: z.boolean().optional() }),
  cli: { arguments: [{ name: 'box', required: true }], options: [{ flags: '--shout', description: 'in capitals' }] },
  run({ shout }, { box, services }) {
    const text = `${greetingOf(box)}, ${box.name}`;
    return { greeting: shout ? text.toUpperCase() : text, processes: services.getOptional(runtimeRefs.cgroups)?.pids(box.id).length ?? 0 };
  },
  render: (result) => `${result.greeting} (${result.processes} processes)`,
});

export const helloPlugin = definePlugin({
  name: 'hello',
  version: '2.0.0',
  description: 'says hello to every box',
  core: '^1.1.0',
  config: z.strictObject({ greeting: z.string().min(1).max(64).default('hello') }),
  tenantSafe: { greeting: true },
  optionalDeps: { cgroups: runtimeRefs.cgroups },
  actions: [greet],
  setup: ({ deps, log }) => ({
    hooks: {
      spec: (ctx) => {
        ctx.spec.annotations = { ...ctx.spec.annotations, 'org.example.hello': greetingOf(ctx.box) };
      },
      started: (ctx) => ctx.report('greeted', { greeting: greetingOf(ctx.box) }),
    },
    contributions: [
      contribute(boxInfoPoint, { section: 'hello', describe: (box) => ({ greeting: greetingOf(box), processes: deps.cgroups?.pids(box.id).length ?? 0 }) }),
    ],
    services: [{ name: 'greeter', start: () => log.info('the greeter is up'), stop: () => log.info('the greeter is down') }],
  }),
});
