import assert from 'node:assert/strict';
import { type BoxEvent, EventBus, type HistoryRepository, type HostService } from '@nsbox/core';
import { HOST_HISTORY_ID, ServiceSupervisor } from './service-supervisor.js';

/** History in memory: the supervisor only appends. */
function memoryHistory(): HistoryRepository & { events: BoxEvent[] } {
  const events: BoxEvent[] = [];
  return {
    events,
    append: (event) => {
      const stored = { ...event, id: events.length + 1 } as BoxEvent;
      events.push(stored);
      return stored;
    },
    query: () => events,
  };
}

const quiet = () => ({ debug() {}, info() {}, warn() {} });

function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      if (condition()) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() > deadline) {
        clearInterval(poll);
        reject(new Error('timed out'));
      }
    }, 2);
  });
}

function service(name: string, journal: string[], behaviour: { start?: () => void | Promise<void>; stop?: () => void | Promise<void> } = {}): HostService {
  return {
    name,
    start: async () => {
      journal.push(`${name}:start`);
      await behaviour.start?.();
    },
    stop: async () => {
      journal.push(`${name}:stop`);
      await behaviour.stop?.();
    },
  };
}

describe('ServiceSupervisor', () => {
  it('starts services in order and stops them in reverse', async () => {
    const journal: string[] = [];
    const history = memoryHistory();
    const supervisor = new ServiceSupervisor({
      services: [
        { plugin: 'a', service: service('one', journal) },
        { plugin: 'b', service: service('two', journal) },
        { plugin: 'b', service: service('three', journal) },
      ],
      events: new EventBus(history),
      log: quiet,
    });
    await supervisor.start();
    assert.deepEqual(journal, ['one:start', 'two:start', 'three:start']);
    assert.deepEqual(
      supervisor.states().map((state) => state.status),
      ['running', 'running', 'running'],
    );
    await supervisor.stop();
    assert.deepEqual(journal.slice(3), ['three:stop', 'two:stop', 'one:stop']);
    assert.deepEqual(
      history.events.filter((event) => event.boxId === HOST_HISTORY_ID).map((event) => `${event.kind}:${event.data.service}`),
      [
        'agent.service-started:one',
        'agent.service-started:two',
        'agent.service-started:three',
        'agent.service-stopped:three',
        'agent.service-stopped:two',
        'agent.service-stopped:one',
      ],
    );
  });

  it('restarts a service that throws, with a backoff that doubles, and reports each crash', async () => {
    const journal: string[] = [];
    const history = memoryHistory();
    let failures = 3;
    const flaky = service('flaky', journal, {
      start: () => {
        if (failures-- > 0) throw new Error('no luck');
      },
    });
    const supervisor = new ServiceSupervisor({
      services: [
        { plugin: 'p', service: flaky },
        { plugin: 'p', service: service('after', journal) },
      ],
      events: new EventBus(history),
      log: quiet,
      backoffMs: 20,
    });
    await supervisor.start();
    assert.deepEqual(journal, ['flaky:start', 'after:start'], 'a crash does not hold up the next service');
    await until(() => supervisor.states()[0]?.status === 'running');
    const failed = history.events.filter((event) => event.kind === 'agent.service-failed');
    assert.deepEqual(
      failed.map((event) => [event.data.error, event.data.retryInMs]),
      [
        ['no luck', 20],
        ['no luck', 40],
        ['no luck', 80],
      ],
    );
    const starts = journal.filter((entry) => entry === 'flaky:start');
    assert.equal(starts.length, 4);
    await supervisor.stop();
    assert.deepEqual(journal.slice(-2), ['after:stop', 'flaky:stop']);
  });

  it('treats a start promise that rejects later as a crash, and never calls stop on a crashed service', async () => {
    const journal: string[] = [];
    let fail: (error: Error) => void = () => undefined;
    let runs = 0;
    const looping: HostService = {
      name: 'loop',
      start: ({ signal }) => {
        runs += 1;
        journal.push('loop:start');
        // Runs until stopped: its start promise is its whole run.
        return new Promise<void>((resolve, reject) => {
          fail = reject;
          signal.addEventListener('abort', () => resolve());
        });
      },
      stop: () => {
        journal.push('loop:stop');
      },
    };
    const supervisor = new ServiceSupervisor({
      services: [{ plugin: 'p', service: looping }],
      events: new EventBus(memoryHistory()),
      log: quiet,
      backoffMs: 10,
      startGraceMs: 20,
    });
    await supervisor.start();
    assert.equal(supervisor.states()[0]?.status, 'starting');
    fail(new Error('lost its connection'));
    await until(() => runs === 2);
    assert.equal(supervisor.states()[0]?.crashes, 1);
    await supervisor.stop();
    assert.deepEqual(journal, ['loop:start', 'loop:start', 'loop:stop']);
  });

  it('does not wait forever for a stop that hangs, and cancels pending restarts', async () => {
    const journal: string[] = [];
    const hanging = service('hanging', journal, { stop: () => new Promise(() => undefined) });
    const broken = service('broken', journal, {
      start: () => {
        throw new Error('always');
      },
    });
    const history = memoryHistory();
    const supervisor = new ServiceSupervisor({
      services: [
        { plugin: 'p', service: hanging },
        { plugin: 'p', service: broken },
      ],
      events: new EventBus(history),
      log: quiet,
      backoffMs: 50,
      stopTimeoutMs: 30,
    });
    await supervisor.start();
    await supervisor.stop();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(journal, ['hanging:start', 'broken:start', 'hanging:stop'], 'the broken one was not started again after the stop');
    assert.equal(history.events.find((event) => event.kind === 'agent.service-stop-failed')?.data.error, 'no answer within 30 ms');
  });
});
