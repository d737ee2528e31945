/**
 * The resident agent with real boxes and a real nsboxd process: exits noticed at once and
 * settled once (exited hook with its reason, tear-down, restart policy, reboot and halt from
 * inside), an agent killed while a box ends, the plugins' host services in order and
 * restarted after a throw, `--agent` serving nothing, one agent per state dir.
 *
 * Boxes are read from the store on disk: the API's lookups sync a box themselves, which
 * would hide whether the agent noticed the exit.
 */

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxClient } from '@nsbox/client';
import { openHost } from '@nsbox/host';
import { LinuxBoxDriver } from '@nsbox/runtime';
import { type Cleanup, requireRoot, useCleanup } from '@nsbox/testkit';
import { AGENT_LOCK_FILE } from '../src/index.js';
import {
  type AgentStateDir,
  agentStateDir,
  agentTestPlugins,
  boxState,
  exitRecord,
  historyOf,
  listeningSockets,
  nsboxdRefusal,
  spawnNsboxd,
  until,
} from './agent/agent-support.js';
import { type ProbeEntry, readProbeJournal } from './agent/probe-journal.js';
import { adminToken } from './daemon-fixture.js';

/** An init that ends with `code` the first time the box runs, and runs on after a restart. */
function endsOnce(code: number, how = `exit ${code}`): string[] {
  return ['sh', '-c', `if [ -e /ran-before ]; then exec sleep 1000; fi; touch /ran-before; sleep 0.3; ${how}; sleep 100`];
}

function probed(state: AgentStateDir, box: string, event?: string): ProbeEntry[] {
  return readProbeJournal(state.journal).filter((entry) => entry.box === box && (event === undefined || entry.event === event));
}

function initPid(state: AgentStateDir, name: string): number | undefined {
  return (boxState(state, name)?.runtime.init as { pid: number } | undefined)?.pid;
}

async function apiNsboxd(cleanup: Cleanup, state: AgentStateDir) {
  const socketPath = join(state.dir, 'nsbox.sock');
  const nsboxd = await spawnNsboxd(cleanup, state, { socketPath });
  const client = new NsboxClient({ socketPath, token: adminToken(state.stateDir) });
  cleanup.add('close the client', () => client.close());
  return { nsboxd, client, socketPath };
}

async function createRunning(client: NsboxClient, name: string, config: Record<string, unknown>): Promise<string> {
  const created = await (await client.boxes.create({ name, config: { template: 'busybox', ...config }, start: true })).wait();
  return created.id;
}

describe('the resident agent', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();

  before(function () {
    requireRoot(this, 'the resident agent with real boxes');
  });

  it('stops a box within a second of its init ending, after the exited hook got the reason', async () => {
    const state = agentStateDir(cleanup);
    const { nsboxd, client, socketPath } = await apiNsboxd(cleanup, state);
    assert.ok(listeningSockets(nsboxd.pid).includes(`unix:${socketPath}`), 'nsboxd with its API listens on its socket');
    const id = await createRunning(client, 'ends', { restart: 'no', process: { args: ['sh', '-c', 'sleep 1; exit 3'] } });

    const stopped = await until('the box to be stopped', () => historyOf(state, id, 'state.stopped')[0]);
    const exit = exitRecord(state, id);
    assert.equal(exit?.exitCode, 3);
    const lag = stopped.time - (exit?.at as number);
    assert.ok(lag >= 0 && lag < 1000, `the box was stopped ${lag} ms after its init exited`);
    assert.equal(stopped.data.reason, 'exit');
    assert.equal(boxState(state, 'ends')?.state, 'stopped');
    // The agent (the nsboxd process, nobody having asked) ran exited once, before the tear-down.
    assert.deepEqual(
      probed(state, 'ends').map((entry) => [entry.pid, entry.event, entry.exit]),
      [
        [nsboxd.pid, 'started', undefined],
        [nsboxd.pid, 'exited', { reason: 'exit', exitCode: 3 }],
        [nsboxd.pid, 'stopping', undefined],
        [nsboxd.pid, 'stopped', undefined],
      ],
    );
    assert.deepEqual(historyOf(state, id, 'box.restarting'), [], "restart 'no' keeps it stopped");
  });

  it("restarts a box under 'on-failure' after a non-zero exit and under 'always' after exit 0, and not under 'on-failure' after exit 0", async () => {
    const state = agentStateDir(cleanup);
    const { client } = await apiNsboxd(cleanup, state);
    const failing = await createRunning(client, 'failing', { restart: 'on-failure', process: { args: endsOnce(2, 'sleep 1; exit 2') } });
    const firstInit = { failing: initPid(state, 'failing'), clean: undefined as number | undefined };
    const clean = await createRunning(client, 'clean', { restart: 'always', process: { args: endsOnce(0, 'sleep 1; exit 0') } });
    firstInit.clean = initPid(state, 'clean');
    const done = await createRunning(client, 'done', { restart: 'on-failure', process: { args: endsOnce(0) } });

    for (const [name, id, exitCode, policy] of [
      ['failing', failing, 2, 'on-failure'],
      ['clean', clean, 0, 'always'],
    ] as const) {
      const [, running] = await until(`${name} to run again`, () => {
        const runs = historyOf(state, id, 'state.running');
        return runs.length >= 2 && runs;
      });
      const restarting = historyOf(state, id, 'box.restarting');
      assert.deepEqual(
        restarting.map((event) => [event.data.reason, event.data.policy]),
        [['exit', policy]],
      );
      assert.ok((running?.time as number) >= (restarting[0]?.time as number));
      assert.equal(boxState(state, name)?.state, 'running');
      assert.ok(firstInit[name] !== undefined);
      assert.notEqual(initPid(state, name), firstInit[name], `${name} runs a new init`);
      assert.deepEqual(
        probed(state, name, 'exited').map((entry) => entry.exit),
        [{ reason: 'exit', exitCode }],
      );
    }
    await until('done to stop', () => boxState(state, 'done')?.state === 'stopped');
    assert.deepEqual(historyOf(state, done, 'box.restarting'), [], "'on-failure' leaves a clean exit stopped");
  });

  it('restarts a box whose init asked for a reboot, and leaves one that halted stopped even under always', async () => {
    const state = agentStateDir(cleanup);
    const { client } = await apiNsboxd(cleanup, state);
    const booter = { isolation: { capabilities: { add: ['CAP_SYS_BOOT'] } } };
    const rebooting = await createRunning(client, 'rebooting', { ...booter, restart: 'no', process: { args: endsOnce(0, 'sleep 1; busybox reboot -f') } });
    const firstInit = initPid(state, 'rebooting');
    const halting = await createRunning(client, 'halting', { ...booter, restart: 'always', process: { args: endsOnce(0, 'busybox poweroff -f') } });

    await until('the rebooted box to run again', () => historyOf(state, rebooting, 'state.running').length >= 2);
    assert.equal(boxState(state, 'rebooting')?.state, 'running');
    assert.notEqual(initPid(state, 'rebooting'), firstInit);
    // reboot(2) in the box's pid namespace ended its init with SIGHUP.
    assert.deepEqual(
      probed(state, 'rebooting', 'exited').map((entry) => entry.exit),
      [{ reason: 'reboot', signal: 1 }],
    );
    assert.deepEqual(
      historyOf(state, rebooting, 'box.restarting').map((event) => event.data.reason),
      ['reboot'],
    );

    await until('the halted box to stop', () => boxState(state, 'halting')?.state === 'stopped');
    assert.deepEqual(
      probed(state, 'halting', 'exited').map((entry) => entry.exit),
      [{ reason: 'halt', signal: 2 }],
    );
    assert.deepEqual(historyOf(state, halting, 'box.restarting'), []);
  });

  it('settles an exit that happened while nsboxd was SIGKILLed once, when the next nsboxd starts', async () => {
    const state = agentStateDir(cleanup);
    const first = await apiNsboxd(cleanup, state);
    const id = await createRunning(first.client, 'orphan', { restart: 'no', process: { args: ['sleep', '1000'] } });
    const init = initPid(state, 'orphan') as number;

    first.nsboxd.child.kill('SIGKILL');
    await first.nsboxd.exited;
    assert.ok(existsSync(`/proc/${init}`), 'the box runs on without nsboxd');
    assert.ok(existsSync(join(state.stateDir, AGENT_LOCK_FILE)), 'the killed agent left its lock behind');
    process.kill(init, 'SIGKILL');
    await until("the shim's exit record", () => exitRecord(state, id));
    assert.equal(boxState(state, 'orphan')?.state, 'running', 'nobody noticed yet');
    assert.deepEqual(probed(state, 'orphan', 'exited'), []);

    const second = await spawnNsboxd(cleanup, state, { socketPath: join(state.dir, 'nsbox2.sock') });
    // nsboxd says it is up after its reconcile: the exit is settled by then.
    assert.equal(boxState(state, 'orphan')?.state, 'stopped');
    const afterwards = probed(state, 'orphan').filter((entry) => entry.event !== 'started');
    assert.deepEqual(
      afterwards.map((entry) => [entry.pid, entry.event, entry.exit]),
      [
        [second.pid, 'exited', { reason: 'signal', signal: 9 }],
        [second.pid, 'stopping', undefined],
        [second.pid, 'stopped', undefined],
      ],
    );
    // Its sweep and watcher find nothing more to do.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(historyOf(state, id, 'state.stopped').length, 1);
    assert.equal(probed(state, 'orphan', 'exited').length, 1);
  });

  it('finishes the stop and applies the restart policy when the agent was killed while it settled an exit', async () => {
    const state = agentStateDir(cleanup);
    const socketPath = join(state.dir, 'nsbox.sock');
    const first = await spawnNsboxd(cleanup, state, { socketPath, env: { NSBOX_PROBE_KILL_IN_EXITED: '1' } });
    const client = new NsboxClient({ socketPath, token: adminToken(state.stateDir) });
    cleanup.add('close the client', () => client.close());
    const id = await createRunning(client, 'interrupted', { restart: 'always', process: { args: endsOnce(0, 'sleep 1; exit 0') } });
    const firstInit = initPid(state, 'interrupted');
    client.close();

    // The agent dies inside the exited hook: the stop it began is left in the journal.
    assert.equal(await first.exited, null, 'killed by SIGKILL');
    assert.deepEqual(
      probed(state, 'interrupted').map((entry) => [entry.pid, entry.event]),
      [
        [first.pid, 'started'],
        [first.pid, 'exited'],
      ],
    );
    assert.equal(boxState(state, 'interrupted')?.state, 'running', 'the store still says running');

    const second = await spawnNsboxd(cleanup, state, { socketPath });
    const box = boxState(state, 'interrupted');
    assert.equal(box?.state, 'running', 'the next agent finished the stop and restarted the box');
    assert.notEqual(initPid(state, 'interrupted'), firstInit);
    assert.deepEqual(
      probed(state, 'interrupted').map((entry) => [entry.pid, entry.event]),
      [
        [first.pid, 'started'],
        [first.pid, 'exited'],
        [second.pid, 'stopped'],
        [second.pid, 'started'],
      ],
    );
    assert.deepEqual(
      historyOf(state, id, 'box.restarting').map((event) => [event.data.reason, event.data.policy]),
      [['exit', 'always']],
    );
  });

  it('runs the host services in dependency order, restarts one that throws, and stops them in reverse (--agent, no API)', async () => {
    const state = agentStateDir(cleanup, { failFirstStarts: 1 });
    const agent = await spawnNsboxd(cleanup, state);
    const services = () => readProbeJournal(state.journal).filter((entry) => entry.service !== undefined);
    await until('the flaky service to start again', () => services().filter((entry) => entry.service === 'flaky').length >= 2);

    assert.deepEqual(
      services().map((entry) => [entry.pid, `${entry.service}:${entry.event}`]),
      [
        [agent.pid, 'base:start'],
        [agent.pid, 'steady:start'],
        [agent.pid, 'flaky:start'],
        [agent.pid, 'flaky:start'],
      ],
    );
    const [firstTry, secondTry] = services().filter((entry) => entry.service === 'flaky');
    assert.ok((secondTry?.at as number) - (firstTry?.at as number) >= 900, 'started again after the backoff');
    const host = historyOf(state, '@host').filter((event) => event.data.service === 'flaky');
    assert.deepEqual(
      host.map((event) => [event.kind, event.data.plugin, event.data.error, event.data.retryInMs]),
      [
        ['agent.service-failed', 'probe', 'flaky fails on purpose', 1000],
        ['agent.service-started', 'probe', undefined, undefined],
      ],
    );
    assert.equal(agent.child.exitCode, null, 'a throwing service does not take the agent down');
    assert.match(agent.stderr(), /\[probe\] host service probe\/flaky crashed \(flaky fails on purpose\)/);

    assert.deepEqual(listeningSockets(agent.pid), [], '--agent listens on no socket');

    assert.equal(await agent.stop(), 0);
    assert.deepEqual(
      services()
        .slice(4)
        .map((entry) => `${entry.service}:${entry.event}`),
      ['flaky:stop', 'steady:stop', 'base:stop'],
    );
    assert.equal(existsSync(join(state.stateDir, AGENT_LOCK_FILE)), false, 'a clean stop releases the lock');
  });

  it('refuses a second agent on the same state dir, with the API or without', async () => {
    const state = agentStateDir(cleanup);
    const agent = await spawnNsboxd(cleanup, state);
    const lean = await nsboxdRefusal(state);
    assert.equal(lean.code, 1);
    assert.match(lean.stderr, new RegExp(`another nsbox agent \\(nsboxd --agent, pid ${agent.pid}, since .*\\) already runs on ${state.stateDir}`));
    const socketPath = join(state.dir, 'refused.sock');
    const api = await nsboxdRefusal(state, { socketPath });
    assert.equal(api.code, 1);
    assert.match(api.stderr, new RegExp(`another nsbox agent \\(nsboxd --agent, pid ${agent.pid}`));
    assert.equal(existsSync(socketPath), false, 'the refused nsboxd serves nothing');
    assert.equal(agent.child.exitCode, null, 'the first agent runs on');
    const refusedAgentFlags = await nsboxdRefusal(state, { args: ['--agent', '--socket', socketPath, '--socket-group', 'root'] });
    assert.equal(refusedAgentFlags.code, 2);
    assert.match(refusedAgentFlags.stderr, /--agent serves no API: --socket, --socket-group cannot be used with it/);
  });

  it('settles an exit once when the agent and a local CLI both see it, and restarts the box once', async () => {
    // The exited hook takes a while: the other process comes while the first one settles.
    const state = agentStateDir(cleanup, { exitedDelayMs: 300 });
    await spawnNsboxd(cleanup, state);
    const host = await openHost({
      stateDir: state.stateDir,
      discover: false,
      plugins: agentTestPlugins,
      driver: new LinuxBoxDriver({ stateDir: state.stateDir, cgroupParent: state.cgroupParent }),
    });
    cleanup.add('close the local host', () => host.close());
    const box = await host.manager.create({ name: 'shared', config: { template: 'busybox', restart: 'always', process: { args: endsOnce(0) } } });
    await host.manager.start(box.id);
    const firstInit = initPid(state, 'shared');

    // The CLI syncs the moment it sees the exit, as every face does before acting.
    await until('the exit', () => exitRecord(state, box.id));
    const local = await host.manager.sync(box.id);
    await until('the box to run again', () => historyOf(state, box.id, 'state.running').length >= 2);
    assert.ok(['running', 'starting'].includes(local.state), `the CLI's sync left the box ${local.state}`);
    assert.equal(probed(state, 'shared', 'exited').length, 1, 'one process ran exited');
    assert.equal(probed(state, 'shared', 'stopped').length, 1, 'one process tore the box down');
    assert.equal(historyOf(state, box.id, 'box.restarting').length, 1, 'one process restarted it');
    assert.equal(historyOf(state, box.id, 'state.stopped').length, 1);
    assert.notEqual(initPid(state, 'shared'), firstInit);
  });

  it('settles one exit once when two hosts sync the box at the same moment', async () => {
    const state = agentStateDir(cleanup, { exitedDelayMs: 100 });
    const open = async () => {
      const opened = await openHost({
        stateDir: state.stateDir,
        discover: false,
        plugins: agentTestPlugins,
        driver: new LinuxBoxDriver({ stateDir: state.stateDir, cgroupParent: state.cgroupParent }),
      });
      cleanup.add('close a host', () => opened.close());
      return opened;
    };
    const [a, b] = [await open(), await open()];
    const box = await a.manager.create({ name: 'twice', config: { template: 'busybox', restart: 'always', process: { args: endsOnce(0) } } });
    await a.manager.start(box.id);
    await until('the exit', () => exitRecord(state, box.id));

    const [fromA, fromB] = await Promise.all([a.manager.sync(box.id), b.manager.sync(box.id)]);
    for (const synced of [fromA, fromB]) assert.ok(['running', 'starting'].includes(synced.state), 'one settled and restarted it, the other saw it busy');
    assert.equal(probed(state, 'twice', 'exited').length, 1);
    assert.equal(probed(state, 'twice', 'stopping').length, 1);
    assert.equal(historyOf(state, box.id, 'box.restarting').length, 1);
    assert.equal(historyOf(state, box.id, 'state.running').length, 2);
  });
});
